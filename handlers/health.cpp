#include <unistd.h>

#include "directory/directory.h"
#include "handlers/json.h"
#include "handlers/router.h"
#include "twilio/outbox.h"

namespace frontline {

// Liveness plus the state of what a request depends on. 200 when everything answers, 503 when
// the directory does not, so a load balancer takes this process out of rotation.
Response HandleHealth(const Request&, Services& services) {
  const char* directory_state = "not configured";
  bool healthy = true;
  if (services.directory != nullptr) {
    std::string error;
    healthy = services.directory->Ping(&error);
    directory_state = healthy ? "ok" : "error";
  }
  OutboxCounts outbox;
  if (services.outbox != nullptr) {
    std::string error;
    outbox = services.outbox->Counts(&error);
    if (!error.empty()) healthy = false;
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "status");
  WriteString(w, healthy ? "ok" : "degraded");
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
    w.EndObject();
  }
  w.EndObject();
  return JsonResponse(healthy ? 200 : 503, buffer);
}

}  // namespace frontline
