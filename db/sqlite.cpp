#include "db/sqlite.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

namespace frontline {
namespace db {

bool CreatePrivateFile(const std::string& path, std::string* error) {
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == EEXIST) return true;
  if (error != nullptr) *error = "create " + path + ": " + std::strerror(errno);
  return false;
}

bool FolderReadableByOthers(const std::string& path, std::string* folder) {
  const size_t slash = path.find_last_of('/');
  *folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st;
  if (::stat(folder->c_str(), &st) != 0) return false;
  return (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

std::string Error(sqlite3* db, std::string_view what) {
  std::string out(what);
  out += ": ";
  out += db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  return out;
}

bool Exec(sqlite3* db, const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    if (error != nullptr) *error = message != nullptr ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return false;
  }
  return true;
}

namespace {

int RetryWhileBusy(void* timeout, int count) {
  // Each wait for a lock starts at count 0 on the thread running the statement.
  thread_local std::chrono::steady_clock::time_point started;
  const auto now = std::chrono::steady_clock::now();
  if (count == 0) started = now;
  if (now - started >= std::chrono::milliseconds(reinterpret_cast<intptr_t>(timeout))) return 0;
  std::this_thread::sleep_for(count < 200 ? std::chrono::microseconds(200)
                                          : std::chrono::microseconds(2000));
  return 1;
}

}  // namespace

void SetBusyTimeout(sqlite3* db, int timeout_ms) {
  sqlite3_busy_handler(db, RetryWhileBusy,
                       reinterpret_cast<void*>(static_cast<intptr_t>(timeout_ms)));
}

sqlite3* Open(const std::string& path, const OpenOptions& options, std::string* error) {
  if (options.create && !CreatePrivateFile(path, error)) return nullptr;
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    if (error != nullptr) *error = Error(db, "open " + path);
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_extended_result_codes(db, 1);
  SetBusyTimeout(db, options.busy_timeout_ms);
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=";
  pragmas += options.synchronous == Synchronous::kFull ? "FULL;" : "NORMAL;";
  std::string detail;
  if (!Exec(db, pragmas.c_str(), &detail)) {
    if (error != nullptr) *error = "configure " + path + ": " + detail;
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

int BindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

int BindBlob(sqlite3_stmt* stmt, int index, std::string_view bytes) {
  // An empty view may have no data pointer, which SQLite would bind as NULL.
  if (bytes.empty()) return sqlite3_bind_zeroblob(stmt, index, 0);
  return sqlite3_bind_blob64(stmt, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
}

int BindInt(sqlite3_stmt* stmt, int index, int64_t value) {
  return sqlite3_bind_int64(stmt, index, value);
}

std::string ColumnText(sqlite3_stmt* stmt, int index) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index));
  if (p == nullptr) return std::string();
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
}

std::string_view ColumnBlob(sqlite3_stmt* stmt, int index) {
  const void* p = sqlite3_column_blob(stmt, index);
  if (p == nullptr) return std::string_view();
  return std::string_view(static_cast<const char*>(p),
                          static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
}

Statement::Statement(sqlite3* db, std::string_view sql, std::string* error, Lifetime lifetime)
    : db_(db) {
  const unsigned flags = lifetime == Lifetime::kPersistent ? SQLITE_PREPARE_PERSISTENT : 0;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt_, nullptr) !=
      SQLITE_OK) {
    if (error != nullptr) *error = Error(db, "prepare");
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

sqlite3_stmt* Statement::release() {
  sqlite3_stmt* stmt = stmt_;
  stmt_ = nullptr;
  return stmt;
}

void Statement::Bind(int index, std::string_view text) { BindText(stmt_, index, text); }

void Statement::Bind(int index, int64_t value) { BindInt(stmt_, index, value); }

void Statement::BindBlob(int index, std::string_view bytes) {
  db::BindBlob(stmt_, index, bytes);
}

void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

void Statement::BindNamed(const char* name, std::string_view text) {
  const int index = sqlite3_bind_parameter_index(stmt_, name);
  if (index > 0) Bind(index, text);
}

void Statement::BindNamed(const char* name, int64_t value) {
  const int index = sqlite3_bind_parameter_index(stmt_, name);
  if (index > 0) Bind(index, value);
}

int Statement::Step() { return sqlite3_step(stmt_); }

StepResult Statement::Next() {
  switch (Step()) {
    case SQLITE_ROW:
      return StepResult::kRow;
    case SQLITE_DONE:
      return StepResult::kDone;
    default:
      return StepResult::kError;
  }
}

bool Statement::Run(std::string_view what, std::string* error) {
  if (Step() == SQLITE_DONE) return true;
  if (error != nullptr) *error = Error(db_, what);
  return false;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const { return ColumnText(stmt_, column); }

std::string_view Statement::Blob(int column) const { return ColumnBlob(stmt_, column); }

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Transaction::Transaction(sqlite3* db, std::string* error, Mode mode) : db_(db) {
  std::string detail;
  active_ = Exec(db_, mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN", &detail);
  if (!active_ && error != nullptr) *error = "begin: " + detail;
}

Transaction::~Transaction() {
  if (active_) (void)Exec(db_, "ROLLBACK", nullptr);
}

bool Transaction::Commit(std::string* error) {
  std::string detail;
  if (!Exec(db_, "COMMIT", &detail)) {
    if (error != nullptr) *error = "commit: " + detail;
    return false;  // the destructor rolls back
  }
  active_ = false;
  return true;
}

bool Transaction::Rollback(std::string* error) {
  if (!active_) return true;
  active_ = false;
  std::string detail;
  if (!Exec(db_, "ROLLBACK", &detail)) {
    if (error != nullptr) *error = "rollback: " + detail;
    return false;
  }
  return true;
}

int UserVersion(sqlite3* db) {
  Statement stmt(db, "PRAGMA user_version", nullptr);
  if (!stmt.ok() || stmt.Next() != StepResult::kRow) return -1;
  return static_cast<int>(stmt.Int(0));
}

}  // namespace db
}  // namespace frontline
