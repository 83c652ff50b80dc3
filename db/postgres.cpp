#include "db/postgres.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace frontline {
namespace pg {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// libpq's message on one line: its line breaks and tabs become single spaces, the trailing
// ones go.
std::string Trimmed(const char* message) {
  std::string out;
  for (const char* p = message != nullptr ? message : ""; *p != '\0'; ++p) {
    const bool space = *p == '\n' || *p == '\t' || *p == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : *p;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Result MakeResult(PGconn* conn, PGresult* result) {
  if (result == nullptr) return Result(nullptr, "postgresql: " + Trimmed(PQerrorMessage(conn)));
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Result(result, "");
  std::string error = Trimmed(PQresultErrorMessage(result));
  if (error.empty()) error = PQresStatus(status);
  return Result(result, "postgresql: " + error);
}

}  // namespace

bool IsConnectionString(std::string_view directory) {
  return StartsWith(directory, "postgresql://") || StartsWith(directory, "postgres://") ||
         StartsWith(directory, "postgresql:");
}

std::string LibpqConnInfo(std::string_view directory) {
  if (StartsWith(directory, "postgresql://") || StartsWith(directory, "postgres://")) {
    return std::string(directory);
  }
  if (StartsWith(directory, "postgresql:")) {
    return std::string(directory.substr(std::strlen("postgresql:")));
  }
  return std::string(directory);
}

std::string MaskPassword(std::string_view conninfo) {
  std::string out(conninfo);
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    // URI: userinfo is what comes before the last '@' of the authority (hosts may be a list).
    const size_t authority = scheme + 3;
    size_t end = out.find_first_of("/?", authority);
    if (end == std::string::npos) end = out.size();
    const size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "****");
    }
  }
  // password=… as a URI query parameter or a key=value pair.
  for (size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&' && out[pos - 1] != ' ') continue;
    const size_t value = pos + std::strlen("password=");
    size_t end = out.find_first_of("& ", value);
    if (end == std::string::npos) end = out.size();
    out.replace(value, end - value, "****");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Result

Result::~Result() {
  if (result_ != nullptr) PQclear(result_);
}

Result::Result(Result&& other) noexcept
    : result_(std::exchange(other.result_, nullptr)), error_(std::move(other.error_)) {}

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
    error_ = std::move(other.error_);
  }
  return *this;
}

int Result::rows() const { return result_ != nullptr && ok() ? PQntuples(result_) : 0; }

bool Result::IsNull(int row, int column) const {
  return result_ == nullptr || PQgetisnull(result_, row, column) != 0;
}

std::string_view Result::Text(int row, int column) const {
  if (IsNull(row, column)) return {};
  return std::string_view(PQgetvalue(result_, row, column),
                          static_cast<size_t>(PQgetlength(result_, row, column)));
}

int64_t Result::Int(int row, int column) const {
  if (IsNull(row, column)) return 0;
  return std::strtoll(PQgetvalue(result_, row, column), nullptr, 10);
}

int64_t Result::affected() const {
  if (result_ == nullptr) return 0;
  return std::strtoll(PQcmdTuples(result_), nullptr, 10);
}

// ---------------------------------------------------------------------------------------------
// Connection

std::unique_ptr<Connection> Connection::Open(const ConnectOptions& options, std::string* error) {
  // expand_dbname: the conninfo (URI or key=value) is expanded as libpq does for PQconnectdb;
  // the keywords after it override only what we set ourselves, where the user gave none.
  const std::string timeout = std::to_string(options.connect_timeout_s);
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), options.application_name.c_str(),
                          options.conninfo.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    if (error != nullptr) *error = "postgresql: out of memory";
    return nullptr;
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    if (error != nullptr) {
      *error = "cannot connect to " + MaskPassword(options.conninfo) + ": " +
               Trimmed(PQerrorMessage(conn));
    }
    PQfinish(conn);
    return nullptr;
  }
  std::unique_ptr<Connection> out(new Connection(conn, options));
  if (!out->Configure(error)) return nullptr;
  return out;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::Configure(std::string* error) {
  // Notices (e.g. "schema already exists, skipping") are not errors and not for stderr.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  // plan_cache_mode: every statement here is written to be prepared once and run with any
  // parameters, so its generic plan is the one to keep. PostgreSQL's own choice (custom plans
  // while their estimated cost is lower) re-planned statements such as the list page with its
  // LIKE ALL filter on every run: 50 us of planning for 10 us of execution.
  std::string sql = "SET plan_cache_mode = force_generic_plan; SET statement_timeout = " +
                    std::to_string(options_.statement_timeout_ms) +
                    "; SET lock_timeout = " + std::to_string(options_.lock_timeout_ms) +
                    "; SET search_path = " + QuoteIdentifier(options_.schema) +
                    "; SET client_encoding = 'UTF8'" +
                    (options_.synchronous_commit ? "" : "; SET synchronous_commit = off");
  Result r = Exec(sql.c_str());
  if (!r.ok()) {
    if (error != nullptr) *error = r.error();
    return false;
  }
  return true;
}

Result Connection::Exec(const char* sql) { return MakeResult(conn_, PQexec(conn_, sql)); }

namespace {

struct Params {
  explicit Params(const std::vector<Param>& params) {
    for (const Param& p : params) {
      // libpq wants NUL-terminated text parameters; binary ones go by length.
      storage.emplace_back(p.value);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      values.push_back(storage[i].c_str());
      lengths.push_back(static_cast<int>(storage[i].size()));
      formats.push_back(params[i].binary ? 1 : 0);
    }
  }
  std::vector<std::string> storage;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

}  // namespace

Result Connection::Query(const char* sql, const std::vector<Param>& params, bool binary_results) {
  Params p(params);
  return MakeResult(conn_, PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr,
                                        p.values.data(), p.lengths.data(), p.formats.data(),
                                        binary_results ? 1 : 0));
}

Result Connection::Prepared(const char* name, const char* sql, const std::vector<Param>& params,
                            bool binary_results) {
  if (prepared_.count(name) == 0) {
    Result prepared = MakeResult(conn_, PQprepare(conn_, name, sql, 0, nullptr));
    if (!prepared.ok()) return prepared;
    prepared_.insert(name);
  }
  Params p(params);
  return MakeResult(conn_, PQexecPrepared(conn_, name, static_cast<int>(params.size()),
                                          p.values.data(), p.lengths.data(), p.formats.data(),
                                          binary_results ? 1 : 0));
}

bool Connection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

int Connection::server_version() const { return PQserverVersion(conn_); }

// ---------------------------------------------------------------------------------------------
// ThreadConnections

void ThreadConnections::Adopt(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_[std::this_thread::get_id()] = std::move(conn);
}

Connection* ThreadConnections::Get(std::string* error) {
  const auto self = std::this_thread::get_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = connections_.find(self);
    if (it != connections_.end()) return it->second.get();
    if (std::chrono::steady_clock::now() < retry_after_) {
      if (error != nullptr) *error = last_connect_error_ + " (retrying shortly)";
      return nullptr;
    }
  }
  // Outside the lock: connecting may take the connect timeout.
  std::string detail;
  std::unique_ptr<Connection> conn = Connection::Open(options_, &detail);
  std::lock_guard<std::mutex> lock(mu_);
  if (conn == nullptr) {
    backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(100),
                          std::chrono::milliseconds(2000));
    retry_after_ = std::chrono::steady_clock::now() + backoff_;
    last_connect_error_ = detail;
    if (error != nullptr) *error = detail;
    return nullptr;
  }
  // Connected: the database is back for every thread, not only this one.
  backoff_ = std::chrono::milliseconds(0);
  retry_after_ = {};
  Connection* raw = conn.get();
  connections_[self] = std::move(conn);
  return raw;
}

void ThreadConnections::DropIfBroken() {
  std::unique_ptr<Connection> dropped;  // closed after the lock is released
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(std::this_thread::get_id());
  if (it != connections_.end() && it->second->broken()) {
    dropped = std::move(it->second);
    connections_.erase(it);
  }
}

Result ThreadConnections::Prepared(const char* name, const char* sql,
                                   const std::vector<Param>& params, bool binary_results) {
  for (int attempt = 0;; ++attempt) {
    std::string error;
    Connection* conn = Get(&error);
    if (conn == nullptr) return Result(nullptr, "postgresql: " + error);
    Result r = conn->Prepared(name, sql, params, binary_results);
    if (r.ok() || !conn->broken()) return r;
    DropIfBroken();  // the Result outlives its connection (libpq's PGresult is its own)
    if (attempt == 1) return r;
  }
}

// ---------------------------------------------------------------------------------------------
// COPY

bool StartCopy(Connection& conn, const char* sql, std::string* error) {
  PGresult* start = PQexec(conn.get(), sql);
  const bool copying = start != nullptr && PQresultStatus(start) == PGRES_COPY_IN;
  if (!copying && error != nullptr) {
    *error = "postgresql: " + Trimmed(start != nullptr ? PQresultErrorMessage(start)
                                                       : PQerrorMessage(conn.get()));
  }
  PQclear(start);
  return copying;
}

bool SendCopy(Connection& conn, std::string_view data, std::string* error) {
  for (size_t off = 0; off < data.size(); off += kCopyChunk) {
    const std::string_view piece = data.substr(off, kCopyChunk);
    if (PQputCopyData(conn.get(), piece.data(), static_cast<int>(piece.size())) != 1) {
      if (error != nullptr) *error = "postgresql: COPY: " + Trimmed(PQerrorMessage(conn.get()));
      return false;
    }
  }
  return true;
}

bool EndCopy(Connection& conn, std::string* error) {
  bool ok = PQputCopyEnd(conn.get(), nullptr) == 1;
  if (!ok && error != nullptr) {
    *error = "postgresql: COPY: " + Trimmed(PQerrorMessage(conn.get()));
  }
  while (PGresult* result = PQgetResult(conn.get())) {
    if (ok && PQresultStatus(result) != PGRES_COMMAND_OK) {
      ok = false;
      if (error != nullptr) *error = "postgresql: COPY: " + Trimmed(PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  return ok;
}

void AbortCopy(Connection& conn, const char* reason) {
  PQputCopyEnd(conn.get(), reason);
  while (PGresult* result = PQgetResult(conn.get())) PQclear(result);
}

bool CopyIn(Connection& conn, const char* sql, std::string_view data, std::string* error) {
  if (!StartCopy(conn, sql, error)) return false;
  if (!SendCopy(conn, data, error)) {
    AbortCopy(conn, "send failed");
    return false;
  }
  return EndCopy(conn, error);
}

// ---------------------------------------------------------------------------------------------
// Migrations

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

const char* kVersionsTable = "frontline_versions";

// The advisory lock's key: one per schema, in a space of its own (the first key).
constexpr int kLockSpace = 0x464c;  // "FL"

}  // namespace

int SchemaVersion(Connection& conn, const std::string& schema, const char* component,
                  std::string* error) {
  Result exists = conn.Query(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
      {schema, kVersionsTable});
  if (!exists.ok()) {
    if (error != nullptr) *error = exists.error();
    return -1;
  }
  if (exists.rows() == 0) return 0;
  const std::string sql = "SELECT version FROM " + QuoteIdentifier(schema) + "." +
                          kVersionsTable + " WHERE component = $1";
  Result version = conn.Query(sql.c_str(), {component});
  if (!version.ok()) {
    if (error != nullptr) *error = version.error();
    return -1;
  }
  return version.rows() == 0 ? 0 : static_cast<int>(version.Int(0, 0));
}

bool Migrate(Connection& conn, const std::string& schema, const char* component,
             const std::vector<Migration>& migrations, std::string* error) {
  auto fail = [&](const std::string& what, const Result& r) {
    if (error != nullptr) *error = what + ": " + r.error();
    (void)conn.Exec("ROLLBACK");
    return false;
  };
  Result begin = conn.Exec("BEGIN");
  if (!begin.ok()) return fail("migrate", begin);
  // Held until COMMIT or ROLLBACK: another process migrating the same schema waits here (its
  // lock_timeout does not apply to advisory locks taken this way, statement_timeout does).
  Result lock = conn.Query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))",
                           {std::to_string(kLockSpace), schema});
  if (!lock.ok()) return fail("migrate: lock", lock);
  const std::string qualified = QuoteIdentifier(schema) + "." + kVersionsTable;
  const std::string create = "CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(schema) +
                             "; CREATE TABLE IF NOT EXISTS " + qualified +
                             " (component text PRIMARY KEY, version integer NOT NULL)";
  Result created = conn.Exec(create.c_str());
  if (!created.ok()) return fail("migrate: create schema " + schema, created);
  const std::string select = "SELECT version FROM " + qualified + " WHERE component = $1";
  Result current = conn.Query(select.c_str(), {component});
  if (!current.ok()) return fail("migrate", current);
  const int64_t version = current.rows() == 0 ? 0 : current.Int(0, 0);
  if (version > static_cast<int64_t>(migrations.size())) {
    if (error != nullptr) {
      *error = "schema " + schema + " has " + component + " version " + std::to_string(version) +
               ", newer than this binary's " + std::to_string(migrations.size());
    }
    (void)conn.Exec("ROLLBACK");
    return false;
  }
  for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
    Result applied = conn.Exec(migrations[v].sql);
    if (!applied.ok()) {
      return fail(std::string("migrate ") + component + " to version " + std::to_string(v + 1) +
                      " (" + migrations[v].description + ")",
                  applied);
    }
  }
  const std::string upsert = "INSERT INTO " + qualified +
                             " (component, version) VALUES ($1, $2) ON CONFLICT (component)"
                             " DO UPDATE SET version = EXCLUDED.version";
  Result set = conn.Query(upsert.c_str(), {component, std::to_string(migrations.size())});
  if (!set.ok()) return fail("migrate", set);
  Result commit = conn.Exec("COMMIT");
  if (!commit.ok()) return fail("migrate: commit", commit);
  return true;
}

}  // namespace pg
}  // namespace frontline
