// The pure parts of the Twilio REST client: the SPEC §6 outcome table, Twilio's error and
// participant JSON, form encoding (checked against the handlers' independent decoder), SID
// validation, and the requests CurlRestClient refuses before touching the network.
#include "twilio/rest_client.h"

#include <stdlib.h>

#include <vector>

#include <doctest/doctest.h>

#include "handlers/form.h"

namespace frontline {
namespace {

RestResult Http(int status, std::optional<int> code = std::nullopt) {
  RestResult result;
  result.http_status = status;
  if (code) {
    TwilioError error;
    error.code = *code;
    error.status = status;
    result.error = error;
  }
  return result;
}

RestResult Transport(TransportError error, int status = 0) {
  RestResult result;
  result.transport_error = error;
  result.http_status = status;
  result.transport_message = "detail";
  return result;
}

TEST_CASE("rest client: Classify follows SPEC §6") {
  struct Case {
    const char* name;
    RestResult result;
    Outcome expected;
  };
  const Case cases[] = {
      {"200", Http(200), Outcome::kDone},
      {"201", Http(201), Outcome::kDone},
      {"204", Http(204), Outcome::kDone},
      {"409 without a body", Http(409), Outcome::kDone},
      {"409/50433", Http(409, 50433), Outcome::kDone},
      {"400/50433", Http(400, 50433), Outcome::kDone},
      {"400/50437", Http(400, 50437), Outcome::kDone},
      {"429", Http(429), Outcome::kRetry},
      {"429/20429", Http(429, 20429), Outcome::kRetry},
      {"500", Http(500), Outcome::kRetry},
      {"502", Http(502), Outcome::kRetry},
      {"503", Http(503), Outcome::kRetry},
      {"504", Http(504), Outcome::kRetry},
      {"599", Http(599), Outcome::kRetry},
      {"400", Http(400), Outcome::kFailed},
      {"400/50400", Http(400, 50400), Outcome::kFailed},
      {"401/20003", Http(401, 20003), Outcome::kFailed},
      {"403", Http(403), Outcome::kFailed},
      {"404/50432", Http(404, 50432), Outcome::kFailed},
      {"422", Http(422), Outcome::kFailed},
      {"301", Http(301), Outcome::kFailed},
      {"100", Http(100), Outcome::kFailed},
      {"600", Http(600), Outcome::kFailed},
      {"no status and no transport error", Http(0), Outcome::kFailed},
      {"timeout", Transport(TransportError::kTimeout), Outcome::kRetry},
      {"timeout after a 200 status line", Transport(TransportError::kTimeout, 200),
       Outcome::kRetry},
      {"connection refused", Transport(TransportError::kConnection), Outcome::kRetry},
      {"connection reset after a 201 status line", Transport(TransportError::kConnection, 201),
       Outcome::kRetry},
      {"invalid request", Transport(TransportError::kInvalidRequest), Outcome::kFailed},
      {"other transport error", Transport(TransportError::kOther), Outcome::kFailed},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(Classify(c.result) == c.expected);
  }
  CHECK(std::string(OutcomeName(Outcome::kDone)) == "done");
  CHECK(std::string(OutcomeName(Outcome::kRetry)) == "retry");
  CHECK(std::string(OutcomeName(Outcome::kFailed)) == "failed");
  CHECK(std::string(TransportErrorName(TransportError::kInvalidRequest)) == "invalid_request");
}

TEST_CASE("rest client: ClassifyCall gives each HTTP exchange its /metrics outcome") {
  struct Case {
    const char* name;
    RestResult result;
    const char* expected;
  };
  const Case cases[] = {
      {"200", Http(200), "2xx"},
      {"201", Http(201), "2xx"},
      {"299", Http(299), "2xx"},
      // Done for the outbox, but a 4xx answer all the same.
      {"409/50433", Http(409, 50433), "4xx"},
      {"400/50437", Http(400, 50437), "4xx"},
      {"400", Http(400), "4xx"},
      {"401/20003", Http(401, 20003), "4xx"},
      {"404", Http(404), "4xx"},
      {"499", Http(499), "4xx"},
      {"429", Http(429), "429"},
      {"429/20429", Http(429, 20429), "429"},
      {"500", Http(500), "5xx"},
      {"503", Http(503), "5xx"},
      {"599", Http(599), "5xx"},
      {"301", Http(301), "other"},
      {"100", Http(100), "other"},
      {"600", Http(600), "other"},
      {"no status", Http(0), "other"},
      {"timeout", Transport(TransportError::kTimeout), "timeout"},
      {"timeout after a 200 status line", Transport(TransportError::kTimeout, 200), "timeout"},
      {"connection refused", Transport(TransportError::kConnection), "network"},
      {"reset after a 500 status line", Transport(TransportError::kConnection, 500), "network"},
      {"other transport error (TLS, 1 MiB)", Transport(TransportError::kOther, 200), "other"},
      {"invalid request", Transport(TransportError::kInvalidRequest), "other"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(std::string(RestCallOutcomeName(ClassifyCall(c.result))) == c.expected);
  }
}

TEST_CASE("rest client: on_call hears every exchange attempted, and no refused request") {
  std::vector<RestCallOutcome> heard;
  CurlRestClientConfig config;
  config.api_base = "http://127.0.0.1:1";  // nothing listens on port 1: connection refused
  config.account_sid = "AC123";
  config.auth_token = "secret-token";
  config.connect_timeout_ms = 1000;
  config.on_call = [&heard](RestCallOutcome outcome) { heard.push_back(outcome); };
  CurlRestClient client(config);
  const std::string kSid = "CH0123456789abcdef0123456789abcdef";
  CHECK(client.AddParticipant(kSid, "").transport_error == TransportError::kInvalidRequest);
  CHECK(client.FetchParticipant(kSid, "MB 1").transport_error == TransportError::kInvalidRequest);
  CHECK(heard.empty());
  RestResult refused = client.AddParticipant(kSid, "alice");
  CHECK(refused.transport_error == TransportError::kConnection);
  CHECK(client.FetchParticipant(kSid, "MB1").transport_error == TransportError::kConnection);
  CHECK(heard ==
        std::vector<RestCallOutcome>{RestCallOutcome::kNetwork, RestCallOutcome::kNetwork});

  CurlRestClientConfig ftp = config;
  ftp.api_base = "ftp://example.com";
  CurlRestClient bad_base(ftp);
  CHECK(bad_base.FetchParticipant(kSid, "MB1").transport_error == TransportError::kInvalidRequest);
  CHECK(heard.size() == 2);
}

TEST_CASE("rest client: Twilio error JSON") {
  auto error =
      ParseTwilioError(R"({"code":50433,"message":"Participant already exists","more_info":)"
                       R"("https://www.twilio.com/docs/errors/50433","status":409})");
  REQUIRE(error);
  CHECK(error->code == 50433);
  CHECK(error->message == "Participant already exists");
  CHECK(error->status == 409);
  CHECK(error->more_info == "https://www.twilio.com/docs/errors/50433");

  SUBCASE("only a code") {
    auto minimal = ParseTwilioError(R"({"code":20003})");
    REQUIRE(minimal);
    CHECK(minimal->code == 20003);
    CHECK(minimal->message.empty());
    CHECK(minimal->status == 0);
    CHECK(minimal->more_info.empty());
  }
  SUBCASE("wrongly typed members are ignored, not fatal") {
    auto odd = ParseTwilioError(R"({"code":20404,"message":7,"status":"404","more_info":null})");
    REQUIRE(odd);
    CHECK(odd->code == 20404);
    CHECK(odd->message.empty());
    CHECK(odd->status == 0);
  }
  SUBCASE("not an error body") {
    CHECK_FALSE(ParseTwilioError(""));
    CHECK_FALSE(ParseTwilioError("<html>502 Bad Gateway</html>"));
    CHECK_FALSE(ParseTwilioError("[]"));
    CHECK_FALSE(ParseTwilioError(R"({"message":"no code"})"));
    CHECK_FALSE(ParseTwilioError(R"({"code":"50433"})"));
    CHECK_FALSE(ParseTwilioError(R"({"code":50433)"));
  }
}

TEST_CASE("rest client: participant JSON") {
  auto customer = ParseParticipant(
      R"({"sid":"MB0123","conversation_sid":"CH0456","identity":null,)"
      R"("attributes":"{\"avatar\":\"a.png\"}","messaging_binding":)"
      R"({"type":"sms","address":"+15551234567","proxy_address":"+15550000000"}})");
  REQUIRE(customer);
  CHECK(customer->sid == "MB0123");
  CHECK(customer->conversation_sid == "CH0456");
  CHECK(customer->identity.empty());
  CHECK(customer->attributes == R"({"avatar":"a.png"})");
  CHECK(customer->binding_address == "+15551234567");

  auto worker = ParseParticipant(R"({"sid":"MB1","identity":"alice@example.com",)"
                                 R"("messaging_binding":null})");
  REQUIRE(worker);
  CHECK(worker->identity == "alice@example.com");
  CHECK(worker->attributes == "{}");
  CHECK(worker->binding_address.empty());

  CHECK_FALSE(ParseParticipant(R"({"code":50432,"status":404})"));
  CHECK_FALSE(ParseParticipant("not json"));
  CHECK_FALSE(ParseParticipant(R"({"sid":5})"));
}

TEST_CASE("rest client: ParseRestResponse reads the body the status calls for") {
  const std::string participant = R"({"sid":"MB1","identity":"alice@example.com"})";
  RestResult created = ParseRestResponse(201, participant);
  CHECK(created.http_status == 201);
  CHECK(created.transport_error == TransportError::kNone);
  CHECK(created.body == participant);
  REQUIRE(created.participant);
  CHECK(created.participant->identity == "alice@example.com");
  CHECK_FALSE(created.error);
  CHECK(Classify(created) == Outcome::kDone);

  RestResult exists = ParseRestResponse(409, R"({"code":50433,"message":"exists","status":409})");
  CHECK_FALSE(exists.participant);
  REQUIRE(exists.error);
  CHECK(exists.error->code == 50433);
  CHECK(Classify(exists) == Outcome::kDone);

  // A 2xx body that is not a participant, an error body that is not Twilio's, a 3xx: no parse.
  CHECK_FALSE(ParseRestResponse(200, "<html>").participant);
  CHECK_FALSE(ParseRestResponse(503, "Service Unavailable").error);
  CHECK(Classify(ParseRestResponse(503, "Service Unavailable")) == Outcome::kRetry);
  RestResult redirect = ParseRestResponse(302, participant);
  CHECK_FALSE(redirect.participant);
  CHECK_FALSE(redirect.error);
  CHECK(Classify(redirect) == Outcome::kFailed);
}

TEST_CASE("rest client: a deeply nested answer is parsed without recursion") {
  // Found by hand after the fuzz runs: RapidJSON's recursive parser overflowed the stack on a
  // body of 1 MiB of '[' (the client keeps answers up to 1 MiB).
  const size_t depth = 1 << 20;
  CHECK_FALSE(ParseParticipant(std::string(depth, '[')));
  CHECK_FALSE(ParseTwilioError(std::string(depth, '{')));
  CHECK_FALSE(ParseRestResponse(200, std::string(depth, '[')).participant);
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  auto participant = ParseParticipant(R"({"sid":"MB1","extra":)" + nested + "}");
  REQUIRE(participant);
  CHECK(participant->sid == "MB1");
  CHECK(ParseTwilioError(R"({"code":20001,"details":)" + nested + "}")->code == 20001);
}

TEST_CASE("rest client: form encoding round-trips through the form decoder") {
  const FormFields fields = {
      {"Identity", "alice+bob@example.com"},
      {"Attributes", R"({"display_name":"Zoë & \"Co\"","avatar":"https://x/a.png?s=1&t=2"})"},
      {"Empty", ""},
      {"Spaces and=signs", "a b=c;d%e#f\n"},
      {"Nul", std::string("x\0y", 3)},
  };
  std::string body = EncodeForm(fields);
  CHECK(body.find(' ') == std::string::npos);
  CHECK(body.find('+') == std::string::npos);  // '+' must not survive, or it decodes as space
  CHECK(body.rfind("Identity=alice%2Bbob%40example.com&", 0) == 0);
  FormParams decoded;
  std::string error;
  REQUIRE(DecodeForm(body, &decoded, &error));
  std::vector<FormParams::Pair> expected(fields.begin(), fields.end());
  CHECK(decoded.pairs() == expected);

  CHECK(EncodeForm({}).empty());
  CHECK(EncodeForm({{"A", "-._~09azAZ"}}) == "A=-._~09azAZ");
}

TEST_CASE("rest client: SID validation") {
  CHECK(IsValidSid("CH0123456789abcdef0123456789abcdef"));
  CHECK(IsValidSid("MB0123456789ABCDEF0123456789ABCDEF"));
  CHECK(IsValidSid("x"));
  CHECK(IsValidSid(std::string(64, 'a')));
  CHECK_FALSE(IsValidSid(std::string(65, 'a')));
  CHECK_FALSE(IsValidSid(""));
  for (const char* bad :
       {"CH../x", "CH 1", "CH%2F", "CH/1", "CH?x=1", "CH#", "CH-1", "CH_1", "CH\xc3\xa9", "CH\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(IsValidSid(bad));
  }
  CHECK_FALSE(IsValidSid(std::string("CH\0x", 4)));
}

TEST_CASE("rest client: invalid requests are refused without a network call") {
  CurlRestClientConfig config;
  // Nothing listens on port 9 of a TEST-NET address; a request that went out would fail as a
  // connection error or timeout, never as invalid_request.
  config.api_base = "http://192.0.2.1:9";
  config.account_sid = "AC123";
  config.auth_token = "secret-token";
  config.connect_timeout_ms = 50;
  CurlRestClient client(config);
  const std::string kSid = "CH0123456789abcdef0123456789abcdef";

  auto check_invalid = [](const RestResult& r) {
    CHECK(r.transport_error == TransportError::kInvalidRequest);
    CHECK(r.http_status == 0);
    CHECK(Classify(r) == Outcome::kFailed);
    CHECK(r.transport_message.find("secret-token") == std::string::npos);
  };
  check_invalid(client.AddParticipant("CH/../x", "alice"));
  check_invalid(client.AddParticipant(kSid, ""));
  check_invalid(client.FetchParticipant(kSid, "MB 1"));
  check_invalid(client.FetchParticipant("", "MB1"));
  check_invalid(client.UpdateParticipantAttributes(kSid, "MB1", "{not json"));
  check_invalid(client.UpdateParticipantAttributes(kSid, "MB?1", "{}"));

  CurlRestClientConfig ftp = config;
  ftp.api_base = "ftp://example.com";
  CurlRestClient bad_base(ftp);
  RestResult r = bad_base.FetchParticipant(kSid, "MB1");
  check_invalid(r);
  CHECK(DescribeResult(r).rfind("invalid_request: ", 0) == 0);
}

// Sets an environment variable for one scope (libcurl reads the proxy variables per call).
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedVariable() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_CASE("rest client: a URL in a libcurl error reaches the log without its password") {
  // libcurl quotes a bad proxy variable whole, password included, in its error buffer; the
  // message is logged and stored with the outbox job.
  ScopedVariable no_proxy("no_proxy", nullptr);
  ScopedVariable no_proxy_upper("NO_PROXY", nullptr);
  ScopedVariable proxy("http_proxy", "foo://proxy-user:proxy-secret@127.0.0.1:1");
  CurlRestClientConfig config;
  config.api_base = "http://127.0.0.1:1";
  config.account_sid = "AC123";
  config.auth_token = "secret-token";
  config.connect_timeout_ms = 200;
  CurlRestClient client(config);
  RestResult r = client.AddParticipant("CH0123456789abcdef0123456789abcdef", "alice");
  CAPTURE(r.transport_message);
  CHECK(r.transport_error != TransportError::kNone);
  CHECK(r.transport_message.find("proxy-secret") == std::string::npos);
  CHECK(r.transport_message.find("proxy-user") == std::string::npos);
  CHECK(r.transport_message.find("secret-token") == std::string::npos);
  CHECK(DescribeResult(r).find("proxy-secret") == std::string::npos);
}

TEST_CASE("rest client: DescribeResult") {
  RestResult conflict = Http(409, 50433);
  conflict.error->message = "Participant already exists";
  CHECK(DescribeResult(conflict) == "HTTP 409 code 50433: Participant already exists");
  RestResult busy = Http(429);
  busy.retry_after_seconds = 3;
  CHECK(DescribeResult(busy) == "HTTP 429 (Retry-After 3 s)");
  CHECK(DescribeResult(Transport(TransportError::kTimeout)) == "timeout: detail");
}

}  // namespace
}  // namespace frontline
