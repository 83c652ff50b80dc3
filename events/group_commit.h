// Leader/follower batching of one kind of write (group commit), used by the SQLite event store
// for enqueues, claims and outcomes: each caller queues an item; whoever finds no batch in
// progress becomes the leader, takes every queued item and runs the commit function over them
// (one transaction, one fsync), without holding the lock while the database works; the others
// wait for the batch that took their item. N threads writing at once then cost one transaction
// instead of N, and they never queue for SQLite's write lock among themselves.
//
// Thread-safety: Submit and queued() may be called from any number of threads at once. The
// commit function is called by one leader at a time.
#ifndef FRONTLINE_EVENTS_GROUP_COMMIT_H_
#define FRONTLINE_EVENTS_GROUP_COMMIT_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace frontline {

template <typename Item>
class GroupCommit {
 public:
  using Clock = std::chrono::steady_clock;
  // Commits every item of the batch and records each one's result in the item.
  using CommitFn = std::function<void(const std::vector<Item*>& batch)>;

  explicit GroupCommit(CommitFn commit) : commit_(std::move(commit)) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `item` and returns true once a batch holding it has been committed (the commit
  // function has set its result). Returns false, with `item` left out of every batch, when no
  // leader took it before `deadline`; an item once taken waits for its batch, however long.
  bool Submit(Item* item, Clock::time_point deadline = Clock::time_point::max()) {
    Waiter waiter{item};
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(&waiter);
    while (!waiter.done) {
      if (!committing_) {
        committing_ = true;
        std::vector<Waiter*> taken;
        taken.swap(queue_);
        lock.unlock();
        std::vector<Item*> batch;
        batch.reserve(taken.size());
        for (Waiter* w : taken) batch.push_back(w->item);
        commit_(batch);
        lock.lock();
        for (Waiter* w : taken) w->done = true;
        committing_ = false;
        cv_.notify_all();
        continue;
      }
      if (deadline == Clock::time_point::max()) {
        cv_.wait(lock);
        continue;
      }
      if (cv_.wait_until(lock, deadline) != std::cv_status::timeout || waiter.done) continue;
      auto it = std::find(queue_.begin(), queue_.end(), &waiter);
      if (it != queue_.end()) {
        queue_.erase(it);
        return false;
      }
      // Taken by the leader: its commit decides, soon.
      cv_.wait(lock, [&waiter] { return waiter.done; });
    }
    return true;
  }

  // Items waiting to be taken into a batch.
  size_t queued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

 private:
  struct Waiter {
    Item* item;
    bool done = false;  // guarded by mu_
  };

  CommitFn commit_;
  mutable std::mutex mu_;  // guards queue_, committing_ and every Waiter::done
  std::condition_variable cv_;
  std::vector<Waiter*> queue_;  // not yet taken by a leader
  bool committing_ = false;     // a leader is running commit_
};

}  // namespace frontline

#endif  // FRONTLINE_EVENTS_GROUP_COMMIT_H_
