#include "twilio/delivery.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace frontline {
namespace {

void SetError(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

}  // namespace

bool MergeAttributes(std::string_view existing, std::string_view additions, std::string* merged,
                     bool* changed, std::string* error) {
  rapidjson::Document add;
  add.Parse(additions.data(), additions.size());
  if (add.HasParseError() || !add.IsObject()) {
    SetError(error, "job attributes are not a JSON object");
    return false;
  }
  rapidjson::Document doc;
  if (existing.empty()) {
    doc.SetObject();
  } else {
    doc.Parse(existing.data(), existing.size());
    // Someone else's attributes that we cannot merge into: replacing them with an object of
    // our keys would destroy them.
    if (doc.HasParseError() || !doc.IsObject()) {
      SetError(error, doc.HasParseError()
                          ? "participant attributes are not valid JSON: left unchanged"
                          : "participant attributes are not a JSON object: left unchanged");
      return false;
    }
  }
  *changed = false;
  auto& alloc = doc.GetAllocator();
  for (auto& member : add.GetObject()) {
    if (doc.HasMember(member.name)) continue;
    rapidjson::Value name(member.name, alloc);
    rapidjson::Value value(member.value, alloc);
    doc.AddMember(name, value, alloc);
    *changed = true;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  merged->assign(buffer.GetString(), buffer.GetSize());
  return true;
}

namespace {

Delivery FromResult(const RestResult& result, int calls) {
  Delivery d;
  d.outcome = Classify(result);
  d.description = DescribeResult(result);
  d.retry_after_seconds = result.retry_after_seconds;
  d.calls = calls;
  return d;
}

}  // namespace

Delivery DeliverJob(const OutboxJob& job, RestClient* client) {
  if (job.action == JobAction::kAddParticipant) {
    return FromResult(client->AddParticipant(job.conversation_sid, job.identity), 1);
  }
  rapidjson::Document check;
  check.Parse(job.attributes_json.data(), job.attributes_json.size());
  if (check.HasParseError() || !check.IsObject()) {
    Delivery d;
    d.outcome = Outcome::kFailed;
    d.description = "job attributes are not a JSON object";
    return d;
  }
  RestResult fetched = client->FetchParticipant(job.conversation_sid, job.participant_sid);
  if (Classify(fetched) != Outcome::kDone || fetched.http_status < 200 ||
      fetched.http_status > 299) {
    Delivery d = FromResult(fetched, 1);
    // A "done" classification of a non-2xx fetch (409) gives nothing to merge into.
    if (d.outcome == Outcome::kDone) d.outcome = Outcome::kFailed;
    d.description = "fetch participant: " + d.description;
    return d;
  }
  if (!fetched.participant) {
    Delivery d;
    d.outcome = Outcome::kFailed;
    d.description = "fetch participant: the answer holds no participant";
    d.calls = 1;
    return d;
  }
  std::string merged;
  bool changed = false;
  std::string reason;
  if (!MergeAttributes(fetched.participant->attributes, job.attributes_json, &merged, &changed,
                       &reason)) {
    // Kept failed, for an operator to fix the participant and `outbox retry` the job.
    Delivery d;
    d.outcome = Outcome::kFailed;
    d.description = reason;
    d.calls = 1;
    return d;
  }
  if (!changed) {
    Delivery d;
    d.outcome = Outcome::kDone;
    d.description = "attributes already set: no update";
    d.calls = 1;
    return d;
  }
  Delivery d = FromResult(
      client->UpdateParticipantAttributes(job.conversation_sid, job.participant_sid, merged), 2);
  return d;
}

}  // namespace frontline
