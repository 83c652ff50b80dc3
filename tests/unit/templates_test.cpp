// /callbacks/templates (SPEC §4): the built-in set, the templates file and its errors,
// placeholder rendering, and the handler's answers.
#include "handlers/templates.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "handlers/router.h"
#include "tests/unit/handler_test_support.h"

namespace frontline {
namespace {

constexpr const char* kPath = "/callbacks/templates";
constexpr const char* kAlice = "alice@example.com";

// A file that removes itself; unique per process and per use.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    static int counter = 0;
    path_ = "/tmp/frontline_templates_test_" + std::to_string(getpid()) + "_" +
            std::to_string(counter++) + ".json";
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ParseError(const std::string& json) {
  std::string error;
  const std::optional<Templates> t = Templates::Parse(json, "t.json", &error);
  CHECK_FALSE(t.has_value());
  return error;
}

Customer MakeCustomer(std::string id, std::string name) {
  Customer c;
  c.customer_id = std::move(id);
  c.display_name = std::move(name);
  c.worker = kAlice;
  return c;
}

Request TemplatesRequest(const char* customer_id, const char* worker = kAlice) {
  return FormRequest(kPath, {{"Location", "GetTemplatesByCustomerId"},
                             {"Worker", worker},
                             {"CustomerId", customer_id},
                             {"ConversationSid", "CH00000000000000000000000000000000"}});
}

TEST_CASE("templates: the built-in set is the seed's nine texts in three categories") {
  const Templates t = Templates::BuiltIn();
  const std::vector<TemplateCategory> expected = {
      {"Openers",
       {{"Hello {{Name}} we have now processed your documents and would like to move you on to "
         "the next step. Drop me a message. - {{Author}}.",
         false},
        {"Hello {{Name}} we have a new product out which may be of interest to your business. "
         "Drop me a message. - {{Author}}.",
         false},
        {"Just to confirm I am on my way to your office. {{Name}}.", true}}},
      {"Replies",
       {{"This has now been sent. - {{Author}}.", false},
        {"Our rates for any loan are 20% or 30% over $30,000. You can read more at "
         "https://example.com. - {{Author}}.",
         false},
        {"Just to confirm I am on my way to your office. - {{Author}}.", false},
        {"Would you like me to go over some options with you {{FirstName}}? - {{Author}}.", false},
        {"We have a secure drop box for documents. Can you attach and upload them here: "
         "https://example.com. - {{Author}}",
         false}}},
      {"Closing",
       {{"Happy to help, {{FirstName}}. If you have a moment could you leave a review about our "
         "interaction at this link: https://example.com. - {{Author}}.",
         false}}},
  };
  REQUIRE(t.categories().size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(t.categories()[i].display_name == expected[i].display_name);
    REQUIRE(t.categories()[i].templates.size() == expected[i].templates.size());
    for (size_t j = 0; j < expected[i].templates.size(); ++j) {
      CAPTURE(j);
      CHECK(t.categories()[i].templates[j].content == expected[i].templates[j].content);
      CHECK(t.categories()[i].templates[j].whatsapp_approved ==
            expected[i].templates[j].whatsapp_approved);
    }
  }
}

TEST_CASE("templates: examples/templates.json is the built-in set") {
  std::string error;
  const std::optional<Templates> t =
      Templates::LoadFile(std::string(FRONTLINE_SOURCE_DIR) + "/examples/templates.json", &error);
  INFO(error);
  REQUIRE(t.has_value());
  CHECK(t->categories() == Templates::BuiltIn().categories());
}

TEST_CASE("templates: FirstName is the display name up to the first space") {
  struct Case {
    const char* name;
    const char* first;
  };
  const Case cases[] = {
      {"Jane Q Doe", "Jane"},   {"Cher", "Cher"},          {"Customer 1", "Customer"},
      {"  Lead Space", "Lead"}, {"Trailing ", "Trailing"}, {"", ""},
      {"   ", "   "},           {"Zoë Ångström", "Zoë"},   {"日本 太郎", "日本"},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    CHECK(std::string(FirstName(name)) == std::string(c.first));
  }
}

TEST_CASE("templates: every placeholder occurrence is rendered, once, and others are kept") {
  struct Case {
    const char* content;
    const char* name;
    const char* rendered;
  };
  const Case cases[] = {
      {"Hi {{Name}}", "Jane Doe", "Hi Jane Doe"},
      {"Hi {{FirstName}}", "Jane Doe", "Hi Jane"},
      {"- {{Author}}", "Jane Doe", "- alice@example.com"},
      {"id {{CustomerId}}", "Jane Doe", "id C-7"},
      {"{{Name}}{{Name}} {{Name}}", "Jo", "JoJo Jo"},
      {"{{FirstName}}, {{FirstName}}! {{Author}} & {{Author}}", "Jane Doe",
       "Jane, Jane! alice@example.com & alice@example.com"},
      {"{{Name}}/{{FirstName}}/{{Author}}/{{CustomerId}}", "Jane Doe",
       "Jane Doe/Jane/alice@example.com/C-7"},
      {"{{Unknown}} {{name}} {{ Name }} {{Name", "Jane", "{{Unknown}} {{name}} {{ Name }} {{Name"},
      {"{{{Name}}}", "Jane", "{Jane}"},
      {"{{{{Name}}}}", "Jane", "{{Jane}}"},
      {"Name}} {{", "Jane", "Name}} {{"},
      {"", "Jane", ""},
      {"no placeholders", "Jane", "no placeholders"},
      // Replacement text is never scanned again.
      {"Hi {{Name}}", "{{Author}}", "Hi {{Author}}"},
      {"{{FirstName}}", "{{CustomerId}} x", "{{CustomerId}}"},
      {"{{Name}}", "Zoë \"Q\"\n日本", "Zoë \"Q\"\n日本"},
  };
  for (const Case& c : cases) {
    const std::string content = c.content;
    CAPTURE(content);
    CHECK(RenderTemplate(content, {c.name, kAlice, "C-7"}) == std::string(c.rendered));
  }
}

TEST_CASE("templates: a valid file loads, with whatsAppApproved optional") {
  const std::string json =
      "\xEF\xBB\xBF"  // a byte order mark is tolerated
      R"([
  {"display_name": "Openers", "templates": [
    {"content": "Hello {{Name}}", "whatsAppApproved": true},
    {"whatsAppApproved": false, "content": "Bye \"{{FirstName}}\"\n\u00e9"},
    {"content": "Plain"}
  ]},
  {"templates": [], "display_name": "Empty"}
])";
  std::string error;
  const std::optional<Templates> t = Templates::Parse(json, "t.json", &error);
  INFO(error);
  REQUIRE(t.has_value());
  const std::vector<TemplateCategory> expected = {
      {"Openers",
       {{"Hello {{Name}}", true}, {"Bye \"{{FirstName}}\"\n\xC3\xA9", false}, {"Plain", false}}},
      {"Empty", {}},
  };
  CHECK(t->categories() == expected);

  const std::optional<Templates> none = Templates::Parse(" [ ] ", "t.json", &error);
  REQUIRE(none.has_value());
  CHECK(none->categories().empty());
}

TEST_CASE("templates: a malformed file names the position and what is wrong") {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      // Syntax, as RapidJSON reports it.
      {"", "t.json:1:1: The document is empty."},
      {"[\n  {\"display_name\": \"A\",\n   \"templates\": [}\n]", "t.json:3:18: Invalid value."},
      {"[\n  {\"display_name\" \"A\"}]",
       "t.json:2:19: Missing a colon after a name of object member."},
      {"[] []", "t.json:1:4: The document root must not be followed by other values."},
      {"[{\"display_name\": \"\xC3\"}]", "t.json:1:20: Invalid encoding in string."},
      {"[\n{\"display_name\": \"abc", "t.json:2:22: Missing a closing quotation mark in string."},
      {"  \n  \n [", "t.json:3:3: Invalid value."},
      // Schema.
      {"{}", "t.json:1:1: the top level must be an array of categories, found an object"},
      {"\n  \"text\"", "t.json:2:3: the top level must be an array of categories, found a string"},
      {"[1]", "t.json:1:2: category 1: must be an object, found a number"},
      {"[{\"display_name\":\"A\",\"templates\":[]},\n [] ]",
       "t.json:2:2: category 2: must be an object, found an array"},
      {"[{\"templates\": []}]", "t.json:1:18: category 1: missing \"display_name\""},
      {"[{\"display_name\": \"A\"}]", "t.json:1:22: category 1: missing \"templates\""},
      {"[{\"display_name\": 7, \"templates\": []}]",
       "t.json:1:19: category 1: \"display_name\" must be a string, found a number"},
      {"[{\"display_name\": \"\", \"templates\": []}]",
       "t.json:1:19: category 1: \"display_name\" must not be empty"},
      // RapidJSON accepts an escaped lone low surrogate and writes it as bytes that are not
      // UTF-8 (the import_json_fuzz finding; templates_fuzz checks the same).
      {"[{\"display_name\": \"A\\udc00\", \"templates\": []}]",
       "t.json:1:19: category 1: \"display_name\" holds a \\u escape of a lone surrogate, not a "
       "character"},
      {"[{\"display_name\": \"A\", \"templates\": [{\"content\": \"Hi \\uDFFF\"}]}]",
       "t.json:1:50: category 1, template 1: \"content\" holds a \\u escape of a lone surrogate, "
       "not a character"},
      {"[{\"display_name\": \"A\", \"templates\": {}}]",
       "t.json:1:37: category 1: \"templates\" must be an array, found an object"},
      {"[{\"display_name\": \"A\", \"templates\": [\"x\"]}]",
       "t.json:1:38: category 1, template 1: must be an object, found a string"},
      {"[{\"display_name\": \"A\", \"templates\": [\n  {\"content\": \"x\"},\n  "
       "{\"whatsAppApproved\": true}]}]",
       "t.json:3:28: category 1, template 2: missing \"content\""},
      {"[{\"display_name\": \"A\", \"templates\": [{\"content\": null}]}]",
       "t.json:1:50: category 1, template 1: \"content\" must be a string, found null"},
      {"[{\"display_name\": \"A\", \"templates\": [{\"content\": \"\"}]}]",
       "t.json:1:50: category 1, template 1: \"content\" must not be empty"},
      {"[{\"display_name\": \"A\", \"templates\": [{\"content\": \"x\", \"whatsAppApproved\": "
       "\"true\"}]}]",
       "t.json:1:75: category 1, template 1: \"whatsAppApproved\" must be true or false, found a "
       "string"},
      {"[{\"display_name\": \"A\", \"templates\": [{\"content\": \"x\", \"whatsAppApproved\": "
       "1}]}]",
       "t.json:1:75: category 1, template 1: \"whatsAppApproved\" must be true or false, found a "
       "number"},
      {"[{\"display_name\": \"A\", \"templates\": [{\"content\": \"x\", \"whatsappapproved\": "
       "\"true\"}]}]",
       "t.json:1:55: category 1, template 1: unknown key \"whatsappapproved\" (a template has "
       "\"content\" and optionally \"whatsAppApproved\")"},
      {"[{\"display_name\": \"A\", \"name\": \"B\", \"templates\": []}]",
       "t.json:1:24: category 1: unknown key \"name\" (a category has \"display_name\" and "
       "\"templates\")"},
      {"[{\"display_name\": \"A\", \"display_name\": \"B\", \"templates\": []}]",
       "t.json:1:24: category 1: repeated key \"display_name\""},
      // Columns count characters, not bytes.
      {"[{\"display_name\": \"Zoë\", \"templates\": 5}]",
       "t.json:1:39: category 1: \"templates\" must be an array, found a number"},
  };
  for (const Case& c : cases) {
    const std::string json = c.json;
    CAPTURE(json);
    CHECK(ParseError(json) == std::string(c.error));
  }
}

TEST_CASE("templates: LoadFile reports the path, and line and column from the file") {
  std::string error;
  CHECK_FALSE(Templates::LoadFile("/nonexistent/dir/templates.json", &error));
  CHECK(error.rfind("/nonexistent/dir/templates.json: cannot open: ", 0) == 0);

  const TempFile bad(
      "[\n  {\"display_name\": \"Openers\",\n   \"templates\": [{\"content\": 5}]}\n]\n");
  CHECK_FALSE(Templates::LoadFile(bad.path(), &error));
  CHECK(error ==
        bad.path() + ":3:30: category 1, template 1: \"content\" must be a string, found a number");

  const TempFile nul(std::string("[]\0[]", 5));
  CHECK_FALSE(Templates::LoadFile(nul.path(), &error));
  CHECK(error == nul.path() + ":1:3: unexpected NUL byte");

  const TempFile good(R"([{"display_name":"D","templates":[{"content":"c"}]}])");
  const std::optional<Templates> t = Templates::LoadFile(good.path(), &error);
  REQUIRE(t.has_value());
  CHECK(t->categories() == std::vector<TemplateCategory>{{"D", {{"c", false}}}});
}

TEST_CASE("templates: the built-in set rendered for a customer, as the exact JSON array") {
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("7", "Jane Q Doe"));
  const Response r = HandleTemplates(TemplatesRequest("7"), f.services);
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json; charset=utf-8");
  CHECK(r.log_operation == "GetTemplatesByCustomerId");
  CHECK(r.log_worker == kAlice);
  CHECK(r.body ==
        R"([{"display_name":"Openers","templates":[)"
        R"({"content":"Hello Jane Q Doe we have now processed your documents and would like to )"
        R"(move you on to the next step. Drop me a message. - alice@example.com."},)"
        R"({"content":"Hello Jane Q Doe we have a new product out which may be of interest to )"
        R"(your business. Drop me a message. - alice@example.com."},)"
        R"({"content":"Just to confirm I am on my way to your office. Jane Q Doe.",)"
        R"("whatsAppApproved":true}]},)"
        R"({"display_name":"Replies","templates":[)"
        R"({"content":"This has now been sent. - alice@example.com."},)"
        R"({"content":"Our rates for any loan are 20% or 30% over $30,000. You can read more at )"
        R"(https://example.com. - alice@example.com."},)"
        R"({"content":"Just to confirm I am on my way to your office. - alice@example.com."},)"
        R"({"content":"Would you like me to go over some options with you Jane? - )"
        R"(alice@example.com."},)"
        R"({"content":"We have a secure drop box for documents. Can you attach and upload them )"
        R"(here: https://example.com. - alice@example.com"}]},)"
        R"({"display_name":"Closing","templates":[)"
        R"({"content":"Happy to help, Jane. If you have a moment could you leave a review about )"
        R"(our interaction at this link: https://example.com. - alice@example.com."}]}])");

  const rapidjson::Document doc = ParseBody(r);
  REQUIRE(doc.IsArray());
  int approved = 0;
  for (const auto& category : doc.GetArray()) {
    for (const auto& t : category["templates"].GetArray()) {
      if (!t.HasMember("whatsAppApproved")) continue;
      CHECK(t["whatsAppApproved"].IsBool());
      CHECK(t["whatsAppApproved"].GetBool());
      ++approved;
    }
  }
  CHECK(approved == 1);
}

TEST_CASE("templates: a loaded set replaces the built-in one and output is JSON-escaped") {
  std::string error;
  const std::optional<Templates> loaded = Templates::Parse(
      R"([{"display_name":"Cat \"1\"","templates":[)"
      R"({"content":"{{Name}}|{{FirstName}}|{{Author}}|{{CustomerId}}|{{Other}}","whatsAppApproved":true},)"
      R"({"content":"line1\nline2 \\ {{Name}}","whatsAppApproved":false}]}])",
      "t.json", &error);
  INFO(error);
  REQUIRE(loaded.has_value());
  HandlerFixture f;
  f.services.templates = &*loaded;
  const std::string name = "Zoë \"Z\" O'Neil\n日本 😀\\";
  const std::string id = "id\"<1>";
  const std::string worker = "w\"orker\t@example.com";
  f.directory.AddCustomer(MakeCustomer(id, name));
  const Response r = HandleTemplates(TemplatesRequest(id.c_str(), worker.c_str()), f.services);
  REQUIRE(r.status == 200);
  CHECK(r.body.find('\n') == std::string::npos);
  CHECK(r.body.find('\t') == std::string::npos);
  CHECK(r.log_worker == worker);
  const rapidjson::Document doc = ParseBody(r);
  REQUIRE(doc.IsArray());
  REQUIRE(doc.Size() == 1);
  CHECK(Str(doc[0]["display_name"]) == "Cat \"1\"");
  const rapidjson::Value& templates = doc[0]["templates"];
  REQUIRE(templates.Size() == 2);
  CHECK(Str(templates[0]["content"]) == name + "|Zoë|" + worker + "|" + id + "|{{Other}}");
  CHECK(templates[0]["whatsAppApproved"].IsBool());
  CHECK(Str(templates[1]["content"]) == "line1\nline2 \\ " + name);
  CHECK_FALSE(templates[1].HasMember("whatsAppApproved"));  // false is never emitted
  CHECK(templates[1].MemberCount() == 1);
}

TEST_CASE("templates: a Worker that is not UTF-8 still gives valid JSON (fuzz finding)") {
  // dispatch_fuzz: Worker=alice%A0%01 rendered into {{Author}} put a raw 0xA0 byte into the
  // answer, which is then not JSON (RFC 8259 requires UTF-8).
  HandlerFixture f;
  f.directory.AddCustomer(MakeCustomer("4", "Zoë"));
  const Response r = HandleTemplates(TemplatesRequest("4", "alice\xA0\x01"), f.services);
  REQUIRE(r.status == 200);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(r.body.c_str(), r.body.size());
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(Str(doc[0]["templates"][0]["content"]).find("alice\xEF\xBF\xBD\x01.") != std::string::npos);
}

TEST_CASE("templates: errors answer 400, 404, 422 and 503") {
  struct Case {
    const char* name;
    FormPairs pairs;
    bool directory;
    int status;
    const char* body;
    const char* log_operation;
  };
  const Case cases[] = {
      {"missing Location",
       {{"Worker", kAlice}, {"CustomerId", "7"}},
       true,
       422,
       R"({"error":"unknown Location"})",
       ""},
      {"other Location",
       {{"Location", "GetCustomersList"}, {"Worker", kAlice}, {"CustomerId", "7"}},
       true,
       422,
       R"({"error":"unknown Location"})",
       "GetCustomersList"},
      {"no directory",
       {{"Location", "GetTemplatesByCustomerId"}, {"Worker", kAlice}, {"CustomerId", "7"}},
       false,
       503,
       R"({"error":"directory not configured"})",
       "GetTemplatesByCustomerId"},
      {"missing CustomerId",
       {{"Location", "GetTemplatesByCustomerId"}, {"Worker", kAlice}},
       true,
       400,
       R"({"error":"missing CustomerId"})",
       "GetTemplatesByCustomerId"},
      {"unknown customer",
       {{"Location", "GetTemplatesByCustomerId"}, {"Worker", kAlice}, {"CustomerId", "8"}},
       true,
       404,
       R"({"error":"customer not found"})",
       "GetTemplatesByCustomerId"},
  };
  for (const Case& c : cases) {
    const std::string case_name = c.name;
    CAPTURE(case_name);
    HandlerFixture f;
    f.directory.AddCustomer(MakeCustomer("7", "Jane"));
    if (!c.directory) f.services.directory = nullptr;
    const Response r = HandleTemplates(FormRequest(kPath, c.pairs), f.services);
    CHECK(r.status == c.status);
    CHECK(r.body == c.body);
    CHECK(r.log_operation == c.log_operation);
    CHECK(r.log_worker == kAlice);
    CHECK_FALSE(r.log_detail.empty());
  }
}

}  // namespace
}  // namespace frontline
