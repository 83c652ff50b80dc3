#include "events/sqlite_event_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <utility>

#include "db/sqlite.h"

namespace frontline {
namespace {

constexpr const char* kRowColumns =
    "id, key, action, conversation_sid, identity, participant_sid, attributes_json, state, "
    "attempts, next_attempt_at, lease_owner, lease_until, created_at, updated_at, last_error";

OutboxRow ReadRow(const db::Statement& s) {
  OutboxRow row;
  row.id = s.Int(0);
  row.key = s.Text(1);
  row.job.action = s.Text(2) == JobActionName(JobAction::kSetParticipantAttributes)
                       ? JobAction::kSetParticipantAttributes
                       : JobAction::kAddParticipant;
  row.job.conversation_sid = s.Text(3);
  row.job.identity = s.Text(4);
  row.job.participant_sid = s.Text(5);
  row.job.attributes_json = s.Text(6);
  row.state = s.Text(7);
  row.attempts = s.Int(8);
  row.next_attempt_at = s.Int(9);
  row.lease_owner = s.Text(10);
  row.lease_until = s.Int(11);
  row.created_at = s.Int(12);
  row.updated_at = s.Int(13);
  row.last_error = s.Text(14);
  return row;
}


void SetError(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

// Records ?1 → (?2 customer, ?3 proxy) at ?4 in the conversation map; unchanged rows are not
// rewritten (a retried webhook costs no page write), and a '' proxy keeps a known one.
constexpr const char* kMapSql =
    "INSERT INTO conversations (conversation_sid, customer, proxy, created_at, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (conversation_sid) DO UPDATE SET customer ="
    " excluded.customer, proxy = CASE WHEN excluded.proxy = '' THEN proxy ELSE excluded.proxy"
    " END, updated_at = excluded.updated_at WHERE customer <> excluded.customer OR"
    " (excluded.proxy <> '' AND proxy <> excluded.proxy)";

// The event store's own schema, versioned by PRAGMA user_version of its file. Append only:
// entry i brings the schema from version i to version i + 1.
constexpr const char* kMigrations[] = {
    // 1: the outbox, with the columns the directory file's old table had (directory/schema.h,
    // migration 2), so jobs move over unchanged.
    R"sql(
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  action TEXT NOT NULL,
  conversation_sid TEXT NOT NULL,
  identity TEXT NOT NULL DEFAULT '',
  participant_sid TEXT NOT NULL DEFAULT '',
  attributes_json TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox(next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_failed ON outbox(id) WHERE state = 'failed';
)sql",
    // 2: finds the done jobs past the retention without reading the others.
    "CREATE INDEX outbox_done ON outbox(updated_at, id) WHERE state = 'done';",
    // 3: SPEC §11, events/optout_store.h: which customer and proxy each conversation has, and
    // the opt-out state of customer addresses (proxy '' = every proxy; an opted-in row is an
    // exception under an every-proxy opt-out). Addresses normalised (SPEC §5); times unix ms.
    R"sql(
CREATE TABLE conversations (
  conversation_sid TEXT PRIMARY KEY,
  customer TEXT NOT NULL,
  proxy TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE opt_outs (
  address TEXT NOT NULL,
  proxy TEXT NOT NULL,
  opted_out INTEGER NOT NULL CHECK (opted_out IN (0, 1) AND (opted_out = 1 OR proxy <> '')),
  reason TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (address, proxy)
) WITHOUT ROWID;
)sql",
};
constexpr int kLatestVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

bool MigrateStore(sqlite3* db, std::string* error) {
  if (db::UserVersion(db) == kLatestVersion) return true;  // no write lock needed
  db::Transaction txn(db, error);
  if (!txn.ok()) return false;
  // Another process may have migrated while we waited for the lock.
  const int version = db::UserVersion(db);
  if (version < 0 || version > kLatestVersion) {
    SetError(error, version < 0 ? db::Error(db, "outbox schema version")
                                : "outbox schema version " + std::to_string(version) +
                                      " is newer than this build supports");
    return false;
  }
  std::string detail;
  for (int v = version; v < kLatestVersion; ++v) {
    if (!db::Exec(db, kMigrations[v], &detail)) {
      SetError(error, "outbox migrate: " + detail);
      return false;
    }
  }
  const std::string set = "PRAGMA user_version=" + std::to_string(kLatestVersion);
  if (!db::Exec(db, set.c_str(), &detail)) {
    SetError(error, "outbox migrate: " + detail);
    return false;
  }
  return txn.Commit(error);
}

// Moves the jobs of the directory file's old outbox table (directory/schema.h, migration 2)
// into the store: attaches the directory, copies every row whose key the store lacks and empties
// the old table, in one transaction. A WAL transaction over two files is atomic per file, not
// across them: after a crash between the two commits the rows are in both, and the next start
// copies nothing twice (INSERT OR IGNORE by key) and empties the old table then. Ids are
// renumbered (the store may hold jobs of its own). Nothing is written to the directory when its
// old table is empty, so this costs one read per start.
bool MoveLegacyJobs(sqlite3* db, const std::string& directory_path, std::string* error) {
  if (directory_path.empty() || ::access(directory_path.c_str(), F_OK) != 0) return true;
  db::Statement attach(db, "ATTACH DATABASE ?1 AS legacy", error);
  if (!attach.ok()) return false;
  attach.Bind(1, directory_path);
  if (!attach.Run("attach " + directory_path, error)) return false;
  // One number from `sql`, the statement finished before anything else runs; -1 on error.
  auto count = [db, error](const char* sql) -> int64_t {
    db::Statement s(db, sql, error);
    if (!s.ok()) return -1;
    if (s.Step() != SQLITE_ROW) {
      SetError(error, db::Error(db, "read the directory's outbox"));
      return -1;
    }
    return s.Int(0);
  };
  bool ok = false;
  const int64_t has_table =
      count("SELECT count(*) FROM legacy.sqlite_master WHERE type = 'table' AND name = 'outbox'");
  const int64_t has_rows =
      has_table == 1 ? count("SELECT EXISTS (SELECT 1 FROM legacy.outbox)") : has_table;
  if (has_rows == 0) {
    ok = true;
  } else if (has_rows == 1) {
    db::Transaction txn(db, error);
    std::string detail;
    ok = txn.ok() &&
         db::Exec(db,
                  "INSERT OR IGNORE INTO main.outbox (key, action, conversation_sid, identity, "
                  "participant_sid, attributes_json, state, attempts, next_attempt_at, "
                  "lease_owner, lease_until, created_at, updated_at, last_error) SELECT key, "
                  "action, conversation_sid, identity, participant_sid, attributes_json, state, "
                  "attempts, next_attempt_at, NULL, NULL, created_at, updated_at, last_error "
                  "FROM legacy.outbox ORDER BY id;"
                  "DELETE FROM legacy.outbox;",
                  &detail);
    if (!ok && txn.ok()) SetError(error, "move the directory's outbox jobs: " + detail);
    ok = ok && txn.Commit(error);
  }
  (void)db::Exec(db, "DETACH DATABASE legacy", nullptr);
  return ok;
}

// The job stored under `key`; false with `error` set when there is none or on an error.
bool ReadJob(sqlite3* db, const std::string& key, OutboxJob* job, std::string* error) {
  db::Statement select(db,
                       "SELECT action, conversation_sid, identity, participant_sid, "
                       "attributes_json FROM outbox WHERE key = ?1",
                       error);
  if (!select.ok()) return false;
  select.Bind(1, key);
  if (select.Step() != SQLITE_ROW) {
    SetError(error, db::Error(db, "outbox read " + key));
    return false;
  }
  job->action = select.Text(0) == JobActionName(JobAction::kSetParticipantAttributes)
                    ? JobAction::kSetParticipantAttributes
                    : JobAction::kAddParticipant;
  job->conversation_sid = select.Text(1);
  job->identity = select.Text(2);
  job->participant_sid = select.Text(3);
  job->attributes_json = select.Text(4);
  return true;
}

sqlite3* OpenMigrated(const std::string& path, const std::string& legacy_directory,
                      std::string* error) {
  db::OpenOptions open_options;
  // Every commit fsync'd: a job is durable, across power loss too, before the webhook is
  // answered (SPEC §6).
  open_options.synchronous = db::Synchronous::kFull;
  sqlite3* db = db::Open(path, open_options, error);
  if (db == nullptr) return nullptr;
  if (!MigrateStore(db, error) || !MoveLegacyJobs(db, legacy_directory, error)) {
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

}  // namespace

std::unique_ptr<SqliteEventStore> SqliteEventStore::Open(const std::string& path,
                                                         OutboxOptions options,
                                                         std::string* error) {
  sqlite3* db = OpenMigrated(path, options.legacy_directory, error);
  if (db == nullptr) return nullptr;
  // Start-up may wait the default 5 s for another process's migration; a webhook's Enqueue
  // waits at most the configured bound.
  db::SetBusyTimeout(db, options.busy_timeout_ms);
  return std::unique_ptr<SqliteEventStore>(new SqliteEventStore(path, db, std::move(options)));
}

SqliteEventStore::SqliteEventStore(std::string path, sqlite3* db, OutboxOptions options)
    : options_(std::move(options)),
      path_(std::move(path)),
      enqueue_db_(db),
      enqueues_([this](const std::vector<PendingEnqueue*>& batch) { CommitEnqueues(batch); }),
      claims_([this](const std::vector<PendingClaim*>& batch) { CommitClaims(batch); }),
      finishes_([this](const std::vector<PendingFinish*>& batch) { CommitFinishes(batch); }),
      rng_(std::random_device{}()) {
  if (!options_.now_ms) options_.now_ms = SystemUnixMs;
  if (options_.owner.empty()) options_.owner = DefaultLeaseOwner(rng_());
}

SqliteEventStore::~SqliteEventStore() {
  sqlite3_close(enqueue_db_);
  for (sqlite3* db : idle_) sqlite3_close(db);
}

sqlite3* SqliteEventStore::Borrow(std::string* error) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_.empty()) {
      sqlite3* db = idle_.back();
      idle_.pop_back();
      return db;
    }
  }
  // Claims, outcomes and counts: synchronous=NORMAL is enough, since losing one of them to a
  // power cut only repeats a delivery (harmless: 409 is done), and the next FULL commit of an
  // Enqueue syncs the WAL with them. Opened outside the pool's lock.
  db::OpenOptions open_options;
  open_options.busy_timeout_ms = options_.busy_timeout_ms;
  open_options.create = false;
  return db::Open(path_, open_options, error);
}

void SqliteEventStore::Return(sqlite3* db) {
  if (db == nullptr) return;
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_.push_back(db);
}

void SqliteEventStore::SetEnqueueListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

EnqueueResult SqliteEventStore::Enqueue(const OutboxJob& job, OutboxJob* stored_job,
                                        std::string* error) {
  if (job.conversation_sid.empty()) {
    SetError(error, "outbox: job without a ConversationSid");
    return EnqueueResult::kError;
  }
  // Group commit: the jobs of concurrent calls share one fsync'd transaction (CommitEnqueues).
  // A call gives up with an error when its job has waited enqueue_timeout_ms without being
  // taken; a taken job's wait is bounded by the leader's busy timeout and one commit.
  PendingEnqueue pending;
  pending.job = &job;
  pending.stored = stored_job;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.enqueue_timeout_ms);
  if (!enqueues_.Submit(&pending, deadline)) {
    SetError(error, "outbox: not stored within " + std::to_string(options_.enqueue_timeout_ms) +
                        " ms (the database is busy)");
    return EnqueueResult::kError;
  }
  if (pending.result == EnqueueResult::kError) {
    SetError(error, pending.error);
    return EnqueueResult::kError;
  }
  if (pending.result == EnqueueResult::kDuplicate) return EnqueueResult::kDuplicate;
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_) listener_();
  return EnqueueResult::kEnqueued;
}

void SqliteEventStore::CommitEnqueues(const std::vector<PendingEnqueue*>& batch) {
  if (options_.on_batch_start) options_.on_batch_start(batch.size());
  // Only the batch's leader uses enqueue_db_.
  sqlite3* db = enqueue_db_;
  std::string error;
  auto fail_all = [&batch, &error] {
    for (PendingEnqueue* p : batch) {
      p->result = EnqueueResult::kError;
      p->error = error;
    }
  };
  const int64_t now = options_.now_ms();
  db::Transaction txn(db, &error);
  if (!txn.ok()) return fail_all();
  db::Statement insert(db,
                       "INSERT OR IGNORE INTO outbox (key, action, conversation_sid, identity, "
                       "participant_sid, attributes_json, state, attempts, next_attempt_at, "
                       "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, "
                       "?7, ?7, ?7)",
                       &error);
  if (!insert.ok()) return fail_all();
  db::Statement map;  // prepared when the batch has a map entry
  auto record_map = [&](const std::string& sid, const std::string& customer,
                        const std::string& proxy) {
    if (!map.ok()) {
      map = db::Statement(db, kMapSql, &error);
      if (!map.ok()) return false;
    }
    map.Reset();
    map.Bind(1, sid);
    map.Bind(2, customer);
    map.Bind(3, proxy);
    map.Bind(4, now);
    return map.Run("conversation map", &error);
  };
  for (PendingEnqueue* p : batch) {
    if (p->job == nullptr) {  // MapConversation
      if (!record_map(*p->map_sid, *p->map_customer, *p->map_proxy)) return fail_all();
      p->result = EnqueueResult::kEnqueued;
      continue;
    }
    const OutboxJob& job = *p->job;
    if (!job.map_customer.empty() &&
        !record_map(job.conversation_sid, job.map_customer, job.map_proxy)) {
      return fail_all();
    }
    insert.Reset();
    insert.Bind(1, OutboxKey(job));
    insert.Bind(2, JobActionName(job.action));
    insert.Bind(3, job.conversation_sid);
    insert.Bind(4, job.identity);
    insert.Bind(5, job.participant_sid);
    insert.Bind(6, job.attributes_json);
    insert.Bind(7, now);
    // One failure fails the batch: SQLite may have rolled the transaction back already.
    if (!insert.Run("outbox insert", &error)) return fail_all();
    // A duplicate of a job earlier in this batch reads that job: same connection.
    if (sqlite3_changes(db) == 1) {
      p->result = EnqueueResult::kEnqueued;
    } else {
      p->result = EnqueueResult::kDuplicate;
      if (p->stored != nullptr && !ReadJob(db, OutboxKey(job), p->stored, &error)) {
        return fail_all();
      }
    }
  }
  if (!txn.Commit(&error)) return fail_all();
  commits_.fetch_add(1, std::memory_order_relaxed);
}

int64_t SqliteEventStore::PurgeDone(int64_t limit, std::string* error) {
  Connection conn(this, error);
  if (!conn) return -1;
  sqlite3* db = conn.get();
  db::Statement purge(db,
                      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = "
                      "'done' AND updated_at < ?1 ORDER BY updated_at, id LIMIT ?2)",
                      error);
  if (!purge.ok()) return -1;
  purge.Bind(1, options_.now_ms() - options_.retention_ms);
  purge.Bind(2, limit);
  if (!purge.Run("outbox purge", error)) return -1;
  return sqlite3_changes(db);
}

size_t SqliteEventStore::queued_enqueues() { return enqueues_.queued(); }

std::optional<OutboxRow> SqliteEventStore::Claim(std::string* error,
                                                 std::optional<int64_t> due_by) {
  {
    // A read first, outside any write transaction: idle workers looking for work then never
    // take the write lock.
    Connection conn(this, error);
    if (!conn) return std::nullopt;
    const int64_t now = options_.now_ms();
    db::Statement peek(conn.get(),
                       "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' AND "
                       "next_attempt_at <= ?2 AND (lease_until IS NULL OR lease_until < ?1))",
                       error);
    if (!peek.ok()) return std::nullopt;
    peek.Bind(1, now);
    peek.Bind(2, due_by ? std::min(now, *due_by) : now);
    if (peek.Step() != SQLITE_ROW) {
      SetError(error, db::Error(conn.get(), "outbox claim"));
      return std::nullopt;
    }
    if (peek.Int(0) == 0) return std::nullopt;
  }
  PendingClaim pending;
  pending.due_by = due_by;
  claims_.Submit(&pending);
  if (!pending.error.empty()) SetError(error, pending.error);
  return std::move(pending.row);
}

const std::string& SqliteEventStore::ClaimSql() {
  // In the order of the outbox_pending index (due time, then id), so SQLite reads that index
  // and nothing else. With ORDER BY id it chose to walk the whole table in id order to skip
  // the sort once there were thousands of pending rows, and kept doing so: every claim then
  // read every done job (7 days of them), and routing fell from 1 800 to 600 webhooks/s after
  // 20 000 jobs in ceiling_bench.
  static const std::string sql = std::string("SELECT ") + kRowColumns +
                                 " FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2"
                                 " AND (lease_until IS NULL OR lease_until < ?1)"
                                 " ORDER BY next_attempt_at, id LIMIT ?3";
  return sql;
}

void SqliteEventStore::CommitClaims(const std::vector<PendingClaim*>& batch) {
  std::string error;
  auto fail_all = [&batch, &error] {
    for (PendingClaim* p : batch) {
      p->row.reset();
      p->error = error;
    }
  };
  Connection conn(this, &error);
  if (!conn) return fail_all();
  sqlite3* db = conn.get();
  const int64_t now = options_.now_ms();
  // The earliest due time asked for: no caller gets a job due later than it wanted.
  int64_t due = now;
  for (const PendingClaim* p : batch) {
    if (p->due_by) due = std::min(due, *p->due_by);
  }
  db::Transaction txn(db, &error);
  if (!txn.ok()) return fail_all();
  db::Statement select(db, ClaimSql(), &error);
  db::Statement update(db, "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 WHERE id = ?3",
                       &error);
  if (!select.ok() || !update.ok()) return fail_all();
  select.Bind(1, now);
  select.Bind(2, due);
  select.Bind(3, static_cast<int64_t>(batch.size()));
  size_t next = 0;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    OutboxRow row = ReadRow(select);
    row.lease_owner = options_.owner;
    row.lease_until = now + options_.lease_ms;
    batch[next++]->row = std::move(row);
  }
  if (rc != SQLITE_DONE) {
    error = db::Error(db, "outbox claim");
    return fail_all();
  }
  select.Reset();
  for (size_t i = 0; i < next; ++i) {
    const OutboxRow& row = *batch[i]->row;
    update.Reset();
    update.Bind(1, row.lease_owner);
    update.Bind(2, row.lease_until);
    update.Bind(3, row.id);
    if (!update.Run("outbox lease", &error)) return fail_all();
  }
  if (next == 0) {
    (void)txn.Commit(nullptr);
    return;
  }
  if (!txn.Commit(&error)) return fail_all();
}

int64_t SqliteEventStore::Backoff(int64_t attempts, std::optional<long> retry_after_seconds) {
  std::lock_guard<std::mutex> lock(rng_mu_);
  return BackoffDelay(options_, attempts, retry_after_seconds, rng_);
}

bool SqliteEventStore::Finish(const OutboxRow& row, const Delivery& delivery, std::string* error) {
  PendingFinish pending;
  pending.row = &row;
  pending.delivery = &delivery;
  finishes_.Submit(&pending);
  if (!pending.ok) SetError(error, pending.error);
  return pending.ok;
}

void SqliteEventStore::CommitFinishes(const std::vector<PendingFinish*>& batch) {
  std::string error;
  auto fail_all = [&batch, &error] {
    for (PendingFinish* p : batch) {
      p->ok = false;
      p->error = error;
    }
  };
  Connection conn(this, &error);
  if (!conn) return fail_all();
  sqlite3* db = conn.get();
  const int64_t now = options_.now_ms();
  db::Transaction txn(db, &error);
  if (!txn.ok()) return fail_all();
  db::Statement update(db,
                       "UPDATE outbox SET state = ?1, attempts = attempts + ?2,"
                       " next_attempt_at = ?3, last_error = ?4, lease_owner = NULL,"
                       " lease_until = NULL, updated_at = ?5"
                       " WHERE id = ?6 AND lease_owner = ?7 AND state = 'pending'",
                       &error);
  if (!update.ok()) return fail_all();
  for (PendingFinish* p : batch) {
    const OutboxRow& row = *p->row;
    FinishPlan plan;
    {
      std::lock_guard<std::mutex> lock(rng_mu_);
      plan = PlanFinish(options_, row, *p->delivery, now, rng_);
    }
    update.Reset();
    update.Bind(1, plan.state);
    update.Bind(2, plan.attempts_add);
    update.Bind(3, plan.next_attempt_at);
    update.Bind(4, plan.last_error);
    update.Bind(5, now);
    update.Bind(6, row.id);
    update.Bind(7, options_.owner);
    // One failing statement fails the batch: SQLite may have rolled the transaction back.
    if (!update.Run("outbox finish", &error)) return fail_all();
    p->ok = sqlite3_changes(db) == 1;
    if (!p->ok) p->error = "outbox job " + std::to_string(row.id) + ": lease lost before recording";
  }
  if (!txn.Commit(&error)) return fail_all();
}

bool SqliteEventStore::ReleaseLeases(std::string* error) {
  Connection conn(this, error);
  if (!conn) return false;
  sqlite3* db = conn.get();
  db::Statement update(db,
                       "UPDATE outbox SET lease_owner = NULL, lease_until = NULL"
                       " WHERE lease_owner = ?1 AND state = 'pending'",
                       error);
  if (!update.ok()) return false;
  update.Bind(1, options_.owner);
  return update.Run("outbox release", error);
}

OutboxCounts SqliteEventStore::Counts(std::string* error) {
  OutboxCounts counts;
  Connection conn(this, error);
  if (!conn) return counts;
  sqlite3* db = conn.get();
  const int64_t now = options_.now_ms();
  // Over the partial indexes: done rows are never read (pending ones are, for created_at;
  // there are few while delivery works).
  db::Statement select(db,
                       "SELECT count(*), min(created_at),"
                       " (SELECT count(*) FROM outbox WHERE state = 'failed')"
                       " FROM outbox WHERE state = 'pending'",
                       error);
  if (!select.ok()) return counts;
  if (select.Step() != SQLITE_ROW) {
    SetError(error, db::Error(db, "outbox counts"));
    return counts;
  }
  counts.pending = select.Int(0);
  if (!select.IsNull(1)) {
    counts.oldest_pending_age_ms = std::max<int64_t>(0, now - select.Int(1));
  }
  counts.failed = select.Int(2);
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Opt-outs and the conversation map

namespace {

// (?1 address, ?2 proxy) opted out, with ?3 reason at ?4 now.
constexpr const char* kOptOutUpsert =
    "INSERT INTO opt_outs (address, proxy, opted_out, reason, updated_at) VALUES (?1, ?2, 1, ?3,"
    " ?4) ON CONFLICT (address, proxy) DO UPDATE SET opted_out = 1, reason = excluded.reason,"
    " updated_at = excluded.updated_at";

// The row a statement selecting (address, proxy, opted_out, reason, updated_at) stands on.
OptOutRow ReadOptOutRow(db::Statement& select) {
  OptOutRow row;
  row.address = select.Text(0);
  row.proxy = select.Text(1);
  row.opted_out = select.Int(2) == 1;
  row.reason = select.Text(3);
  row.updated_at = select.Int(4);
  return row;
}

}  // namespace

bool SqliteEventStore::MapConversation(const std::string& conversation_sid,
                                       const std::string& customer, const std::string& proxy,
                                       std::string* error) {
  if (conversation_sid.empty() || customer.empty()) {
    SetError(error, "conversation map: no ConversationSid or customer address");
    return false;
  }
  // In Enqueue's batches: one writer for every webhook write, so they never wait for each
  // other's locks, and the entry is fsync'd with them.
  PendingEnqueue pending;
  pending.map_sid = &conversation_sid;
  pending.map_customer = &customer;
  pending.map_proxy = &proxy;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.enqueue_timeout_ms);
  if (!enqueues_.Submit(&pending, deadline)) {
    SetError(error, "conversation map: not stored within " +
                        std::to_string(options_.enqueue_timeout_ms) + " ms (the database is busy)");
    return false;
  }
  if (pending.result == EnqueueResult::kError) {
    SetError(error, pending.error);
    return false;
  }
  return true;
}

Lookup<ConversationState> SqliteEventStore::FindConversation(const std::string& conversation_sid) {
  std::string error;
  Connection conn(this, &error);
  if (!conn) return Lookup<ConversationState>::Unavailable(error);
  // The row that decides (the proxy's own before the every-proxy one) in the same read.
  db::Statement select(conn.get(),
                       "SELECT c.customer, c.proxy, (SELECT o.opted_out FROM opt_outs o WHERE"
                       " o.address = c.customer AND o.proxy IN (c.proxy, '') ORDER BY"
                       " o.proxy = '' LIMIT 1) FROM conversations c WHERE c.conversation_sid = ?1",
                       &error);
  if (!select.ok()) return Lookup<ConversationState>::Unavailable(error);
  select.Bind(1, conversation_sid);
  const int rc = select.Step();
  if (rc == SQLITE_DONE) return Lookup<ConversationState>::Absent();
  if (rc != SQLITE_ROW) {
    return Lookup<ConversationState>::Unavailable(db::Error(conn.get(), "conversation map"));
  }
  ConversationState state;
  state.customer = select.Text(0);
  state.proxy = select.Text(1);
  state.opted_out = !select.IsNull(2) && select.Int(2) == 1;
  return Lookup<ConversationState>::Found(std::move(state));
}

Lookup<OptOutRow> SqliteEventStore::FindOptOut(const std::string& address,
                                               const std::string& proxy) {
  std::string error;
  Connection conn(this, &error);
  if (!conn) return Lookup<OptOutRow>::Unavailable(error);
  db::Statement select(conn.get(),
                       "SELECT address, proxy, opted_out, reason, updated_at FROM opt_outs WHERE"
                       " address = ?1 AND proxy IN (?2, '') ORDER BY proxy = '' LIMIT 1",
                       &error);
  if (!select.ok()) return Lookup<OptOutRow>::Unavailable(error);
  select.Bind(1, address);
  select.Bind(2, proxy);
  const int rc = select.Step();
  if (rc == SQLITE_DONE) return Lookup<OptOutRow>::Absent();
  if (rc != SQLITE_ROW) return Lookup<OptOutRow>::Unavailable(db::Error(conn.get(), "opt-outs"));
  OptOutRow row = ReadOptOutRow(select);
  if (!row.opted_out) return Lookup<OptOutRow>::Absent();  // opted in again on this proxy
  return Lookup<OptOutRow>::Found(std::move(row));
}

bool SqliteEventStore::SetOptOut(const std::string& address, const std::string& proxy,
                                 bool opted_out, const std::string& reason, std::string* error) {
  if (address.empty()) {
    SetError(error, "opt-outs: no address");
    return false;
  }
  Connection conn(this, error);
  if (!conn) return false;
  sqlite3* db = conn.get();
  // A customer's STOP must survive a power cut like a job does: this commit is fsync'd. The
  // pooled connection goes back to NORMAL after it (should that fail, it only stays slower).
  if (!db::Exec(db, "PRAGMA synchronous=FULL", error)) return false;
  bool ok = false;
  {
    db::Transaction txn(db, error);
    if (txn.ok()) {
      const int64_t now = options_.now_ms();
      // The statements for this case, in order: ?1 address, ?2 proxy, ?3 reason, ?4 now.
      std::vector<const char*> sql;
      if (proxy.empty() && opted_out) {
        sql = {"DELETE FROM opt_outs WHERE address = ?1 AND proxy <> ''", kOptOutUpsert};
      } else if (proxy.empty()) {
        sql = {"DELETE FROM opt_outs WHERE address = ?1"};
      } else if (opted_out) {
        sql = {kOptOutUpsert};
      } else {
        // An exception where an every-proxy opt-out exists, else nothing left for the proxy.
        sql = {"DELETE FROM opt_outs WHERE address = ?1 AND proxy = ?2 AND NOT EXISTS (SELECT 1"
               " FROM opt_outs WHERE address = ?1 AND proxy = '')",
               "INSERT INTO opt_outs (address, proxy, opted_out, reason, updated_at) SELECT ?1, ?2,"
               " 0, ?3, ?4 WHERE EXISTS (SELECT 1 FROM opt_outs WHERE address = ?1 AND proxy = '')"
               " ON CONFLICT (address, proxy) DO UPDATE SET opted_out = 0, reason ="
               " excluded.reason, updated_at = excluded.updated_at"};
      }
      ok = true;
      for (const char* text : sql) {
        db::Statement statement(db, text, error);
        if (!statement.ok()) {
          ok = false;
          break;
        }
        const int count = sqlite3_bind_parameter_count(statement.get());
        statement.Bind(1, address);
        if (count >= 2) statement.Bind(2, proxy);
        if (count >= 3) statement.Bind(3, reason);
        if (count >= 4) statement.Bind(4, now);
        if (!statement.Run("opt-outs", error)) {
          ok = false;
          break;
        }
      }
      ok = ok && txn.Commit(error);
    }
  }
  (void)db::Exec(db, "PRAGMA synchronous=NORMAL", nullptr);
  return ok;
}

bool SqliteEventStore::ListOptOuts(std::vector<OptOutRow>* rows, std::string* error) {
  Connection conn(this, error);
  if (!conn) return false;
  db::Statement select(conn.get(),
                       "SELECT address, proxy, opted_out, reason, updated_at FROM opt_outs"
                       " ORDER BY address, proxy",
                       error);
  if (!select.ok()) return false;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    rows->push_back(ReadOptOutRow(select));
  }
  if (rc != SQLITE_DONE) {
    SetError(error, db::Error(conn.get(), "opt-outs list"));
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Operator functions

bool ListJobs(const std::string& path, const std::string& legacy_directory, bool include_done,
              std::vector<OutboxRow>* rows, std::string* error) {
  sqlite3* db = OpenMigrated(path, legacy_directory, error);
  if (db == nullptr) return false;
  bool ok = false;
  {
    std::string sql = std::string("SELECT ") + kRowColumns + " FROM outbox";
    if (!include_done) sql += " WHERE state IN ('pending', 'failed')";
    sql += " ORDER BY id";
    db::Statement select(db, sql, error);
    if (select.ok()) {
      int rc;
      while ((rc = select.Step()) == SQLITE_ROW) rows->push_back(ReadRow(select));
      ok = rc == SQLITE_DONE;
      if (!ok) SetError(error, db::Error(db, "outbox list"));
    }
  }
  sqlite3_close(db);
  return ok;
}

bool RetryJob(const std::string& path, const std::string& legacy_directory, int64_t id,
              std::string* error) {
  sqlite3* db = OpenMigrated(path, legacy_directory, error);
  if (db == nullptr) return false;
  bool ok = false;
  {
    db::Statement update(db,
                         "UPDATE outbox SET state = 'pending', next_attempt_at = ?1,"
                         " lease_owner = NULL, lease_until = NULL, updated_at = ?1"
                         " WHERE id = ?2 AND state = 'failed'",
                         error);
    if (update.ok()) {
      update.Bind(1, SystemUnixMs());
      update.Bind(2, id);
      if (!update.Run("outbox retry", error)) {
      } else if (sqlite3_changes(db) != 1) {
        SetError(error, "no failed outbox job with id " + std::to_string(id));
      } else {
        ok = true;
      }
    }
  }
  sqlite3_close(db);
  return ok;
}

std::string FormatUtc(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  char out[32];
  if (gmtime_r(&seconds, &tm) == nullptr ||
      std::strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(unix_ms) + " ms";
  }
  return out;
}

std::string FormatOutboxRow(const OutboxRow& row) {
  std::string out = std::to_string(row.id) + "\t" + row.state + "\t" + row.key +
                    "\tattempts=" + std::to_string(row.attempts) +
                    "\tcreated=" + FormatUtc(row.created_at);
  if (row.state == "pending") out += "\tnext=" + FormatUtc(row.next_attempt_at);
  if (row.updated_at != row.created_at) out += "\tupdated=" + FormatUtc(row.updated_at);
  if (!row.lease_owner.empty()) {
    out += "\tlease=" + row.lease_owner + " until " + FormatUtc(row.lease_until);
  }
  if (!row.last_error.empty()) out += "\terror=" + row.last_error;
  return out;
}

}  // namespace frontline
