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
//             display_name, sort_key, avatar, details_title, details_content, worker,
//             search_text, channels BLOB, links BLOB)
//     id is an internal, stable row number that keeps the other tables' rows small; sort_key is
//     the display name's sort key (see version 3); search_text the customer's search tokens
//     (search.h: JoinSearchTokens); channels and
//     links the customer's channels and links in order, encoded as below (one row per
//     customer instead of one per channel/link: fewer B-tree entries to write and read).
//     Indexes (worker, sort_key, customer_id) and (sort_key, customer_id) serve paging.
//   addresses(normalised, customer) PRIMARY KEY in that order: the distinct normalised channel
//     values (address.h) of each customer, for lookups by address
//   workers(identity PRIMARY KEY, sms_number, whatsapp_number)
//   worker_keys(wkey INTEGER PRIMARY KEY, identity UNIQUE)  small integer per assigned worker
//   search_terms(wkey, term, customer) PRIMARY KEY in that order: the search index (search.h:
//     IndexTerms of each customer, under its worker's key)
// Version 2 adds the Twilio REST outbox (events/outbox.h):
//   outbox(id INTEGER PRIMARY KEY, key TEXT UNIQUE (OutboxKey), action, conversation_sid,
//          identity, participant_sid, attributes_json, state 'pending'|'done'|'failed',
//          attempts, next_attempt_at, lease_owner, lease_until, created_at, updated_at,
//          last_error); times in unix ms. Partial indexes outbox_pending (next_attempt_at, id)
//          and outbox_failed (id) keep claiming and counting cheap while done rows pile up.
//   Superseded: jobs now live in the outbox's own file (--outbox, events/sqlite_event_store.h),
//   which moves any rows found here on first open and empties this table. The migration stays
//   (migrations are append only), so new files still get the empty table; a later migration
//   may drop it once no older build shares the file.
// Version 3 adds settings(name PRIMARY KEY, value): "keys" names the collation (and ICU's
//   version of it) and the search token format that customers.sort_key, customers.search_text
//   and search_terms were built with (sqlite_keys.h rebuilds them when either changes; a file
//   from before version 3 has none, so its keys are rebuilt on first open). Since version 3,
//   sort_key is a BLOB: the collation's binary sort key of display_name (collation.h).
// Version 4 makes the two list-order indexes covering: customers_by_worker(worker, sort_key,
//   customer_id, display_name, avatar, search_text) and customers_by_order(sort_key,
//   customer_id, display_name, avatar, search_text), so a list page and a search's ordered
//   walk read no table rows (a one-letter search spent most of its time copying table pages
//   in with pread: no memory map, and a small per-connection cache).
// Rows of addresses and search_terms reference customers.id; the import code keeps them
// consistent (no declared foreign keys, so a --replace import can truncate tables instead of
// deleting row by row).
//
// customers.channels / customers.links: each string as its length (unsigned LEB128) followed
// by its bytes; two strings (type, value) per channel and three (type, value, display_name)
// per link, in order. An empty blob means none.
#ifndef FRONTLINE_DIRECTORY_SCHEMA_H_
#define FRONTLINE_DIRECTORY_SCHEMA_H_

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

#include "db/sqlite.h"
#include "directory/customer.h"

namespace frontline {

// The schema version this build writes and reads (the number of migrations).
int LatestSchemaVersion();

// Opens the database at `path` (creating the file when missing, mode 0600, unless `create` is false) and
// configures the connection:
// busy_timeout=5000, page_size=16384 (takes effect only when the file is created: fewer, larger
// pages make bulk loads and checkpoints cheaper), journal_mode=WAL, foreign_keys=ON,
// synchronous=NORMAL, no memory map (a file truncated under a mapped reader raises SIGBUS; see
// schema.cpp for the measured cost) and a 16 MiB page cache, and registers the SQL function
// fl_match_all(search_text, terms) used by search. Does not migrate.
// Returns nullptr with `error` set on failure.
sqlite3* OpenConnection(const std::string& path, std::string* error, bool create = true);

// Brings the schema to LatestSchemaVersion() (see above). False with `error` set on failure,
// including a database written by a newer build (its version is higher than ours).
bool Migrate(sqlite3* db, std::string* error);

// The secondary indexes that a bulk import into empty tables drops and then rebuilds by sorting,
// much faster than growing them row by row: customers_by_worker and customers_by_order.
// (customers_by_id stays: the import's writer thread has time to spare for growing it while the
// input is parsed.) Keep them in step with the migrations when a migration changes one of these
// indexes.
const char* BulkLoadDropIndexesSql();
const char* BulkLoadCreateIndexesSql();

// The customers.channels / customers.links encodings (see above). Append* add to `out`;
// Decode* append to the vector and return false for a malformed blob.
void AppendChannelsBlob(const std::vector<Channel>& channels, std::string* out);
void AppendLinksBlob(const std::vector<Link>& links, std::string* out);
bool DecodeChannelsBlob(std::string_view blob, std::vector<Channel>* channels);
bool DecodeLinksBlob(std::string_view blob, std::vector<Link>* links);

// The database's user_version, or -1 on error (db::UserVersion).
inline int SchemaVersion(sqlite3* db) { return db::UserVersion(db); }

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SCHEMA_H_
