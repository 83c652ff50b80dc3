#include "directory/search.h"

#include <doctest/doctest.h>

#include "directory/fold.h"
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

TEST_CASE("fold: full case folding and accents removed, as SPEC §2 asks") {
  const std::pair<std::string, std::string> cases[] = {
      {"Bobby SHAFTOE", "bobby shaftoe"},
      {"José", "jose"},
      {"Émile", "emile"},
      {"Zoë", "zoe"},
      {"Müller", "muller"},
      {"Straße", "strasse"},  // full folding: ß is ss
      {"ÅSA ÖBERG", "asa oberg"},
      {"Jörg", "jorg"},
      {"ŁÓDŹ", "łodz"},       // Ł is no L with an accent: it stays a letter of its own
      {"ΑΘΗΝΑ", "αθηνα"},
      {"ΣΊΣΥΦΟΣ", "σισυφοσ"},  // final sigma folds too, the accent goes
      {"МОСКВА Ёлка", "москва елка"},
      {"李小龍", "李小龍"},
      {"ﬁnance", "finance"},  // compatibility ligature
      {"１２３", "123"},        // full-width digits
      {"İstanbul", "istanbul"},
      {"", ""},
      {"\xff", "\xEF\xBF\xBD"},  // invalid UTF-8 counts as U+FFFD
  };
  for (const auto& [in, out] : cases) {
    CAPTURE(in);
    CHECK(FoldForSearch(in) == out);
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
       {"sean", "\"the", "the", "captain\"", "o'brien-smith", "brien-smith", "smith"}},
      {"李小龍", {}, {"李小龍"}},
      {"Joe",
       {{"sms", "+1 (555) 777-8888"}, {"whatsapp", "whatsapp:+15557778888"}},
       {"joe", "\x1f" "15557778888"}},
      {"Ann",
       {{"email", "Ann.Lee@Example.com"}},
       {"ann", "ann.lee@example.com", "lee@example.com", "example.com", "com"}},
      {"", {{"chat", "worker one"}}, {"worker", "one"}},
      {"Zoë Müller", {}, {"zoe", "muller"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(SearchTokens(c.name, c.channels) == c.expected);
  }
  CHECK(JoinSearchTokens({"a", "b"}) == " a b ");
  CHECK(JoinSearchTokens({}) == " ");
  CHECK(SplitSearchText(" a b ") == Strings{"a", "b"});
  CHECK(SplitSearchText(" ").empty());
}

TEST_CASE("search: index terms: word tokens, and every suffix of a phone's digits") {
  CHECK(IndexTerms({"joe", "\x1f" "15557"}) == Strings{"joe", "15557", "5557", "557", "57", "7"});
  CHECK(IndexTerms({"\x1f" "1212", "\x1f" "212"}) == Strings{"1212", "212", "12", "2"});
  CHECK(IndexTerms({}).empty());
}

TEST_CASE("search: query terms") {
  const std::pair<std::string, Strings> cases[] = {
      {"", {}},
      {"   ", {}},
      {"STEFA", {"stefa"}},
      {"bobby  Shaftoe", {"bobby", "shaftoe"}},
      {"bobby bobby", {"bobby"}},
      {"+1 (555) 777-8888", {"1", "555", "7778888"}},
      {"whatsapp:+15557778888", {"15557778888"}},
      {"555-777", {"555777"}},
      {"Joe 8888", {"joe", "8888"}},
      {"8888 joe 1555", {"8888", "joe", "1555"}},
      {"555 +44", {"555", "44"}},
      {"ZOË", {"zoe"}},
      {"José", {"jose"}},
      {"o'brien", {"o'brien"}},
      {"a\xc2\xa0" "b", {"a", "b"}},  // a no-break space folds to a space
      {"tab\there", {"tab", "here"}},
  };
  for (const auto& [query, expected] : cases) {
    CAPTURE(query);
    CHECK(ParseSearchQuery(query) == expected);
  }
  CHECK(ParseSearchQuery("a b c d e f g h i j k l m n o p q r s").size() == kMaxSearchTerms);
}

TEST_CASE("search: matching, with SPEC §2's and the README's examples") {
  struct Customer {
    const char* name;
    std::vector<Channel> channels;
  };
  const Customer uk{"Ana O'Brien", {{"sms", "+44 20 7946 0958"}, {"email", "ana@example.com"}}};
  const Customer us{"Bobby Shaftoe", {{"sms", "+15558675310"}}};
  const Customer accents{"José Émile Zoë Müller Straße", {}};
  const Customer agent{"Agent 007", {}};
  struct Case {
    const Customer* customer;
    const char* query;
    bool match;
  };
  const Case cases[] = {
      {&uk, "", true},
      {&uk, "ana", true},
      {&uk, "ANA", true},
      {&uk, "brien", true},     // after punctuation
      {&uk, "o'brien", true},
      {&uk, "obrien", false},
      {&uk, "nao", false},      // not the start of a word
      {&uk, "example", true},   // the email's words
      {&uk, "example.com", true},
      {&uk, "ana@example", true},
      {&uk, "xample", false},
      {&uk, "7946", true},      // digits anywhere in the phone number
      {&uk, "20 7946", true},   // joined: 207946
      {&uk, "020 7946 0958", true},  // joined 02079460958, trunk 0 dropped
      {&uk, "02079460958", true},
      {&uk, "+44 20 7946 0958", true},
      {&uk, "(020) 7946-0958", true},
      {&uk, "0958 7946", true},  // apart: each somewhere
      {&uk, "7946 1234", false},
      {&uk, "ana 0958", true},
      {&uk, "bob 0958", false},
      {&uk, "99999", false},
      {&us, "555 867", true},    // the README's example
      {&us, "5558675310", true},
      {&us, "867-5310", true},
      {&us, "+1 (555) 867-5310", true},
      {&us, "8675", true},
      {&us, "bob", true},
      {&us, "shaft bob", true},
      {&us, "bobby x", false},
      {&accents, "jose", true},
      {&accents, "JOSÉ", true},
      {&accents, "emile", true},
      {&accents, "zoe", true},
      {&accents, "muller", true},
      {&accents, "strasse", true},
      {&accents, "straße", true},
      {&agent, "007", true},    // a digit term also matches the start of a word
      {&agent, "07", false},    // in a name only at a word's start (digits anywhere: phones)
      {&agent, "7", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.customer->name);
    CAPTURE(c.query);
    const std::string text = JoinSearchTokens(SearchTokens(c.customer->name, c.customer->channels));
    CHECK(MatchesAllTerms(text, JoinTerms(ParseSearchQuery(c.query))) == c.match);
  }
  CHECK(PrefixUpperBound("abc") == "abc\xff");
  CHECK(IsDigits("0123"));
  CHECK_FALSE(IsDigits(""));
  CHECK_FALSE(IsDigits("12a"));
}

TEST_CASE("search: the driving range holds every match") {
  struct Case {
    Strings terms;
    std::string lo, lo2;
  };
  const Case cases[] = {
      {{}, "", ""},
      {{"ana"}, "ana", ""},
      {{"an", "brien"}, "brien", ""},
      {{"ana", "02079460958"}, "02079460958", "2079460958"},
      {{"0"}, "0", ""},
      {{"0", "b", "2"}, "b", ""},  // the fuzz finding: "02" joined drops the "0" whole
      {{"0", "2"}, "2", ""},
      {{"05", "2"}, "05", "5"},
  };
  for (const Case& c : cases) {
    CAPTURE(JoinTerms(c.terms));
    IndexRange range = DrivingRange(c.terms);
    CHECK(range.lo == c.lo);
    CHECK(range.lo2 == c.lo2);
    CHECK(range.hi == (c.lo.empty() ? "" : PrefixUpperBound(c.lo)));
    CHECK(range.hi2 == (c.lo2.empty() ? "" : PrefixUpperBound(c.lo2)));
  }
}

}  // namespace
}  // namespace frontline
