// GET /healthz over fakes: ok, degraded (200, with a reason) when Twilio REST jobs are not
// getting delivered, unavailable (503) when the directory or the outbox does not answer.
#include <doctest/doctest.h>

#include <string>

#include "handlers/router.h"
#include "tests/unit/fake_outbox.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

struct HealthFixture : HandlerFixture {
  FakeOutbox outbox;
  HealthFixture() {
    services.outbox = &outbox;
    config.delivers_outbox = true;
  }
  Response Get() {
    Request request;
    request.method = "GET";
    request.path = "/healthz";
    request.request_uri = "/healthz";
    return HandleHealth(request, services);
  }
  void AddPendingJob(const char* conversation_sid) {
    OutboxJob job;
    job.conversation_sid = conversation_sid;
    job.identity = "alice@example.com";
    std::string error;
    REQUIRE(outbox.Enqueue(job, &error) == EnqueueResult::kEnqueued);
  }
};

std::string Reason(const rapidjson::Document& doc) {
  return doc.HasMember("reason") ? Str(doc["reason"]) : std::string();
}

TEST_CASE("healthz: ok while jobs are delivered") {
  HealthFixture f;
  f.AddPendingJob("CH1");
  f.outbox.set_oldest_pending_age_ms(299000);
  Response r = f.Get();
  CHECK(r.status == 200);
  rapidjson::Document doc = ParseBody(r);
  CHECK(Str(doc["status"]) == "ok");
  CHECK_FALSE(doc.HasMember("reason"));
  CHECK(Str(doc["directory"]) == "ok");
  CHECK(doc["outbox"]["pending"].GetInt64() == 1);
  CHECK(doc["outbox"]["failed"].GetInt64() == 0);
  CHECK(doc["outbox"]["oldest_pending_seconds"].GetInt64() == 299);
}

TEST_CASE("healthz: nothing pending is ok even when this process cannot deliver") {
  HealthFixture f;
  f.config.delivers_outbox = false;
  f.outbox.set_failed(3);  // failed jobs wait for an operator, not for delivery
  Response r = f.Get();
  CHECK(r.status == 200);
  rapidjson::Document doc = ParseBody(r);
  CHECK(Str(doc["status"]) == "ok");
  CHECK(doc["outbox"]["failed"].GetInt64() == 3);
  CHECK_FALSE(doc["outbox"].HasMember("oldest_pending_seconds"));
}

TEST_CASE("healthz: degraded when jobs are pending and this process cannot deliver them") {
  HealthFixture f;
  f.config.delivers_outbox = false;
  f.AddPendingJob("CH1");
  f.AddPendingJob("CH2");
  Response r = f.Get();
  CHECK(r.status == 200);
  rapidjson::Document doc = ParseBody(r);
  CHECK(Str(doc["status"]) == "degraded");
  CHECK(Reason(doc).find("2 outbox jobs pending") != std::string::npos);
  CHECK(Reason(doc).find("cannot deliver") != std::string::npos);
  CHECK(Reason(doc).find("twilio.account-sid") != std::string::npos);
}

TEST_CASE("healthz: degraded when the oldest pending job is older than 5 minutes") {
  HealthFixture f;
  f.AddPendingJob("CH1");
  f.outbox.set_oldest_pending_age_ms(300000);  // exactly 5 min: not yet
  CHECK(Str(ParseBody(f.Get())["status"]) == "ok");
  f.outbox.set_oldest_pending_age_ms(300001);
  Response r = f.Get();
  CHECK(r.status == 200);
  rapidjson::Document doc = ParseBody(r);
  CHECK(Str(doc["status"]) == "degraded");
  CHECK(Reason(doc) == "the oldest pending outbox job has waited 300 s (over 300 s)");

  // Both reasons at once.
  f.config.delivers_outbox = false;
  doc = ParseBody(f.Get());
  CHECK(Reason(doc).find("cannot deliver") != std::string::npos);
  CHECK(Reason(doc).find("; the oldest pending outbox job") != std::string::npos);
}

TEST_CASE("healthz: 503 when the directory or the outbox does not answer") {
  {
    HealthFixture f;
    f.directory.set_ping_fails(true);
    Response r = f.Get();
    CHECK(r.status == 503);
    rapidjson::Document doc = ParseBody(r);
    CHECK(Str(doc["status"]) == "unavailable");
    CHECK(Str(doc["directory"]) == "error");
    CHECK(Reason(doc) == "directory not answering");
    CHECK(r.body.find("disk I/O") == std::string::npos);  // the detail is not public
  }
  {
    HealthFixture f;
    f.config.delivers_outbox = false;
    f.AddPendingJob("CH1");
    f.outbox.set_fail(true);
    Response r = f.Get();
    CHECK(r.status == 503);
    rapidjson::Document doc = ParseBody(r);
    CHECK(Str(doc["status"]) == "unavailable");
    CHECK(Reason(doc) == "outbox not answering");
  }
}

}  // namespace
}  // namespace frontline
