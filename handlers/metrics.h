// In-process counters for /metrics (Prometheus text format 0.0.4, SPEC §10): requests by route
// and HTTP status, a latency histogram per route, signature failures by reason, Twilio REST calls
// by outcome, outbox deliveries by outcome, and requests answered without the directory. The
// gauges read from the stores at scrape time (outbox pending and failed jobs, the oldest pending
// job's age, whether each store answers) are not kept here: HandleMetrics appends them. Each
// process keeps its own counters; scrape each process's socket for a complete view.
//
// Cheap on the request path: every Record* is one to three relaxed atomic additions into fixed
// arrays (the routes are the fixed table of handlers/router.h, the status codes a fixed list
// with one slot per class for any other, the outcomes small enums): no lock, no allocation, no
// string built. Relaxed order is enough because nothing else is published through a counter.
//
// Thread-safety: every member function may be called from any number of threads at once. Render
// reads each counter once, so a request finishing during a scrape may show in
// frontline_requests_total and not yet in its histogram (Prometheus tolerates that), but the
// +Inf bucket and _count of a histogram are the same reads, so each histogram is consistent.
#ifndef FRONTLINE_HANDLERS_METRICS_H_
#define FRONTLINE_HANDLERS_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "events/outbox.h"       // Outcome
#include "handlers/router.h"     // kRouteCount
#include "twilio/rest_client.h"  // RestCallOutcome

namespace frontline {

struct Services;

// Why a request was refused with 403 before its handler (SPEC §1 step 5, §7).
enum class SignatureFailure {
  kMissing,  // "missing": no X-Twilio-Signature header
  kInvalid,  // "invalid": a signature that does not match the URL and parameters
};
inline constexpr size_t kSignatureFailureCount = 2;

// What SPEC §11 refused for a customer who opted out.
enum class OptOutBlock {
  kMessage,          // "message": a worker's message, 451 on the onMessageAdd PRE event
  kNewConversation,  // "new_conversation": GetProxyAddress, 403
};
inline constexpr size_t kOptOutBlockCount = 2;

class Metrics {
 public:
  // Upper bounds of each route's latency histogram, in microseconds (rendered in seconds): from
  // a page served from SQLite's cache to a lock wait that ends in a 503.
  static constexpr std::array<int64_t, 15> kLatencyBucketsMicros = {
      100,   250,    500,    1000,   2500,    5000,    10000,  25000,
      50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
  // The statuses counted each under its own code: those of SPEC's pipeline and handlers, 451
  // (§11's opt-outs) included, and 204, which the adapter knows. Any other is
  // counted under its class ("1xx" .. "5xx"; a status outside 100..599 under "5xx", as the web
  // server turns it into a 502), so code=~"5.." still sees it.
  static constexpr std::array<int, 13> kStatusCodes = {200, 204, 400, 403, 404, 405, 411,
                                                       413, 415, 422, 451, 500, 503};

  // One request answered: `route` is a RouteId (handlers/router.h; anything out of range counts
  // as kOtherRoute), `status` the status sent, `micros` the time from reading the request to
  // writing the response (a negative value counts as 0).
  void RecordRequest(size_t route, int status, int64_t micros);
  // One request refused with 403 for its X-Twilio-Signature.
  void RecordSignatureFailure(SignatureFailure reason);
  // One HTTP exchange with the Twilio REST API (CurlRestClientConfig::on_call).
  void RecordRestCall(RestCallOutcome outcome);
  // One outbox delivery attempt (a job, which may take several REST calls) and its outcome.
  void RecordDelivery(Outcome outcome);
  // One request answered without the directory because it could not answer (a 503, or the
  // onConversationAdd fallback).
  void RecordDirectoryUnavailable() { Add(directory_unavailable_); }
  // A customer's keyword recorded an opt-out (`opted_out`) or an opt-in (SPEC §11).
  void RecordOptOutChange(bool opted_out) { Add(opted_out ? opt_outs_ : opt_ins_); }
  // One message or new conversation refused because its customer opted out.
  void RecordOptOutBlock(OptOutBlock what) { Add(opt_out_blocks_[static_cast<size_t>(what)]); }

  // The counters' exposition, one sample per line, each family with its HELP and TYPE. Counters
  // with a fixed label set (signature failures, REST calls, deliveries) are always written, zeros
  // included, so that increase() sees their first event; requests and histograms only for the
  // route and status pairs seen, which keeps a process's exposition short.
  std::string Render() const;

 private:
  static constexpr size_t kRouteSlots = kRouteCount + 1;  // the table's routes, then "other"
  static constexpr size_t kStatusSlots = kStatusCodes.size() + 5;  // then 1xx..5xx
  // Per bucket, not cumulative (one addition per request); the last is above the largest bound.
  static constexpr size_t kBucketSlots = kLatencyBucketsMicros.size() + 1;
  static constexpr size_t kOutcomeCount = 3;  // Outcome: done, retry, failed

  using Counter = std::atomic<uint64_t>;
  struct RouteCounters {
    std::array<Counter, kStatusSlots> requests{};
    std::array<Counter, kBucketSlots> buckets{};
    Counter sum_micros{0};
  };

  static void Add(Counter& counter) { counter.fetch_add(1, std::memory_order_relaxed); }
  static uint64_t Read(const Counter& counter) { return counter.load(std::memory_order_relaxed); }
  // The slot of `status` in RouteCounters::requests, and the label it is rendered with.
  static size_t StatusSlot(int status);
  static std::string StatusLabel(size_t slot);

  std::array<RouteCounters, kRouteSlots> routes_{};
  std::array<Counter, kSignatureFailureCount> signature_failures_{};
  std::array<Counter, kRestCallOutcomeCount> rest_calls_{};
  std::array<Counter, kOutcomeCount> deliveries_{};
  Counter directory_unavailable_{0};
  Counter opt_outs_{0};
  Counter opt_ins_{0};
  std::array<Counter, kOptOutBlockCount> opt_out_blocks_{};
};

// The gauges /metrics reads from the stores at scrape time, in exposition format: whether the
// directory and the outbox answer (frontline_directory_up, frontline_outbox_up), and, when the
// outbox answers, its pending and failed jobs and the oldest pending job's age, from the same
// Outbox::Counts that /healthz judges "degraded" by. A store that is not configured writes
// nothing. Never throws but std::bad_alloc; safe from any thread (the stores are).
std::string RenderStoreGauges(Services& services);

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_METRICS_H_
