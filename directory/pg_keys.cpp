#include "directory/pg_keys.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>

#include "directory/customer.h"
#include "directory/schema.h"

namespace frontline {
namespace {

// The keys stored now ("" for none) and whether there are customers; false on error.
bool StoredKeys(pg::Connection& conn, std::string* stored, bool* has_customers,
                std::string* error) {
  pg::Result r = conn.Query(
      "SELECT coalesce((SELECT value FROM settings WHERE name = 'keys'), ''),"
      " EXISTS (SELECT 1 FROM customers)");
  if (!r.ok()) {
    *error = r.error();
    return false;
  }
  *stored = std::string(r.Text(0, 0));
  *has_customers = r.Text(0, 1) == "t";
  return true;
}

bool Run(pg::Connection& conn, const char* sql, std::string* error) {
  pg::Result r = conn.Exec(sql);
  if (!r.ok()) *error = "rebuild keys: " + r.error();
  return r.ok();
}

// Recomputes every customer's keys and the whole search index and records KeysVersion.
bool RebuildPgKeys(pg::Connection& conn, const Collation& collation, size_t* customers,
                   std::string* error) {
  if (!Run(conn,
           "CREATE TEMP TABLE rebuilt_keys (id bigint, sort_key bytea, search_text text,"
           " terms bytea[]) ON COMMIT DROP;"
           " DECLARE rebuild_customers NO SCROLL CURSOR FOR"
           " SELECT id, display_name, channels FROM customers ORDER BY id",
           error)) {
    return false;
  }
  CustomerKeys keys;
  Customer customer;
  size_t count = 0;
  for (;;) {
    pg::Result batch = conn.Query("FETCH 4096 FROM rebuild_customers", {}, /*binary=*/true);
    if (!batch.ok()) {
      *error = "rebuild keys: " + batch.error();
      return false;
    }
    if (batch.rows() == 0) break;
    // Each batch's keys are copied in before the next is fetched: memory stays at one batch.
    pg::CopyRows keys_rows;
    for (int i = 0; i < batch.rows(); ++i) {
      // Binary results: bigint as 8 big-endian bytes.
      const std::string_view id_bytes = batch.Text(i, 0);
      int64_t id = 0;
      for (unsigned char c : id_bytes) id = static_cast<int64_t>((static_cast<uint64_t>(id) << 8) | c);
      customer.display_name = std::string(batch.Text(i, 1));
      customer.channels.clear();
      if (!DecodeChannelsBlob(batch.Text(i, 2), &customer.channels)) {
        *error = "rebuild keys: malformed channels in customers row " + std::to_string(id);
        return false;
      }
      ComputeKeys(customer, collation, &keys);
      keys_rows.Row(4);
      keys_rows.Int64(id);
      keys_rows.Bytes(keys.sort_key);
      keys_rows.Bytes(keys.search_text);
      keys_rows.Array(pg::CopyRows::kByteaOid, keys.index_terms);
      ++count;
    }
    keys_rows.Trailer();
    if (!pg::CopyIn(conn, "COPY rebuilt_keys FROM STDIN (FORMAT binary)", keys_rows.Take(),
                    error)) {
      *error = "rebuild keys: " + *error;
      return false;
    }
  }
  if (!Run(conn, "CLOSE rebuild_customers", error) ||
      !Run(conn,
           "UPDATE customers c SET sort_key = r.sort_key, search_text = r.search_text"
           " FROM rebuilt_keys r WHERE c.id = r.id;"
           " DELETE FROM search_terms;"
           " INSERT INTO worker_keys (wkey, identity)"
           " SELECT (SELECT coalesce(max(wkey), 0) FROM worker_keys) + row_number() OVER"
           " (ORDER BY w), w FROM (SELECT DISTINCT worker AS w FROM customers) n"
           " WHERE NOT EXISTS (SELECT 1 FROM worker_keys k WHERE k.identity = n.w);"
           " INSERT INTO search_terms (wkey, term, customer)"
           " SELECT DISTINCT k.wkey, t.term, c.id FROM rebuilt_keys r"
           " CROSS JOIN LATERAL unnest(r.terms) AS t(term)"
           " JOIN customers c ON c.id = r.id JOIN worker_keys k ON k.identity = c.worker",
           error)) {
    if (error->rfind("rebuild keys", 0) != 0) *error = "rebuild keys: " + *error;
    return false;
  }
  pg::Result stored = conn.Query(
      "INSERT INTO settings (name, value) VALUES ('keys', $1)"
      " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
      {KeysVersion(collation)});
  if (!stored.ok()) {
    *error = "rebuild keys: " + stored.error();
    return false;
  }
  *customers = count;
  return true;
}

}  // namespace

bool RebuildPgKeysIfStale(pg::Connection& conn, const Collation& collation, KeysReport* report,
                          std::string* error) {
  KeysReport done;
  done.version = KeysVersion(collation);
  bool has_customers = false;
  if (!StoredKeys(conn, &done.previous, &has_customers, error)) return false;
  if (done.previous != done.version && has_customers) {
    const auto started = std::chrono::steady_clock::now();
    if (!RebuildPgKeys(conn, collation, &done.customers, error)) return false;
    done.rebuilt = true;
    done.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  if (report != nullptr) *report = done;
  return true;
}

bool EnsurePgKeys(pg::Connection& conn, const Collation& collation, KeysReport* report,
                  std::string* error) {
  std::string stored;
  bool has_customers = false;
  // A read first: the common case (keys current) takes no lock.
  if (!StoredKeys(conn, &stored, &has_customers, error)) return false;
  if (stored == KeysVersion(collation) || !has_customers) {
    if (report != nullptr) {
      *report = KeysReport();
      report->previous = stored;
      report->version = KeysVersion(collation);
    }
    return true;
  }
  auto fail = [&conn] {
    (void)conn.Exec("ROLLBACK");
    return false;
  };
  // No statement bound: a big directory takes a while. Readers go on meanwhile (they see the
  // old keys until the commit).
  if (!Run(conn, "BEGIN; SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '30s';"
                 " LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE", error) ||
      !RebuildPgKeysIfStale(conn, collation, report, error) || !Run(conn, "COMMIT", error)) {
    return fail();
  }
  return true;
}

}  // namespace frontline
