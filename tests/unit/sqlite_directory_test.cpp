#include "directory/sqlite_directory.h"

#include <unistd.h>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <type_traits>

#include "directory/collation.h"
#include "directory/cursor.h"
#include "db/postgres.h"
#include "directory/import.h"
#include "directory/pg_directory.h"
#include "directory/schema.h"
#include "directory/text.h"
#include "tests/unit/directory_test_util.h"

namespace frontline {
namespace {

using testing::MakeCustomer;
using testing::TempDir;

std::vector<std::string> Ids(const ListResult& r) {
  std::vector<std::string> ids;
  for (const CustomerSummary& c : r.customers) ids.push_back(c.customer_id);
  return ids;
}

// The backends the behaviour cases below run on (TEST_CASE_TEMPLATE): SQLite always;
// PostgreSQL when FRONTLINE_TEST_POSTGRES names a database we may create schemas in, as
// integration/postgres does against a server of its own (without it those cases say they were
// skipped). Each fixture gets a fresh file or a fresh schema.
struct SqliteBackend {
  using DirectoryType = SqliteDirectory;
  static constexpr const char* kName = "sqlite";
};
struct PgBackend {
  using DirectoryType = PgDirectory;
  static constexpr const char* kName = "postgresql";
};

// A directory with a handful of customers for alice and bob, or with the customers given.
template <typename Backend>
struct Fixture {
  TempDir dir;
  std::string db = dir.File("directory.db");
  ImportOptions options;
  std::unique_ptr<typename Backend::DirectoryType> directory;
  bool skipped = false;

  Fixture() : Fixture(DefaultCustomers(), DefaultWorkers()) {}

  static std::vector<Customer> DefaultCustomers() {
    std::vector<Customer> customers;
    Customer joe = MakeCustomer("3", "Joseph Martin");
    joe.avatar = "https://example.com/joe.png";
    joe.channels = {{"sms", "+1 (555) 867-5310"}, {"whatsapp", "whatsapp:+15558675310"}};
    joe.links = {{"Facebook", "https://facebook.com/joe", "Facebook"},
                 {"CRM", "https://crm.example.com/3", "Record"}};
    joe.details = {"Purchase History", "Product: Unobtanium\n\nQuantity: 1000"};
    customers.push_back(joe);
    customers.push_back(MakeCustomer("1", "bobby Shaftoe"));
    customers.back().channels = {{"sms", "+15550000001"}};
    customers.push_back(MakeCustomer("2", "Bobby Shaftoe"));  // same name: ordered by id
    customers.back().channels = {{"sms", "+15550000001"}};    // same address: lowest id wins
    customers.push_back(MakeCustomer("10", "Zoë Ångström"));
    customers.back().channels = {{"whatsapp", "whatsapp:+46701234567"}};
    customers.push_back(MakeCustomer("4", "Ängel Alpha"));
    customers.push_back(MakeCustomer("b1", "Bob's Customer", "bob@example.com"));
    customers.back().channels = {{"email", "Someone@Example.com"}};
    return customers;
  }

  static std::vector<Worker> DefaultWorkers() {
    return {{"alice@example.com", "", ""},
            {"bob@example.com", "+15550009999", "whatsapp:+15550009999"}};
  }

  Fixture(const std::vector<Customer>& customers, const std::vector<Worker>& workers) {
    if constexpr (std::is_same_v<Backend, PgBackend>) {
      const char* uri = std::getenv("FRONTLINE_TEST_POSTGRES");
      if (uri == nullptr || *uri == '\0') {
        MESSAGE("skipped: FRONTLINE_TEST_POSTGRES is not set (integration/postgres sets it)");
        skipped = true;
        return;
      }
      static int counter = 0;
      db = uri;
      options.postgres_schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    }
    std::string error;
    REQUIRE_MESSAGE(ImportRecords(db, customers, workers, options, nullptr, &error), error);
    if constexpr (std::is_same_v<Backend, PgBackend>) {
      pg::ConnectOptions connect;
      connect.conninfo = pg::LibpqConnInfo(db);
      connect.schema = options.postgres_schema;
      directory = PgDirectory::Open(connect, "", nullptr, &error);
    } else {
      directory = SqliteDirectory::Open(db, &error);
    }
    REQUIRE_MESSAGE(directory != nullptr, error);
  }

  ListResult List(const std::string& query, const std::string& worker = "alice@example.com",
                  size_t page_size = 30, const std::string& token = "") {
    ListRequest request;
    request.worker = worker;
    request.query = query;
    request.page_size = page_size;
    request.page_token = token;
    return directory->ListCustomers(request);
  }
};
using SqliteFixture = Fixture<SqliteBackend>;

// Declares `f`, the backend's fixture, and ends the case when the backend is not available.
#define BACKEND_FIXTURE(f) \
  Fixture<T> f;            \
  if (f.skipped) return

TEST_CASE("sqlite directory: open creates the schema and is idempotent") {
  TempDir dir;
  std::string error;
  auto directory = SqliteDirectory::Open(dir.File("new.db"), &error);
  REQUIRE_MESSAGE(directory != nullptr, error);
  CHECK(directory->path() == dir.File("new.db"));
  sqlite3* db = directory->ThreadConnection(&error);
  REQUIRE(db != nullptr);
  CHECK(SchemaVersion(db) == LatestSchemaVersion());
  CHECK(directory->Ping(&error));
  CHECK(directory->FindById("1").absent());
  auto again = SqliteDirectory::Open(dir.File("new.db"), &error);
  CHECK(again != nullptr);

  SUBCASE("a database from a newer build is refused") {
    REQUIRE(sqlite3_exec(db, "PRAGMA user_version=999", nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(SqliteDirectory::Open(dir.File("new.db"), &error) == nullptr);
    CHECK(error.find("newer") != std::string::npos);
  }
  SUBCASE("an unopenable path fails with a message") {
    CHECK(SqliteDirectory::Open(dir.File("missing/dir/x.db"), &error) == nullptr);
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE_TEMPLATE("directory: FindById", T, SqliteBackend, PgBackend) {
  BACKEND_FIXTURE(f);
  auto joe = f.directory->FindById("3");
  REQUIRE(joe.found());
  CHECK(joe->display_name == "Joseph Martin");
  CHECK(joe->avatar == "https://example.com/joe.png");
  CHECK(joe->worker == "alice@example.com");
  REQUIRE(joe->channels.size() == 2);
  CHECK(joe->channels[0].type == "sms");
  CHECK(joe->channels[0].value == "+1 (555) 867-5310");  // stored as given
  CHECK(joe->channels[1].value == "whatsapp:+15558675310");
  REQUIRE(joe->links.size() == 2);
  CHECK(joe->links[1].display_name == "Record");
  CHECK(joe->details.content == "Product: Unobtanium\n\nQuantity: 1000");
  CHECK(f.directory->FindById("999").absent());
  CHECK(f.directory->FindById("").absent());
  CHECK(f.directory->FindById("3 ").absent());
}

TEST_CASE_TEMPLATE("directory: FindByAddress", T, SqliteBackend, PgBackend) {
  BACKEND_FIXTURE(f);
  struct Case {
    const char* address;
    const char* id;  // nullptr: not found
  };
  const Case cases[] = {
      {"+15558675310", "3"},
      {"15558675310", "3"},
      {"whatsapp:+15558675310", "3"},
      {"whatsapp:+1 (555) 867-5310", "3"},
      {"+1 555-867-5310", "3"},
      {"+15550000001", "1"},  // two customers share it: the lowest customer_id
      {"whatsapp:+46 70 123 45 67", "10"},
      {"someone@example.com", "b1"},
      {"SOMEONE@example.COM", "b1"},
      {"+15550000009", nullptr},
      {"", nullptr},
      {"whatsapp:", nullptr},
  };
  for (const Case& c : cases) {
    CAPTURE(c.address);
    auto found = f.directory->FindByAddress(c.address);
    if (c.id == nullptr) {
      CHECK(found.absent());
    } else {
      REQUIRE(found.found());
      CHECK(found->customer_id == c.id);
    }
  }
  auto joe = f.directory->FindByAddress("whatsapp:+15558675310");
  REQUIRE(joe.found());
  CHECK(joe->channels.size() == 2);
  CHECK(joe->links.size() == 2);
}

TEST_CASE_TEMPLATE("directory: workers", T, SqliteBackend, PgBackend) {
  BACKEND_FIXTURE(f);
  auto bob = f.directory->FindWorker("bob@example.com");
  REQUIRE(bob.found());
  CHECK(bob->sms_number == "+15550009999");
  CHECK(bob->whatsapp_number == "whatsapp:+15550009999");
  auto alice = f.directory->FindWorker("alice@example.com");
  REQUIRE(alice.found());
  CHECK(alice->sms_number.empty());
  CHECK(f.directory->FindWorker("nobody@example.com").absent());
  CHECK(f.directory->WorkersWithCustomers().value() ==
        std::vector<std::string>{"alice@example.com", "bob@example.com"});
}

TEST_CASE_TEMPLATE("directory: list order, worker filter and paging", T, SqliteBackend, PgBackend) {
  BACKEND_FIXTURE(f);
  // By display name in the root collation (letters first, then accents, then case: "Ängel"
  // before "bobby" before "Bobby"), then customer_id.
  const std::vector<std::string> alice_order = {"4", "1", "2", "3", "10"};
  ListResult all = f.List("");
  CHECK(all.status == ListResult::Status::kOk);
  CHECK(Ids(all) == alice_order);
  CHECK(all.next_page_token.empty());
  CHECK(all.customers[3].avatar == "https://example.com/joe.png");
  CHECK(all.customers[1].display_name == "bobby Shaftoe");

  CHECK(Ids(f.List("", "bob@example.com")) == std::vector<std::string>{"b1"});
  CHECK(f.List("", "nobody@example.com").customers.empty());

  ListRequest everyone;
  everyone.all_workers = true;
  CHECK(f.directory->ListCustomers(everyone).customers.size() == 6);

  // Page by page, exactly page_size each, token only when more remain.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    ListResult page = f.List("", "alice@example.com", 2, token);
    REQUIRE(page.status == ListResult::Status::kOk);
    CHECK(page.customers.size() <= 2);
    for (const auto& id : Ids(page)) seen.push_back(id);
    token = page.next_page_token;
    ++pages;
  } while (!token.empty());
  CHECK(seen == alice_order);
  CHECK(pages == 3);
  // Exactly a full last page: no token.
  ListResult five = f.List("", "alice@example.com", 5);
  CHECK(five.customers.size() == 5);
  CHECK(five.next_page_token.empty());
}

TEST_CASE_TEMPLATE("directory: bad token and anchors", T, SqliteBackend, PgBackend) {
  BACKEND_FIXTURE(f);
  CHECK(f.List("", "alice@example.com", 30, "garbage").status == ListResult::Status::kBadPageToken);
  CHECK(f.List("", "alice@example.com", 30, "3").status == ListResult::Status::kBadPageToken);

  ListRequest request;
  request.worker = "alice@example.com";
  request.anchor = "3";  // legacy: continue after customer 3
  ListResult after = f.directory->ListCustomers(request);
  CHECK(after.status == ListResult::Status::kOk);
  CHECK(Ids(after) == std::vector<std::string>{"10"});
  request.anchor = "no-such-customer";
  CHECK(f.directory->ListCustomers(request).status == ListResult::Status::kBadAnchor);
  // A token wins over an anchor.
  std::unique_ptr<Collation> root = Collation::Create("root", nullptr);
  request.page_token = EncodeCursor({root->SortKey("bobby Shaftoe"), "1"});
  ListResult by_token = f.directory->ListCustomers(request);
  CHECK(by_token.status == ListResult::Status::kOk);
  CHECK(Ids(by_token) == std::vector<std::string>{"2", "3", "10"});
  // A token for a customer that no longer exists still works (keyset position).
  request.page_token = EncodeCursor({root->SortKey("Joseph Zzz"), "deleted"});
  CHECK(Ids(f.directory->ListCustomers(request)) == std::vector<std::string>{"10"});
}

TEST_CASE_TEMPLATE("directory: search", T, SqliteBackend, PgBackend) {
  BACKEND_FIXTURE(f);
  struct Case {
    const char* query;
    std::vector<std::string> ids;
  };
  const Case cases[] = {
      {"bobby", {"1", "2"}},
      {"BOB", {"1", "2"}},
      {"shaf bob", {"1", "2"}},
      {"joseph martin", {"3"}},
      {"jos mar", {"3"}},
      {"joseph x", {}},
      {"zoë", {"10"}},
      {"ZOË ÅNG", {"10"}},
      {"+1 (555) 867-5310", {"3"}},
      {"15558675310", {"3"}},
      {"+15558675310", {"3"}},
      {"whatsapp:+15558675310", {"3"}},
      {"555-867", {"3"}},  // anywhere in the number
      {"555 867", {"3"}},  // digit terms joined
      {"8675310", {"3"}},
      {"5310", {"3"}},
      {"1555", {"1", "2", "3"}},  // starts with
      {"+1 555", {"1", "2", "3"}},
      {"joseph 5310", {"3"}},
      {"bobby 5310", {}},
      {"b", {"1", "2"}},  // short terms: list walk with filter
      {"bo sh", {"1", "2"}},
      {"ä", {"4", "10"}},  // Ängel, Ångström: accents do not count
      {"angstrom", {"10"}},
      {"ZOE", {"10"}},
      {"someone", {}},  // bob's customer, not alice's
      {"   ", {"4", "1", "2", "3", "10"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.query);
    ListResult r = f.List(c.query);
    CHECK(r.status == ListResult::Status::kOk);
    CHECK(Ids(r) == c.ids);
  }
  CHECK(Ids(f.List("someone", "bob@example.com")) == std::vector<std::string>{"b1"});
  CHECK(Ids(f.List("example.com", "bob@example.com")) == std::vector<std::string>{"b1"});
  CHECK(Ids(f.List("xample", "bob@example.com")).empty());  // not a word start
  CHECK(Ids(f.List("example", "bob@example.com")) == std::vector<std::string>{"b1"});

  ListRequest everyone;
  everyone.all_workers = true;
  everyone.query = "bob";
  CHECK(Ids(f.directory->ListCustomers(everyone)) == std::vector<std::string>{"b1", "1", "2"});

  // Search results page with the same cursors.
  ListResult first = f.List("1555", "alice@example.com", 2);
  CHECK(Ids(first) == std::vector<std::string>{"1", "2"});
  REQUIRE_FALSE(first.next_page_token.empty());
  ListResult second = f.List("1555", "alice@example.com", 2, first.next_page_token);
  CHECK(Ids(second) == std::vector<std::string>{"3"});
  CHECK(second.next_page_token.empty());
}

// Searches whose driving range holds more index rows than an indexed search reads (500) walk
// the list in order instead; both ways, and searches over every worker's customers, must give
// the same customers in the same order, page after page. 1 800 customers, three workers: names
// "Mx0000 Rare %_"\x", "Mx0001 Common", … (every tenth Rare, every fourth with a word of
// characters special to LIKE and to array literals), so the order is the number's.
TEST_CASE_TEMPLATE("directory: search through the index or by a walk, paged", T, SqliteBackend,
                   PgBackend) {
  constexpr int kCustomers = 1800;
  std::vector<Customer> customers;
  for (int i = 0; i < kCustomers; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "Mx%04d %s%s", i, i % 10 == 0 ? "Rare" : "Common",
                  i % 4 == 0 ? " %_\"\\x" : "");
    customers.push_back(MakeCustomer("c" + std::to_string(i), name, "w" + std::to_string(i % 3)));
  }
  Fixture<T> f(customers, {});
  if (f.skipped) return;
  struct Case {
    const char* query;
    bool all_workers;
    bool (*matches)(int i);  // for worker w0 (i % 3 == 0) unless all_workers
    const char* path;        // how many index rows the driving term has, for the reader
  };
  const Case cases[] = {
      {"rare", false, [](int i) { return i % 10 == 0; }, "60 rows: indexed"},
      {"mx rare", false, [](int i) { return i % 10 == 0; }, "the longer term drives: indexed"},
      {"common", false, [](int i) { return i % 10 != 0; }, "540 rows: walk"},
      {"mx", false, [](int) { return true; }, "600 rows: walk"},
      {"mx00", false, [](int i) { return i < 100; }, "34 rows: indexed"},
      {"common %_\"\\", false, [](int i) { return i % 10 != 0 && i % 4 == 0; },
       "walk, special characters taken literally"},
      {"common %", false, [](int i) { return i % 10 != 0 && i % 4 == 0; }, "walk, not a wildcard"},
      {"common _", false, [](int) { return false; }, "walk, not a wildcard"},
      {"rare", true, [](int i) { return i % 10 == 0; }, "180 rows over 3 workers: indexed"},
      {"mx01", true, [](int i) { return i >= 100 && i < 200; }, "100 rows: indexed"},
      {"common", true, [](int i) { return i % 10 != 0; }, "1 620 rows: walk"},
      {"nobody", true, [](int) { return false; }, "no rows"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.query);
    CAPTURE(c.all_workers);
    CAPTURE(c.path);
    std::vector<std::string> expected;
    for (int i = 0; i < kCustomers; ++i) {
      if ((c.all_workers || i % 3 == 0) && c.matches(i)) expected.push_back("c" + std::to_string(i));
    }
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      ListRequest request;
      request.worker = "w0";
      request.all_workers = c.all_workers;
      request.query = c.query;
      request.page_size = 200;
      request.page_token = token;
      ListResult page = f.directory->ListCustomers(request);
      REQUIRE(page.status == ListResult::Status::kOk);
      CHECK(page.customers.size() <= 200);
      for (const CustomerSummary& s : page.customers) seen.push_back(s.customer_id);
      token = page.next_page_token;
      REQUIRE(++pages <= 20);
    } while (!token.empty());
    CHECK(seen == expected);
  }
}

TEST_CASE("sqlite directory: paging 1000 customers while the directory changes") {
  TempDir dir;
  const std::string db = dir.File("directory.db");
  std::vector<Customer> customers;
  for (int i = 0; i < 1000; ++i) {
    // Names with mixed case and duplicates, so ties are broken by customer_id.
    std::string name = std::string(1, static_cast<char>((i % 2 ? 'A' : 'a') + i % 26)) + "name " +
                       std::to_string(i % 97);
    customers.push_back(MakeCustomer("c" + std::to_string(i), name));
  }
  std::string error;
  REQUIRE_MESSAGE(ImportRecords(db, customers, {}, {}, nullptr, &error), error);
  auto directory = SqliteDirectory::Open(db, &error);
  REQUIRE(directory != nullptr);

  sqlite3* writer = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &writer) == SQLITE_OK);
  sqlite3_busy_timeout(writer, 5000);

  std::unique_ptr<Collation> root = Collation::Create("root", nullptr);
  std::set<std::string> deleted;
  std::set<std::string> inserted;
  std::vector<std::pair<std::string, std::string>> seen;  // (sort key, id) in page order
  std::string token;
  int page_number = 0;
  do {
    ListRequest request;
    request.worker = "alice@example.com";
    request.page_size = 30;
    request.page_token = token;
    ListResult page = directory->ListCustomers(request);
    REQUIRE(page.status == ListResult::Status::kOk);
    for (const CustomerSummary& c : page.customers) {
      seen.emplace_back(root->SortKey(c.display_name), c.customer_id);
    }
    token = page.next_page_token;
    ++page_number;

    // Between pages: insert customers before and after the cursor, delete seen and unseen ones.
    std::vector<Customer> more = {MakeCustomer("new-a" + std::to_string(page_number),
                                               "AAA early " + std::to_string(page_number)),
                                  MakeCustomer("new-z" + std::to_string(page_number),
                                               "zzz late " + std::to_string(page_number)),
                                  MakeCustomer("new-m" + std::to_string(page_number),
                                               "Mname " + std::to_string(page_number))};
    for (const Customer& c : more) inserted.insert(c.customer_id);
    REQUIRE_MESSAGE(ImportRecords(db, more, {}, {}, nullptr, &error), error);
    for (int victim : {page_number * 7 % 1000, (page_number * 13 + 500) % 1000}) {
      std::string id = "c" + std::to_string(victim);
      std::string sql = "DELETE FROM customers WHERE customer_id = '" + id + "'";
      REQUIRE(sqlite3_exec(writer, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
      deleted.insert(id);
    }
  } while (!token.empty());
  sqlite3_close(writer);

  // Strictly increasing in the stable order: nothing repeated, nothing out of order.
  for (size_t i = 1; i < seen.size(); ++i) {
    CAPTURE(i);
    REQUIRE(seen[i - 1] < seen[i]);
  }
  std::set<std::string> seen_ids;
  for (const auto& [key, id] : seen) seen_ids.insert(id);
  CHECK(seen_ids.size() == seen.size());
  // Every original customer that was never deleted was seen exactly once.
  for (const Customer& c : customers) {
    if (deleted.count(c.customer_id) == 0) {
      CAPTURE(c.customer_id);
      CHECK(seen_ids.count(c.customer_id) == 1);
    }
  }
  // Seen customers are originals or inserted ones, nothing else.
  for (const std::string& id : seen_ids) {
    CHECK((id[0] == 'c' || inserted.count(id) == 1));
  }
  CHECK(page_number >= 34);
}

TEST_CASE("sqlite directory: list pages and search walks read the covering index only") {
  SqliteFixture f;
  sqlite3* db = f.directory->ThreadConnection();
  REQUIRE(db != nullptr);
  // The shapes of the list and walk statements (sqlite_directory.cpp): every column they read
  // is in customers_by_worker / customers_by_order (schema version 4), so no table row is read.
  const char* statements[] = {
      "SELECT c.customer_id, c.display_name, c.avatar, c.sort_key FROM customers c"
      " WHERE c.worker = 'w' AND (c.sort_key, c.customer_id) > (x'', '')"
      " AND fl_match_all(c.search_text, 'm') ORDER BY c.sort_key, c.customer_id LIMIT 31",
      "SELECT c.customer_id, c.display_name, c.avatar, c.sort_key FROM customers c"
      " WHERE (c.sort_key, c.customer_id) > (x'', '')"
      " AND fl_match_all(c.search_text, 'm') ORDER BY c.sort_key, c.customer_id LIMIT 31",
  };
  for (const char* sql : statements) {
    CAPTURE(sql);
    std::string plan;
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, (std::string("EXPLAIN QUERY PLAN ") + sql).c_str(), -1, &stmt,
                               nullptr) == SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
    sqlite3_finalize(stmt);
    CAPTURE(plan);
    CHECK(plan.find("USING COVERING INDEX") != std::string::npos);
    CHECK(plan.find("TEMP B-TREE") == std::string::npos);
  }
}

TEST_CASE("sqlite directory: two threads at once, each with its own connection") {
  SqliteFixture f;
  std::atomic<int> failures{0};
  std::vector<sqlite3*> connections(2);
  auto work = [&](int index) {
    connections[index] = f.directory->ThreadConnection();
    for (int i = 0; i < 300; ++i) {
      auto joe = f.directory->FindById("3");
      if (!joe.found() || joe->channels.size() != 2) ++failures;
      if (!f.directory->FindByAddress("whatsapp:+15558675310").found()) ++failures;
      if (f.List("bob").customers.size() != 2) ++failures;
      if (!f.directory->FindWorker("bob@example.com").found()) ++failures;
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  CHECK(failures.load() == 0);
  CHECK(connections[0] != nullptr);
  CHECK(connections[1] != nullptr);
  CHECK(connections[0] != connections[1]);
  CHECK(connections[0] != f.directory->ThreadConnection());
  CHECK(f.directory->error_count() == 0);
}

TEST_CASE("sqlite directory: readers see the old data while an import transaction is open") {
  SqliteFixture f;
  // Another "process": its own connection, holding an uncommitted write transaction.
  sqlite3* other = OpenConnection(f.db, nullptr);
  REQUIRE(other != nullptr);
  REQUIRE(sqlite3_exec(other,
                       "BEGIN IMMEDIATE;"
                       "UPDATE customers SET display_name = 'Changed' WHERE customer_id = '3';"
                       "UPDATE customers SET channels = x'';"
                       "DELETE FROM addresses;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  auto joe = f.directory->FindById("3");
  REQUIRE(joe.found());
  CHECK(joe->display_name == "Joseph Martin");
  CHECK(joe->channels.size() == 2);
  CHECK(f.directory->FindByAddress("+15558675310").found());
  REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  joe = f.directory->FindById("3");
  REQUIRE(joe.found());
  CHECK(joe->display_name == "Changed");
  CHECK(joe->channels.empty());
}

TEST_CASE("sqlite directory: a row whose channels cannot be decoded is unavailable, not absent") {
  SqliteFixture f;
  sqlite3* other = OpenConnection(f.db, nullptr);
  REQUIRE(other != nullptr);
  // A field length of 5 with no bytes after it (schema.h: LEB128 length, then the bytes).
  REQUIRE(sqlite3_exec(other, "UPDATE customers SET channels = x'05' WHERE customer_id = '3'",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);

  Lookup<Customer> joe = f.directory->FindById("3");
  CHECK(joe.unavailable());
  CHECK(joe.error().find("\"3\"") != std::string::npos);
  // The address index still leads to the row, which is just as undecodable.
  CHECK(f.directory->FindByAddress("+15558675310").unavailable());
  CHECK(f.directory->last_error().find("\"3\"") != std::string::npos);
  CHECK(f.directory->error_count() >= 2);
  // Everyone else is fine, and so is the store.
  CHECK(f.directory->FindById("1").found());
  CHECK(f.directory->FindById("999").absent());
  std::string error;
  CHECK(f.directory->Ping(&error));
}

// Replaces `db` by `replacement`'s content: in place (truncate and write, as `cp` does) or by
// renaming a copy over it (as `mv` or an atomic deploy does).
void Replace(const std::string& db, const std::string& replacement, bool in_place) {
  if (in_place) {
    std::ofstream out(db, std::ios::binary | std::ios::trunc);
    out << testing::ReadFile(replacement);
    REQUIRE(out.good());
  } else {
    std::string tmp = db + ".new";
    std::filesystem::copy_file(replacement, tmp, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(tmp, db);
  }
}

TEST_CASE("sqlite directory: a file replaced by garbage is unavailable, then recovers") {
  for (bool in_place : {true, false}) {
    CAPTURE(in_place);
    SqliteFixture f;
    REQUIRE(f.directory->FindById("3").found());  // warm the page cache
    REQUIRE(f.List("").status == ListResult::Status::kOk);
    const std::string good = f.dir.File("good.db");
    std::filesystem::copy_file(f.db, good);
    const std::string garbage = f.dir.Write("garbage", std::string(5000, 'x'));

    Replace(f.db, garbage, in_place);
    Lookup<Customer> joe = f.directory->FindById("3");
    CHECK(joe.unavailable());  // not served from the page cache of the old file
    CHECK(f.directory->FindByAddress("+15558675310").unavailable());
    CHECK(f.directory->FindWorker("bob@example.com").unavailable());
    CHECK(f.directory->WorkersWithCustomers().unavailable());
    ListResult page = f.List("");
    CHECK(page.status == ListResult::Status::kUnavailable);
    CHECK(page.customers.empty());
    CHECK_FALSE(page.error.empty());
    std::string error;
    CHECK_FALSE(f.directory->Ping(&error));
    CHECK_FALSE(error.empty());

    // Back without reopening the directory.
    Replace(f.db, good, in_place);
    joe = f.directory->FindById("3");
    REQUIRE(joe.found());
    CHECK(joe->display_name == "Joseph Martin");
    CHECK(f.directory->Ping(&error));
    CHECK(f.List("").status == ListResult::Status::kOk);
  }
}

TEST_CASE("sqlite directory: a different database renamed over the file is seen at once") {
  SqliteFixture f;
  REQUIRE(f.directory->FindById("3").found());
  TempDir other_dir;
  const std::string other = other_dir.File("other.db");
  std::string error;
  REQUIRE_MESSAGE(ImportRecords(other, {MakeCustomer("x", "Xavier")}, {}, {}, nullptr, &error),
                  error);
  Replace(f.db, other, false);
  CHECK(f.directory->FindById("3").absent());
  CHECK(f.directory->FindById("x").found());
}

TEST_CASE("sqlite directory: a deleted file is unavailable, never an empty directory") {
  SqliteFixture f;
  REQUIRE(f.directory->FindById("3").found());
  std::filesystem::remove(f.db);
  // The connection notices the file is gone, and reopening does not create an empty one.
  CHECK(f.directory->FindById("3").unavailable());
  CHECK(f.List("").status == ListResult::Status::kUnavailable);
  CHECK_FALSE(std::filesystem::exists(f.db));
}

}  // namespace
}  // namespace frontline
