#include "directory/import/pg_writer.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "db/postgres.h"
#include "directory/address.h"
#include "directory/collation.h"
#include "directory/pg_keys.h"
#include "directory/pg_schema.h"
#include "directory/schema.h"
#include "directory/sqlite_keys.h"

namespace frontline {
namespace {



class PgImportWriter : public ImportWriter {
 public:
  PgImportWriter(std::unique_ptr<pg::Connection> conn, std::unique_ptr<Collation> collation)
      : conn_(std::move(conn)), collation_(std::move(collation)) {}

  ~PgImportWriter() override { Abort(); }

  bool Begin(bool replace, std::string* error) override {
    if (!Run("BEGIN", error)) return false;
    in_transaction_ = true;
    // Another import waits here; readers (SELECT) are not blocked.
    if (!Run("LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE", error)) return false;
    if (replace && !Run("DELETE FROM search_terms; DELETE FROM addresses; DELETE FROM customers;"
                        " DELETE FROM worker_keys; DELETE FROM workers",
                        error)) {
      return false;
    }
    // The rows kept must have this collation's keys, like the rows about to be written.
    if (!RebuildPgKeysIfStale(*conn_, *collation_, nullptr, error)) return false;
    if (!Run("CREATE TEMP TABLE import_customers (seq bigint, customer_id text, display_name"
             " text, sort_key bytea, avatar text, details_title text, details_content text,"
             " worker text, search_text text, channels bytea, links bytea, addresses text[],"
             " terms bytea[]) ON COMMIT DROP",
             error)) {
      return false;
    }
    copying_ = pg::StartCopy(*conn_,
        "COPY import_customers (seq, customer_id, display_name, sort_key, avatar, details_title,"
        " details_content, worker, search_text, channels, links, addresses, terms)"
        " FROM STDIN (FORMAT binary)",
        error);
    if (!copying_) *error = "import: " + *error;
    return copying_;
  }

  bool AddCustomer(const Customer& c, std::string* error) override {
    ComputeKeys(c, *collation_, &keys_);
    const int64_t seq = ++seq_;
    channels_blob_.clear();
    AppendChannelsBlob(c.channels, &channels_blob_);
    links_blob_.clear();
    AppendLinksBlob(c.links, &links_blob_);
    // One streamed COPY carries everything (a connection has one COPY at a time), the
    // addresses and search terms as arrays: memory stays at one chunk whatever the size.
    DistinctAddresses(c.channels, &addresses_of_customer_);
    customers_.Row(13);
    customers_.Int64(seq);
    customers_.Bytes(c.customer_id);
    customers_.Bytes(c.display_name);
    customers_.Bytes(keys_.sort_key);
    customers_.Bytes(c.avatar);
    customers_.Bytes(c.details.title);
    customers_.Bytes(c.details.content);
    customers_.Bytes(c.worker);
    customers_.Bytes(keys_.search_text);
    customers_.Bytes(channels_blob_);
    customers_.Bytes(links_blob_);
    customers_.Array(pg::CopyRows::kTextOid, addresses_of_customer_);
    customers_.Array(pg::CopyRows::kByteaOid, keys_.index_terms);
    if (customers_.size() >= pg::kCopyChunk && !pg::SendCopy(*conn_, customers_.Take(), error)) {
      *error = "import: " + *error;
      return false;
    }
    return true;
  }

  bool AddWorker(const Worker& worker, std::string* error) override {
    (void)error;
    workers_.push_back(worker);
    return true;
  }

  bool Commit(std::string* error) override {
    customers_.Trailer();
    copying_ = false;
    if (!pg::SendCopy(*conn_, customers_.Take(), error) || !pg::EndCopy(*conn_, error)) {
      *error = "import: " + *error;
      return false;
    }
    // The last record of a customer_id wins, as with SQLite's row-by-row upsert.
    static const char* const kMerge =
        "CREATE TEMP TABLE import_last ON COMMIT DROP AS SELECT DISTINCT ON (customer_id) *"
        " FROM import_customers ORDER BY customer_id, seq DESC;"
        "DELETE FROM search_terms t USING customers c, import_last i"
        " WHERE t.customer = c.id AND c.customer_id = i.customer_id;"
        "DELETE FROM addresses a USING customers c, import_last i"
        " WHERE a.customer = c.id AND c.customer_id = i.customer_id;"
        "INSERT INTO customers (customer_id, display_name, sort_key, avatar, details_title,"
        " details_content, worker, search_text, channels, links)"
        " SELECT customer_id, display_name, sort_key, avatar, details_title, details_content,"
        " worker, search_text, channels, links FROM import_last ORDER BY seq"
        " ON CONFLICT (customer_id) DO UPDATE SET display_name = EXCLUDED.display_name,"
        " sort_key = EXCLUDED.sort_key, avatar = EXCLUDED.avatar,"
        " details_title = EXCLUDED.details_title, details_content = EXCLUDED.details_content,"
        " worker = EXCLUDED.worker, search_text = EXCLUDED.search_text,"
        " channels = EXCLUDED.channels, links = EXCLUDED.links;"
        "INSERT INTO worker_keys (wkey, identity)"
        " SELECT (SELECT coalesce(max(wkey), 0) FROM worker_keys) + row_number() OVER"
        " (ORDER BY w), w FROM (SELECT DISTINCT worker AS w FROM import_last) n"
        " WHERE NOT EXISTS (SELECT 1 FROM worker_keys k WHERE k.identity = n.w);"
        "INSERT INTO addresses (normalised, customer)"
        " SELECT DISTINCT a.normalised, c.id FROM import_last i"
        " CROSS JOIN LATERAL unnest(i.addresses) AS a(normalised)"
        " JOIN customers c ON c.customer_id = i.customer_id ON CONFLICT DO NOTHING;"
        "INSERT INTO search_terms (wkey, term, customer)"
        " SELECT DISTINCT k.wkey, t.term, c.id FROM import_last i"
        " CROSS JOIN LATERAL unnest(i.terms) AS t(term)"
        " JOIN customers c ON c.customer_id = i.customer_id"
        " JOIN worker_keys k ON k.identity = c.worker ON CONFLICT DO NOTHING";
    if (!Run(kMerge, error)) return false;
    for (const Worker& w : workers_) {
      pg::Result r = conn_->Query(
          "INSERT INTO workers (identity, sms_number, whatsapp_number) VALUES ($1, $2, $3)"
          " ON CONFLICT (identity) DO UPDATE SET sms_number = EXCLUDED.sms_number,"
          " whatsapp_number = EXCLUDED.whatsapp_number",
          {w.identity, w.sms_number, w.whatsapp_number});
      if (!r.ok()) {
        *error = "import: " + r.error();
        return false;
      }
    }
    pg::Result keys = conn_->Query(
        "INSERT INTO settings (name, value) VALUES ('keys', $1)"
        " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        {KeysVersion(*collation_)});
    if (!keys.ok()) {
      *error = "import: " + keys.error();
      return false;
    }
    if (!Run("COMMIT", error)) {
      *error = "commit import: " + *error;
      return false;
    }
    in_transaction_ = false;
    // Fresh statistics, so the planner picks the indexes at once rather than after autovacuum
    // has seen the new rows (a bulk load left lookups scanning whole tables meanwhile), and a
    // visibility map, so list pages and search walks are index-only scans (without it every
    // row read also fetched its heap page: 34 buffers for a 30-row page instead of 4). Not part
    // of the import: a failure here changes nothing stored.
    (void)conn_->Exec("VACUUM (ANALYZE) customers, addresses, search_terms, worker_keys, workers");
    return true;
  }

  void Abort() override {
    if (copying_) {
      pg::AbortCopy(*conn_, "import aborted");
      copying_ = false;
    }
    if (in_transaction_) (void)conn_->Exec("ROLLBACK");
    in_transaction_ = false;
  }

 private:
  bool Run(const char* sql, std::string* error) {
    pg::Result r = conn_->Exec(sql);
    if (!r.ok()) {
      *error = "import: " + r.error();
      return false;
    }
    return true;
  }

  std::unique_ptr<pg::Connection> conn_;
  std::unique_ptr<Collation> collation_;
  bool in_transaction_ = false;
  bool copying_ = false;
  int64_t seq_ = 0;
  CustomerKeys keys_;
  std::vector<std::string> addresses_of_customer_;
  std::string channels_blob_;
  std::string links_blob_;
  pg::CopyRows customers_;
  std::vector<Worker> workers_;
};

}  // namespace

std::unique_ptr<ImportWriter> OpenPgImportWriter(const std::string& conninfo,
                                                 const std::string& schema,
                                                 const std::string& collation,
                                                 std::string* error) {
  std::unique_ptr<Collation> c = Collation::Create(collation, error);
  if (c == nullptr) return nullptr;
  pg::ConnectOptions options;
  options.conninfo = conninfo;
  options.schema = schema;
  // An import may take minutes: no statement bound; it waits for another import's lock only
  // as long as a webhook would (lock_timeout), then says so.
  options.statement_timeout_ms = 0;
  std::unique_ptr<pg::Connection> conn = pg::Connection::Open(options, error);
  if (conn == nullptr || !MigratePgDirectory(*conn, schema, error)) return nullptr;
  return std::make_unique<PgImportWriter>(std::move(conn), std::move(c));
}

}  // namespace frontline
