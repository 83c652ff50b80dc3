#include "events/outbox.h"

namespace frontline {

std::string OutboxKey(const OutboxJob& job) {
  switch (job.action) {
    case JobAction::kAddParticipant:
      return "add:" + job.conversation_sid;
    case JobAction::kSetParticipantAttributes:
      return "attrs:" + job.conversation_sid + ":" + job.participant_sid;
  }
  return std::string();
}

const char* JobActionName(JobAction action) {
  return action == JobAction::kSetParticipantAttributes ? "set_participant_attributes"
                                                        : "add_participant";
}

}  // namespace frontline
