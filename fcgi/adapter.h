// Moves one request between libfcgi and the handlers: copies the FastCGI params into an owning
// Request, reads at most max-body bytes of the body, and writes a Response back as CGI output.
// Each call works on the caller's own FCGX_Request, so distinct threads may call it at once.
#ifndef FRONTLINE_FCGI_ADAPTER_H_
#define FRONTLINE_FCGI_ADAPTER_H_

#include <cstddef>
#include <string>
#include <string_view>

#include <fcgiapp.h>

#include "handlers/http.h"

namespace frontline {

// Reads `fcgi`'s params and body. A body over `max_body` is not kept (kTooLarge); its bytes are
// discarded up to a bound, and past it the connection is marked to close after the response so
// no stale input is mistaken for the next request.
Request ReadRequest(FCGX_Request& fcgi, size_t max_body);

// The path a request is routed on, before --route-prefix is removed: nginx's DOCUMENT_URI
// when present, else the path part of REQUEST_URI (Apache mod_fcgid, lighttpd), else
// SCRIPT_NAME + PATH_INFO for a server that passes neither.
std::string RoutingPath(std::string_view document_uri, std::string_view request_uri,
                        std::string_view script_name, std::string_view path_info);

// Writes status line, headers and body. Returns false when the web server went away.
bool WriteResponse(FCGX_Request& fcgi, const Response& response);

// X-Request-Id when it is a sane token (1..128 of [A-Za-z0-9._-]), else a new random id.
std::string RequestIdFrom(const char* header);

}  // namespace frontline

#endif  // FRONTLINE_FCGI_ADAPTER_H_
