// Opaque page tokens (NextPageToken) for keyset pagination over the list order
// (the display name's collation sort key, then customer_id). A token holds the position of the
// last customer of a page, so the next page starts strictly after it: no customer is skipped or
// repeated even when customers are added or removed between calls. Stateless; thread-safe.
//
// Format: "c1" + base64url (no padding) of
//   u32 sort_key length (big-endian) | sort_key | customer_id | u32 FNV-1a of everything before.
// The checksum lets DecodeCursor reject tokens we did not issue (typos, truncation, other
// services' tokens); it is not a security measure, the position is not secret.
#ifndef FRONTLINE_DIRECTORY_CURSOR_H_
#define FRONTLINE_DIRECTORY_CURSOR_H_

#include <optional>
#include <string>
#include <string_view>

namespace frontline {

struct CursorPosition {
  std::string sort_key;     // the sort key (collation.h) of the last customer shown
  std::string customer_id;  // its customer_id

  bool operator==(const CursorPosition& o) const {
    return sort_key == o.sort_key && customer_id == o.customer_id;
  }
};

// A URL-safe token ([A-Za-z0-9_-]) for `position`. Any bytes are allowed in both parts.
std::string EncodeCursor(const CursorPosition& position);

// The position in a token produced by EncodeCursor, or nullopt for anything else (bad
// characters, non-canonical base64, unknown version, wrong length or checksum).
std::optional<CursorPosition> DecodeCursor(std::string_view token);

// Base64url without padding; exposed for tests.
std::string Base64UrlEncode(std::string_view bytes);
// Strict inverse of Base64UrlEncode (rejects padding, bad characters and non-zero spare bits).
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_CURSOR_H_
