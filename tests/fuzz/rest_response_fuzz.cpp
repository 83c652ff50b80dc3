// Fuzz target: what the Twilio REST client makes of an answer (twilio/rest_client.h
// ParseRestResponse, Classify, DescribeResult) and what the outbox does with it (MergeAttributes,
// DeliverJob). Input: the HTTP status in decimal on the first line (anything else reads as 200),
// then the body. Checks: the status table of SPEC §6, a participant only from 2xx and an error
// only from >= 400, and for a fetched participant a merge that keeps every existing key and
// yields a JSON object, sent as the update only when it added something.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "tests/unit/fake_rest_client.h"
#include "twilio/outbox.h"
#include "twilio/rest_client.h"

namespace frontline {
namespace {

int StatusFrom(std::string_view line) {
  if (line.empty() || line.size() > 3) return 200;
  int status = 0;
  for (char c : line) {
    if (c < '0' || c > '9') return 200;
    status = status * 10 + (c - '0');
  }
  return status;
}

Outcome ExpectedOutcome(const RestResult& r) {
  const int s = r.http_status;
  if (s >= 200 && s < 300) return Outcome::kDone;
  if (s == 409 || (r.error && (r.error->code == 50433 || r.error->code == 50437))) {
    return Outcome::kDone;
  }
  if (s == 429 || (s >= 500 && s < 600)) return Outcome::kRetry;
  return Outcome::kFailed;
}

void CheckMerge(std::string_view existing) {
  constexpr std::string_view kAdditions =
      R"({"customer_id":"4","display_name":"Zoë Ångström","avatar":"https://example.com/a.png"})";
  std::string merged;
  bool changed = false;
  FUZZ_CHECK(MergeAttributes(existing, kAdditions, &merged, &changed),
             "additions that are an object refused");
  rapidjson::Document out;
  out.Parse(merged.data(), merged.size());
  FUZZ_CHECK(!out.HasParseError() && out.IsObject(), "merge is not a JSON object: " + merged);
  for (const char* key : {"customer_id", "display_name", "avatar"}) {
    FUZZ_CHECK(out.HasMember(key), std::string("merge lacks ") + key);
  }
  rapidjson::Document in;
  in.Parse(existing.data(), existing.size());
  if (!in.HasParseError() && in.IsObject()) {
    for (const auto& member : in.GetObject()) {
      FUZZ_CHECK(out.HasMember(member.name), "merge dropped an existing key");
    }
    bool all_present =
        in.HasMember("customer_id") && in.HasMember("display_name") && in.HasMember("avatar");
    FUZZ_CHECK(changed == !all_present, "changed flag wrong");
  } else {
    FUZZ_CHECK(changed, "merging into nothing must change it");
  }
}

}  // namespace
}  // namespace frontline

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frontline;
  const std::vector<std::string_view> fields = fuzz::SplitFields(fuzz::AsView(data, size), 2);
  const int status = StatusFrom(fields[0]);
  const std::string body(fields[1]);

  ParseTwilioError(body);
  ParseParticipant(body);

  RestResult result = ParseRestResponse(status, body);
  FUZZ_CHECK(result.http_status == status && result.body == body, "status or body not kept");
  FUZZ_CHECK(result.transport_error == TransportError::kNone, "a complete answer has no error");
  FUZZ_CHECK(!result.participant || (status >= 200 && status < 300), "participant from non-2xx");
  FUZZ_CHECK(!result.error || status >= 400, "error from a status below 400");
  FUZZ_CHECK(Classify(result) == ExpectedOutcome(result), "Classify disagrees with SPEC §6");
  const std::string description = DescribeResult(result);
  FUZZ_CHECK(description.rfind("HTTP " + std::to_string(status), 0) == 0,
             "description does not start with the status: " + description);
  if (result.participant) CheckMerge(result.participant->attributes);

  // The outbox's attribute job, with this answer as the fetch.
  testing::FakeRestClient client;
  client.ScriptFetch(result);
  OutboxJob job;
  job.action = JobAction::kSetParticipantAttributes;
  job.conversation_sid = "CH00000000000000000000000000000000";
  job.participant_sid = "MB00000000000000000000000000000000";
  job.attributes_json = R"({"customer_id":"4","display_name":"Zoë"})";
  Delivery delivery = DeliverJob(job, &client);
  const size_t updates = client.CountCalls("update");
  FUZZ_CHECK(delivery.calls == 1 + static_cast<int>(updates), "calls miscounted");
  if (!(status >= 200 && status < 300 && result.participant)) {
    FUZZ_CHECK(updates == 0, "updated a participant that was not fetched");
    FUZZ_CHECK(delivery.outcome != Outcome::kDone, "a job without a fetched participant is done");
  }
  if (updates == 1) {
    rapidjson::Document sent;
    const std::string attributes = client.calls().back().attributes;
    sent.Parse(attributes.data(), attributes.size());
    FUZZ_CHECK(!sent.HasParseError() && sent.IsObject(), "update sends no JSON object");
  }
  return 0;
}
