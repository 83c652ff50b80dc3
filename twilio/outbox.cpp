#include "twilio/outbox.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <utility>

#include "directory/schema.h"
#include "directory/sqlite_util.h"

namespace frontline {
namespace {

constexpr const char* kAddAction = "add_participant";
constexpr const char* kAttrsAction = "set_participant_attributes";

constexpr const char* kRowColumns =
    "id, key, action, conversation_sid, identity, participant_sid, attributes_json, state, "
    "attempts, next_attempt_at, lease_owner, lease_until, created_at, updated_at, last_error";

OutboxRow ReadRow(sqlite3_stmt* stmt) {
  OutboxRow row;
  row.id = sqlite3_column_int64(stmt, 0);
  row.key = ColumnText(stmt, 1);
  row.job.action = ColumnText(stmt, 2) == kAttrsAction ? JobAction::kSetParticipantAttributes
                                                       : JobAction::kAddParticipant;
  row.job.conversation_sid = ColumnText(stmt, 3);
  row.job.identity = ColumnText(stmt, 4);
  row.job.participant_sid = ColumnText(stmt, 5);
  row.job.attributes_json = ColumnText(stmt, 6);
  row.state = ColumnText(stmt, 7);
  row.attempts = sqlite3_column_int64(stmt, 8);
  row.next_attempt_at = sqlite3_column_int64(stmt, 9);
  row.lease_owner = ColumnText(stmt, 10);
  row.lease_until = sqlite3_column_int64(stmt, 11);
  row.created_at = sqlite3_column_int64(stmt, 12);
  row.updated_at = sqlite3_column_int64(stmt, 13);
  row.last_error = ColumnText(stmt, 14);
  return row;
}

// A statement finalized at scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, std::string* error) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
      if (error != nullptr) *error = SqliteError(db, "prepare");
      sqlite3_finalize(stmt_);
      stmt_ = nullptr;
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction; ROLLBACK at scope exit unless Commit() succeeded.
class ImmediateTransaction {
 public:
  ImmediateTransaction(sqlite3* db, std::string* error) : db_(db) {
    std::string detail;
    active_ = ExecSql(db_, "BEGIN IMMEDIATE", &detail);
    if (!active_ && error != nullptr) *error = "begin: " + detail;
  }
  ~ImmediateTransaction() {
    if (active_) ExecSql(db_, "ROLLBACK", nullptr);
  }
  ImmediateTransaction(const ImmediateTransaction&) = delete;
  ImmediateTransaction& operator=(const ImmediateTransaction&) = delete;
  bool ok() const { return active_; }
  bool Commit(std::string* error) {
    std::string detail;
    if (!ExecSql(db_, "COMMIT", &detail)) {
      if (error != nullptr) *error = "commit: " + detail;
      return false;  // the destructor rolls back
    }
    active_ = false;
    return true;
  }

 private:
  sqlite3* db_;
  bool active_ = false;
};

std::string DefaultOwner(uint64_t random) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  char out[320];
  std::snprintf(out, sizeof(out), "%s:%ld:%08" PRIx32, host, static_cast<long>(::getpid()),
                static_cast<uint32_t>(random));
  return out;
}

void SetError(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

sqlite3* OpenMigrated(const std::string& path, std::string* error) {
  sqlite3* db = OpenConnection(path, error);
  if (db == nullptr) return nullptr;
  if (!Migrate(db, error)) {
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

}  // namespace

std::string OutboxKey(const OutboxJob& job) {
  switch (job.action) {
    case JobAction::kAddParticipant:
      return "add:" + job.conversation_sid;
    case JobAction::kSetParticipantAttributes:
      return "attrs:" + job.conversation_sid + ":" + job.participant_sid;
  }
  return std::string();
}

const char* JobActionName(JobAction action) {
  return action == JobAction::kSetParticipantAttributes ? kAttrsAction : kAddAction;
}

int64_t SystemUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool MergeAttributes(std::string_view existing, std::string_view additions, std::string* merged,
                     bool* changed, std::string* error) {
  // Iterative parsing and no re-serialisation of `existing`: the participant's attributes come
  // from Twilio (up to the REST client's 1 MiB), and both RapidJSON's recursive parser and its
  // recursive Accept would overflow the stack on deeply nested input. `existing` is kept byte
  // for byte instead, with the new members spliced in before its closing brace.
  rapidjson::Document add;
  add.Parse<rapidjson::kParseIterativeFlag>(additions.data(), additions.size());
  if (add.HasParseError() || !add.IsObject()) {
    SetError(error, "job attributes are not a JSON object");
    return false;
  }
  // RapidJSON stops at a NUL byte; so does the text kept.
  existing = existing.substr(0, existing.find('\0'));
  rapidjson::Document doc;
  if (existing.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    existing = "{}";
  }
  doc.Parse<rapidjson::kParseIterativeFlag>(existing.data(), existing.size());
  // Someone else's attributes that we cannot merge into: replacing them with an object of our
  // keys would destroy them.
  if (doc.HasParseError() || !doc.IsObject()) {
    SetError(error, doc.HasParseError()
                        ? "participant attributes are not valid JSON: left unchanged"
                        : "participant attributes are not a JSON object: left unchanged");
    return false;
  }

  // The members to add, as an object of their own ("{...}"), written from our own shallow JSON.
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  *changed = false;
  for (const auto& member : add.GetObject()) {
    if (doc.HasMember(member.name)) continue;
    member.name.Accept(writer);
    member.value.Accept(writer);
    *changed = true;
  }
  writer.EndObject();
  const std::string_view added(buffer.GetString(), buffer.GetSize());
  // A parsed object ends in '}' followed by nothing but JSON whitespace.
  size_t close = existing.find_last_not_of(" \t\r\n");
  merged->assign(existing.substr(0, close));
  if (*changed) {
    if (doc.MemberCount() > 0) merged->push_back(',');
    merged->append(added.substr(1, added.size() - 2));
  }
  merged->push_back('}');
  return true;
}

namespace {

Delivery FromResult(const RestResult& result, int calls) {
  Delivery d;
  d.outcome = Classify(result);
  d.description = DescribeResult(result);
  d.retry_after_seconds = result.retry_after_seconds;
  d.calls = calls;
  return d;
}

}  // namespace

Delivery DeliverJob(const OutboxJob& job, RestClient* client) {
  if (job.action == JobAction::kAddParticipant) {
    return FromResult(client->AddParticipant(job.conversation_sid, job.identity), 1);
  }
  rapidjson::Document check;
  check.Parse<rapidjson::kParseIterativeFlag>(job.attributes_json.data(),
                                              job.attributes_json.size());
  if (check.HasParseError() || !check.IsObject()) {
    Delivery d;
    d.outcome = Outcome::kFailed;
    d.description = "job attributes are not a JSON object";
    return d;
  }
  RestResult fetched = client->FetchParticipant(job.conversation_sid, job.participant_sid);
  if (Classify(fetched) != Outcome::kDone || fetched.http_status < 200 ||
      fetched.http_status > 299) {
    Delivery d = FromResult(fetched, 1);
    // A "done" classification of a non-2xx fetch (409) gives nothing to merge into.
    if (d.outcome == Outcome::kDone) d.outcome = Outcome::kFailed;
    d.description = "fetch participant: " + d.description;
    return d;
  }
  if (!fetched.participant) {
    Delivery d;
    d.outcome = Outcome::kFailed;
    d.description = "fetch participant: the answer holds no participant";
    d.calls = 1;
    return d;
  }
  std::string merged;
  bool changed = false;
  std::string reason;
  if (!MergeAttributes(fetched.participant->attributes, job.attributes_json, &merged, &changed,
                       &reason)) {
    // Kept failed, for an operator to fix the participant and `outbox retry` the job.
    Delivery d;
    d.outcome = Outcome::kFailed;
    d.description = reason;
    d.calls = 1;
    return d;
  }
  if (!changed) {
    Delivery d;
    d.outcome = Outcome::kDone;
    d.description = "attributes already set: no update";
    d.calls = 1;
    return d;
  }
  Delivery d = FromResult(
      client->UpdateParticipantAttributes(job.conversation_sid, job.participant_sid, merged), 2);
  return d;
}

// ---------------------------------------------------------------------------------------------
// SqliteOutbox

std::unique_ptr<SqliteOutbox> SqliteOutbox::Open(const std::string& path, OutboxOptions options,
                                                 std::string* error) {
  sqlite3* db = OpenMigrated(path, error);
  if (db == nullptr) return nullptr;
  return std::unique_ptr<SqliteOutbox>(new SqliteOutbox(db, std::move(options)));
}

SqliteOutbox::SqliteOutbox(sqlite3* db, OutboxOptions options)
    : options_(std::move(options)), db_(db), rng_(std::random_device{}()) {
  if (!options_.now_ms) options_.now_ms = SystemUnixMs;
  if (options_.owner.empty()) options_.owner = DefaultOwner(rng_());
}

SqliteOutbox::~SqliteOutbox() { sqlite3_close(db_); }

void SqliteOutbox::SetEnqueueListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

EnqueueResult SqliteOutbox::Enqueue(const OutboxJob& job, std::string* error) {
  if (job.conversation_sid.empty()) {
    SetError(error, "outbox: job without a ConversationSid");
    return EnqueueResult::kError;
  }
  bool stored = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = options_.now_ms();
    ImmediateTransaction txn(db_, error);
    if (!txn.ok()) return EnqueueResult::kError;
    Statement insert(db_,
                     "INSERT OR IGNORE INTO outbox (key, action, conversation_sid, identity, "
                     "participant_sid, attributes_json, state, attempts, next_attempt_at, "
                     "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, "
                     "?7, ?7)",
                     error);
    if (!insert) return EnqueueResult::kError;
    sqlite3_stmt* s = insert.get();
    BindText(s, 1, OutboxKey(job));
    BindText(s, 2, JobActionName(job.action));
    BindText(s, 3, job.conversation_sid);
    BindText(s, 4, job.identity);
    BindText(s, 5, job.participant_sid);
    BindText(s, 6, job.attributes_json);
    BindInt(s, 7, now);
    if (sqlite3_step(s) != SQLITE_DONE) {
      SetError(error, SqliteError(db_, "outbox insert"));
      return EnqueueResult::kError;
    }
    stored = sqlite3_changes(db_) == 1;
    if (!txn.Commit(error)) return EnqueueResult::kError;
  }
  if (!stored) return EnqueueResult::kDuplicate;
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_) listener_();
  return EnqueueResult::kEnqueued;
}

std::optional<OutboxRow> SqliteOutbox::Claim(std::string* error, std::optional<int64_t> due_by) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = options_.now_ms();
  ImmediateTransaction txn(db_, error);
  if (!txn.ok()) return std::nullopt;
  Statement select(db_,
                   std::string("SELECT ") + kRowColumns +
                       " FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2"
                       " AND (lease_until IS NULL OR lease_until < ?1) ORDER BY id LIMIT 1",
                   error);
  if (!select) return std::nullopt;
  BindInt(select.get(), 1, now);
  BindInt(select.get(), 2, due_by ? std::min(now, *due_by) : now);
  int rc = sqlite3_step(select.get());
  if (rc == SQLITE_DONE) {
    txn.Commit(nullptr);
    return std::nullopt;
  }
  if (rc != SQLITE_ROW) {
    SetError(error, SqliteError(db_, "outbox claim"));
    return std::nullopt;
  }
  OutboxRow row = ReadRow(select.get());
  Statement update(db_, "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 WHERE id = ?3",
                   error);
  if (!update) return std::nullopt;
  row.lease_owner = options_.owner;
  row.lease_until = now + options_.lease_ms;
  BindText(update.get(), 1, row.lease_owner);
  BindInt(update.get(), 2, row.lease_until);
  BindInt(update.get(), 3, row.id);
  if (sqlite3_step(update.get()) != SQLITE_DONE) {
    SetError(error, SqliteError(db_, "outbox lease"));
    return std::nullopt;
  }
  if (!txn.Commit(error)) return std::nullopt;
  return row;
}

int64_t SqliteOutbox::Backoff(int64_t attempts, std::optional<long> retry_after_seconds) {
  int64_t delay = options_.initial_backoff_ms;
  for (int64_t i = 1; i < attempts && delay < options_.max_backoff_ms; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff_ms);
  // Equal jitter: spreads retries of many jobs that failed together, yet never waits less than
  // half the nominal delay, so the backoff still grows attempt by attempt.
  const int64_t half = delay / 2;
  std::uniform_int_distribution<int64_t> jitter(0, delay - half);
  delay = half + jitter(rng_);
  if (retry_after_seconds && *retry_after_seconds > 0) {
    delay = std::max(delay, static_cast<int64_t>(*retry_after_seconds) * 1000);
  }
  return delay;
}

bool SqliteOutbox::Finish(const OutboxRow& row, const Delivery& delivery, std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = options_.now_ms();
  std::string state = "done";
  int64_t attempts_add = 0;
  int64_t next_attempt_at = row.next_attempt_at;
  std::string last_error;
  switch (delivery.outcome) {
    case Outcome::kDone:
      break;
    case Outcome::kRetry:
      attempts_add = 1;
      if (now - row.created_at >= options_.give_up_after_ms) {
        state = "failed";
        last_error = "gave up after " + std::to_string(options_.give_up_after_ms / 3600000) +
                     " h: " + delivery.description;
      } else {
        state = "pending";
        next_attempt_at = now + Backoff(row.attempts + 1, delivery.retry_after_seconds);
        last_error = delivery.description;
      }
      break;
    case Outcome::kFailed:
      attempts_add = 1;
      state = "failed";
      last_error = delivery.description;
      break;
  }
  Statement update(db_,
                   "UPDATE outbox SET state = ?1, attempts = attempts + ?2, next_attempt_at = ?3,"
                   " last_error = ?4, lease_owner = NULL, lease_until = NULL, updated_at = ?5"
                   " WHERE id = ?6 AND lease_owner = ?7 AND state = 'pending'",
                   error);
  if (!update) return false;
  sqlite3_stmt* s = update.get();
  BindText(s, 1, state);
  BindInt(s, 2, attempts_add);
  BindInt(s, 3, next_attempt_at);
  BindText(s, 4, last_error);
  BindInt(s, 5, now);
  BindInt(s, 6, row.id);
  BindText(s, 7, options_.owner);
  // A single UPDATE is atomic; the busy timeout covers waiting for another writer.
  if (sqlite3_step(s) != SQLITE_DONE) {
    SetError(error, SqliteError(db_, "outbox finish"));
    return false;
  }
  if (sqlite3_changes(db_) != 1) {
    SetError(error, "outbox job " + std::to_string(row.id) + ": lease lost before recording");
    return false;
  }
  return true;
}

bool SqliteOutbox::ReleaseLeases(std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement update(db_,
                   "UPDATE outbox SET lease_owner = NULL, lease_until = NULL"
                   " WHERE lease_owner = ?1 AND state = 'pending'",
                   error);
  if (!update) return false;
  BindText(update.get(), 1, options_.owner);
  if (sqlite3_step(update.get()) != SQLITE_DONE) {
    SetError(error, SqliteError(db_, "outbox release"));
    return false;
  }
  return true;
}

OutboxCounts SqliteOutbox::Counts(std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  OutboxCounts counts;
  const int64_t now = options_.now_ms();
  // Over the partial indexes: done rows are never read (pending ones are, for created_at;
  // there are few while delivery works).
  Statement select(db_,
                   "SELECT count(*), min(created_at),"
                   " (SELECT count(*) FROM outbox WHERE state = 'failed')"
                   " FROM outbox WHERE state = 'pending'",
                   error);
  if (!select) return counts;
  if (sqlite3_step(select.get()) != SQLITE_ROW) {
    SetError(error, SqliteError(db_, "outbox counts"));
    return counts;
  }
  counts.pending = sqlite3_column_int64(select.get(), 0);
  if (sqlite3_column_type(select.get(), 1) != SQLITE_NULL) {
    const int64_t oldest_created_at = sqlite3_column_int64(select.get(), 1);
    counts.oldest_pending_age_ms = std::max<int64_t>(0, now - oldest_created_at);
  }
  counts.failed = sqlite3_column_int64(select.get(), 2);
  return counts;
}

// ---------------------------------------------------------------------------------------------
// OutboxDispatcher

OutboxDispatcher::OutboxDispatcher(SqliteOutbox* outbox, RestClient* client,
                                   DispatcherOptions options)
    : outbox_(outbox), client_(client), options_(std::move(options)) {}

OutboxDispatcher::~OutboxDispatcher() { Stop(); }

void OutboxDispatcher::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  outbox_->SetEnqueueListener([this] { Wake(); });
  thread_ = std::thread([this] { Loop(); });
}

void OutboxDispatcher::Stop() {
  if (!thread_.joinable()) return;
  outbox_->SetEnqueueListener(nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    wake_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::string error;
  if (!outbox_->ReleaseLeases(&error)) ReportError(error);
}

void OutboxDispatcher::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void OutboxDispatcher::ReportError(const std::string& error) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_error) options_.on_error(error);
}

int OutboxDispatcher::RunOnce() { return Deliver(std::nullopt); }

int OutboxDispatcher::DeliverDue() { return Deliver(outbox_->NowMs()); }

int OutboxDispatcher::Deliver(std::optional<int64_t> due_by) {
  int delivered = 0;
  while (!stop_.load()) {
    std::string error;
    std::optional<OutboxRow> row = outbox_->Claim(&error, due_by);
    if (!row) {
      if (!error.empty()) ReportError(error);
      break;
    }
    // Stop does not interrupt a delivery: it is finished and recorded before the thread exits.
    Delivery delivery = DeliverJob(row->job, client_);
    switch (delivery.outcome) {
      case Outcome::kDone:
        done_.fetch_add(1, std::memory_order_relaxed);
        break;
      case Outcome::kRetry:
        retried_.fetch_add(1, std::memory_order_relaxed);
        break;
      case Outcome::kFailed:
        failed_.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    if (!outbox_->Finish(*row, delivery, &error)) ReportError(error);
    if (options_.on_delivery) options_.on_delivery(*row, delivery);
    ++delivered;
  }
  return delivered;
}

void OutboxDispatcher::Loop() {
  const auto poll = std::chrono::milliseconds(std::max(1, options_.poll_interval_ms));
  while (!stop_.load()) {
    RunOnce();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, poll, [this] { return wake_ || stop_.load(); });
    wake_ = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Operator functions

bool ListJobs(sqlite3* db, bool include_done, std::vector<OutboxRow>* rows, std::string* error) {
  std::string sql = std::string("SELECT ") + kRowColumns + " FROM outbox";
  if (!include_done) sql += " WHERE state IN ('pending', 'failed')";
  sql += " ORDER BY id";
  Statement select(db, sql, error);
  if (!select) return false;
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) rows->push_back(ReadRow(select.get()));
  if (rc != SQLITE_DONE) {
    SetError(error, SqliteError(db, "outbox list"));
    return false;
  }
  return true;
}

bool ListJobs(const std::string& path, bool include_done, std::vector<OutboxRow>* rows,
              std::string* error) {
  sqlite3* db = OpenMigrated(path, error);
  if (db == nullptr) return false;
  bool ok = ListJobs(db, include_done, rows, error);
  sqlite3_close(db);
  return ok;
}

bool RetryJob(const std::string& path, int64_t id, std::string* error) {
  sqlite3* db = OpenMigrated(path, error);
  if (db == nullptr) return false;
  bool ok = false;
  {
    Statement update(db,
                     "UPDATE outbox SET state = 'pending', next_attempt_at = ?1,"
                     " lease_owner = NULL, lease_until = NULL, updated_at = ?1"
                     " WHERE id = ?2 AND state = 'failed'",
                     error);
    if (update) {
      BindInt(update.get(), 1, SystemUnixMs());
      BindInt(update.get(), 2, id);
      if (sqlite3_step(update.get()) != SQLITE_DONE) {
        SetError(error, SqliteError(db, "outbox retry"));
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

std::string FormatOutboxRow(const OutboxRow& row) {
  std::string out = std::to_string(row.id) + "\t" + row.state + "\t" + row.key +
                    "\tattempts=" + std::to_string(row.attempts);
  if (row.state == "pending") out += "\tnext_attempt_at=" + std::to_string(row.next_attempt_at);
  if (!row.lease_owner.empty()) {
    out += "\tlease=" + row.lease_owner + " until " + std::to_string(row.lease_until);
  }
  if (!row.last_error.empty()) out += "\terror=" + row.last_error;
  return out;
}

}  // namespace frontline
