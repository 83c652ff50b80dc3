// The durable outbox (SPEC §6): Twilio REST calls that webhooks ask for are stored as jobs in
// the directory database before the webhook is answered, then delivered in the background by a
// dispatcher. This header is the part request handlers use; implementations must be safe to
// call from several request threads at once.
#ifndef FRONTLINE_TWILIO_OUTBOX_H_
#define FRONTLINE_TWILIO_OUTBOX_H_

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
};

enum class EnqueueResult {
  kEnqueued,   // stored durably (committed) and the dispatcher woken
  kDuplicate,  // a job with the same key exists already (a Twilio retry): nothing stored
  kError,      // not stored; `error` says why
};

// The deduplication key of `job`: action and ConversationSid, plus the participant for
// attribute updates, so a webhook Twilio retries never causes a second REST call.
std::string OutboxKey(const OutboxJob& job);

class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual EnqueueResult Enqueue(const OutboxJob& job, std::string* error) = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_OUTBOX_H_
