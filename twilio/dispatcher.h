// The outbox dispatcher (SPEC §6): the background thread that claims due jobs from the event
// store and delivers them through a RestClient (twilio/delivery.h), or, for `outbox deliver`
// from cron, one pass over the due jobs on the calling thread.
//
// Thread-safety: Start/Stop must be called from one thread (main); Wake and the counters may
// be used from any thread.
#ifndef FRONTLINE_TWILIO_DISPATCHER_H_
#define FRONTLINE_TWILIO_DISPATCHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "events/sqlite_event_store.h"
#include "twilio/delivery.h"
#include "twilio/rest_client.h"

namespace frontline {

struct DispatcherOptions {
  int poll_interval_ms = 500;  // how often to look for jobs from other processes or now due
  // Called for each recorded delivery and for database errors, from the dispatcher thread.
  std::function<void(const OutboxRow& row, const Delivery& delivery)> on_delivery;
  std::function<void(const std::string& error)> on_error;
};

// Delivers the jobs of one SqliteEventStore through a RestClient, one at a time in id order.
// Woken at once by Enqueue in this process, and polls for the rest.
class OutboxDispatcher {
 public:
  // `store` and `client` must outlive the dispatcher.
  OutboxDispatcher(SqliteEventStore* store, RestClient* client, DispatcherOptions options = {});
  // Stops the thread if running.
  ~OutboxDispatcher();
  OutboxDispatcher(const OutboxDispatcher&) = delete;
  OutboxDispatcher& operator=(const OutboxDispatcher&) = delete;

  // Starts the thread and registers the store's enqueue listener. No-op when running.
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

  SqliteEventStore* const store_;
  RestClient* const client_;
  const DispatcherOptions options_;
  std::mutex mu_;  // guards wake_ and stop_
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<uint64_t> done_{0}, retried_{0}, failed_{0}, errors_{0};
};

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_DISPATCHER_H_
