#include "directory/fold.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>

#include "directory/text.h"

namespace frontline {

std::string FoldForSearch(std::string_view text) {
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    std::string out(text);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    }
    return out;
  }
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  const icu::Normalizer2* casefold = icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status)) return ToValidUtf8(text);  // ICU's data is missing: compare as is
  const std::string valid = IsValidUtf8(text) ? std::string(text) : ToValidUtf8(text);
  icu::UnicodeString decomposed = nfd->normalize(icu::UnicodeString::fromUTF8(valid), status);
  icu::UnicodeString bare;
  for (int32_t i = 0; i < decomposed.length();) {
    UChar32 c = decomposed.char32At(i);
    if (u_charType(c) != U_NON_SPACING_MARK) bare.append(c);
    i += U16_LENGTH(c);
  }
  icu::UnicodeString folded = casefold->normalize(bare, status);
  if (U_FAILURE(status)) return valid;
  std::string out;
  folded.toUTF8String(out);
  return out;
}

}  // namespace frontline
