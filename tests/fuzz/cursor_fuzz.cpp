// Fuzz target: page tokens (directory/cursor.h) and the store's use of them. The input is tried
// as a token as received (NextPageToken), as base64url text, and, split at its first newline,
// as a position (sort key, customer_id) to encode. Checks: decoding is the exact inverse of
// encoding (a token that decodes re-encodes to itself, so no two tokens mean one position),
// tokens are URL-safe, and a SqliteDirectory over the fixture customers refuses every token it
// cannot decode and, from any position we encode, lists exactly the customers after it in its
// own order (the order and each customer's position are learnt from the store at startup).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "directory/cursor.h"
#include "tests/fuzz/fuzz_directory.h"
#include "tests/fuzz/fuzz_util.h"

namespace frontline {
namespace {

struct Listing {
  ListRequest request;
  std::vector<fuzz::ListedCustomer> customers;
};

// The two listings checked: every customer, and one worker's.
std::vector<Listing>& Listings() {
  static std::vector<Listing>* const kListings = [] {
    auto* listings = new std::vector<Listing>(2);
    (*listings)[0].request.all_workers = true;
    (*listings)[1].request.worker = "alice@example.com";
    for (Listing& listing : *listings) {
      std::string why;
      if (!fuzz::ListOneByOne(fuzz::FixtureSqliteDirectory(), listing.request, 1000,
                              &listing.customers, &why)) {
        std::fprintf(stderr, "cursor fuzz: fixture listing: %s\n", why.c_str());
        std::abort();
      }
    }
    return listings;
  }();
  return *kListings;
}

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// The store's answer from `position` must be the customers whose position is after it.
void CheckWalkFrom(const Listing& listing, const CursorPosition& position, size_t page_size) {
  ListRequest request = listing.request;
  request.page_token = EncodeCursor(position);
  request.page_size = page_size;
  std::vector<std::string> ids;
  std::string why;
  FUZZ_CHECK(fuzz::WalkPages(fuzz::FixtureSqliteDirectory(), request, 1000, &ids, &why), why);
  // SQLite leaves comparisons of text holding NUL undefined: no claim about the order then.
  if (position.sort_key.find('\0') != std::string::npos ||
      position.customer_id.find('\0') != std::string::npos) {
    return;
  }
  const std::vector<fuzz::ListedCustomer>& all = listing.customers;
  // The last customer's position is never in a token (no page follows it): it is after
  // `position` when any earlier one is, and otherwise may or may not be.
  size_t start = all.size();
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    if (std::make_pair(all[i].sort_key, all[i].customer_id) >
        std::make_pair(position.sort_key, position.customer_id)) {
      start = i;
      break;
    }
  }
  std::vector<std::string> expected;
  for (size_t i = start; i < all.size(); ++i) expected.push_back(all[i].customer_id);
  if (start == all.size() && !all.empty() && ids.size() == 1 && ids[0] == all.back().customer_id) {
    return;
  }
  FUZZ_CHECK(ids == expected, "listing after " + fuzz::Quote(position.sort_key) + "/" +
                                  fuzz::Quote(position.customer_id) + " has " +
                                  std::to_string(ids.size()) + " customers, expected " +
                                  std::to_string(expected.size()));
}

}  // namespace
}  // namespace frontline

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frontline;
  const std::string_view input = fuzz::AsView(data, size);
  std::vector<Listing>& listings = Listings();

  // As a token: it decodes only if it is the canonical encoding of what it decodes to.
  std::optional<CursorPosition> decoded = DecodeCursor(input);
  if (decoded) {
    FUZZ_CHECK(EncodeCursor(*decoded) == input, "a token decodes but does not re-encode to itself");
  }
  ListRequest raw = listings[size % 2].request;
  raw.page_token = std::string(input);
  ListResult result = fuzz::FixtureSqliteDirectory().ListCustomers(raw);
  if (input.empty()) {
    FUZZ_CHECK(result.status == ListResult::Status::kOk, "no token must mean the first page");
  } else if (!decoded) {
    FUZZ_CHECK(result.status == ListResult::Status::kBadPageToken,
               "the store accepted a token DecodeCursor refuses");
  } else {
    FUZZ_CHECK(result.status == ListResult::Status::kOk, "the store refused a valid token");
  }

  // As base64url text.
  std::optional<std::string> bytes = Base64UrlDecode(input);
  if (bytes) FUZZ_CHECK(Base64UrlEncode(*bytes) == input, "base64url decode is not canonical");
  std::optional<std::string> round = Base64UrlDecode(Base64UrlEncode(input));
  FUZZ_CHECK(round && *round == input, "base64url does not round-trip");

  // As a position.
  const std::vector<std::string_view> fields = fuzz::SplitFields(input, 2);
  const CursorPosition position{std::string(fields[0]), std::string(fields[1])};
  const std::string token = EncodeCursor(position);
  FUZZ_CHECK(std::all_of(token.begin(), token.end(), IsTokenChar), "token is not URL-safe");
  std::optional<CursorPosition> back = DecodeCursor(token);
  FUZZ_CHECK(back && *back == position, "a position does not survive its token");
  CheckWalkFrom(listings[size % 2], position, 1 + size % 4);
  return 0;
}
