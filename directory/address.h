// The one address normalisation used everywhere (import, FindByAddress, routing, search), so
// "whatsapp:+1 (555) 777-8888", "+15557778888" and "15557778888" all mean the same customer.
// Stateless; safe from any thread.
#ifndef FRONTLINE_DIRECTORY_ADDRESS_H_
#define FRONTLINE_DIRECTORY_ADDRESS_H_

#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"

namespace frontline {

// Normalises a channel address for comparison.
// - Surrounding whitespace is ignored, and a leading "whatsapp:" (any case) is stripped.
// - A phone-like value (digits, optionally one leading '+', with spaces, dashes, dots and
//   parentheses as separators, at least one digit) becomes its digits only:
//   "whatsapp:+1 (555) 777-8888" → "15557778888".
// - Anything else (a chat identity, an email address) becomes its trimmed ASCII-lowercase
//   form, "whatsapp:" prefix included: " Alice@Example.com " → "alice@example.com".
// Never fails; "" stays "".
std::string NormaliseAddress(std::string_view address);

// Sets `*out` to the distinct NormaliseAddress values of `channels`' values, in channel order:
// the rows of the addresses table for one customer (both backends' import writers).
void DistinctAddresses(const std::vector<Channel>& channels, std::vector<std::string>* out);

// True when NormaliseAddress(address) would return digits only (a phone number).
bool IsPhoneLike(std::string_view address);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_ADDRESS_H_
