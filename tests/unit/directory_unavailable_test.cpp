// Every handler over a directory that cannot answer (SPEC §1, §8): 503 "directory unavailable"
// with Retry-After, or the documented fallback, and never a routing job stored from a guess.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "handlers/metrics.h"
#include "handlers/router.h"
#include "handlers/unavailable.h"
#include "tests/unit/fake_outbox.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

struct UnavailableFixture : HandlerFixture {
  FakeOutbox outbox;
  Metrics metrics;
  UnavailableFixture() {
    services.outbox = &outbox;
    services.metrics = &metrics;
    Customer joe;
    joe.customer_id = "3";
    joe.display_name = "Joseph Martin";
    joe.avatar = "https://example.com/j.png";
    joe.worker = "alice@example.com";
    joe.channels = {{"sms", "+15558675310"}};
    directory.AddCustomer(joe);
    directory.AddWorker({"alice@example.com", "+15550001111", "whatsapp:+15550001111"});
    config.sms_number = "+15550009999";
    config.whatsapp_number = "+15550009999";
  }
};

std::string Header(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "<none>";
}

struct Case {
  const char* name;
  Handler handler;
  const char* path;
  std::vector<std::pair<const char*, const char*>> form;  // not an initializer_list: kept
  unsigned unavailable;                                   // FakeDirectory::Method bits
  bool default_worker;  // routing.default-worker set: must not be used as a fallback
};

using D = FakeDirectory;

Request Form(const Case& c) {
  Request request = FormRequest(c.path, {});
  for (const auto& [key, value] : c.form) request.form.Add(key, value);
  return request;
}

TEST_CASE("directory unavailable: every lookup answers 503 with Retry-After, nothing enqueued") {
  const std::vector<Case> cases = {
      {"crm GetCustomersList",
       &HandleCrm,
       "/callbacks/crm",
       {{"Location", "GetCustomersList"}, {"Worker", "alice@example.com"}},
       D::kListCustomers,
       false},
      {"crm GetCustomersList with a Query",
       &HandleCrm,
       "/callbacks/crm",
       {{"Location", "GetCustomersList"}, {"Worker", "alice@example.com"}, {"Query", "jo"}},
       D::kListCustomers,
       false},
      {"crm GetCustomerDetailsByCustomerId",
       &HandleCrm,
       "/callbacks/crm",
       {{"Location", "GetCustomerDetailsByCustomerId"}, {"CustomerId", "3"}},
       D::kFindById,
       false},
      {"templates GetTemplatesByCustomerId",
       &HandleTemplates,
       "/callbacks/templates",
       {{"Location", "GetTemplatesByCustomerId"}, {"CustomerId", "3"}, {"Worker", "a"}},
       D::kFindById,
       false},
      {"outgoing GetProxyAddress sms",
       &HandleOutgoingConversation,
       "/callbacks/outgoing-conversation",
       {{"Location", "GetProxyAddress"},
        {"Worker", "alice@example.com"},
        {"ChannelType", "sms"},
        {"ChannelValue", "+15558675310"}},
       D::kFindWorker,
       false},
      {"outgoing GetProxyAddress whatsapp",
       &HandleOutgoingConversation,
       "/callbacks/outgoing-conversation",
       {{"Location", "GetProxyAddress"},
        {"Worker", "alice@example.com"},
        {"ChannelType", "whatsapp"},
        {"ChannelValue", "whatsapp:+15558675310"}},
       D::kFindWorker,
       false},
      {"routing: customer lookup",
       &HandleRouting,
       "/callbacks/routing",
       {{"ConversationSid", "CH1"}, {"MessagingBinding.Address", "+15558675310"}},
       D::kFindByAddress,
       false},
      {"routing: customer lookup, not the default worker",
       &HandleRouting,
       "/callbacks/routing",
       {{"ConversationSid", "CH1"}, {"MessagingBinding.Address", "+15558675310"}},
       D::kFindByAddress,
       true},
      {"routing: unknown customer, round-robin list",
       &HandleRouting,
       "/callbacks/routing",
       {{"ConversationSid", "CH1"}, {"MessagingBinding.Address", "+19999999999"}},
       D::kWorkersWithCustomers,
       false},
      {"routing: no address, round-robin list",
       &HandleRouting,
       "/callbacks/routing",
       {{"ConversationSid", "CH1"}},
       D::kWorkersWithCustomers,
       false},
      {"routing: everything failing",
       &HandleRouting,
       "/callbacks/routing",
       {{"ConversationSid", "CH1"}, {"MessagingBinding.Address", "whatsapp:+15558675310"}},
       D::kAllMethods,
       false},
      {"conversations onParticipantAdded",
       &HandleConversations,
       "/callbacks/twilio-conversations",
       {{"EventType", "onParticipantAdded"},
        {"MessagingBinding.Address", "+15558675310"},
        {"ConversationSid", "CH1"},
        {"ParticipantSid", "MB1"}},
       D::kFindByAddress,
       false},
      {"conversations alias onParticipantAdded",
       &HandleConversations,
       "/callbacks/conversations",
       {{"EventType", "onParticipantAdded"},
        {"MessagingBinding.Address", "+15558675310"},
        {"ConversationSid", "CH1"},
        {"ParticipantSid", "MB1"}},
       D::kAllMethods,
       false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    UnavailableFixture f;
    if (c.default_worker) f.config.default_worker = "default@example.com";
    f.directory.set_unavailable(c.unavailable);
    Response r = c.handler(Form(c), f.services);
    CHECK(r.status == 503);
    CHECK(ErrorMessage(r) == "directory unavailable");
    CHECK(Header(r, "Retry-After") == "1");
    CHECK(r.log_detail.find(FakeDirectory::kError) != std::string::npos);
    CHECK(f.outbox.jobs().empty());
    CHECK(f.metrics.Render().find("frontline_directory_unavailable_total 1\n") !=
          std::string::npos);

    // The same call once the store is back: answered normally (the handlers keep no state).
    f.directory.set_unavailable(0);
    Response again = c.handler(Form(c), f.services);
    CHECK(again.status == 200);
  }
}

TEST_CASE("directory unavailable: the same requests succeed when only other lookups fail") {
  // Guards the table above against passing for the wrong reason: each case fails only because
  // of the lookup it names.
  UnavailableFixture f;
  f.directory.set_unavailable(D::kAllMethods & ~D::kFindById);
  Response r =
      HandleCrm(FormRequest("/callbacks/crm",
                            {{"Location", "GetCustomerDetailsByCustomerId"}, {"CustomerId", "3"}}),
                f.services);
  CHECK(r.status == 200);
  f.directory.set_unavailable(D::kAllMethods & ~D::kFindByAddress);
  r = HandleRouting(
      FormRequest("/callbacks/routing",
                  {{"ConversationSid", "CH1"}, {"MessagingBinding.Address", "+15558675310"}}),
      f.services);
  CHECK(r.status == 200);  // a known customer's worker needs no round-robin list
  CHECK(f.outbox.jobs().size() == 1);
}

TEST_CASE("directory unavailable: onConversationAdd (PRE) falls back to the raw address") {
  UnavailableFixture f;
  f.directory.set_unavailable(D::kAllMethods);
  Response r = HandleConversations(FormRequest("/callbacks/twilio-conversations",
                                               {{"EventType", "onConversationAdd"},
                                                {"MessagingBinding.Address", "+15558675310"}}),
                                   f.services);
  // A non-200 would block the conversation and lose the customer's message.
  CHECK(r.status == 200);
  rapidjson::Document body = ParseBody(r);
  CHECK(Str(body["friendly_name"]) == "+15558675310");
  CHECK(Str(body["attributes"]) == "{}");
  CHECK(r.log_detail.find("directory unavailable") != std::string::npos);
  CHECK(r.log_detail.find(FakeDirectory::kError) != std::string::npos);
  CHECK(f.outbox.jobs().empty());
  CHECK(f.metrics.Render().find("frontline_directory_unavailable_total 1\n") != std::string::npos);
}

TEST_CASE("directory unavailable: lookups that answer absent are still 404 / 200, not 503") {
  UnavailableFixture f;
  Response r = HandleCrm(
      FormRequest("/callbacks/crm",
                  {{"Location", "GetCustomerDetailsByCustomerId"}, {"CustomerId", "nobody"}}),
      f.services);
  CHECK(r.status == 404);
  r = HandleTemplates(FormRequest("/callbacks/templates", {{"Location", "GetTemplatesByCustomerId"},
                                                           {"CustomerId", "nobody"}}),
                      f.services);
  CHECK(r.status == 404);
  r = HandleConversations(
      FormRequest("/callbacks/twilio-conversations", {{"EventType", "onParticipantAdded"},
                                                      {"MessagingBinding.Address", "+19999999999"},
                                                      {"ConversationSid", "CH1"},
                                                      {"ParticipantSid", "MB1"}}),
      f.services);
  CHECK(r.status == 200);
  CHECK(f.outbox.jobs().empty());
  CHECK(f.metrics.Render().find("frontline_directory_unavailable_total 0\n") != std::string::npos);
}

TEST_CASE("directory unavailable: /healthz is 503") {
  UnavailableFixture f;
  f.directory.set_unavailable(D::kPing);
  Request request;
  request.method = "GET";
  request.path = "/healthz";
  Response r = HandleHealth(request, f.services);
  CHECK(r.status == 503);
  CHECK(Str(ParseBody(r)["directory"]) == "error");
}

}  // namespace
}  // namespace frontline
