#include "directory/schema.h"

#include <iterator>
#include <string_view>

#include "db/sqlite.h"
#include "directory/search.h"

namespace frontline {
namespace {

struct Migration {
  const char* description;
  const char* sql;
};

// Append only: entry i brings the schema from version i to version i + 1.
constexpr Migration kMigrations[] = {
    {"customers, channels, links, workers and the search index", R"sql(
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  sort_key TEXT NOT NULL,
  avatar TEXT NOT NULL DEFAULT '',
  details_title TEXT NOT NULL DEFAULT '',
  details_content TEXT NOT NULL DEFAULT '',
  worker TEXT NOT NULL DEFAULT '',
  search_text TEXT NOT NULL DEFAULT '',
  channels BLOB NOT NULL DEFAULT x'',
  links BLOB NOT NULL DEFAULT x''
);
CREATE UNIQUE INDEX customers_by_id ON customers(customer_id);
CREATE INDEX customers_by_worker ON customers(worker, sort_key, customer_id);
CREATE INDEX customers_by_order ON customers(sort_key, customer_id);
CREATE TABLE addresses (
  normalised TEXT NOT NULL,
  customer INTEGER NOT NULL,
  PRIMARY KEY (normalised, customer)
) WITHOUT ROWID;
CREATE TABLE workers (
  identity TEXT PRIMARY KEY,
  sms_number TEXT NOT NULL DEFAULT '',
  whatsapp_number TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE worker_keys (
  wkey INTEGER PRIMARY KEY,
  identity TEXT NOT NULL UNIQUE
);
CREATE TABLE search_terms (
  wkey INTEGER NOT NULL,
  term TEXT NOT NULL,
  customer INTEGER NOT NULL,
  PRIMARY KEY (wkey, term, customer)
) WITHOUT ROWID;
)sql"},
    {"the Twilio REST outbox", R"sql(
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  action TEXT NOT NULL,
  conversation_sid TEXT NOT NULL,
  identity TEXT NOT NULL DEFAULT '',
  participant_sid TEXT NOT NULL DEFAULT '',
  attributes_json TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox(next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_failed ON outbox(id) WHERE state = 'failed';
)sql"},
    {"settings: what the stored sort and search keys were built with", R"sql(
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql"},
    {"list pages read from the index alone", R"sql(
DROP INDEX customers_by_worker;
DROP INDEX customers_by_order;
CREATE INDEX customers_by_worker ON customers(worker, sort_key, customer_id, display_name, avatar,
  search_text);
CREATE INDEX customers_by_order ON customers(sort_key, customer_id, display_name, avatar,
  search_text);
)sql"},
};

void MatchAllFunction(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 2) {
    sqlite3_result_error(context, "fl_match_all takes 2 arguments", -1);
    return;
  }
  auto text = [](sqlite3_value* v) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
    return p == nullptr ? std::string_view()
                        : std::string_view(p, static_cast<size_t>(sqlite3_value_bytes(v)));
  };
  sqlite3_result_int(context, MatchesAllTerms(text(argv[0]), text(argv[1])) ? 1 : 0);
}

}  // namespace

const char* BulkLoadDropIndexesSql() {
  return "DROP INDEX customers_by_worker;"
         " DROP INDEX customers_by_order;";
}

const char* BulkLoadCreateIndexesSql() {
  return "CREATE INDEX customers_by_worker ON customers(worker, sort_key, customer_id,"
         " display_name, avatar, search_text);"
         "CREATE INDEX customers_by_order ON customers(sort_key, customer_id, display_name,"
         " avatar, search_text);";
}

namespace {

void AppendField(std::string_view field, std::string* out) {
  size_t n = field.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>(0x80 | (n & 0x7F)));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(field);
}

// The next field of `*blob` (consumed); false when the blob is malformed.
bool NextField(std::string_view* blob, std::string* field) {
  size_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (blob->empty() || shift > 56) return false;
    auto byte = static_cast<unsigned char>(blob->front());
    blob->remove_prefix(1);
    n |= static_cast<size_t>(byte & 0x7F) << shift;
    if (byte < 0x80) break;
  }
  if (n > blob->size()) return false;
  field->assign(blob->data(), n);
  blob->remove_prefix(n);
  return true;
}

}  // namespace

void AppendChannelsBlob(const std::vector<Channel>& channels, std::string* out) {
  for (const Channel& ch : channels) {
    AppendField(ch.type, out);
    AppendField(ch.value, out);
  }
}

void AppendLinksBlob(const std::vector<Link>& links, std::string* out) {
  for (const Link& link : links) {
    AppendField(link.type, out);
    AppendField(link.value, out);
    AppendField(link.display_name, out);
  }
}

bool DecodeChannelsBlob(std::string_view blob, std::vector<Channel>* channels) {
  while (!blob.empty()) {
    Channel ch;
    if (!NextField(&blob, &ch.type) || !NextField(&blob, &ch.value)) return false;
    channels->push_back(std::move(ch));
  }
  return true;
}

bool DecodeLinksBlob(std::string_view blob, std::vector<Link>* links) {
  while (!blob.empty()) {
    Link link;
    if (!NextField(&blob, &link.type) || !NextField(&blob, &link.value) ||
        !NextField(&blob, &link.display_name)) {
      return false;
    }
    links->push_back(std::move(link));
  }
  return true;
}

int LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

sqlite3* OpenConnection(const std::string& path, std::string* error, bool create) {
  // A new file is made 0600 first: SQLite gives -wal and -shm the main file's mode.
  if (create && !db::CreatePrivateFile(path, error)) return nullptr;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                               SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    if (error != nullptr) *error = db::Error(db, "open " + path);
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_extended_result_codes(db, 1);
  // busy_timeout first: switching to WAL may have to wait for another process.
  // No memory map (mmap_size=0): with one, a file truncated under a reader (`cp other.db
  // directory.db` rewrites it in place) kills the process with SIGBUS on the next page read
  // past the new end, which no error check can catch (seen: the responder died on /healthz
  // after such a cp). Reads copy pages into a per-connection cache instead, left at SQLite's
  // default 2 MiB (cache_size=-2048): the responder opens one connection per request thread,
  // and 16 MiB each put a loaded 8-thread responder at 140 MiB of private memory against a
  // 32 MiB target (issue 12); pages missing from it come from the kernel's page cache, and
  // list pages read only the covering indexes (schema version 4).
  const char* kPragmas =
      "PRAGMA busy_timeout=5000;"
      "PRAGMA page_size=16384;"
      "PRAGMA journal_mode=WAL;"
      "PRAGMA foreign_keys=ON;"
      "PRAGMA synchronous=NORMAL;"
      "PRAGMA mmap_size=0;"
      "PRAGMA cache_size=-2048;";
  std::string detail;
  if (!db::Exec(db, kPragmas, &detail) ||
      sqlite3_create_function_v2(db, "fl_match_all", 2,
                                 SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                 MatchAllFunction, nullptr, nullptr, nullptr) != SQLITE_OK) {
    if (detail.empty()) detail = sqlite3_errmsg(db);
    if (error != nullptr) *error = "configure " + path + ": " + detail;
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

bool Migrate(sqlite3* db, std::string* error) {
  const int latest = LatestSchemaVersion();
  int version = db::UserVersion(db);
  if (version == latest) return true;  // the common case: no write lock needed
  db::Transaction transaction(db, nullptr);
  if (!transaction.ok()) {
    if (error != nullptr) *error = std::string("migrate: ") + sqlite3_errmsg(db);
    return false;
  }
  // Another process may have migrated while we waited for the lock.
  version = db::UserVersion(db);
  std::string detail;
  bool ok = version >= 0;
  if (!ok) {
    detail = sqlite3_errmsg(db);
  } else if (version > latest) {
    ok = false;
    detail = "database schema version " + std::to_string(version) +
             " is newer than this build supports (" + std::to_string(latest) + ")";
  }
  for (int v = version; ok && v < latest; ++v) {
    if (!db::Exec(db, kMigrations[v].sql, &detail)) {
      ok = false;
      detail = std::string(kMigrations[v].description) + ": " + detail;
    }
  }
  if (ok && version < latest) {
    std::string set_version = "PRAGMA user_version=" + std::to_string(latest);
    ok = db::Exec(db, set_version.c_str(), &detail);
  }
  if (ok && !transaction.Commit(nullptr)) {
    ok = false;
    detail = sqlite3_errmsg(db);
  }
  if (!ok && error != nullptr) *error = "migrate: " + detail;  // the transaction rolls back
  return ok;
}

}  // namespace frontline
