// The one SQLite layer of the stores (events/ and directory/): opening a database file with our
// pragmas, creating a new file with mode 0600 before SQLite opens it (SQLite gives the -wal and
// -shm files the main file's mode, so they are 0600 too), and small RAII helpers for
// statements and transactions that report errors as values.
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

// Binding and reading on a raw statement handle (what Statement does, for code that keeps its
// own handles). Bind* copy their arguments (SQLITE_TRANSIENT), so temporaries are safe; they
// return SQLite's result code.
int BindText(sqlite3_stmt* stmt, int index, std::string_view text);
int BindBlob(sqlite3_stmt* stmt, int index, std::string_view bytes);
int BindInt(sqlite3_stmt* stmt, int index, int64_t value);
// Column `index` as a string ("" for NULL).
std::string ColumnText(sqlite3_stmt* stmt, int index);
// Column `index` as bytes, valid until the statement moves on ("" for NULL).
std::string_view ColumnBlob(sqlite3_stmt* stmt, int index);

// What one step of a statement gave.
enum class StepResult { kRow, kDone, kError };

// A prepared statement, finalized when destroyed. Movable, so connections can cache them.
class Statement {
 public:
  // How long the statement is meant to live: kPersistent for statements a connection caches
  // (SQLITE_PREPARE_PERSISTENT), kTransient for one use.
  enum class Lifetime { kTransient, kPersistent };

  // No statement (ok() is false).
  Statement() = default;
  // Prepares `sql` on `db`; check ok() (error holds the reason when it failed).
  Statement(sqlite3* db, std::string_view sql, std::string* error,
            Lifetime lifetime = Lifetime::kTransient);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;

  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }
  sqlite3* db() const { return db_; }
  // Gives up the handle (the caller finalizes it); the Statement is then empty.
  sqlite3_stmt* release();
  void Bind(int index, std::string_view text);
  void Bind(int index, int64_t value);
  void BindBlob(int index, std::string_view bytes);
  void BindNull(int index);
  // Bind to the named parameter (":name") when the statement has it; else nothing.
  void BindNamed(const char* name, std::string_view text);
  void BindNamed(const char* name, int64_t value);
  // sqlite3_step: SQLITE_ROW, SQLITE_DONE or an error code.
  int Step();
  // Step as a value; on kError, Error(db(), ...) describes it.
  StepResult Next();
  // Step expecting SQLITE_DONE; false with `error` = Error(db, what) otherwise.
  [[nodiscard]] bool Run(std::string_view what, std::string* error);
  // Resets the statement for another Step() with new bindings.
  void Reset();
  std::string Text(int column) const;  // "" for NULL
  std::string_view Blob(int column) const;  // valid until the statement moves on; "" for NULL
  int64_t Int(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a (cached) statement and clears its bindings when the scope ends, so it is ready for
// the next use even after an early return.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.Reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& statement_;
};

// BEGIN IMMEDIATE (or BEGIN, a read transaction, for kDeferred) on construction; ROLLBACK at
// scope exit unless Commit() succeeded.
class Transaction {
 public:
  enum class Mode { kImmediate, kDeferred };
  Transaction(sqlite3* db, std::string* error, Mode mode = Mode::kImmediate);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool ok() const { return active_; }
  [[nodiscard]] bool Commit(std::string* error);
  // Rolls back now; false with `error` set when that fails. Nothing to do when not active.
  [[nodiscard]] bool Rollback(std::string* error);

 private:
  sqlite3* db_;
  bool active_ = false;
};

// The database's user_version, or -1 on error.
int UserVersion(sqlite3* db);

}  // namespace db
}  // namespace frontline

#endif  // FRONTLINE_DB_SQLITE_H_
