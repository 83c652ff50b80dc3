// The /metrics exposition: exact lines for requests by route and status, each route's latency
// histogram (cumulative buckets, +Inf, _sum, _count), the fixed-label counters, the gauges read
// from the stores, and exact totals when many threads record at once.
#include "handlers/metrics.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "handlers/router.h"
#include "tests/unit/fake_outbox.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool HasLine(const std::string& text, const std::string& line) {
  std::vector<std::string> lines = Lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// The samples of `name` (lines starting with "name{" or "name "), in order.
std::vector<std::string> Samples(const std::string& text, const std::string& name) {
  std::vector<std::string> found;
  for (const std::string& line : Lines(text)) {
    if (line.rfind(name + "{", 0) == 0 || line.rfind(name + " ", 0) == 0) found.push_back(line);
  }
  return found;
}

// The samples of the histogram of `route`, in order: 15 buckets, +Inf, _sum, _count.
std::vector<std::string> Histogram(const std::string& text, const std::string& route) {
  std::vector<std::string> found;
  const std::string label = "{route=\"" + route + "\"";
  for (const std::string& line : Lines(text)) {
    if (line.rfind("frontline_request_duration_seconds", 0) == 0 &&
        line.find(label) != std::string::npos) {
      found.push_back(line);
    }
  }
  return found;
}

const size_t kCrm = RouteId("/callbacks/crm", "");
const size_t kHealth = RouteId("/healthz", "");

TEST_CASE("metrics: route ids follow the route table") {
  CHECK(kCrm < kRouteCount);
  CHECK(RouteIdName(kCrm) == "/callbacks/crm");
  CHECK(RouteIdName(kHealth) == "/healthz");
  CHECK(RouteId("/frontline/callbacks/crm", "/frontline/") == kCrm);
  CHECK(RouteId("/callbacks/nope", "") == kOtherRoute);
  CHECK(RouteIdName(kOtherRoute) == "other");
  CHECK(RouteIdName(kOtherRoute + 7) == "other");
  // Every route of the table has its own id and name.
  for (size_t id = 0; id < kRouteCount; ++id) {
    CAPTURE(id);
    CHECK(RouteIdName(id) != "other");
    CHECK(RouteId(RouteIdName(id), "") == id);
  }
}

TEST_CASE("metrics: requests by route and status, exact lines") {
  struct Record {
    size_t route;
    int status;
  };
  struct Case {
    const char* name;
    std::vector<Record> records;
    std::vector<std::string> expected;  // every frontline_requests_total sample, in order
  };
  const Case cases[] = {
      {"nothing recorded", {}, {}},
      {"one route, one code",
       {{kCrm, 200}, {kCrm, 200}},
       {"frontline_requests_total{route=\"/callbacks/crm\",code=\"200\"} 2"}},
      {"codes in list order, routes in table order, other last",
       {{kOtherRoute, 404}, {kHealth, 503}, {kCrm, 503}, {kCrm, 200}, {kCrm, 403}},
       {"frontline_requests_total{route=\"/callbacks/crm\",code=\"200\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"403\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"503\"} 1",
        "frontline_requests_total{route=\"/healthz\",code=\"503\"} 1",
        "frontline_requests_total{route=\"other\",code=\"404\"} 1"}},
      {"a status without its own code counts under its class",
       {{kCrm, 502}, {kCrm, 504}, {kCrm, 302}, {kCrm, 429}, {kCrm, 201}, {kCrm, 101}},
       {"frontline_requests_total{route=\"/callbacks/crm\",code=\"1xx\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"2xx\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"3xx\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"4xx\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"5xx\"} 2"}},
      {"a status outside 100..599 is a 5xx (the web server answers 502)",
       {{kCrm, 0}, {kCrm, 99}, {kCrm, 600}, {kCrm, -1}},
       {"frontline_requests_total{route=\"/callbacks/crm\",code=\"5xx\"} 4"}},
      {"a route id out of range is other",
       {{kOtherRoute + 1, 200}, {static_cast<size_t>(-1), 200}},
       {"frontline_requests_total{route=\"other\",code=\"200\"} 2"}},
      {"every listed code on its own",
       {{kCrm, 200},
        {kCrm, 204},
        {kCrm, 400},
        {kCrm, 403},
        {kCrm, 404},
        {kCrm, 405},
        {kCrm, 411},
        {kCrm, 413},
        {kCrm, 415},
        {kCrm, 422},
        {kCrm, 451},
        {kCrm, 500},
        {kCrm, 503}},
       {"frontline_requests_total{route=\"/callbacks/crm\",code=\"200\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"204\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"400\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"403\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"404\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"405\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"411\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"413\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"415\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"422\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"451\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"500\"} 1",
        "frontline_requests_total{route=\"/callbacks/crm\",code=\"503\"} 1"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Metrics metrics;
    for (const Record& r : c.records) metrics.RecordRequest(r.route, r.status, 10);
    std::string text = metrics.Render();
    CHECK(Samples(text, "frontline_requests_total") == c.expected);
    // The family is announced even when empty.
    CHECK(HasLine(text, "# TYPE frontline_requests_total counter"));
  }
}

TEST_CASE("metrics: a histogram per route with cumulative buckets, +Inf, _sum and _count") {
  struct Case {
    const char* name;
    std::vector<int64_t> micros;
    std::vector<std::string> expected;  // the route's 18 histogram lines
  };
  const std::string b = "frontline_request_duration_seconds_bucket{route=\"/callbacks/crm\",le=";
  const Case cases[] = {
      {"one fast request",
       {150},
       {b + "\"0.0001\"} 0", b + "\"0.00025\"} 1", b + "\"0.0005\"} 1", b + "\"0.001\"} 1",
        b + "\"0.0025\"} 1", b + "\"0.005\"} 1", b + "\"0.01\"} 1", b + "\"0.025\"} 1",
        b + "\"0.05\"} 1", b + "\"0.1\"} 1", b + "\"0.25\"} 1", b + "\"0.5\"} 1", b + "\"1\"} 1",
        b + "\"2.5\"} 1", b + "\"5\"} 1", b + "\"+Inf\"} 1",
        "frontline_request_duration_seconds_sum{route=\"/callbacks/crm\"} 0.00015",
        "frontline_request_duration_seconds_count{route=\"/callbacks/crm\"} 1"}},
      {"bounds are inclusive (le), beyond the last only in +Inf, negative as 0",
       {0, 100, 101, 250, -5, 5000000, 5000001, 7000000},
       {b + "\"0.0001\"} 3", b + "\"0.00025\"} 5", b + "\"0.0005\"} 5", b + "\"0.001\"} 5",
        b + "\"0.0025\"} 5", b + "\"0.005\"} 5", b + "\"0.01\"} 5", b + "\"0.025\"} 5",
        b + "\"0.05\"} 5", b + "\"0.1\"} 5", b + "\"0.25\"} 5", b + "\"0.5\"} 5", b + "\"1\"} 5",
        b + "\"2.5\"} 5", b + "\"5\"} 6", b + "\"+Inf\"} 8",
        "frontline_request_duration_seconds_sum{route=\"/callbacks/crm\"} 17.000452",
        "frontline_request_duration_seconds_count{route=\"/callbacks/crm\"} 8"}},
      {"one in every bucket: each bound counts all below it",
       {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
        2500000, 5000000, 5000001},
       {b + "\"0.0001\"} 1", b + "\"0.00025\"} 2", b + "\"0.0005\"} 3", b + "\"0.001\"} 4",
        b + "\"0.0025\"} 5", b + "\"0.005\"} 6", b + "\"0.01\"} 7", b + "\"0.025\"} 8",
        b + "\"0.05\"} 9", b + "\"0.1\"} 10", b + "\"0.25\"} 11", b + "\"0.5\"} 12",
        b + "\"1\"} 13", b + "\"2.5\"} 14", b + "\"5\"} 15", b + "\"+Inf\"} 16",
        "frontline_request_duration_seconds_sum{route=\"/callbacks/crm\"} 14.444351",
        "frontline_request_duration_seconds_count{route=\"/callbacks/crm\"} 16"}},
      {"whole seconds have no fraction",
       {1000000, 2000000},
       {b + "\"0.0001\"} 0", b + "\"0.00025\"} 0", b + "\"0.0005\"} 0", b + "\"0.001\"} 0",
        b + "\"0.0025\"} 0", b + "\"0.005\"} 0", b + "\"0.01\"} 0", b + "\"0.025\"} 0",
        b + "\"0.05\"} 0", b + "\"0.1\"} 0", b + "\"0.25\"} 0", b + "\"0.5\"} 0", b + "\"1\"} 1",
        b + "\"2.5\"} 2", b + "\"5\"} 2", b + "\"+Inf\"} 2",
        "frontline_request_duration_seconds_sum{route=\"/callbacks/crm\"} 3",
        "frontline_request_duration_seconds_count{route=\"/callbacks/crm\"} 2"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Metrics metrics;
    for (int64_t micros : c.micros) metrics.RecordRequest(kCrm, 200, micros);
    metrics.RecordRequest(kHealth, 200, 3000);  // another route's histogram stays apart
    std::string text = metrics.Render();
    CHECK(Histogram(text, "/callbacks/crm") == c.expected);
    std::vector<std::string> health = Histogram(text, "/healthz");
    REQUIRE(health.size() == 18);
    CHECK(health[4] ==
          "frontline_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0025\"} 0");
    CHECK(health[5] ==
          "frontline_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1");
    CHECK(health[16] == "frontline_request_duration_seconds_sum{route=\"/healthz\"} 0.003");
    CHECK(health[17] == "frontline_request_duration_seconds_count{route=\"/healthz\"} 1");
  }
}

TEST_CASE("metrics: a route never seen has no histogram; the family is typed once") {
  Metrics metrics;
  metrics.RecordRequest(kCrm, 200, 1);
  std::string text = metrics.Render();
  CHECK(Histogram(text, "/healthz").empty());
  CHECK(Histogram(text, "other").empty());
  std::vector<std::string> lines = Lines(text);
  CHECK(std::count(lines.begin(), lines.end(),
                   "# TYPE frontline_request_duration_seconds histogram") == 1);
}

TEST_CASE("metrics: fixed-label counters are written from zero") {
  Metrics metrics;
  std::string empty = metrics.Render();
  CHECK(Samples(empty, "frontline_signature_failures_total") ==
        std::vector<std::string>{"frontline_signature_failures_total{reason=\"missing\"} 0",
                                 "frontline_signature_failures_total{reason=\"invalid\"} 0"});
  CHECK(Samples(empty, "frontline_twilio_rest_calls_total") ==
        std::vector<std::string>{"frontline_twilio_rest_calls_total{outcome=\"2xx\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"4xx\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"429\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"5xx\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"timeout\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"network\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"other\"} 0"});
  CHECK(Samples(empty, "frontline_twilio_deliveries_total") ==
        std::vector<std::string>{"frontline_twilio_deliveries_total{outcome=\"done\"} 0",
                                 "frontline_twilio_deliveries_total{outcome=\"retry\"} 0",
                                 "frontline_twilio_deliveries_total{outcome=\"failed\"} 0"});
  CHECK(HasLine(empty, "frontline_directory_unavailable_total 0"));
  CHECK(HasLine(empty, "frontline_build_info{version=\"" FRONTLINE_VERSION "\"} 1"));

  metrics.RecordSignatureFailure(SignatureFailure::kInvalid);
  metrics.RecordSignatureFailure(SignatureFailure::kInvalid);
  metrics.RecordSignatureFailure(SignatureFailure::kMissing);
  metrics.RecordRestCall(RestCallOutcome::kSuccess);
  metrics.RecordRestCall(RestCallOutcome::kRateLimited);
  metrics.RecordRestCall(RestCallOutcome::kRateLimited);
  metrics.RecordRestCall(RestCallOutcome::kNetwork);
  metrics.RecordDelivery(Outcome::kRetry);
  metrics.RecordDelivery(Outcome::kFailed);
  metrics.RecordDirectoryUnavailable();
  std::string text = metrics.Render();
  CHECK(Samples(text, "frontline_signature_failures_total") ==
        std::vector<std::string>{"frontline_signature_failures_total{reason=\"missing\"} 1",
                                 "frontline_signature_failures_total{reason=\"invalid\"} 2"});
  CHECK(Samples(text, "frontline_twilio_rest_calls_total") ==
        std::vector<std::string>{"frontline_twilio_rest_calls_total{outcome=\"2xx\"} 1",
                                 "frontline_twilio_rest_calls_total{outcome=\"4xx\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"429\"} 2",
                                 "frontline_twilio_rest_calls_total{outcome=\"5xx\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"timeout\"} 0",
                                 "frontline_twilio_rest_calls_total{outcome=\"network\"} 1",
                                 "frontline_twilio_rest_calls_total{outcome=\"other\"} 0"});
  CHECK(Samples(text, "frontline_twilio_deliveries_total") ==
        std::vector<std::string>{"frontline_twilio_deliveries_total{outcome=\"done\"} 0",
                                 "frontline_twilio_deliveries_total{outcome=\"retry\"} 1",
                                 "frontline_twilio_deliveries_total{outcome=\"failed\"} 1"});
  CHECK(HasLine(text, "frontline_directory_unavailable_total 1"));
}

TEST_CASE("metrics: every family has HELP and TYPE before its samples, once") {
  Metrics metrics;
  metrics.RecordRequest(kCrm, 200, 1);
  std::vector<std::string> lines = Lines(metrics.Render());
  struct Family {
    const char* name;
    const char* type;
  };
  const Family families[] = {
      {"frontline_build_info", "gauge"},
      {"frontline_requests_total", "counter"},
      {"frontline_request_duration_seconds", "histogram"},
      {"frontline_signature_failures_total", "counter"},
      {"frontline_twilio_rest_calls_total", "counter"},
      {"frontline_twilio_deliveries_total", "counter"},
      {"frontline_directory_unavailable_total", "counter"},
  };
  for (const Family& f : families) {
    CAPTURE(f.name);
    const std::string type = std::string("# TYPE ") + f.name + " " + f.type;
    CHECK(std::count(lines.begin(), lines.end(), type) == 1);
    auto type_line = std::find(lines.begin(), lines.end(), type);
    REQUIRE(type_line != lines.begin());
    CHECK((type_line - 1)->rfind(std::string("# HELP ") + f.name + " ", 0) == 0);
    auto first_sample = std::find_if(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.rfind(f.name, 0) == 0;
    });
    CHECK(first_sample > type_line);
  }
  // Nothing but comments and samples; every line ends in a number.
  for (const std::string& line : lines) {
    CAPTURE(line);
    CHECK(!line.empty());
    if (line[0] == '#') continue;
    CHECK(line.find_last_not_of("0123456789.") == line.find_last_of(' '));
  }
}

TEST_CASE("metrics: concurrent recording loses nothing") {
  Metrics metrics;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.RecordRequest(kCrm, i % 2 == 0 ? 200 : 503, 1000 * (t + 1));
        metrics.RecordRestCall(RestCallOutcome::kServerError);
        if (i % 100 == 0) (void)metrics.Render();  // scrapes meanwhile are safe
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::string text = metrics.Render();
  const int half = kThreads * kPerThread / 2;
  CHECK(HasLine(text, "frontline_requests_total{route=\"/callbacks/crm\",code=\"200\"} " +
                          std::to_string(half)));
  CHECK(HasLine(text, "frontline_requests_total{route=\"/callbacks/crm\",code=\"503\"} " +
                          std::to_string(half)));
  CHECK(HasLine(text, "frontline_request_duration_seconds_count{route=\"/callbacks/crm\"} " +
                          std::to_string(kThreads * kPerThread)));
  // 20000 each of 1, 2, 3 and 4 ms: 200 s.
  CHECK(HasLine(text, "frontline_request_duration_seconds_sum{route=\"/callbacks/crm\"} 200"));
  CHECK(HasLine(text, "frontline_twilio_rest_calls_total{outcome=\"5xx\"} " +
                          std::to_string(kThreads * kPerThread)));
}

struct StoreFixture : HandlerFixture {
  FakeOutbox outbox;
  StoreFixture() { services.outbox = &outbox; }
  void AddPendingJob(const char* conversation_sid) {
    OutboxJob job;
    job.conversation_sid = conversation_sid;
    job.identity = "alice@example.com";
    std::string error;
    REQUIRE(outbox.Enqueue(job, &error) == EnqueueResult::kEnqueued);
  }
};

TEST_CASE("metrics: store gauges from the outbox counts /healthz uses") {
  StoreFixture f;
  SUBCASE("nothing pending") {
    std::string text = RenderStoreGauges(f.services);
    CHECK(Samples(text, "frontline_directory_up") ==
          std::vector<std::string>{"frontline_directory_up 1"});
    CHECK(Samples(text, "frontline_outbox_up") ==
          std::vector<std::string>{"frontline_outbox_up 1"});
    CHECK(Samples(text, "frontline_outbox_jobs") ==
          std::vector<std::string>{"frontline_outbox_jobs{state=\"pending\"} 0",
                                   "frontline_outbox_jobs{state=\"failed\"} 0"});
    CHECK(Samples(text, "frontline_outbox_oldest_pending_seconds") ==
          std::vector<std::string>{"frontline_outbox_oldest_pending_seconds 0"});
    CHECK(HasLine(text, "# TYPE frontline_outbox_oldest_pending_seconds gauge"));
  }
  SUBCASE("jobs pending and failed, the oldest in milliseconds") {
    f.AddPendingJob("CH1");
    f.AddPendingJob("CH2");
    f.outbox.set_failed(3);
    f.outbox.set_oldest_pending_age_ms(301250);
    std::string text = RenderStoreGauges(f.services);
    CHECK(Samples(text, "frontline_outbox_jobs") ==
          std::vector<std::string>{"frontline_outbox_jobs{state=\"pending\"} 2",
                                   "frontline_outbox_jobs{state=\"failed\"} 3"});
    CHECK(Samples(text, "frontline_outbox_oldest_pending_seconds") ==
          std::vector<std::string>{"frontline_outbox_oldest_pending_seconds 301.25"});
    f.outbox.set_oldest_pending_age_ms(7);
    CHECK(HasLine(RenderStoreGauges(f.services), "frontline_outbox_oldest_pending_seconds 0.007"));
  }
  SUBCASE("stores that do not answer") {
    f.outbox.set_fail(true);
    f.directory.set_unavailable(FakeDirectory::kPing);
    std::string text = RenderStoreGauges(f.services);
    CHECK(HasLine(text, "frontline_directory_up 0"));
    CHECK(HasLine(text, "frontline_outbox_up 0"));
    // No numbers made up for a store that did not answer.
    CHECK(Samples(text, "frontline_outbox_jobs").empty());
    CHECK(Samples(text, "frontline_outbox_oldest_pending_seconds").empty());
  }
  SUBCASE("stores not configured write nothing") {
    f.services.outbox = nullptr;
    f.services.directory = nullptr;
    CHECK(RenderStoreGauges(f.services).empty());
  }
}

TEST_CASE("metrics: GET /metrics is the counters then the store gauges") {
  StoreFixture f;
  Metrics metrics;
  f.services.metrics = &metrics;
  metrics.RecordRequest(kHealth, 200, 150);
  Request scrape;
  scrape.method = "GET";
  scrape.path = "/metrics";
  Response response = Dispatch(scrape, f.services);
  CHECK(response.status == 200);
  CHECK(response.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(response.body == metrics.Render() + RenderStoreGauges(f.services));
  CHECK(response.body.back() == '\n');
}

}  // namespace
}  // namespace frontline
