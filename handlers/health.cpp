#include <unistd.h>

#include "directory/directory.h"
#include "handlers/json.h"
#include "handlers/router.h"

namespace frontline {

// Liveness plus the state of what a request depends on. 200 when everything answers, 503 when
// the directory does not, so a load balancer takes this process out of rotation.
Response HandleHealth(const Request&, Services& services) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  bool healthy = true;
  w.StartObject();
  WriteKey(w, "version");
  WriteString(w, FRONTLINE_VERSION);
  WriteKey(w, "pid");
  w.Int64(static_cast<int64_t>(getpid()));
  WriteKey(w, "directory");
  if (services.directory == nullptr) {
    WriteString(w, "not configured");
  } else {
    std::string error;
    if (services.directory->Ping(&error)) {
      WriteString(w, "ok");
    } else {
      healthy = false;
      WriteString(w, "error");
    }
  }
  WriteKey(w, "status");
  WriteString(w, healthy ? "ok" : "degraded");
  w.EndObject();
  return JsonResponse(healthy ? 200 : 503, buffer);
}

}  // namespace frontline
