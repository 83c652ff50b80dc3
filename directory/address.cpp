#include "directory/address.h"

#include <algorithm>

#include "directory/text.h"

namespace frontline {
namespace {

constexpr std::string_view kWhatsAppPrefix = "whatsapp:";

bool IsSeparator(char c) { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; }

// The digits of a phone-like value, or false when `s` is not one.
bool PhoneDigits(std::string_view s, std::string* digits) {
  digits->clear();
  bool seen_plus = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digits->push_back(c);
    } else if (c == '+') {
      // One '+', before any digit.
      if (seen_plus || !digits->empty()) return false;
      seen_plus = true;
    } else if (!IsSeparator(c)) {
      return false;
    }
  }
  return !digits->empty();
}

std::string_view StripWhatsApp(std::string_view s) {
  if (StartsWithNoCase(s, kWhatsAppPrefix)) s.remove_prefix(kWhatsAppPrefix.size());
  return s;
}

}  // namespace

std::string NormaliseAddress(std::string_view address) {
  std::string_view trimmed = TrimWhitespace(address);
  std::string digits;
  if (PhoneDigits(TrimWhitespace(StripWhatsApp(trimmed)), &digits)) return digits;
  std::string out(trimmed);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 0x20);
  }
  return out;
}

bool IsPhoneLike(std::string_view address) {
  std::string digits;
  return PhoneDigits(TrimWhitespace(StripWhatsApp(TrimWhitespace(address))), &digits);
}

void DistinctAddresses(const std::vector<Channel>& channels, std::vector<std::string>* out) {
  out->clear();
  for (const Channel& ch : channels) {
    std::string normalised = NormaliseAddress(ch.value);
    if (std::find(out->begin(), out->end(), normalised) == out->end()) {
      out->push_back(std::move(normalised));
    }
  }
}

}  // namespace frontline
