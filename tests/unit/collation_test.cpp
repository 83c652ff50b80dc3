#include "directory/collation.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <vector>

#include "directory/import.h"
#include "directory/sqlite_directory.h"
#include "tests/unit/directory_test_util.h"

namespace frontline {
namespace {

using testing::MakeCustomer;
using testing::TempDir;
using Strings = std::vector<std::string>;

Strings Sorted(const Collation& collation, Strings names) {
  std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return collation.SortKey(a) < collation.SortKey(b);
  });
  return names;
}

TEST_CASE("collation: the order people expect, per locale") {
  struct Case {
    const char* locale;
    Strings names;     // in any order
    Strings expected;  // sorted
  };
  const Case cases[] = {
      // SPEC §2: case and accents count only after the letters.
      {"root",
       {"Zoë", "Zack", "José", "Jörg", "Eve", "Émile", "Åsa"},
       {"Åsa", "Émile", "Eve", "Jörg", "José", "Zack", "Zoë"}},
      {"", {"Zoë Ball", "Åsa Öberg", "Émile Zola"}, {"Åsa Öberg", "Émile Zola", "Zoë Ball"}},
      {"root", {"eve", "Eve", "EVE", "éve"}, {"eve", "Eve", "EVE", "éve"}},
      {"root", {"b", "B", "a", "A"}, {"a", "A", "b", "B"}},
      // Swedish puts Å, Ä, Ö after Z.
      {"sv", {"Zoë Ball", "Åsa Öberg", "Adam", "Örjan"}, {"Adam", "Zoë Ball", "Åsa Öberg", "Örjan"}},
      // German phone-book order reads ü as ue: "Müller" (mue…) before "Mulder".
      {"de-u-co-phonebk", {"Mulder", "Müller"}, {"Müller", "Mulder"}},
      {"de", {"Müller", "Mulder"}, {"Mulder", "Müller"}},
  };
  for (const Case& c : cases) {
    const std::string locale = c.locale;
    CAPTURE(locale);
    std::string error;
    std::unique_ptr<Collation> collation = Collation::Create(c.locale, &error);
    REQUIRE_MESSAGE(collation != nullptr, error);
    CHECK(Sorted(*collation, c.names) == c.expected);
  }
}

TEST_CASE("collation: names, versions and bad locales") {
  std::string error;
  auto root = Collation::Create("", &error);
  REQUIRE(root != nullptr);
  CHECK(root->name() == "root");
  CHECK(Collation::Create("root", &error)->name() == "root");
  CHECK(Collation::Create("sv", &error)->name() == "sv");
  CHECK(Collation::Create("fr_CA", &error)->name() == "fr_CA");
  CHECK(root->version().rfind("root ", 0) == 0);
  CHECK(root->version() != Collation::Create("sv", &error)->version());
  for (const char* bad : {"xx", "zz-ZZ", "garbage!!", "en US"}) {
    CAPTURE(bad);
    error.clear();
    CHECK(Collation::Create(bad, &error) == nullptr);
    CHECK(error.find(bad) != std::string::npos);
  }
  // Keys never hold a NUL byte (they are compared as blobs and carried in page tokens).
  for (const char* text : {"", "a", "Zoë", "李小龍", "\xff"}) {
    CHECK(root->SortKey(text).find('\0') == std::string::npos);
  }
  CHECK(root->SortKey("\xff") == root->SortKey("\xEF\xBF\xBD"));
}

std::vector<std::string> ListNames(SqliteDirectory& directory) {
  ListRequest request;
  request.all_workers = true;
  request.page_size = 100;
  std::vector<std::string> names;
  for (const CustomerSummary& c : directory.ListCustomers(request).customers) {
    names.push_back(c.display_name);
  }
  return names;
}

TEST_CASE("collation: the directory rebuilds its keys when the collation changes") {
  TempDir dir;
  const std::string db = dir.File("d.db");
  std::vector<Customer> customers;
  for (const char* name : {"Örjan", "Zoë Ball", "Åsa Öberg", "Adam"}) {
    customers.push_back(MakeCustomer(name, name));
  }
  std::string error;
  REQUIRE_MESSAGE(ImportRecords(db, customers, {}, {}, nullptr, &error), error);
  {
    KeysReport keys;
    auto directory = SqliteDirectory::Open(db, "root", &keys, &error);
    REQUIRE_MESSAGE(directory != nullptr, error);
    CHECK_FALSE(keys.rebuilt);  // the import wrote root keys
    CHECK(ListNames(*directory) == Strings{"Adam", "Åsa Öberg", "Örjan", "Zoë Ball"});
  }
  {
    KeysReport keys;
    auto directory = SqliteDirectory::Open(db, "sv", &keys, &error);
    REQUIRE_MESSAGE(directory != nullptr, error);
    CHECK(keys.rebuilt);
    CHECK(keys.customers == 4);
    CHECK(keys.previous.find("collation root ") == 0);
    CHECK(ListNames(*directory) == Strings{"Adam", "Zoë Ball", "Åsa Öberg", "Örjan"});
    // Search still finds them (the index was rebuilt too).
    ListRequest request;
    request.all_workers = true;
    request.query = "oberg";
    REQUIRE(directory->ListCustomers(request).customers.size() == 1);
  }
  // An upsert import under the other collation rebuilds the rows it keeps.
  ImportOptions root;
  root.collation = "root";
  REQUIRE_MESSAGE(ImportRecords(db, {MakeCustomer("Bo", "Bo")}, {}, root, nullptr, &error), error);
  KeysReport keys;
  auto directory = SqliteDirectory::Open(db, "root", &keys, &error);
  REQUIRE(directory != nullptr);
  CHECK_FALSE(keys.rebuilt);
  CHECK(ListNames(*directory) == Strings{"Adam", "Åsa Öberg", "Bo", "Örjan", "Zoë Ball"});
  CHECK(SqliteDirectory::Open(db, "xx", nullptr, &error) == nullptr);
}

TEST_CASE("collation: a directory from before sort keys were collation keys is upgraded") {
  TempDir dir;
  const std::string db = dir.File("old.db");
  std::string error;
  REQUIRE_MESSAGE(ImportRecords(db, {MakeCustomer("1", "Zoë"), MakeCustomer("2", "Émile")}, {}, {},
                                nullptr, &error),
                  error);
  // Make it look like a version 2 file: folded-text sort keys, old tokens, no settings.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw,
                       "DROP TABLE settings; PRAGMA user_version=2;"
                       " UPDATE customers SET sort_key = lower(display_name), search_text = ' x ';"
                       " DELETE FROM search_terms;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  KeysReport keys;
  auto directory = SqliteDirectory::Open(db, "", &keys, &error);
  REQUIRE_MESSAGE(directory != nullptr, error);
  CHECK(keys.rebuilt);
  CHECK(keys.previous.empty());
  CHECK(ListNames(*directory) == Strings{"Émile", "Zoë"});
  ListRequest request;
  request.all_workers = true;
  request.query = "emile";
  auto found = directory->ListCustomers(request);
  REQUIRE(found.customers.size() == 1);
  CHECK(found.customers[0].customer_id == "2");
}

}  // namespace
}  // namespace frontline
