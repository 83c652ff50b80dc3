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

// Rebuilds the keys when the stored version is not KeysVersion(collation) and the directory
// has customers; the caller holds a transaction with the customers table locked against other
// writers (an import does). `report` (may be null) says what was found and done. False with
// `error` set.
[[nodiscard]] bool RebuildPgKeysIfStale(pg::Connection& conn, const Collation& collation,
                                        KeysReport* report, std::string* error);

// The same in a transaction of its own, after a read without a lock finds the keys stale (so
// of several hosts starting at once one rebuilds and the others find the keys current).
[[nodiscard]] bool EnsurePgKeys(pg::Connection& conn, const Collation& collation,
                                KeysReport* report, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_PG_KEYS_H_
