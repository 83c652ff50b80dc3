// /callbacks/routing and /callbacks/twilio-conversations (SPEC §5, §6) over fakes.
#include <set>

#include <doctest/doctest.h>

#include "handlers/router.h"
#include "tests/unit/fake_outbox.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

struct WebhookFixture : HandlerFixture {
  FakeOutbox outbox;
  WebhookFixture() {
    services.outbox = &outbox;
    Customer joe;
    joe.customer_id = "3";
    joe.display_name = "Joseph \"Joe\" Martin";
    joe.avatar = "https://example.com/j.png";
    joe.worker = "alice@example.com";
    joe.channels = {{"sms", "+15558675310"}, {"whatsapp", "whatsapp:+15558675310"}};
    directory.AddCustomer(joe);
    Customer ann;
    ann.customer_id = "4";
    ann.display_name = "Ann";
    ann.worker = "bob@example.com";
    ann.channels = {{"sms", "+15550000004"}};
    directory.AddCustomer(ann);
  }
};

TEST_CASE("routing: the customer's worker, by SMS and by WhatsApp address") {
  for (const char* address : {"+15558675310", "whatsapp:+15558675310", "whatsapp:+1 555 867-5310"}) {
    CAPTURE(address);
    WebhookFixture f;
    Response r = HandleRouting(FormRequest("/callbacks/routing",
                                           {{"ConversationSid", "CH1"},
                                            {"MessagingBinding.Address", address}}),
                               f.services);
    CHECK(r.status == 200);
    CHECK(r.body == "{\"worker\":\"alice@example.com\"}");
    REQUIRE(f.outbox.jobs().size() == 1);
    CHECK(f.outbox.jobs()[0].action == JobAction::kAddParticipant);
    CHECK(f.outbox.jobs()[0].conversation_sid == "CH1");
    CHECK(f.outbox.jobs()[0].identity == "alice@example.com");
  }
}

TEST_CASE("routing: default worker, then round-robin, then 422") {
  WebhookFixture f;
  f.config.default_worker = "default@example.com";
  Response r = HandleRouting(FormRequest("/callbacks/routing",
                                         {{"ConversationSid", "CH2"},
                                          {"MessagingBinding.Address", "+19999999999"}}),
                             f.services);
  CHECK(r.body == "{\"worker\":\"default@example.com\"}");

  f.config.default_worker.clear();
  std::set<std::string> chosen;
  for (int i = 0; i < 4; ++i) {
    Response rr = HandleRouting(
        FormRequest("/callbacks/routing", {{"ConversationSid", i % 2 ? "CH3" : "CH4"},
                                           {"MessagingBinding.Address", "+19999999999"}}),
        f.services);
    CHECK(rr.status == 200);
    chosen.insert(ParseBody(rr)["worker"].GetString());
  }
  CHECK(chosen == std::set<std::string>{"alice@example.com", "bob@example.com"});

  HandlerFixture empty;
  FakeOutbox outbox;
  empty.services.outbox = &outbox;
  Response none = HandleRouting(FormRequest("/callbacks/routing", {{"ConversationSid", "CH5"}}),
                                empty.services);
  CHECK(none.status == 422);
  CHECK(outbox.jobs().empty());
}

TEST_CASE("routing: Twilio's retry of the same webhook stores one job; errors") {
  WebhookFixture f;
  auto request = FormRequest("/callbacks/routing", {{"ConversationSid", "CH6"},
                                                    {"MessagingBinding.Address", "+15558675310"}});
  CHECK(HandleRouting(request, f.services).status == 200);
  CHECK(HandleRouting(request, f.services).status == 200);
  CHECK(f.outbox.jobs().size() == 1);

  CHECK(HandleRouting(FormRequest("/callbacks/routing", {{"MessagingBinding.Address", "+1"}}),
                      f.services)
            .status == 400);
  f.outbox.set_fail(true);
  Response failed = HandleRouting(FormRequest("/callbacks/routing", {{"ConversationSid", "CH7"}}),
                                  f.services);
  CHECK(failed.status == 503);
  CHECK(failed.log_detail.find("disk full") != std::string::npos);
}

TEST_CASE("routing: a retried webhook answers the worker stored the first time") {
  WebhookFixture f;
  // An unknown address: round-robin chooses, and chooses another worker the next time.
  auto request = FormRequest("/callbacks/routing", {{"ConversationSid", "CH8"},
                                                    {"MessagingBinding.Address", "+19990000008"}});
  Response first = HandleRouting(request, f.services);
  REQUIRE(first.status == 200);
  Response other = HandleRouting(FormRequest("/callbacks/routing",
                                             {{"ConversationSid", "CH9"},
                                              {"MessagingBinding.Address", "+19990000009"}}),
                                 f.services);
  REQUIRE(other.status == 200);
  REQUIRE(other.body != first.body);  // the rotation moved on
  Response retry = HandleRouting(request, f.services);
  CHECK(retry.status == 200);
  CHECK(retry.body == first.body);
  CHECK(retry.log_worker == first.log_worker);
  CHECK(f.outbox.jobs().size() == 2);
}

TEST_CASE("conversations: onConversationAdd names the conversation") {
  WebhookFixture f;
  struct Case {
    const char* address;
    const char* body;
  };
  const Case cases[] = {
      {"whatsapp:+15558675310",
       R"({"friendly_name":"Joseph \"Joe\" Martin","attributes":"{\"avatar\":\"https://example.com/j.png\"}"})"},
      {"+15550000004", R"({"friendly_name":"Ann","attributes":"{}"})"},
      {"+19998887777", R"({"friendly_name":"+19998887777","attributes":"{}"})"},
      {"", "{}"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.address);
    Response r = HandleConversations(
        FormRequest("/callbacks/twilio-conversations",
                    {{"EventType", "onConversationAdd"}, {"MessagingBinding.Address", c.address}}),
        f.services);
    CHECK(r.status == 200);
    CHECK(r.body == c.body);
  }
  CHECK(f.outbox.jobs().empty());
}

TEST_CASE("conversations: an address that is not UTF-8 still gives valid JSON") {
  // The unknown address is the friendly_name as received; a stray byte becomes U+FFFD rather
  // than making the PRE-event answer invalid JSON (which would block the conversation).
  WebhookFixture f;
  Response r = HandleConversations(
      FormRequest("/callbacks/twilio-conversations",
                  {{"EventType", "onConversationAdd"}, {"MessagingBinding.Address", "+1555\xff"}}),
      f.services);
  CHECK(r.status == 200);
  CHECK(r.body == "{\"friendly_name\":\"+1555\xEF\xBF\xBD\",\"attributes\":\"{}\"}");
}

TEST_CASE("conversations: onParticipantAdded enqueues the attribute merge for customers only") {
  WebhookFixture f;
  Response r = HandleConversations(
      FormRequest("/callbacks/conversations", {{"EventType", "onParticipantAdded"},
                                               {"ConversationSid", "CH1"},
                                               {"ParticipantSid", "MB1"},
                                               {"MessagingBinding.Address", "+15558675310"}}),
      f.services);
  CHECK(r.status == 200);
  CHECK(r.body == "{}");
  REQUIRE(f.outbox.jobs().size() == 1);
  const OutboxJob& job = f.outbox.jobs()[0];
  CHECK(job.action == JobAction::kSetParticipantAttributes);
  CHECK(job.participant_sid == "MB1");
  CHECK(job.attributes_json ==
        R"({"customer_id":"3","display_name":"Joseph \"Joe\" Martin","avatar":"https://example.com/j.png"})");

  // A worker participant (Identity set), an unknown address, no address: nothing to do.
  for (auto pairs : {FormPairs{{"EventType", "onParticipantAdded"}, {"ConversationSid", "CH1"},
                               {"ParticipantSid", "MB2"}, {"Identity", "alice@example.com"}},
                     FormPairs{{"EventType", "onParticipantAdded"}, {"ConversationSid", "CH1"},
                               {"ParticipantSid", "MB3"},
                               {"MessagingBinding.Address", "+17770000000"}},
                     FormPairs{{"EventType", "onParticipantAdded"}, {"ConversationSid", "CH1"}}}) {
    Response other = HandleConversations(FormRequest("/callbacks/conversations", pairs), f.services);
    CHECK(other.status == 200);
    CHECK(other.body == "{}");
  }
  CHECK(f.outbox.jobs().size() == 1);
}

TEST_CASE("conversations: other events are 200 {}, a missing EventType is 400") {
  WebhookFixture f;
  for (const char* event : {"onMessageAdd", "onMessageAdded", "onConversationStateUpdated"}) {
    Response r = HandleConversations(
        FormRequest("/callbacks/twilio-conversations", {{"EventType", event}}), f.services);
    CHECK(r.status == 200);
    CHECK(r.body == "{}");
  }
  CHECK(HandleConversations(FormRequest("/callbacks/twilio-conversations", {}), f.services).status ==
        400);
}

}  // namespace
}  // namespace frontline
