// The names directory/import.cpp uses for the shared SQLite layer (db/sqlite.h), kept while
// import moves onto db::Statement itself; new code uses db/sqlite.h directly. Stateless; the
// objects they touch belong to one connection, which only one thread may use at a time.
#ifndef FRONTLINE_DIRECTORY_SQLITE_UTIL_H_
#define FRONTLINE_DIRECTORY_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "db/sqlite.h"

namespace frontline {

using db::BindBlob;
using db::BindInt;
using db::BindText;
using db::ColumnBlob;
using db::ColumnText;

// Resets a raw cached statement and clears its bindings when the scope ends.
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

inline std::string SqliteError(sqlite3* db, std::string_view what) { return db::Error(db, what); }

inline bool ExecSql(sqlite3* db, const char* sql, std::string* error) {
  return db::Exec(db, sql, error);
}

// A raw statement that lives as long as the connection (finalize it); nullptr with `error`.
inline sqlite3_stmt* PreparePersistent(sqlite3* db, std::string_view sql, std::string* error) {
  return db::Statement(db, sql, error, db::Statement::Lifetime::kPersistent).release();
}

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_SQLITE_UTIL_H_
