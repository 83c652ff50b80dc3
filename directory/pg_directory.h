// The Directory backed by PostgreSQL (pg_schema.h), shared by every responder on every host.
// The same answers as SqliteDirectory: the same sort keys (bytea, compared bytewise), page
// tokens, search terms and matching (search.h: the index narrows the candidates, MatchesAllTerms
// decides), so a list or a search reads the same on both backends.
//
// Thread-safety: all public methods may be called from any number of threads at once. Each
// calling thread gets its own connection (opened lazily) with its own prepared statements.
//
// Failures: a query that fails (server down, connection lost, statement or lock timeout) or a
// row that cannot be decoded answers unavailable, never absent. A broken connection is dropped
// and the next call connects again, with a backoff (db/postgres.h ThreadConnections).
#ifndef FRONTLINE_DIRECTORY_PG_DIRECTORY_H_
#define FRONTLINE_DIRECTORY_PG_DIRECTORY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "db/postgres.h"
#include "directory/directory.h"
#include "directory/sqlite_keys.h"

namespace frontline {

class PgDirectory : public Directory {
 public:
  // Connects to `connect.conninfo`, creates or migrates the directory's tables in
  // connect.schema, and brings the stored sort and search keys to those of `collation`
  // ("" = root) and this build's search tokens, rebuilding them when they are not (pg_keys.h;
  // `keys` (may be null) says what was done). nullptr with `error` set.
  static std::unique_ptr<PgDirectory> Open(const pg::ConnectOptions& connect,
                                           const std::string& collation, KeysReport* keys,
                                           std::string* error);
  ~PgDirectory() override;
  PgDirectory(const PgDirectory&) = delete;
  PgDirectory& operator=(const PgDirectory&) = delete;

  Lookup<Customer> FindById(std::string_view customer_id) override;
  Lookup<Customer> FindByAddress(std::string_view address) override;
  ListResult ListCustomers(const ListRequest& request) override;
  Lookup<Worker> FindWorker(std::string_view identity) override;
  Lookup<std::vector<std::string>> WorkersWithCustomers() override;
  [[nodiscard]] bool Ping(std::string* error) override;

 private:
  explicit PgDirectory(pg::ConnectOptions connect) : connections_(std::move(connect)) {}
  Lookup<Customer> FindOne(const char* name, const char* sql, std::string_view key);

  pg::ThreadConnections connections_;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_PG_DIRECTORY_H_
