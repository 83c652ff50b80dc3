// The PostgreSQL ImportWriter (directory/pg_schema.h). Records are streamed with COPY (binary
// format) into temporary staging tables, then merged into the directory's tables by a few
// set-based statements at Commit, all in one transaction: readers keep seeing the old directory
// until the COMMIT, and --replace deletes the old rows in the same transaction (a DELETE, not a
// TRUNCATE, whose lock would stop every reader for the whole import). A lock on the customers
// table (SHARE ROW EXCLUSIVE: reads go on) makes two imports run one after the other.
// Sort keys and search terms are computed here, as for SQLite (sqlite_keys.h), so both
// backends order and search alike.
// Thread-safety: one thread at a time (it may be opened on one thread and used on another).
#ifndef FRONTLINE_DIRECTORY_IMPORT_PG_WRITER_H_
#define FRONTLINE_DIRECTORY_IMPORT_PG_WRITER_H_

#include <memory>
#include <string>

#include "directory/import/import_writer.h"

namespace frontline {

// Connects to the PostgreSQL database `conninfo` (libpq syntax), creating or migrating the
// directory's tables in `schema`, without starting the import's transaction; sort keys use the
// collation `collation` as in OpenSqliteImportWriter. Null with `error` when the collation is
// unknown or the database cannot be reached or migrated.
std::unique_ptr<ImportWriter> OpenPgImportWriter(const std::string& conninfo,
                                                 const std::string& schema,
                                                 const std::string& collation,
                                                 std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_PG_WRITER_H_
