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

Statement::Statement(sqlite3* db, std::string_view sql, std::string* error) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    if (error != nullptr) *error = Error(db, "prepare");
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

int Statement::Step() { return sqlite3_step(stmt_); }

bool Statement::Run(std::string_view what, std::string* error) {
  if (Step() == SQLITE_DONE) return true;
  if (error != nullptr) *error = Error(db_, what);
  return false;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (p == nullptr) return std::string();
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Transaction::Transaction(sqlite3* db, std::string* error) : db_(db) {
  std::string detail;
  active_ = Exec(db_, "BEGIN IMMEDIATE", &detail);
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

int UserVersion(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) != SQLITE_OK) return -1;
  int version = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) version = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  return version;
}

}  // namespace db
}  // namespace frontline
