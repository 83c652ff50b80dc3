// /callbacks/twilio-conversations and its alias /callbacks/conversations (SPEC §6, §11): Twilio
// Conversations webhooks. Pre-events (onConversationAdd, onMessageAdd) block the action until we
// answer and reject it on anything but 200, so every event we do not handle is answered 200 {}.
#include <optional>
#include <string>

#include "directory/address.h"
#include "directory/customer_json.h"
#include "directory/directory.h"
#include "directory/text.h"
#include "events/optout_store.h"
#include "events/outbox.h"
#include "handlers/json.h"
#include "handlers/metrics.h"
#include "handlers/optout.h"
#include "handlers/router.h"
#include "handlers/unavailable.h"

namespace frontline {
namespace {

Response EmptyObject() {
  Response response;
  response.body = "{}";
  return response;
}

Lookup<Customer> CustomerAt(std::string_view address, Services& services) {
  if (address.empty() || services.directory == nullptr) return Lookup<Customer>::Absent();
  return services.directory->FindByAddress(address);
}

// PRE-event: an inbound message is about to create a conversation. Naming it after the
// customer lets the worker see who wrote once the conversation is routed. A directory that
// cannot answer does not block the conversation (any non-200 here would, and the customer's
// message would be lost): the fallback is the raw address as the name, as for an unknown
// customer, with the failure in the log line and in /metrics.
Response OnConversationAdd(const Request& request, Services& services) {
  std::string_view address = request.form.Get("MessagingBinding.Address");
  if (address.empty()) return EmptyObject();  // created by the app or the API: leave it be
  Lookup<Customer> lookup = CustomerAt(address, services);
  std::string detail;
  if (lookup.unavailable()) {
    CountDirectoryUnavailable(services);
    detail = "directory unavailable, named after the address: " + lookup.error();
  }
  const Customer* customer = lookup.found() ? &lookup.value() : nullptr;

  rapidjson::StringBuffer attributes;
  JsonWriter a(attributes);
  a.StartObject();
  if (customer) WriteOptionalMember(a, "avatar", customer->avatar);
  a.EndObject();

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "friendly_name");
  WriteString(w, customer ? std::string_view(customer->display_name) : address);
  WriteKey(w, "attributes");  // a JSON-encoded string, not an object
  w.String(attributes.GetString(), static_cast<rapidjson::SizeType>(attributes.GetSize()));
  w.EndObject();
  Response response = JsonResponse(200, buffer);
  response.log_detail = std::move(detail);
  return response;
}

// POST-event: a participant joined. For a known customer's SMS/WhatsApp participant, set
// customer_id (which the app needs to open Customer Details), display_name and avatar on its
// attributes, in the background and without overwriting keys it already has. A directory that
// cannot answer is a 503, not a silent 200: the participant is already added (POST-event), so
// the 503 blocks nothing, and Twilio's webhook retry (or its failure log) keeps the update from
// being dropped without a trace.
Response OnParticipantAdded(const Request& request, Services& services) {
  std::string_view address = request.form.Get("MessagingBinding.Address");
  std::string_view identity = request.form.Get("Identity");
  if (address.empty() || !identity.empty()) return EmptyObject();  // a worker, not a customer
  Lookup<Customer> customer = CustomerAt(address, services);
  if (customer.unavailable()) return DirectoryUnavailable(services, customer.error());
  if (customer.absent()) {
    // Still the conversation's customer for opt-outs (SPEC §11); a 503 when that cannot be
    // stored, so Twilio's retry stores it. (A known customer's goes with the job below.)
    std::string error;
    if (!RecordConversationMap(request, services, &error)) return OptOutsUnavailable(error);
    return EmptyObject();
  }
  std::string_view conversation = request.form.Get("ConversationSid");
  std::string_view participant = request.form.Get("ParticipantSid");
  if (conversation.empty() || participant.empty()) {
    return ErrorResponse(400, "missing ConversationSid or ParticipantSid");
  }
  if (services.outbox == nullptr) return ErrorResponse(503, "outbox not configured");

  rapidjson::StringBuffer attributes;
  JsonWriter a(attributes);
  WriteCustomerSummary(a, *customer);  // what the app needs to open Customer Details

  OutboxJob job;
  job.action = JobAction::kSetParticipantAttributes;
  job.conversation_sid = std::string(conversation);
  job.participant_sid = std::string(participant);
  job.attributes_json.assign(attributes.GetString(), attributes.GetSize());
  AttachConversationMap(request, services, &job);  // the map, in the job's commit (SPEC §11)
  std::string error;
  if (services.outbox->Enqueue(job, &error) == EnqueueResult::kError) {
    return ErrorResponse(503, "could not store the participant update", error);
  }
  Response response = EmptyObject();
  response.log_worker = customer->worker;
  return response;
}

// The conversation and its customer's opt-out state; absent without a ConversationSid or an
// opt-out store.
Lookup<ConversationState> MappedConversation(const Request& request, Services& services) {
  std::string_view conversation = request.form.Get("ConversationSid");
  if (conversation.empty() || services.optouts == nullptr) {
    return Lookup<ConversationState>::Absent();
  }
  return services.optouts->FindConversation(std::string(conversation));
}

// PRE-event: a message is about to be added. A worker's (anyone's but the customer's) message
// to a customer opted out on this conversation's number is rejected with 451, which makes
// Twilio refuse it. A store that cannot answer is a 503, which rejects it too: when we cannot
// tell, we do not let it through (the worker can send again). The customer's own messages and
// unmapped conversations pass.
Response OnMessageAdd(const Request& request, Services& services) {
  Lookup<ConversationState> mapped = MappedConversation(request, services);
  if (mapped.unavailable()) return OptOutsUnavailable(mapped.error());
  if (!ShouldBlockMessage(request.form.Get("Author"), mapped.found() ? &*mapped : nullptr)) {
    return EmptyObject();
  }
  if (services.metrics != nullptr) services.metrics->RecordOptOutBlock(OptOutBlock::kMessage);
  Response response = ErrorResponse(451, kOptedOutError);
  response.log_detail = "customer opted out on proxy " +
                        (mapped->proxy.empty() ? std::string("(every)") : mapped->proxy);
  return response;
}

// POST-event: a message was added. The customer's message that is exactly a keyword records
// an opt-out or opt-in (SPEC §11); anything else changes nothing and costs no store read. A
// store that cannot answer or record is a 503, so Twilio's retry (or its failure log) keeps a
// STOP from being dropped without a trace.
Response OnMessageAdded(const Request& request, Services& services) {
  if (services.optouts == nullptr) return EmptyObject();
  const std::string_view body = request.form.Get("Body");
  const Keyword keyword = services.config.optout_keywords.Classify(body);
  if (keyword == Keyword::kNone) return EmptyObject();
  Lookup<ConversationState> mapped = MappedConversation(request, services);
  if (mapped.unavailable()) return OptOutsUnavailable(mapped.error());
  std::optional<OptOutChange> change =
      DecideKeyword(keyword, request.form.Get("Author"), mapped.found() ? &*mapped : nullptr);
  Response response = EmptyObject();
  if (!change) {
    response.log_detail = "keyword not from the customer: nothing recorded";
    return response;
  }
  const std::string reason = "'" + std::string(TrimWhitespace(body)) + "' in " +
                             std::string(request.form.Get("ConversationSid"));
  std::string error;
  if (!services.optouts->SetOptOut(change->address, change->proxy, change->opted_out, reason,
                                   &error)) {
    return OptOutsUnavailable(error);
  }
  if (services.metrics != nullptr) services.metrics->RecordOptOutChange(change->opted_out);
  response.log_detail = std::string(change->opted_out ? "opted out" : "opted in") + " on " +
                        (change->proxy.empty() ? std::string("every proxy")
                                               : "proxy " + change->proxy);
  return response;
}

Response HandleEvent(const Request& request, Services& services) {
  std::string_view event = request.form.Get("EventType");
  if (event.empty()) return ErrorResponse(400, "missing EventType");
  if (event == "onConversationAdd") return OnConversationAdd(request, services);
  if (event == "onParticipantAdded") return OnParticipantAdded(request, services);
  if (event == "onMessageAdd") return OnMessageAdd(request, services);
  if (event == "onMessageAdded") return OnMessageAdded(request, services);
  return EmptyObject();
}

}  // namespace

Response HandleConversations(const Request& request, Services& services) {
  Response response = HandleEvent(request, services);
  response.log_operation = std::string(request.form.Get("EventType"));
  return response;
}

}  // namespace frontline
