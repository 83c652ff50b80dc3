// Writing the whole directory out (`frontline-fcgi export`) in exactly the formats import.h
// reads, so export → import --replace → export is byte-identical. Opens its own connection and
// reads one consistent snapshot (a concurrent import is either fully in or fully out).
// Safe to call from any thread.
//
// JSON: {"customers":[…],"workers":[…]} with one record per line, customers in customer_id
// order (bytewise), workers by identity; empty members are omitted.
// CSV: the customers table (all columns, one row per channel/link, see import.h), then, when
// there are workers, an empty line and the workers table. Lines end in LF; fields holding a
// comma, quote, CR or LF are quoted.
#ifndef FRONTLINE_DIRECTORY_EXPORT_H_
#define FRONTLINE_DIRECTORY_EXPORT_H_

#include <ostream>
#include <string>

namespace frontline {

enum class ExportFormat { kJson, kCsv };

// Writes the directory at `db_path` (a SQLite file, or a PostgreSQL connection string whose
// tables are in `postgres_schema`) to `out`. False with `error` set when the database cannot
// be read (e.g. the file does not exist) or `out` fails; `out` may then hold a partial
// document.
bool ExportDirectory(const std::string& db_path, const std::string& postgres_schema,
                     ExportFormat format, std::ostream& out, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_EXPORT_H_
