#include "twilio/rest_client.h"

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <mutex>
#include <new>

#include "twilio/url.h"

namespace frontline {
namespace {

// Participant and error bodies are a few hundred bytes; anything this large is not Twilio.
constexpr size_t kMaxBodyBytes = 1 << 20;
constexpr size_t kMaxSidLength = 64;
// Idle handles kept for reuse; more than this many concurrent calls is not expected.
constexpr size_t kMaxIdleHandles = 16;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string MemberString(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// Iterative, not RapidJSON's default recursive descent: a body of 1 MiB of '[' would otherwise
// recurse once per bracket and overflow the dispatcher thread's stack.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;

bool ParseObject(std::string_view body, rapidjson::Document* document) {
  document->Parse<kParseFlags>(body.data(), body.size());
  return !document->HasParseError() && document->IsObject();
}

// Removes every occurrence of `secret` from `text`; libcurl messages should never carry the
// password, but the log line is the last place a leak would be caught.
std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

TransportError MapCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransportError::kNone;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::kTimeout;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportError::kConnection;
    default:
      return TransportError::kOther;
  }
}

RestResult InvalidRequest(std::string message) {
  RestResult result;
  result.transport_error = TransportError::kInvalidRequest;
  result.transport_message = std::move(message);
  return result;
}

// Checks both SIDs (the second may be absent) and returns the error to answer, if any.
std::optional<RestResult> CheckSids(std::string_view conversation_sid,
                                    const std::string_view* participant_sid) {
  if (!IsValidSid(conversation_sid)) {
    return InvalidRequest("malformed conversation SID");
  }
  if (participant_sid != nullptr && !IsValidSid(*participant_sid)) {
    return InvalidRequest("malformed participant SID");
  }
  return std::nullopt;
}

std::string ParticipantsPath(std::string_view conversation_sid) {
  std::string path = "/v1/Conversations/";
  path += conversation_sid;
  path += "/Participants";
  return path;
}

struct BodySink {
  std::string* body;
  bool overflow = false;
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  size_t bytes = size * count;
  // Returning less than `bytes` makes libcurl stop with CURLE_WRITE_ERROR.
  if (sink->body->size() + bytes > kMaxBodyBytes) {
    sink->overflow = true;
    return 0;
  }
  sink->body->append(data, bytes);
  return bytes;
}

}  // namespace

Outcome Classify(const RestResult& result) {
  switch (result.transport_error) {
    case TransportError::kNone:
      break;
    case TransportError::kTimeout:
    case TransportError::kConnection:
      return Outcome::kRetry;
    case TransportError::kInvalidRequest:
    case TransportError::kOther:
      return Outcome::kFailed;
  }
  int status = result.http_status;
  if (status >= 200 && status < 300) return Outcome::kDone;
  if (status == 409) return Outcome::kDone;
  if (result.error && (result.error->code == 50433 || result.error->code == 50437)) {
    return Outcome::kDone;
  }
  if (status == 429 || (status >= 500 && status < 600)) return Outcome::kRetry;
  return Outcome::kFailed;
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDone:
      return "done";
    case Outcome::kRetry:
      return "retry";
    case Outcome::kFailed:
      return "failed";
  }
  return "unknown";
}

RestCallOutcome ClassifyCall(const RestResult& result) {
  switch (result.transport_error) {
    case TransportError::kNone:
      break;
    case TransportError::kTimeout:
      return RestCallOutcome::kTimeout;
    case TransportError::kConnection:
      return RestCallOutcome::kNetwork;
    case TransportError::kInvalidRequest:
    case TransportError::kOther:
      return RestCallOutcome::kOther;
  }
  int status = result.http_status;
  if (status >= 200 && status < 300) return RestCallOutcome::kSuccess;
  if (status == 429) return RestCallOutcome::kRateLimited;
  if (status >= 400 && status < 500) return RestCallOutcome::kClientError;
  if (status >= 500 && status < 600) return RestCallOutcome::kServerError;
  return RestCallOutcome::kOther;
}

const char* RestCallOutcomeName(RestCallOutcome outcome) {
  switch (outcome) {
    case RestCallOutcome::kSuccess:
      return "2xx";
    case RestCallOutcome::kClientError:
      return "4xx";
    case RestCallOutcome::kRateLimited:
      return "429";
    case RestCallOutcome::kServerError:
      return "5xx";
    case RestCallOutcome::kTimeout:
      return "timeout";
    case RestCallOutcome::kNetwork:
      return "network";
    case RestCallOutcome::kOther:
      return "other";
  }
  return "other";
}

const char* TransportErrorName(TransportError error) {
  switch (error) {
    case TransportError::kNone:
      return "none";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kConnection:
      return "connection";
    case TransportError::kInvalidRequest:
      return "invalid_request";
    case TransportError::kOther:
      return "other";
  }
  return "unknown";
}

std::string DescribeResult(const RestResult& result) {
  if (result.transport_error != TransportError::kNone) {
    std::string text = TransportErrorName(result.transport_error);
    text += ": ";
    text += result.transport_message;
    return text;
  }
  std::string text = "HTTP " + std::to_string(result.http_status);
  if (result.error) {
    text += " code " + std::to_string(result.error->code);
    if (!result.error->message.empty()) text += ": " + result.error->message;
  }
  if (result.retry_after_seconds) {
    text += " (Retry-After " + std::to_string(*result.retry_after_seconds) + " s)";
  }
  return text;
}

std::optional<TwilioError> ParseTwilioError(std::string_view body) {
  rapidjson::Document document;
  if (!ParseObject(body, &document)) return std::nullopt;
  auto code = document.FindMember("code");
  if (code == document.MemberEnd() || !code->value.IsInt()) return std::nullopt;
  TwilioError error;
  error.code = code->value.GetInt();
  error.message = MemberString(document, "message");
  error.more_info = MemberString(document, "more_info");
  auto status = document.FindMember("status");
  if (status != document.MemberEnd() && status->value.IsInt()) {
    error.status = status->value.GetInt();
  }
  return error;
}

std::optional<Participant> ParseParticipant(std::string_view body) {
  rapidjson::Document document;
  if (!ParseObject(body, &document)) return std::nullopt;
  auto sid = document.FindMember("sid");
  if (sid == document.MemberEnd() || !sid->value.IsString()) return std::nullopt;
  Participant participant;
  participant.sid = MemberString(document, "sid");
  participant.conversation_sid = MemberString(document, "conversation_sid");
  participant.identity = MemberString(document, "identity");
  auto attributes = document.FindMember("attributes");
  participant.attributes = attributes != document.MemberEnd() && attributes->value.IsString()
                               ? MemberString(document, "attributes")
                               : "{}";
  auto binding = document.FindMember("messaging_binding");
  if (binding != document.MemberEnd() && binding->value.IsObject()) {
    participant.binding_address = MemberString(binding->value, "address");
  }
  return participant;
}

RestResult ParseRestResponse(int http_status, std::string body) {
  RestResult result;
  result.http_status = http_status;
  result.body = std::move(body);
  if (http_status >= 200 && http_status < 300) {
    result.participant = ParseParticipant(result.body);
  } else if (http_status >= 400) {
    result.error = ParseTwilioError(result.body);
  }
  return result;
}

bool IsValidSid(std::string_view sid) {
  if (sid.empty() || sid.size() > kMaxSidLength) return false;
  for (char c : sid) {
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

std::string EncodeForm(const FormFields& fields) {
  auto escape = [](const std::string& s) {
    // The handle argument of curl_easy_escape is unused since libcurl 7.82.
    char* escaped = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
    if (escaped == nullptr) throw std::bad_alloc();
    std::string out(escaped);
    curl_free(escaped);
    return out;
  };
  std::string body;
  for (const auto& [key, value] : fields) {
    if (!body.empty()) body += '&';
    body += escape(key);
    body += '=';
    body += escape(value);
  }
  return body;
}

bool InitRestClientGlobal() {
  static std::once_flag once;
  static bool initialised = false;
  std::call_once(once, [] { initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; });
  return initialised;
}

// Idle easy handles. A handle is owned by exactly one party at a time: the pool, or the call
// that borrowed it, so libcurl's rule of one thread per handle holds without further locking.
class CurlRestClient::HandlePool {
 public:
  HandlePool() = default;
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;
  ~HandlePool() {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
  }

  // An idle handle, or a new one; nullptr only when libcurl cannot allocate one.
  CURL* Borrow() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        CURL* handle = idle_.back();
        idle_.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }

  // Takes `handle` back with its connection cache; its options are reset so that no pointer
  // into the finished call (error buffer, header list, body) survives in it.
  void Return(CURL* handle) {
    curl_easy_reset(handle);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (idle_.size() < kMaxIdleHandles) {
        idle_.push_back(handle);
        return;
      }
    }
    curl_easy_cleanup(handle);
  }

 private:
  std::mutex mutex_;
  std::vector<CURL*> idle_;  // guarded by mutex_
};

CurlRestClient::CurlRestClient(CurlRestClientConfig config)
    : config_(std::move(config)), pool_(std::make_unique<HandlePool>()) {
  InitRestClientGlobal();
  std::string_view base = config_.api_base;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  base_ = std::string(base);
  if (StartsWith(base_, "https://") && base_.size() > 8) {
    protocols_ = "https";
  } else if (StartsWith(base_, "http://") && base_.size() > 7) {
    protocols_ = "https,http";
  }
}

CurlRestClient::~CurlRestClient() = default;

RestResult CurlRestClient::AddParticipant(std::string_view conversation_sid,
                                          std::string_view identity) {
  if (auto invalid = CheckSids(conversation_sid, nullptr)) return *invalid;
  if (identity.empty()) return InvalidRequest("empty identity");
  return Perform(true, ParticipantsPath(conversation_sid),
                 EncodeForm({{"Identity", std::string(identity)}}));
}

RestResult CurlRestClient::FetchParticipant(std::string_view conversation_sid,
                                            std::string_view participant_sid) {
  if (auto invalid = CheckSids(conversation_sid, &participant_sid)) return *invalid;
  std::string path = ParticipantsPath(conversation_sid);
  path += '/';
  path += participant_sid;
  return Perform(false, path, {});
}

RestResult CurlRestClient::UpdateParticipantAttributes(std::string_view conversation_sid,
                                                       std::string_view participant_sid,
                                                       std::string_view attributes_json) {
  if (auto invalid = CheckSids(conversation_sid, &participant_sid)) return *invalid;
  // Twilio would answer 400; checking here keeps a programming error out of the retry loop.
  rapidjson::Document document;
  document.Parse<kParseFlags>(attributes_json.data(), attributes_json.size());
  if (document.HasParseError()) return InvalidRequest("attributes are not valid JSON");
  std::string path = ParticipantsPath(conversation_sid);
  path += '/';
  path += participant_sid;
  return Perform(true, path, EncodeForm({{"Attributes", std::string(attributes_json)}}));
}

RestResult CurlRestClient::Perform(bool post, const std::string& path, const std::string& form) {
  if (protocols_.empty()) return InvalidRequest("api-base must start with https:// or http://");
  RestResult result = Exchange(post, path, form);
  if (config_.on_call) config_.on_call(ClassifyCall(result));
  return result;
}

RestResult CurlRestClient::Exchange(bool post, const std::string& path, const std::string& form) {
  CURL* handle = pool_->Borrow();
  if (handle == nullptr) {
    RestResult result;
    result.transport_error = TransportError::kOther;
    result.transport_message = "curl_easy_init failed";
    return result;
  }

  RestResult result;
  BodySink sink{&result.body};
  std::string url = base_ + path;
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  // libcurl may send "Expect: 100-continue" for larger POST bodies (above 1 KiB in older
  // releases; 7.88 waits for 1 MiB), costing a round trip or a one-second wait; our bodies are
  // small enough to send at once, whatever libcurl the binary ends up linked with.
  if (headers != nullptr) headers = curl_slist_append(headers, "Expect:");
  if (post && headers != nullptr) {
    headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
  }

  CURLcode code = headers == nullptr ? CURLE_OUT_OF_MEMORY : CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (code == CURLE_OK) code = curl_easy_setopt(handle, option, value);
  };
  set(CURLOPT_ERRORBUFFER, error_buffer);
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_PROTOCOLS_STR, protocols_.c_str());
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, config_.connect_timeout_ms);
  set(CURLOPT_TIMEOUT_MS, config_.total_timeout_ms);
  set(CURLOPT_USERAGENT, config_.user_agent.c_str());
  set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
  set(CURLOPT_USERNAME, config_.account_sid.c_str());
  set(CURLOPT_PASSWORD, config_.auth_token.c_str());
  set(CURLOPT_HTTPHEADER, headers);
  set(CURLOPT_WRITEFUNCTION, &AppendBody);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&sink));
  if (post) {
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form.size()));
    set(CURLOPT_POSTFIELDS, form.c_str());
  } else {
    set(CURLOPT_HTTPGET, 1L);
  }
  if (code == CURLE_OK) code = curl_easy_perform(handle);

  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(handle, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
      retry_after > 0) {
    result.retry_after_seconds = static_cast<long>(retry_after);
  }
  pool_->Return(handle);
  curl_slist_free_all(headers);

  result.http_status = static_cast<int>(status);
  result.transport_error = MapCurlCode(code);
  if (code != CURLE_OK) {
    std::string message = "curl error " + std::to_string(static_cast<int>(code)) + ": ";
    if (sink.overflow) {
      message += "response body larger than 1 MiB";
    } else {
      message += error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    }
    // libcurl quotes some URLs whole in its errors (a bad proxy variable, password included).
    result.transport_message = RedactUrlsInText(Redact(std::move(message), config_.auth_token));
    return result;
  }
  RestResult parsed = ParseRestResponse(static_cast<int>(status), std::move(result.body));
  parsed.retry_after_seconds = result.retry_after_seconds;
  return parsed;
}

}  // namespace frontline
