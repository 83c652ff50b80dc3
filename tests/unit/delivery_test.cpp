// twilio/delivery.h's pure parts: merging the job's attributes into a participant's. (DeliverJob
// against a fake REST client is exercised end to end in outbox_test.cpp.)
#include "twilio/delivery.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>

namespace frontline {
namespace {

TEST_CASE("delivery: MergeAttributes keeps existing keys") {
  std::string merged;
  std::string error;
  bool changed = false;
  REQUIRE(MergeAttributes(R"({"customer_id":"old","x":[1,2]})",
                          R"({"customer_id":"new","display_name":"Ann"})", &merged, &changed,
                          &error));
  CHECK(changed);
  rapidjson::Document doc;
  doc.Parse(merged.c_str());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["customer_id"].GetString()) == "old");
  CHECK(std::string(doc["display_name"].GetString()) == "Ann");
  CHECK(doc["x"].IsArray());

  REQUIRE(MergeAttributes(R"({"a":1})", R"({"a":2})", &merged, &changed, &error));
  CHECK_FALSE(changed);
  // No attributes at all are an empty object.
  REQUIRE(MergeAttributes("", R"({"a":2})", &merged, &changed, &error));
  CHECK(changed);
  CHECK(merged == R"({"a":2})");
  CHECK_FALSE(MergeAttributes("{}", "[1]", &merged, &changed, &error));
  CHECK(error == "job attributes are not a JSON object");
  CHECK_FALSE(MergeAttributes("{}", "", &merged, &changed, &error));
}

TEST_CASE("delivery: MergeAttributes refuses attributes that are not a JSON object") {
  for (const char* existing : {"not json", R"({"a":)", "[1,2]", R"("a string")", "42", "null"}) {
    CAPTURE(existing);
    std::string merged = "untouched";
    std::string error;
    bool changed = false;
    CHECK_FALSE(MergeAttributes(existing, R"({"customer_id":"c1"})", &merged, &changed, &error));
    CHECK(merged == "untouched");
    CHECK(error.find("participant attributes are not") == 0);
    CHECK(error.find("left unchanged") != std::string::npos);
  }
}

TEST_CASE("delivery: MergeAttributes keeps the existing text and survives any nesting") {
  std::string merged;
  std::string error;
  bool changed = false;
  // Existing members stay as Twilio has them (number formats, spacing), new ones are appended.
  REQUIRE(MergeAttributes("{\"a\": 1.10, \"b\":[ ]} \n", R"({"customer_id":"1","a":2})", &merged,
                          &changed, &error));
  CHECK(changed);
  CHECK(merged == R"({"a": 1.10, "b":[ ],"customer_id":"1"})");
  REQUIRE(MergeAttributes("{ }", R"({"customer_id":"1"})", &merged, &changed, &error));
  CHECK(merged == R"({ "customer_id":"1"})");
  REQUIRE(MergeAttributes(std::string("{}\0junk", 7), R"({"x":1})", &merged, &changed, &error));
  CHECK(merged == R"({"x":1})");

  // Found by hand after the fuzz runs (rest_response_fuzz inputs stay below 4 KiB): attributes
  // nested a million levels deep overflowed the stack, in RapidJSON's recursive parser and
  // then in its recursive writer.
  const size_t depth = 1 << 20;
  const std::string deep = "{\"x\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  REQUIRE(MergeAttributes(deep, R"({"customer_id":"1"})", &merged, &changed, &error));
  CHECK(changed);
  CHECK(merged == deep.substr(0, deep.size() - 1) + R"(,"customer_id":"1"})");
  // Deep garbage is refused like any other attributes that are not an object, without a crash.
  const std::string unclosed(depth, '[');
  CHECK_FALSE(MergeAttributes(unclosed, R"({"customer_id":"1"})", &merged, &changed, &error));
}

}  // namespace
}  // namespace frontline
