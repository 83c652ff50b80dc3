#include "handlers/unavailable.h"

#include <string>

#include "handlers/json.h"
#include "handlers/metrics.h"

namespace frontline {

Response DirectoryUnavailable(Services& services, std::string_view detail) {
  CountDirectoryUnavailable(services);
  Response response = ErrorResponse(503, "directory unavailable",
                                    std::string("directory unavailable: ") + std::string(detail));
  response.headers.emplace_back("Retry-After", std::string(kDirectoryRetryAfterSeconds));
  return response;
}

Response OptOutsUnavailable(std::string_view detail) {
  Response response = ErrorResponse(503, "opt-outs unavailable",
                                    std::string("opt-outs unavailable: ") + std::string(detail));
  response.headers.emplace_back("Retry-After", std::string(kDirectoryRetryAfterSeconds));
  return response;
}

void CountDirectoryUnavailable(Services& services) {
  if (services.metrics != nullptr) services.metrics->RecordDirectoryUnavailable();
}

}  // namespace frontline
