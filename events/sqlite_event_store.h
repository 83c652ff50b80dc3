// The event state webhooks write, kept in SQLite: the outbox of Twilio REST jobs (SPEC §6), and
// opt-outs with the conversation map (SPEC §11, events/optout_store.h). `SqliteEventStore`
// implements `EventStore` (events/event_store.h): the handler-facing `Outbox` with group commit,
// the `OptOutStore`, and the
// dispatcher's side (claiming due jobs with leases, recording outcomes with backoff, purging),
// in its own file (--outbox) with its own schema versions; the free functions below list and
// requeue jobs for the `outbox` command.
//
// Jobs are deduplicated by `OutboxKey`; a delivered job's row (state 'done') is kept, so a
// Twilio retry of the same webhook much later is still a duplicate.
//
// Delivery is at least once and, in the normal case, exactly once: a job is claimed with a
// lease (lease_owner "<host>:<pid>:<random>", lease_until) in a BEGIN IMMEDIATE transaction,
// so several responder processes on the same file never deliver one job at the same time; the
// caller calls Twilio outside any transaction and then records the outcome and clears the lease
// in one UPDATE that applies only while it still owns the lease. A process that dies between
// claim and record (kill -9) leaves a lease that expires and is taken over by any dispatcher;
// the add-participant call that may then repeat is harmless (409/50433 is "done").
//
// Thread-safety: SqliteEventStore may be used from any number of threads. Enqueues, claims and
// outcomes are each batched (events/group_commit.h): the calls made at once share one
// transaction, run by one of them, so this process has at most three writers on the file
// however many request threads and dispatcher workers it runs. Enqueue's batches use a
// synchronous=FULL connection of their own; claims, outcomes and counts borrow a connection
// from a small pool (its mutex guards only the list, never held while SQLite works). No mutex
// is held while SQLite waits for a lock or the disk, and nothing holds a connection during a
// REST call.
// The free functions open their own connection and are safe from any thread.
#ifndef FRONTLINE_EVENTS_SQLITE_EVENT_STORE_H_
#define FRONTLINE_EVENTS_SQLITE_EVENT_STORE_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "events/event_store.h"
#include "events/group_commit.h"
#include "events/outbox.h"

namespace frontline {


class SqliteEventStore : public EventStore {
 public:
  // Opens its own connection to the event database at `path` (creating it 0600 and migrating
  // it when needed; synchronous=FULL, so every commit is fsync'd), then moves any jobs left in
  // options.legacy_directory's old outbox table into it (see MoveLegacyJobs in the .cpp).
  // Returns nullptr with `error` set on failure.
  static std::unique_ptr<SqliteEventStore> Open(const std::string& path, OutboxOptions options,
                                                std::string* error);
  ~SqliteEventStore() override;
  SqliteEventStore(const SqliteEventStore&) = delete;
  SqliteEventStore& operator=(const SqliteEventStore&) = delete;

  // INSERT OR IGNORE by OutboxKey (and the job's map_customer/map_proxy into the conversation
  // map, in the same transaction), committed (fsync'd) before it returns; concurrent calls
  // share one BEGIN IMMEDIATE transaction and its commit (group commit), so durability does not
  // cost throughput. Then calls the enqueue listener (the dispatcher's wake-up) when a job was
  // stored. A duplicate reads the stored job into `*stored` in the same transaction. kError
  // when the job was not taken into a commit within options.enqueue_timeout_ms, or the commit
  // failed (the whole batch then fails; nothing of it is stored).
  using Outbox::Enqueue;
  EnqueueResult Enqueue(const OutboxJob& job, OutboxJob* stored, std::string* error) override;

  // EventStore (see there). The listener is guarded by a mutex.
  void SetEnqueueListener(std::function<void()> listener) override;
  // Claim first reads whether anything is due outside any write transaction, so idle workers
  // never take the write lock; then selects and leases in one BEGIN IMMEDIATE transaction,
  // shared by the Claim calls made at once (each gets its own job, the earliest due first).
  std::optional<OutboxRow> Claim(std::string* error, std::optional<int64_t> due_by = {}) override;
  // The claim's SELECT (?1 now, ?2 due by, ?3 how many), for its query-plan test.
  static const std::string& ClaimSql();
  // Failed "gave up after 24 h: ..." once the job is older than give_up_after_ms; a retry is
  // never scheduled past that time (a huge Retry-After included). The Finish calls made at once
  // share one transaction; a lost lease fails only its own call.
  [[nodiscard]] bool Finish(const OutboxRow& row, const Delivery& delivery,
                            std::string* error) override;
  [[nodiscard]] bool ReleaseLeases(std::string* error) override;

  // BackoffDelay (event_store.h) with this store's options and random numbers.
  int64_t Backoff(int64_t attempts, std::optional<long> retry_after_seconds);

  OutboxCounts Counts(std::string* error) override;
  // Done jobs last updated more than retention_ms ago, in one short DELETE over a partial index.
  int64_t PurgeDone(int64_t limit, std::string* error) override;

  // OptOutStore (see there). MapConversation joins Enqueue's group commit (fsync'd, one writer
  // for every webhook write); SetOptOut commits on its own with synchronous=FULL.
  [[nodiscard]] bool MapConversation(const std::string& conversation_sid,
                                     const std::string& customer, const std::string& proxy,
                                     std::string* error) override;
  Lookup<ConversationState> FindConversation(const std::string& conversation_sid) override;
  Lookup<OptOutRow> FindOptOut(const std::string& address, const std::string& proxy) override;
  [[nodiscard]] bool SetOptOut(const std::string& address, const std::string& proxy,
                               bool opted_out, const std::string& reason,
                               std::string* error) override;
  [[nodiscard]] bool ListOptOuts(std::vector<OptOutRow>* rows, std::string* error) override;

  // Group commits made by Enqueue so far, and Enqueue calls waiting to be taken into one.
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  size_t queued_enqueues();
  int64_t NowMs() const override { return options_.now_ms(); }
  const std::string& owner() const { return options_.owner; }
  const OutboxOptions& options() const { return options_; }

 private:
  // A pooled connection for one operation, given back at scope exit.
  class Connection {
   public:
    Connection(SqliteEventStore* store, std::string* error)
        : store_(store), db_(store->Borrow(error)) {}
    ~Connection() { store_->Return(db_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    explicit operator bool() const { return db_ != nullptr; }
    sqlite3* get() const { return db_; }

   private:
    SqliteEventStore* store_;
    sqlite3* db_;
  };

  // One call waiting for its batch (group_commit.h); each lives on the caller's stack and its
  // result is set by the leader that commits it.
  // A job to store, or (job null) only a conversation map entry (MapConversation).
  struct PendingEnqueue {
    const OutboxJob* job = nullptr;
    const std::string* map_sid = nullptr;  // with job null: the entry to record
    const std::string* map_customer = nullptr;
    const std::string* map_proxy = nullptr;
    OutboxJob* stored = nullptr;
    EnqueueResult result = EnqueueResult::kError;
    std::string error;
  };
  struct PendingClaim {
    std::optional<int64_t> due_by;
    std::optional<OutboxRow> row;
    std::string error;
  };
  struct PendingFinish {
    const OutboxRow* row = nullptr;
    const Delivery* delivery = nullptr;
    bool ok = false;
    std::string error;
  };

  SqliteEventStore(std::string path, sqlite3* db, OutboxOptions options);
  // The leaders' parts: each runs one transaction for the whole batch and sets every result.
  void CommitEnqueues(const std::vector<PendingEnqueue*>& batch);
  void CommitClaims(const std::vector<PendingClaim*>& batch);
  void CommitFinishes(const std::vector<PendingFinish*>& batch);
  sqlite3* Borrow(std::string* error);
  void Return(sqlite3* db);

  OutboxOptions options_;
  const std::string path_;
  sqlite3* enqueue_db_;  // synchronous=FULL: Enqueue's commits are fsync'd; leaders only
  GroupCommit<PendingEnqueue> enqueues_;
  GroupCommit<PendingClaim> claims_;
  GroupCommit<PendingFinish> finishes_;
  std::atomic<uint64_t> commits_{0};
  std::mutex pool_mu_;  // guards idle_ only; never held while SQLite works
  std::vector<sqlite3*> idle_;
  std::mutex rng_mu_;  // guards rng_
  std::mt19937_64 rng_;
  std::mutex listener_mu_;
  std::function<void()> listener_;
};

// Operator functions for `frontline-fcgi outbox [list|retry ID]`; each opens (and migrates,
// moving the jobs of `legacy_directory`'s old table like Open) its own connection to the
// event database at `path`.
// Jobs in id order: pending and failed, plus done ones when `include_done`. False with `error`
// set on a database error.
[[nodiscard]] bool ListJobs(const std::string& path, const std::string& legacy_directory,
                            bool include_done, std::vector<OutboxRow>* rows, std::string* error);
// Requeues failed job `id`: state pending, attempts kept, due now. False with `error` set when
// there is no failed job `id` or on a database error. Note: a job older than the give-up age
// gets one more attempt and, should that be retryable, fails again.
[[nodiscard]] bool RetryJob(const std::string& path, const std::string& legacy_directory,
                            int64_t id, std::string* error);
// `unix_ms` as UTC ISO 8601 to the second, e.g. "2026-12-02T05:40:49Z".
std::string FormatUtc(int64_t unix_ms);
// A one-line description of `row` for the `outbox list` command, tab-separated: id, state, key,
// attempts=N, created=<UTC>, next=<UTC> (pending), updated=<UTC> (when it changed),
// lease=<owner> until <UTC> (while leased), error=<last error> (when there is one).
std::string FormatOutboxRow(const OutboxRow& row);

}  // namespace frontline

#endif  // FRONTLINE_EVENTS_SQLITE_EVENT_STORE_H_
