// Small text utilities the directory needs: UTF-8 validation and the simple Unicode case fold
// used for the list order (sort keys) and for search. Stateless; safe from any thread.
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

// Lowercases `s` for comparisons: ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals
// map to their small letters (simple one-to-one folds, no length changes such as ß → ss); every
// other byte is copied unchanged, so invalid UTF-8 passes through and the result is stable.
std::string FoldCase(std::string_view s);

// Number of code points in valid UTF-8 `s` (continuation bytes are not counted).
size_t Utf8Length(std::string_view s);

// `s` without leading and trailing ASCII whitespace.
std::string_view TrimWhitespace(std::string_view s);

// True when `s` starts with `prefix`, ASCII letters compared case-insensitively; `prefix` must
// be lowercase (e.g. "whatsapp:", "https://").
bool StartsWithNoCase(std::string_view s, std::string_view prefix);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_TEXT_H_
