// The outbox dispatcher (SPEC §6): the background thread that claims due jobs from the event
// store and delivers them through a RestClient (twilio/delivery.h), or, for `outbox deliver`
// from cron, one pass over the due jobs on the calling thread.
//
// Thread-safety: Start/Stop must be called from one thread (main); Wake and the counters may
// be used from any thread. The RestClient is called from several threads at once, which every
// implementation allows (twilio/rest_client.h: CurlRestClient borrows an easy handle per call).
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
#include <vector>

#include "events/event_store.h"
#include "twilio/delivery.h"
#include "twilio/rest_client.h"

namespace frontline {

struct DispatcherOptions {
  int poll_interval_ms = 500;  // how often to look for jobs from other processes or now due
  // How often a worker purges done jobs past the store's retention (by the store's clock).
  int64_t purge_interval_ms = 60000;
  // Jobs in flight at once (worker threads; `outbox.concurrency`), 1..64.
  int concurrency = 8;
  // Called for each recorded delivery and for database errors, from the worker threads: several
  // at once when concurrency > 1, so they must be thread-safe.
  std::function<void(const OutboxRow& row, const Delivery& delivery)> on_delivery;
  std::function<void(const std::string& error)> on_error;
};

// Delivers the jobs of one EventStore through a RestClient with `concurrency` worker
// threads, each claiming the oldest due job with a lease, delivering it and recording the
// outcome, so a stalled Twilio call (bounded by the REST client's timeouts) holds up one worker
// and no other job. An Enqueue in this process wakes one idle worker at once; a worker that
// claims a job wakes another, so a burst is worked through `concurrency` at a time; every worker
// also polls for jobs of other processes and jobs now due.
class OutboxDispatcher {
 public:
  // `store` and `client` must outlive the dispatcher.
  OutboxDispatcher(EventStore* store, RestClient* client, DispatcherOptions options = {});
  // Stops the thread if running.
  ~OutboxDispatcher();
  OutboxDispatcher(const OutboxDispatcher&) = delete;
  OutboxDispatcher& operator=(const OutboxDispatcher&) = delete;

  // Starts the worker threads and registers the store's enqueue listener. No-op when running.
  void Start();
  // Wakes the workers, lets the deliveries in progress finish and be recorded, releases any
  // lease still held, and joins them. Jobs not started stay pending for the next process.
  // Idempotent.
  void Stop();

  // Claims and delivers due jobs on the calling thread until none is due (or Stop was called).
  // Returns how many were delivered. For tests (with a fake clock) and for the thread itself;
  // do not call it while the thread runs.
  int RunOnce();

  // Delivers, on `concurrency` threads of its own (the calling thread when 1), the jobs due at
  // the time of the call, each at most once (a job that is retried with a short backoff waits
  // for the next run), purges (PurgeExpired), and returns how many it attempted; done(),
  // retried(), failed() and errors() count the outcomes. For `outbox deliver` (cron); do not
  // call it while the threads run.
  int DeliverDue();

  // Purges done jobs past the retention in batches of 500, at most 20 batches (10 000 jobs)
  // per call so one call stays short; returns how many. Called by a worker every
  // purge_interval_ms and at the end of DeliverDue; for tests too.
  int64_t PurgeExpired();

  // Wakes the thread (as Enqueue does).
  void Wake();

  uint64_t done() const { return done_.load(std::memory_order_relaxed); }
  uint64_t retried() const { return retried_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  int Deliver(std::optional<int64_t> due_by, bool wake_others);
  int DeliverDueJobs();
  void ReportError(const std::string& error);

  EventStore* const store_;
  RestClient* const client_;
  const DispatcherOptions options_;
  const int concurrency_;
  std::mutex mu_;  // guards tokens_, and stop_'s changes for the condition variable
  std::condition_variable cv_;
  int tokens_ = 0;  // wake-ups not yet taken by a worker, at most concurrency_
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::atomic<int64_t> last_purge_ms_{0};  // store clock; 0: never
  std::atomic<uint64_t> done_{0}, retried_{0}, failed_{0}, errors_{0};
};

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_DISPATCHER_H_
