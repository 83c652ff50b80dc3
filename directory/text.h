// Small text utilities the directory needs: UTF-8 validation and repair, code point counts,
// trimming. (Folding for search: fold.h; the list order: collation.h.) Stateless; safe from any thread.
#ifndef FRONTLINE_DIRECTORY_TEXT_H_
#define FRONTLINE_DIRECTORY_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace frontline {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// `s` with every byte that does not start a well-formed UTF-8 sequence replaced by U+FFFD
// (the replacement character); valid input comes back unchanged.
std::string ToValidUtf8(std::string_view s);

// Number of code points in valid UTF-8 `s` (continuation bytes are not counted).
size_t Utf8Length(std::string_view s);

// `s` without leading and trailing ASCII whitespace.
std::string_view TrimWhitespace(std::string_view s);

// True when `s` starts with `prefix`, ASCII letters compared case-insensitively; `prefix` must
// be lowercase (e.g. "whatsapp:", "https://").
bool StartsWithNoCase(std::string_view s, std::string_view prefix);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_TEXT_H_
