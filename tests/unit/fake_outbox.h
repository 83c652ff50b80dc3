// An in-memory Outbox for handler unit tests: records every job, deduplicates by OutboxKey
// like the real one, and can be told to fail. Test-only; not thread-safe.
#ifndef FRONTLINE_TESTS_UNIT_FAKE_OUTBOX_H_
#define FRONTLINE_TESTS_UNIT_FAKE_OUTBOX_H_

#include <set>
#include <string>
#include <vector>

#include "twilio/outbox.h"

namespace frontline {

class FakeOutbox : public Outbox {
 public:
  EnqueueResult Enqueue(const OutboxJob& job, std::string* error) override {
    if (fail_) {
      *error = "disk full";
      return EnqueueResult::kError;
    }
    if (!keys_.insert(OutboxKey(job)).second) return EnqueueResult::kDuplicate;
    jobs_.push_back(job);
    return EnqueueResult::kEnqueued;
  }
  OutboxCounts Counts(std::string*) override {
    OutboxCounts counts;
    counts.pending = static_cast<int64_t>(jobs_.size());
    return counts;
  }
  void set_fail(bool fail) { fail_ = fail; }
  const std::vector<OutboxJob>& jobs() const { return jobs_; }

 private:
  bool fail_ = false;
  std::set<std::string> keys_;
  std::vector<OutboxJob> jobs_;
};

}  // namespace frontline

#endif  // FRONTLINE_TESTS_UNIT_FAKE_OUTBOX_H_
