// Shared scaffolding for the Frontline callback handler tests: a Services over a FakeDirectory,
// a Request built from form pairs, and JSON parsing of a response. Test-only; not thread-safe.
#ifndef FRONTLINE_TESTS_UNIT_HANDLER_TEST_SUPPORT_H_
#define FRONTLINE_TESTS_UNIT_HANDLER_TEST_SUPPORT_H_

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "handlers/http.h"
#include "handlers/services.h"
#include "tests/unit/fake_directory.h"

namespace frontline {

struct HandlerFixture {
  HandlerConfig config;
  Clock clock;
  FakeDirectory directory;
  Services services{config, &directory, nullptr, nullptr, clock};
};

using FormPairs = std::initializer_list<std::pair<const char*, const char*>>;

// A POST whose form holds `pairs`, as Dispatch leaves it before calling a handler.
inline Request FormRequest(const char* path, FormPairs pairs) {
  Request request;
  request.method = "POST";
  request.path = path;
  request.request_uri = path;
  request.content_type = "application/x-www-form-urlencoded";
  for (const auto& [key, value] : pairs) request.form.Add(key, value);
  return request;
}

// `response.body` parsed; fails the test when it is not valid JSON.
inline rapidjson::Document ParseBody(const Response& response) {
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  INFO("body: ", response.body);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

// The "error" member of a JSON error body, or a marker when the body is not one.
inline std::string ErrorMessage(const Response& response) {
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  if (doc.HasParseError() || !doc.IsObject() || doc.MemberCount() != 1 || !doc.HasMember("error") ||
      !doc["error"].IsString()) {
    return "<not a JSON error: " + response.body + ">";
  }
  return doc["error"].GetString();
}

inline std::string Str(const rapidjson::Value& v) {
  REQUIRE(v.IsString());
  return std::string(v.GetString(), v.GetStringLength());
}

}  // namespace frontline

#endif  // FRONTLINE_TESTS_UNIT_HANDLER_TEST_SUPPORT_H_
