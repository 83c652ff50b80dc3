// Request-log tagging shared by the Frontline callback handlers (crm, outgoing-conversation,
// templates): every response they return names its Location and Worker (SPEC §10).
// Stateless; safe from any thread.
#ifndef FRONTLINE_HANDLERS_CALLBACK_LOG_H_
#define FRONTLINE_HANDLERS_CALLBACK_LOG_H_

#include <string>
#include <utility>

#include "handlers/http.h"

namespace frontline {

// `response` with log_operation = the Location parameter and log_worker = the Worker
// parameter of `request`. Handlers pass every return value through it, so an error answered
// before the Location was even checked is still attributed in the log.
inline Response TagForLog(Response response, const Request& request) {
  response.log_operation = std::string(request.form.Get("Location"));
  response.log_worker = std::string(request.form.Get("Worker"));
  return response;
}

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_CALLBACK_LOG_H_
