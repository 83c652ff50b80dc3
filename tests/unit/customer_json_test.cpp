#include "directory/customer_json.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <functional>
#include <string>
#include <vector>

namespace frontline {
namespace {

std::string Json(const std::function<void(JsonWriter&)>& write) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  write(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

Customer Full() {
  Customer c;
  c.customer_id = "c1";
  c.display_name = "Ana";
  c.avatar = "https://example.com/a.png";
  c.channels = {{"sms", "+15550000001"}};
  c.links = {{"Web", "https://example.com", "Site"}};
  c.details = {"Info", "Line 1\nLine 2"};
  c.worker = "alice@example.com";
  return c;
}

Customer Bare(const std::string& id, const std::string& name) {
  Customer c;
  c.customer_id = id;
  c.display_name = name;
  return c;
}

struct Case {
  const char* name;
  Customer customer;
  const char* details;  // WriteCustomerDetails
  const char* record;   // WriteCustomerRecord
  const char* summary;  // WriteCustomerSummary
};

std::vector<Case> Cases() {
  Customer no_worker = Full();
  no_worker.worker.clear();
  Customer sparse_link = Bare("l", "L");
  sparse_link.links = {{"", "https://x.example", ""}};
  Customer title_only = Bare("t", "T");
  title_only.details.title = "Only a title";
  Customer content_only = Bare("k", "K");
  content_only.details.content = "Only content";
  Customer odd = Bare("q\"\\/\x01", "Tab\there\r\n\xe2\x80\xa8");
  Customer non_ascii = Bare("\xe6\x9d\x8e", "Zo\xc3\xab \xf0\x9f\x90\x89");
  Customer bad_utf8 = Bare("b", "caf\xe9");
  bad_utf8.avatar = "\xff";
  return {
      {"everything", Full(),
       R"({"customer_id":"c1","display_name":"Ana","avatar":"https://example.com/a.png",)"
       R"("channels":[{"type":"sms","value":"+15550000001"}],)"
       R"("links":[{"type":"Web","value":"https://example.com","display_name":"Site"}],)"
       R"("details":{"title":"Info","content":"Line 1\nLine 2"}})",
       R"({"customer_id":"c1","display_name":"Ana","avatar":"https://example.com/a.png",)"
       R"("worker":"alice@example.com","channels":[{"type":"sms","value":"+15550000001"}],)"
       R"("links":[{"type":"Web","value":"https://example.com","display_name":"Site"}],)"
       R"("details":{"title":"Info","content":"Line 1\nLine 2"}})",
       R"({"customer_id":"c1","display_name":"Ana","avatar":"https://example.com/a.png"})"},
      {"no worker", no_worker, nullptr,
       R"({"customer_id":"c1","display_name":"Ana","avatar":"https://example.com/a.png",)"
       R"("channels":[{"type":"sms","value":"+15550000001"}],)"
       R"("links":[{"type":"Web","value":"https://example.com","display_name":"Site"}],)"
       R"("details":{"title":"Info","content":"Line 1\nLine 2"}})",
       nullptr},
      {"only the required members", Bare("x", ""), R"({"customer_id":"x","display_name":""})",
       R"({"customer_id":"x","display_name":""})", R"({"customer_id":"x","display_name":""})"},
      {"link without type or name", sparse_link,
       R"({"customer_id":"l","display_name":"L",)"
       R"("links":[{"type":"","value":"https://x.example","display_name":""}]})",
       R"({"customer_id":"l","display_name":"L","links":[{"value":"https://x.example"}]})",
       nullptr},
      {"details with a title only", title_only,
       R"({"customer_id":"t","display_name":"T","details":{"title":"Only a title","content":""}})",
       R"({"customer_id":"t","display_name":"T","details":{"title":"Only a title"}})", nullptr},
      {"details with content only", content_only,
       R"({"customer_id":"k","display_name":"K","details":{"title":"","content":"Only content"}})",
       R"({"customer_id":"k","display_name":"K","details":{"content":"Only content"}})", nullptr},
      {"odd strings are escaped", odd,
       "{\"customer_id\":\"q\\\"\\\\/\\u0001\",\"display_name\":\"Tab\\there\\r\\n\xe2\x80\xa8\"}",
       nullptr,
       "{\"customer_id\":\"q\\\"\\\\/\\u0001\",\"display_name\":\"Tab\\there\\r\\n\xe2\x80\xa8\"}"},
      {"non-ASCII stays UTF-8", non_ascii,
       "{\"customer_id\":\"\xe6\x9d\x8e\",\"display_name\":\"Zo\xc3\xab \xf0\x9f\x90\x89\"}",
       "{\"customer_id\":\"\xe6\x9d\x8e\",\"display_name\":\"Zo\xc3\xab \xf0\x9f\x90\x89\"}",
       nullptr},
      {"invalid UTF-8 becomes U+FFFD", bad_utf8,
       "{\"customer_id\":\"b\",\"display_name\":\"caf\xef\xbf\xbd\",\"avatar\":\"\xef\xbf\xbd\"}",
       nullptr,
       "{\"customer_id\":\"b\",\"display_name\":\"caf\xef\xbf\xbd\",\"avatar\":\"\xef\xbf\xbd\"}"},
  };
}

TEST_CASE("customer_json: details, export record and summary shapes") {
  for (const Case& c : Cases()) {
    CAPTURE(c.name);
    if (c.details != nullptr) {
      CHECK(Json([&](JsonWriter& w) { WriteCustomerDetails(w, c.customer); }) == c.details);
    }
    if (c.record != nullptr) {
      CHECK(Json([&](JsonWriter& w) { WriteCustomerRecord(w, c.customer); }) == c.record);
    }
    if (c.summary != nullptr) {
      CHECK(Json([&](JsonWriter& w) { WriteCustomerSummary(w, c.customer); }) == c.summary);
      const CustomerSummary summary{c.customer.customer_id, c.customer.display_name,
                                    c.customer.avatar};
      CHECK(Json([&](JsonWriter& w) { WriteCustomerSummary(w, summary); }) == c.summary);
    }
    // Every shape is a JSON document whatever the strings hold.
    for (const std::string& text :
         {Json([&](JsonWriter& w) { WriteCustomerDetails(w, c.customer); }),
          Json([&](JsonWriter& w) { WriteCustomerRecord(w, c.customer); })}) {
      rapidjson::Document doc;
      doc.Parse(text.data(), text.size());
      CHECK_FALSE(doc.HasParseError());
    }
  }
}

TEST_CASE("customer_json: worker records omit empty numbers") {
  CHECK(Json([](JsonWriter& w) { WriteWorkerRecord(w, {"alice", "", ""}); }) ==
        R"({"identity":"alice"})");
  CHECK(Json([](JsonWriter& w) { WriteWorkerRecord(w, {"bob", "+1555", "whatsapp:+1555"}); }) ==
        R"({"identity":"bob","sms_number":"+1555","whatsapp_number":"whatsapp:+1555"})");
}

}  // namespace
}  // namespace frontline
