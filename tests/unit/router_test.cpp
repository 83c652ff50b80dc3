// The pipeline of SPEC §1, step by step, over a test route table.
#include "handlers/router.h"

#include <functional>
#include <iterator>
#include <stdexcept>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "handlers/metrics.h"
#include "twilio/signature.h"

namespace frontline {
namespace {

constexpr const char* kToken = "test-token";
constexpr const char* kPublicUrl = "https://hooks.example.com";

Response Echo(const Request& request, Services&) {
  Response response;
  response.body = "params=" + std::to_string(request.form.size());
  return response;
}

Response Throws(const Request&, Services&) { throw std::runtime_error("boom"); }

const Route kTestRoutes[] = {
    {"/callbacks/echo", "POST", RouteKind::kTwilioForm, &Echo},
    {"/callbacks/throws", "POST", RouteKind::kTwilioForm, &Throws},
    {"/plain", "GET", RouteKind::kPlainGet, &Echo},
};

struct Fixture {
  HandlerConfig config;
  Clock clock;
  Services services{config, nullptr, nullptr, nullptr, clock};
  Fixture() {
    config.auth_token = kToken;
    config.public_url = kPublicUrl;
  }

  // A well-formed, correctly signed POST.
  Request Post(const std::string& path, const std::string& body,
               const SignedParams& params) const {
    Request r;
    r.method = "POST";
    r.path = path;
    r.request_uri = path;
    r.content_type = "application/x-www-form-urlencoded";
    r.body = body;
    r.signature = ComputeTwilioSignature(kToken, std::string(kPublicUrl) + path, params);
    return r;
  }
  Response Run(Request r) { return DispatchRoutes(kTestRoutes, std::size(kTestRoutes), r, services); }
};

std::string ErrorOf(const Response& response) {
  rapidjson::Document doc;
  doc.Parse(response.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error")) return "<not a JSON error>";
  return doc["error"].GetString();
}

TEST_CASE("router: each pipeline step answers its status with a JSON error") {
  Fixture f;
  const SignedParams params = {{"Location", "X"}};
  const Request good = f.Post("/callbacks/echo", "Location=X", params);

  struct Case {
    const char* name;
    std::function<void(Request&)> change;
    int status;
  };
  const Case cases[] = {
      {"ok", [](Request&) {}, 200},
      {"unknown path", [](Request& r) { r.path = "/callbacks/nope"; }, 404},
      {"path outside the prefix", [](Request& r) { r.path = "/other/callbacks/echo"; }, 404},
      {"wrong method", [](Request& r) { r.method = "GET"; }, 405},
      {"too large", [](Request& r) { r.body_status = BodyStatus::kTooLarge; }, 413},
      {"no length", [](Request& r) { r.body_status = BodyStatus::kNoLength; }, 411},
      {"invalid length", [](Request& r) { r.body_status = BodyStatus::kInvalidLength; }, 400},
      {"short body", [](Request& r) { r.body_status = BodyStatus::kShort; }, 400},
      {"long body", [](Request& r) { r.body_status = BodyStatus::kLong; }, 400},
      {"json content type", [](Request& r) { r.content_type = "application/json"; }, 415},
      {"no content type", [](Request& r) { r.content_type = ""; }, 415},
      {"charset parameter", [](Request& r) { r.content_type += "; charset=utf-8"; }, 200},
      {"bad escape", [](Request& r) { r.body = "Location=%zz"; }, 400},
      {"no signature", [](Request& r) { r.signature.clear(); }, 403},
      {"forged signature", [](Request& r) { r.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="; }, 403},
      {"body changed after signing", [](Request& r) { r.body = "Location=Y"; }, 403},
      {"signature for another URL", [](Request& r) { r.request_uri = "/callbacks/echo?x=1"; }, 403},
      {"too large beats bad content type",
       [](Request& r) {
         r.body_status = BodyStatus::kTooLarge;
         r.content_type = "text/plain";
       },
       413},
      {"bad content type beats bad escape",
       [](Request& r) {
         r.content_type = "text/plain";
         r.body = "%";
       },
       415},
      {"bad escape beats missing signature",
       [](Request& r) {
         r.body = "%";
         r.signature.clear();
       },
       400},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Request r = good;
    c.change(r);
    Response response = f.Run(r);
    CHECK(response.status == c.status);
    CHECK(response.content_type == "application/json; charset=utf-8");
    if (c.status != 200) CHECK(ErrorOf(response) != "<not a JSON error>");
  }
}

TEST_CASE("router: 405 names the allowed method") {
  Fixture f;
  Request r = f.Post("/callbacks/echo", "", {});
  r.method = "PUT";
  Response response = f.Run(r);
  CHECK(response.status == 405);
  REQUIRE(response.headers.size() == 1);
  CHECK(response.headers[0].first == "Allow");
  CHECK(response.headers[0].second == "POST");
}

TEST_CASE("router: an escaping exception becomes a logged 500") {
  Fixture f;
  Response response = f.Run(f.Post("/callbacks/throws", "", {}));
  CHECK(response.status == 500);
  CHECK(ErrorOf(response) == "internal error");
  CHECK(response.log_detail.find("boom") != std::string::npos);
  CHECK(response.body.find("boom") == std::string::npos);
}

TEST_CASE("router: repeated and unknown parameters are all signed and kept") {
  Fixture f;
  SignedParams params = {{"A", "1"}, {"A", "2"}, {"Unknown", "x y"}};
  Response response = f.Run(f.Post("/callbacks/echo", "A=1&A=2&Unknown=x+y", params));
  CHECK(response.status == 200);
  CHECK(response.body == "params=3");
}

TEST_CASE("router: the 403 log line shows the URL without its userinfo or query values") {
  Fixture f;
  f.config.public_url = "https://hook-user:hook-password@hooks.example.com";
  Request r = f.Post("/callbacks/echo", "", {});
  r.request_uri = "/callbacks/echo?key=query-secret&flag";
  r.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  Response response = f.Run(r);
  CHECK(response.status == 403);
  CAPTURE(response.log_detail);
  CHECK(response.log_detail.find("https://***@hooks.example.com/callbacks/echo?key=***&flag") !=
        std::string::npos);
  for (const char* secret : {"hook-user", "hook-password", "query-secret"}) {
    CHECK(response.log_detail.find(secret) == std::string::npos);
  }
}

TEST_CASE("router: the route prefix and the skip-signature development switch") {
  Fixture f;
  f.config.route_prefix = "/frontline";
  Request r = f.Post("/callbacks/echo", "", {});
  r.path = "/frontline/callbacks/echo";
  r.request_uri = "/frontline/callbacks/echo";
  r.signature = ComputeTwilioSignature(kToken, std::string(kPublicUrl) + r.request_uri, {});
  CHECK(f.Run(r).status == 200);
  Request unprefixed = f.Post("/callbacks/echo", "", {});
  CHECK(f.Run(unprefixed).status == 404);

  f.config.route_prefix.clear();
  f.config.skip_signature = true;
  Request unsigned_request = f.Post("/callbacks/echo", "", {});
  unsigned_request.signature.clear();
  CHECK(f.Run(unsigned_request).status == 200);
}

TEST_CASE("router: without public-url the URL is rebuilt from the FastCGI params") {
  Fixture f;
  f.config.public_url.clear();
  Request r = f.Post("/callbacks/echo", "", {});
  r.request_scheme = "http";
  r.http_host = "127.0.0.1";
  r.server_port = "8082";
  r.signature = ComputeTwilioSignature(kToken, "http://127.0.0.1:8082/callbacks/echo", {});
  CHECK(f.Run(r).status == 200);
}

TEST_CASE("router: GET routes skip body and signature checks and the real routes answer") {
  Fixture f;
  Request r;
  r.method = "GET";
  r.path = "/plain";
  r.body_status = BodyStatus::kNoLength;
  CHECK(f.Run(r).status == 200);

  Metrics metrics;
  f.services.metrics = &metrics;
  Request health;
  health.method = "GET";
  health.path = "/healthz";
  Response response = Dispatch(health, f.services);
  CHECK(response.status == 200);
  rapidjson::Document doc;
  doc.Parse(response.body.c_str());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["status"].GetString()) == "ok");

  metrics.RecordRequest(RouteId("/healthz", ""), 200, 150);
  Request scrape;
  scrape.method = "GET";
  scrape.path = "/metrics";
  Response text = Dispatch(scrape, f.services);
  CHECK(text.status == 200);
  CHECK(text.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(text.body.find("frontline_requests_total{route=\"/healthz\",code=\"200\"} 1") != std::string::npos);
  CHECK(text.body.find(
            "frontline_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.00025\"} 1\n") !=
        std::string::npos);
  CHECK(text.body.find(
            "frontline_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0001\"} 0\n") !=
        std::string::npos);
}

TEST_CASE("router: signature failures are counted by reason, and only they") {
  Fixture f;
  Metrics metrics;
  f.services.metrics = &metrics;
  const SignedParams params = {{"Location", "X"}};
  const Request good = f.Post("/callbacks/echo", "Location=X", params);
  struct Case {
    const char* name;
    std::function<void(Request&)> change;
    int status;
    const char* missing;  // frontline_signature_failures_total afterwards
    const char* invalid;
  };
  const Case cases[] = {
      {"signed", [](Request&) {}, 200, "0", "0"},
      {"no signature", [](Request& r) { r.signature.clear(); }, 403, "1", "0"},
      {"forged signature", [](Request& r) { r.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="; }, 403,
       "1", "1"},
      {"body changed after signing", [](Request& r) { r.body = "Location=Y"; }, 403, "1", "2"},
      // Refused before the signature is looked at: not a signature failure.
      {"bad escape without a signature",
       [](Request& r) {
         r.body = "%";
         r.signature.clear();
       },
       400, "1", "2"},
      {"wrong content type with a forged signature",
       [](Request& r) {
         r.content_type = "text/plain";
         r.signature = "forged";
       },
       415, "1", "2"},
      {"GET route",
       [](Request& r) {
         r.method = "GET";
         r.path = "/plain";
         r.signature.clear();
       },
       200, "1", "2"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Request r = good;
    c.change(r);
    CHECK(f.Run(r).status == c.status);
    const std::string text = metrics.Render();
    CHECK(text.find(std::string("frontline_signature_failures_total{reason=\"missing\"} ") +
                    c.missing + "\n") != std::string::npos);
    CHECK(text.find(std::string("frontline_signature_failures_total{reason=\"invalid\"} ") +
                    c.invalid + "\n") != std::string::npos);
  }
  // Development mode checks nothing, so counts nothing.
  f.config.skip_signature = true;
  Request unsigned_request = good;
  unsigned_request.signature.clear();
  CHECK(f.Run(unsigned_request).status == 200);
  CHECK(metrics.Render().find("frontline_signature_failures_total{reason=\"missing\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("router: RouteName maps unknown paths to 'other'") {
  CHECK(RouteName("/healthz", "") == "/healthz");
  CHECK(RouteName("/x/healthz", "/x") == "/healthz");
  CHECK(RouteName("/nope", "") == "other");
  CHECK(RouteName("/healthz", "/x") == "other");
}

}  // namespace
}  // namespace frontline
