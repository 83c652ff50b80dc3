// The one answer every handler gives when the directory cannot answer (SPEC §1, §8): 503
// {"error":"directory unavailable"} with Retry-After, the detail in the request's log line, and
// a count in /metrics. Never a 404, an empty list or a guess. Stateless apart from the optional
// Metrics, which is thread-safe; safe from any thread.
#ifndef FRONTLINE_HANDLERS_UNAVAILABLE_H_
#define FRONTLINE_HANDLERS_UNAVAILABLE_H_

#include <string_view>

#include "handlers/http.h"
#include "handlers/services.h"

namespace frontline {

// Seconds in the Retry-After header: a fixed, short wait. A lock timeout or a replaced file is
// over within a second or two, and Twilio follows its own retry policy anyway; the header tells
// other clients (and people reading the answer) that trying again is the right move.
constexpr std::string_view kDirectoryRetryAfterSeconds = "1";

// The 503 answer; `detail` (the store's error) goes to the log only. Counts the answer in
// services.metrics when there is one.
Response DirectoryUnavailable(Services& services, std::string_view detail);

// Counts a directory failure that a handler deliberately answers without a 503 (the PRE-event
// fallback of onConversationAdd), so /metrics still shows the store failing.
void CountDirectoryUnavailable(Services& services);

// The 503 when the event store cannot answer about opt-outs or the conversation map (SPEC §11):
// {"error":"opt-outs unavailable"} with Retry-After; `detail` to the log only. On the
// onMessageAdd PRE event this rejects the message: when we cannot tell whether the customer
// opted out, we do not let a worker's message through.
Response OptOutsUnavailable(std::string_view detail);

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_UNAVAILABLE_H_
