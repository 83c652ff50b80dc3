// The SQLite ImportWriter. Into an empty directory (a first import, or --replace) rows are
// inserted in batches, the list-order indexes are rebuilt by sorting at the end, and the
// addresses and the search index are sorted in memory (on a helper thread, while SQLite
// rebuilds the indexes) and then loaded in key order; this keeps the search tokens and
// addresses in memory (about 100 bytes per customer) and lets SQLite use up to 1 GiB of page
// cache. Upserts into a non-empty directory go row by row.
// Thread-safety: one thread at a time (it may be opened on one thread and used on another).
#ifndef FRONTLINE_DIRECTORY_IMPORT_SQLITE_WRITER_H_
#define FRONTLINE_DIRECTORY_IMPORT_SQLITE_WRITER_H_

#include <memory>
#include <string>

#include "directory/import/import_writer.h"

namespace frontline {

// Opens (creating the file and schema when missing) the directory database at `path` without
// taking the write lock; sort keys use the collation for BCP 47 tag `collation` ("" or "root"
// for the root collation), and Begin rebuilds the kept rows' keys when they were built with
// another (sqlite_keys.h). Null with `error` when the collation is unknown or the database
// cannot be opened or migrated.
std::unique_ptr<ImportWriter> OpenSqliteImportWriter(const std::string& path,
                                                     const std::string& collation,
                                                     std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_SQLITE_WRITER_H_
