// Internal helpers for the SQLite-backed code (directory/): binding,
// reading columns, running SQL, resetting cached statements. Stateless; the objects they touch
// belong to one connection, which only one thread may use at a time.
#ifndef FRONTLINE_DIRECTORY_SQLITE_UTIL_H_
#define FRONTLINE_DIRECTORY_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace frontline {

// Binds a copy of `text` as TEXT (SQLITE_TRANSIENT), so temporaries are safe.
inline int BindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

// Binds a copy of `bytes` as a BLOB.
inline int BindBlob(sqlite3_stmt* stmt, int index, std::string_view bytes) {
  return sqlite3_bind_blob64(stmt, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
}

inline int BindInt(sqlite3_stmt* stmt, int index, int64_t value) {
  return sqlite3_bind_int64(stmt, index, value);
}

// Column `index` as a string ("" for NULL).
inline std::string ColumnText(sqlite3_stmt* stmt, int index) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index));
  if (p == nullptr) return std::string();
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
}

// Column `index` as bytes, valid until the statement moves on ("" for NULL).
inline std::string_view ColumnBlob(sqlite3_stmt* stmt, int index) {
  const void* p = sqlite3_column_blob(stmt, index);
  if (p == nullptr) return std::string_view();
  return std::string_view(static_cast<const char*>(p),
                          static_cast<size_t>(sqlite3_column_bytes(stmt, index)));
}

// Resets a cached statement and clears its bindings when the scope ends, so it is always ready
// for the next use even on early returns.
class StatementReset {
 public:
  explicit StatementReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// "what: sqlite message" for the connection's last error.
inline std::string SqliteError(sqlite3* db, std::string_view what) {
  std::string out(what);
  out += ": ";
  out += db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  return out;
}

// Runs one or more SQL statements without results; false with `error` set on failure.
inline bool ExecSql(sqlite3* db, const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    if (error != nullptr) *error = message != nullptr ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return false;
  }
  return true;
}

// Prepares a statement that lives as long as the connection.
inline sqlite3_stmt* PreparePersistent(sqlite3* db, std::string_view sql, std::string* error) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    if (error != nullptr) *error = SqliteError(db, "prepare");
    sqlite3_finalize(stmt);
    return nullptr;
  }
  return stmt;
}

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SQLITE_UTIL_H_
