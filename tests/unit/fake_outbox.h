// An in-memory Outbox for handler unit tests: records every job, deduplicates by OutboxKey
// like the real one, and can be told to fail. With set_map_store, a job's conversation map entry
// (map_customer, map_proxy) goes to that store, as the real event store records it with the
// job. Test-only; not thread-safe.
#ifndef FRONTLINE_TESTS_UNIT_FAKE_OUTBOX_H_
#define FRONTLINE_TESTS_UNIT_FAKE_OUTBOX_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "events/optout_store.h"
#include "events/outbox.h"

namespace frontline {

class FakeOutbox : public Outbox {
 public:
  using Outbox::Enqueue;
  EnqueueResult Enqueue(const OutboxJob& job, OutboxJob* stored, std::string* error) override {
    if (fail_) {
      *error = "disk full";
      return EnqueueResult::kError;
    }
    if (map_store_ != nullptr && !job.map_customer.empty() &&
        !map_store_->MapConversation(job.conversation_sid, job.map_customer, job.map_proxy,
                                     error)) {
      return EnqueueResult::kError;
    }
    auto it = keys_.find(OutboxKey(job));
    if (it != keys_.end()) {
      if (stored != nullptr) *stored = jobs_[it->second];
      return EnqueueResult::kDuplicate;
    }
    keys_.emplace(OutboxKey(job), jobs_.size());
    jobs_.push_back(job);
    return EnqueueResult::kEnqueued;
  }
  // Every stored job is pending and as old as set_oldest_pending_age_ms says; fails with
  // set_fail like Enqueue.
  OutboxCounts Counts(std::string* error) override {
    OutboxCounts counts;
    if (fail_) {
      *error = "disk I/O error";
      return counts;
    }
    counts.pending = static_cast<int64_t>(jobs_.size());
    counts.failed = failed_;
    if (counts.pending > 0) counts.oldest_pending_age_ms = oldest_pending_age_ms_;
    return counts;
  }
  void set_fail(bool fail) { fail_ = fail; }
  void set_map_store(OptOutStore* store) { map_store_ = store; }
  void set_failed(int64_t failed) { failed_ = failed; }
  void set_oldest_pending_age_ms(int64_t age_ms) { oldest_pending_age_ms_ = age_ms; }
  const std::vector<OutboxJob>& jobs() const { return jobs_; }

 private:
  bool fail_ = false;
  OptOutStore* map_store_ = nullptr;
  int64_t failed_ = 0;
  int64_t oldest_pending_age_ms_ = 0;
  std::map<std::string, size_t> keys_;  // key -> index in jobs_
  std::vector<OutboxJob> jobs_;
};

}  // namespace frontline

#endif  // FRONTLINE_TESTS_UNIT_FAKE_OUTBOX_H_
