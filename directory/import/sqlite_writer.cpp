#include "directory/import/sqlite_writer.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "db/sqlite.h"
#include "directory/address.h"
#include "directory/collation.h"
#include "directory/schema.h"
#include "directory/search.h"
#include "directory/sqlite_keys.h"

namespace frontline {
namespace {

// Inserts rows into one table many at a time ("INSERT … VALUES (…),(…),…"): SQLite's fixed cost
// per statement execution dominates single-row inserts, so batching makes bulk loads several
// times faster. Values are buffered here and bound (without copying) when a batch runs.
class BatchInserter {
 public:
  static constexpr int kRowsPerBatch = 256;

  // `into` is "table(col, …)" with `columns` columns.
  bool Init(sqlite3* db, const std::string& into, int columns, std::string* error) {
    db_ = db;
    into_ = into;
    columns_ = columns;
    values_.resize(static_cast<size_t>(kRowsPerBatch * columns));
    full_ = db::Statement(db, Sql(kRowsPerBatch), error, db::Statement::Lifetime::kPersistent);
    return full_.ok();
  }

  void Text(std::string_view value) {
    Value& v = values_[count_++];
    v.kind = Value::kText;
    v.text.assign(value.data(), value.size());
  }
  void Blob(std::string_view value) {
    Value& v = values_[count_++];
    v.kind = Value::kBlob;
    v.text.assign(value.data(), value.size());
  }
  void Int(int64_t value) {
    Value& v = values_[count_++];
    v.kind = Value::kInt;
    v.integer = value;
  }

  // Ends a row; runs the batch when it is full.
  bool EndRow(std::string* error) {
    if (count_ < values_.size()) return true;
    return Run(full_.get(), error);
  }

  // Inserts the rows of a partial batch.
  bool Flush(std::string* error) {
    if (count_ == 0) return true;
    db::Statement partial(db_, Sql(static_cast<int>(count_ / static_cast<size_t>(columns_))),
                          error);
    return partial.ok() && Run(partial.get(), error);
  }

 private:
  struct Value {
    enum Kind { kInt, kText, kBlob };
    Kind kind = kInt;
    int64_t integer = 0;
    std::string text;
  };

  bool Run(sqlite3_stmt* stmt, std::string* error) {
    for (size_t i = 0; i < count_; ++i) {
      const Value& v = values_[i];
      int index = static_cast<int>(i) + 1;
      switch (v.kind) {
        case Value::kText:
          sqlite3_bind_text64(stmt, index, v.text.data(), v.text.size(), SQLITE_STATIC,
                              SQLITE_UTF8);
          break;
        case Value::kBlob:
          sqlite3_bind_blob64(stmt, index, v.text.data(), v.text.size(), SQLITE_STATIC);
          break;
        case Value::kInt:
          sqlite3_bind_int64(stmt, index, v.integer);
          break;
      }
    }
    count_ = 0;
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
      *error = db::Error(db_, "import");
      return false;
    }
    return true;
  }

  std::string Sql(int rows) const {
    std::string row = "(";
    for (int i = 0; i < columns_; ++i) row += i == 0 ? "?" : ",?";
    row += ")";
    std::string sql = "INSERT INTO " + into_ + " VALUES ";
    for (int i = 0; i < rows; ++i) {
      if (i > 0) sql += ',';
      sql += row;
    }
    return sql;
  }

  sqlite3* db_ = nullptr;
  std::string into_;
  int columns_ = 0;
  std::vector<Value> values_;
  size_t count_ = 0;
  db::Statement full_;
};

// Rows of a WITHOUT ROWID table (group, key, customer) collected during a bulk load and
// inserted at the end in primary-key order, which appends to the B-tree instead of inserting
// at random places. Keys live in one arena; the sort compares the first 8 bytes as an integer.
class SortedRows {
 public:
  void Add(int64_t group, std::string_view key, int64_t customer) {
    Row row;
    row.group = group;
    row.customer = customer;
    row.offset = arena_.size();
    row.length = static_cast<uint32_t>(key.size());
    row.prefix = PrefixKey(key);
    arena_.append(key);
    rows_.push_back(row);
  }

  // Safe to run on another thread while nothing is added.
  void Sort() {
    std::string_view arena = arena_;
    std::sort(rows_.begin(), rows_.end(), [arena](const Row& a, const Row& b) {
      if (a.group != b.group) return a.group < b.group;
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      int cmp = arena.substr(a.offset, a.length).compare(arena.substr(b.offset, b.length));
      if (cmp != 0) return cmp < 0;
      return a.customer < b.customer;
    });
  }

  // Calls `emit(group, key, customer)` for each row in order, then frees the rows.
  template <typename Emit>
  bool Drain(Emit emit) {
    std::string_view arena = arena_;
    for (const Row& row : rows_) {
      if (!emit(row.group, arena.substr(row.offset, row.length), row.customer)) return false;
    }
    rows_ = std::vector<Row>();
    arena_ = std::string();
    return true;
  }

 private:
  struct Row {
    uint64_t prefix;  // first 8 bytes of the key, big-endian: most comparisons end here
    int64_t group;
    int64_t customer;
    size_t offset;
    uint32_t length;
  };

  static uint64_t PrefixKey(std::string_view key) {
    uint64_t prefix = 0;
    for (size_t i = 0; i < 8; ++i) {
      prefix = (prefix << 8) | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0u);
    }
    return prefix;
  }

  std::vector<Row> rows_;
  std::string arena_;
};

class SqliteImportWriter : public ImportWriter {
 public:
  explicit SqliteImportWriter(std::unique_ptr<Collation> collation)
      : collation_(std::move(collation)) {}

  ~SqliteImportWriter() override {
    for (db::Statement& stmt : statements_) stmt = db::Statement();
    customers_ = BatchInserter();
    addresses_ = BatchInserter();
    terms_ = BatchInserter();
    if (db_ != nullptr) {
      Abort();
      sqlite3_close_v2(db_);
    }
  }

  bool Open(const std::string& path, std::string* error) {
    db_ = OpenConnection(path, error);
    if (db_ == nullptr || !Migrate(db_, error)) return false;
    // A big page cache, in-memory temporaries and two sorter threads (CREATE INDEX) make bulk
    // loads several times faster. No memory map: the writer's pages live in its cache anyway.
    return db::Exec(db_,
                    "PRAGMA cache_size=-1048576; PRAGMA temp_store=MEMORY; PRAGMA threads=2;"
                    " PRAGMA mmap_size=0;",
                    error);
  }

  void Abort() override {
    if (in_transaction_) (void)db::Exec(db_, "ROLLBACK", nullptr);
    in_transaction_ = false;
  }

  bool Begin(bool replace, std::string* error) override {
    // IMMEDIATE: take the write lock now (waiting on the busy timeout), not at the first write.
    if (!db::Exec(db_, "BEGIN IMMEDIATE", error)) {
      *error = "begin import: " + *error;
      return false;
    }
    in_transaction_ = true;
    if (replace && !db::Exec(db_,
                             "DELETE FROM search_terms; DELETE FROM addresses;"
                             "DELETE FROM customers; DELETE FROM worker_keys; DELETE FROM workers;",
                             error)) {
      return false;
    }
    // The rows kept must have this collation's keys, like the rows about to be written.
    bool current = false;
    if (!KeysAreCurrent(db_, *collation_, &current, nullptr, error)) return false;
    if (!current) {
      size_t rebuilt = 0;
      if (!RebuildKeys(db_, *collation_, &rebuilt, error)) return false;
    }
    // Empty customers table: nothing to update, so load in bulk: no lookups, the secondary
    // indexes dropped now and rebuilt by sorting at the end, rows inserted in batches, the
    // addresses and the search index inserted in key order.
    {
      db::Statement empty(db_, "SELECT NOT EXISTS (SELECT 1 FROM customers)", error);
      if (!empty.ok()) return false;
      if (empty.Next() != db::StepResult::kRow) {
        *error = db::Error(db_, "import");
        return false;
      }
      bulk_ = empty.Int(0) != 0;
    }
    if (bulk_) {
      if (!db::Exec(db_, BulkLoadDropIndexesSql(), error) ||
          !customers_.Init(db_,
                           "customers(id, customer_id, display_name, sort_key, avatar,"
                           " details_title, details_content, worker, search_text, channels, links)",
                           11, error) ||
          !addresses_.Init(db_, "addresses(normalised, customer)", 2, error) ||
          !terms_.Init(db_, "search_terms(wkey, term, customer)", 3, error)) {
        return false;
      }
    }

    // Existing worker keys.
    {
      db::Statement keys(db_, "SELECT wkey, identity FROM worker_keys", error);
      if (!keys.ok()) return false;
      db::StepResult step;
      while ((step = keys.Next()) == db::StepResult::kRow) worker_keys_[keys.Text(1)] = keys.Int(0);
      if (step == db::StepResult::kError) {
        *error = db::Error(db_, "import");
        return false;
      }
    }

    static const char* const kSql[kCount] = {
        "SELECT id, worker, search_text, channels FROM customers WHERE customer_id = ?1",
        "INSERT INTO customers(customer_id, display_name, sort_key, avatar, details_title,"
        " details_content, worker, search_text, channels, links)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        "UPDATE customers SET customer_id = ?1, display_name = ?2, sort_key = ?3, avatar = ?4,"
        " details_title = ?5, details_content = ?6, worker = ?7, search_text = ?8,"
        " channels = ?9, links = ?10 WHERE id = ?11",
        "DELETE FROM addresses WHERE normalised = ?1 AND customer = ?2",
        "DELETE FROM search_terms WHERE wkey = ?1 AND term = ?2 AND customer = ?3",
        "INSERT OR IGNORE INTO addresses(normalised, customer) VALUES (?1, ?2)",
        "INSERT OR IGNORE INTO search_terms(wkey, term, customer) VALUES (?1, ?2, ?3)",
        "INSERT INTO worker_keys(identity) VALUES (?1)",
        "INSERT INTO workers(identity, sms_number, whatsapp_number) VALUES (?1, ?2, ?3)"
        " ON CONFLICT(identity) DO UPDATE SET sms_number = excluded.sms_number,"
        " whatsapp_number = excluded.whatsapp_number",
    };
    for (int i = 0; i < kCount; ++i) {
      statements_[i] = db::Statement(db_, kSql[i], error, db::Statement::Lifetime::kPersistent);
      if (!statements_[i].ok()) return false;
    }
    return StoreKeysVersion(db_, *collation_, error);
  }

  // Writes one validated customer (insert or replace).
  bool AddCustomer(const Customer& customer, std::string* error) override {
    Prepare(customer);
    const Customer& c = customer;
    int64_t wkey;
    if (!WorkerKey(c.worker, &wkey, error)) return false;
    if (bulk_) return BulkAddCustomer(c, wkey, error);

    int64_t id = -1;
    {
      db::Statement& find = statements_[kFind];
      db::ResetOnExit reset(find);
      find.Bind(1, c.customer_id);
      db::StepResult step = find.Next();
      if (step == db::StepResult::kRow) {
        id = find.Int(0);
        // Remove the old search index rows (under the old worker's key) and addresses.
        int64_t old_wkey;
        if (!WorkerKey(find.Text(1), &old_wkey, error)) return false;
        for (const std::string& term : IndexTerms(SplitSearchText(find.Text(2)))) {
          db::Statement& del = statements_[kDeleteTerm];
          db::ResetOnExit reset_del(del);
          del.Bind(1, old_wkey);
          del.Bind(2, term);
          del.Bind(3, id);
          if (!del.Run("import", error)) return false;
        }
        std::vector<Channel> old_channels;
        if (!DecodeChannelsBlob(find.Blob(3), &old_channels)) {
          *error = "import: malformed channels of customer \"" + c.customer_id + "\"";
          return false;
        }
        for (const Channel& ch : old_channels) {
          db::Statement& del = statements_[kDeleteAddress];
          db::ResetOnExit reset_del(del);
          del.Bind(1, NormaliseAddress(ch.value));
          del.Bind(2, id);
          if (!del.Run("import", error)) return false;
        }
      } else if (step == db::StepResult::kError) {
        *error = db::Error(db_, "import");
        return false;
      }
    }

    {
      db::Statement& write = statements_[id < 0 ? kInsert : kUpdate];
      db::ResetOnExit reset(write);
      write.Bind(1, c.customer_id);
      write.Bind(2, c.display_name);
      write.BindBlob(3, keys_.sort_key);
      write.Bind(4, c.avatar);
      write.Bind(5, c.details.title);
      write.Bind(6, c.details.content);
      write.Bind(7, c.worker);
      write.Bind(8, keys_.search_text);
      write.BindBlob(9, channels_blob_);
      write.BindBlob(10, links_blob_);
      if (id >= 0) write.Bind(11, id);
      if (!write.Run("import", error)) return false;
    }
    if (id < 0) id = sqlite3_last_insert_rowid(db_);

    for (const std::string& address : addresses_of_customer_) {
      db::Statement& s = statements_[kInsertAddress];
      db::ResetOnExit reset(s);
      s.Bind(1, address);
      s.Bind(2, id);
      if (!s.Run("import", error)) return false;
    }
    for (const std::string& term : keys_.index_terms) {
      db::Statement& s = statements_[kInsertTerm];
      db::ResetOnExit reset(s);
      s.Bind(1, wkey);
      s.Bind(2, term);
      s.Bind(3, id);
      if (!s.Run("import", error)) return false;
    }
    return true;
  }

  bool AddWorker(const Worker& w, std::string* error) override {
    db::Statement& s = statements_[kUpsertWorker];
    db::ResetOnExit reset(s);
    s.Bind(1, w.identity);
    s.Bind(2, w.sms_number);
    s.Bind(3, w.whatsapp_number);
    return s.Run("import", error);
  }

  bool Commit(std::string* error) override {
    if (bulk_ && !FinishBulkLoad(error)) return false;
    if (!db::Exec(db_, "COMMIT", error)) {
      *error = "commit import: " + *error;
      return false;
    }
    in_transaction_ = false;
    return true;
  }

 private:
  enum Stmt {
    kFind,
    kInsert,
    kUpdate,
    kDeleteAddress,
    kDeleteTerm,
    kInsertAddress,
    kInsertTerm,
    kInsertWorkerKey,
    kUpsertWorker,
    kCount,
  };

  // Derives what the rows need besides the customer (on the writer thread, which has time to
  // spare while the parsing thread is busy); the buffers are reused from one customer to the
  // next.
  void Prepare(const Customer& customer) {
    ComputeKeys(customer, *collation_, &keys_);
    DistinctAddresses(customer.channels, &addresses_of_customer_);
    channels_blob_.clear();
    AppendChannelsBlob(customer.channels, &channels_blob_);
    links_blob_.clear();
    AppendLinksBlob(customer.links, &links_blob_);
  }

  bool BulkAddCustomer(const Customer& c, int64_t wkey, std::string* error) {
    const int64_t id = ++last_id_;  // the table started empty
    customers_.Int(id);
    customers_.Text(c.customer_id);
    customers_.Text(c.display_name);
    customers_.Blob(keys_.sort_key);
    customers_.Text(c.avatar);
    customers_.Text(c.details.title);
    customers_.Text(c.details.content);
    customers_.Text(c.worker);
    customers_.Text(keys_.search_text);
    customers_.Blob(channels_blob_);
    customers_.Blob(links_blob_);
    if (!customers_.EndRow(error)) return false;
    for (const std::string& address : addresses_of_customer_) pending_addresses_.Add(0, address, id);
    for (const std::string& term : keys_.index_terms) pending_terms_.Add(wkey, term, id);
    return true;
  }

  // Rebuilds the secondary indexes and, meanwhile on a helper thread, sorts the collected
  // addresses and search terms, which are then appended in key order.
  bool FinishBulkLoad(std::string* error) {
    if (!customers_.Flush(error)) return false;
    std::thread sorter([this] {
      pending_terms_.Sort();
      pending_addresses_.Sort();
    });
    bool ok = db::Exec(db_, BulkLoadCreateIndexesSql(), error);
    sorter.join();
    if (!ok) return false;
    ok = pending_addresses_.Drain([this, error](int64_t, std::string_view key, int64_t id) {
      addresses_.Text(key);
      addresses_.Int(id);
      return addresses_.EndRow(error);
    });
    if (!ok || !addresses_.Flush(error)) return false;
    ok = pending_terms_.Drain([this, error](int64_t wkey, std::string_view key, int64_t id) {
      terms_.Int(wkey);
      terms_.Text(key);
      terms_.Int(id);
      return terms_.EndRow(error);
    });
    return ok && terms_.Flush(error);
  }

  bool WorkerKey(const std::string& identity, int64_t* wkey, std::string* error) {
    auto it = worker_keys_.find(identity);
    if (it != worker_keys_.end()) {
      *wkey = it->second;
      return true;
    }
    db::Statement& s = statements_[kInsertWorkerKey];
    db::ResetOnExit reset(s);
    s.Bind(1, identity);
    if (!s.Run("import", error)) return false;
    *wkey = sqlite3_last_insert_rowid(db_);
    worker_keys_.emplace(identity, *wkey);
    return true;
  }

  std::unique_ptr<Collation> collation_;
  sqlite3* db_ = nullptr;
  bool in_transaction_ = false;
  bool bulk_ = false;
  int64_t last_id_ = 0;
  db::Statement statements_[kCount];
  BatchInserter customers_, addresses_, terms_;
  std::unordered_map<std::string, int64_t> worker_keys_;
  SortedRows pending_addresses_;  // group 0
  SortedRows pending_terms_;      // grouped by worker key
  // The customer being written (Prepare).
  CustomerKeys keys_;
  std::vector<std::string> addresses_of_customer_;
  std::string channels_blob_;
  std::string links_blob_;
};

}  // namespace

std::unique_ptr<ImportWriter> OpenSqliteImportWriter(const std::string& path,
                                                     const std::string& collation,
                                                     std::string* error) {
  std::unique_ptr<Collation> c = Collation::Create(collation, error);
  if (c == nullptr) return nullptr;
  auto writer = std::make_unique<SqliteImportWriter>(std::move(c));
  if (!writer->Open(path, error)) return nullptr;
  return writer;
}

}  // namespace frontline
