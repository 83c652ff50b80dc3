// Loading customers and workers into the directory database (`frontline-fcgi import`), and the
// seed's demo customers (`import --seed-demo`). This file wires the pieces in directory/import/:
// readers (json_reader, csv_reader, seed_demo) push records (record_sink.h) through validation
// (validate.h) into a writer per backend (import_writer.h; sqlite_writer.h), which runs on a
// helper thread (writer_thread.h). Each call opens its own connection; calls may run while
// responders serve from the same file (they keep seeing the old data until the one import
// transaction commits). Two imports on one file serialise: the second waits for the first on
// the busy timeout (5 s), then fails.
//
// TWO PASSES: pass 1 reads and validates every file (duplicates included) without touching
// the database's write lock; only when everything is valid does pass 2 take the lock, read the
// files again and write them in one transaction. The files are streamed through a 64 KiB
// buffer: memory does not grow with the size of a file, only with the number of customers
// (the duplicate check keeps about 60 bytes plus the customer_id per customer in pass 1; the
// SQLite bulk load about 100 bytes per customer in pass 2, see sqlite_writer.h). The files
// must be seekable (regular files).
//
// All files of one call are imported in ONE transaction. Any bad record aborts the import with
// "file:line: reason" (the line where the record starts) and leaves the database unchanged.
// Without `replace` customers are upserted (an existing customer's fields, channels and links
// are replaced by the imported ones) and workers are upserted; with `replace` the whole
// directory is swapped for the files' content atomically.
//
// FORMATS (chosen by the file extension, case-insensitive: .json or .csv)
//
// JSON: either an array of customers, or an object {"customers":[…],"workers":[…]} (both keys
// optional). A customer:
//   {"customer_id":"42" or 42, "display_name":"…", "avatar":"https://…", "worker":"alice@…",
//    "channels":[{"type":"sms|whatsapp|chat|email","value":"…"}],
//    "links":[{"type":"Facebook","value":"https://…","display_name":"…"}],
//    "details":{"title":"…","content":"…"}}
// customer_id and display_name are required (an integer customer_id is stored as its decimal
// string); the other members are optional and may be null; unknown members are ignored.
// A worker: {"identity":"alice@example.com","sms_number":"+1…","whatsapp_number":"whatsapp:+1…"}.
//
// CSV: RFC 4180 (fields may be quoted with "…", "" is a quote inside a quoted field, quoted
// fields may hold commas and line breaks; lines end in LF or CRLF). The first line is a header
// naming the columns, in any order. A table of customers has the columns
//   customer_id,display_name,avatar,worker,details_title,details_content,
//   channel_type,channel_value,link_type,link_value,link_display_name
// (customer_id and display_name required, the rest optional). One row is one customer with at
// most one channel and one link; a customer with more channels or links continues on the
// immediately following rows with the same customer_id, which add one channel and/or one link
// each and leave the other columns empty (or repeat the first row's values). Empty channel
// columns mean "no channel on this row"; likewise for the link columns.
// A table of workers has the columns identity,sms_number,whatsapp_number (identity required).
// One file may hold several tables: an empty line ends a table and the next line is the
// header of the next one (export writes the customers, an empty line, then the workers).
//
// VALIDATION (each an error "file:line: reason"): missing or empty customer_id, duplicate
// customer_id within the import (also across files), missing display_name, channel type other
// than sms, whatsapp, chat or email, empty channel value, link value that is not an absolute
// https://, http:// or mailto: URL, avatar that is not an absolute http(s) URL, invalid UTF-8
// anywhere, wrong JSON types, JSON syntax errors, CSV rows with the wrong number of fields,
// unknown or missing CSV columns, a missing or duplicate worker identity.
#ifndef FRONTLINE_DIRECTORY_IMPORT_H_
#define FRONTLINE_DIRECTORY_IMPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"
#include "directory/import/seed_demo.h"  // SeedDemoCustomers
#include "directory/import/validate.h"   // ValidateCustomer, ValidateWorker

namespace frontline {

// How far an import is, for a progress display (fcgi/progress.h draws the command line's).
struct ImportProgress {
  int pass = 1;         // 1: reading and validating (no write lock); 2: writing
  uint64_t done = 0;    // bytes (records for ImportRecords) done, both passes counted
  uint64_t total = 0;   // twice the input's size (one per pass)
  size_t customers = 0;  // customers read so far in this pass
};

struct ImportOptions {
  bool replace = false;  // --replace: swap the whole directory atomically
  std::string collation;  // crm.collation: the list order's locale ("" = root; collation.h)
  std::string postgres_schema = "frontline";  // with a PostgreSQL `db_path`: our tables' schema
  // Called on the importing thread every 1024 records or so (may be empty); never at the end:
  // the caller knows when the call returns.
  std::function<void(const ImportProgress&)> progress;
};

struct ImportStats {
  size_t customers = 0;  // customers written (inserted or updated)
  size_t workers = 0;    // workers written
  // Set on failure when the database failed (disk full, I/O error, lock timeout, a file that is
  // no database), not the input: the caller can say so (exit 74 rather than 65).
  bool database_failed = false;
};

// Imports `files` (see the formats above) into the database at `db_path` (a SQLite file, or a
// PostgreSQL connection string as db/postgres.h: IsConnectionString says), creating the file
// and schema when missing. True on success with `stats` (may be null) filled. False with
// `error` = "file:line: reason" (or a database/file error), stats->database_failed set when the
// database failed, and the database unchanged.
bool ImportFiles(const std::string& db_path, const std::vector<std::string>& files,
                 const ImportOptions& options, ImportStats* stats, std::string* error);

// Imports records given in memory, with the same validation and transaction semantics.
// Errors name the record as "customers[N]: reason" / "workers[N]: reason" (N from 0).
bool ImportRecords(const std::string& db_path, const std::vector<Customer>& customers,
                   const std::vector<Worker>& workers, const ImportOptions& options,
                   ImportStats* stats, std::string* error);

// Parses and validates one import file held in memory (`data`; the format comes from the
// extension of `name`, which also prefixes errors) with the same readers and checks as
// ImportFiles, duplicates within the file included, but without a database: the records are
// appended to `customers` and `workers` (either may be null). False with `error` =
// "name:line: reason"; the vectors then hold the records read before the error.
bool ParseImportData(const std::string& name, std::string_view data,
                     std::vector<Customer>* customers, std::vector<Worker>* workers,
                     std::string* error);

// SeedDemoCustomers: directory/import/seed_demo.h. ValidateCustomer, ValidateWorker:
// directory/import/validate.h.

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_H_
