// SPEC §11 opt-outs: the keyword rules, the decisions (tables), and the handlers that use them
// (onMessageAdded records, onMessageAdd blocks, GetProxyAddress refuses, routing and
// onParticipantAdded map) over fakes.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "handlers/metrics.h"
#include "handlers/optout.h"
#include "handlers/router.h"
#include "tests/unit/fake_optout_store.h"
#include "tests/unit/fake_outbox.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

const char* Name(Keyword k) {
  switch (k) {
    case Keyword::kNone:
      return "none";
    case Keyword::kStop:
      return "stop";
    case Keyword::kStart:
      return "start";
  }
  return "?";
}

TEST_CASE("optout: default keywords, trimmed, any case, exact") {
  struct Row {
    const char* body;
    Keyword expected;
  };
  const Row rows[] = {
      {"STOP", Keyword::kStop},
      {"stop", Keyword::kStop},
      {"Stop", Keyword::kStop},
      {"  stop \r\n", Keyword::kStop},
      {"\tSTOPALL", Keyword::kStop},
      {"unsubscribe", Keyword::kStop},
      {"CANCEL", Keyword::kStop},
      {"end", Keyword::kStop},
      {"Quit", Keyword::kStop},
      {"\xEF\xBC\xB3\xEF\xBC\xB4\xEF\xBC\xAF\xEF\xBC\xB0", Keyword::kStop},  // full-width STOP
      {"START", Keyword::kStart},
      {"yes", Keyword::kStart},
      {" Unstop ", Keyword::kStart},
      {"", Keyword::kNone},
      {"   ", Keyword::kNone},
      {"STOP please", Keyword::kNone},
      {"please stop", Keyword::kNone},
      {"stop.", Keyword::kNone},
      {"STOP!", Keyword::kNone},
      {"S T O P", Keyword::kNone},
      {"stopp", Keyword::kNone},
      {"sto", Keyword::kNone},
      {"Don't stop me now", Keyword::kNone},
      {"yes please", Keyword::kNone},
      {"NO", Keyword::kNone},
  };
  const OptOutKeywords keywords;
  for (const Row& row : rows) {
    INFO(row.body);
    CHECK(Name(keywords.Classify(row.body)) == std::string(Name(row.expected)));
  }
  // A long message is never folded whole, and is no keyword.
  CHECK(keywords.Classify(std::string(100000, 'x')) == Keyword::kNone);
}

TEST_CASE("optout: configured keywords replace the defaults; bad ones are refused") {
  struct Row {
    const char* stop;
    const char* start;
    const char* error;  // nullptr: valid
    const char* body;
    Keyword expected;
  };
  const Row rows[] = {
      {"", "", nullptr, "stop", Keyword::kStop},  // empty: the defaults
      {"HALT", "", nullptr, "halt", Keyword::kStop},
      {"HALT", "", nullptr, "stop", Keyword::kNone},  // replaced, not added to
      {"HALT", "", nullptr, "start", Keyword::kStart},
      {"", "RESUME", nullptr, "yes", Keyword::kNone},
      {"", "RESUME", nullptr, "Resume", Keyword::kStart},
      {"  halt\tarrêt  ", "", nullptr, "ARRET", Keyword::kStop},  // accents folded too
      {"halt halt HALT", "", nullptr, "halt", Keyword::kStop},    // duplicates are one
      {"STOP.", "", "'STOP.' must be letters and digits only", "", Keyword::kNone},
      {"", "opt-in", "'opt-in' must be letters and digits only", "", Keyword::kNone},
      {"HALT", "halt", "'halt' is in both", "", Keyword::kNone},
      {"ARRÊT", "arret", "'arret' is in both", "", Keyword::kNone},
      {"", "STOP", "'stop' is in both", "", Keyword::kNone},  // against the default stop set
      {"\xff", "", "not valid UTF-8", "", Keyword::kNone},
  };
  for (const Row& row : rows) {
    INFO(row.stop);
    INFO(row.start);
    std::string error;
    std::optional<OptOutKeywords> k = OptOutKeywords::Parse(row.stop, row.start, &error);
    if (row.error != nullptr) {
      CHECK_FALSE(k.has_value());
      CHECK(error.find(row.error) != std::string::npos);
      continue;
    }
    REQUIRE_MESSAGE(k.has_value(), error);
    CHECK(Name(k->Classify(row.body)) == std::string(Name(row.expected)));
  }
  std::string error;
  CHECK_FALSE(OptOutKeywords::Parse(std::string(65, 'a'), "", &error).has_value());
  CHECK(error.find("longer than 64 bytes") != std::string::npos);
  CHECK(OptOutKeywords::Parse(std::string(64, 'a'), "", &error).has_value());
}

TEST_CASE("optout: what a keyword records") {
  const ConversationState mapped{"15558675310", "15550001111", false};
  const ConversationState no_proxy{"15558675310", "", false};
  struct Row {
    const char* name;
    Keyword keyword;
    const char* author;
    const ConversationState* mapped;
    bool records;
    const char* address;
    const char* proxy;
    bool opted_out;
  };
  const Row rows[] = {
      {"customer STOP, mapped", Keyword::kStop, "+15558675310", &mapped, true, "15558675310",
       "15550001111", true},
      {"customer START, mapped", Keyword::kStart, "+15558675310", &mapped, true, "15558675310",
       "15550001111", false},
      {"customer on WhatsApp, mapped", Keyword::kStop, "whatsapp:+15558675310", &mapped, true,
       "15558675310", "15550001111", true},
      {"worker STOP, mapped", Keyword::kStop, "alice@example.com", &mapped, false, "", "", false},
      {"another number, mapped", Keyword::kStop, "+15550000002", &mapped, false, "", "", false},
      {"mapped without a proxy: every proxy", Keyword::kStop, "+15558675310", &no_proxy, true,
       "15558675310", "", true},
      {"unmapped phone STOP: every proxy", Keyword::kStop, "+1 555 867 5310", nullptr, true,
       "15558675310", "", true},
      {"unmapped WhatsApp START: every proxy", Keyword::kStart, "whatsapp:+15558675310", nullptr,
       true, "15558675310", "", false},
      {"unmapped identity", Keyword::kStop, "alice@example.com", nullptr, false, "", "", false},
      {"unmapped empty author", Keyword::kStop, "", nullptr, false, "", "", false},
      {"no keyword", Keyword::kNone, "+15558675310", &mapped, false, "", "", false},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    std::optional<OptOutChange> change = DecideKeyword(row.keyword, row.author, row.mapped);
    REQUIRE(change.has_value() == row.records);
    if (!change) continue;
    CHECK(change->address == row.address);
    CHECK(change->proxy == row.proxy);
    CHECK(change->opted_out == row.opted_out);
  }
}

TEST_CASE("optout: which PRE-event messages are blocked") {
  const ConversationState out{"15558675310", "15550001111", true};
  const ConversationState in{"15558675310", "15550001111", false};
  struct Row {
    const char* author;
    const ConversationState* mapped;
    bool blocked;
  };
  const Row rows[] = {
      {"alice@example.com", &out, true},  {"system", &out, true},
      {"", &out, true},                   {"+15550000002", &out, true},
      {"+15558675310", &out, false},      {"whatsapp:+1 555 867 5310", &out, false},
      {"alice@example.com", &in, false},  {"alice@example.com", nullptr, false},
  };
  for (const Row& row : rows) {
    INFO(row.author);
    CAPTURE(row.mapped == &out);
    CHECK(ShouldBlockMessage(row.author, row.mapped) == row.blocked);
  }
}

struct OptOutFixture : HandlerFixture {
  FakeOutbox outbox;
  FakeOptOutStore optouts;
  Metrics metrics;
  OptOutFixture() {
    services.outbox = &outbox;
    services.optouts = &optouts;
    services.metrics = &metrics;
    outbox.set_map_store(&optouts);  // one event store, as in main
    config.sms_number = "+15550001111";
    config.whatsapp_number = "+15550001111";
    Customer joe;
    joe.customer_id = "3";
    joe.display_name = "Joe";
    joe.worker = "alice@example.com";
    joe.channels = {{"sms", "+15558675310"}};
    directory.AddCustomer(joe);
    directory.AddWorker({"bob@example.com", "+15550009999", ""});
  }
  Response Route(const char* conversation, const char* address, const char* proxy) {
    return HandleRouting(FormRequest("/callbacks/routing",
                                     {{"ConversationSid", conversation},
                                      {"MessagingBinding.Address", address},
                                      {"MessagingBinding.ProxyAddress", proxy}}),
                         services);
  }
  Response Event(const char* event, const char* conversation, const char* author,
                 const char* body) {
    return HandleConversations(FormRequest("/callbacks/twilio-conversations",
                                           {{"EventType", event},
                                            {"ConversationSid", conversation},
                                            {"Author", author},
                                            {"Body", body}}),
                               services);
  }
  Response Proxy(const char* worker, const char* type, const char* value) {
    return HandleOutgoingConversation(FormRequest("/callbacks/outgoing-conversation",
                                                  {{"Location", "GetProxyAddress"},
                                                   {"Worker", worker},
                                                   {"ChannelType", type},
                                                   {"ChannelValue", value}}),
                                      services);
  }
  bool Metric(const std::string& line) {
    return metrics.Render().find(line + "\n") != std::string::npos;
  }
};

TEST_CASE("optout handlers: routing and onParticipantAdded map the conversation") {
  OptOutFixture f;
  CHECK(f.Route("CH1", "whatsapp:+1 555 867 5310", "whatsapp:+15550001111").status == 200);
  REQUIRE(f.outbox.jobs().size() == 1);
  CHECK(f.outbox.jobs()[0].map_customer == "15558675310");  // stored with the job
  CHECK(f.outbox.jobs()[0].map_proxy == "15550001111");
  CHECK(f.optouts.mapped("CH1") == std::make_pair(std::string("15558675310"),
                                                  std::string("15550001111")));
  Response r = HandleConversations(
      FormRequest("/callbacks/conversations", {{"EventType", "onParticipantAdded"},
                                               {"ConversationSid", "CH2"},
                                               {"ParticipantSid", "MB1"},
                                               {"MessagingBinding.Address", "+19990000000"},
                                               {"MessagingBinding.ProxyAddress", "+15550009999"}}),
      f.services);
  CHECK(r.status == 200);  // an unknown customer is mapped too
  CHECK(f.optouts.mapped("CH2") == std::make_pair(std::string("19990000000"),
                                                  std::string("15550009999")));
  // A worker participant maps nothing.
  r = HandleConversations(FormRequest("/callbacks/conversations",
                                      {{"EventType", "onParticipantAdded"},
                                       {"ConversationSid", "CH3"},
                                       {"Identity", "alice@example.com"},
                                       {"MessagingBinding.Address", "+19990000000"}}),
                          f.services);
  CHECK(f.optouts.mapped("CH3").first.empty());

  SUBCASE("a map that cannot be stored is a 503 and no job") {
    f.optouts.set_fail(true);
    CHECK(f.Route("CH4", "+15558675310", "+15550001111").status == 503);
    CHECK(f.outbox.jobs().size() == 1);
    r = HandleConversations(FormRequest("/callbacks/conversations",
                                        {{"EventType", "onParticipantAdded"},
                                         {"ConversationSid", "CH5"},
                                         {"ParticipantSid", "MB2"},
                                         {"MessagingBinding.Address", "+15558675310"}}),
                            f.services);
    CHECK(r.status == 503);  // a known customer: the map goes with the attributes job
    CHECK(f.outbox.jobs().size() == 1);
    r = HandleConversations(FormRequest("/callbacks/conversations",
                                        {{"EventType", "onParticipantAdded"},
                                         {"ConversationSid", "CH6"},
                                         {"ParticipantSid", "MB3"},
                                         {"MessagingBinding.Address", "+19990000000"}}),
                            f.services);
    CHECK(r.status == 503);  // an unknown one: the map alone
    CHECK(ErrorMessage(r) == "opt-outs unavailable");
  }
}

TEST_CASE("optout handlers: STOP blocks the worker, not the customer, not another proxy; START") {
  OptOutFixture f;
  REQUIRE(f.Route("CH1", "+15558675310", "+15550001111").status == 200);
  REQUIRE(f.Route("CH2", "+15558675310", "+15550009999").status == 200);
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "hi").status == 200);

  Response r = f.Event("onMessageAdded", "CH1", "+15558675310", " Stop ");
  CHECK(r.status == 200);
  CHECK(r.body == "{}");
  CHECK(f.Metric("frontline_optout_keywords_total{change=\"opt_out\"} 1"));

  r = f.Event("onMessageAdd", "CH1", "alice@example.com", "hello?");
  CHECK(r.status == 451);
  CHECK(ErrorMessage(r) == "customer opted out");
  CHECK(f.Metric("frontline_optout_blocked_total{what=\"message\"} 1"));
  CHECK(f.Event("onMessageAdd", "CH1", "+15558675310", "one more thing").status == 200);
  CHECK(f.Event("onMessageAdd", "CH2", "alice@example.com", "other number").status == 200);
  // A new conversation from that number to this customer is refused; from the other, not.
  r = f.Proxy("alice@example.com", "sms", "+1 555 867 5310");
  CHECK(r.status == 403);
  CHECK(ErrorMessage(r) == "customer opted out");
  CHECK(f.Metric("frontline_optout_blocked_total{what=\"new_conversation\"} 1"));
  CHECK(f.Proxy("bob@example.com", "sms", "+15558675310").status == 200);
  CHECK(f.Proxy("alice@example.com", "sms", "+15550000002").status == 200);

  // A worker typing STOP changes nothing; a body with the word in it is no keyword.
  CHECK(f.Event("onMessageAdded", "CH2", "alice@example.com", "STOP").status == 200);
  CHECK(f.Event("onMessageAdded", "CH2", "+15558675310", "please stop").status == 200);
  CHECK(f.Event("onMessageAdd", "CH2", "alice@example.com", "x").status == 200);

  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "start").status == 200);
  CHECK(f.Metric("frontline_optout_keywords_total{change=\"opt_in\"} 1"));
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "welcome back").status == 200);
  CHECK(f.Proxy("alice@example.com", "sms", "+15558675310").status == 200);
}

TEST_CASE("optout handlers: unmapped STOP applies to every proxy; unmapped is never blocked") {
  OptOutFixture f;
  CHECK(f.Event("onMessageAdded", "CH9", "whatsapp:+15558675310", "QUIT").status == 200);
  CHECK(f.optouts.rows() == 1);
  CHECK(f.Event("onMessageAdded", "CH9", "alice@example.com", "STOP").status == 200);
  CHECK(f.optouts.rows() == 1);  // not a customer address
  CHECK(f.Event("onMessageAdd", "CH9", "alice@example.com", "x").status == 200);  // unmapped
  REQUIRE(f.Route("CH1", "+15558675310", "+15550001111").status == 200);
  REQUIRE(f.Route("CH2", "+15558675310", "+15550009999").status == 200);
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "x").status == 451);
  CHECK(f.Event("onMessageAdd", "CH2", "bob@example.com", "x").status == 451);
  CHECK(f.Proxy("alice@example.com", "whatsapp", "whatsapp:+15558675310").status == 403);
  // START in one mapped conversation opts in on its number only.
  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "YES").status == 200);
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "x").status == 200);
  CHECK(f.Event("onMessageAdd", "CH2", "bob@example.com", "x").status == 451);
}

TEST_CASE("optout handlers: a store that cannot answer") {
  OptOutFixture f;
  REQUIRE(f.Route("CH1", "+15558675310", "+15550001111").status == 200);
  f.optouts.set_fail(true);
  // PRE: 503 rejects the message (we cannot tell, so we do not let it through).
  Response r = f.Event("onMessageAdd", "CH1", "alice@example.com", "x");
  CHECK(r.status == 503);
  CHECK(ErrorMessage(r) == "opt-outs unavailable");
  CHECK(r.headers.size() == 1);
  // POST with a keyword: 503 so Twilio's retry records it; without one nothing is read.
  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "STOP").status == 503);
  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "hello").status == 200);
  CHECK(f.Proxy("alice@example.com", "sms", "+15558675310").status == 503);
  // Other events do not touch the store.
  CHECK(f.Event("onConversationUpdated", "CH1", "x", "y").status == 200);
}

TEST_CASE("optout handlers: without an opt-out store nothing is recorded or blocked") {
  OptOutFixture f;
  f.services.optouts = nullptr;
  CHECK(f.Route("CH1", "+15558675310", "+15550001111").status == 200);
  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "STOP").status == 200);
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "x").status == 200);
  CHECK(f.Proxy("alice@example.com", "sms", "+15558675310").status == 200);
}

TEST_CASE("optout handlers: configured keywords") {
  OptOutFixture f;
  std::string error;
  std::optional<OptOutKeywords> k = OptOutKeywords::Parse("HALT", "GO", &error);
  REQUIRE(k);
  f.config.optout_keywords = *k;
  REQUIRE(f.Route("CH1", "+15558675310", "+15550001111").status == 200);
  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "STOP").status == 200);
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "x").status == 200);
  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "halt").status == 200);
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "x").status == 451);
  CHECK(f.Event("onMessageAdded", "CH1", "+15558675310", "Go").status == 200);
  CHECK(f.Event("onMessageAdd", "CH1", "alice@example.com", "x").status == 200);
}

}  // namespace
}  // namespace frontline
