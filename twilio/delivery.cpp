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
  // Iterative parsing and no re-serialisation of `existing`: the participant's attributes come
  // from Twilio (up to the REST client's 1 MiB), and both RapidJSON's recursive parser and its
  // recursive Accept would overflow the stack on deeply nested input. `existing` is kept byte
  // for byte instead, with the new members spliced in before its closing brace.
  rapidjson::Document add;
  add.Parse<rapidjson::kParseIterativeFlag>(additions.data(), additions.size());
  if (add.HasParseError() || !add.IsObject()) {
    SetError(error, "job attributes are not a JSON object");
    return false;
  }
  // RapidJSON stops at a NUL byte; so does the text kept.
  existing = existing.substr(0, existing.find('\0'));
  rapidjson::Document doc;
  if (existing.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    existing = "{}";
  }
  doc.Parse<rapidjson::kParseIterativeFlag>(existing.data(), existing.size());
  // Someone else's attributes that we cannot merge into: replacing them with an object of our
  // keys would destroy them.
  if (doc.HasParseError() || !doc.IsObject()) {
    SetError(error, doc.HasParseError()
                        ? "participant attributes are not valid JSON: left unchanged"
                        : "participant attributes are not a JSON object: left unchanged");
    return false;
  }

  // The members to add, as an object of their own ("{...}"), written from our own shallow JSON.
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  *changed = false;
  for (const auto& member : add.GetObject()) {
    if (doc.HasMember(member.name)) continue;
    member.name.Accept(writer);
    member.value.Accept(writer);
    *changed = true;
  }
  writer.EndObject();
  const std::string_view added(buffer.GetString(), buffer.GetSize());
  // A parsed object ends in '}' followed by nothing but JSON whitespace.
  size_t close = existing.find_last_not_of(" \t\r\n");
  merged->assign(existing.substr(0, close));
  if (*changed) {
    if (doc.MemberCount() > 0) merged->push_back(',');
    merged->append(added.substr(1, added.size() - 2));
  }
  merged->push_back('}');
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
