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
// Plain pages, and the ordered walk of searches whose driving range is large.
constexpr const char* kListWorkerSql =
    "SELECT " FL_SUMMARY " FROM customers c WHERE c.worker = $1 AND" FL_AFTER FL_ORDER
    "LIMIT $4";
constexpr const char* kListAllSql =
    "SELECT " FL_SUMMARY " FROM customers c WHERE $1 = $1 AND" FL_AFTER FL_ORDER "LIMIT $4";
// How many index rows the driving ranges hold, counting at most $4 per range.
constexpr const char* kProbeWorkerSql =
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE wkey = (SELECT wkey FROM"
    " worker_keys WHERE identity = $1) AND term >= $2 AND term < $3 LIMIT $4) r)"
    " + (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE wkey = (SELECT wkey FROM"
    " worker_keys WHERE identity = $1) AND term >= $5 AND term < $6 LIMIT $4) r2)";
constexpr const char* kProbeAllSql =
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE $1 = $1 AND"
    " term >= $2 AND term < $3 LIMIT $4) r)"
    " + (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE"
    " term >= $5 AND term < $6 LIMIT $4) r2)";
// Every customer in the driving ranges after the cursor, in order (few: the probe said so);
// the query's terms are checked here, in C++, as SQLite's fl_match_all does.
constexpr const char* kCandidatesWorkerSql =
    "SELECT " FL_SUMMARY " FROM customers c WHERE c.id IN ("
    " SELECT customer FROM search_terms WHERE wkey = (SELECT wkey FROM worker_keys WHERE"
    " identity = $1) AND ((term >= $4 AND term < $5) OR (term >= $6 AND term < $7)))"
    " AND c.worker = $1 AND" FL_AFTER FL_ORDER;
constexpr const char* kCandidatesAllSql =
    "SELECT " FL_SUMMARY " FROM customers c WHERE c.id IN ("
    " SELECT customer FROM search_terms WHERE (term >= $4 AND term < $5) OR"
    " (term >= $6 AND term < $7)) AND $1 = $1 AND" FL_AFTER FL_ORDER;
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
  auto take = [&](const pg::Result& r) {
    for (int i = 0; i < r.rows(); ++i) {
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
    pg::Result probe = connections_.Prepared(
        all ? "probe_all" : "probe_worker", all ? kProbeAllSql : kProbeWorkerSql,
        {request.worker, pg::Param::Binary(range.lo), pg::Param::Binary(range.hi),
         std::to_string(kSearchProbeLimit + 1), pg::Param::Binary(range.lo2),
         pg::Param::Binary(range.hi2)});
    if (!probe.ok()) return unavailable("search: " + probe.error());
    walk = probe.Int(0, 0) > kSearchProbeLimit;
    if (!walk) {
      pg::Result r = connections_.Prepared(
          all ? "candidates_all" : "candidates_worker",
          all ? kCandidatesAllSql : kCandidatesWorkerSql,
          {request.worker, pg::Param::Binary(after.sort_key), after.customer_id,
           pg::Param::Binary(range.lo), pg::Param::Binary(range.hi), pg::Param::Binary(range.lo2),
           pg::Param::Binary(range.hi2)},
          true);
      if (!r.ok()) return unavailable("search: " + r.error());
      take(r);
      return result;
    }
  }
  // The list in order from the cursor: one page (and one row more) for a plain list; for a
  // search, batches checked here until the page is full or the list ends.
  const int64_t limit = terms.empty() ? static_cast<int64_t>(page_size) + 1 : kWalkBatch;
  CursorPosition from = after;
  while (true) {
    pg::Result r = connections_.Prepared(
        all ? "list_all" : "list_worker", all ? kListAllSql : kListWorkerSql,
        {request.worker, pg::Param::Binary(from.sort_key), from.customer_id,
         std::to_string(limit)},
        true);
    if (!r.ok()) return unavailable("list customers: " + r.error());
    if (take(r) || r.rows() < limit || terms.empty()) break;
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
