#include <unistd.h>

#include <string>

#include "directory/directory.h"
#include "handlers/json.h"
#include "handlers/router.h"
#include "events/outbox.h"

namespace frontline {
namespace {

void AppendReason(std::string* reasons, const std::string& reason) {
  if (!reasons->empty()) *reasons += "; ";
  *reasons += reason;
}

}  // namespace

// Liveness plus the state of what a request depends on, for monitors and load balancers:
// - 503 "unavailable" when the directory or the outbox does not answer, so a load balancer
//   takes this process out of rotation (requests would fail);
// - 200 "degraded" with a "reason" when requests are answered but Twilio REST jobs are not
//   getting delivered: jobs pending that this process cannot deliver (no Account SID or auth
//   token), or a pending job older than 5 minutes (Twilio failing, or nobody delivering);
// - 200 "ok" otherwise.
// The reason is short and names no internal detail: /healthz is usually public.
Response HandleHealth(const Request&, Services& services) {
  const char* directory_state = "not configured";
  std::string unavailable;
  if (services.directory != nullptr) {
    std::string error;
    bool ok = services.directory->Ping(&error);
    directory_state = ok ? "ok" : "error";
    if (!ok) AppendReason(&unavailable, "directory not answering");
  }
  OutboxCounts outbox;
  std::string degraded;
  if (services.outbox != nullptr) {
    std::string error;
    outbox = services.outbox->Counts(&error);
    if (!error.empty()) {
      AppendReason(&unavailable, "outbox not answering");
    } else if (outbox.pending > 0) {
      if (!services.config.delivers_outbox) {
        AppendReason(&degraded, std::to_string(outbox.pending) +
                                    " outbox jobs pending and this process cannot deliver them "
                                    "(twilio.account-sid or the auth token is not set)");
      }
      if (outbox.oldest_pending_age_ms > kStalePendingMs) {
        AppendReason(&degraded, "the oldest pending outbox job has waited " +
                                    std::to_string(outbox.oldest_pending_age_ms / 1000) +
                                    " s (over " + std::to_string(kStalePendingMs / 1000) + " s)");
      }
    }
  }
  const bool available = unavailable.empty();
  const std::string& reason = available ? degraded : unavailable;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "status");
  WriteString(w, !available ? "unavailable" : degraded.empty() ? "ok" : "degraded");
  if (!reason.empty()) {
    WriteKey(w, "reason");
    WriteString(w, reason);
  }
  WriteKey(w, "version");
  WriteString(w, FRONTLINE_VERSION);
  WriteKey(w, "pid");
  w.Int64(static_cast<int64_t>(getpid()));
  WriteKey(w, "directory");
  WriteString(w, directory_state);
  if (services.outbox != nullptr) {
    WriteKey(w, "outbox");
    w.StartObject();
    WriteKey(w, "pending");
    w.Int64(outbox.pending);
    WriteKey(w, "failed");
    w.Int64(outbox.failed);
    if (outbox.pending > 0) {
      WriteKey(w, "oldest_pending_seconds");
      w.Int64(outbox.oldest_pending_age_ms / 1000);
    }
    w.EndObject();
  }
  w.EndObject();
  return JsonResponse(available ? 200 : 503, buffer);
}

}  // namespace frontline
