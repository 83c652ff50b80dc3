// /callbacks/routing (SPEC §5): Frontline's custom routing of a new inbound conversation. The
// worker is chosen here and the "add participant" call is stored in the outbox before we
// answer, so the answer never waits for Twilio and no conversation is left unassigned when the
// REST API hiccups.
#include <cstdint>
#include <string>
#include <vector>

#include "directory/directory.h"
#include "handlers/json.h"
#include "handlers/optout.h"
#include "handlers/router.h"
#include "events/outbox.h"
#include "handlers/unavailable.h"

namespace frontline {
namespace {

// The assigned worker of the customer owning `address`, else the default worker, else the next
// worker in round-robin; absent when there is none at all. Unavailable when the directory
// cannot say: falling through to the default or round-robin then would store a guess for good
// (the outbox deduplicates Twilio's retries), so the caller answers 503 and enqueues nothing.
Lookup<std::string> ChooseWorker(std::string_view address, Services& services) {
  if (!address.empty()) {
    Lookup<Customer> customer = services.directory->FindByAddress(address);
    if (customer.unavailable()) return Lookup<std::string>::Unavailable(customer.error());
    if (customer.found() && !customer->worker.empty()) {
      return Lookup<std::string>::Found(customer->worker);
    }
  }
  if (!services.config.default_worker.empty()) {
    return Lookup<std::string>::Found(services.config.default_worker);
  }
  Lookup<std::vector<std::string>> workers = services.directory->WorkersWithCustomers();
  if (workers.unavailable()) return Lookup<std::string>::Unavailable(workers.error());
  if (workers->empty()) return Lookup<std::string>::Absent();
  // The turn comes from the outbox's store: on PostgreSQL one sequence for every host.
  const uint64_t turn = services.outbox->NextRoundRobinTurn();
  return Lookup<std::string>::Found((*workers)[turn % workers->size()]);
}

Response RouteConversation(const Request& request, Services& services) {
  std::string_view conversation = request.form.Get("ConversationSid");
  if (conversation.empty()) return ErrorResponse(400, "missing ConversationSid");
  if (services.directory == nullptr || services.outbox == nullptr) {
    return ErrorResponse(503, "routing not configured", "no directory or outbox");
  }
  std::string_view address = request.form.Get("MessagingBinding.Address");
  Lookup<std::string> chosen = ChooseWorker(address, services);
  if (chosen.unavailable()) return DirectoryUnavailable(services, chosen.error());
  std::string worker = chosen.found() ? std::move(chosen).value() : std::string();
  if (worker.empty()) {
    return ErrorResponse(422, "no worker to route to",
                         "no customer worker, no routing.default-worker and no workers with "
                         "customers for conversation " + std::string(conversation));
  }
  OutboxJob job;
  job.action = JobAction::kAddParticipant;
  job.conversation_sid = std::string(conversation);
  job.identity = worker;
  // The conversation's customer for opt-outs (SPEC §11), stored in the job's commit: without
  // the map a STOP could not block this conversation.
  AttachConversationMap(request, services, &job);
  std::string error;
  OutboxJob stored;
  const EnqueueResult result = services.outbox->Enqueue(job, &stored, &error);
  if (result == EnqueueResult::kError) {
    // 503 so Twilio retries; the job is not stored, so nothing would add the worker otherwise.
    return ErrorResponse(503, "could not store the routing job", error);
  }
  // A duplicate is Twilio retrying this webhook: the first job adds the worker chosen then
  // (round-robin or the directory may choose another now), so that is the answer again.
  if (result == EnqueueResult::kDuplicate && !stored.identity.empty()) worker = stored.identity;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "worker");
  WriteString(w, worker);
  w.EndObject();
  Response response = JsonResponse(200, buffer);
  response.log_worker = worker;
  return response;
}

}  // namespace

Response HandleRouting(const Request& request, Services& services) {
  Response response = RouteConversation(request, services);
  response.log_operation = std::string(request.form.Get("ConversationSid"));
  return response;
}

}  // namespace frontline
