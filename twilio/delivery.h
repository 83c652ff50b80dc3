// One delivery attempt of an outbox job through a RestClient (SPEC §6): the REST calls a job
// needs and the outcome they come to. Pure given the client: no database, no clock, no state.
//
// Thread-safety: safe from any number of threads at once, as long as the RestClient is (every
// RestClient implementation is: twilio/rest_client.h).
#ifndef FRONTLINE_TWILIO_DELIVERY_H_
#define FRONTLINE_TWILIO_DELIVERY_H_

#include <string>
#include <string_view>

#include "events/outbox.h"
#include "twilio/rest_client.h"

namespace frontline {

// Performs `job` through `client` (SPEC §6): kAddParticipant adds the identity;
// kSetParticipantAttributes fetches the participant, merges the job's keys where absent (empty
// attributes read as {}) and updates only when that changed something. A failed fetch decides
// the outcome; a job whose attributes_json is not a JSON object fails without a call; a
// participant whose attributes are not a JSON object (someone else's data we cannot merge
// into) fails after the fetch and is left as it is. Never throws except std::bad_alloc.
Delivery DeliverJob(const OutboxJob& job, RestClient* client);

// `existing` (a participant's attributes; empty reads as {}) with the members of the JSON
// object `additions` added where absent. `*changed` says whether anything was added; `*merged`
// is `existing` byte for byte (up to a NUL, where JSON parsing stops too) with the added
// members before its closing brace. False with `error` set, and nothing merged, when
// `additions` or `existing` is not a JSON object (invalid JSON, an array, a string, ...).
// Any nesting depth is safe (iterative parsing, no re-serialisation of `existing`).
[[nodiscard]] bool MergeAttributes(std::string_view existing, std::string_view additions,
                                   std::string* merged, bool* changed, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_DELIVERY_H_
