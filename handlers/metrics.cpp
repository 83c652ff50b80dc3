#include "handlers/metrics.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "directory/directory.h"
#include "events/outbox.h"
#include "handlers/http.h"
#include "handlers/router.h"
#include "handlers/services.h"

namespace frontline {
namespace {

// `value` counted in 1/`units_per_one` (10^`digits`) of a unit, as an exact decimal without
// trailing zeros: "0", "12", "0.00025", "2.5". Integer arithmetic, so sums and bucket bounds
// read exactly as they are kept, with no floating-point rounding.
std::string FormatFixed(uint64_t value, uint64_t units_per_one, int digits) {
  std::string out = std::to_string(value / units_per_one);
  uint64_t fraction = value % units_per_one;
  if (fraction == 0) return out;
  char buf[32];
  std::snprintf(buf, sizeof buf, ".%0*llu", digits, static_cast<unsigned long long>(fraction));
  std::string_view text(buf);
  while (text.back() == '0') text.remove_suffix(1);
  out += text;
  return out;
}

std::string Seconds(uint64_t micros) { return FormatFixed(micros, 1000000, 6); }

void Family(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

// name{label="value"} number: our label values are our own constants (route paths, codes,
// outcome names), which need no escaping.
void Sample(std::string* out, std::string_view name, std::string_view labels,
            const std::string& value) {
  *out += name;
  if (!labels.empty()) {
    *out += '{';
    *out += labels;
    *out += '}';
  }
  *out += ' ';
  *out += value;
  *out += '\n';
}

std::string Label(std::string_view key, std::string_view value) {
  std::string text(key);
  text += "=\"";
  text += value;
  text += '"';
  return text;
}

const char* SignatureFailureName(SignatureFailure reason) {
  switch (reason) {
    case SignatureFailure::kMissing:
      return "missing";
    case SignatureFailure::kInvalid:
      return "invalid";
  }
  return "invalid";
}

constexpr Outcome kOutcomes[] = {Outcome::kDone, Outcome::kRetry, Outcome::kFailed};

}  // namespace

size_t Metrics::StatusSlot(int status) {
  for (size_t i = 0; i < kStatusCodes.size(); ++i) {
    if (kStatusCodes[i] == status) return i;
  }
  int status_class = status / 100;
  if (status_class < 1 || status_class > 5) status_class = 5;
  return kStatusCodes.size() + static_cast<size_t>(status_class - 1);
}

std::string Metrics::StatusLabel(size_t slot) {
  if (slot < kStatusCodes.size()) return std::to_string(kStatusCodes[slot]);
  return std::to_string(slot - kStatusCodes.size() + 1) + "xx";
}

void Metrics::RecordRequest(size_t route, int status, int64_t micros) {
  RouteCounters& counters = routes_[std::min(route, kOtherRoute)];
  Add(counters.requests[StatusSlot(status)]);
  micros = std::max<int64_t>(micros, 0);
  // The first bound >= micros: `le` is "less than or equal".
  auto bound = std::lower_bound(kLatencyBucketsMicros.begin(), kLatencyBucketsMicros.end(), micros);
  Add(counters.buckets[static_cast<size_t>(bound - kLatencyBucketsMicros.begin())]);
  counters.sum_micros.fetch_add(static_cast<uint64_t>(micros), std::memory_order_relaxed);
}

void Metrics::RecordSignatureFailure(SignatureFailure reason) {
  Add(signature_failures_[static_cast<size_t>(reason)]);
}

void Metrics::RecordRestCall(RestCallOutcome outcome) {
  Add(rest_calls_[static_cast<size_t>(outcome)]);
}

void Metrics::RecordDelivery(Outcome outcome) { Add(deliveries_[static_cast<size_t>(outcome)]); }

std::string Metrics::Render() const {
  static_assert(static_cast<size_t>(RestCallOutcome::kOther) + 1 == kRestCallOutcomeCount);
  static_assert(static_cast<size_t>(SignatureFailure::kInvalid) + 1 == kSignatureFailureCount);
  static_assert(static_cast<size_t>(Outcome::kFailed) + 1 == kOutcomeCount);
  std::string out;
  out.reserve(8192);
  Family(&out, "frontline_build_info", "gauge", "Version of the running responder.");
  Sample(&out, "frontline_build_info", Label("version", FRONTLINE_VERSION), "1");

  Family(&out, "frontline_requests_total", "counter",
         "Requests answered, by route and HTTP status (a status without its own code under its "
         "class, e.g. 5xx).");
  for (size_t route = 0; route < kRouteSlots; ++route) {
    const std::string route_label = Label("route", RouteIdName(route));
    for (size_t slot = 0; slot < kStatusSlots; ++slot) {
      uint64_t count = Read(routes_[route].requests[slot]);
      if (count == 0) continue;
      Sample(&out, "frontline_requests_total", route_label + "," + Label("code", StatusLabel(slot)),
             std::to_string(count));
    }
  }

  Family(&out, "frontline_request_duration_seconds", "histogram",
         "Time from request read to response written, by route.");
  for (size_t route = 0; route < kRouteSlots; ++route) {
    const RouteCounters& counters = routes_[route];
    std::array<uint64_t, kBucketSlots> buckets;
    uint64_t count = 0;
    for (size_t i = 0; i < kBucketSlots; ++i) {
      buckets[i] = Read(counters.buckets[i]);
      count += buckets[i];
    }
    if (count == 0) continue;
    const std::string route_label = Label("route", RouteIdName(route));
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBucketsMicros.size(); ++i) {
      cumulative += buckets[i];
      Sample(
          &out, "frontline_request_duration_seconds_bucket",
          route_label + "," + Label("le", Seconds(static_cast<uint64_t>(kLatencyBucketsMicros[i]))),
          std::to_string(cumulative));
    }
    Sample(&out, "frontline_request_duration_seconds_bucket",
           route_label + "," + Label("le", "+Inf"), std::to_string(count));
    Sample(&out, "frontline_request_duration_seconds_sum", route_label,
           Seconds(Read(counters.sum_micros)));
    Sample(&out, "frontline_request_duration_seconds_count", route_label, std::to_string(count));
  }

  Family(&out, "frontline_signature_failures_total", "counter",
         "Requests refused with 403 for their X-Twilio-Signature, by reason (missing, invalid).");
  for (SignatureFailure reason : {SignatureFailure::kMissing, SignatureFailure::kInvalid}) {
    Sample(&out, "frontline_signature_failures_total",
           Label("reason", SignatureFailureName(reason)),
           std::to_string(Read(signature_failures_[static_cast<size_t>(reason)])));
  }

  Family(&out, "frontline_twilio_rest_calls_total", "counter",
         "HTTP calls to the Twilio REST API (not jobs), by outcome: 2xx, 4xx (but 429), 429, 5xx, "
         "timeout, network, other.");
  for (size_t i = 0; i < kRestCallOutcomeCount; ++i) {
    Sample(&out, "frontline_twilio_rest_calls_total",
           Label("outcome", RestCallOutcomeName(static_cast<RestCallOutcome>(i))),
           std::to_string(Read(rest_calls_[i])));
  }

  Family(&out, "frontline_twilio_deliveries_total", "counter",
         "Outbox delivery attempts (jobs) by this process, by outcome: done, retry, failed.");
  for (Outcome outcome : kOutcomes) {
    Sample(&out, "frontline_twilio_deliveries_total", Label("outcome", OutcomeName(outcome)),
           std::to_string(Read(deliveries_[static_cast<size_t>(outcome)])));
  }

  Family(&out, "frontline_directory_unavailable_total", "counter",
         "Requests answered without the directory because it could not answer.");
  Sample(&out, "frontline_directory_unavailable_total", "",
         std::to_string(Read(directory_unavailable_)));

  Family(&out, "frontline_optout_keywords_total", "counter",
         "Customer keyword messages recorded, by change: opt_out (STOP...), opt_in "
         "(START...).");
  Sample(&out, "frontline_optout_keywords_total", Label("change", "opt_out"),
         std::to_string(Read(opt_outs_)));
  Sample(&out, "frontline_optout_keywords_total", Label("change", "opt_in"),
         std::to_string(Read(opt_ins_)));
  Family(&out, "frontline_optout_blocked_total", "counter",
         "Refused because the customer opted out, by what: message (451 on onMessageAdd), "
         "new_conversation (403 on GetProxyAddress).");
  static_assert(static_cast<size_t>(OptOutBlock::kNewConversation) + 1 == kOptOutBlockCount);
  Sample(&out, "frontline_optout_blocked_total", Label("what", "message"),
         std::to_string(Read(opt_out_blocks_[static_cast<size_t>(OptOutBlock::kMessage)])));
  Sample(&out, "frontline_optout_blocked_total", Label("what", "new_conversation"),
         std::to_string(
             Read(opt_out_blocks_[static_cast<size_t>(OptOutBlock::kNewConversation)])));
  return out;
}

std::string RenderStoreGauges(Services& services) {
  std::string out;
  if (services.directory != nullptr) {
    std::string error;
    bool up = services.directory->Ping(&error);
    Family(&out, "frontline_directory_up", "gauge",
           "1 when the directory answered this scrape, 0 when it could not.");
    Sample(&out, "frontline_directory_up", "", up ? "1" : "0");
  }
  if (services.outbox == nullptr) return out;
  std::string error;
  OutboxCounts counts = services.outbox->Counts(&error);
  const bool up = error.empty();
  Family(&out, "frontline_outbox_up", "gauge",
         "1 when the outbox store answered this scrape, 0 when it could not.");
  Sample(&out, "frontline_outbox_up", "", up ? "1" : "0");
  if (!up) return out;
  Family(&out, "frontline_outbox_jobs", "gauge",
         "Outbox jobs waiting or kept failed (all processes).");
  Sample(&out, "frontline_outbox_jobs", Label("state", "pending"), std::to_string(counts.pending));
  Sample(&out, "frontline_outbox_jobs", Label("state", "failed"), std::to_string(counts.failed));
  const std::string help =
      "How long the oldest pending outbox job has waited; 0 when none is pending (/healthz is "
      "degraded above " +
      std::to_string(kStalePendingMs / 1000) + ").";
  Family(&out, "frontline_outbox_oldest_pending_seconds", "gauge", help.c_str());
  Sample(&out, "frontline_outbox_oldest_pending_seconds", "",
         FormatFixed(static_cast<uint64_t>(std::max<int64_t>(counts.oldest_pending_age_ms, 0)),
                     1000, 3));
  return out;
}

Response HandleMetrics(const Request&, Services& services) {
  Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  if (services.metrics != nullptr) response.body = services.metrics->Render();
  response.body += RenderStoreGauges(services);
  return response;
}

}  // namespace frontline
