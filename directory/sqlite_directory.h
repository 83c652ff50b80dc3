// The Directory backed by one SQLite file (schema.h), shared by every responder process on the
// host and by `import` running at the same time.
//
// Thread-safety: all public methods may be called from any number of threads at once. Each
// calling thread gets its own connection (opened lazily) with its own cached prepared
// statements; connections are never shared between threads. Reads that touch several tables
// run in one read transaction, and WAL gives each one a snapshot, so a reader never sees a
// half-applied import.
//
// Failures: every SQLite failure (busy after the timeout, I/O error, corrupt or not a database,
// cannot open, ...) answers unavailable, never absent; so does a row whose channels or links
// cannot be decoded (the error names its customer_id). Each failure counts in error_count()
// and is kept in last_error(). Recovery without a restart: after a failure the calling thread's
// connection (and its statements) is closed, so its next call opens the file afresh. Before
// each call the connection also checks, cheaply, that the file at `path` is still the one it
// opened (not renamed over or deleted) and that its header is unchanged and still SQLite's;
// otherwise it reopens (a file replaced on disk is then seen, and a stale page cache is
// dropped) or, when the file is no database, answers unavailable.
#ifndef FRONTLINE_DIRECTORY_SQLITE_DIRECTORY_H_
#define FRONTLINE_DIRECTORY_SQLITE_DIRECTORY_H_

#include <sqlite3.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "db/sqlite.h"
#include "directory/directory.h"
#include "directory/sqlite_keys.h"

namespace frontline {

class SqliteDirectory : public Directory {
 public:
  // Opens the database at `path`, creating the file and the schema when missing and applying
  // pending migrations. Returns nullptr with `error` set when the file cannot be opened or
  // migrated (e.g. an unwritable directory, or a schema newer than this build).
  static std::unique_ptr<SqliteDirectory> Open(const std::string& path, std::string* error) {
    return Open(path, "", nullptr, error);
  }
  // The same, and the stored sort and search keys are brought to those of the collation for
  // BCP 47 tag `collation` ("" = root; collation.h) and this build's search tokens, rebuilt
  // when they are not (sqlite_keys.h EnsureKeys; `keys` (may be null) says what was done).
  // Fails also for an unknown collation.
  static std::unique_ptr<SqliteDirectory> Open(const std::string& path,
                                               const std::string& collation, KeysReport* keys,
                                               std::string* error);

  // Closes every thread's connection. No other thread may still be using the directory.
  ~SqliteDirectory() override;

  SqliteDirectory(const SqliteDirectory&) = delete;
  SqliteDirectory& operator=(const SqliteDirectory&) = delete;

  Lookup<Customer> FindById(std::string_view customer_id) override;
  Lookup<Customer> FindByAddress(std::string_view address) override;
  // Status kBadPageToken when page_token is not one of ours, kBadAnchor when the legacy anchor
  // names no customer, kUnavailable on a database failure. page_size is clamped to 1..1000.
  ListResult ListCustomers(const ListRequest& request) override;
  Lookup<Worker> FindWorker(std::string_view identity) override;
  Lookup<std::vector<std::string>> WorkersWithCustomers() override;
  [[nodiscard]] bool Ping(std::string* error) override;

  // The calling thread's connection to the directory database (opened and configured like all
  // directory connections, see OpenConnection in schema.h: WAL, busy timeout, foreign keys,
  // synchronous=NORMAL, no memory map), for other components that keep their tables in the same
  // file. Owned by the directory: do not close it; use it only on the calling thread; it lives
  // until the directory is destroyed or until a directory call on this thread fails or finds
  // the file replaced (then it is closed and the next call opens another). Statements the
  // caller prepares on it must be finalized before that. Returns nullptr with `error` set when
  // the connection cannot be opened.
  sqlite3* ThreadConnection(std::string* error = nullptr);

  // The database file this directory was opened on.
  const std::string& path() const { return path_; }

  // Number of failed database operations since Open, and the last failure's message.
  uint64_t error_count() const { return error_count_.load(std::memory_order_relaxed); }
  std::string last_error() const;

 private:
  struct Connection;

  explicit SqliteDirectory(std::string path);
  // Wraps the open connection `db` (closed on failure) and notes its file's header; nullptr
  // with `error` set when the file is not a SQLite database.
  static std::unique_ptr<Connection> NewConnection(sqlite3* db, const std::string& path,
                                                   std::string* error);
  // The calling thread's connection, opened when missing and checked against the file on
  // disk (see above); nullptr with `error` set when the database cannot be used.
  Connection* ThisThread(std::string* error);
  // Closes the calling thread's connection, so the next call opens the file again.
  void DropThisThread();
  void RecordError(const std::string& error);
  // Records `error` and drops the calling thread's connection: the failure may be the file's,
  // and a fresh connection is how the directory recovers when the database does.
  void Fail(const std::string& error);
  // The customer of the stepped statement's row, absent when there is no row; unavailable
  // with `*db_failed` set on a database error, without it for a row that cannot be decoded.
  Lookup<Customer> LoadCustomer(Connection* c, db::Statement& stmt, bool* db_failed);
  // The customer the prepared `statement` (a StatementId) finds for `key`, read in one
  // snapshot.
  Lookup<Customer> FindOne(int statement, std::string_view key);

  const std::string path_;
  mutable std::mutex mu_;  // guards connections_ and last_error_
  std::unordered_map<std::thread::id, std::unique_ptr<Connection>> connections_;
  std::string last_error_;
  std::atomic<uint64_t> error_count_{0};
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SQLITE_DIRECTORY_H_
