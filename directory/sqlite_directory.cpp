#include "directory/sqlite_directory.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <memory>

#include "db/sqlite.h"
#include "directory/address.h"
#include "directory/cursor.h"
#include "directory/customer_row.h"
#include "directory/schema.h"
#include "directory/search.h"
#include "directory/text.h"

namespace frontline {
namespace {

enum StatementId {
  kBegin,
  kCommit,
  kRollback,
  kFindById,
  kFindByAddress,
  kSortKeyOf,
  kListWorker,
  kListAll,
  kWalkWorker,
  kWalkAll,
  kSearchWorker,
  kSearchAll,
  kProbeWorker,
  kProbeAll,
  kFindWorker,
  kWorkersWithCustomers,
  kPing,
  kStatementCount,
};

#define FL_CUSTOMER_COLUMNS FRONTLINE_CUSTOMER_COLUMNS
#define FL_SUMMARY_COLUMNS "c.customer_id, c.display_name, c.avatar, c.sort_key"
#define FL_AFTER_CURSOR " (c.sort_key, c.customer_id) > (:k, :i) "
#define FL_ORDER " ORDER BY c.sort_key, c.customer_id LIMIT :n"

// Indexed by StatementId. Named parameters: :w worker, :k/:i cursor position, :t the search
// terms, :n row limit, :lo/:hi and :lo2/:hi2 the driving term's index ranges (search.h
// DrivingRange; the second one empty unless the term is digits with a leading 0), :m the
// most index rows a probe counts.
constexpr const char* kStatementSql[kStatementCount] = {
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SELECT " FL_CUSTOMER_COLUMNS " FROM customers c WHERE c.customer_id = :id",
    // The lowest customer_id wins when several customers share an address.
    "SELECT " FL_CUSTOMER_COLUMNS
    " FROM addresses a CROSS JOIN customers c ON c.id = a.customer"
    " WHERE a.normalised = :a ORDER BY c.customer_id LIMIT 1",
    "SELECT sort_key FROM customers WHERE customer_id = :id",
    // Plain pages: a walk of customers_by_worker / customers_by_order from the cursor.
    "SELECT " FL_SUMMARY_COLUMNS
    " FROM customers c WHERE c.worker = :w AND" FL_AFTER_CURSOR FL_ORDER,
    "SELECT " FL_SUMMARY_COLUMNS " FROM customers c WHERE" FL_AFTER_CURSOR FL_ORDER,
    // Searches whose terms are all too short for the index: the same walk, filtered.
    "SELECT " FL_SUMMARY_COLUMNS " FROM customers c WHERE c.worker = :w AND" FL_AFTER_CURSOR
    " AND fl_match_all(c.search_text, :t)" FL_ORDER,
    "SELECT " FL_SUMMARY_COLUMNS " FROM customers c WHERE" FL_AFTER_CURSOR
    " AND fl_match_all(c.search_text, :t)" FL_ORDER,
    // Indexed searches: the driving term's ranges of search_terms within the worker's key,
    // then the whole query checked on the rows found, then the page in order.
    "SELECT " FL_SUMMARY_COLUMNS
    " FROM ("
    " SELECT customer FROM search_terms WHERE wkey = (SELECT wkey FROM worker_keys WHERE"
    " identity = :w) AND term >= :lo AND term < :hi"
    " UNION SELECT customer FROM search_terms WHERE wkey = (SELECT wkey FROM worker_keys WHERE"
    " identity = :w) AND term >= :lo2 AND term < :hi2"
    ") t CROSS JOIN customers c ON c.id = t.customer"
    " WHERE c.worker = :w AND" FL_AFTER_CURSOR " AND fl_match_all(c.search_text, :t)" FL_ORDER,
    "SELECT " FL_SUMMARY_COLUMNS
    " FROM ("
    " SELECT customer FROM search_terms WHERE wkey IN (SELECT wkey FROM worker_keys)"
    " AND term >= :lo AND term < :hi"
    " UNION SELECT customer FROM search_terms WHERE wkey IN (SELECT wkey FROM worker_keys)"
    " AND term >= :lo2 AND term < :hi2"
    ") t CROSS JOIN customers c ON c.id = t.customer"
    " WHERE" FL_AFTER_CURSOR " AND fl_match_all(c.search_text, :t)" FL_ORDER,
    // How many index rows the driving ranges hold, counting at most :m per range: few means
    // the indexed search is cheap, many that the ordered walk fills a page quickly.
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE wkey = (SELECT wkey FROM"
    " worker_keys WHERE identity = :w) AND term >= :lo AND term < :hi LIMIT :m))"
    " + (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE wkey = (SELECT wkey FROM"
    " worker_keys WHERE identity = :w) AND term >= :lo2 AND term < :hi2 LIMIT :m))",
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE wkey IN (SELECT wkey FROM"
    " worker_keys) AND term >= :lo AND term < :hi LIMIT :m))"
    " + (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE wkey IN (SELECT wkey FROM"
    " worker_keys) AND term >= :lo2 AND term < :hi2 LIMIT :m))",
    "SELECT identity, sms_number, whatsapp_number FROM workers WHERE identity = :w",
    // One index seek per distinct worker (customers_by_worker), not a scan of all customers.
    "WITH RECURSIVE w(identity) AS ("
    " SELECT (SELECT min(worker) FROM customers WHERE worker > '')"
    " UNION ALL"
    " SELECT (SELECT min(worker) FROM customers WHERE worker > w.identity) FROM w"
    " WHERE w.identity IS NOT NULL)"
    " SELECT identity FROM w WHERE identity IS NOT NULL",
    "SELECT count(*) FROM worker_keys",
};

#undef FL_CUSTOMER_COLUMNS
#undef FL_SUMMARY_COLUMNS
#undef FL_AFTER_CURSOR
#undef FL_ORDER

// An indexed search reads at most this many index rows (else it walks the list in order).
constexpr size_t kSearchProbeLimit = 500;

void BindBlobNamed(db::Statement& stmt, const char* name, std::string_view bytes) {
  int index = sqlite3_bind_parameter_index(stmt.get(), name);
  if (index > 0) stmt.BindBlob(index, bytes);
}

// The first 100 bytes of a SQLite file: the magic string, page size, change counter, ...
constexpr int kHeaderSize = 100;
constexpr char kSqliteMagic[] = "SQLite format 3";  // with its NUL: 16 bytes

// What a connection's file looks like now, against what it looked like when it was opened.
enum class FileState { kSame, kChanged, kNotADatabase };

}  // namespace

struct SqliteDirectory::Connection {
  sqlite3* db = nullptr;
  db::Statement statements[kStatementCount];
  char header[kHeaderSize] = {};  // the file's header as last seen

  ~Connection() {
    for (db::Statement& statement : statements) statement = db::Statement();
    sqlite3_close_v2(db);
  }

  // The cached statement, prepared on first use; nullptr with `error` set on failure.
  db::Statement* Get(StatementId id, std::string* error) {
    if (!statements[id].ok()) {
      statements[id] =
          db::Statement(db, kStatementSql[id], error, db::Statement::Lifetime::kPersistent);
      if (!statements[id].ok()) return nullptr;
    }
    return &statements[id];
  }

  // BEGIN, COMMIT and ROLLBACK are cached statements too: the hot lookups run one of each.
  bool Run(StatementId id, std::string* error) {
    db::Statement* stmt = Get(id, error);
    if (stmt == nullptr) return false;
    db::ResetOnExit reset(*stmt);
    return stmt->Run(kStatementSql[id], error);
  }

  // Reads the database file's header through SQLite's own file handle (opening a second
  // descriptor on the file and closing it would drop SQLite's POSIX locks). False when the
  // file is shorter than a header or does not start with SQLite's magic string.
  bool ReadHeader(char* out) {
    sqlite3_file* file = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        file == nullptr || file->pMethods == nullptr) {
      return false;
    }
    if (file->pMethods->xRead(file, out, kHeaderSize, 0) != SQLITE_OK) return false;
    return std::memcmp(out, kSqliteMagic, sizeof kSqliteMagic) == 0;
  }

  // Two cheap system calls (a stat of the path, a 100-byte read) that catch what SQLite's
  // page cache would otherwise hide: the path renamed over or deleted (kChanged: reopen to
  // see the new file), the file rewritten in place with something else (kNotADatabase), or a
  // changed header, which a checkpoint also causes (kChanged: a reopen drops cached pages that
  // may no longer be the file's).
  FileState Check() {
    int moved = 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved) {
      return FileState::kChanged;
    }
    char now[kHeaderSize];
    if (!ReadHeader(now)) return FileState::kNotADatabase;
    return std::memcmp(now, header, kHeaderSize) == 0 ? FileState::kSame : FileState::kChanged;
  }
};

std::unique_ptr<SqliteDirectory::Connection> SqliteDirectory::NewConnection(sqlite3* db,
                                                                            const std::string& path,
                                                                            std::string* error) {
  auto connection = std::make_unique<Connection>();
  connection->db = db;
  if (!connection->ReadHeader(connection->header)) {
    if (error != nullptr) *error = "open " + path + ": file is not a database";
    return nullptr;
  }
  return connection;
}

SqliteDirectory::SqliteDirectory(std::string path) : path_(std::move(path)) {}

SqliteDirectory::~SqliteDirectory() = default;

std::unique_ptr<SqliteDirectory> SqliteDirectory::Open(const std::string& path,
                                                       const std::string& collation,
                                                       KeysReport* keys, std::string* error) {
  std::string detail;
  std::unique_ptr<Collation> order = Collation::Create(collation, &detail);
  if (order == nullptr) {
    if (error != nullptr) *error = detail;
    return nullptr;
  }
  KeysReport report;
  sqlite3* db = OpenConnection(path, &detail);
  if (db == nullptr || !Migrate(db, &detail) || !EnsureKeys(db, *order, &report, &detail)) {
    sqlite3_close_v2(db);
    if (error != nullptr) *error = detail;
    return nullptr;
  }
  // Keep the migrating connection as this thread's connection.
  auto connection = NewConnection(db, path, &detail);
  if (connection == nullptr) {
    if (error != nullptr) *error = detail;
    return nullptr;
  }
  if (keys != nullptr) *keys = report;
  std::unique_ptr<SqliteDirectory> directory(new SqliteDirectory(path));
  directory->connections_[std::this_thread::get_id()] = std::move(connection);
  return directory;
}

SqliteDirectory::Connection* SqliteDirectory::ThisThread(std::string* error) {
  const std::thread::id self = std::this_thread::get_id();
  Connection* existing = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = connections_.find(self);
    if (it != connections_.end()) existing = it->second.get();
  }
  if (existing != nullptr) {
    switch (existing->Check()) {
      case FileState::kSame:
        return existing;
      case FileState::kNotADatabase:
        *error = path_ + ": file is not a database (replaced or truncated?)";
        DropThisThread();
        return nullptr;
      case FileState::kChanged:
        DropThisThread();  // and open the file as it is now
        break;
    }
  }
  // Open outside the lock: it may wait on the busy timeout. Never create the file here: a
  // directory deleted under a running responder must stay unavailable, not come back empty.
  sqlite3* db = OpenConnection(path_, error, /*create=*/false);
  if (db == nullptr) return nullptr;
  std::unique_ptr<Connection> connection = NewConnection(db, path_, error);
  if (connection == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  Connection* raw = connection.get();
  connections_[self] = std::move(connection);
  return raw;
}

void SqliteDirectory::DropThisThread() {
  std::unique_ptr<Connection> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = connections_.find(std::this_thread::get_id());
    if (it == connections_.end()) return;
    dropped = std::move(it->second);
    connections_.erase(it);
  }
  // Closed outside the lock.
}

sqlite3* SqliteDirectory::ThreadConnection(std::string* error) {
  std::string detail;
  Connection* c = ThisThread(&detail);
  if (c == nullptr) {
    RecordError(detail);
    if (error != nullptr) *error = detail;
    return nullptr;
  }
  return c->db;
}

void SqliteDirectory::RecordError(const std::string& error) {
  error_count_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = error;
}

void SqliteDirectory::Fail(const std::string& error) {
  RecordError(error);
  DropThisThread();
}

std::string SqliteDirectory::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

Lookup<Customer> SqliteDirectory::LoadCustomer(Connection* c, db::Statement& stmt,
                                               bool* db_failed) {
  switch (stmt.Next()) {
    case db::StepResult::kDone:
      return Lookup<Customer>::Absent();
    case db::StepResult::kError:
      *db_failed = true;
      return Lookup<Customer>::Unavailable(db::Error(c->db, "find customer"));
    case db::StepResult::kRow:
      break;
  }
  Customer customer;
  std::string error;
  if (!ReadCustomerRow(stmt, &customer, &error)) {
    return Lookup<Customer>::Unavailable("find customer: " + error);
  }
  return Lookup<Customer>::Found(std::move(customer));
}

Lookup<Customer> SqliteDirectory::FindOne(int statement, std::string_view key) {
  std::string error;
  Connection* c = ThisThread(&error);
  if (c == nullptr) {
    Fail(error);
    return Lookup<Customer>::Unavailable(error);
  }
  bool db_failed = false;
  Lookup<Customer> result = Lookup<Customer>::Absent();
  // One read transaction: the customer row and its children come from the same snapshot.
  if (!c->Run(kBegin, &error)) {
    db_failed = true;
  } else {
    if (db::Statement* stmt = c->Get(static_cast<StatementId>(statement), &error)) {
      db::ResetOnExit reset(*stmt);
      stmt->Bind(1, key);
      result = LoadCustomer(c, *stmt, &db_failed);
    } else {
      db_failed = true;
    }
    std::string end_error;
    if (!c->Run(db_failed ? kRollback : kCommit, &end_error) && !db_failed) {
      db_failed = true;
      error = end_error;
    }
  }
  if (db_failed) {
    if (error.empty()) error = result.error();
    Fail(error);
    return Lookup<Customer>::Unavailable(error);
  }
  if (result.unavailable()) RecordError(result.error());  // a row that cannot be decoded
  return result;
}

Lookup<Customer> SqliteDirectory::FindById(std::string_view customer_id) {
  return FindOne(kFindById, customer_id);
}

Lookup<Customer> SqliteDirectory::FindByAddress(std::string_view address) {
  const std::string normalised = NormaliseAddress(address);
  if (normalised.empty()) return Lookup<Customer>::Absent();
  return FindOne(kFindByAddress, normalised);
}

ListResult SqliteDirectory::ListCustomers(const ListRequest& request) {
  ListResult result;
  auto unavailable = [&](const std::string& error) {
    Fail(error);
    ListResult failed;
    failed.status = ListResult::Status::kUnavailable;
    failed.error = error;
    return failed;
  };
  std::string error;
  Connection* c = ThisThread(&error);
  if (c == nullptr) return unavailable(error);

  // Where the page starts: strictly after this position ("" "" = the beginning).
  CursorPosition after;
  if (!request.page_token.empty()) {
    std::optional<CursorPosition> decoded = DecodeCursor(request.page_token);
    if (!decoded) {
      result.status = ListResult::Status::kBadPageToken;
      return result;
    }
    after = std::move(*decoded);
  } else if (!request.anchor.empty()) {
    db::Statement* stmt = c->Get(kSortKeyOf, &error);
    if (stmt == nullptr) return unavailable(error);
    db::StepResult step;
    {
      db::ResetOnExit reset(*stmt);
      stmt->Bind(1, request.anchor);
      step = stmt->Next();
      if (step == db::StepResult::kRow) after.sort_key = std::string(stmt->Blob(0));
      if (step == db::StepResult::kError) error = db::Error(c->db, "find anchor");
    }
    if (step == db::StepResult::kDone) {
      result.status = ListResult::Status::kBadAnchor;
      return result;
    }
    if (step == db::StepResult::kError) return unavailable(error);
    after.customer_id = request.anchor;
  }

  const std::vector<std::string> terms = ParseSearchQuery(request.query);
  const IndexRange range = DrivingRange(terms);
  StatementId id;
  if (terms.empty()) {
    id = request.all_workers ? kListAll : kListWorker;
  } else {
    // Few customers in the driving range: read them all, check, sort (cost grows with the
    // matches). Many: walk the list in order and check each (a page fills quickly).
    db::Statement* probe = c->Get(request.all_workers ? kProbeAll : kProbeWorker, &error);
    if (probe == nullptr) return unavailable(error);
    db::StepResult step;
    int64_t rows = 0;
    {
      db::ResetOnExit reset(*probe);
      probe->BindNamed(":w", request.worker);
      probe->BindNamed(":lo", range.lo);
      probe->BindNamed(":hi", range.hi);
      probe->BindNamed(":lo2", range.lo2);
      probe->BindNamed(":hi2", range.hi2);
      probe->BindNamed(":m", static_cast<int64_t>(kSearchProbeLimit + 1));
      step = probe->Next();
      if (step == db::StepResult::kRow) rows = probe->Int(0);
      if (step == db::StepResult::kError) error = db::Error(c->db, "search");
    }
    if (step == db::StepResult::kError) return unavailable(error);
    const bool indexed = rows <= static_cast<int64_t>(kSearchProbeLimit);
    if (request.all_workers) {
      id = indexed ? kSearchAll : kWalkAll;
    } else {
      id = indexed ? kSearchWorker : kWalkWorker;
    }
  }
  db::Statement* stmt = c->Get(id, &error);
  if (stmt == nullptr) return unavailable(error);
  const size_t page_size = std::clamp<size_t>(request.page_size, 1, 1000);
  db::StepResult step;
  {
    db::ResetOnExit reset(*stmt);
    stmt->BindNamed(":w", request.worker);
    BindBlobNamed(*stmt, ":k", after.sort_key);
    stmt->BindNamed(":i", after.customer_id);
    stmt->BindNamed(":t", JoinTerms(terms));
    // One more row than the page: is there a next page?
    stmt->BindNamed(":n", static_cast<int64_t>(page_size + 1));
    stmt->BindNamed(":lo", range.lo);
    stmt->BindNamed(":hi", range.hi);
    stmt->BindNamed(":lo2", range.lo2);
    stmt->BindNamed(":hi2", range.hi2);
    std::string last_sort_key;
    while ((step = stmt->Next()) == db::StepResult::kRow) {
      if (result.customers.size() == page_size) {
        result.next_page_token = EncodeCursor({last_sort_key, result.customers.back().customer_id});
        break;
      }
      result.customers.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2)});
      last_sort_key = std::string(stmt->Blob(3));
    }
    if (step == db::StepResult::kError) error = db::Error(c->db, "list customers");
  }
  // The statements are reset before Fail closes the connection they belong to.
  if (step == db::StepResult::kError) return unavailable(error);
  return result;
}

Lookup<Worker> SqliteDirectory::FindWorker(std::string_view identity) {
  std::string error;
  Connection* c = ThisThread(&error);
  db::Statement* stmt = c != nullptr ? c->Get(kFindWorker, &error) : nullptr;
  if (stmt == nullptr) {
    Fail(error);
    return Lookup<Worker>::Unavailable(error);
  }
  db::StepResult step;
  Worker worker;
  {
    db::ResetOnExit reset(*stmt);
    stmt->Bind(1, identity);
    step = stmt->Next();
    if (step == db::StepResult::kRow) worker = {stmt->Text(0), stmt->Text(1), stmt->Text(2)};
    if (step == db::StepResult::kError) error = db::Error(c->db, "find worker");
  }
  if (step == db::StepResult::kRow) return Lookup<Worker>::Found(std::move(worker));
  if (step == db::StepResult::kDone) return Lookup<Worker>::Absent();
  Fail(error);
  return Lookup<Worker>::Unavailable(error);
}

Lookup<std::vector<std::string>> SqliteDirectory::WorkersWithCustomers() {
  using Result = Lookup<std::vector<std::string>>;
  std::vector<std::string> workers;
  std::string error;
  Connection* c = ThisThread(&error);
  db::Statement* stmt = c != nullptr ? c->Get(kWorkersWithCustomers, &error) : nullptr;
  if (stmt == nullptr) {
    Fail(error);
    return Result::Unavailable(error);
  }
  db::StepResult step;
  {
    db::ResetOnExit reset(*stmt);
    while ((step = stmt->Next()) == db::StepResult::kRow) workers.push_back(stmt->Text(0));
    if (step != db::StepResult::kDone) error = db::Error(c->db, "workers with customers");
  }
  if (step != db::StepResult::kDone) {
    Fail(error);
    return Result::Unavailable(error);
  }
  return Result::Found(std::move(workers));
}

bool SqliteDirectory::Ping(std::string* error) {
  std::string detail;
  Connection* c = ThisThread(&detail);
  db::Statement* stmt = c != nullptr ? c->Get(kPing, &detail) : nullptr;
  if (stmt != nullptr) {
    bool ok;
    {
      db::ResetOnExit reset(*stmt);
      ok = stmt->Next() == db::StepResult::kRow;
      if (!ok) detail = db::Error(c->db, "ping");
    }
    if (ok) return true;
  }
  Fail(detail);
  if (error != nullptr) *error = detail;
  return false;
}

}  // namespace frontline
