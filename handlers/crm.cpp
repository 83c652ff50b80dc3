// /callbacks/crm (SPEC §2): the "My Customers" list and the Customer Details screen.
#include <string>
#include <string_view>

#include "directory/customer_json.h"
#include "directory/directory.h"
#include "handlers/callback_log.h"
#include "handlers/json.h"
#include "handlers/router.h"
#include "handlers/unavailable.h"

namespace frontline {
namespace {

constexpr size_t kDefaultPageSize = 30;
constexpr size_t kMaxPageSize = 200;

// PageSize as a decimal integer in 1..kMaxPageSize. Absent or empty means the default (the
// app always sends "30", and FormParams treats absent and empty alike). Signs, spaces and
// anything else are refused rather than guessed at; leading zeros are harmless.
bool ParsePageSize(std::string_view text, size_t* page_size) {
  if (text.empty()) {
    *page_size = kDefaultPageSize;
    return true;
  }
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<size_t>(c - '0');
    if (value > kMaxPageSize) return false;  // also stops overflow on absurdly long input
  }
  if (value < 1) return false;
  *page_size = value;
  return true;
}

Response CustomersList(const Request& request, Directory& directory, Services& services) {
  const HandlerConfig& config = services.config;
  const FormParams& form = request.form;
  ListRequest list;
  if (!ParsePageSize(form.Get("PageSize"), &list.page_size)) {
    return ErrorResponse(400, "PageSize must be an integer from 1 to 200",
                         "PageSize '" + std::string(form.Get("PageSize")) + "'");
  }
  list.worker = std::string(form.Get("Worker"));
  list.all_workers = config.list_all_customers;
  // Without a Worker the list would be "customers assigned to nobody", which is no one's to
  // see; Twilio always asserts the Worker, so its absence is a malformed call.
  if (list.worker.empty() && !list.all_workers) {
    return ErrorResponse(400, "missing Worker");
  }
  list.query = std::string(form.Get("Query"));
  list.page_token = std::string(form.Get("NextPageToken"));
  // Anchor is the legacy cursor: when both arrive, the token we issued is the one to trust.
  if (list.page_token.empty()) list.anchor = std::string(form.Get("Anchor"));

  ListResult result = directory.ListCustomers(list);
  switch (result.status) {
    case ListResult::Status::kOk:
      break;
    case ListResult::Status::kBadPageToken:
      return ErrorResponse(400, "invalid NextPageToken", "NextPageToken '" + list.page_token + "'");
    case ListResult::Status::kBadAnchor:
      return ErrorResponse(400, "invalid Anchor", "Anchor '" + list.anchor + "'");
    case ListResult::Status::kUnavailable:
      // Not an empty list: the app would show "no customers" as if that were true.
      return DirectoryUnavailable(services, result.error);
  }

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "objects");
  w.StartObject();
  WriteKey(w, "customers");
  w.StartArray();  // always an array, even when empty: the app does not accept null
  for (const CustomerSummary& c : result.customers) WriteCustomerSummary(w, c);
  w.EndArray();
  // Present only when another page exists: its absence is how the app knows it reached the end.
  WriteOptionalMember(w, "next_page_token", result.next_page_token);
  // A boolean, not the seed's string "true": it tells the app we search server-side via Query.
  WriteKey(w, "searchable");
  w.Bool(true);
  w.EndObject();
  w.EndObject();
  return JsonResponse(200, buffer);
}

Response CustomerDetails(const Request& request, Directory& directory, Services& services) {
  const std::string_view customer_id = request.form.Get("CustomerId");
  if (customer_id.empty()) return ErrorResponse(400, "missing CustomerId");
  const Lookup<Customer> customer = directory.FindById(customer_id);
  if (customer.unavailable()) return DirectoryUnavailable(services, customer.error());
  if (customer.absent()) {
    return ErrorResponse(404, "customer not found",
                         "no customer '" + std::string(customer_id) + "'");
  }

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "objects");
  w.StartObject();
  WriteKey(w, "customer");
  WriteCustomerDetails(w, *customer);
  w.EndObject();
  w.EndObject();
  return JsonResponse(200, buffer);
}

Response Crm(const Request& request, Services& services) {
  const std::string_view location = request.form.Get("Location");
  const bool list = location == "GetCustomersList";
  if (!list && location != "GetCustomerDetailsByCustomerId") {
    return ErrorResponse(422, "unknown Location", "Location '" + std::string(location) + "'");
  }
  if (services.directory == nullptr) return ErrorResponse(503, "directory not configured");
  return list ? CustomersList(request, *services.directory, services)
              : CustomerDetails(request, *services.directory, services);
}

}  // namespace

Response HandleCrm(const Request& request, Services& services) {
  return TagForLog(Crm(request, services), request);
}

}  // namespace frontline
