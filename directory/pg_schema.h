// The directory's tables in PostgreSQL (SPEC §8), the same model as the SQLite file's
// (directory/schema.h) so that both backends share the row encoding (customer_row.h), the
// sort keys (collation.h: bytea, compared bytewise) and the search terms (search.h): customers,
// their normalised addresses, workers, per-worker search terms, and the settings that say what
// the keys were built with. Versioned as component "directory" in frontline_versions
// (db/postgres.h: Migrate).
//
// Thread-safety: stateless; the connection passed in is used by the calling thread only.
#ifndef FRONTLINE_DIRECTORY_PG_SCHEMA_H_
#define FRONTLINE_DIRECTORY_PG_SCHEMA_H_

#include <string>
#include <vector>

#include "db/postgres.h"

namespace frontline {

// The directory's migrations, oldest first.
const std::vector<pg::Migration>& PgDirectoryMigrations();
// Applies the missing ones in `schema` (several processes at once are safe). False with
// `error` set.
[[nodiscard]] bool MigratePgDirectory(pg::Connection& conn, const std::string& schema,
                                      std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_PG_SCHEMA_H_
