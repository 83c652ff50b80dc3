#include "fcgi/adapter.h"

#include <cstdio>
#include <random>

namespace frontline {
namespace {

// How much of an oversized or overlong body we read and throw away to keep a kept-alive
// connection usable; beyond this the connection is closed instead.
constexpr size_t kDrainLimit = 1 << 20;

std::string Param(FCGX_Request& fcgi, const char* name) {
  const char* value = FCGX_GetParam(name, fcgi.envp);
  return value == nullptr ? std::string() : std::string(value);
}

// Reads and discards up to `limit` bytes; true when the stream ended within the limit.
bool Drain(FCGX_Stream* in, size_t limit) {
  char buffer[8192];
  size_t total = 0;
  while (total <= limit) {
    int n = FCGX_GetStr(buffer, sizeof buffer, in);
    if (n <= 0) return true;
    total += static_cast<size_t>(n);
  }
  return false;
}

bool ParseLength(const std::string& text, size_t* value) {
  if (text.empty() || text.size() > 15) return false;
  size_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *value = v;
  return true;
}

}  // namespace

std::string RequestIdFrom(const char* header) {
  if (header != nullptr) {
    std::string_view id(header);
    bool ok = !id.empty() && id.size() <= 128;
    for (char c : id) {
      bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.';
      if (!allowed) ok = false;
    }
    if (ok) return std::string(id);
  }
  thread_local std::mt19937_64 generator{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(generator()),
                static_cast<unsigned long long>(generator()));
  return buf;
}

std::string RoutingPath(std::string_view document_uri, std::string_view request_uri,
                        std::string_view script_name, std::string_view path_info) {
  if (!document_uri.empty()) return std::string(document_uri);
  // Apache passes no DOCUMENT_URI, and behind the shipped .htaccess rewrite SCRIPT_NAME names
  // the binary (/frontline/frontline.fcgi) rather than the URL Twilio called. REQUEST_URI is
  // that URL in both the rewrite and the ScriptAlias setups, and it is what the signature
  // covers, so the route is checked on the very path that was signed. It is taken verbatim:
  // a non-canonical spelling (//, /./, %XX) matches no route, so it can never reach a route
  // that the web server's own access rules (e.g. on /metrics) would have matched differently.
  if (!request_uri.empty()) return std::string(request_uri.substr(0, request_uri.find('?')));
  return std::string(script_name) + std::string(path_info);
}

Request ReadRequest(FCGX_Request& fcgi, size_t max_body) {
  Request request;
  request.method = Param(fcgi, "REQUEST_METHOD");
  request.request_uri = Param(fcgi, "REQUEST_URI");
  request.path = RoutingPath(Param(fcgi, "DOCUMENT_URI"), request.request_uri,
                             Param(fcgi, "SCRIPT_NAME"), Param(fcgi, "PATH_INFO"));
  request.content_type = Param(fcgi, "CONTENT_TYPE");
  request.signature = Param(fcgi, "HTTP_X_TWILIO_SIGNATURE");
  request.request_id = RequestIdFrom(FCGX_GetParam("HTTP_X_REQUEST_ID", fcgi.envp));
  request.https = Param(fcgi, "HTTPS");
  request.request_scheme = Param(fcgi, "REQUEST_SCHEME");
  request.http_host = Param(fcgi, "HTTP_HOST");
  request.server_name = Param(fcgi, "SERVER_NAME");
  request.server_port = Param(fcgi, "SERVER_PORT");

  std::string length_text = Param(fcgi, "CONTENT_LENGTH");
  size_t length = 0;
  if (length_text.empty()) {
    request.body_status = BodyStatus::kNoLength;
    if (!Drain(fcgi.in, kDrainLimit)) fcgi.keepConnection = 0;
    return request;
  }
  if (!ParseLength(length_text, &length)) {
    request.body_status = BodyStatus::kInvalidLength;
    if (!Drain(fcgi.in, kDrainLimit)) fcgi.keepConnection = 0;
    return request;
  }
  if (length > max_body) {
    request.body_status = BodyStatus::kTooLarge;
    if (!Drain(fcgi.in, kDrainLimit)) fcgi.keepConnection = 0;
    return request;
  }
  request.body.resize(length);
  size_t got = 0;
  while (got < length) {
    int n = FCGX_GetStr(request.body.data() + got, static_cast<int>(length - got), fcgi.in);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < length) {
    request.body.resize(got);
    request.body_status = BodyStatus::kShort;
    return request;
  }
  if (FCGX_GetChar(fcgi.in) != EOF) {
    request.body_status = BodyStatus::kLong;
    if (!Drain(fcgi.in, kDrainLimit)) fcgi.keepConnection = 0;
  }
  return request;
}

bool WriteResponse(FCGX_Request& fcgi, const Response& response) {
  std::string head = "Status: " + std::to_string(response.status) + " " +
                     ReasonPhrase(response.status) + "\r\n";
  if (!response.body.empty() || response.status != 204) {
    head += "Content-Type: " + response.content_type + "\r\n";
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  }
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  if (FCGX_PutStr(head.data(), static_cast<int>(head.size()), fcgi.out) < 0) return false;
  if (!response.body.empty() &&
      FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), fcgi.out) < 0) {
    return false;
  }
  return true;
}

}  // namespace frontline
