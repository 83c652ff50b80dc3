// Connection-level SQLite helpers for the stores (events/ now; directory/ later): opening a
// database file with our pragmas, creating a new file with mode 0600 before SQLite opens it
// (SQLite gives the -wal and -shm files the main file's mode, so they are 0600 too), and small
// RAII helpers for statements and transactions that report errors as values.
//
// Thread-safety: the free functions are safe from any thread. A connection, and the Statement
// and Transaction objects made on it, must be used by one thread at a time.
#ifndef FRONTLINE_DB_SQLITE_H_
#define FRONTLINE_DB_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace frontline {
namespace db {

// Creates `path` empty with mode 0600 (O_CREAT|O_EXCL, so an existing file is never touched)
// when it does not exist, so SQLite then opens a file that only its owner can read. True when
// the file exists afterwards (or `path` is not a plain file name: "", ":memory:", "file:" URIs);
// false with `error` set when it cannot be created.
[[nodiscard]] bool CreatePrivateFile(const std::string& path, std::string* error);

// True when the folder holding the database file `path` can be read by its group or by others;
// `*folder` is set to that folder either way. False too when it cannot be checked.
bool FolderReadableByOthers(const std::string& path, std::string* folder);

enum class Synchronous { kNormal, kFull };

struct OpenOptions {
  int busy_timeout_ms = 5000;  // how long one statement waits for another connection's lock
  Synchronous synchronous = Synchronous::kNormal;
  bool create = true;  // create the file (0600) when missing; else fail
};

// Makes `db` wait up to `timeout_ms` for another connection's lock, retrying every 0.2 ms at
// first and every 2 ms later. SQLite's own busy timeout sleeps ever longer (up to 100 ms) and is
// not woken when the lock frees, which turns brief contention between the connections of one
// process (group commit, dispatcher workers) into tens of milliseconds of latency.
void SetBusyTimeout(sqlite3* db, int timeout_ms);

// Opens `path` in WAL mode with foreign keys on and the options' busy timeout and synchronous
// level; extended result codes on. nullptr with `error` set on failure.
sqlite3* Open(const std::string& path, const OpenOptions& options, std::string* error);

// "what: sqlite message" for the connection's last error.
std::string Error(sqlite3* db, std::string_view what);

// Runs one or more SQL statements without results; false with `error` set on failure.
[[nodiscard]] bool Exec(sqlite3* db, const char* sql, std::string* error);

// A prepared statement, finalized at scope exit. Bind* copy their arguments.
class Statement {
 public:
  // Prepares `sql` on `db`; check ok() (error holds the reason when it failed).
  Statement(sqlite3* db, std::string_view sql, std::string* error);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }
  void Bind(int index, std::string_view text);
  void Bind(int index, int64_t value);
  void BindNull(int index);
  // sqlite3_step: SQLITE_ROW, SQLITE_DONE or an error code.
  int Step();
  // Step expecting SQLITE_DONE; false with `error` = Error(db, what) otherwise.
  [[nodiscard]] bool Run(std::string_view what, std::string* error);
  // Resets the statement for another Step() with new bindings.
  void Reset();
  std::string Text(int column) const;  // "" for NULL
  int64_t Int(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction; ROLLBACK at scope exit unless Commit() succeeded.
class Transaction {
 public:
  Transaction(sqlite3* db, std::string* error);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool ok() const { return active_; }
  [[nodiscard]] bool Commit(std::string* error);

 private:
  sqlite3* db_;
  bool active_ = false;
};

// The database's user_version, or -1 on error.
int UserVersion(sqlite3* db);

}  // namespace db
}  // namespace frontline

#endif  // FRONTLINE_DB_SQLITE_H_
