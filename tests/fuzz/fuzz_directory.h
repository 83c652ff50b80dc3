// The customers the fuzz targets look up: examples/customers.json plus a few made to stress the
// list order (equal and case-different names) and search (shared digits, punctuation), either
// as a list or imported into a SqliteDirectory in a temporary folder removed at exit.
// Test-only; build once per process (the SQLite fixture is used from one thread).
#ifndef FRONTLINE_TESTS_FUZZ_FUZZ_DIRECTORY_H_
#define FRONTLINE_TESTS_FUZZ_FUZZ_DIRECTORY_H_

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "directory/cursor.h"
#include "directory/customer.h"
#include "directory/directory.h"
#include "directory/import.h"
#include "directory/sqlite_directory.h"

namespace frontline {
namespace fuzz {

struct Fixture {
  std::vector<Customer> customers;
  std::vector<Worker> workers;
};

inline Customer FixtureCustomer(const char* id, const char* name, const char* worker,
                                std::vector<Channel> channels = {}) {
  Customer c;
  c.customer_id = id;
  c.display_name = name;
  c.worker = worker;
  c.channels = std::move(channels);
  return c;
}

// examples/customers.json and the extra customers; aborts when the example cannot be read.
inline const Fixture& FixtureData() {
  static const Fixture* const kFixture = [] {
    auto* fixture = new Fixture;
    const std::string path = std::string(FRONTLINE_SOURCE_DIR) + "/examples/customers.json";
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    if (!ParseImportData(path, text.str(), &fixture->customers, &fixture->workers, &error)) {
      std::fprintf(stderr, "fuzz fixture: %s\n", error.c_str());
      std::abort();
    }
    const char* alice = "alice@example.com";
    fixture->customers.push_back(FixtureCustomer("a", "Ann Lee", alice, {{"sms", "+15551230000"}}));
    fixture->customers.push_back(FixtureCustomer("b", "Ann Lee", alice, {{"sms", "+15550001230"}}));
    fixture->customers.push_back(FixtureCustomer("11", "ann lee", alice));
    fixture->customers.push_back(
        FixtureCustomer("12", "ANN LEE-Smith", alice, {{"email", "Ann.Lee@Example.COM"}}));
    fixture->customers.push_back(
        FixtureCustomer("13", "Room 101", alice, {{"whatsapp", "whatsapp:+44 20 7946 0958"}}));
    fixture->customers.push_back(
        FixtureCustomer("14", "Élodie  d'Arc", alice, {{"chat", "elodie"}, {"sms", "0033 1 23"}}));
    fixture->customers.push_back(FixtureCustomer("15", "{{Author}} {{Name}}", alice));
    fixture->customers.push_back(FixtureCustomer("16", "Unassigned Person", ""));
    return fixture;
  }();
  return *kFixture;
}

// A SqliteDirectory holding FixtureData(), in a temporary folder removed at exit.
inline SqliteDirectory& FixtureSqliteDirectory() {
  static SqliteDirectory* const kDirectory = [] {
    static std::string folder =
        (std::filesystem::temp_directory_path() / "frontline-fuzz.XXXXXX").string();
    if (::mkdtemp(folder.data()) == nullptr) {
      std::perror("fuzz fixture: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(folder, ignored);
    });
    const std::string db = folder + "/directory.db";
    const Fixture& fixture = FixtureData();
    std::string error;
    if (!ImportRecords(db, fixture.customers, fixture.workers, {}, nullptr, &error)) {
      std::fprintf(stderr, "fuzz fixture: %s\n", error.c_str());
      std::abort();
    }
    std::unique_ptr<SqliteDirectory> directory = SqliteDirectory::Open(db, &error);
    if (!directory) {
      std::fprintf(stderr, "fuzz fixture: %s\n", error.c_str());
      std::abort();
    }
    // Never destroyed: the atexit handler removes the files and the process ends.
    return directory.release();
  }();
  return *kDirectory;
}

// One customer of a listing with the position the store's cursor holds for it.
struct ListedCustomer {
  std::string customer_id;
  std::string sort_key;  // from the page token issued after it
};

// Every customer `base` (worker, query) lists, in the store's order, one per page so that each
// page token names the position of its customer. False when the store answers anything but
// pages chained by valid tokens, or when it does not end within `limit` pages.
inline bool ListOneByOne(Directory& directory, ListRequest base, size_t limit,
                         std::vector<ListedCustomer>* out, std::string* why) {
  out->clear();
  base.page_size = 1;
  base.anchor.clear();
  for (size_t page = 0; page < limit; ++page) {
    ListResult result = directory.ListCustomers(base);
    if (result.status != ListResult::Status::kOk) {
      *why = "page " + std::to_string(page) + " refused";
      return false;
    }
    if (result.customers.size() > 1) {
      *why = "page of size 1 with " + std::to_string(result.customers.size()) + " customers";
      return false;
    }
    if (result.customers.empty()) {
      if (!result.next_page_token.empty()) {
        *why = "empty page with a next page token";
        return false;
      }
      return true;
    }
    ListedCustomer listed{result.customers[0].customer_id, ""};
    if (result.next_page_token.empty()) {
      out->push_back(std::move(listed));
      return true;
    }
    std::optional<CursorPosition> position = DecodeCursor(result.next_page_token);
    if (!position || position->customer_id != listed.customer_id) {
      *why = "page token does not name the page's customer";
      return false;
    }
    listed.sort_key = position->sort_key;
    out->push_back(std::move(listed));
    base.page_token = result.next_page_token;
  }
  *why = "more than " + std::to_string(limit) + " pages";
  return false;
}

// The customer ids `request` lists when its pages (of request.page_size) are followed to the
// end, at most `limit` pages. False, with `why`, on a refused page or a never-ending walk.
inline bool WalkPages(Directory& directory, ListRequest request, size_t limit,
                      std::vector<std::string>* ids, std::string* why) {
  ids->clear();
  for (size_t page = 0; page < limit; ++page) {
    ListResult result = directory.ListCustomers(request);
    if (result.status != ListResult::Status::kOk) {
      *why = "page " + std::to_string(page) + " refused";
      return false;
    }
    if (result.customers.size() > request.page_size) {
      *why = "page larger than PageSize";
      return false;
    }
    for (const CustomerSummary& c : result.customers) ids->push_back(c.customer_id);
    if (result.next_page_token.empty()) return true;
    if (result.customers.empty()) {
      *why = "empty page with a next page token";
      return false;
    }
    request.page_token = result.next_page_token;
    request.anchor.clear();
  }
  *why = "more than " + std::to_string(limit) + " pages";
  return false;
}

}  // namespace fuzz
}  // namespace frontline

#endif  // FRONTLINE_TESTS_FUZZ_FUZZ_DIRECTORY_H_
