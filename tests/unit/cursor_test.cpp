#include "directory/cursor.h"

#include <doctest/doctest.h>

#include <string>

namespace frontline {
namespace {

TEST_CASE("cursor: base64url vectors (RFC 4648, no padding)") {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      {std::string("\xfb\xff\xbf", 3), "-_-_"},
  };
  for (const auto& [bytes, text] : cases) {
    CAPTURE(text);
    CHECK(Base64UrlEncode(bytes) == text);
    auto decoded = Base64UrlDecode(text);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
  }
  for (const char* bad : {"Z", "Zg=", "Zg==", "Zh", "Zm9", "Zm+v", "Zm/v", "Zm9v Yg", "é"}) {
    CAPTURE(bad);
    CHECK_FALSE(Base64UrlDecode(bad).has_value());
  }
}

TEST_CASE("cursor: round trips") {
  const CursorPosition cases[] = {
      {"", ""},
      {"", "42"},
      {"alice", ""},
      {"bobby shaftoe", "98"},
      {"zoë ångström", "C-ü-1"},
      {"李小龍", "客戶/6"},
      {"seán \"the captain\" o'brien", "id with \"quotes\", commas and\nnewlines"},
      {std::string("nul\0inside", 10), std::string("\0", 1)},
      {std::string(1000, 'x'), std::string(300, 'y')},
      {"\xf0\x9f\x90\x89 dragon", "+15557778888"},
  };
  for (const CursorPosition& position : cases) {
    CAPTURE(position.sort_key);
    std::string token = EncodeCursor(position);
    CHECK(token.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    auto decoded = DecodeCursor(token);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == position);
  }
}

TEST_CASE("cursor: tokens we did not issue are rejected") {
  const std::string good = EncodeCursor({"bobby shaftoe", "98"});
  std::string flipped = good;
  flipped[good.size() / 2] = flipped[good.size() / 2] == 'A' ? 'B' : 'A';
  const std::string cases[] = {
      "",
      "c1",
      "c2" + good.substr(2),  // unknown version
      "C1" + good.substr(2),
      good.substr(2),                   // no version prefix
      good.substr(0, good.size() - 1),  // truncated
      good.substr(0, good.size() - 4),
      good + "A",        // extended
      good + "=",        // padding
      flipped,           // checksum mismatch
      "c1AAAAAAAAAAAA",  // decodes, wrong checksum
      "c1!!!!",          // not base64url
      "c1" + Base64UrlEncode(std::string("\xff\xff\xff\xff"
                                         "abcd",
                                         8)),  // length overflow
      "98",                                    // a customer_id (that is what Anchor is for)
  };
  for (const std::string& token : cases) {
    CAPTURE(token);
    CHECK_FALSE(DecodeCursor(token).has_value());
  }
}

}  // namespace
}  // namespace frontline
