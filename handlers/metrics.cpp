#include "handlers/metrics.h"

#include <cstdio>

#include "handlers/http.h"
#include "handlers/router.h"
#include "handlers/services.h"
#include "events/outbox.h"

namespace frontline {
namespace {

// Route names are our own constants or "other", so they need no label escaping beyond this.
std::string LabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string FormatDouble(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

}  // namespace

void Metrics::RecordRequest(std::string_view route, int status, int64_t micros) {
  double seconds = static_cast<double>(micros) / 1e6;
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{std::string(route), status}];
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) ++bucket_counts_[i];
  }
  ++latency_count_;
  latency_sum_seconds_ += seconds;
}

void Metrics::RecordDelivery(std::string_view outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++deliveries_[std::string(outcome)];
}

std::string Metrics::Render() const {
  std::string out;
  out += "# HELP frontline_build_info Version of the running responder.\n";
  out += "# TYPE frontline_build_info gauge\n";
  out += "frontline_build_info{version=\"" FRONTLINE_VERSION "\"} 1\n";
  std::lock_guard<std::mutex> lock(mutex_);
  out += "# HELP frontline_requests_total Requests answered, by route and HTTP status.\n";
  out += "# TYPE frontline_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out += "frontline_requests_total{route=\"" + LabelValue(key.first) + "\",code=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP frontline_request_duration_seconds Time from request read to response written.\n";
  out += "# TYPE frontline_request_duration_seconds histogram\n";
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    out += "frontline_request_duration_seconds_bucket{le=\"" + FormatDouble(kLatencyBuckets[i]) +
           "\"} " + std::to_string(bucket_counts_[i]) + "\n";
  }
  out += "frontline_request_duration_seconds_bucket{le=\"+Inf\"} " +
         std::to_string(latency_count_) + "\n";
  out += "frontline_request_duration_seconds_sum " + FormatDouble(latency_sum_seconds_) + "\n";
  out += "frontline_request_duration_seconds_count " + std::to_string(latency_count_) + "\n";
  out += "# HELP frontline_directory_unavailable_total Requests answered without the directory"
         " because it could not answer.\n";
  out += "# TYPE frontline_directory_unavailable_total counter\n";
  out += "frontline_directory_unavailable_total " +
         std::to_string(directory_unavailable_.load(std::memory_order_relaxed)) + "\n";
  out += "# HELP frontline_twilio_deliveries_total Outbox delivery attempts to the Twilio API, by outcome.\n";
  out += "# TYPE frontline_twilio_deliveries_total counter\n";
  for (const auto& [outcome, count] : deliveries_) {
    out += "frontline_twilio_deliveries_total{outcome=\"" + LabelValue(outcome) + "\"} " +
           std::to_string(count) + "\n";
  }
  return out;
}

Response HandleMetrics(const Request&, Services& services) {
  Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  if (services.metrics != nullptr) response.body = services.metrics->Render();
  if (services.outbox != nullptr) {
    std::string error;
    OutboxCounts counts = services.outbox->Counts(&error);
    if (error.empty()) {
      response.body += "# HELP frontline_outbox_jobs Outbox jobs waiting or kept failed (all processes).\n";
      response.body += "# TYPE frontline_outbox_jobs gauge\n";
      response.body += "frontline_outbox_jobs{state=\"pending\"} " + std::to_string(counts.pending) + "\n";
      response.body += "frontline_outbox_jobs{state=\"failed\"} " + std::to_string(counts.failed) + "\n";
    }
  }
  return response;
}

}  // namespace frontline
