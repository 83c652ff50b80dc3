// The one text fold for search (SPEC §2 `Query`): Unicode full case folding and accent removal,
// from ICU, applied the same way to customers' names and channels when they are indexed and to
// the terms of a query, so "jose" finds "José", "muller" finds "Müller" and "strasse" finds
// "Straße". Stateless; safe from any thread (ICU's normalizer instances are immutable).
//
// The fold: canonical decomposition (NFD), every non-spacing mark removed (the accents), then
// NFKC_Casefold (full case folding, compatibility forms such as "ﬁ" and full-width digits
// mapped to their plain forms, default-ignorable characters dropped). Letters that are not a
// base letter plus an accent stay themselves ("ø", "ł", "đ"). Pure ASCII takes a fast path
// (lowercase) with the same result.
#ifndef FRONTLINE_DIRECTORY_FOLD_H_
#define FRONTLINE_DIRECTORY_FOLD_H_

#include <string>
#include <string_view>

namespace frontline {

// `text` folded for search. Invalid UTF-8 sequences become U+FFFD first.
std::string FoldForSearch(std::string_view text);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_FOLD_H_
