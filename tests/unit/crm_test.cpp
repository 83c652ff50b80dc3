// /callbacks/crm (SPEC §2): both Locations, every status, exact JSON shapes and escaping.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>
#include <utility>
#include <vector>

#include "handlers/router.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

constexpr const char* kPath = "/callbacks/crm";
constexpr const char* kAlice = "alice@example.com";
constexpr const char* kBob = "bob@example.com";

Customer MakeCustomer(std::string id, std::string name, std::string worker,
                      std::string avatar = "") {
  Customer c;
  c.customer_id = std::move(id);
  c.display_name = std::move(name);
  c.worker = std::move(worker);
  c.avatar = std::move(avatar);
  return c;
}

Customer FullCustomer() {
  Customer c = MakeCustomer("98", "Bobby Shaftoe", kAlice, "https://example.com/image.jpeg");
  c.channels = {{"sms", "+123456789"}, {"whatsapp", "whatsapp:+123456789"}};
  c.links = {{"Facebook", "https://facebook.com", "Social Media Profile"}};
  c.details = {"Information", "Status: Active\n\nScore: 100"};
  return c;
}

Response List(HandlerFixture& f, FormPairs extra = {}) {
  Request request = FormRequest(kPath, {{"Location", "GetCustomersList"}, {"Worker", kAlice}});
  for (const auto& [key, value] : extra) request.form.Add(key, value);
  return HandleCrm(request, f.services);
}

Response Details(HandlerFixture& f, const char* customer_id) {
  return HandleCrm(FormRequest(kPath, {{"Location", "GetCustomerDetailsByCustomerId"},
                                       {"Worker", kAlice},
                                       {"CustomerId", customer_id}}),
                   f.services);
}

std::vector<std::string> Ids(const rapidjson::Document& doc) {
  std::vector<std::string> ids;
  for (const auto& c : doc["objects"]["customers"].GetArray()) ids.push_back(Str(c["customer_id"]));
  return ids;
}

TEST_CASE("crm: a missing or unknown Location is 422") {
  HandlerFixture f;
  struct Case {
    const char* name;
    FormPairs pairs;
  };
  const Case cases[] = {
      {"missing", {{"Worker", kAlice}}},
      {"empty", {{"Location", ""}, {"Worker", kAlice}}},
      {"unknown", {{"Location", "CreateCustomer"}, {"Worker", kAlice}}},
      {"wrong case", {{"Location", "getcustomerslist"}, {"Worker", kAlice}}},
      {"another route's", {{"Location", "GetProxyAddress"}, {"Worker", kAlice}}},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    const Response r = HandleCrm(FormRequest(kPath, c.pairs), f.services);
    CHECK(r.status == 422);
    CHECK(ErrorMessage(r) == "unknown Location");
    CHECK(r.log_worker == kAlice);
    CHECK_FALSE(r.log_detail.empty());
  }
}

TEST_CASE("crm: without a directory both Locations answer 503") {
  HandlerFixture f;
  f.services.directory = nullptr;
  for (const char* location : {"GetCustomersList", "GetCustomerDetailsByCustomerId"}) {
    const std::string case_name = location;
    CAPTURE(case_name);
    const Response r = HandleCrm(
        FormRequest(kPath, {{"Location", location}, {"Worker", kAlice}, {"CustomerId", "1"}}),
        f.services);
    CHECK(r.status == 503);
    CHECK(r.body == R"({"error":"directory not configured"})");
    CHECK(r.log_operation == location);
  }
}

TEST_CASE("crm: GetCustomersList answers the exact documented shape") {
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("2", "Customer 2", kAlice));
  f.directory.AddCustomer(MakeCustomer("1", "Customer 1", kAlice, "https://example.com/a.jpeg"));
  const Response r = List(f);
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json; charset=utf-8");
  CHECK(r.body ==
        R"({"objects":{"customers":[)"
        R"({"customer_id":"1","display_name":"Customer 1","avatar":"https://example.com/a.jpeg"},)"
        R"({"customer_id":"2","display_name":"Customer 2"}],"searchable":true}})");
  const rapidjson::Document doc = ParseBody(r);
  REQUIRE(doc["objects"]["searchable"].IsBool());
  CHECK(doc["objects"]["searchable"].GetBool());
  CHECK_FALSE(doc["objects"].HasMember("next_page_token"));
  CHECK_FALSE(doc["objects"]["customers"][1].HasMember("avatar"));
  CHECK(r.log_operation == "GetCustomersList");
  CHECK(r.log_worker == kAlice);
}

TEST_CASE("crm: an empty list is still an array, with searchable true") {
  HandlerFixture f;
  const Response r = List(f);
  CHECK(r.status == 200);
  CHECK(r.body == R"({"objects":{"customers":[],"searchable":true}})");
}

TEST_CASE("crm: PageSize defaults to 30 and must be a decimal integer from 1 to 200") {
  struct Case {
    const char* value;  // nullptr: parameter absent
    int status;
    size_t page_size;  // passed to the directory when status is 200
  };
  const Case cases[] = {
      {nullptr, 200, 30},
      {"", 200, 30},
      {"1", 200, 1},
      {"30", 200, 30},
      {"200", 200, 200},
      {"030", 200, 30},
      {"0", 400, 0},
      {"201", 400, 0},
      {"-1", 400, 0},
      {"+5", 400, 0},
      {" 30", 400, 0},
      {"30 ", 400, 0},
      {"3.0", 400, 0},
      {"1e2", 400, 0},
      {"abc", 400, 0},
      {"0x10", 400, 0},
      {"99999999999999999999999999", 400, 0},
      {"000", 400, 0},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.value ? c.value : "<absent>";
    CAPTURE(case_name);
    HandlerFixture f;
    const Response r = c.value ? List(f, {{"PageSize", c.value}}) : List(f);
    CHECK(r.status == c.status);
    if (c.status == 200) {
      REQUIRE(f.directory.last_list_request());
      CHECK(f.directory.last_list_request()->page_size == c.page_size);
    } else {
      CHECK(ErrorMessage(r) == "PageSize must be an integer from 1 to 200");
      CHECK_FALSE(f.directory.last_list_request());  // refused before touching the directory
      CHECK(r.log_operation == "GetCustomersList");
      CHECK(r.log_worker == kAlice);
    }
  }
}

TEST_CASE("crm: the list request carries Worker, Query, the cursor and list-all") {
  struct Case {
    const char* name;
    FormPairs extra;
    bool list_all;
    const char* query;
    const char* page_token;
    const char* anchor;
  };
  const Case cases[] = {
      {"first page", {}, false, "", "", ""},
      {"query", {{"Query", "STEFA"}}, false, "STEFA", "", ""},
      {"token", {{"NextPageToken", "after:1"}}, false, "", "after:1", ""},
      {"anchor alone", {{"Anchor", "1"}}, false, "", "", "1"},
      {"token wins over anchor",
       {{"Anchor", "1"}, {"NextPageToken", "after:2"}},
       false,
       "",
       "after:2",
       ""},
      {"list all", {}, true, "", "", ""},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    HandlerFixture f;
    f.directory.AddCustomer(MakeCustomer("1", "A", kAlice));
    f.directory.AddCustomer(MakeCustomer("2", "B", kAlice));
    f.config.list_all_customers = c.list_all;
    const Response r = List(f, c.extra);
    CHECK(r.status == 200);
    REQUIRE(f.directory.last_list_request());
    const ListRequest& sent = *f.directory.last_list_request();
    CHECK(sent.worker == kAlice);
    CHECK(sent.all_workers == c.list_all);
    CHECK(sent.query == c.query);
    CHECK(sent.page_token == c.page_token);
    CHECK(sent.anchor == c.anchor);
  }
}

TEST_CASE("crm: only the worker's customers are listed unless list-all-customers is set") {
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("a1", "Ann", kAlice));
  f.directory.AddCustomer(MakeCustomer("b1", "Ben", kBob));
  f.directory.AddCustomer(MakeCustomer("a2", "amy", kAlice));
  CHECK(Ids(ParseBody(List(f))) == std::vector<std::string>{"a2", "a1"});
  f.config.list_all_customers = true;
  CHECK(Ids(ParseBody(List(f))) == std::vector<std::string>{"a2", "a1", "b1"});
}

TEST_CASE("crm: a list without Worker is 400 unless every customer is listed anyway") {
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("x", "Unassigned", ""));
  const Request request = FormRequest(kPath, {{"Location", "GetCustomersList"}});
  Response r = HandleCrm(request, f.services);
  CHECK(r.status == 400);
  CHECK(ErrorMessage(r) == "missing Worker");
  f.config.list_all_customers = true;
  r = HandleCrm(request, f.services);
  CHECK(r.status == 200);
  CHECK(Ids(ParseBody(r)) == std::vector<std::string>{"x"});
}

TEST_CASE("crm: walking next_page_token visits every customer once, in order") {
  HandlerFixture f;
  const char* names[] = {"eve", "Dan", "carl", "Bea", "al", "Al"};
  for (int i = 0; i < 6; ++i) {
    f.directory.AddCustomer(MakeCustomer("c" + std::to_string(i), names[i], kAlice));
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    const Response r = token.empty()
                           ? List(f, {{"PageSize", "4"}})
                           : List(f, {{"PageSize", "4"}, {"NextPageToken", token.c_str()}});
    REQUIRE(r.status == 200);
    const rapidjson::Document doc = ParseBody(r);
    for (const std::string& id : Ids(doc)) seen.push_back(id);
    token =
        doc["objects"].HasMember("next_page_token") ? Str(doc["objects"]["next_page_token"]) : "";
    if (!token.empty()) CHECK(doc["objects"]["customers"].Size() == 4);
    ++pages;
  } while (!token.empty() && pages < 10);
  CHECK(pages == 2);
  // "al" and "Al" tie case-insensitively and are ordered by customer_id.
  CHECK(seen == std::vector<std::string>{"c4", "c5", "c3", "c2", "c1", "c0"});
}

TEST_CASE("crm: a rejected cursor is 400") {
  struct Case {
    ListResult::Status status;
    FormPairs extra;
    const char* error;
  };
  const Case cases[] = {
      {ListResult::Status::kBadPageToken, {{"NextPageToken", "garbage"}}, "invalid NextPageToken"},
      {ListResult::Status::kBadAnchor, {{"Anchor", "nobody"}}, "invalid Anchor"},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.error;
    CAPTURE(case_name);
    HandlerFixture f;
    f.directory.ForceListStatus(c.status);
    const Response r = List(f, c.extra);
    CHECK(r.status == 400);
    CHECK(ErrorMessage(r) == c.error);
    CHECK(r.log_operation == "GetCustomersList");
    CHECK(r.log_worker == kAlice);
    CHECK_FALSE(r.log_detail.empty());
  }
  // And through the fake's own token checks, not just forced answers.
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("1", "A", kAlice));
  CHECK(List(f, {{"NextPageToken", "not-a-token"}}).status == 400);
  CHECK(List(f, {{"Anchor", "unknown-id"}}).status == 400);
  CHECK(List(f, {{"Anchor", "1"}}).status == 200);
}

TEST_CASE("crm: GetCustomerDetailsByCustomerId answers the exact documented shape") {
  HandlerFixture f;
  f.directory.AddCustomer(FullCustomer());
  const Response r = Details(f, "98");
  CHECK(r.status == 200);
  CHECK(r.body ==
        R"({"objects":{"customer":{"customer_id":"98","display_name":"Bobby Shaftoe",)"
        R"("avatar":"https://example.com/image.jpeg",)"
        R"("channels":[{"type":"sms","value":"+123456789"},)"
        R"({"type":"whatsapp","value":"whatsapp:+123456789"}],)"
        R"("links":[{"type":"Facebook","value":"https://facebook.com",)"
        R"("display_name":"Social Media Profile"}],)"
        R"("details":{"title":"Information","content":"Status: Active\n\nScore: 100"}}}})");
  const rapidjson::Document doc = ParseBody(r);
  CHECK(Str(doc["objects"]["customer"]["details"]["content"]) == "Status: Active\n\nScore: 100");
  CHECK(r.log_operation == "GetCustomerDetailsByCustomerId");
  CHECK(r.log_worker == kAlice);
}

TEST_CASE("crm: empty optional members of a customer are omitted") {
  struct Case {
    const char* name;
    Customer customer;
    bool avatar, channels, links, details;
  };
  Customer title_only = MakeCustomer("t", "T", kAlice);
  title_only.details.title = "Only a title";
  Customer content_only = MakeCustomer("c", "C", kAlice);
  content_only.details.content = "Only content";
  Customer channels_only = MakeCustomer("ch", "Ch", kAlice);
  channels_only.channels = {{"sms", "+1555"}};
  Customer links_only = MakeCustomer("l", "L", kAlice);
  links_only.links = {{"Site", "https://example.com", ""}};
  const Case cases[] = {
      {"bare", MakeCustomer("bare", "Bare", kAlice), false, false, false, false},
      {"avatar", MakeCustomer("av", "Av", kAlice, "https://x/y.png"), true, false, false, false},
      {"title only", title_only, false, false, false, true},
      {"content only", content_only, false, false, false, true},
      {"channels only", channels_only, false, true, false, false},
      {"links only", links_only, false, false, true, false},
      {"everything", FullCustomer(), true, true, true, true},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    HandlerFixture f;
    f.directory.AddCustomer(c.customer);
    const Response r = Details(f, c.customer.customer_id.c_str());
    REQUIRE(r.status == 200);
    const rapidjson::Document doc = ParseBody(r);
    const rapidjson::Value& customer = doc["objects"]["customer"];
    CHECK(Str(customer["customer_id"]) == c.customer.customer_id);
    CHECK(Str(customer["display_name"]) == c.customer.display_name);
    CHECK(customer.HasMember("avatar") == c.avatar);
    CHECK(customer.HasMember("channels") == c.channels);
    CHECK(customer.HasMember("links") == c.links);
    CHECK(customer.HasMember("details") == c.details);
    if (c.details) {
      // Present details always carry both strings, so the app never meets a missing one.
      CHECK(Str(customer["details"]["title"]) == c.customer.details.title);
      CHECK(Str(customer["details"]["content"]) == c.customer.details.content);
    }
    if (c.links) CHECK(customer["links"][0].HasMember("display_name"));
  }
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("bare", "Bare", kAlice));
  CHECK(Details(f, "bare").body ==
        R"({"objects":{"customer":{"customer_id":"bare","display_name":"Bare"}}})");
}

TEST_CASE("crm: customer data is JSON-escaped in the list and the details") {
  const std::string name = "Zoë \"Q\" O'Brien \\ 日本 😀";
  const std::string id = "id \"1\"\n/<tab>\t";
  Customer c = MakeCustomer(id, name, kAlice, "https://example.com/a?b=\"c\"&d=é");
  c.channels = {{"whatsapp", "whatsapp:+1 (555) \"777\""}};
  c.links = {{"Fa\"ce", "mailto:a@b.c", "Line1\nLine2"}};
  c.details = {"Tïtle\x01", "Line 1\r\nLine 2\n\n\"quoted\" \\ end"};
  HandlerFixture f;
  f.directory.AddCustomer(c);

  const Response list = List(f);
  REQUIRE(list.status == 200);
  CHECK(list.body.find('\n') == std::string::npos);  // raw newlines never reach the wire
  CHECK(list.body.find("\\u0001") == std::string::npos);
  const rapidjson::Document list_doc = ParseBody(list);
  const rapidjson::Value& item = list_doc["objects"]["customers"][0];
  CHECK(Str(item["customer_id"]) == id);
  CHECK(Str(item["display_name"]) == name);
  CHECK(Str(item["avatar"]) == c.avatar);

  const Response details = Details(f, id.c_str());
  REQUIRE(details.status == 200);
  CHECK(details.body.find('\n') == std::string::npos);
  CHECK(details.body.find("\\u0001") != std::string::npos);  // control characters escaped
  const rapidjson::Document doc = ParseBody(details);
  const rapidjson::Value& customer = doc["objects"]["customer"];
  CHECK(Str(customer["customer_id"]) == id);
  CHECK(Str(customer["display_name"]) == name);
  CHECK(Str(customer["channels"][0]["value"]) == c.channels[0].value);
  CHECK(Str(customer["links"][0]["type"]) == c.links[0].type);
  CHECK(Str(customer["links"][0]["display_name"]) == c.links[0].display_name);
  CHECK(Str(customer["details"]["title"]) == c.details.title);
  CHECK(Str(customer["details"]["content"]) == c.details.content);
}

TEST_CASE("crm: details need a known CustomerId") {
  struct Case {
    const char* name;
    FormPairs pairs;
    int status;
    const char* body;
  };
  const Case cases[] = {
      {"missing",
       {{"Location", "GetCustomerDetailsByCustomerId"}, {"Worker", kAlice}},
       400,
       R"({"error":"missing CustomerId"})"},
      {"empty",
       {{"Location", "GetCustomerDetailsByCustomerId"}, {"Worker", kAlice}, {"CustomerId", ""}},
       400,
       R"({"error":"missing CustomerId"})"},
      {"unknown",
       {{"Location", "GetCustomerDetailsByCustomerId"}, {"Worker", kAlice}, {"CustomerId", "99"}},
       404,
       R"({"error":"customer not found"})"},
      {"ids are opaque: no numeric coercion",
       {{"Location", "GetCustomerDetailsByCustomerId"}, {"Worker", kAlice}, {"CustomerId", "01"}},
       404,
       R"({"error":"customer not found"})"},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    HandlerFixture f;
    f.directory.AddCustomer(MakeCustomer("1", "One", kAlice));
    const Response r = HandleCrm(FormRequest(kPath, c.pairs), f.services);
    CHECK(r.status == c.status);
    CHECK(r.body == c.body);
    CHECK(r.log_operation == "GetCustomerDetailsByCustomerId");
    CHECK(r.log_worker == kAlice);
    CHECK_FALSE(r.log_detail.empty());
  }
}

TEST_CASE("crm: details are not restricted to the requesting worker's customers") {
  // The app opens details from conversations too, which may have been routed by default.
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("b1", "Ben", kBob));
  CHECK(Details(f, "b1").status == 200);
}

}  // namespace
}  // namespace frontline
