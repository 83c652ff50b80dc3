// The directory's SQLite schema, its migrations, and how every connection to the database file
// is opened and configured. Functions here touch only the connection they are given; a
// connection must be used by one thread at a time.
//
// Versioning: PRAGMA user_version holds the number of migrations applied. Migrate() applies the
// missing ones, in order, in one BEGIN IMMEDIATE transaction, so several processes opening the
// same file at once are safe (one migrates, the others wait on the busy timeout and then see
// the new version). To change the schema, append one entry to kMigrations in schema.cpp.
//
// Tables (version 1):
//   customers(id INTEGER PRIMARY KEY, customer_id TEXT (unique index customers_by_id),
//   display_name, sort_key, avatar,
//             details_title, details_content, worker, search_text)
//     id is an internal, stable row number that keeps the child rows small; sort_key is
//     FoldCase(display_name); search_text the customer's search tokens (search.h).
//     Indexes (worker, sort_key, customer_id) and (sort_key, customer_id) serve paging.
//   channels(customer, position, type, value, normalised)  index on normalised (address.h)
//   links(customer, position, type, value, display_name)
//   workers(identity PRIMARY KEY, sms_number, whatsapp_number)
//   worker_keys(wkey INTEGER PRIMARY KEY, identity UNIQUE)  small integer per assigned worker
//   search_terms(wkey, term, customer) PRIMARY KEY in that order: the search index (search.h)
// Child rows reference customers.id; the import code keeps them consistent (no declared
// foreign keys, so a --replace import can truncate tables instead of deleting row by row).
#ifndef FRONTLINE_DIRECTORY_SCHEMA_H_
#define FRONTLINE_DIRECTORY_SCHEMA_H_

#include <sqlite3.h>

#include <string>

namespace frontline {

// The schema version this build writes and reads (the number of migrations).
int LatestSchemaVersion();

// Opens (creating if missing) the database at `path` and configures the connection:
// busy_timeout=5000, journal_mode=WAL, foreign_keys=ON, synchronous=NORMAL, and registers the
// SQL function fl_match_all(search_text, terms) used by search. Does not migrate.
// Returns nullptr with `error` set on failure.
sqlite3* OpenConnection(const std::string& path, std::string* error);

// Brings the schema to LatestSchemaVersion() (see above). False with `error` set on failure,
// including a database written by a newer build (its version is higher than ours).
bool Migrate(sqlite3* db, std::string* error);

// The secondary indexes of the current schema (customers_by_id, customers_by_worker,
// customers_by_order, channels_by_address), which a bulk import into empty tables drops and
// then rebuilds by sorting, much faster than growing them row by row. Keep them in step with
// the migrations when a migration changes one of these indexes.
const char* BulkLoadDropIndexesSql();
const char* BulkLoadCreateIndexesSql();

// The database's user_version, or -1 on error.
int SchemaVersion(sqlite3* db);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SCHEMA_H_
