// Customer search (SPEC §2 `Query`): how a customer is cut into search tokens and how a query
// is cut into terms. Stateless; safe from any thread.
//
// Semantics: a query is split on whitespace into terms; a customer matches when EVERY term
// matches, case-insensitively (FoldCase):
// - a word term matches when it is a prefix of one of the customer's words: the words of the
//   display name, plus, for a word holding ASCII punctuation, its alphanumeric parts
//   ("O'Brien-Smith" → o'brien-smith, o, brien, smith), and the lowercased value and parts of
//   non-phone channels (chat identity, email);
// - a number term matches a phone channel whose digits START or END with it. Adjacent
//   phone-like pieces of the query are joined first and '+', spaces, dashes, dots and
//   parentheses are ignored, so "+1 (555) 777-8888", "15557778888", "+1 555", "7778888" and
//   "8888" all find +1 555 777 8888, while "5777" (from the middle) does not.
//
// Index use: the words, each phone number's digits and its reversed digits (for "ends with")
// are rows of the `search_terms` table keyed by (worker key, token, customer). The longest term
// (3+ characters) drives an index range scan limited to the worker's customers (for a number:
// two ranges, start and end); the other terms are checked on the rows found (customers.
// search_text); the page is then cut in the list order with the same cursors. Cost grows with
// the number of the worker's customers matching the driving term, not with the directory.
// A query whose terms are all 1-2 characters long filters the ordered list walk instead; it
// stops as soon as a page is full, which is quick because such short prefixes match many
// customers, but a rare 2-letter prefix on a huge list may walk far.
#ifndef FRONTLINE_DIRECTORY_SEARCH_H_
#define FRONTLINE_DIRECTORY_SEARCH_H_

#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"

namespace frontline {

// At most this many distinct terms of a query are used; further terms are ignored.
inline constexpr size_t kMaxSearchTerms = 16;
// Terms at least this many code points long can drive the index.
inline constexpr size_t kMinIndexedTermLength = 3;

// The distinct search tokens of a customer, in first-seen order.
std::vector<std::string> SearchTokens(std::string_view display_name,
                                      const std::vector<Channel>& channels);

// Tokens stored as one string " tok1 tok2 … " (leading and trailing space), as kept in
// customers.search_text for checking the non-driving terms.
std::string JoinSearchTokens(const std::vector<std::string>& tokens);

// The distinct, normalised terms of a query (empty for a blank query), in query order: number
// terms as digits, word terms case-folded; at most kMaxSearchTerms.
std::vector<std::string> ParseSearchQuery(std::string_view query);

// Terms joined with single spaces, the form MatchesAllTerms takes.
std::string JoinTerms(const std::vector<std::string>& terms);

// True when every space-separated term of `terms` is a prefix of a token in `search_text`
// (the JoinSearchTokens form). An empty `terms` matches everything.
bool MatchesAllTerms(std::string_view search_text, std::string_view terms);

// True when `s` is non-empty and all ASCII digits (a number term).
bool IsDigits(std::string_view s);

// The token that lets "ends with" be a prefix search: a marker byte (0x1F, never typed in a
// query) followed by the digits reversed: "15557778888" → "\x1f88887775551".
inline constexpr char kReversedDigitsMarker = '\x1f';
std::string ReversedDigitsToken(std::string_view digits);

// The smallest string greater than every string starting with `prefix` (valid UTF-8 tokens
// never contain the byte 0xFF).
std::string PrefixUpperBound(std::string_view prefix);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SEARCH_H_
