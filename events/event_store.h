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
#include <string>

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

class EventStore : public Outbox {
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
