// /callbacks/outgoing-conversation (SPEC §3): the proxy number chosen for each channel type.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>

#include "handlers/router.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

constexpr const char* kPath = "/callbacks/outgoing-conversation";
constexpr const char* kAlice = "alice@example.com";

Request ProxyRequest(const char* channel_type, const char* worker = kAlice) {
  return FormRequest(kPath, {{"Location", "GetProxyAddress"},
                             {"Worker", worker},
                             {"CustomerId", "1"},
                             {"ChannelType", channel_type},
                             {"ChannelValue", "+15558675310"}});
}

TEST_CASE("outgoing-conversation: the worker's own number, then the configured one") {
  struct Case {
    const char* name;
    const char* channel_type;
    bool worker_known;  // the directory has a record for kAlice
    const char* worker_sms;
    const char* worker_whatsapp;
    const char* config_sms;
    const char* config_whatsapp;
    int status;
    const char* proxy;  // expected proxy_address when 200
  };
  const Case cases[] = {
      {"sms: worker's own", "sms", true, "+15550000001", "", "+15559999999", "", 200,
       "+15550000001"},
      {"sms: worker without own number", "sms", true, "", "+15550000002", "+15559999999", "", 200,
       "+15559999999"},
      {"sms: unknown worker", "sms", false, "", "", "+15559999999", "", 200, "+15559999999"},
      {"sms: no number anywhere", "sms", true, "", "+15550000002", "", "+14155238886", 403, ""},
      {"whatsapp: worker's own, prefix added", "whatsapp", true, "", "+15550000003", "",
       "+14155238886", 200, "whatsapp:+15550000003"},
      {"whatsapp: worker's own, prefix kept", "whatsapp", true, "", "whatsapp:+15550000003", "", "",
       200, "whatsapp:+15550000003"},
      {"whatsapp: worker's prefix in another case", "whatsapp", true, "", "WhatsApp:+15550000003",
       "", "", 200, "whatsapp:+15550000003"},
      {"whatsapp: configured, prefix added", "whatsapp", true, "+15550000001", "", "",
       "+14155238886", 200, "whatsapp:+14155238886"},
      {"whatsapp: configured, prefix never doubled", "whatsapp", false, "", "", "",
       "whatsapp:+14155238886", 200, "whatsapp:+14155238886"},
      {"whatsapp: configured upper-case prefix", "whatsapp", false, "", "", "",
       "WHATSAPP:+14155238886", 200, "whatsapp:+14155238886"},
      {"whatsapp: a bare prefix is no number", "whatsapp", true, "", "whatsapp:", "",
       "whatsapp:", 403, ""},
      {"whatsapp: bare worker prefix falls back", "whatsapp", true, "", "whatsapp:", "",
       "+14155238886", 200, "whatsapp:+14155238886"},
      {"whatsapp: the SMS number is not used", "whatsapp", true, "+15550000001", "", "+15559999999",
       "", 403, ""},
      {"chat never has a proxy", "chat", true, "+15550000001", "+15550000003", "+15559999999",
       "+14155238886", 403, ""},
      {"unknown type", "email", true, "+15550000001", "+15550000003", "+15559999999",
       "+14155238886", 403, ""},
      {"types are exact", "SMS", true, "+15550000001", "", "+15559999999", "", 403, ""},
      {"missing type", "", true, "+15550000001", "", "+15559999999", "", 403, ""},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    HandlerFixture f;
    if (c.worker_known) f.directory.AddWorker({kAlice, c.worker_sms, c.worker_whatsapp});
    f.directory.AddWorker({"someone-else", "+15551111111", "+15552222222"});
    f.config.sms_number = c.config_sms;
    f.config.whatsapp_number = c.config_whatsapp;
    const Response r = HandleOutgoingConversation(ProxyRequest(c.channel_type), f.services);
    CHECK(r.status == c.status);
    if (c.status == 200) {
      CHECK(r.body == std::string(R"({"proxy_address":")") + c.proxy + "\"}");
      const rapidjson::Document doc = ParseBody(r);
      CHECK(doc.MemberCount() == 1);
      CHECK(Str(doc["proxy_address"]) == c.proxy);
    } else {
      CHECK(r.body == R"({"error":"no proxy address for channel"})");
      CHECK_FALSE(r.log_detail.empty());
    }
    CHECK(r.log_operation == "GetProxyAddress");
    CHECK(r.log_worker == kAlice);
  }
}

TEST_CASE("outgoing-conversation: works from configuration alone without a directory") {
  HandlerFixture f;
  f.services.directory = nullptr;
  f.config.sms_number = "+15559999999";
  f.config.whatsapp_number = "+14155238886";
  Response r = HandleOutgoingConversation(ProxyRequest("sms"), f.services);
  CHECK(r.status == 200);
  CHECK(r.body == R"({"proxy_address":"+15559999999"})");
  r = HandleOutgoingConversation(ProxyRequest("whatsapp"), f.services);
  CHECK(r.body == R"({"proxy_address":"whatsapp:+14155238886"})");
  f.config.sms_number.clear();
  CHECK(HandleOutgoingConversation(ProxyRequest("sms"), f.services).status == 403);
}

TEST_CASE("outgoing-conversation: no Worker means the configured numbers") {
  HandlerFixture f;
  f.directory.AddWorker({"", "+15550000009", ""});  // must not match an absent Worker
  f.config.sms_number = "+15559999999";
  const Response r = HandleOutgoingConversation(ProxyRequest("sms", ""), f.services);
  CHECK(r.status == 200);
  CHECK(r.body == R"({"proxy_address":"+15559999999"})");
  CHECK(f.directory.find_worker_calls() == 0);
  CHECK(r.log_worker.empty());
}

TEST_CASE("outgoing-conversation: any Location but GetProxyAddress is 422") {
  HandlerFixture f;
  f.config.sms_number = "+15559999999";
  struct Case {
    const char* name;
    FormPairs pairs;
    const char* log_operation;
  };
  const Case cases[] = {
      {"missing", {{"Worker", kAlice}, {"ChannelType", "sms"}}, ""},
      {"other",
       {{"Location", "GetCustomersList"}, {"Worker", kAlice}, {"ChannelType", "sms"}},
       "GetCustomersList"},
      {"wrong case",
       {{"Location", "getproxyaddress"}, {"Worker", kAlice}, {"ChannelType", "sms"}},
       "getproxyaddress"},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    const Response r = HandleOutgoingConversation(FormRequest(kPath, c.pairs), f.services);
    CHECK(r.status == 422);
    CHECK(r.body == R"({"error":"unknown Location"})");
    CHECK(r.log_operation == c.log_operation);
    CHECK(r.log_worker == kAlice);
    CHECK_FALSE(r.log_detail.empty());
  }
}

}  // namespace
}  // namespace frontline
