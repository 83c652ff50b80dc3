// The event state in PostgreSQL (SPEC §8), shared by every responder on every host: the outbox
// of Twilio REST jobs, with the same rows, keys, outcomes and backoff as the SQLite store
// (sqlite_event_store.h, event_store.h PlanFinish), and opt-outs with the conversation map
// (SPEC §11, optout_store.h), the same rows as SQLite's. Versioned as component "events" in the
// schema's frontline_versions (db/postgres.h Migrate). SetOptOut is one statement (data-
// modifying CTEs), so each opt-out change is atomic without a transaction of its own.
//
// Delivery is at least once and normally exactly once across hosts: a job is claimed with
// `FOR UPDATE SKIP LOCKED` and a lease (owner "<host>:<pid>:<random>", lease_until), so two
// hosts never take the same job, and a host that dies leaves a lease that expires; outcomes
// apply only while the lease is still the caller's. Each Enqueue is its own transaction, durable
// on commit (synchronous_commit as the server has it: on by default), with the job's
// conversation map entry in the same statement. Claims, outcomes, lease releases and purges
// commit without waiting for the WAL flush (their own connections, synchronous_commit off):
// a database crash that loses one only lets the job be delivered again, which Twilio answers
// "already exists" (done) and an attribute update finds already made, so every routing
// webhook costs one WAL flush, not three.
//
// A stored job wakes dispatchers everywhere within milliseconds: after an enqueue commits, a
// notifying thread of this store NOTIFYs the channel "outbox_<schema>" on its own connection,
// once for all the enqueues that came while it was busy, with synchronous_commit off. Not in
// the enqueue's own transaction: PostgreSQL commits notifying transactions one at a time under
// a global lock held through the WAL flush, which capped every host's routing together at
// ~1 400 jobs/s. A notification lost (the server gone) costs only the poll interval. While an
// enqueue listener is set a thread of this store LISTENs on its own connection and calls it for
// each notification (reconnecting with a backoff, and calling it once after each reconnect, in
// case jobs came meanwhile).
//
// Thread-safety: safe from any number of threads; each thread uses its own connection
// (db/postgres.h ThreadConnections); the listening and the notifying threads have their own.
#ifndef FRONTLINE_EVENTS_PG_EVENT_STORE_H_
#define FRONTLINE_EVENTS_PG_EVENT_STORE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "db/postgres.h"
#include "events/event_store.h"

namespace frontline {

class PgEventStore : public EventStore {
 public:
  // Connects, creates or migrates the event tables in connect.schema. nullptr with `error`.
  static std::unique_ptr<PgEventStore> Open(const pg::ConnectOptions& connect,
                                            OutboxOptions options, std::string* error);

  // Stops the listening thread.
  ~PgEventStore() override;

  using Outbox::Enqueue;
  EnqueueResult Enqueue(const OutboxJob& job, OutboxJob* stored, std::string* error) override;
  OutboxCounts Counts(std::string* error) override;
  void SetEnqueueListener(std::function<void()> listener) override;
  std::optional<OutboxRow> Claim(std::string* error, std::optional<int64_t> due_by = {}) override;
  [[nodiscard]] bool Finish(const OutboxRow& row, const Delivery& delivery,
                            std::string* error) override;
  [[nodiscard]] bool ReleaseLeases(std::string* error) override;
  int64_t PurgeDone(int64_t limit, std::string* error) override;
  // For `frontline-fcgi outbox`, as ListJobs and RetryJob (sqlite_event_store.h) do for a file:
  // jobs in id order (pending and failed, and done ones when `include_done`); failed job `id`
  // pending again, due now. False with `error` set.
  [[nodiscard]] bool List(bool include_done, std::vector<OutboxRow>* rows, std::string* error);
  [[nodiscard]] bool Retry(int64_t id, std::string* error);

  // OptOutStore (see there).
  [[nodiscard]] bool MapConversation(const std::string& conversation_sid,
                                     const std::string& customer, const std::string& proxy,
                                     std::string* error) override;
  Lookup<ConversationState> FindConversation(const std::string& conversation_sid) override;
  Lookup<OptOutRow> FindOptOut(const std::string& address, const std::string& proxy) override;
  [[nodiscard]] bool SetOptOut(const std::string& address, const std::string& proxy,
                               bool opted_out, const std::string& reason,
                               std::string* error) override;
  [[nodiscard]] bool ListOptOuts(std::vector<OptOutRow>* rows, std::string* error) override;

  // nextval of the schema's round_robin sequence; this process's counter when that fails.
  uint64_t NextRoundRobinTurn() override;
  int64_t NowMs() const override { return options_.now_ms(); }
  const std::string& owner() const { return options_.owner; }

 private:
  PgEventStore(pg::ConnectOptions connect, OutboxOptions options);
  // The listening thread: until stop_, LISTEN and call the listener per notification.
  void Listen();
  void CallListener();
  // Asks the notifying thread (started on first use) for one NOTIFY soon.
  void RequestNotify();
  // The notifying thread: until stop_notifying_, one NOTIFY per batch of requests.
  void Notify();
  // Runs a prepared statement on the calling thread's connection (of `pool`); `error` set
  // when it failed.
  pg::Result Run(const char* name, const char* sql, const std::vector<pg::Param>& params,
                 std::string* error);
  pg::Result Run(pg::ThreadConnections& pool, const char* name, const char* sql,
                 const std::vector<pg::Param>& params, std::string* error);

  OutboxOptions options_;
  pg::ThreadConnections connections_;           // durable commits: enqueues, opt-outs, the map
  pg::ThreadConnections delivery_connections_;  // synchronous_commit off: claims and outcomes
  std::mutex rng_mu_;  // guards rng_
  std::mt19937_64 rng_;
  const std::string channel_;  // "outbox_<schema>", cut to PostgreSQL's 63-byte names
  std::mutex listener_mu_;      // guards listener_ and the listening thread's start and stop
  std::function<void()> listener_;
  std::atomic<bool> stop_listening_{false};
  std::thread listening_;
  std::mutex notify_mu_;  // guards the three below and the notifying thread's start
  std::condition_variable notify_cv_;
  bool notify_wanted_ = false;
  bool stop_notifying_ = false;
  std::thread notifying_;
};

// The event tables' migrations, oldest first.
const std::vector<pg::Migration>& PgEventMigrations();

}  // namespace frontline

#endif  // FRONTLINE_EVENTS_PG_EVENT_STORE_H_
