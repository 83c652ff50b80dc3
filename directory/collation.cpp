#include "directory/collation.h"

#include <unicode/coll.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdint>

#include "directory/text.h"

namespace frontline {

Collation::~Collation() = default;

std::unique_ptr<Collation> Collation::Create(std::string_view locale, std::string* error) {
  std::string tag(locale);
  std::replace(tag.begin(), tag.end(), '_', '-');  // "fr_CA" as people also write it
  const bool root = tag.empty() || tag == "root" || tag == "und";
  UErrorCode status = U_ZERO_ERROR;
  icu::Locale icu_locale = root ? icu::Locale::getRoot() : icu::Locale::forLanguageTag(tag, status);
  if (U_FAILURE(status) || icu_locale.isBogus()) {
    if (error != nullptr) *error = "collation \"" + std::string(locale) + "\" is not a locale tag";
    return nullptr;
  }
  std::unique_ptr<icu::Collator> collator(icu::Collator::createInstance(icu_locale, status));
  if (U_FAILURE(status) || collator == nullptr) {
    if (error != nullptr) {
      *error = "collation \"" + std::string(locale) + "\": " + u_errorName(status);
    }
    return nullptr;
  }
  UErrorCode valid_status = U_ZERO_ERROR;
  std::string valid = collator->getLocale(ULOC_VALID_LOCALE, valid_status).getName();
  if (!root && valid.empty()) {
    // ICU fell back to the root collation: it has no data for this language.
    if (error != nullptr) *error = "collation \"" + std::string(locale) + "\": unknown locale";
    return nullptr;
  }
  std::unique_ptr<Collation> collation(new Collation());
  collation->collator_ = std::move(collator);
  collation->name_ = valid.empty() ? "root" : valid;
  UVersionInfo v;
  collation->collator_->getVersion(v);
  collation->version_ = collation->name_ + " " + std::to_string(v[0]) + "." +
                        std::to_string(v[1]) + "." + std::to_string(v[2]) + "." +
                        std::to_string(v[3]);
  return collation;
}

std::string Collation::SortKey(std::string_view text) const {
  const std::string valid = IsValidUtf8(text) ? std::string(text) : ToValidUtf8(text);
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(valid);
  uint8_t buffer[256];
  int32_t size = collator_->getSortKey(u, buffer, static_cast<int32_t>(sizeof buffer));
  std::string key;
  if (size <= static_cast<int32_t>(sizeof buffer)) {
    key.assign(reinterpret_cast<const char*>(buffer), static_cast<size_t>(size));
  } else {
    key.resize(static_cast<size_t>(size));
    collator_->getSortKey(u, reinterpret_cast<uint8_t*>(key.data()), size);
  }
  if (!key.empty() && key.back() == '\0') key.pop_back();  // ICU counts its terminating NUL
  return key;
}

}  // namespace frontline
