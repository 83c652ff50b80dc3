// The opt-out store (events/optout_store.h) on both event stores: the conversation map, the
// opt-out rows and how SetOptOut keeps them, and the SQLite file's migration from version 2.
// The cases named "optout store: …" are TEST_CASE_TEMPLATEs over SQLite and PostgreSQL; the
// PostgreSQL ones run when FRONTLINE_TEST_POSTGRES names a database (integration/postgres sets
// it against a server of its own; without it they say they were skipped).
#include <unistd.h>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "db/postgres.h"
#include "events/pg_event_store.h"
#include "events/sqlite_event_store.h"
#include "tests/unit/directory_test_util.h"

namespace frontline {
namespace {

using testing::TempDir;

struct SqliteBackend {
  static constexpr const char* kName = "sqlite";
};
struct PgBackend {
  static constexpr const char* kName = "postgresql";
};

// A fresh event store: a new file, or a new schema in FRONTLINE_TEST_POSTGRES's database.
template <typename Backend>
struct StoreFixture {
  TempDir dir;
  int64_t now = 1700000000000;
  std::unique_ptr<EventStore> store;
  bool skipped = false;

  StoreFixture() {
    OutboxOptions options;
    options.now_ms = [this] { return now; };
    std::string error;
    if constexpr (std::is_same_v<Backend, PgBackend>) {
      const char* uri = std::getenv("FRONTLINE_TEST_POSTGRES");
      if (uri == nullptr || *uri == '\0') {
        MESSAGE("skipped: FRONTLINE_TEST_POSTGRES is not set (integration/postgres sets it)");
        skipped = true;
        return;
      }
      static int counter = 0;
      pg::ConnectOptions connect;
      connect.conninfo = pg::LibpqConnInfo(uri);
      connect.schema = "o" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
      store = PgEventStore::Open(connect, options, &error);
    } else {
      store = SqliteEventStore::Open(dir.File("outbox.db"), options, &error);
    }
    REQUIRE_MESSAGE(store != nullptr, error);
  }

  void Set(const std::string& address, const std::string& proxy, bool out) {
    std::string error;
    REQUIRE_MESSAGE(store->SetOptOut(address, proxy, out, "test", &error), error);
  }
  // "out" / "in" for address on proxy, as FindOptOut answers it.
  std::string State(const std::string& address, const std::string& proxy) {
    Lookup<OptOutRow> row = store->FindOptOut(address, proxy);
    REQUIRE_FALSE(row.unavailable());
    return row.found() ? "out" : "in";
  }
  // Every row as "address|proxy|out" or "…|in", in list order.
  std::vector<std::string> Rows() {
    std::vector<OptOutRow> rows;
    std::string error;
    REQUIRE_MESSAGE(store->ListOptOuts(&rows, &error), error);
    std::vector<std::string> out;
    for (const OptOutRow& r : rows) {
      out.push_back(r.address + "|" + r.proxy + "|" + (r.opted_out ? "out" : "in"));
    }
    return out;
  }
};

#define STORE_FIXTURE(f) \
  StoreFixture<T> f;     \
  if (f.skipped) return

TEST_CASE_TEMPLATE("optout store: the conversation map", T, SqliteBackend, PgBackend) {
  STORE_FIXTURE(f);
  std::string error;
  CHECK(f.store->FindConversation("CH1").absent());
  REQUIRE_MESSAGE(f.store->MapConversation("CH1", "15558675310", "15550001111", &error), error);
  Lookup<ConversationState> c = f.store->FindConversation("CH1");
  REQUIRE(c.found());
  CHECK(c->customer == "15558675310");
  CHECK(c->proxy == "15550001111");
  CHECK_FALSE(c->opted_out);

  // A retry is idempotent; a later webhook without the proxy keeps the known one.
  REQUIRE(f.store->MapConversation("CH1", "15558675310", "15550001111", &error));
  REQUIRE(f.store->MapConversation("CH1", "15558675310", "", &error));
  CHECK(f.store->FindConversation("CH1")->proxy == "15550001111");
  // A conversation first seen without its proxy learns it later.
  REQUIRE(f.store->MapConversation("CH2", "15550000002", "", &error));
  CHECK(f.store->FindConversation("CH2")->proxy.empty());
  REQUIRE(f.store->MapConversation("CH2", "15550000002", "15550009999", &error));
  CHECK(f.store->FindConversation("CH2")->proxy == "15550009999");

  CHECK_FALSE(f.store->MapConversation("", "1555", "1666", &error));
  CHECK_FALSE(f.store->MapConversation("CH3", "", "1666", &error));

  SUBCASE("FindConversation carries the opt-out state for the conversation's proxy") {
    f.Set("15558675310", "15550009999", true);  // another proxy: not this conversation's
    CHECK_FALSE(f.store->FindConversation("CH1")->opted_out);
    f.Set("15558675310", "15550001111", true);
    CHECK(f.store->FindConversation("CH1")->opted_out);
    f.Set("15558675310", "15550001111", false);
    CHECK_FALSE(f.store->FindConversation("CH1")->opted_out);
    f.Set("15558675310", "", true);  // every proxy
    CHECK(f.store->FindConversation("CH1")->opted_out);
    f.Set("15558675310", "15550001111", false);  // opted in again on this one only
    CHECK_FALSE(f.store->FindConversation("CH1")->opted_out);
    // A conversation whose proxy is unknown sees only every-proxy opt-outs.
    f.Set("15550000002", "15550001111", true);
    REQUIRE(f.store->MapConversation("CH4", "15550000002", "", &error));
    CHECK_FALSE(f.store->FindConversation("CH4")->opted_out);
    f.Set("15550000002", "", true);
    CHECK(f.store->FindConversation("CH4")->opted_out);
  }
}

TEST_CASE_TEMPLATE("optout store: a job's map entry is stored with it", T, SqliteBackend,
                   PgBackend) {
  STORE_FIXTURE(f);
  OutboxJob job;
  job.conversation_sid = "CH7";
  job.identity = "alice@example.com";
  job.map_customer = "15558675310";
  job.map_proxy = "15550001111";
  std::string error;
  REQUIRE_MESSAGE(f.store->Enqueue(job, &error) == EnqueueResult::kEnqueued, error);
  Lookup<ConversationState> c = f.store->FindConversation("CH7");
  REQUIRE(c.found());
  CHECK(c->customer == "15558675310");
  CHECK(c->proxy == "15550001111");
  // A retried webhook is a duplicate job and still (re)records the map; a job without an entry
  // leaves the map alone.
  job.map_proxy = "15550009999";
  OutboxJob stored;
  CHECK(f.store->Enqueue(job, &stored, &error) == EnqueueResult::kDuplicate);
  CHECK(stored.identity == "alice@example.com");
  CHECK(f.store->FindConversation("CH7")->proxy == "15550009999");
  OutboxJob plain;
  plain.conversation_sid = "CH8";
  plain.identity = "bob@example.com";
  CHECK(f.store->Enqueue(plain, &error) == EnqueueResult::kEnqueued);
  CHECK(f.store->FindConversation("CH8").absent());
  CHECK(f.store->Counts(&error).pending == 2);
}

// Each row: the changes made in order, then the state on proxies P and Q and the rows left.
TEST_CASE_TEMPLATE("optout store: SetOptOut keeps the rows as documented", T, SqliteBackend,
                   PgBackend) {
  struct Change {
    const char* proxy;
    bool out;
  };
  struct Case {
    const char* name;
    std::vector<Change> changes;
    const char* on_p;
    const char* on_q;
    std::vector<std::string> rows;
  };
  const std::vector<Case> cases = {
      {"nothing recorded", {}, "in", "in", {}},
      {"out on P", {{"P", true}}, "out", "in", {"A|P|out"}},
      {"out on P, in on P", {{"P", true}, {"P", false}}, "in", "in", {}},
      {"out everywhere", {{"", true}}, "out", "out", {"A||out"}},
      {"out everywhere, in everywhere", {{"", true}, {"", false}}, "in", "in", {}},
      {"out everywhere, in on P: an exception", {{"", true}, {"P", false}}, "in", "out",
       {"A||out", "A|P|in"}},
      {"exception, then out on P again", {{"", true}, {"P", false}, {"P", true}}, "out", "out",
       {"A||out", "A|P|out"}},
      {"out on P and Q, then everywhere: one row", {{"P", true}, {"Q", true}, {"", true}}, "out",
       "out", {"A||out"}},
      {"exception, then out everywhere again drops it", {{"", true}, {"P", false}, {"", true}},
       "out", "out", {"A||out"}},
      {"out on P, in everywhere", {{"P", true}, {"Q", true}, {"", false}}, "in", "in", {}},
      {"in on P without any opt-out", {{"P", false}}, "in", "in", {}},
      {"twice out on P", {{"P", true}, {"P", true}}, "out", "in", {"A|P|out"}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    STORE_FIXTURE(f);
    for (const Change& change : c.changes) f.Set("A", change.proxy, change.out);
    f.Set("B", "", true);  // another address is never touched
    CHECK(f.State("A", "P") == c.on_p);
    CHECK(f.State("A", "Q") == c.on_q);
    CHECK(f.State("B", "P") == "out");
    std::vector<std::string> rows = f.Rows();
    CHECK(rows.back() == "B||out");
    rows.pop_back();
    CHECK(rows == c.rows);
  }
}

TEST_CASE_TEMPLATE("optout store: FindOptOut names the deciding row; list order", T,
                   SqliteBackend, PgBackend) {
  STORE_FIXTURE(f);
  std::string error;
  f.now = 1700000001000;
  REQUIRE(f.store->SetOptOut("15558675310", "", true, "'STOP' in CH1", &error));
  f.now = 1700000002000;
  REQUIRE(f.store->SetOptOut("15558675310", "15550001111", true, "'stop' in CH2", &error));
  REQUIRE(f.store->SetOptOut("15550000002", "15550009999", true, "optout add", &error));
  Lookup<OptOutRow> own = f.store->FindOptOut("15558675310", "15550001111");
  REQUIRE(own.found());
  CHECK(own->proxy == "15550001111");
  CHECK(own->reason == "'stop' in CH2");
  CHECK(own->updated_at == 1700000002000);
  Lookup<OptOutRow> every = f.store->FindOptOut("15558675310", "15550009999");
  REQUIRE(every.found());
  CHECK(every->proxy.empty());
  CHECK(every->reason == "'STOP' in CH1");
  CHECK(every->updated_at == 1700000001000);
  CHECK(f.store->FindOptOut("15550000002", "15550001111").absent());
  CHECK(f.Rows() == std::vector<std::string>{"15550000002|15550009999|out", "15558675310||out",
                                             "15558675310|15550001111|out"});
  CHECK_FALSE(f.store->SetOptOut("", "", true, "x", &error));
}

TEST_CASE("optout store: an event file of version 2 migrates and keeps its jobs") {
  TempDir dir;
  const std::string path = dir.File("outbox.db");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  // Version 2 as older builds left it (migrations 1 and 2 of sqlite_event_store.cpp).
  const char* v2 = R"sql(
CREATE TABLE outbox (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, action TEXT NOT NULL,
  conversation_sid TEXT NOT NULL, identity TEXT NOT NULL DEFAULT '',
  participant_sid TEXT NOT NULL DEFAULT '', attributes_json TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, lease_owner TEXT,
  lease_until INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX outbox_pending ON outbox(next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_failed ON outbox(id) WHERE state = 'failed';
CREATE INDEX outbox_done ON outbox(updated_at, id) WHERE state = 'done';
INSERT INTO outbox (key, action, conversation_sid, identity, next_attempt_at, created_at,
  updated_at) VALUES ('add:CH1', 'add_participant', 'CH1', 'alice', 0, 0, 0);
PRAGMA user_version=2;
)sql";
  REQUIRE(sqlite3_exec(db, v2, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  std::string error;
  auto store = SqliteEventStore::Open(path, OutboxOptions(), &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  CHECK(store->Counts(&error).pending == 1);
  REQUIRE(store->MapConversation("CH1", "15558675310", "15550001111", &error));
  REQUIRE(store->SetOptOut("15558675310", "", true, "x", &error));
  CHECK(store->FindConversation("CH1")->opted_out);
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* version = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(version) == SQLITE_ROW);
  CHECK(sqlite3_column_int(version, 0) == 3);
  sqlite3_finalize(version);
  sqlite3_close(db);
}

TEST_CASE("optout store: a store that cannot answer says so, never absent") {
  TempDir dir;
  const std::string path = dir.File("outbox.db");
  std::string error;
  auto store = SqliteEventStore::Open(path, OutboxOptions(), &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  REQUIRE(store->MapConversation("CH1", "15558675310", "15550001111", &error));
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "ALTER TABLE opt_outs RENAME TO away", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  CHECK(store->FindConversation("CH1").unavailable());
  CHECK(store->FindOptOut("15558675310", "15550001111").unavailable());
  CHECK_FALSE(store->SetOptOut("15558675310", "", true, "x", &error));
  CHECK_FALSE(error.empty());
  std::vector<OptOutRow> rows;
  CHECK_FALSE(store->ListOptOuts(&rows, &error));
  REQUIRE(sqlite3_exec(db, "ALTER TABLE away RENAME TO opt_outs", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  CHECK(store->FindConversation("CH1").found());  // back without a restart
}

}  // namespace
}  // namespace frontline
