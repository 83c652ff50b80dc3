// The Twilio Conversations REST calls the responder makes (SPEC §6, protocol §9): add a
// participant, fetch one, update its attributes. `RestClient` is the interface the outbox uses,
// so its unit tests can substitute a fake; `CurlRestClient` is the libcurl implementation.
//
// Every call returns a `RestResult` value, never throws for network or HTTP errors, and
// `Classify` turns it into the outbox's outcome (done / retry / failed).
//
// Counting calls for /metrics: `CurlRestClientConfig::on_call` is told the `RestCallOutcome` of
// every HTTP exchange the client attempts (a job's fetch and update are two). A callback rather
// than a counter object here, because twilio/ must not know handlers/ (where the Metrics class
// lives with every other /metrics counter) and a callback is how the dispatcher already reports
// deliveries (DispatcherOptions::on_delivery): main wires both to the one Metrics. The outcome
// itself (which label a result gets) is decided here, next to `Classify`, as a pure function.
//
// Thread-safety: `RestClient` implementations must accept concurrent calls from several threads.
// `CurlRestClient` does: it keeps a mutex-guarded pool of libcurl easy handles; each call borrows
// one for its whole duration (so no handle is ever used by two threads at once) and gives it back
// afterwards, which keeps keep-alive connections and TLS sessions for the next call from any
// thread. It must not be destroyed while a call is in progress. The pure functions below are safe
// from any thread. Call `InitRestClientGlobal()` once in main before starting threads.
#ifndef FRONTLINE_TWILIO_REST_CLIENT_H_
#define FRONTLINE_TWILIO_REST_CLIENT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/outbox.h"  // Outcome

namespace frontline {

// Why a call produced no (complete) HTTP answer.
enum class TransportError {
  kNone,            // an HTTP response was received in full
  kTimeout,         // connect or total timeout expired
  kConnection,      // could not resolve/connect, or the connection broke mid-exchange
  kInvalidRequest,  // nothing was sent: a malformed SID, attributes that are not JSON, bad config
  kOther,           // anything else (TLS verification, oversized answer, out of memory, ...)
};

// Twilio's error body: {"code":50433,"message":"...","more_info":"https://...","status":409}.
struct TwilioError {
  int code = 0;  // 0 when the body had no numeric "code"
  std::string message;
  int status = 0;  // the "status" member, normally equal to the HTTP status
  std::string more_info;
};

// The members of a participant resource the responder uses.
struct Participant {
  std::string sid;               // MB...
  std::string conversation_sid;  // CH...
  std::string identity;          // empty for a customer (messaging-binding) participant
  std::string attributes;        // a JSON-encoded *string*; Twilio answers "{}" when unset
  std::string binding_address;   // messaging_binding.address; empty when the binding is null
};

struct RestResult {
  int http_status = 0;  // 0 when no response status line was received
  TransportError transport_error = TransportError::kNone;
  std::string transport_message;            // detail for the log: no auth token, URLs redacted
  std::string body;                         // the response body as received (possibly partial)
  std::optional<TwilioError> error;         // set for a >= 400 answer with Twilio's error JSON
  std::optional<long> retry_after_seconds;  // Retry-After, when present and > 0
  std::optional<Participant> participant;   // set for a 2xx answer holding a participant
};

// The SPEC §6 outcome of `result`. A transport error decides first (timeout and connection
// errors retry; invalid requests and other errors fail), even when a status line had arrived.
Outcome Classify(const RestResult& result);

// "done", "retry", "failed".
const char* OutcomeName(Outcome outcome);

// What one HTTP exchange came to, for counting calls (not jobs) in /metrics. Unlike Outcome it
// says nothing about what the outbox does next: a 409 "already exists" is a kClientError here
// and kDone there.
enum class RestCallOutcome {
  kSuccess,      // "2xx"
  kClientError,  // "4xx": any 4xx but 429
  kRateLimited,  // "429"
  kServerError,  // "5xx"
  kTimeout,      // "timeout": connect or total timeout expired
  kNetwork,      // "network": could not resolve or connect, or the connection broke
  kOther,        // "other": TLS failure, an oversized answer, a 1xx/3xx final status, no memory
};
inline constexpr size_t kRestCallOutcomeCount = 7;

// The RestCallOutcome of `result`; a transport error decides first, as in Classify. Meaningless
// for kInvalidRequest (no call was made), which reads as kOther.
RestCallOutcome ClassifyCall(const RestResult& result);

// The label value: "2xx", "4xx", "429", "5xx", "timeout", "network", "other".
const char* RestCallOutcomeName(RestCallOutcome outcome);
// "none", "timeout", "connection", "invalid_request", "other".
const char* TransportErrorName(TransportError error);

// A one-line description for logs and the outbox's stored error, e.g.
// "HTTP 409 code 50433: Participant already exists" or "timeout: Operation timed out ...".
std::string DescribeResult(const RestResult& result);

// Twilio's error JSON in `body`, or nullopt when `body` is not a JSON object with a numeric
// "code". Missing string members are left empty; a missing "status" is 0.
std::optional<TwilioError> ParseTwilioError(std::string_view body);

// The participant in `body`, or nullopt when `body` is not a JSON object with a string "sid".
// A null identity or messaging_binding reads as empty; a missing attributes reads as "{}".
std::optional<Participant> ParseParticipant(std::string_view body);

// What a complete HTTP answer means (no transport error): `http_status` and `body` kept, the
// participant parsed from a 2xx body, Twilio's error from a >= 400 body (either may then still
// be absent when the body is not what Twilio sends). CurlRestClient uses it once libcurl has
// the whole answer; Retry-After comes from the headers and is left to the caller.
RestResult ParseRestResponse(int http_status, std::string body);

// True when `sid` can go into a URL path unescaped: 1 to 64 ASCII letters and digits.
bool IsValidSid(std::string_view sid);

using FormFields = std::vector<std::pair<std::string, std::string>>;

// `fields` as an application/x-www-form-urlencoded body: key=value joined by '&', both
// percent-encoded by curl_easy_escape (everything but A-Z a-z 0-9 - . _ ~ is escaped, space as
// %20). Throws std::bad_alloc only when memory runs out.
std::string EncodeForm(const FormFields& fields);

// The interface the outbox uses. `conversation_sid` is a CH... SID and `participant_sid` an
// MB... SID; a malformed one yields kInvalidRequest without any network traffic.
class RestClient {
 public:
  virtual ~RestClient() = default;

  // POST /v1/Conversations/{conversation_sid}/Participants with Identity=`identity`.
  // Success is 201 with the new participant; 409/50433 when the identity is already there.
  // An empty identity yields kInvalidRequest.
  virtual RestResult AddParticipant(std::string_view conversation_sid,
                                    std::string_view identity) = 0;

  // GET /v1/Conversations/{conversation_sid}/Participants/{participant_sid}. 200 with the
  // participant; 404/50432 when it does not exist.
  virtual RestResult FetchParticipant(std::string_view conversation_sid,
                                      std::string_view participant_sid) = 0;

  // POST /v1/Conversations/{conversation_sid}/Participants/{participant_sid} with
  // Attributes=`attributes_json`, which replaces the attributes whole. `attributes_json` that is
  // not valid JSON yields kInvalidRequest.
  virtual RestResult UpdateParticipantAttributes(std::string_view conversation_sid,
                                                 std::string_view participant_sid,
                                                 std::string_view attributes_json) = 0;
};

struct CurlRestClientConfig {
  // Scheme, host and optional port (and path prefix); "/v1/..." is appended. https:// in
  // production; http:// is accepted (for the test stub on loopback) and then the only other
  // protocol allowed. A trailing '/' is ignored.
  std::string api_base = "https://conversations.twilio.com";
  std::string account_sid;  // HTTP Basic user: AC... (or an API Key SID SK...)
  std::string auth_token;   // HTTP Basic password: the Auth Token (or the API Key secret)
  long connect_timeout_ms = 2000;
  long total_timeout_ms = 5000;
  std::string user_agent = "frontline-fcgi/" FRONTLINE_VERSION;
  // Told the outcome of every HTTP exchange attempted, once it is over, on the calling thread:
  // from several threads at once, so it must be thread-safe, and quick (the delivery waits for
  // it). Not called for a call refused before any traffic (kInvalidRequest). May be empty.
  std::function<void(RestCallOutcome)> on_call;
};

// Initialises libcurl (curl_global_init) exactly once per process, however many times and from
// however many threads it is called. Call it in main before starting threads: libcurl's global
// initialisation is not thread-safe with respect to other code using OpenSSL. Returns false when
// libcurl could not be initialised (every later call then returns false too).
bool InitRestClientGlobal();

class CurlRestClient : public RestClient {
 public:
  // Keeps `config`; makes no network connection. Calls InitRestClientGlobal() in case main did
  // not. A config whose api_base is not http(s):// makes every call return kInvalidRequest.
  explicit CurlRestClient(CurlRestClientConfig config);
  ~CurlRestClient() override;
  CurlRestClient(const CurlRestClient&) = delete;
  CurlRestClient& operator=(const CurlRestClient&) = delete;

  RestResult AddParticipant(std::string_view conversation_sid, std::string_view identity) override;
  RestResult FetchParticipant(std::string_view conversation_sid,
                              std::string_view participant_sid) override;
  RestResult UpdateParticipantAttributes(std::string_view conversation_sid,
                                         std::string_view participant_sid,
                                         std::string_view attributes_json) override;

 private:
  class HandlePool;

  // Sends one request; `form` is sent as a POST body when `post`, otherwise a GET is made.
  // Tells config_.on_call how it went.
  RestResult Perform(bool post, const std::string& path, const std::string& form);
  // Perform's exchange itself, with a usable api_base.
  RestResult Exchange(bool post, const std::string& path, const std::string& form);

  const CurlRestClientConfig config_;
  std::string base_;       // api_base without its trailing '/'
  std::string protocols_;  // for CURLOPT_PROTOCOLS_STR; empty when api_base is unusable
  std::unique_ptr<HandlePool> pool_;
};

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_REST_CLIENT_H_
