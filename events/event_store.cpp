#include "events/event_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>

namespace frontline {

int64_t SystemUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t BackoffDelay(const OutboxOptions& options, int64_t attempts,
                     std::optional<long> retry_after_seconds, std::mt19937_64& rng) {
  int64_t delay = options.initial_backoff_ms;
  for (int64_t i = 1; i < attempts && delay < options.max_backoff_ms; ++i) delay *= 2;
  delay = std::min(delay, options.max_backoff_ms);
  // Equal jitter: spreads retries of many jobs that failed together, yet never waits less than
  // half the nominal delay, so the backoff still grows attempt by attempt.
  const int64_t half = delay / 2;
  std::uniform_int_distribution<int64_t> jitter(0, delay - half);
  delay = half + jitter(rng);
  if (retry_after_seconds && *retry_after_seconds > 0) {
    // Capped before multiplying: a huge Retry-After neither overflows nor outlives the job.
    const int64_t cap_s = options.give_up_after_ms / 1000 + 1;
    const int64_t seconds = std::min<int64_t>(*retry_after_seconds, cap_s);
    delay = std::max(delay, seconds * 1000);
  }
  return delay;
}

FinishPlan PlanFinish(const OutboxOptions& options, const OutboxRow& row, const Delivery& delivery,
                      int64_t now_ms, std::mt19937_64& rng) {
  FinishPlan plan;
  plan.state = "done";
  plan.next_attempt_at = row.next_attempt_at;
  switch (delivery.outcome) {
    case Outcome::kDone:
      break;
    case Outcome::kRetry:
      plan.attempts_add = 1;
      if (now_ms - row.created_at >= options.give_up_after_ms) {
        plan.state = "failed";
        plan.last_error = "gave up after " + std::to_string(options.give_up_after_ms / 3600000) +
                          " h: " + delivery.description;
      } else {
        plan.state = "pending";
        // Never later than the give-up time: the attempt then is the last one.
        const int64_t remaining = row.created_at + options.give_up_after_ms - now_ms;
        plan.next_attempt_at =
            now_ms + std::min(BackoffDelay(options, row.attempts + 1,
                                           delivery.retry_after_seconds, rng),
                              remaining);
        plan.last_error = delivery.description;
      }
      break;
    case Outcome::kFailed:
      plan.attempts_add = 1;
      plan.state = "failed";
      plan.last_error = delivery.description;
      break;
  }
  return plan;
}

std::string DefaultLeaseOwner(uint64_t random) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  char out[320];
  std::snprintf(out, sizeof(out), "%s:%ld:%08" PRIx32, host, static_cast<long>(::getpid()),
                static_cast<uint32_t>(random));
  return out;
}

}  // namespace frontline
