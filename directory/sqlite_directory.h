// The Directory backed by one SQLite file (schema.h), shared by every responder process on the
// host and by `import` running at the same time.
//
// Thread-safety: all public methods may be called from any number of threads at once. Each
// calling thread gets its own connection (opened lazily, kept until the directory is destroyed)
// with its own cached prepared statements; connections are never shared between threads.
// Reads that touch several tables run in one read transaction, and WAL gives each one a
// snapshot, so a reader never sees a half-applied import.
//
// Lookups have no error channel in the Directory interface: a database failure makes FindById
// and friends answer "not found" / an empty page, counts in error_count() and is kept in
// last_error(); Ping() reports it to /healthz.
#ifndef FRONTLINE_DIRECTORY_SQLITE_DIRECTORY_H_
#define FRONTLINE_DIRECTORY_SQLITE_DIRECTORY_H_

#include <sqlite3.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "directory/directory.h"

namespace frontline {

class SqliteDirectory : public Directory {
 public:
  // Opens the database at `path`, creating the file and the schema when missing and applying
  // pending migrations. Returns nullptr with `error` set when the file cannot be opened or
  // migrated (e.g. an unwritable directory, or a schema newer than this build).
  static std::unique_ptr<SqliteDirectory> Open(const std::string& path, std::string* error);

  // Closes every thread's connection. No other thread may still be using the directory.
  ~SqliteDirectory() override;

  SqliteDirectory(const SqliteDirectory&) = delete;
  SqliteDirectory& operator=(const SqliteDirectory&) = delete;

  std::optional<Customer> FindById(std::string_view customer_id) override;
  std::optional<Customer> FindByAddress(std::string_view address) override;
  // Status kBadPageToken when page_token is not one of ours, kBadAnchor when the legacy anchor
  // names no customer. page_size is clamped to 1..1000.
  ListResult ListCustomers(const ListRequest& request) override;
  std::optional<Worker> FindWorker(std::string_view identity) override;
  std::vector<std::string> WorkersWithCustomers() override;
  bool Ping(std::string* error) override;

  // The calling thread's connection to the directory database (opened and configured like all
  // directory connections, see OpenConnection in schema.h: WAL, busy timeout, foreign keys,
  // synchronous=NORMAL, memory map), for other components that keep their tables in the same
  // file (the outbox). Owned by the directory: do not close it; use it only on the calling thread;
  // it lives until the directory is destroyed. Statements the caller prepares on it must be
  // finalized before that. Returns nullptr with `error` set when the connection cannot be opened.
  sqlite3* ThreadConnection(std::string* error = nullptr);

  // The database file this directory was opened on.
  const std::string& path() const { return path_; }

  // Number of failed database operations since Open, and the last failure's message.
  uint64_t error_count() const { return error_count_.load(std::memory_order_relaxed); }
  std::string last_error() const;

 private:
  struct Connection;

  explicit SqliteDirectory(std::string path);
  Connection* ThisThread(std::string* error);
  void RecordError(const std::string& error);
  std::optional<Customer> LoadCustomer(Connection* c, sqlite3_stmt* stmt, std::string* error);
  // The customer the prepared `statement` (a StatementId) finds for `key`, read in one
  // snapshot; nullopt when there is none or on a database error (recorded).
  std::optional<Customer> FindOne(int statement, std::string_view key);

  const std::string path_;
  mutable std::mutex mu_;  // guards connections_ and last_error_
  std::unordered_map<std::thread::id, std::unique_ptr<Connection>> connections_;
  std::string last_error_;
  std::atomic<uint64_t> error_count_{0};
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SQLITE_DIRECTORY_H_
