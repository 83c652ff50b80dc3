#include "directory/import.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "directory/import/input_stream.h"
#include "directory/schema.h"
#include "directory/sqlite_directory.h"
#include "fcgi/progress.h"
#include "tests/unit/directory_test_util.h"

namespace frontline {
namespace {

using testing::MakeCustomer;
using testing::TempDir;

// Every customer and worker of a directory, as one comparable string.
std::string Dump(const std::string& db) {
  std::string error;
  auto directory = SqliteDirectory::Open(db, &error);
  REQUIRE_MESSAGE(directory != nullptr, error);
  ListRequest request;
  request.all_workers = true;
  request.page_size = 1000;
  std::string out;
  for (const CustomerSummary& s : directory->ListCustomers(request).customers) {
    auto c = directory->FindById(s.customer_id);
    REQUIRE(c.found());
    out += c->customer_id + "|" + c->display_name + "|" + c->avatar + "|" + c->worker + "|" +
           c->details.title + "|" + c->details.content;
    for (const Channel& ch : c->channels) out += "|ch:" + ch.type + "=" + ch.value;
    for (const Link& l : c->links) out += "|ln:" + l.type + "=" + l.value + "=" + l.display_name;
    out += "\n";
  }
  for (const std::string& w : directory->WorkersWithCustomers().value()) {
    auto worker = directory->FindWorker(w);
    if (worker.found())
      out += "worker " + worker->identity + "|" + worker->sms_number + "|" +
             worker->whatsapp_number + "\n";
  }
  return out;
}

TEST_CASE("import: JSON array and object forms") {
  TempDir dir;
  const std::string db = dir.File("d.db");
  const std::string array = dir.Write("a.json", R"([
  {"customer_id": 42, "display_name": "Answer", "worker": "alice@example.com",
   "channels": [{"type": "sms", "value": "+15550000042"}],
   "links": [{"type": "Web", "value": "https://example.com/42", "display_name": "Site"}],
   "details": {"title": "T", "content": "line 1\nline 2"}, "unknown": {"nested": [1, 2]}},
  {"customer_id": "x-1", "display_name": "Quote \"Q\" Person", "avatar": null, "channels": null}
])");
  const std::string object = dir.Write(
      "o.json", R"({"workers": [{"identity": "alice@example.com", "sms_number": "+15550009999"}],
 "customers": [{"customer_id": "x-2", "display_name": "Zed", "worker": "alice@example.com"}],
 "comment": "ignored"})");
  ImportStats stats;
  std::string error;
  REQUIRE_MESSAGE(ImportFiles(db, {array, object}, {}, &stats, &error), error);
  CHECK(stats.customers == 3);
  CHECK(stats.workers == 1);
  auto directory = SqliteDirectory::Open(db, &error);
  auto answer = directory->FindById("42");
  REQUIRE(answer.found());
  CHECK(answer->details.content == "line 1\nline 2");
  CHECK(answer->links.at(0).display_name == "Site");
  CHECK(directory->FindById("x-1")->display_name == "Quote \"Q\" Person");
  CHECK(directory->FindWorker("alice@example.com")->sms_number == "+15550009999");
  CHECK(ImportFiles(db, {dir.Write("empty.json", "[]")}, {}, &stats, &error));
  CHECK(stats.customers == 0);
  CHECK(ImportFiles(db, {dir.Write("empty2.json", " {} \n")}, {}, &stats, &error));
}

TEST_CASE("import: CSV") {
  TempDir dir;
  const std::string db = dir.File("d.db");
  const std::string csv = dir.Write(
      "c.csv",
      "customer_id,display_name,avatar,worker,details_title,details_content,channel_type,"
      "channel_value,link_type,link_value,link_display_name\r\n"
      "1,\"Martin, Joseph\",https://example.com/a.png,alice@example.com,History,\"Line 1\r\n"
      "Line \"\"2\"\"\",sms,+15558675310,Facebook,https://facebook.com/j,FB\r\n"
      "1,,,,,,whatsapp,whatsapp:+15558675310,CRM,https://crm.example.com/1,\r\n"
      "1,,,,,,,,Mail,mailto:j@example.com,Mail\r\n"
      "2,Plain,,alice@example.com,,,,,,,\r\n"
      "\r\n"
      "identity,sms_number,whatsapp_number\r\n"
      "alice@example.com,+15550009999,\r\n");
  // Columns in another order, a workers file of its own, LF endings, no final newline.
  const std::string reordered = dir.Write("r.csv",
                                          "display_name,customer_id,channel_value,channel_type\n"
                                          "Zed,3,+15551112222,sms");
  const std::string workers =
      dir.Write("w.csv", "whatsapp_number,identity\nwhatsapp:+15550008888,bob@example.com\n");
  ImportStats stats;
  std::string error;
  REQUIRE_MESSAGE(ImportFiles(db, {csv, reordered, workers}, {}, &stats, &error), error);
  CHECK(stats.customers == 3);
  CHECK(stats.workers == 2);
  auto directory = SqliteDirectory::Open(db, &error);
  auto joe = directory->FindById("1");
  REQUIRE(joe.found());
  CHECK(joe->display_name == "Martin, Joseph");
  CHECK(joe->details.content == "Line 1\r\nLine \"2\"");
  REQUIRE(joe->channels.size() == 2);
  CHECK(joe->channels[1].type == "whatsapp");
  REQUIRE(joe->links.size() == 3);
  CHECK(joe->links[1].display_name.empty());
  CHECK(joe->links[2].value == "mailto:j@example.com");
  CHECK(directory->FindById("2")->channels.empty());
  CHECK(directory->FindById("3")->channels.at(0).value == "+15551112222");
  CHECK(directory->FindWorker("alice@example.com")->sms_number == "+15550009999");
  CHECK(directory->FindWorker("bob@example.com")->whatsapp_number == "whatsapp:+15550008888");
}

TEST_CASE("import: ParseImportData reads a file's content without a database") {
  std::vector<Customer> customers;
  std::vector<Worker> workers;
  std::string error;
  REQUIRE_MESSAGE(ParseImportData("in.json",
                                  R"({"customers":[{"customer_id":7,"display_name":"Ann",)"
                                  R"("channels":[{"type":"sms","value":"+15551112222"}]}],)"
                                  R"("workers":[{"identity":"alice@example.com"}]})",
                                  &customers, &workers, &error),
                  error);
  REQUIRE(customers.size() == 1);
  CHECK(customers[0].customer_id == "7");
  CHECK(customers[0].channels.at(0).value == "+15551112222");
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].identity == "alice@example.com");

  customers.clear();
  workers.clear();
  REQUIRE_MESSAGE(ParseImportData("in.CSV",
                                  "customer_id,display_name,channel_type,channel_value\n"
                                  "1,\"Martin, Joseph\",sms,+15558675310\n"
                                  "1,,whatsapp,whatsapp:+15558675310\n"
                                  "\n"
                                  "identity,sms_number\n"
                                  "bob@example.com,+15550009999",
                                  &customers, &workers, &error),
                  error);
  REQUIRE(customers.size() == 1);
  CHECK(customers[0].display_name == "Martin, Joseph");
  CHECK(customers[0].channels.size() == 2);
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].sms_number == "+15550009999");

  // The same checks and messages as ImportFiles, the empty file included.
  CHECK(ParseImportData("in.csv", "", nullptr, nullptr, &error));
  CHECK_FALSE(ParseImportData("in.json",
                              "[{\"customer_id\":\"1\",\"display_name\":\"A\"},\n"
                              "{\"customer_id\":\"1\",\"display_name\":\"B\"}]",
                              nullptr, nullptr, &error));
  CHECK(error == "in.json:2: duplicate customer_id \"1\" (first at in.json:1)");
  CHECK_FALSE(ParseImportData("in.csv", "customer_id\n1\n", nullptr, nullptr, &error));
  CHECK(error == "in.csv:1: the header needs the columns customer_id and display_name");
  CHECK_FALSE(ParseImportData("in.txt", "", nullptr, nullptr, &error));
  CHECK(error == "in.txt: unsupported file type (expected .json or .csv)");
}

TEST_CASE("import: an escaped lone surrogate is invalid UTF-8 (import_json_fuzz finding)") {
  // The file itself is valid UTF-8, so the per-record check used to be skipped, but RapidJSON
  // writes "\udd80" as the bytes ED B6 80: such a name was stored, and answered, as invalid
  // UTF-8.
  std::string error;
  for (const char* escape : {"\\udd80", "\\uDFFF", "\\udc00x"}) {
    CAPTURE(escape);
    const std::string json = std::string(
                                 "[{\"customer_id\":\"1\",\"display_name\":\"A\"},\n"
                                 " {\"customer_id\":\"2\",\"display_name\":\"O") +
                             escape + "Brien\"}]";
    CHECK_FALSE(ParseImportData("s.json", json, nullptr, nullptr, &error));
    CHECK(error == "s.json:2: invalid UTF-8 in display_name");
  }
  // A surrogate pair is one character, and an escaped backslash before "u" is no escape.
  std::vector<Customer> customers;
  REQUIRE(ParseImportData("s.json",
                          R"([{"customer_id":"1","display_name":"\ud83d\udc09 \\udd80"}])",
                          &customers, nullptr, &error));
  CHECK(customers.at(0).display_name == "\xF0\x9F\x90\x89 \\udd80");
}

TEST_CASE("import: JSON nested a million levels deep is an error or ignored, not a crash") {
  // Found by hand after the fuzz runs (import_json_fuzz inputs stay small): RapidJSON's recursive
  // parser overflowed the stack on deeply nested input.
  const size_t depth = 1 << 20;
  std::vector<Customer> customers;
  std::string error;
  CHECK_FALSE(ParseImportData("deep.json", std::string(depth, '['), &customers, nullptr, &error));
  CHECK(error.rfind("deep.json:1: JSON syntax error", 0) == 0);
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  REQUIRE_MESSAGE(
      ParseImportData("deep.json",
                      R"([{"customer_id":"1","display_name":"A","unknown":)" + nested + "}]",
                      &customers, nullptr, &error),
      error);
  REQUIRE(customers.size() == 1);
  CHECK(customers[0].display_name == "A");
}

TEST_CASE("import: every error names file and line, and changes nothing") {
  TempDir dir;
  const std::string db = dir.File("d.db");
  std::string error;
  REQUIRE(ImportRecords(db, {MakeCustomer("keep", "Kept Customer")}, {}, {}, nullptr, &error));
  const std::string before = Dump(db);

  const std::string kHeader = "customer_id,display_name,channel_type,channel_value,link_value\n";
  struct Case {
    const char* name;
    std::string content;
    std::string expected;  // error, after the file path
  };
  const Case cases[] = {
      {"dup.json",
       "[\n{\"customer_id\":\"1\",\"display_name\":\"A\"},\n{\"customer_id\":\"1\",\"display_"
       "name\":\"B\"}\n]",
       ":3: duplicate customer_id \"1\" (first at "},
      {"dupnum.json",
       "[{\"customer_id\":1,\"display_name\":\"A\"},\n{\"customer_id\":\"1\",\"display_name\":"
       "\"B\"}]",
       ":2: duplicate customer_id \"1\""},
      {"noid.json", "[\n\n  {\"display_name\":\"A\"}]", ":3: missing customer_id"},
      {"emptyid.json", "[{\"customer_id\":\"\",\"display_name\":\"A\"}]",
       ":1: missing customer_id"},
      {"noname.json", "[{\"customer_id\":\"1\"}]", ":1: missing display_name"},
      {"floatid.json", "[{\"customer_id\":1.5,\"display_name\":\"A\"}]",
       ":1: customer_id must be a string or an integer"},
      {"type.json",
       "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"channels\":[{\"type\":\"fax\",\"value\":"
       "\"1\"}]}]",
       ":1: invalid channel type \"fax\""},
      {"novalue.json",
       "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"channels\":[{\"type\":\"sms\"}]}]",
       ":1: empty sms channel value"},
      {"url.json",
       "[{\"customer_id\":\"1\",\"display_name\":\"A\"},\n{\"customer_id\":\"2\",\"display_name\":"
       "\"B\",\"links\":[{\"type\":\"x\",\"value\":\"www.example.com\"}]}]",
       ":2: malformed link URL \"www.example.com\""},
      {"url2.json",
       "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"links\":[{\"value\":\"https://\"}]}]",
       ":1: malformed link URL"},
      {"url3.json",
       "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"links\":[{\"value\":\"https://a b\"}]}]",
       ":1: malformed link URL"},
      {"avatar.json", "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"avatar\":\"/img.png\"}]",
       ":1: avatar \"/img.png\" is not an absolute http(s) URL"},
      {"utf8.json", "[{\"customer_id\":\"1\",\n\"display_name\":\"\xc3\x28\"}]",
       ":2: invalid UTF-8"},
      {"wrongtype.json", "[{\"customer_id\":\"1\",\"display_name\":7}]",
       ":1: display_name must be a string"},
      {"wrongtype2.json", "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"channels\":{}}]",
       ":1: channels must be an array"},
      {"wrongtype3.json",
       "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"links\":[{\"value\":3}]}]",
       ":1: links[0].value must be a string"},
      {"wrongtype4.json", "[{\"customer_id\":\"1\",\"display_name\":\"A\",\"details\":\"x\"}]",
       ":1: details must be an object"},
      {"notobject.json", "[\"1\"]", ":1: a customer must be a JSON object"},
      {"syntax.json",
       "[\n{\"customer_id\":\"1\",\"display_name\":\"A\"},\n{\"customer_id\":\"2\" "
       "\"display_name\":\"B\"}\n]",
       ":3: JSON syntax error"},
      {"trailing.json", "[{\"customer_id\":\"1\",\"display_name\":\"A\"},]",
       ":1: JSON syntax error"},
      {"toplevel.json", "\"customers\"", ":1: expected an array of customers"},
      {"after.json", "[]\n[]", ":2: unexpected data after the JSON value"},
      {"truncated.json", "[{\"customer_id\":\"1\",\"display_name\":\"A\"}",
       ":1: expected ',' or ']'"},
      {"workers.json", "{\"workers\":[{\"identity\":\"a\"},\n{\"identity\":\"a\"}]}",
       ":2: duplicate worker identity \"a\""},
      {"noidentity.json", "{\"workers\":[{\"sms_number\":\"+1\"}]}", ":1: missing worker identity"},
      {"workersnotarray.json", "{\"workers\":{}}", ":1: \"workers\" must be an array"},
      {"dup.csv", kHeader + "1,A,,,\n2,B,,,\n1,C,,,\n",
       ":4: duplicate customer_id \"1\" (first at "},
      {"noid.csv", kHeader + "1,A,,,\n,B,,,\n", ":3: missing customer_id"},
      {"noname.csv", kHeader + "1,,,,\n", ":2: missing display_name"},
      {"type.csv", kHeader + "1,A,sms,+1555,\n1,,pager,123,\n",
       ":3: invalid channel type \"pager\""},
      {"url.csv", kHeader + "1,A,,,\"https://ok.example.com\"\n1,,,,ftp://example.com\n",
       ":3: malformed link URL \"ftp://example.com\""},
      {"utf8.csv", kHeader + "1,A,,,\n2,\"B\xff\",,,\n", ":3: invalid UTF-8"},
      {"fields.csv", kHeader + "1,A,,\n", ":2: expected 5 fields, found 4"},
      {"quote.csv", kHeader + "1,A\"B,,,\n", ":2: quote inside an unquoted field"},
      {"quote2.csv", kHeader + "1,\"A\"B,,,\n", ":2: unexpected character after a closing quote"},
      {"unterminated.csv", kHeader + "1,A,,,\n2,\"B\n\n", ":3: unterminated quoted field"},
      {"column.csv", "customer_id,display_name,phone\n1,A,+1\n", ":1: unknown column \"phone\""},
      {"column2.csv", "customer_id,customer_id,display_name\n",
       ":1: duplicate column \"customer_id\""},
      {"column3.csv", "customer_id,avatar\n1,\n",
       ":1: the header needs the columns customer_id and display_name"},
      {"conflict.csv", kHeader + "1,A,,,\n1,B,,,\n",
       ":3: display_name differs from the first row of customer \"1\""},
      {"worker.csv", "identity,sms_number\na,+1\na,+2\n", ":3: duplicate worker identity \"a\""},
      {"customers.txt", "x", ": unsupported file type (expected .json or .csv)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string path = dir.Write(c.name, c.content);
    ImportOptions replace;
    replace.replace = true;
    for (const ImportOptions& options : {ImportOptions{}, replace}) {
      error.clear();
      CHECK_FALSE(ImportFiles(db, {path}, options, nullptr, &error));
      CHECK_MESSAGE(error.rfind(path + c.expected, 0) == 0, error);
      CHECK(Dump(db) == before);
    }
  }
  error.clear();
  CHECK_FALSE(ImportFiles(db, {dir.File("missing.json")}, {}, nullptr, &error));
  CHECK(error.find("missing.json: No such file") != std::string::npos);
}

TEST_CASE("import: a failure half-way leaves the database unchanged") {
  TempDir dir;
  const std::string db = dir.File("d.db");
  std::string error;
  std::vector<Customer> original;
  for (int i = 0; i < 50; ++i)
    original.push_back(MakeCustomer("o" + std::to_string(i), "Orig " + std::to_string(i)));
  REQUIRE(ImportRecords(db, original, {{"alice@example.com", "+1", ""}}, {}, nullptr, &error));
  const std::string before = Dump(db);

  // 2 000 good records (updates and new ones), then a bad one; a second good file never read.
  std::string json = "[\n";
  for (int i = 0; i < 2000; ++i) {
    json += "{\"customer_id\":\"" + std::string(i < 50 ? "o" : "n") + std::to_string(i) +
            "\",\"display_name\":\"Changed " + std::to_string(i) + "\"},\n";
  }
  json +=
      "{\"customer_id\":\"bad\",\"display_name\":\"Bad\",\"channels\":[{\"type\":\"telex\","
      "\"value\":\"1\"}]}\n]";
  const std::string bad = dir.Write("big.json", json);
  const std::string good =
      dir.Write("good.json", "[{\"customer_id\":\"g\",\"display_name\":\"G\"}]");
  ImportOptions replace;
  replace.replace = true;
  for (const ImportOptions& options : {ImportOptions{}, replace}) {
    ImportStats stats;
    CHECK_FALSE(ImportFiles(db, {good, bad}, options, &stats, &error));
    CHECK(error ==
          bad + ":2002: invalid channel type \"telex\" (expected sms, whatsapp, chat or email)");
    CHECK_FALSE(stats.database_failed);  // the input's fault: exit 65
    CHECK(Dump(db) == before);
  }
  // In-memory records: the same all-or-nothing rule, named by index.
  std::vector<Customer> records = {MakeCustomer("o1", "New name"), MakeCustomer("", "No id")};
  CHECK_FALSE(ImportRecords(db, records, {}, {}, nullptr, &error));
  CHECK(error == "customers[1]: missing customer_id");
  CHECK_FALSE(ImportRecords(db, {}, {{"", "", ""}}, {}, nullptr, &error));
  CHECK(error == "workers[0]: missing worker identity");
  CHECK(Dump(db) == before);
}

TEST_CASE("import: a database that fails is reported as such, not as bad input") {
  TempDir dir;
  const std::string good =
      dir.Write("good.json", "[{\"customer_id\":\"g\",\"display_name\":\"G\"}]");
  const std::string garbage = dir.Write("garbage.db", std::string(8192, 'x'));
  std::string error;
  ImportStats stats;
  CHECK_FALSE(ImportFiles(garbage, {good}, {}, &stats, &error));
  CHECK(stats.database_failed);
  CHECK_FALSE(error.empty());
  ImportStats records_stats;
  CHECK_FALSE(ImportRecords(dir.File("no/such/dir.db"), {MakeCustomer("a", "A")}, {}, {},
                            &records_stats, &error));
  CHECK(records_stats.database_failed);
}

TEST_CASE("import: upsert versus --replace") {
  TempDir dir;
  const std::string db = dir.File("d.db");
  std::string error;
  Customer a = MakeCustomer("a", "Alpha");
  a.channels = {{"sms", "+15550000001"}, {"whatsapp", "whatsapp:+15550000001"}};
  a.links = {{"Web", "https://a.example.com", "A"}};
  Customer b = MakeCustomer("b", "Beta", "bob@example.com");
  REQUIRE(ImportRecords(db, {a, b}, {{"alice@example.com", "+1", ""}}, {}, nullptr, &error));

  // Upsert: a changes (new channel, new worker, no links), c is added, b stays.
  Customer a2 = MakeCustomer("a", "Alpha Two", "bob@example.com");
  a2.channels = {{"sms", "+15550000003"}};
  Customer c = MakeCustomer("c", "Gamma");
  ImportStats stats;
  REQUIRE(ImportRecords(db, {a2, c}, {{"alice@example.com", "+2", ""}}, {}, &stats, &error));
  CHECK(stats.customers == 2);
  {
    auto directory = SqliteDirectory::Open(db, &error);
    auto found = directory->FindById("a");
    REQUIRE(found.found());
    CHECK(found->display_name == "Alpha Two");
    CHECK(found->channels.size() == 1);
    CHECK(found->links.empty());
    CHECK(directory->FindByAddress("+15550000001").absent());
    CHECK(directory->FindByAddress("+15550000003")->customer_id == "a");
    CHECK(directory->FindById("b").found());
    CHECK(directory->FindWorker("alice@example.com")->sms_number == "+2");
    // The search index follows: old name and number gone, new ones found, under the new worker.
    ListRequest request;
    request.worker = "alice@example.com";
    request.query = "alpha";
    CHECK(directory->ListCustomers(request).customers.empty());
    request.worker = "bob@example.com";
    CHECK(directory->ListCustomers(request).customers.size() == 1);
    request.query = "two 0003";
    CHECK(directory->ListCustomers(request).customers.size() == 1);
    request.query = "0001";
    CHECK(directory->ListCustomers(request).customers.empty());
    CHECK(directory->WorkersWithCustomers().value() ==
          std::vector<std::string>{"alice@example.com", "bob@example.com"});
  }

  // Replace: only what the import holds remains.
  ImportOptions replace;
  replace.replace = true;
  REQUIRE(ImportRecords(db, {MakeCustomer("z", "Zeta")}, {}, replace, &stats, &error));
  auto directory = SqliteDirectory::Open(db, &error);
  CHECK(directory->FindById("a").absent());
  CHECK(directory->FindById("b").absent());
  CHECK(directory->FindById("z").found());
  CHECK(directory->FindWorker("alice@example.com").absent());
  ListRequest request;
  request.worker = "alice@example.com";
  request.query = "zet";
  CHECK(directory->ListCustomers(request).customers.size() == 1);
}

TEST_CASE("import: seed demo customers") {
  std::vector<Customer> seed =
      SeedDemoCustomers("+15550000001", "+15550000002", "alice@example.com");
  REQUIRE(seed.size() == 2);
  CHECK(seed[0].customer_id == "1");
  CHECK(seed[0].display_name == "Customer 1");
  CHECK(seed[0].avatar == "https://example.com/image.jpeg");
  REQUIRE(seed[0].channels.size() == 2);
  CHECK(seed[0].channels[0].type == "sms");
  CHECK(seed[0].channels[0].value == "+15550000001");
  CHECK(seed[0].channels[1].type == "chat");
  CHECK(seed[0].channels[1].value == "alice@example.com");
  CHECK(seed[0].links.at(0).display_name == "Meta");
  CHECK(seed[1].links.at(0).display_name == "Facebook");
  CHECK(seed[1].channels.size() == 1);
  CHECK(seed[1].details.content ==
        "Product: Unobtanium\n\nDate: 2021-07-07\nQuantity: 1000 units\n\nSales rep: Ash Williams");
  CHECK(seed[1].worker == "alice@example.com");

  TempDir dir;
  std::string error;
  REQUIRE_MESSAGE(ImportRecords(dir.File("d.db"), seed, {}, {}, nullptr, &error), error);
  // The example file holds the same two customers.
  const std::string db2 = dir.File("e.db");
  REQUIRE_MESSAGE(
      ImportFiles(db2, {FRONTLINE_SOURCE_DIR "/examples/customers.json"}, {}, nullptr, &error),
      error);
  auto seeded = SqliteDirectory::Open(dir.File("d.db"), &error);
  auto example = SqliteDirectory::Open(db2, &error);
  for (const char* id : {"1", "2"}) {
    auto s = seeded->FindById(id);
    auto e = example->FindById(id);
    REQUIRE(s.found());
    REQUIRE(e.found());
    CHECK(s->display_name == e->display_name);
    CHECK(s->channels.size() == e->channels.size());
    CHECK(s->links.at(0).display_name == e->links.at(0).display_name);
    CHECK(s->details.content == e->details.content);
  }
}

// Everything written to `stream` so far; closes it.
std::string ReadAndClose(std::FILE* stream) {
  std::string out;
  std::rewind(stream);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stream)) > 0) out.append(buffer, n);
  std::fclose(stream);
  return out;
}

size_t Count(const std::string& text, char c) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), c));
}

TEST_CASE("import: progress is drawn while importing and ends with a newline") {
  TempDir dir;
  std::string json = "[";
  for (int i = 0; i < 3000; ++i) {
    if (i > 0) json += ",";
    json += "{\"customer_id\":\"" + std::to_string(i) + "\",\"display_name\":\"C" +
            std::to_string(i) + "\"}";
  }
  json += "]";
  const std::string file = dir.Write("p.json", json);
  std::string error;
  // The command line's bar (fcgi/progress.h) behind ImportOptions::progress, as main.cpp does.
  std::FILE* stream = std::tmpfile();
  REQUIRE(stream != nullptr);
  ProgressBar bar(stream);
  ImportOptions options;
  options.progress = bar.Callback();
  ImportStats stats;
  REQUIRE_MESSAGE(ImportFiles(dir.File("d.db"), {file}, options, &stats, &error), error);
  bar.Finish(stats.customers);
  const std::string out = ReadAndClose(stream);
  INFO("progress: ", out);
  // A bar redrawn in place: one update on the way (the first is never throttled), then the end.
  CHECK(out.rfind("\rimport [", 0) == 0);
  CHECK(out.find(" customers checked\r") != std::string::npos);  // pass 1 is drawn first
  REQUIRE(Count(out, '\r') >= 2);
  const std::string last = out.substr(out.rfind('\r'));
  CHECK(last == "\rimport [##############################] 100.0%  3000 customers\n");
  CHECK(Count(out, '\n') == 1);

  // Both passes report, the bytes done only grow, and end at the total.
  std::vector<ImportProgress> updates;
  options.progress = [&updates](const ImportProgress& p) { updates.push_back(p); };
  REQUIRE(ImportFiles(dir.File("u.db"), {file}, options, nullptr, &error));
  REQUIRE(updates.size() >= 4);
  CHECK(updates.front().pass == 1);
  CHECK(updates.back().pass == 2);
  CHECK(updates.back().total == 2 * json.size());
  for (size_t i = 1; i < updates.size(); ++i) CHECK(updates[i].done >= updates[i - 1].done);
  CHECK(updates.back().done <= updates.back().total);

  // In-memory records report too.
  updates.clear();
  REQUIRE(ImportRecords(dir.File("r.db"), {MakeCustomer("a", "A")}, {}, options, nullptr, &error));
  CHECK(!updates.empty());

  // A failed import: the bar's line is ended before the error is printed.
  stream = std::tmpfile();
  ProgressBar failing(stream);
  failing.Update(ImportProgress{});
  failing.Abort();
  const std::string failed = ReadAndClose(stream);
  CHECK(!failed.empty());
  CHECK(failed.back() == '\n');
}

TEST_CASE("import: channels and links of any length and content round-trip") {
  TempDir dir;
  const std::string db = dir.File("d.db");
  std::string error;
  Customer a = MakeCustomer("a", "Alpha");
  const std::string long_value(20000, 'x');  // a length that takes three LEB128 bytes
  a.channels = {{"chat", "Ünïcode \x1f\n, \"quoted\" " + std::string(200, 'y')},
                {"email", "a@example.com"},
                {"sms", "+1 555 000 0001"},
                {"whatsapp", "whatsapp:+15550000001"},  // the same number as the sms channel
                {"chat", long_value}};
  a.links = {{"", "https://a.example.com/" + long_value, ""}, {"Mail", "mailto:a@b.c", "M"}};
  REQUIRE_MESSAGE(ImportRecords(db, {a, MakeCustomer("b", "Beta")}, {}, {}, nullptr, &error),
                  error);
  // Upserting into the non-empty directory goes the row-by-row way: the same result.
  Customer c = a;
  c.customer_id = "c";
  REQUIRE_MESSAGE(ImportRecords(db, {c}, {}, {}, nullptr, &error), error);
  auto directory = SqliteDirectory::Open(db, &error);
  for (const char* id : {"a", "c"}) {
    auto found = directory->FindById(id);
    REQUIRE(found.found());
    REQUIRE(found->channels.size() == a.channels.size());
    for (size_t i = 0; i < a.channels.size(); ++i) {
      CHECK(found->channels[i].type == a.channels[i].type);
      CHECK(found->channels[i].value == a.channels[i].value);
    }
    REQUIRE(found->links.size() == a.links.size());
    for (size_t i = 0; i < a.links.size(); ++i) {
      CHECK(found->links[i].type == a.links[i].type);
      CHECK(found->links[i].value == a.links[i].value);
      CHECK(found->links[i].display_name == a.links[i].display_name);
    }
    CHECK(directory->FindById("b")->channels.empty());
  }
  // Both customers share every address; the lowest customer_id wins.
  CHECK(directory->FindByAddress("15550000001")->customer_id == "a");
  CHECK(directory->FindByAddress(long_value)->customer_id == "a");
  CHECK(directory->FindByAddress("A@Example.com")->customer_id == "a");

  std::vector<Channel> channels;
  CHECK(DecodeChannelsBlob("", &channels));
  CHECK(channels.empty());
  CHECK_FALSE(DecodeChannelsBlob(std::string(1, '\x05') + "ab", &channels));  // too short
  CHECK_FALSE(DecodeChannelsBlob(std::string(1, '\x01') + "a", &channels));   // no value
  std::vector<Link> links;
  CHECK_FALSE(DecodeLinksBlob(std::string("\x80\x80", 2), &links));
}

TEST_CASE("import: a large JSON file, its line numbers and duplicate ids") {
  TempDir dir;
  std::string json = "[\n";
  constexpr int kCount = 5000;
  for (int i = 0; i < kCount; ++i) {
    // Two lines per record, and escaped newlines that must not count as lines.
    json += "{\"customer_id\":\"id" + std::to_string(i) + "\",\n \"display_name\":\"N " +
            std::to_string(i) + "\",\"details\":{\"content\":\"a\\nb\\nc\"}},\n";
  }
  std::string error;
  const std::string good =
      dir.Write("good.json", json + "{\"customer_id\":\"last\",\"display_name\":\"L\"}]");
  ImportStats stats;
  REQUIRE_MESSAGE(ImportFiles(dir.File("d.db"), {good}, {}, &stats, &error), error);
  CHECK(stats.customers == kCount + 1);
  auto directory = SqliteDirectory::Open(dir.File("d.db"), &error);
  CHECK(directory->FindById("id4321")->details.content == "a\nb\nc");

  // Record i starts on line 2 + 2 * i.
  const std::string dup =
      dir.Write("dup.json", json + "{\"customer_id\":\"id1234\",\"display_name\":\"D\"}]");
  CHECK_FALSE(ImportFiles(dir.File("e.db"), {dup}, {}, nullptr, &error));
  CHECK(error == dup + ":" + std::to_string(2 + 2 * kCount) +
                     ": duplicate customer_id \"id1234\" (first at " + dup + ":" +
                     std::to_string(2 + 2 * 1234) + ")");
  const std::string bad =
      dir.Write("bad.json", json + "{\"customer_id\":\"x\",\n\"display_name\":\"\xc3\x28\"}]");
  CHECK_FALSE(ImportFiles(dir.File("f.db"), {bad}, {}, nullptr, &error));
  CHECK(error == bad + ":" + std::to_string(3 + 2 * kCount) + ": invalid UTF-8");
  const std::string syntax = dir.Write("syntax.json", json + "{\"customer_id\":\"x\",\n\n}]");
  CHECK_FALSE(ImportFiles(dir.File("g.db"), {syntax}, {}, nullptr, &error));
  CHECK(error.rfind(syntax + ":" + std::to_string(4 + 2 * kCount) + ": JSON syntax error", 0) == 0);
}

TEST_CASE("import: the input stream carries UTF-8 split across its buffer and counts lines") {
  const size_t kBuffer = ImportInputStream::kBufferSize;
  for (size_t shift = 0; shift < 4; ++shift) {
    // A 4-byte sequence starting 0..3 bytes before the end of the first buffer.
    std::string data(kBuffer - 1 - shift, 'a');
    data[10] = '\n';
    data += "\xF0\x9F\x98\x80\nz";
    std::FILE* file = fmemopen(data.data(), data.size(), "rb");
    REQUIRE(file != nullptr);
    ImportInputStream in(file, true);
    std::string read;
    while (!in.AtEnd()) read.push_back(in.Take());
    CHECK(read == data);
    CHECK(in.line() == 3);
    CHECK(in.Tell() == data.size());
    CHECK_FALSE(in.stopped_at_invalid_utf8());
    std::fclose(file);
  }
  // An invalid byte in the third buffer: the stream ends just before it and knows its line.
  std::string data(2 * kBuffer + 100, 'b');
  for (size_t i = 0; i < 2 * kBuffer; i += 1000) data[i] = '\n';  // lines 2..132
  data += "\n\xC3\x28 more";
  std::FILE* file = fmemopen(data.data(), data.size(), "rb");
  REQUIRE(file != nullptr);
  ImportInputStream in(file, true);
  size_t bytes = 0;
  while (!in.AtEnd()) {
    in.Take();
    ++bytes;
  }
  CHECK(bytes == 2 * kBuffer + 101);
  CHECK(in.stopped_at_invalid_utf8());
  CHECK(in.invalid_utf8_line() == 2 * kBuffer / 1000 + 3);
  std::fclose(file);
}

TEST_CASE("import: files many times the reader's buffer stream, with late errors on their line") {
  TempDir dir;
  std::string json = "[\n";
  std::string csv = "customer_id,display_name,details_content\n";
  size_t lines = 1;  // the JSON line the next record starts on
  constexpr int kCount = 20000;
  for (int i = 0; i < kCount; ++i) {
    // Multi-byte characters at every offset, so some straddle the buffer boundaries.
    const std::string name =
        "N\xC3\xA9" + std::string(i % 7, 'x') + "\xE2\x82\xAC\xF0\x9F\x98\x80";
    json += "{\"customer_id\":\"" + std::to_string(i) + "\",\"display_name\":\"" + name + "\"},\n";
    csv += std::to_string(i) + "," + name + ",\"two\nlines\"\n";
    ++lines;
  }
  REQUIRE(json.size() > 10 * ImportInputStream::kBufferSize);
  REQUIRE(csv.size() > 8 * ImportInputStream::kBufferSize);
  std::string error;
  ImportStats stats;
  const std::string good_json =
      dir.Write("good.json", json + "{\"customer_id\":\"end\",\"display_name\":\"E\"}]");
  const std::string good_csv = dir.Write("good.csv", csv);
  REQUIRE_MESSAGE(ImportFiles(dir.File("d.db"), {good_json}, {}, &stats, &error), error);
  CHECK(stats.customers == kCount + 1);
  REQUIRE_MESSAGE(ImportFiles(dir.File("c.db"), {good_csv}, {}, &stats, &error), error);
  CHECK(stats.customers == kCount);
  auto directory = SqliteDirectory::Open(dir.File("d.db"), &error);
  REQUIRE(directory);
  CHECK(directory->FindById("12345")->display_name ==
        "N\xC3\xA9" + std::string(12345 % 7, 'x') + "\xE2\x82\xAC\xF0\x9F\x98\x80");
  auto from_csv = SqliteDirectory::Open(dir.File("c.db"), &error);
  REQUIRE(from_csv);
  CHECK(from_csv->FindById("19999")->details.content == "two\nlines");

  // A bad record at the end reports its own line, far past the first buffer.
  const std::string late = dir.Write("late.json", json + "{\"customer_id\":\"x\"}]");
  CHECK_FALSE(ImportFiles(dir.File("e.db"), {late}, {}, nullptr, &error));
  CHECK(error == late + ":" + std::to_string(lines + 1) + ": missing display_name");
  const std::string late_csv = dir.Write("late.csv", csv + "x,\n");
  CHECK_FALSE(ImportFiles(dir.File("e.db"), {late_csv}, {}, nullptr, &error));
  CHECK(error == late_csv + ":" + std::to_string(2 * kCount + 2) + ": expected 3 fields, found 2");
  // A syntax error before invalid UTF-8 in the same buffer is reported as such.
  const std::string both =
      dir.Write("both.json", json + "{\"customer_id\":\"x\",,\n\"display_name\":\"\xC3\x28\"}]");
  CHECK_FALSE(ImportFiles(dir.File("e.db"), {both}, {}, nullptr, &error));
  CHECK(error.rfind(both + ":" + std::to_string(lines + 1) + ": JSON syntax error", 0) == 0);
  // Invalid UTF-8 after the closing bracket is still refused.
  const std::string trailing =
      dir.Write("trailing.json", json + "{\"customer_id\":\"end\",\"display_name\":\"E\"}]\n\xFF");
  CHECK_FALSE(ImportFiles(dir.File("e.db"), {trailing}, {}, nullptr, &error));
  CHECK(error == trailing + ":" + std::to_string(lines + 2) + ": invalid UTF-8");
  // Nesting a million levels deep late in a big file is an error, not a stack overflow.
  const std::string deep = dir.Write("deep.json", json + std::string(1 << 20, '['));
  CHECK_FALSE(ImportFiles(dir.File("e.db"), {deep}, {}, nullptr, &error));
  CHECK(error.rfind(deep + ":" + std::to_string(lines + 1) + ": JSON syntax error", 0) == 0);
  // A read error (here: a folder) is one, not a syntax error where the data stopped.
  for (const char* name : {"folder.json", "folder.csv"}) {
    const std::string folder = dir.File(name);
    REQUIRE(::mkdir(folder.c_str(), 0700) == 0);
    CHECK_FALSE(ImportFiles(dir.File("e.db"), {folder}, {}, nullptr, &error));
    CHECK(error == folder + ": read error");
  }
  // Nothing of the failed imports was written.
  auto failed = SqliteDirectory::Open(dir.File("e.db"), &error);
  REQUIRE(failed);
  CHECK_FALSE(failed->FindById("0").found());
}

}  // namespace
}  // namespace frontline
