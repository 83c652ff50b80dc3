#include "handlers/form.h"

#include <doctest/doctest.h>

namespace frontline {
namespace {

using Pairs = std::vector<FormParams::Pair>;

TEST_CASE("form: decoding") {
  struct Case {
    const char* body;
    Pairs expected;
  };
  const Case cases[] = {
      {"", {}},
      {"a=1", {{"a", "1"}}},
      {"a=1&b=2", {{"a", "1"}, {"b", "2"}}},
      {"a=1&a=2&a=1", {{"a", "1"}, {"a", "2"}, {"a", "1"}}},
      {"a+b=c+d", {{"a b", "c d"}}},
      {"x=%2B1%20555&y=%e2%82%AC", {{"x", "+1 555"}, {"y", "\xe2\x82\xac"}}},
      {"flag", {{"flag", ""}}},
      {"flag=", {{"flag", ""}}},
      {"=v", {{"", "v"}}},
      {"a=1&&b=2&", {{"a", "1"}, {"b", "2"}}},
      {"a=b=c", {{"a", "b=c"}}},
      {"MessagingBinding.Address=whatsapp%3A%2B15551234567",
       {{"MessagingBinding.Address", "whatsapp:+15551234567"}}},
      {"z=%00", {{"z", std::string("\0", 1)}}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    FormParams params;
    std::string error;
    REQUIRE(DecodeForm(c.body, &params, &error));
    CHECK(params.pairs() == c.expected);
  }
}

TEST_CASE("form: malformed escapes are rejected") {
  for (const char* body : {"a=%", "a=%4", "a=%zz", "a=%4g", "%=1", "a=1&b=%G0", "a=100%"}) {
    CAPTURE(body);
    FormParams params;
    std::string error;
    CHECK_FALSE(DecodeForm(body, &params, &error));
    CHECK(error.find("percent") != std::string::npos);
  }
}

TEST_CASE("form: parameter count limit") {
  std::string body;
  for (int i = 0; i < 11; ++i) body += "k" + std::to_string(i) + "=v&";
  FormParams params;
  std::string error;
  CHECK_FALSE(DecodeForm(body, &params, &error, 10));
  CHECK(error.find("10") != std::string::npos);
  FormParams ok;
  CHECK(DecodeForm(body, &ok, &error, 11));
  CHECK(ok.size() == 11);
}

TEST_CASE("form: Find and Get") {
  FormParams params;
  params.Add("a", "1");
  params.Add("a", "2");
  params.Add("empty", "");
  REQUIRE(params.Find("a") != nullptr);
  CHECK(*params.Find("a") == "1");
  CHECK(params.Get("a") == "1");
  CHECK(params.Find("missing") == nullptr);
  CHECK(params.Get("missing").empty());
  CHECK(params.Find("empty") != nullptr);
}

TEST_CASE("form: content type check") {
  struct Case {
    const char* type;
    bool form;
  };
  const Case cases[] = {
      {"application/x-www-form-urlencoded", true},
      {"application/x-www-form-urlencoded; charset=UTF-8", true},
      {"Application/X-WWW-Form-URLEncoded;charset=utf-8", true},
      {" application/x-www-form-urlencoded ", true},
      {"application/json", false},
      {"multipart/form-data; boundary=x", false},
      {"application/x-www-form-urlencodedx", false},
      {"text/plain", false},
      {"", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.type);
    CHECK(IsFormContentType(c.type) == c.form);
  }
}

}  // namespace
}  // namespace frontline
