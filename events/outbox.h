// The durable outbox as request handlers see it (SPEC §6): Twilio REST calls that webhooks ask
// for are stored as jobs before the webhook is answered and delivered later in the background
// (twilio/dispatcher.h). This header holds the job, its deduplication key, what one delivery
// attempt came to, and the `Outbox` interface; events/sqlite_event_store.h implements it.
//
// Thread-safety: implementations of `Outbox` must be safe to call from several request threads
// at once. The free functions are pure.
#ifndef FRONTLINE_EVENTS_OUTBOX_H_
#define FRONTLINE_EVENTS_OUTBOX_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace frontline {

enum class JobAction {
  kAddParticipant,            // POST /v1/Conversations/{sid}/Participants Identity=...
  kSetParticipantAttributes,  // fetch the participant, merge attributes, update if changed
};

struct OutboxJob {
  JobAction action = JobAction::kAddParticipant;
  std::string conversation_sid;  // CH...
  std::string identity;          // kAddParticipant: the worker to add
  std::string participant_sid;   // kSetParticipantAttributes: MB...
  // kSetParticipantAttributes: a JSON object of the keys to set where the participant's
  // attributes lack them (customer_id, display_name, avatar); existing keys are kept.
  std::string attributes_json;
  // Not part of the job: the conversation's customer binding the webhook showed (SPEC §11,
  // normalised), which a store that is also the OptOutStore records in the conversation map in
  // the same commit as the job (as OptOutStore::MapConversation would), whether the job is new
  // or a duplicate; empty `map_customer`: nothing to record. One commit for both keeps a
  // routing webhook at one durable write.
  std::string map_customer;
  std::string map_proxy;
};

enum class EnqueueResult {
  kEnqueued,   // stored durably (committed) and the dispatcher woken
  kDuplicate,  // a job with the same key exists already (a Twilio retry): nothing stored
  kError,      // not stored; `error` says why
};

// The deduplication key of `job`: action and ConversationSid, plus the participant for
// attribute updates, so a webhook Twilio retries never causes a second REST call.
// "add:<CH>" or "attrs:<CH>:<MB>".
std::string OutboxKey(const OutboxJob& job);

// "add_participant" / "set_participant_attributes": the stored action names.
const char* JobActionName(JobAction action);

// Jobs waiting and jobs kept failed, for /healthz and /metrics.
struct OutboxCounts {
  int64_t pending = 0;
  int64_t failed = 0;
  // How long the oldest pending job has been waiting (now - its created_at, unix ms); 0 when
  // nothing is pending. Delivery that works keeps this near 0; /healthz reports it.
  int64_t oldest_pending_age_ms = 0;
};

// A pending job older than this means delivery is stuck: working delivery finishes a job
// within seconds, and the backoff reaches its 5 min cap only after many failed attempts.
// /healthz is "degraded" beyond it; examples/prometheus/frontline-fcgi.rules.yml alerts on
// frontline_outbox_oldest_pending_seconds with the same threshold.
inline constexpr int64_t kStalePendingMs = 5 * 60 * 1000;

// What one delivery attempt of a job came to (SPEC §6), as the store records it.
enum class Outcome {
  kDone,    // 2xx, 409, or error code 50433/50437 ("already exists"): nothing left to do
  kRetry,   // 429, 5xx, timeout, connection error: try again later
  kFailed,  // any other answer or error: keep the job with its error for an operator
};

struct Delivery {
  Outcome outcome = Outcome::kFailed;
  std::string description;  // DescribeResult of the deciding call, or why nothing was called
  std::optional<long> retry_after_seconds;
  int calls = 0;  // REST calls made
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Stores `job` durably unless a job with its key exists; kError with `error` set when it
  // could not be stored. On kDuplicate, `*stored` (when not null) is the job stored first
  // (e.g. the worker chosen the first time), so a retried webhook answers what it answered then.
  virtual EnqueueResult Enqueue(const OutboxJob& job, OutboxJob* stored, std::string* error) = 0;
  // Enqueue without wanting the stored job. (Implementations add `using Outbox::Enqueue;`.)
  EnqueueResult Enqueue(const OutboxJob& job, std::string* error) {
    return Enqueue(job, nullptr, error);
  }
  // Jobs waiting and jobs kept failed, and the oldest pending job's age (for /healthz and
  // /metrics); `error` set on failure.
  virtual OutboxCounts Counts(std::string* error) = 0;
  // The next turn of routing's round-robin over the workers (SPEC §5): shared by everything
  // that shares the store where the backend can (PostgreSQL: every host), else this process's
  // own counter (the default, and the fallback when the store cannot answer: a turn only
  // spreads the load).
  virtual uint64_t NextRoundRobinTurn() {
    return local_turn_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> local_turn_{0};
};

}  // namespace frontline

#endif  // FRONTLINE_EVENTS_OUTBOX_H_
