#include "directory/pg_directory.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "directory/address.h"
#include "directory/collation.h"
#include "directory/cursor.h"
#include "directory/customer_row.h"
#include "directory/pg_keys.h"
#include "directory/pg_schema.h"
#include "directory/search.h"
#include "directory/sqlite_keys.h"

namespace frontline {
namespace {

#define FL_COLUMNS FRONTLINE_CUSTOMER_COLUMNS
#define FL_SUMMARY "c.customer_id, c.display_name, c.avatar, c.sort_key, c.search_text"
#define FL_AFTER " (c.sort_key, c.customer_id) > ($2, $3) "
#define FL_ORDER " ORDER BY c.sort_key, c.customer_id "

// Statements by name; parameters: $1 worker, $2/$3 the cursor position (sort key bytes,
// customer_id), then the limit or the driving ranges (search.h DrivingRange).
constexpr const char* kFindByIdSql =
    "SELECT " FL_COLUMNS " FROM customers c WHERE c.customer_id = $1";
// The lowest customer_id wins when several customers share an address.
constexpr const char* kFindByAddressSql =
    "SELECT " FL_COLUMNS " FROM addresses a JOIN customers c ON c.id = a.customer"
    " WHERE a.normalised = $1 ORDER BY c.customer_id LIMIT 1";
constexpr const char* kSortKeyOfSql = "SELECT sort_key FROM customers WHERE customer_id = $1";
// Plain pages, and the ordered walk of searches whose driving range is large. $5 is a text
// array of LIKE patterns that every row must match ('{}' for a plain page): the walk's word
// terms (WordPatterns), so rows that cannot match are left in the server, read from the
// covering index like the rest.
#define FL_WORDS " AND c.search_text LIKE ALL ($5::text[]) "
constexpr const char* kListWorkerSql =
    "SELECT " FL_SUMMARY " FROM customers c WHERE c.worker = $1 AND" FL_AFTER FL_WORDS FL_ORDER
    "LIMIT $4";
constexpr const char* kListAllSql =
    "SELECT " FL_SUMMARY " FROM customers c WHERE $1 = $1 AND" FL_AFTER FL_WORDS FL_ORDER
    "LIMIT $4";
#undef FL_WORDS
// An indexed search in one round trip: the driving ranges' index rows (search_terms read
// index-only, at most $8 + 1 of them), then, when there are at most $8, their customers after
// the cursor, in order; the query's terms are checked here, in C++, as SQLite's fl_match_all
// does. The last row is always the count (customer columns NULL, sorted last): above $8 the
// caller walks the list instead. Written so that the generic plan (which PostgreSQL keeps for a
// prepared statement) is the good one: a materialised CTE of index-only scans, customers by
// primary key from an array. All workers: one index descent per worker key (the index starts
// with the worker), never a scan of the whole term index.
#define FL_SEARCH(WKEY, WORKER)                                                                  \
  "WITH t AS MATERIALIZED (SELECT customer FROM ("                                               \
  " SELECT customer FROM search_terms WHERE " WKEY " AND term >= $4 AND term < $5"               \
  " UNION ALL"                                                                                   \
  " SELECT customer FROM search_terms WHERE " WKEY " AND term >= $6 AND term < $7"               \
  ") u LIMIT $8 + 1)"                                                                            \
  " SELECT " FL_SUMMARY ", NULL AS n FROM customers c"                                           \
  " WHERE c.id = ANY(ARRAY(SELECT customer FROM t WHERE (SELECT count(*) FROM t) <= $8))"        \
  " AND " WORKER " AND" FL_AFTER                                                                 \
  " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, (SELECT count(*) FROM t)::text"               \
  " ORDER BY sort_key NULLS LAST, customer_id"
constexpr const char* kSearchWorkerSql =
    FL_SEARCH("wkey = (SELECT wkey FROM worker_keys WHERE identity = $1)", "c.worker = $1");
constexpr const char* kSearchAllSql =
    FL_SEARCH("wkey = ANY(ARRAY(SELECT wkey FROM worker_keys))", "$1 = $1");
#undef FL_SEARCH
constexpr const char* kFindWorkerSql =
    "SELECT identity, sms_number, whatsapp_number FROM workers WHERE identity = $1";
// One index seek per distinct worker (customers_by_worker), not a scan of all customers.
constexpr const char* kWorkersWithCustomersSql =
    "WITH RECURSIVE w(identity) AS ("
    " SELECT (SELECT min(worker) FROM customers WHERE worker > '')"
    " UNION ALL"
    " SELECT (SELECT min(worker) FROM customers WHERE worker > w.identity) FROM w"
    " WHERE w.identity IS NOT NULL)"
    " SELECT identity FROM w WHERE identity IS NOT NULL";

#undef FL_COLUMNS
#undef FL_SUMMARY
#undef FL_AFTER
#undef FL_ORDER

// As SqliteDirectory: an indexed search reads at most this many index rows, else it walks.
constexpr int64_t kSearchProbeLimit = 500;
// Rows one step of an ordered walk reads.
constexpr int kWalkBatch = 200;

// The word terms of a query as a PostgreSQL text array of LIKE patterns, "% term%" each: a word
// term matches exactly when a token of search_text starts with it, and every token follows a
// space (search.h MatchesAllTerms). Digit terms match in other ways and are left out, so
// `*exact` says whether matching every pattern means matching the query.
std::string WordPatterns(const std::vector<std::string>& terms, bool* exact) {
  std::string array = "{";
  auto quoted = [&array](char c) {  // inside an array element's double quotes
    if (c == '"' || c == '\\') array += '\\';
    array += c;
  };
  *exact = true;
  for (const std::string& term : terms) {
    // A NUL cannot travel in a text parameter; such a term is checked here only.
    if (IsDigits(term) || term.find('\0') != std::string::npos) {
      *exact = false;
      continue;
    }
    if (array.size() > 1) array += ',';
    array += "\"% ";
    for (char c : term) {
      if (c == '%' || c == '_' || c == '\\') quoted('\\');  // LIKE's escape character
      quoted(c);
    }
    array += "%\"";
  }
  return array + "}";
}

}  // namespace

std::unique_ptr<PgDirectory> PgDirectory::Open(const pg::ConnectOptions& connect,
                                               const std::string& collation, KeysReport* keys,
                                               std::string* error) {
  std::unique_ptr<Collation> order = Collation::Create(collation, error);
  if (order == nullptr) return nullptr;
  std::unique_ptr<pg::Connection> conn = pg::Connection::Open(connect, error);
  if (conn == nullptr || !MigratePgDirectory(*conn, connect.schema, error) ||
      !EnsurePgKeys(*conn, *order, keys, error)) {
    return nullptr;
  }
  std::unique_ptr<PgDirectory> directory(new PgDirectory(connect));
  directory->connections_.Adopt(std::move(conn));
  return directory;
}

PgDirectory::~PgDirectory() = default;

Lookup<Customer> PgDirectory::FindOne(const char* name, const char* sql, std::string_view key) {
  std::string error;
  pg::Result r = connections_.Prepared(name, sql, {key}, /*binary_results=*/true);
  if (!r.ok()) return Lookup<Customer>::Unavailable("find customer: " + r.error());
  if (r.rows() == 0) return Lookup<Customer>::Absent();
  std::string_view values[kCustomerColumns];
  for (int i = 0; i < kCustomerColumns; ++i) values[i] = r.Text(0, i);
  Customer customer;
  if (!ReadCustomerValues(values, &customer, &error)) {
    return Lookup<Customer>::Unavailable("find customer: " + error);
  }
  return Lookup<Customer>::Found(std::move(customer));
}

Lookup<Customer> PgDirectory::FindById(std::string_view customer_id) {
  return FindOne("find_by_id", kFindByIdSql, customer_id);
}

Lookup<Customer> PgDirectory::FindByAddress(std::string_view address) {
  const std::string normalised = NormaliseAddress(address);
  if (normalised.empty()) return Lookup<Customer>::Absent();
  return FindOne("find_by_address", kFindByAddressSql, normalised);
}

ListResult PgDirectory::ListCustomers(const ListRequest& request) {
  ListResult result;
  auto unavailable = [](const std::string& error) {
    ListResult failed;
    failed.status = ListResult::Status::kUnavailable;
    failed.error = error;
    return failed;
  };

  CursorPosition after;
  if (!request.page_token.empty()) {
    std::optional<CursorPosition> decoded = DecodeCursor(request.page_token);
    if (!decoded) {
      result.status = ListResult::Status::kBadPageToken;
      return result;
    }
    after = std::move(*decoded);
  } else if (!request.anchor.empty()) {
    pg::Result r = connections_.Prepared("sort_key_of", kSortKeyOfSql, {request.anchor}, true);
    if (!r.ok()) return unavailable("find anchor: " + r.error());
    if (r.rows() == 0) {
      result.status = ListResult::Status::kBadAnchor;
      return result;
    }
    after.sort_key = std::string(r.Text(0, 0));
    after.customer_id = request.anchor;
  }

  const size_t page_size = std::clamp<size_t>(request.page_size, 1, 1000);
  const std::vector<std::string> terms = ParseSearchQuery(request.query);
  const std::string joined = JoinTerms(terms);
  const bool all = request.all_workers;
  // Takes the rows of `r` that match the query, in order, until the page and one more are
  // there; true when the page is complete (then next_page_token is set when more follow).
  std::string last_sort_key;
  auto take = [&](const pg::Result& r, int rows) {
    for (int i = 0; i < rows; ++i) {
      if (!terms.empty() && !MatchesAllTerms(r.Text(i, 4), joined)) continue;
      if (result.customers.size() == page_size) {
        result.next_page_token = EncodeCursor({last_sort_key, result.customers.back().customer_id});
        return true;
      }
      result.customers.push_back({std::string(r.Text(i, 0)), std::string(r.Text(i, 1)),
                                  std::string(r.Text(i, 2))});
      last_sort_key = std::string(r.Text(i, 3));
    }
    return false;
  };

  bool walk = terms.empty();
  const IndexRange range = DrivingRange(terms);
  if (!terms.empty()) {
    pg::Result r = connections_.Prepared(
        all ? "search_all" : "search_worker", all ? kSearchAllSql : kSearchWorkerSql,
        {request.worker, pg::Param::Binary(after.sort_key), after.customer_id,
         pg::Param::Binary(range.lo), pg::Param::Binary(range.hi), pg::Param::Binary(range.lo2),
         pg::Param::Binary(range.hi2), std::to_string(kSearchProbeLimit)},
        true);
    if (!r.ok()) return unavailable("search: " + r.error());
    walk = r.rows() == 0 || r.Int(r.rows() - 1, 5) > kSearchProbeLimit;
    if (!walk) {
      take(r, r.rows() - 1);
      return result;
    }
  }
  // The list in order from the cursor: one page (and one row more) for a plain list, and for
  // a search whose terms the server checks exactly (word terms only); else batches checked
  // here until the page is full or the list ends.
  bool exact = false;
  const std::string patterns = WordPatterns(terms, &exact);
  const int64_t limit = exact ? static_cast<int64_t>(page_size) + 1 : kWalkBatch;
  CursorPosition from = after;
  while (true) {
    pg::Result r = connections_.Prepared(
        all ? "list_all" : "list_worker", all ? kListAllSql : kListWorkerSql,
        {request.worker, pg::Param::Binary(from.sort_key), from.customer_id,
         std::to_string(limit), patterns},
        true);
    if (!r.ok()) return unavailable("list customers: " + r.error());
    if (take(r, r.rows()) || r.rows() < limit || terms.empty()) break;
    from.sort_key = std::string(r.Text(r.rows() - 1, 3));
    from.customer_id = std::string(r.Text(r.rows() - 1, 0));
  }
  return result;
}

Lookup<Worker> PgDirectory::FindWorker(std::string_view identity) {
  pg::Result r = connections_.Prepared("find_worker", kFindWorkerSql, {identity});
  if (!r.ok()) return Lookup<Worker>::Unavailable("find worker: " + r.error());
  if (r.rows() == 0) return Lookup<Worker>::Absent();
  return Lookup<Worker>::Found(
      {std::string(r.Text(0, 0)), std::string(r.Text(0, 1)), std::string(r.Text(0, 2))});
}

Lookup<std::vector<std::string>> PgDirectory::WorkersWithCustomers() {
  using Result = Lookup<std::vector<std::string>>;
  pg::Result r = connections_.Prepared("workers_with_customers", kWorkersWithCustomersSql);
  if (!r.ok()) return Result::Unavailable("workers with customers: " + r.error());
  std::vector<std::string> workers;
  for (int i = 0; i < r.rows(); ++i) workers.emplace_back(r.Text(i, 0));
  return Result::Found(std::move(workers));
}

bool PgDirectory::Ping(std::string* error) {
  pg::Result r = connections_.Prepared("ping", "SELECT 1 FROM worker_keys LIMIT 1");
  if (r.ok()) return true;
  if (error != nullptr) *error = "ping: " + r.error();
  return false;
}

}  // namespace frontline
