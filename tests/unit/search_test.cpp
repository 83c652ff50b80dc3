#include "directory/search.h"

#include <doctest/doctest.h>

#include "directory/text.h"

namespace frontline {
namespace {

using Strings = std::vector<std::string>;

TEST_CASE("text: UTF-8 validation") {
  struct Case {
    std::string text;
    bool valid;
  };
  const Case cases[] = {
      {"", true},
      {"plain ascii", true},
      {"zoë ångström", true},
      {"李小龍 🐉", true},
      {std::string("\0", 1), true},
      {"\xc3", false},              // truncated 2-byte sequence
      {"\xc3\x28", false},          // bad continuation
      {"\xc0\xaf", false},          // overlong '/'
      {"\xe0\x80\xaf", false},      // overlong 3-byte
      {"\xed\xa0\x80", false},      // surrogate
      {"\xf4\x90\x80\x80", false},  // above U+10FFFF
      {"\xff", false},
      {"abc\x80", false},       // stray continuation byte
      {"\xf0\x9f\x90", false},  // truncated 4-byte
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CHECK(IsValidUtf8(c.text) == c.valid);
  }
}

TEST_CASE("text: ToValidUtf8 replaces each byte that starts no UTF-8 sequence") {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"zoë 李 🐉", "zoë 李 🐉"},
      {std::string("a\0b", 3), std::string("a\0b", 3)},
      {"alice\xA0\x01", "alice\xEF\xBF\xBD\x01"},  // the fuzz finding: Worker=alice%A0%01
      {"\xc3\x28", "\xEF\xBF\xBD("},               // bad continuation: only the lead
      {"\xe2\x82", "\xEF\xBF\xBD\xEF\xBF\xBD"},    // truncated: one per byte
      {"\xed\xa0\x80x", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx"},  // surrogate
      {"\xff\xc3\xa9", "\xEF\xBF\xBD\xc3\xa9"},
  };
  for (const auto& [in, out] : cases) {
    CAPTURE(in);
    CHECK(ToValidUtf8(in) == out);
    CHECK(IsValidUtf8(ToValidUtf8(in)));
  }
}

TEST_CASE("text: case folding") {
  const std::pair<std::string, std::string> cases[] = {
      {"Bobby SHAFTOE", "bobby shaftoe"},
      {"ZOË ÅNGSTRÖM", "zoë ångström"},
      {"ŁÓDŹ", "łódź"},
      {"ΑΘΗΝΑ", "αθηνα"},
      {"МОСКВА Ёлка", "москва ёлка"},
      {"李小龍", "李小龍"},
      {"×÷", "×÷"},
      {"İ", "i"},
      {"\xff\xfe", "\xff\xfe"},  // invalid bytes pass through
  };
  for (const auto& [in, out] : cases) {
    CAPTURE(in);
    CHECK(FoldCase(in) == out);
  }
  CHECK(Utf8Length("zoë") == 3);
  CHECK(Utf8Length("李小龍") == 3);
}

TEST_CASE("search: customer tokens") {
  struct Case {
    std::string name;
    std::vector<Channel> channels;
    Strings expected;
  };
  const Case cases[] = {
      {"Bobby Shaftoe", {}, {"bobby", "shaftoe"}},
      {"  Bobby   bobby ", {}, {"bobby"}},
      {"Seán \"The Captain\" O'Brien-Smith",
       {},
       {"seán", "\"the", "the", "captain\"", "captain", "o'brien-smith", "o", "brien", "smith"}},
      {"李小龍", {}, {"李小龍"}},
      {"Joe",
       {{"sms", "+1 (555) 777-8888"}, {"whatsapp", "whatsapp:+15557778888"}},
       {"joe", "15557778888",
        "\x1f"
        "88887775551"}},
      {"Ann",
       {{"email", "Ann.Lee@Example.com"}},
       {"ann", "ann.lee@example.com", "lee", "example", "com"}},
      {"", {{"chat", "worker one"}}, {"worker", "one"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(SearchTokens(c.name, c.channels) == c.expected);
  }
  CHECK(JoinSearchTokens({"a", "b"}) == " a b ");
  CHECK(JoinSearchTokens({}) == " ");
}

TEST_CASE("search: query terms") {
  const std::pair<std::string, Strings> cases[] = {
      {"", {}},
      {"   ", {}},
      {"STEFA", {"stefa"}},
      {"bobby  Shaftoe", {"bobby", "shaftoe"}},
      {"bobby bobby", {"bobby"}},
      {"+1 (555) 777-8888", {"15557778888"}},
      {"whatsapp:+15557778888", {"15557778888"}},
      {"555-777", {"555777"}},
      {"Joe 8888", {"joe", "8888"}},
      {"8888 joe 1555", {"8888", "joe", "1555"}},
      {"555 +44", {"555", "44"}},
      {"ZOË", {"zoë"}},
      {"o'brien", {"o'brien"}},
  };
  for (const auto& [query, expected] : cases) {
    CAPTURE(query);
    CHECK(ParseSearchQuery(query) == expected);
  }
  CHECK(ParseSearchQuery("a b c d e f g h i j k l m n o p q r s").size() == kMaxSearchTerms);
}

TEST_CASE("search: matching") {
  const std::string text =
      JoinSearchTokens(SearchTokens("Bobby O'Shaftoe", {{"sms", "+1 555 777 8888"}}));
  struct Case {
    const char* query;
    bool match;
  };
  const Case cases[] = {
      {"", true},
      {"bob", true},
      {"BOBBY", true},
      {"shaft", true},
      {"o'shaftoe", true},
      {"bobby shaft", true},
      {"bobby x", false},
      {"obby", false},  // not a prefix of a word
      {"+1 555", true},
      {"1555777", true},
      {"15557778888", true},
      {"+1 (555) 777-8888", true},
      {"5557778888", true},  // ends with
      {"7778888", true},
      {"8888", true},
      {"5777", false},  // middle of the number
      {"bob 8888", true},
      {"bob 9999", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.query);
    CHECK(MatchesAllTerms(text, JoinTerms(ParseSearchQuery(c.query))) == c.match);
  }
  CHECK(PrefixUpperBound("abc") == "abc\xff");
  CHECK(IsDigits("0123"));
  CHECK_FALSE(IsDigits(""));
  CHECK_FALSE(IsDigits("12a"));
}

}  // namespace
}  // namespace frontline
