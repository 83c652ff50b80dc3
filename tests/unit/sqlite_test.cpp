// db/sqlite.h (statements, steps as values, transactions, user_version) and the customers-row
// decoder built on it (directory/customer_row.h).
#include "db/sqlite.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "directory/customer_row.h"
#include "directory/schema.h"

namespace frontline {
namespace {

// An in-memory database closed at scope exit.
class MemoryDb {
 public:
  MemoryDb() { REQUIRE(sqlite3_open(":memory:", &db_) == SQLITE_OK); }
  ~MemoryDb() { sqlite3_close_v2(db_); }
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

TEST_CASE("db::Statement binds and reads text, integers, blobs and NULL") {
  MemoryDb db;
  std::string error;
  REQUIRE(db::Exec(db.get(), "CREATE TABLE t (s TEXT, i INTEGER, b BLOB, n TEXT)", &error));
  {
    db::Statement insert(db.get(), "INSERT INTO t VALUES (?1, ?2, ?3, ?4)", &error);
    REQUIRE(insert.ok());
    const std::string blob("a\0b\xff", 4);
    insert.Bind(1, std::string("Zo\xc3\xab, \"quoted\""));  // a temporary: Bind copies it
    insert.Bind(2, -(int64_t{1} << 40));
    insert.BindBlob(3, blob);
    insert.BindNull(4);
    REQUIRE(insert.Run("insert", &error));
  }
  db::Statement select(db.get(), "SELECT s, i, b, n FROM t", &error);
  REQUIRE(select.ok());
  REQUIRE(select.Next() == db::StepResult::kRow);
  CHECK(select.Text(0) == "Zo\xc3\xab, \"quoted\"");
  CHECK(select.Int(1) == (-(int64_t{1} << 40)));
  CHECK(select.Blob(2) == std::string_view("a\0b\xff", 4));
  CHECK(select.IsNull(3));
  CHECK(select.Text(3).empty());
  CHECK(select.Blob(3).empty());
  CHECK(select.Next() == db::StepResult::kDone);
}

TEST_CASE("db::Statement: named parameters, reset, and errors as values") {
  MemoryDb db;
  std::string error;
  db::Statement stmt(db.get(), "SELECT :a || '-' || :b", &error,
                     db::Statement::Lifetime::kPersistent);
  REQUIRE(stmt.ok());
  {
    db::ResetOnExit reset(stmt);
    stmt.BindNamed(":a", "x");
    stmt.BindNamed(":b", int64_t{7});
    stmt.BindNamed(":missing", "ignored");  // not in the statement: nothing happens
    REQUIRE(stmt.Next() == db::StepResult::kRow);
    CHECK(stmt.Text(0) == "x-7");
  }
  // Reset and bindings cleared: NULL || ... is NULL.
  REQUIRE(stmt.Next() == db::StepResult::kRow);
  CHECK(stmt.IsNull(0));
  stmt.Reset();

  db::Statement bad(db.get(), "SELECT FROM nowhere", &error);
  CHECK_FALSE(bad.ok());
  CHECK(error.rfind("prepare: ", 0) == 0);

  REQUIRE(db::Exec(db.get(), "CREATE TABLE u (k INTEGER PRIMARY KEY)", &error));
  REQUIRE(db::Exec(db.get(), "INSERT INTO u VALUES (1)", &error));
  db::Statement dup(db.get(), "INSERT INTO u VALUES (1)", &error);
  REQUIRE(dup.ok());
  CHECK(dup.Next() == db::StepResult::kError);
  dup.Reset();
  CHECK_FALSE(dup.Run("insert u", &error));
  CHECK(error.rfind("insert u: UNIQUE constraint failed", 0) == 0);
}

TEST_CASE("db::Statement moves and releases its handle") {
  MemoryDb db;
  std::string error;
  db::Statement a(db.get(), "SELECT 1", &error);
  REQUIRE(a.ok());
  db::Statement b(std::move(a));
  CHECK_FALSE(a.ok());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  REQUIRE(b.ok());
  db::Statement c;
  CHECK_FALSE(c.ok());
  c = std::move(b);
  REQUIRE(c.Next() == db::StepResult::kRow);
  CHECK(c.Int(0) == 1);
  sqlite3_stmt* raw = c.release();
  CHECK_FALSE(c.ok());
  CHECK(raw != nullptr);
  sqlite3_finalize(raw);
}

TEST_CASE("db::Transaction commits, rolls back at scope exit, or on request") {
  MemoryDb db;
  std::string error;
  REQUIRE(db::Exec(db.get(), "CREATE TABLE t (v INTEGER)", &error));
  auto count = [&] {
    db::Statement s(db.get(), "SELECT count(*) FROM t", nullptr);
    return s.Next() == db::StepResult::kRow ? s.Int(0) : -1;
  };
  {
    db::Transaction txn(db.get(), &error);
    REQUIRE(txn.ok());
    REQUIRE(db::Exec(db.get(), "INSERT INTO t VALUES (1)", &error));
    REQUIRE(txn.Commit(&error));
    CHECK_FALSE(txn.ok());
  }
  CHECK(count() == 1);
  {
    db::Transaction txn(db.get(), &error, db::Transaction::Mode::kDeferred);
    REQUIRE(txn.ok());
    REQUIRE(db::Exec(db.get(), "INSERT INTO t VALUES (2)", &error));
  }  // rolled back
  CHECK(count() == 1);
  {
    db::Transaction txn(db.get(), &error);
    REQUIRE(db::Exec(db.get(), "INSERT INTO t VALUES (3)", &error));
    REQUIRE(txn.Rollback(&error));
    CHECK_FALSE(txn.ok());
    CHECK(txn.Rollback(&error));  // nothing left to do
  }
  CHECK(count() == 1);
  {
    db::Transaction outer(db.get(), &error);
    REQUIRE(outer.ok());
    std::string nested_error;
    db::Transaction nested(db.get(), &nested_error);  // SQLite has no nested BEGIN
    CHECK_FALSE(nested.ok());
    CHECK(nested_error.rfind("begin: ", 0) == 0);
  }
}

TEST_CASE("db::UserVersion reads the pragma") {
  MemoryDb db;
  std::string error;
  CHECK(db::UserVersion(db.get()) == 0);
  REQUIRE(db::Exec(db.get(), "PRAGMA user_version=42", &error));
  CHECK(db::UserVersion(db.get()) == 42);
}

TEST_CASE("ReadCustomerRow decodes a customers row, and names the customer of a bad blob") {
  MemoryDb db;
  std::string error;
  REQUIRE(db::Exec(db.get(),
                   "CREATE TABLE customers (customer_id TEXT, display_name TEXT, avatar TEXT,"
                   " details_title TEXT, details_content TEXT, worker TEXT, channels BLOB,"
                   " links BLOB)",
                   &error));
  std::string channels, links;
  AppendChannelsBlob({{"sms", "+15550000001"}, {"whatsapp", "whatsapp:+15550000001"}}, &channels);
  AppendLinksBlob({{"Web", "https://example.com", "Site"}}, &links);
  db::Statement insert(db.get(), "INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                       &error);
  REQUIRE(insert.ok());
  const char* fields[] = {"c1", "Ana", "https://a.example/a.png", "Info", "Line\n2", "alice"};
  for (int i = 0; i < 6; ++i) insert.Bind(i + 1, fields[i]);
  insert.BindBlob(7, channels);
  insert.BindBlob(8, links);
  REQUIRE(insert.Run("insert", &error));
  insert.Reset();
  insert.Bind(1, "broken");
  insert.BindBlob(7, "\x7f");  // truncated
  REQUIRE(insert.Run("insert", &error));

  db::Statement select(
      db.get(), "SELECT " FRONTLINE_CUSTOMER_COLUMNS " FROM customers c ORDER BY rowid", &error);
  REQUIRE(select.ok());
  REQUIRE(select.Next() == db::StepResult::kRow);
  Customer customer;
  customer.links = {{"stale", "stale", "stale"}};  // replaced, not appended to
  REQUIRE(ReadCustomerRow(select, &customer, &error));
  CHECK(customer.customer_id == "c1");
  CHECK(customer.display_name == "Ana");
  CHECK(customer.avatar == "https://a.example/a.png");
  CHECK(customer.details.title == "Info");
  CHECK(customer.details.content == "Line\n2");
  CHECK(customer.worker == "alice");
  REQUIRE(customer.channels.size() == 2);
  CHECK(customer.channels[1].value == "whatsapp:+15550000001");
  REQUIRE(customer.links.size() == 1);
  CHECK(customer.links[0].display_name == "Site");

  REQUIRE(select.Next() == db::StepResult::kRow);
  CHECK_FALSE(ReadCustomerRow(select, &customer, &error));
  CHECK(error == "malformed channels or links of customer \"broken\"");
}

}  // namespace
}  // namespace frontline
