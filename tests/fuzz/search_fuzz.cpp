// Fuzz target: search-query parsing (directory/search.h) and the indexed search that uses it.
// The whole input is a Query. Checks: the terms are distinct, non-empty, free of separators and
// at most kMaxSearchTerms; each word term matches a customer whose display name is the query
// itself; and a SqliteDirectory over the fixture customers answers exactly the customers that
// the reference matcher (MatchesAllTerms over each customer's SearchTokens) accepts, in the
// store's own list order, both in one page and when its pages are followed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "directory/search.h"
#include "tests/fuzz/fuzz_directory.h"
#include "tests/fuzz/fuzz_util.h"

namespace frontline {
namespace {

// Space and the control characters separate terms.
bool IsSeparator(char c) { return static_cast<unsigned char>(c) <= 0x20; }

// The fixture in the store's order (one listing of everyone), with each customer's tokens.
struct Indexed {
  std::string customer_id;
  std::string worker;
  std::string search_text;
};

const std::vector<Indexed>& InStoreOrder() {
  static const std::vector<Indexed>* const kOrder = [] {
    ListRequest all;
    all.all_workers = true;
    all.page_size = 1000;
    ListResult result = fuzz::FixtureSqliteDirectory().ListCustomers(all);
    auto* order = new std::vector<Indexed>;
    for (const CustomerSummary& summary : result.customers) {
      for (const Customer& c : fuzz::FixtureData().customers) {
        if (c.customer_id != summary.customer_id) continue;
        order->push_back(
            {c.customer_id, c.worker, JoinSearchTokens(SearchTokens(c.display_name, c.channels))});
      }
    }
    if (order->size() != fuzz::FixtureData().customers.size()) {
      std::fprintf(stderr, "search fuzz: the store lists %zu of %zu customers\n", order->size(),
                   fuzz::FixtureData().customers.size());
      std::abort();
    }
    return order;
  }();
  return *kOrder;
}

void CheckStore(std::string_view query, const std::string& terms, bool all_workers,
                size_t page_size) {
  ListRequest request;
  request.all_workers = all_workers;
  request.worker = "alice@example.com";
  request.query = std::string(query);
  request.page_size = page_size;
  std::vector<std::string> expected;
  for (const Indexed& c : InStoreOrder()) {
    if (!all_workers && c.worker != request.worker) continue;
    if (MatchesAllTerms(c.search_text, terms)) expected.push_back(c.customer_id);
  }
  std::vector<std::string> found;
  std::string why;
  FUZZ_CHECK(fuzz::WalkPages(fuzz::FixtureSqliteDirectory(), request, 1000, &found, &why), why);
  if (found != expected) {
    std::string detail = "terms " + fuzz::Quote(terms) + ": store found";
    for (const std::string& id : found) detail += " " + id;
    detail += "; reference found";
    for (const std::string& id : expected) detail += " " + id;
    fuzz::Fail(__FILE__, __LINE__, "found == expected", detail);
  }
}

}  // namespace
}  // namespace frontline

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frontline;
  const std::string_view query = fuzz::AsView(data, size);

  const std::vector<std::string> terms = ParseSearchQuery(query);
  FUZZ_CHECK(terms.size() <= kMaxSearchTerms, "too many terms");
  std::set<std::string> distinct(terms.begin(), terms.end());
  FUZZ_CHECK(distinct.size() == terms.size(), "repeated term");
  for (const std::string& term : terms) {
    FUZZ_CHECK(!term.empty(), "empty term");
    FUZZ_CHECK(std::none_of(term.begin(), term.end(), IsSeparator),
               "term with a separator: " + fuzz::Quote(term));
  }
  // (Not the converse: folding drops default-ignorable characters, so "\u200b" has no terms.)
  bool blank = std::all_of(query.begin(), query.end(), IsSeparator);
  FUZZ_CHECK(!blank || terms.empty(), "a blank query has no terms");

  // A customer named like the query has every word term among its tokens (number terms may
  // join several pieces, so they are checked against the store below instead).
  const std::string self = JoinSearchTokens(SearchTokens(query, {}));
  for (const std::string& term : terms) {
    if (IsDigits(term)) continue;
    FUZZ_CHECK(MatchesAllTerms(self, term),
               "word term " + fuzz::Quote(term) + " does not match the name it came from");
  }

  const std::string joined = JoinTerms(terms);
  CheckStore(query, joined, true, 1000);
  CheckStore(query, joined, false, 1 + size % 3);
  return 0;
}
