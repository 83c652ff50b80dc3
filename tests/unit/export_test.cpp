#include "directory/export.h"

#include <doctest/doctest.h>

#include <sstream>

#include "directory/import.h"
#include "tests/unit/directory_test_util.h"

namespace frontline {
namespace {

using testing::MakeCustomer;
using testing::TempDir;

std::string Export(const std::string& db, ExportFormat format) {
  std::ostringstream out;
  std::string error;
  REQUIRE_MESSAGE(ExportDirectory(db, "", format, out, &error), error);
  return out.str();
}

std::vector<Customer> TrickyCustomers() {
  Customer a = MakeCustomer("a,1", "Quote \"Q\", Comma");
  a.avatar = "https://example.com/a.png?x=1&y=2";
  a.channels = {{"sms", "+1 (555) 000-0001"},
                {"whatsapp", "whatsapp:+15550000001"},
                {"email", "q@example.com"}};
  a.links = {{"Web", "https://example.com", ""}, {"", "mailto:q@example.com", "Mail, \"me\""}};
  a.details = {"Title\twith tab", "Line 1\nLine 2\r\nLine 3\n"};
  Customer b = MakeCustomer("10", "李小龍 🐉", "bob@example.com");
  b.details = {"", "content only"};
  Customer c = MakeCustomer("9", " leading and trailing spaces ", "");
  c.links = {{"A", "https://a.example.com", "1"},
             {"B", "https://b.example.com", "2"},
             {"C", "https://c.example.com", "3"}};
  Customer d = MakeCustomer("\"quoted id\"", "Zoë");
  d.details = {"title only", ""};
  return {a, b, c, d};
}

TEST_CASE("export: JSON and CSV round trips are byte-identical") {
  TempDir dir;
  const std::string db = dir.File("one.db");
  std::string error;
  std::vector<Worker> workers = {{"alice@example.com", "", ""},
                                 {"bob@example.com", "+15550009999", "whatsapp:+15550009999"},
                                 {"carol,\"c\"", "", "whatsapp:+1"}};
  REQUIRE_MESSAGE(ImportRecords(db, TrickyCustomers(), workers, {}, nullptr, &error), error);
  REQUIRE_MESSAGE(
      ImportFiles(db, {FRONTLINE_SOURCE_DIR "/examples/customers.json"}, {}, nullptr, &error),
      error);

  const std::string json = Export(db, ExportFormat::kJson);
  const std::string csv = Export(db, ExportFormat::kCsv);
  CHECK(json.rfind("{\"customers\":[\n{\"customer_id\":\"\\\"quoted id\\\"\",", 0) == 0);
  CHECK(json.find("\n],\"workers\":[\n{\"identity\":\"alice@example.com\"}") != std::string::npos);
  CHECK(csv.rfind("customer_id,display_name,avatar,worker,details_title,details_content,"
                  "channel_type,channel_value,link_type,link_value,link_display_name\n",
                  0) == 0);
  CHECK(csv.find("\n\nidentity,sms_number,whatsapp_number\n") != std::string::npos);

  ImportOptions replace;
  replace.replace = true;
  for (ExportFormat format : {ExportFormat::kJson, ExportFormat::kCsv}) {
    const bool is_json = format == ExportFormat::kJson;
    CAPTURE(is_json);
    const std::string& first = is_json ? json : csv;
    const std::string file = dir.Write(is_json ? "export.json" : "export.csv", first);
    // Into a fresh database, and over an existing one with --replace: same bytes back.
    for (const char* target : {"fresh.db", "one.db"}) {
      CAPTURE(target);
      const std::string other = dir.File(std::string(is_json ? "j-" : "c-") + target);
      if (std::string(target) == "one.db") {
        REQUIRE(ImportRecords(other, {MakeCustomer("junk", "Junk")}, {}, {}, nullptr, &error));
      }
      REQUIRE_MESSAGE(ImportFiles(other, {file}, replace, nullptr, &error), error);
      CHECK(Export(other, format) == first);
      // And the other format agrees too.
      CHECK(Export(other, is_json ? ExportFormat::kCsv : ExportFormat::kJson) ==
            (is_json ? csv : json));
    }
  }
}

TEST_CASE("export: empty directory and errors") {
  TempDir dir;
  std::string error;
  REQUIRE(ImportRecords(dir.File("e.db"), {}, {}, {}, nullptr, &error));
  CHECK(Export(dir.File("e.db"), ExportFormat::kJson) == "{\"customers\":[\n],\"workers\":[\n]}\n");
  CHECK(Export(dir.File("e.db"), ExportFormat::kCsv) ==
        "customer_id,display_name,avatar,worker,details_title,details_content,channel_type,"
        "channel_value,link_type,link_value,link_display_name\n");
  // The empty exports import back.
  const std::string json = dir.Write("e.json", Export(dir.File("e.db"), ExportFormat::kJson));
  const std::string csv = dir.Write("e.csv", Export(dir.File("e.db"), ExportFormat::kCsv));
  CHECK(ImportFiles(dir.File("f.db"), {json, csv}, {}, nullptr, &error));

  std::ostringstream out;
  CHECK_FALSE(ExportDirectory(dir.File("missing.db"), "", ExportFormat::kJson, out, &error));
  CHECK(error.find("missing.db") != std::string::npos);
}

}  // namespace
}  // namespace frontline
