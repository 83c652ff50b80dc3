// The directory's derived keys in PostgreSQL, as sqlite_keys.h does for a SQLite file: each
// customer's sort key and search text and the search_terms rows, and the settings row "keys"
// that says which collation and search-token version built them (KeysVersion). When they are
// not this build's (another --crm.collation, new ICU data, new search tokens), they are
// rebuilt: computed here, loaded with COPY, applied set-wise, all in one transaction.
//
// Thread-safety: stateless; the connection given must be used by one thread at a time.
#ifndef FRONTLINE_DIRECTORY_PG_KEYS_H_
#define FRONTLINE_DIRECTORY_PG_KEYS_H_

#include <cstddef>
#include <string>

#include "db/postgres.h"
#include "directory/collation.h"
#include "directory/sqlite_keys.h"

namespace frontline {

// Recomputes every customer's keys and the whole search index and records KeysVersion; the
// caller holds a transaction with the customers table locked against other writers.
// `*customers` gets how many were rebuilt. False with `error` set.
[[nodiscard]] bool RebuildPgKeys(pg::Connection& conn, const Collation& collation,
                                 size_t* customers, std::string* error);

// In a transaction of its own (locking customers against other writers, so of several hosts
// starting at once one rebuilds and the others find the keys current): rebuilds the keys when
// the stored version is not KeysVersion(collation) and the directory has customers.
// `report` says what was done.
[[nodiscard]] bool EnsurePgKeys(pg::Connection& conn, const Collation& collation,
                                KeysReport* report, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_PG_KEYS_H_
