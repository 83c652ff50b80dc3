// The route table and Dispatch, the single place that runs the pipeline of SPEC §1 and the
// single exception barrier: nothing thrown by a handler escapes it. Re-entrant; the table is
// immutable after static initialisation.
#ifndef FRONTLINE_HANDLERS_ROUTER_H_
#define FRONTLINE_HANDLERS_ROUTER_H_

#include <cstddef>
#include <string_view>

#include "handlers/http.h"
#include "handlers/services.h"

namespace frontline {

using Handler = Response (*)(const Request&, Services&);

// How much of the pipeline a route goes through.
enum class RouteKind {
  kTwilioForm,  // POST, form body checks (413/411/400/415/400) and X-Twilio-Signature (403)
  kPlainGet,    // GET without body or signature (health, metrics)
};

struct Route {
  std::string_view path;    // below the configured prefix, e.g. "/callbacks/crm"
  std::string_view method;  // "POST" or "GET"
  RouteKind kind;
  Handler handler;
};

// Runs SPEC §1 on `request` (whose `form` it fills) and returns the response to send.
// Never throws: any exception from a handler becomes a 500 with the detail in log_detail.
Response Dispatch(Request& request, Services& services) noexcept;

// Dispatch over another route table; for unit tests of the pipeline itself.
Response DispatchRoutes(const Route* routes, size_t route_count, Request& request,
                        Services& services) noexcept;

// The route `path` (with the configured prefix removed) resolves to, for the request log;
// "other" when it matches no route.
std::string_view RouteName(std::string_view path, std::string_view prefix);

// The routes by their position in the table, for counters kept in fixed arrays per route
// (handlers/metrics.h): RouteId is 0..kRouteCount-1 for a path that matches a route (whatever
// the method), kOtherRoute for one that matches none.
inline constexpr size_t kRouteCount = 8;
inline constexpr size_t kOtherRoute = kRouteCount;
size_t RouteId(std::string_view path, std::string_view prefix);
// The path of route `id` ("/callbacks/crm"), as RouteName gives it; "other" for kOtherRoute
// (and any larger id).
std::string_view RouteIdName(size_t id);

// The handlers, one per route file.
Response HandleCrm(const Request& request, Services& services);
Response HandleOutgoingConversation(const Request& request, Services& services);
Response HandleTemplates(const Request& request, Services& services);
Response HandleRouting(const Request& request, Services& services);
Response HandleConversations(const Request& request, Services& services);
Response HandleHealth(const Request& request, Services& services);
Response HandleMetrics(const Request& request, Services& services);

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_ROUTER_H_
