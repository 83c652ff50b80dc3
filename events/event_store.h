// The event store as the dispatcher sees it (SPEC §6, §8): the handler-facing `Outbox` plus
// claiming due jobs with leases, recording outcomes, releasing leases and purging done jobs.
// Backend-neutral: SqliteEventStore (events/sqlite_event_store.h) implements it today, a
// PostgreSQL store later; twilio/dispatcher.h uses only this, so it never asks which backend
// it has. Opt-outs and the conversation map (SPEC §11) are to join this interface.
//
// Thread-safety: implementations must be safe to call from any number of threads at once.
#ifndef FRONTLINE_EVENTS_EVENT_STORE_H_
#define FRONTLINE_EVENTS_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>

#include "events/optout_store.h"
#include "events/outbox.h"

namespace frontline {

// One stored outbox job and its delivery state.
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

// How a store of jobs behaves; the SQLite-only fields say so.
struct OutboxOptions {
  UnixMsClock now_ms;        // null: SystemUnixMs
  int64_t lease_ms = 30000;  // longer than the REST client's total timeout
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 300000;  // 5 min
  int64_t give_up_after_ms = 24LL * 3600 * 1000;
  // Done jobs are kept this long (`outbox.retention`), so a Twilio retry within it is still a
  // duplicate, then PurgeDone deletes them.
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  // SQLite: how long one statement waits for another connection's (or process's) write lock.
  int busy_timeout_ms = 1000;
  // How long an Enqueue waits for a group commit to take its job before it gives up with an
  // error (the handler answers 503 and Twilio retries). With busy_timeout_ms and one commit
  // this bounds an Enqueue at about 3 s, under nginx's fastcgi_read_timeout (4 s).
  int enqueue_timeout_ms = 2000;
  // SQLite, tests: called by the group-commit leader with the batch's size before it commits.
  std::function<void(size_t)> on_batch_start;
  std::string owner;  // lease owner; empty: "<hostname>:<pid>:<random>", unique per instance
  // SQLite: the directory file whose old `outbox` table (directory/schema.h, migration 2) Open moves
  // into the store; empty: none.
  std::string legacy_directory;
};

// The backoff before attempt number `attempts` + 1 after `attempts` unsuccessful ones:
// min(max, initial * 2^(attempts-1)) with equal jitter (half fixed, half random, from `rng`),
// or the server's Retry-After when that is longer (capped by the give-up time, so it neither
// overflows nor outlives the job).
int64_t BackoffDelay(const OutboxOptions& options, int64_t attempts,
                     std::optional<long> retry_after_seconds, std::mt19937_64& rng);

// What recording `delivery` for `row` at `now_ms` writes (the same on every backend): done;
// pending again after the backoff (never later than the give-up time); or failed with the
// description ("gave up after 24 h: …" once the job is older than give_up_after_ms).
struct FinishPlan {
  std::string state;  // "done", "pending" or "failed"
  int64_t attempts_add = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;
};
FinishPlan PlanFinish(const OutboxOptions& options, const OutboxRow& row, const Delivery& delivery,
                      int64_t now_ms, std::mt19937_64& rng);

// A lease owner unique to this process and store: "<hostname>:<pid>:<random>".
std::string DefaultLeaseOwner(uint64_t random);

class EventStore : public Outbox, public OptOutStore {
 public:
  // Called after each Enqueue that stored a job (from the enqueuing thread, outside any lock
  // of the store's). Safe to change while request threads run; once SetEnqueueListener(nullptr)
  // returns, the old listener is no longer running.
  virtual void SetEnqueueListener(std::function<void()> listener) = 0;

  // Claims the oldest due pending job (next_attempt_at <= now, and <= `due_by` when given;
  // lease absent or expired) for the store's lease time. nullopt when there is none or on an
  // error (`error` set then).
  virtual std::optional<OutboxRow> Claim(std::string* error,
                                         std::optional<int64_t> due_by = {}) = 0;

  // Records `delivery` for `row` (which this store claimed) and clears the lease: done; retry
  // with backoff (failed once the job is older than the give-up time); failed with the
  // description. Applies only while this store still owns the lease; false when it no longer
  // does or on an error (`error` set).
  [[nodiscard]] virtual bool Finish(const OutboxRow& row, const Delivery& delivery,
                                    std::string* error) = 0;

  // Clears this store's leases on pending jobs so others may take them at once (Stop).
  [[nodiscard]] virtual bool ReleaseLeases(std::string* error) = 0;

  // Deletes at most `limit` done jobs older than the retention, oldest first; how many, or -1
  // with `error` set.
  virtual int64_t PurgeDone(int64_t limit, std::string* error) = 0;

  // The store's clock (unix ms).
  virtual int64_t NowMs() const = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_EVENTS_EVENT_STORE_H_
