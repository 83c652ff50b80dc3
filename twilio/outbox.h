// The durable outbox (SPEC §6): Twilio REST calls that webhooks ask for are stored as jobs in
// the directory database before the webhook is answered, then delivered in the background by a
// dispatcher. `Outbox` is the part request handlers use; implementations must be safe to call
// from several request threads at once.
//
// `SqliteOutbox` keeps the jobs in the `outbox` table of the directory's SQLite file (schema.h,
// migration 2). Jobs are deduplicated by `OutboxKey`; a delivered job's row (state 'done') is
// kept, so a Twilio retry of the same webhook much later is still a duplicate.
//
// Delivery is at least once and, in the normal case, exactly once: a dispatcher claims one due
// job at a time with a lease (lease_owner "<host>:<pid>:<random>", lease_until) in a BEGIN
// IMMEDIATE transaction, so several responder processes on the same file never deliver one job
// at the same time; it calls Twilio outside the transaction and then records the outcome and
// clears the lease in one UPDATE that applies only while it still owns the lease. A process that
// dies between claim and record (kill -9) leaves a lease that expires and is taken over by any
// dispatcher; the add-participant call that may then repeat is harmless (409/50433 is "done").
//
// `OutboxDispatcher` is the one background thread per process that runs the deliveries (or,
// for `outbox deliver` from cron, one pass over the due jobs on the calling thread).
//
// Thread-safety: SqliteOutbox may be used from any number of threads; it keeps one connection
// guarded by a mutex, held only for a short transaction (never during a REST call). The
// dispatcher's Start/Stop must be called from one thread (main); its counters may be read from
// any thread. The free functions open their own connection and are safe from any thread.
#ifndef FRONTLINE_TWILIO_OUTBOX_H_
#define FRONTLINE_TWILIO_OUTBOX_H_

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "twilio/rest_client.h"

namespace frontline {

enum class JobAction {
  kAddParticipant,            // POST /v1/Conversations/{sid}/Participants Identity=...
  kSetParticipantAttributes,  // fetch the participant, merge attributes, update if changed
};

struct OutboxJob {
  JobAction action = JobAction::kAddParticipant;
  std::string conversation_sid;  // CH...
  std::string identity;          // kAddParticipant: the worker to add
  std::string participant_sid;   // kSetParticipantAttributes: MB...
  // kSetParticipantAttributes: a JSON object of the keys to set where the participant's
  // attributes lack them (customer_id, display_name, avatar); existing keys are kept.
  std::string attributes_json;
};

enum class EnqueueResult {
  kEnqueued,   // stored durably (committed) and the dispatcher woken
  kDuplicate,  // a job with the same key exists already (a Twilio retry): nothing stored
  kError,      // not stored; `error` says why
};

// The deduplication key of `job`: action and ConversationSid, plus the participant for
// attribute updates, so a webhook Twilio retries never causes a second REST call.
// "add:<CH>" or "attrs:<CH>:<MB>".
std::string OutboxKey(const OutboxJob& job);

// Jobs waiting and jobs kept failed, for /healthz and /metrics.
struct OutboxCounts {
  int64_t pending = 0;
  int64_t failed = 0;
  // How long the oldest pending job has been waiting (now - its created_at, unix ms); 0 when
  // nothing is pending. Delivery that works keeps this near 0; /healthz reports it.
  int64_t oldest_pending_age_ms = 0;
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual EnqueueResult Enqueue(const OutboxJob& job, std::string* error) = 0;
  // Jobs waiting and jobs kept failed, and the oldest pending job's age (for /healthz and
  // /metrics); `error` set on failure.
  virtual OutboxCounts Counts(std::string* error) = 0;
};

// "add_participant" / "set_participant_attributes": the action column's values.
const char* JobActionName(JobAction action);

// One row of the outbox table.
struct OutboxRow {
  int64_t id = 0;
  std::string key;
  OutboxJob job;
  std::string state;            // "pending", "done" or "failed"
  int64_t attempts = 0;         // unsuccessful deliveries so far (retries and the final failure)
  int64_t next_attempt_at = 0;  // unix ms
  std::string lease_owner;      // "" when not leased
  int64_t lease_until = 0;      // unix ms; 0 when not leased
  int64_t created_at = 0;       // unix ms
  int64_t updated_at = 0;       // unix ms
  std::string last_error;
};


// Wall-clock time in unix milliseconds; injectable so tests can move time.
using UnixMsClock = std::function<int64_t()>;
int64_t SystemUnixMs();

struct OutboxOptions {
  UnixMsClock now_ms;        // null: SystemUnixMs
  int64_t lease_ms = 30000;  // longer than the REST client's total timeout
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 300000;  // 5 min
  int64_t give_up_after_ms = 24LL * 3600 * 1000;
  std::string owner;  // lease owner; empty: "<hostname>:<pid>:<random>", unique per instance
};

// What one delivery attempt came to.
struct Delivery {
  Outcome outcome = Outcome::kFailed;
  std::string description;  // DescribeResult of the deciding call, or why nothing was called
  std::optional<long> retry_after_seconds;
  int calls = 0;  // REST calls made
};

// Performs `job` through `client` (SPEC §6): kAddParticipant adds the identity;
// kSetParticipantAttributes fetches the participant, merges the job's keys where absent (empty
// attributes read as {}) and updates only when that changed something. A failed fetch decides
// the outcome; a job whose attributes_json is not a JSON object fails without a call; a
// participant whose attributes are not a JSON object (someone else's data we cannot merge
// into) fails after the fetch and is left as it is. Never throws except std::bad_alloc.
Delivery DeliverJob(const OutboxJob& job, RestClient* client);

// `existing` (a participant's attributes; empty reads as {}) with the members of the JSON
// object `additions` added where absent. `*changed` says whether anything was added; `*merged`
// is `existing` byte for byte (up to a NUL, where JSON parsing stops too) with the added
// members before its closing brace. False with `error` set, and nothing merged, when
// `additions` or `existing` is not a JSON object (invalid JSON, an array, a string, ...).
// Any nesting depth is safe (iterative parsing, no re-serialisation of `existing`).
[[nodiscard]] bool MergeAttributes(std::string_view existing, std::string_view additions,
                                   std::string* merged, bool* changed, std::string* error);

class SqliteOutbox : public Outbox {
 public:
  // Opens its own connection to the database at `path` (creating and migrating it when needed,
  // like SqliteDirectory::Open). Returns nullptr with `error` set on failure.
  static std::unique_ptr<SqliteOutbox> Open(const std::string& path, OutboxOptions options,
                                            std::string* error);
  ~SqliteOutbox() override;
  SqliteOutbox(const SqliteOutbox&) = delete;
  SqliteOutbox& operator=(const SqliteOutbox&) = delete;

  // INSERT OR IGNORE by OutboxKey in its own BEGIN IMMEDIATE transaction, committed before it
  // returns; then calls the enqueue listener (the dispatcher's wake-up) when a job was stored.
  EnqueueResult Enqueue(const OutboxJob& job, std::string* error) override;

  // Called after each successful Enqueue (from the enqueuing thread, outside any lock of the
  // outbox's connection). Set it before request threads start or while they may run: it is
  // guarded by a mutex, and once SetEnqueueListener(nullptr) returns it is no longer running.
  void SetEnqueueListener(std::function<void()> listener);

  // Claims the oldest due pending job (next_attempt_at <= now, and <= `due_by` when given;
  // lease absent or expired) for lease_ms. nullopt when there is none or on a database error
  // (`error` set then).
  std::optional<OutboxRow> Claim(std::string* error, std::optional<int64_t> due_by = {});

  // Records `delivery` for `row` (which this outbox claimed) and clears the lease: done;
  // retry with backoff (or failed "gave up after 24 h: ..." once the job is older than
  // give_up_after_ms); failed with the description. Applies only while this outbox still owns
  // the lease; returns false when it no longer does or on a database error (`error` set).
  bool Finish(const OutboxRow& row, const Delivery& delivery, std::string* error);

  // Clears this outbox's leases on pending jobs so others may take them at once (Stop).
  bool ReleaseLeases(std::string* error);

  // The backoff before attempt number `attempts` + 1 after `attempts` unsuccessful ones:
  // min(max, initial * 2^(attempts-1)) with equal jitter (half fixed, half random), or the
  // server's Retry-After when that is longer.
  int64_t Backoff(int64_t attempts, std::optional<long> retry_after_seconds);

  OutboxCounts Counts(std::string* error) override;
  int64_t NowMs() const { return options_.now_ms(); }
  const std::string& owner() const { return options_.owner; }
  const OutboxOptions& options() const { return options_; }

 private:
  SqliteOutbox(sqlite3* db, OutboxOptions options);

  OutboxOptions options_;
  std::mutex mu_;  // guards db_ and rng_
  sqlite3* db_;
  std::mt19937_64 rng_;
  std::mutex listener_mu_;
  std::function<void()> listener_;
};

struct DispatcherOptions {
  int poll_interval_ms = 500;  // how often to look for jobs from other processes or now due
  // Called for each recorded delivery and for database errors, from the dispatcher thread.
  std::function<void(const OutboxRow& row, const Delivery& delivery)> on_delivery;
  std::function<void(const std::string& error)> on_error;
};

// The background thread that delivers the jobs of one SqliteOutbox through a RestClient, one
// at a time in id order. Woken at once by Enqueue in this process, and polls for the rest.
class OutboxDispatcher {
 public:
  // `outbox` and `client` must outlive the dispatcher.
  OutboxDispatcher(SqliteOutbox* outbox, RestClient* client, DispatcherOptions options = {});
  // Stops the thread if running.
  ~OutboxDispatcher();
  OutboxDispatcher(const OutboxDispatcher&) = delete;
  OutboxDispatcher& operator=(const OutboxDispatcher&) = delete;

  // Starts the thread and registers the outbox's enqueue listener. No-op when running.
  void Start();
  // Wakes the thread, lets the delivery in progress finish and be recorded, releases any lease
  // still held, and joins. Jobs not started stay pending for the next process. Idempotent.
  void Stop();

  // Claims and delivers due jobs on the calling thread until none is due (or Stop was called).
  // Returns how many were delivered. For tests (with a fake clock) and for the thread itself;
  // do not call it while the thread runs.
  int RunOnce();

  // Delivers, on the calling thread, the jobs due at the time of the call, each at most once
  // (a job that is retried with a short backoff waits for the next run), then returns how
  // many it attempted; done(), retried(), failed() and errors() count the outcomes. For
  // `outbox deliver` (cron); do not call it while the thread runs.
  int DeliverDue();

  // Wakes the thread (as Enqueue does).
  void Wake();

  uint64_t done() const { return done_.load(std::memory_order_relaxed); }
  uint64_t retried() const { return retried_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  int Deliver(std::optional<int64_t> due_by);
  void ReportError(const std::string& error);

  SqliteOutbox* const outbox_;
  RestClient* const client_;
  const DispatcherOptions options_;
  std::mutex mu_;  // guards wake_ and stop_
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<uint64_t> done_{0}, retried_{0}, failed_{0}, errors_{0};
};

// Operator functions for `frontline-fcgi outbox [list|retry ID]`; each opens (and migrates)
// its own connection to the database at `path`.
// Jobs in id order: pending and failed, plus done ones when `include_done`. False with `error`
// set on a database error.
bool ListJobs(const std::string& path, bool include_done, std::vector<OutboxRow>* rows,
              std::string* error);
// Same on an open connection (used by tests and /healthz-style callers).
bool ListJobs(sqlite3* db, bool include_done, std::vector<OutboxRow>* rows, std::string* error);
// Requeues failed job `id`: state pending, attempts kept, due now. False with `error` set when
// there is no failed job `id` or on a database error. Note: a job older than the give-up age
// gets one more attempt and, should that be retryable, fails again.
bool RetryJob(const std::string& path, int64_t id, std::string* error);
// A one-line description of `row` for the `outbox list` command.
std::string FormatOutboxRow(const OutboxRow& row);

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_OUTBOX_H_
