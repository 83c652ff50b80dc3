// Customer search (SPEC §2 `Query`): how a customer is cut into search tokens, how a query is
// cut into terms, when a customer matches, and which index range can drive a search.
// Stateless; safe from any thread.
//
// Both sides are folded with FoldForSearch (fold.h: full case folding, accents removed). A
// query is split on whitespace into terms; a customer matches when EVERY term matches:
// - a word term matches the start of a word of the display name or of a chat or email
//   channel. Words split at whitespace, and a word also starts after punctuation inside it, so
//   "O'Brien-Smith" has the tokens o'brien-smith, brien-smith and smith, and
//   "ana@example.com" has ana@example.com, example.com and com: "brien", "smith",
//   "example.com" and "example" all match.
// - a digit term (a term of digits with optional '+', spaces, dashes, dots and parentheses,
//   e.g. "+44", "(555)", "867-5310") matches ANYWHERE in the digits of a phone channel, or the
//   start of a word (an id in a name). A leading 0 may be dropped (a trunk prefix: "020 7946"
//   finds +44 20 7946 0958). All the query's digit terms together match when their
//   concatenation matches, or when each of them matches: "555 867" finds +15558675310.
//
// Index: the `search_terms` table holds IndexTerms of every customer: the word tokens, and
// every suffix of each phone number's digits (so "anywhere in the digits" is a prefix of one
// of them). DrivingRange picks the term whose index range is likely the smallest (the longest
// term); the directory reads the customers in that range and checks the whole query on each
// (MatchesAllTerms over customers.search_text).
#ifndef FRONTLINE_DIRECTORY_SEARCH_H_
#define FRONTLINE_DIRECTORY_SEARCH_H_

#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"

namespace frontline {

// At most this many distinct terms of a query are used; further terms are ignored.
inline constexpr size_t kMaxSearchTerms = 16;

// Marks a phone number's digits among a customer's tokens (a control character, never part
// of a folded query term): "\x1f15558675310".
inline constexpr char kPhoneTokenMarker = '\x1f';

// The distinct search tokens of a customer, in first-seen order: word tokens as described
// above, phone numbers as kPhoneTokenMarker + digits.
std::vector<std::string> SearchTokens(std::string_view display_name,
                                      const std::vector<Channel>& channels);

// Tokens stored as one string " tok1 tok2 … " (leading and trailing space), as kept in
// customers.search_text; SplitSearchText is its inverse.
std::string JoinSearchTokens(const std::vector<std::string>& tokens);
std::vector<std::string> SplitSearchText(std::string_view search_text);

// The rows of the search index for these tokens: each word token, and every non-empty suffix
// of each phone token's digits; distinct.
std::vector<std::string> IndexTerms(const std::vector<std::string>& tokens);

// The distinct, normalised terms of a query (empty for a blank query), in query order: digit
// terms as their digits, word terms folded; at most kMaxSearchTerms.
std::vector<std::string> ParseSearchQuery(std::string_view query);

// Terms joined with single spaces, the form MatchesAllTerms takes.
std::string JoinTerms(const std::vector<std::string>& terms);

// True when the customer whose search text (the JoinSearchTokens form) is `search_text`
// matches every space-separated term of `terms` (the semantics above). An empty `terms`
// matches everything.
bool MatchesAllTerms(std::string_view search_text, std::string_view terms);

// True when `s` is non-empty and all ASCII digits (a digit term).
bool IsDigits(std::string_view s);

// The ranges [lo, hi) and [lo2, hi2) of index terms such that every customer matching `terms`
// has an index term in one of them: the longest term's prefix range, and for a digit term with
// a leading 0 (maybe a trunk prefix) also the range of its digits after that 0. (A first digit
// term "0" among several, which the joined digits may drop whole, never drives.) Unused ranges
// are empty ("", ""); both are empty for no terms.
struct IndexRange {
  std::string lo, hi;
  std::string lo2, hi2;
};
IndexRange DrivingRange(const std::vector<std::string>& terms);

// The smallest string greater than every string starting with `prefix` (valid UTF-8 tokens
// never contain the byte 0xFF).
std::string PrefixUpperBound(std::string_view prefix);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SEARCH_H_
