#include "handlers/router.h"

#include <exception>
#include <iterator>
#include <string>

#include "handlers/form.h"
#include "handlers/json.h"
#include "handlers/metrics.h"
#include "twilio/signature.h"
#include "twilio/url.h"

namespace frontline {
namespace {

// Callback routes are added here by the issues that implement them; a path that is not in this
// table is a 404, never a placeholder answer.
constexpr Route kRoutes[] = {
    {"/callbacks/crm", "POST", RouteKind::kTwilioForm, &HandleCrm},
    {"/callbacks/outgoing-conversation", "POST", RouteKind::kTwilioForm,
     &HandleOutgoingConversation},
    {"/callbacks/templates", "POST", RouteKind::kTwilioForm, &HandleTemplates},
    {"/callbacks/routing", "POST", RouteKind::kTwilioForm, &HandleRouting},
    {"/callbacks/twilio-conversations", "POST", RouteKind::kTwilioForm, &HandleConversations},
    {"/callbacks/conversations", "POST", RouteKind::kTwilioForm, &HandleConversations},
    {"/healthz", "GET", RouteKind::kPlainGet, &HandleHealth},
    {"/metrics", "GET", RouteKind::kPlainGet, &HandleMetrics},
};
static_assert(std::size(kRoutes) == kRouteCount, "router.h: kRouteCount is the table's size");

// `path` with `prefix` removed, or nullopt-like empty view when the prefix does not match.
bool StripPrefix(std::string_view path, std::string_view prefix, std::string_view* rest) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (path.substr(0, prefix.size()) != prefix) return false;
  *rest = path.substr(prefix.size());
  return true;
}

Response CheckBody(const Request& request, const HandlerConfig& config) {
  switch (request.body_status) {
    case BodyStatus::kOk:
      break;
    case BodyStatus::kTooLarge:
      return ErrorResponse(413, "request body too large",
                           "body over max-body of " + std::to_string(config.max_body) + " bytes");
    case BodyStatus::kNoLength:
      return ErrorResponse(411, "Content-Length required");
    case BodyStatus::kInvalidLength:
      return ErrorResponse(400, "invalid Content-Length");
    case BodyStatus::kShort:
      return ErrorResponse(400, "body shorter than Content-Length");
    case BodyStatus::kLong:
      return ErrorResponse(400, "body longer than Content-Length");
  }
  if (request.body.size() > config.max_body) {
    return ErrorResponse(413, "request body too large");
  }
  return Response{};
}

void CountSignatureFailure(Services& services, SignatureFailure reason) {
  if (services.metrics != nullptr) services.metrics->RecordSignatureFailure(reason);
}

Response CheckSignature(const Request& request, Services& services) {
  const HandlerConfig& config = services.config;
  if (config.skip_signature) return Response{};
  if (request.signature.empty()) {
    CountSignatureFailure(services, SignatureFailure::kMissing);
    return ErrorResponse(403, "missing X-Twilio-Signature");
  }
  std::string url = config.public_url.empty()
                        ? RebuildSignedUrl(request.https, request.request_scheme,
                                           request.http_host, request.server_name,
                                           request.server_port, request.request_uri)
                        : SignedUrlFromPublicBase(config.public_url, request.request_uri);
  if (!ValidateTwilioSignature(config.auth_token, url, request.form.pairs(),
                               request.signature)) {
    CountSignatureFailure(services, SignatureFailure::kInvalid);
    // The public URL may carry basic-auth credentials and the query a caller's secrets: the
    // log gets their shape, not their values.
    return ErrorResponse(403, "invalid X-Twilio-Signature",
                         "signature does not match " + RedactUrl(url));
  }
  return Response{};
}

Response RunPipeline(const Route* routes, size_t route_count, Request& request,
                     Services& services) {
  const HandlerConfig& config = services.config;
  std::string_view path;
  const Route* found = nullptr;
  std::string allow;
  if (StripPrefix(request.path, config.route_prefix, &path)) {
    for (const Route* route = routes; route != routes + route_count; ++route) {
      if (route->path != path) continue;
      if (route->method == request.method) {
        found = route;
        break;
      }
      if (!allow.empty()) allow += ", ";
      allow += route->method;
    }
  }
  if (found == nullptr) {
    if (allow.empty()) return ErrorResponse(404, "not found", "no route for " + request.path);
    Response response = ErrorResponse(405, "method not allowed", request.method + " " + request.path);
    response.headers.emplace_back("Allow", allow);
    return response;
  }
  if (found->kind == RouteKind::kTwilioForm) {
    Response rejected = CheckBody(request, config);
    if (rejected.status != 200) return rejected;
    if (!IsFormContentType(request.content_type)) {
      return ErrorResponse(415, "content type must be application/x-www-form-urlencoded",
                           "content type was '" + request.content_type + "'");
    }
    std::string error;
    if (!DecodeForm(request.body, &request.form, &error)) {
      return ErrorResponse(400, "malformed form body", error);
    }
    rejected = CheckSignature(request, services);
    if (rejected.status != 200) return rejected;
  }
  return found->handler(request, services);
}

}  // namespace

Response Dispatch(Request& request, Services& services) noexcept {
  return DispatchRoutes(kRoutes, std::size(kRoutes), request, services);
}

Response DispatchRoutes(const Route* routes, size_t route_count, Request& request,
                        Services& services) noexcept {
  try {
    return RunPipeline(routes, route_count, request, services);
  } catch (const std::exception& e) {
    return ErrorResponse(500, "internal error", std::string("handler threw: ") + e.what());
  } catch (...) {
    return ErrorResponse(500, "internal error", "handler threw a non-standard exception");
  }
}

std::string_view RouteName(std::string_view path, std::string_view prefix) {
  return RouteIdName(RouteId(path, prefix));
}

size_t RouteId(std::string_view path, std::string_view prefix) {
  std::string_view rest;
  if (!StripPrefix(path, prefix, &rest)) return kOtherRoute;
  for (size_t i = 0; i < kRouteCount; ++i) {
    if (kRoutes[i].path == rest) return i;
  }
  return kOtherRoute;
}

std::string_view RouteIdName(size_t id) { return id < kRouteCount ? kRoutes[id].path : "other"; }

}  // namespace frontline
