// Loading customers and workers into the directory database (`frontline-fcgi import`), and the
// seed's demo customers (`import --seed-demo`). Each call opens its own connection and uses one
// helper thread internally (parsing and validation on the calling thread, SQLite writes on the
// helper); calls may run while responders serve from the same file (they keep seeing the old
// data until the one import transaction commits). Two imports on one file serialise: the
// second waits for the first on the busy timeout (5 s), then fails.
//
// Speed: into an empty directory (a first import, or --replace) rows are inserted in batches,
// the list-order indexes are rebuilt by sorting at the end, and the addresses and the search
// index are sorted in memory (on a helper thread, while SQLite rebuilds the indexes) and then
// loaded in key order; this keeps the search tokens and addresses in memory (about 100 bytes
// per customer) and lets SQLite use up to 1 GiB of page cache. JSON files are read into
// memory whole (their UTF-8 validity is checked once per file). Upserts into a non-empty
// directory go row by row.
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
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"

namespace frontline {

struct ImportOptions {
  bool replace = false;   // --replace: swap the whole directory atomically
  bool progress = false;  // progress bar on stderr (about 10 updates/s, newline at the end)
  std::FILE* progress_stream = nullptr;  // where the bar goes instead of stderr (tests)
};

struct ImportStats {
  size_t customers = 0;  // customers written (inserted or updated)
  size_t workers = 0;    // workers written
  // Set on failure when the database failed (disk full, I/O error, lock timeout, a file that is
  // no database), not the input: the caller can say so (exit 74 rather than 65).
  bool database_failed = false;
};

// Imports `files` (see the formats above) into the database at `db_path`, creating the file
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

// The seed's two demo customers (reference §12), built from CUSTOMER_PHONE_1, CUSTOMER_PHONE_2
// and Worker_Identity:
//   "1" "Customer 1": sms phone1, chat worker; link Facebook https://meta.facebook.com/ "Meta"
//   "2" "Customer 2": sms phone2;              link Facebook https://meta.facebook.com/ "Facebook"
// both with avatar https://example.com/image.jpeg, the "Purchase History" details and
// worker = worker_identity. An empty phone or worker gives a customer without that channel.
std::vector<Customer> SeedDemoCustomers(const std::string& phone1, const std::string& phone2,
                                        const std::string& worker_identity);

// Checks one customer against the rules above; false with `reason` (no location) otherwise.
bool ValidateCustomer(const Customer& customer, std::string* reason);
// Checks one worker; false with `reason` otherwise.
bool ValidateWorker(const Worker& worker, std::string* reason);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_H_
