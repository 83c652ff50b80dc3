// The list order of customers (SPEC §2): display names compared by the Unicode Collation
// Algorithm with ICU's data for one locale (root by default; option `crm.collation`), case and
// accents mattering only after the letters themselves ("Åsa", "Émile", "Eve", "Jörg", "José",
// "Zack", "Zoë"). A Collation turns a name into a binary sort key; the directory stores the
// keys, compares them bytewise (an index serves the order) and rebuilds them when the
// collation or ICU's version of it changes (`version()`).
//
// Thread-safety: a Collation is immutable after Create; SortKey may be called from any number
// of threads at once (ICU's collators are thread-safe for their const methods).
#ifndef FRONTLINE_DIRECTORY_COLLATION_H_
#define FRONTLINE_DIRECTORY_COLLATION_H_

#include <memory>
#include <string>
#include <string_view>

#include <unicode/uversion.h>  // U_NAMESPACE_BEGIN: ICU's versioned namespace, for the declaration

U_NAMESPACE_BEGIN
class Collator;
U_NAMESPACE_END

namespace frontline {

class Collation {
 public:
  // The collation for BCP 47 tag `locale` ("root" or "" for the root collation; "sv", "de",
  // "de-u-co-phonebk", "fr_CA"). nullptr with `error` set for a tag that is not well-formed
  // or names a locale ICU has no data for.
  static std::unique_ptr<Collation> Create(std::string_view locale, std::string* error);
  ~Collation();
  Collation(const Collation&) = delete;
  Collation& operator=(const Collation&) = delete;

  // The locale as ICU resolved it ("root", "sv", "de@collation=phonebook").
  const std::string& name() const { return name_; }
  // name() plus ICU's version of this collation's rules and data: keys built under another
  // version may order differently, so stored keys are rebuilt when it changes.
  const std::string& version() const { return version_; }

  // The binary sort key of `text` (no terminating NUL; never contains a NUL byte): comparing
  // keys bytewise orders texts as the collation does. Invalid UTF-8 sequences count as U+FFFD.
  std::string SortKey(std::string_view text) const;

 private:
  Collation() = default;
  std::unique_ptr<icu::Collator> collator_;
  std::string name_;
  std::string version_;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_COLLATION_H_
