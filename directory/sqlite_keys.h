// The directory's derived keys in SQLite: each customer's sort key (collation.h), search text
// and search index rows (search.h), which version of them a database holds (settings "keys",
// schema.h version 3), and rebuilding them when that version is not this build's: after an
// upgrade that changes the search tokens, under another `crm.collation`, or when ICU's data
// for the collation changes.
//
// Thread-safety: stateless; the connection given must be used by one thread at a time.
#ifndef FRONTLINE_DIRECTORY_SQLITE_KEYS_H_
#define FRONTLINE_DIRECTORY_SQLITE_KEYS_H_

#include <sqlite3.h>

#include <cstddef>
#include <string>
#include <vector>

#include "directory/collation.h"
#include "directory/customer.h"

namespace frontline {

// What a customer row stores besides the customer itself.
struct CustomerKeys {
  std::string sort_key;                  // Collation::SortKey(display_name)
  std::vector<std::string> tokens;       // SearchTokens(display_name, channels)
  std::string search_text;               // JoinSearchTokens(tokens)
  std::vector<std::string> index_terms;  // IndexTerms(tokens): rows of search_terms
};
void ComputeKeys(const Customer& customer, const Collation& collation, CustomerKeys* keys);

// The "keys" setting this build writes with `collation`.
std::string KeysVersion(const Collation& collation);

// Records KeysVersion(collation) as the database's keys; the caller holds a write transaction.
[[nodiscard]] bool StoreKeysVersion(sqlite3* db, const Collation& collation, std::string* error);

// True in `*current` when the database's keys are KeysVersion(collation); `*stored` (may be
// null) gets what it holds ("" for none).
[[nodiscard]] bool KeysAreCurrent(sqlite3* db, const Collation& collation, bool* current,
                                  std::string* stored, std::string* error);

// Recomputes every customer's keys and the whole search index, and stores the version; the
// caller holds a write transaction. `*customers` gets the number of customers rebuilt.
[[nodiscard]] bool RebuildKeys(sqlite3* db, const Collation& collation, size_t* customers,
                               std::string* error);

// What EnsureKeys did.
struct KeysReport {
  bool rebuilt = false;
  size_t customers = 0;
  std::string previous;  // the version found ("" for none)
  std::string version;   // the version the keys have now (KeysVersion)
  double seconds = 0;
};

// Rebuilds the keys, in one write transaction of its own, when they are not current (checked
// again under the write lock, so of several processes opening one file only one rebuilds).
[[nodiscard]] bool EnsureKeys(sqlite3* db, const Collation& collation, KeysReport* report,
                              std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SQLITE_KEYS_H_
