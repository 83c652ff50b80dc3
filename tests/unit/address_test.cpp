#include "directory/address.h"

#include <doctest/doctest.h>

namespace frontline {
namespace {

TEST_CASE("address: normalisation") {
  struct Case {
    const char* input;
    const char* expected;
    bool phone;
  };
  const Case cases[] = {
      {"whatsapp:+1 (555) 777-8888", "15557778888", true},
      {"+15557778888", "15557778888", true},
      {"15557778888", "15557778888", true},
      {"WhatsApp:+15557778888", "15557778888", true},
      {"WHATSAPP: +1 555 777 8888", "15557778888", true},
      {"  +1.555.777.8888  ", "15557778888", true},
      {"+44 (0)20 7946 0958", "4402079460958", true},
      {"(555) 777-8888", "5557778888", true},
      {"alice@example.com", "alice@example.com", false},
      {" Alice@Example.COM ", "alice@example.com", false},
      {"Bob", "bob", false},
      {"whatsapp:bob", "whatsapp:bob", false},
      {"+1 555 + 2", "+1 555 + 2", false},  // a second '+': not a phone number
      {"555+1", "555+1", false},            // '+' after digits
      {"+", "+", false},                    // no digit
      {"-", "-", false},
      {"", "", false},
      {"   ", "", false},
      {"1-800-FLOWERS", "1-800-flowers", false},
      {"Ünïcode", "Ünïcode", false},  // only ASCII is lowercased here
  };
  for (const Case& c : cases) {
    CAPTURE(c.input);
    CHECK(NormaliseAddress(c.input) == c.expected);
    CHECK(IsPhoneLike(c.input) == c.phone);
  }
}

TEST_CASE("address: the three spellings of one number meet") {
  CHECK(NormaliseAddress("whatsapp:+1 (555) 777-8888") == NormaliseAddress("+15557778888"));
  CHECK(NormaliseAddress("+15557778888") == NormaliseAddress("15557778888"));
}

}  // namespace
}  // namespace frontline
