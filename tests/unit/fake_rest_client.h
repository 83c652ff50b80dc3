// A scripted RestClient for unit tests: each method answers from its own queue of results
// (then a default: 201 for add, the stored participant for fetch, 200 for update) and records
// every call. Thread-safe: a mutex guards the scripts, the participants and the call log, so
// several dispatchers (and a dispatcher's several workers) may share one fake.
// BlockConversation makes every call for one conversation wait (outside that mutex) until
// Unblock, or at most 10 s, as a stalled Twilio call would: the others go on meanwhile.
#ifndef FRONTLINE_TESTS_UNIT_FAKE_REST_CLIENT_H_
#define FRONTLINE_TESTS_UNIT_FAKE_REST_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "twilio/rest_client.h"

namespace frontline {
namespace testing {

inline RestResult HttpResult(int status, int code = 0,
                             std::optional<long> retry_after = std::nullopt) {
  RestResult result;
  result.http_status = status;
  if (code != 0 || status >= 400) {
    TwilioError error;
    error.code = code;
    error.status = status;
    error.message = "scripted " + std::to_string(status);
    result.error = error;
  }
  result.retry_after_seconds = retry_after;
  return result;
}

class FakeRestClient : public RestClient {
 public:
  struct Call {
    std::string method;  // "add", "fetch", "update"
    std::string conversation_sid;
    std::string argument;    // identity, participant SID
    std::string attributes;  // update only
  };

  void ScriptAdd(RestResult result) { Push(&add_script_, std::move(result)); }
  void ScriptFetch(RestResult result) { Push(&fetch_script_, std::move(result)); }
  void ScriptUpdate(RestResult result) { Push(&update_script_, std::move(result)); }
  // The attributes FetchParticipant answers for `participant_sid` (default "{}").
  void SetAttributes(const std::string& participant_sid, const std::string& attributes) {
    std::lock_guard<std::mutex> lock(mu_);
    attributes_[participant_sid] = attributes;
  }
  std::string Attributes(const std::string& participant_sid) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = attributes_.find(participant_sid);
    return it == attributes_.end() ? "{}" : it->second;
  }

  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  size_t CountCalls(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const Call& call : calls_) n += call.method == method ? 1 : 0;
    return n;
  }

  void BlockConversation(const std::string& conversation_sid) {
    std::lock_guard<std::mutex> lock(block_mu_);
    blocked_ = conversation_sid;
  }
  void Unblock() {
    {
      std::lock_guard<std::mutex> lock(block_mu_);
      blocked_.clear();
    }
    block_cv_.notify_all();
  }
  // Calls waiting in BlockConversation's stall now.
  int stalled() {
    std::lock_guard<std::mutex> lock(block_mu_);
    return stalled_;
  }

  RestResult AddParticipant(std::string_view conversation_sid, std::string_view identity) override {
    WaitWhileBlocked(conversation_sid);
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({"add", std::string(conversation_sid), std::string(identity), ""});
    return Pop(&add_script_, HttpResult(201));
  }

  RestResult FetchParticipant(std::string_view conversation_sid,
                              std::string_view participant_sid) override {
    WaitWhileBlocked(conversation_sid);
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({"fetch", std::string(conversation_sid), std::string(participant_sid), ""});
    RestResult result = HttpResult(200);
    Participant p;
    p.sid = std::string(participant_sid);
    p.conversation_sid = std::string(conversation_sid);
    auto it = attributes_.find(p.sid);
    p.attributes = it == attributes_.end() ? "{}" : it->second;
    result.participant = p;
    return Pop(&fetch_script_, result);
  }

  RestResult UpdateParticipantAttributes(std::string_view conversation_sid,
                                         std::string_view participant_sid,
                                         std::string_view attributes_json) override {
    WaitWhileBlocked(conversation_sid);
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({"update", std::string(conversation_sid), std::string(participant_sid),
                      std::string(attributes_json)});
    RestResult result = Pop(&update_script_, HttpResult(200));
    if (result.http_status >= 200 && result.http_status <= 299) {
      attributes_[std::string(participant_sid)] = std::string(attributes_json);
    }
    return result;
  }

 private:
  void WaitWhileBlocked(std::string_view conversation_sid) {
    std::unique_lock<std::mutex> lock(block_mu_);
    if (blocked_.empty() || blocked_ != conversation_sid) return;
    ++stalled_;
    block_cv_.wait_for(lock, std::chrono::seconds(10),
                       [&] { return blocked_ != conversation_sid; });
    --stalled_;
  }
  void Push(std::deque<RestResult>* script, RestResult result) {
    std::lock_guard<std::mutex> lock(mu_);
    script->push_back(std::move(result));
  }
  static RestResult Pop(std::deque<RestResult>* script, RestResult fallback) {
    if (script->empty()) return fallback;
    RestResult result = std::move(script->front());
    script->pop_front();
    return result;
  }

  std::mutex block_mu_;  // guards blocked_ and stalled_
  std::condition_variable block_cv_;
  std::string blocked_;
  int stalled_ = 0;
  std::mutex mu_;
  std::deque<RestResult> add_script_, fetch_script_, update_script_;
  std::map<std::string, std::string> attributes_;
  std::vector<Call> calls_;
};

}  // namespace testing
}  // namespace frontline

#endif  // FRONTLINE_TESTS_UNIT_FAKE_REST_CLIENT_H_
