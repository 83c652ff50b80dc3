// The one PostgreSQL layer of the stores (libpq): a connection opened from any libpq connection
// string or URI (so PG* variables, .pgpass, service files and multi-host URIs with
// target_session_attrs work as libpq documents them) with bounded waits (connect_timeout,
// statement_timeout, lock_timeout) and search_path set to our schema; parameterised queries
// with text or binary parameters; statements prepared once per connection; and versioned
// migrations that several processes may run at once (an advisory lock serialises them).
//
// Errors are values: a Result says whether it succeeded and why not. A connection that broke
// (server restart, failover, network) answers errors from then on; ThreadConnections drops it
// and connects again, with a backoff.
//
// Thread-safety: the free functions are safe from any thread. A Connection, like libpq's
// PGconn, must be used by one thread at a time.
#ifndef FRONTLINE_DB_POSTGRES_H_
#define FRONTLINE_DB_POSTGRES_H_

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace frontline {
namespace pg {

// True for the values of --directory that name a PostgreSQL database: "postgresql://…" and
// "postgres://…" URIs (libpq's own spelling), and "postgresql:" followed by key=value pairs
// (e.g. "postgresql:service=frontline" for a service file entry, or "postgresql:" alone for
// PG* variables only).
bool IsConnectionString(std::string_view directory);
// What to give libpq for such a value: URIs as they are, "postgresql:…" without its prefix.
std::string LibpqConnInfo(std::string_view directory);
// `conninfo` with any password (URI userinfo or password=…) replaced by "****", for logs and
// check-config.
std::string MaskPassword(std::string_view conninfo);

struct ConnectOptions {
  std::string conninfo;             // as LibpqConnInfo gives it
  std::string schema = "frontline";  // search_path; created by Migrate
  int connect_timeout_s = 3;        // per host tried (libpq's connect_timeout)
  int statement_timeout_ms = 3000;  // well under nginx's fastcgi_read_timeout (4 s)
  int lock_timeout_ms = 2000;
  std::string application_name = "frontline-fcgi";
  // false: the session's commits return before their WAL is flushed (synchronous_commit =
  // off). Still atomic and consistent; a crash of the database server may lose the last few
  // hundred milliseconds of them, so only for writes that may be lost and done again.
  bool synchronous_commit = true;
};

// One parameter of a query: text (the default), binary bytes (bytea), or NULL.
struct Param {
  Param(std::string_view v) : value(v) {}  // NOLINT: implicit, so params read as a list
  Param(const std::string& v) : value(v) {}  // NOLINT
  Param(const char* v) : value(v) {}  // NOLINT
  static Param Binary(std::string_view bytes) {
    Param p(bytes);
    p.binary = true;
    return p;
  }
  std::string_view value;
  bool binary = false;
};

// A query's outcome, owning libpq's PGresult. Rows are read as text (bytea arrives in binary
// only when the query asked for binary results; see Connection::Query).
class Result {
 public:
  Result() = default;
  Result(PGresult* result, std::string error) : result_(result), error_(std::move(error)) {}
  ~Result();
  Result(Result&& other) noexcept;
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  // Commands and queries that succeeded (PGRES_COMMAND_OK or PGRES_TUPLES_OK).
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int rows() const;
  bool IsNull(int row, int column) const;
  std::string_view Text(int row, int column) const;  // valid while the Result lives
  int64_t Int(int row, int column) const;            // 0 for NULL or non-numbers
  int64_t affected() const;                          // rows an INSERT/UPDATE/DELETE touched

 private:
  PGresult* result_ = nullptr;
  std::string error_;
};

class Connection {
 public:
  // Connects and sets the session's timeouts and search_path. nullptr with `error` set (the
  // password masked) when the server cannot be reached or refuses.
  static std::unique_ptr<Connection> Open(const ConnectOptions& options, std::string* error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (one or more statements, no parameters).
  Result Exec(const char* sql);
  // Runs one statement with $1… parameters; binary_results asks for every column in binary
  // (for bytea keys read back as bytes).
  Result Query(const char* sql, const std::vector<Param>& params = {}, bool binary_results = false);
  // As Query, through a statement prepared on this connection the first time `name` is used.
  Result Prepared(const char* name, const char* sql, const std::vector<Param>& params = {},
                  bool binary_results = false);

  // True once libpq has seen the connection break; it never works again.
  bool broken() const;
  // The server's version as libpq reports it (e.g. 150006 for 15.6).
  int server_version() const;
  PGconn* get() const { return conn_; }

 private:
  Connection(PGconn* conn, ConnectOptions options) : conn_(conn), options_(std::move(options)) {}
  [[nodiscard]] bool Configure(std::string* error);

  PGconn* conn_;
  ConnectOptions options_;
  std::set<std::string> prepared_;
};

// One connection per calling thread to one database, opened lazily (statements prepared on it
// stay with it). A connection that broke is dropped, and the thread's next statement
// connects again, but not sooner than a backoff after a failed connect (100 ms doubling to
// 2 s, shared by all threads): a database that is down costs each request one quick failure,
// not a connect timeout. Thread-safe.
class ThreadConnections {
 public:
  explicit ThreadConnections(ConnectOptions options) : options_(std::move(options)) {}
  // Makes `conn` the calling thread's connection.
  void Adopt(std::unique_ptr<Connection> conn);
  // Connection::Prepared on the calling thread's connection (connecting when it has none).
  // When that connection turns out broken (the server restarted, a failover), it is dropped
  // and the statement runs once more on a new one, so a database that came back costs no
  // request a failure; for statements that may run twice. A Result whose error says why when
  // there is no connection.
  Result Prepared(const char* name, const char* sql, const std::vector<Param>& params = {},
                  bool binary_results = false);
  const ConnectOptions& options() const { return options_; }

 private:
  // The calling thread's connection, connecting when it has none; nullptr with `error` set.
  Connection* Get(std::string* error);
  // Drops the calling thread's connection when it is broken.
  void DropIfBroken();

  const ConnectOptions options_;
  std::mutex mu_;  // guards everything below; never held while connecting
  std::map<std::thread::id, std::unique_ptr<Connection>> connections_;
  std::chrono::steady_clock::time_point retry_after_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_connect_error_;
};

// Rows in PostgreSQL's binary COPY format (COPY … FROM STDIN (FORMAT binary)): a header, then
// per row the field count and each field as a 32-bit length and its bytes (text and bytea as
// they are, bigint as 8 bytes, all big-endian), then a trailer.
class CopyRows {
 public:
  CopyRows() { Header(); }

  void Row(int16_t fields) { Int16(fields); }
  void Bytes(std::string_view value) {
    Int32(static_cast<int32_t>(value.size()));
    data_.append(value.data(), value.size());
  }
  void Int64(int64_t value) {
    Int32(8);
    for (int shift = 56; shift >= 0; shift -= 8) {
      data_.push_back(static_cast<char>((static_cast<uint64_t>(value) >> shift) & 0xff));
    }
  }
  static constexpr uint32_t kByteaOid = 17;
  static constexpr uint32_t kTextOid = 25;
  // A one-dimensional array without NULLs of the type `element_oid` (its values already in
  // that type's binary form: text and bytea are their bytes), as array_recv reads it.
  void Array(uint32_t element_oid, const std::vector<std::string>& values) {
    size_t length = 12 + (values.empty() ? 0 : 8);
    for (const std::string& v : values) length += 4 + v.size();
    Int32(static_cast<int32_t>(length));
    Int32(values.empty() ? 0 : 1);  // dimensions
    Int32(0);                       // no NULL elements
    Int32(static_cast<int32_t>(element_oid));
    if (!values.empty()) {
      Int32(static_cast<int32_t>(values.size()));
      Int32(1);  // lower bound
    }
    for (const std::string& v : values) {
      Int32(static_cast<int32_t>(v.size()));
      data_.append(v);
    }
  }
  // What was written since the last Take (the header first time), emptied.
  std::string Take() { return std::exchange(data_, std::string()); }
  size_t size() const { return data_.size(); }
  void Trailer() { Int16(-1); }

 private:
  void Header() {
    static const char kSignature[] = "PGCOPY\n\377\r\n";
    data_.append(kSignature, sizeof(kSignature));  // with its NUL: 11 bytes
    Int32(0);                                      // flags
    Int32(0);                                      // header extension length
  }
  void Int16(int16_t v) {
    data_.push_back(static_cast<char>((static_cast<uint16_t>(v) >> 8) & 0xff));
    data_.push_back(static_cast<char>(static_cast<uint16_t>(v) & 0xff));
  }
  void Int32(int32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      data_.push_back(static_cast<char>((static_cast<uint32_t>(v) >> shift) & 0xff));
    }
  }

  std::string data_;
};

// Pieces of about this size go to the server at a time.
inline constexpr size_t kCopyChunk = 1 << 20;
// COPY … FROM STDIN on `conn`: StartCopy runs `sql` (true once the server waits for data),
// SendCopy sends bytes, EndCopy ends it and reads its outcome, AbortCopy ends it with an error
// (the transaction is then aborted). CopyIn does all of it for data held whole. False with
// `error` set.
[[nodiscard]] bool StartCopy(Connection& conn, const char* sql, std::string* error);
[[nodiscard]] bool SendCopy(Connection& conn, std::string_view data, std::string* error);
[[nodiscard]] bool EndCopy(Connection& conn, std::string* error);
void AbortCopy(Connection& conn, const char* reason);
[[nodiscard]] bool CopyIn(Connection& conn, const char* sql, std::string_view data,
                          std::string* error);

// One migration: a description for errors and the SQL that takes the schema one version up.
struct Migration {
  const char* description;
  const char* sql;
};

// Brings `component`'s tables in options.schema to migrations.size(): creates the schema and
// the frontline_versions(component, version) table when missing, then applies the missing
// migrations in one transaction under a transaction-level advisory lock for the schema, so
// processes starting at once apply each migration exactly once. Fails when the database is
// newer than this binary (a version above migrations.size()). False with `error` set.
[[nodiscard]] bool Migrate(Connection& conn, const std::string& schema, const char* component,
                           const std::vector<Migration>& migrations, std::string* error);
// The version of `component` in `schema`: 0 when none was applied yet, -1 with `error` set
// on a database error. Reads only.
int SchemaVersion(Connection& conn, const std::string& schema, const char* component,
                  std::string* error);
// `name` quoted as an SQL identifier ("a""b").
std::string QuoteIdentifier(std::string_view name);

}  // namespace pg
}  // namespace frontline

#endif  // FRONTLINE_DB_POSTGRES_H_
