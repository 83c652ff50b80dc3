#include "directory/import.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "directory/address.h"
#include "directory/schema.h"
#include "directory/search.h"
#include "directory/sqlite_util.h"
#include "directory/text.h"

namespace frontline {
namespace {

// ---------------------------------------------------------------------------------------------
// Validation

bool HasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

// An absolute http(s) URL with a host, or (when allow_mailto) a mailto: URL with an address.
bool IsAbsoluteUrl(std::string_view url, bool allow_mailto) {
  if (url.empty() || HasSpaceOrControl(url)) return false;
  if (allow_mailto && StartsWithNoCase(url, "mailto:")) return url.size() > 7;
  std::string_view rest;
  if (StartsWithNoCase(url, "https://")) {
    rest = url.substr(8);
  } else if (StartsWithNoCase(url, "http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  size_t host_end = rest.find_first_of("/?#");
  return (host_end == std::string_view::npos ? rest.size() : host_end) > 0;
}

bool IsChannelType(std::string_view type) {
  return type == "sms" || type == "whatsapp" || type == "chat" || type == "email";
}

bool CheckUtf8(std::string_view value, const char* field, std::string* reason) {
  if (IsValidUtf8(value)) return true;
  *reason = std::string("invalid UTF-8 in ") + field;
  return false;
}

// ValidateCustomer, with the UTF-8 checks only when `check_utf8`.
bool CheckCustomer(const Customer& c, bool check_utf8, std::string* reason) {
  auto utf8 = [check_utf8, reason](const std::string& value, const char* field) {
    return !check_utf8 || CheckUtf8(value, field, reason);
  };
  if (c.customer_id.empty()) {
    *reason = "missing customer_id";
    return false;
  }
  if (!utf8(c.customer_id, "customer_id")) return false;
  if (c.display_name.empty()) {
    *reason = "missing display_name";
    return false;
  }
  if (!utf8(c.display_name, "display_name") || !utf8(c.avatar, "avatar") ||
      !utf8(c.worker, "worker") || !utf8(c.details.title, "details.title") ||
      !utf8(c.details.content, "details.content")) {
    return false;
  }
  if (!c.avatar.empty() && !IsAbsoluteUrl(c.avatar, false)) {
    *reason = "avatar \"" + c.avatar + "\" is not an absolute http(s) URL";
    return false;
  }
  for (size_t i = 0; i < c.channels.size(); ++i) {
    const Channel& ch = c.channels[i];
    if (!utf8(ch.type, "channel type") || !utf8(ch.value, "channel value")) {
      return false;
    }
    if (!IsChannelType(ch.type)) {
      *reason = "invalid channel type \"" + ch.type + "\" (expected sms, whatsapp, chat or email)";
      return false;
    }
    if (TrimWhitespace(ch.value).empty()) {
      *reason = "empty " + ch.type + " channel value";
      return false;
    }
  }
  for (const Link& link : c.links) {
    if (!utf8(link.type, "link type") || !utf8(link.value, "link value") ||
        !utf8(link.display_name, "link display_name")) {
      return false;
    }
    if (!IsAbsoluteUrl(link.value, true)) {
      *reason = "malformed link URL \"" + link.value +
                "\" (expected an absolute https://, http:// or mailto: URL)";
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr

class Progress {
 public:
  Progress(bool enabled, uint64_t total) : enabled_(enabled), total_(total) {}

  void Update(uint64_t done, size_t customers) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (printed_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    printed_ = true;
    Print(done, customers);
  }

  void Finish(size_t customers) {
    if (!enabled_) return;
    Print(total_, customers);
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  void Print(uint64_t done, size_t customers) {
    constexpr int kWidth = 30;
    double fraction = total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / total_);
    int filled = static_cast<int>(fraction * kWidth);
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
    bar[kWidth] = '\0';
    std::fprintf(stderr, "\rimport [%s] %5.1f%%  %zu customers", bar, fraction * 100.0, customers);
    std::fflush(stderr);
  }

  bool enabled_;
  uint64_t total_;
  bool printed_ = false;
  std::chrono::steady_clock::time_point last_;
};

// ---------------------------------------------------------------------------------------------
// Writing to the database

// Inserts rows into one table many at a time ("INSERT … VALUES (…),(…),…"): SQLite's fixed cost
// per statement execution dominates single-row inserts, so batching makes bulk loads several
// times faster. Values are buffered here and bound (without copying) when a batch runs.
class BatchInserter {
 public:
  static constexpr int kRowsPerBatch = 256;

  ~BatchInserter() { sqlite3_finalize(full_); }

  // `into` is "table(col, …)" with `columns` columns.
  bool Init(sqlite3* db, const std::string& into, int columns, std::string* error) {
    db_ = db;
    into_ = into;
    columns_ = columns;
    values_.resize(static_cast<size_t>(kRowsPerBatch * columns));
    full_ = PreparePersistent(db, Sql(kRowsPerBatch), error);
    return full_ != nullptr;
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
    return Run(full_, error);
  }

  // Inserts the rows of a partial batch.
  bool Flush(std::string* error) {
    if (count_ == 0) return true;
    sqlite3_stmt* stmt = nullptr;
    std::string sql = Sql(static_cast<int>(count_ / static_cast<size_t>(columns_)));
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      *error = SqliteError(db_, "import");
      return false;
    }
    bool ok = Run(stmt, error);
    sqlite3_finalize(stmt);
    return ok;
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
      *error = SqliteError(db_, "import");
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
  sqlite3_stmt* full_ = nullptr;
};

// What the writer needs besides a validated customer, derived from it on the writer thread
// (which has time to spare while the parsing thread is busy). Reused from one customer to the
// next.
struct PreparedCustomer {
  const Customer* customer = nullptr;
  std::string sort_key;
  std::vector<std::string> tokens;
  std::string search_text;
  std::vector<std::string> addresses;  // distinct normalised channel values
  std::string channels_blob;
  std::string links_blob;
};

void Prepare(const Customer& customer, PreparedCustomer* p) {
  p->customer = &customer;
  p->sort_key = FoldCase(customer.display_name);
  p->tokens = SearchTokens(customer.display_name, customer.channels);
  p->search_text = JoinSearchTokens(p->tokens);
  p->addresses.clear();
  for (const Channel& ch : customer.channels) {
    std::string normalised = NormaliseAddress(ch.value);
    if (std::find(p->addresses.begin(), p->addresses.end(), normalised) == p->addresses.end()) {
      p->addresses.push_back(std::move(normalised));
    }
  }
  p->channels_blob.clear();
  AppendChannelsBlob(customer.channels, &p->channels_blob);
  p->links_blob.clear();
  AppendLinksBlob(customer.links, &p->links_blob);
}

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

class Writer {
 public:
  ~Writer() {
    for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
    if (db_ != nullptr) {
      if (in_transaction_) ExecSql(db_, "ROLLBACK", nullptr);
      sqlite3_close_v2(db_);
    }
  }

  bool Begin(const std::string& path, bool replace, std::string* error) {
    db_ = OpenConnection(path, error);
    if (db_ == nullptr || !Migrate(db_, error)) return false;
    // A big page cache, in-memory temporaries and two sorter threads (CREATE INDEX) make bulk
    // loads several times faster. No memory map: the writer's pages live in its cache anyway.
    if (!ExecSql(db_,
                 "PRAGMA cache_size=-1048576; PRAGMA temp_store=MEMORY; PRAGMA threads=2;"
                 " PRAGMA mmap_size=0;",
                 error)) {
      return false;
    }
    // IMMEDIATE: take the write lock now (waiting on the busy timeout), not at the first write.
    if (!ExecSql(db_, "BEGIN IMMEDIATE", error)) {
      *error = "begin import: " + *error;
      return false;
    }
    in_transaction_ = true;
    if (replace && !ExecSql(db_,
                            "DELETE FROM search_terms; DELETE FROM addresses;"
                            "DELETE FROM customers; DELETE FROM worker_keys; DELETE FROM workers;",
                            error)) {
      return false;
    }
    // Empty customers table: nothing to update, so load in bulk: no lookups, the secondary
    // indexes dropped now and rebuilt by sorting at the end, rows inserted in batches, the
    // addresses and the search index inserted in key order.
    sqlite3_stmt* count = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT NOT EXISTS (SELECT 1 FROM customers)", -1, &count,
                           nullptr) != SQLITE_OK ||
        sqlite3_step(count) != SQLITE_ROW) {
      sqlite3_finalize(count);
      *error = SqliteError(db_, "import");
      return false;
    }
    bulk_ = sqlite3_column_int(count, 0) != 0;
    sqlite3_finalize(count);
    if (bulk_) {
      if (!ExecSql(db_, BulkLoadDropIndexesSql(), error) ||
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
    sqlite3_stmt* keys = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT wkey, identity FROM worker_keys", -1, &keys, nullptr) !=
        SQLITE_OK) {
      *error = SqliteError(db_, "import");
      return false;
    }
    while (sqlite3_step(keys) == SQLITE_ROW) {
      worker_keys_[ColumnText(keys, 1)] = sqlite3_column_int64(keys, 0);
    }
    sqlite3_finalize(keys);

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
      statements_[i] = PreparePersistent(db_, kSql[i], error);
      if (statements_[i] == nullptr) return false;
    }
    return true;
  }

  // Writes one validated customer (insert or replace).
  bool AddCustomer(const Customer& customer, std::string* error) {
    Prepare(customer, &prepared_);
    const PreparedCustomer& p = prepared_;
    const Customer& c = customer;
    int64_t wkey;
    if (!WorkerKey(c.worker, &wkey, error)) return false;
    if (bulk_) return BulkAddCustomer(p, wkey, error);

    int64_t id = -1;
    sqlite3_stmt* find = statements_[kFind];
    {
      StatementReset reset(find);
      BindText(find, 1, c.customer_id);
      int rc = sqlite3_step(find);
      if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(find, 0);
        // Remove the old search tokens (under the old worker's key) and addresses.
        int64_t old_wkey;
        if (!WorkerKey(ColumnText(find, 1), &old_wkey, error)) return false;
        std::string old_text = ColumnText(find, 2);
        size_t i = 1;
        while (i < old_text.size()) {
          size_t end = old_text.find(' ', i);
          if (end == std::string::npos) break;
          sqlite3_stmt* del = statements_[kDeleteTerm];
          StatementReset reset_del(del);
          BindInt(del, 1, old_wkey);
          BindText(del, 2, std::string_view(old_text).substr(i, end - i));
          BindInt(del, 3, id);
          if (!Step(del, error)) return false;
          i = end + 1;
        }
        std::vector<Channel> old_channels;
        if (!DecodeChannelsBlob(ColumnBlob(find, 3), &old_channels)) {
          *error = "import: malformed channels of customer \"" + c.customer_id + "\"";
          return false;
        }
        for (const Channel& ch : old_channels) {
          sqlite3_stmt* del = statements_[kDeleteAddress];
          StatementReset reset_del(del);
          BindText(del, 1, NormaliseAddress(ch.value));
          BindInt(del, 2, id);
          if (!Step(del, error)) return false;
        }
      } else if (rc != SQLITE_DONE) {
        *error = SqliteError(db_, "import");
        return false;
      }
    }

    sqlite3_stmt* write = statements_[id < 0 ? kInsert : kUpdate];
    {
      StatementReset reset(write);
      BindText(write, 1, c.customer_id);
      BindText(write, 2, c.display_name);
      BindText(write, 3, p.sort_key);
      BindText(write, 4, c.avatar);
      BindText(write, 5, c.details.title);
      BindText(write, 6, c.details.content);
      BindText(write, 7, c.worker);
      BindText(write, 8, p.search_text);
      BindBlob(write, 9, p.channels_blob);
      BindBlob(write, 10, p.links_blob);
      if (id >= 0) BindInt(write, 11, id);
      if (!Step(write, error)) return false;
    }
    if (id < 0) id = sqlite3_last_insert_rowid(db_);

    for (const std::string& address : p.addresses) {
      sqlite3_stmt* s = statements_[kInsertAddress];
      StatementReset reset(s);
      BindText(s, 1, address);
      BindInt(s, 2, id);
      if (!Step(s, error)) return false;
    }
    for (const std::string& token : p.tokens) {
      sqlite3_stmt* s = statements_[kInsertTerm];
      StatementReset reset(s);
      BindInt(s, 1, wkey);
      BindText(s, 2, token);
      BindInt(s, 3, id);
      if (!Step(s, error)) return false;
    }
    return true;
  }

  bool AddWorker(const Worker& w, std::string* error) {
    sqlite3_stmt* s = statements_[kUpsertWorker];
    StatementReset reset(s);
    BindText(s, 1, w.identity);
    BindText(s, 2, w.sms_number);
    BindText(s, 3, w.whatsapp_number);
    return Step(s, error);
  }

  bool Commit(std::string* error) {
    if (bulk_ && !FinishBulkLoad(error)) return false;
    if (!ExecSql(db_, "COMMIT", error)) {
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

  bool BulkAddCustomer(const PreparedCustomer& p, int64_t wkey, std::string* error) {
    const Customer& c = *p.customer;
    const int64_t id = ++last_id_;  // the table started empty
    customers_.Int(id);
    customers_.Text(c.customer_id);
    customers_.Text(c.display_name);
    customers_.Text(p.sort_key);
    customers_.Text(c.avatar);
    customers_.Text(c.details.title);
    customers_.Text(c.details.content);
    customers_.Text(c.worker);
    customers_.Text(p.search_text);
    customers_.Blob(p.channels_blob);
    customers_.Blob(p.links_blob);
    if (!customers_.EndRow(error)) return false;
    for (const std::string& address : p.addresses) pending_addresses_.Add(0, address, id);
    for (const std::string& token : p.tokens) pending_terms_.Add(wkey, token, id);
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
    bool ok = ExecSql(db_, BulkLoadCreateIndexesSql(), error);
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

  bool Step(sqlite3_stmt* stmt, std::string* error) {
    if (sqlite3_step(stmt) == SQLITE_DONE) return true;
    *error = SqliteError(db_, "import");
    return false;
  }

  bool WorkerKey(const std::string& identity, int64_t* wkey, std::string* error) {
    auto it = worker_keys_.find(identity);
    if (it != worker_keys_.end()) {
      *wkey = it->second;
      return true;
    }
    sqlite3_stmt* s = statements_[kInsertWorkerKey];
    StatementReset reset(s);
    BindText(s, 1, identity);
    if (!Step(s, error)) return false;
    *wkey = sqlite3_last_insert_rowid(db_);
    worker_keys_.emplace(identity, *wkey);
    return true;
  }

  sqlite3* db_ = nullptr;
  bool in_transaction_ = false;
  bool bulk_ = false;
  int64_t last_id_ = 0;
  sqlite3_stmt* statements_[kCount] = {};
  BatchInserter customers_, addresses_, terms_;
  std::unordered_map<std::string, int64_t> worker_keys_;
  SortedRows pending_addresses_;  // group 0
  SortedRows pending_terms_;      // grouped by worker key
  PreparedCustomer prepared_;
};

// ---------------------------------------------------------------------------------------------
// The import of one run: duplicate checks across files, validation, the writer, statistics.

// Where a record starts: "file:line", or "customers[N]" for in-memory records.
struct Location {
  const std::string* source = nullptr;
  size_t line = 0;
  bool index = false;

  std::string ToString() const {
    return index ? *source + "[" + std::to_string(line) + "]"
                 : *source + ":" + std::to_string(line);
  }
};

// Where validated records go: the database (Pipeline) or a list (ParseImportData).
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual bool AddCustomer(Customer&& customer, std::string* error) = 0;
  virtual bool AddWorker(const Worker& worker, std::string* error) = 0;
};

// Keeps the records in memory, for ParseImportData; never fails.
class CollectingSink : public RecordSink {
 public:
  CollectingSink(std::vector<Customer>* customers, std::vector<Worker>* workers)
      : customers_(customers), workers_(workers) {}

  bool AddCustomer(Customer&& customer, std::string*) override {
    if (customers_ != nullptr) customers_->push_back(std::move(customer));
    return true;
  }
  bool AddWorker(const Worker& worker, std::string*) override {
    if (workers_ != nullptr) workers_->push_back(worker);
    return true;
  }

 private:
  std::vector<Customer>* customers_;
  std::vector<Worker>* workers_;
};

// Runs the Writer on its own thread, fed batches of prepared records through a small bounded
// queue: parsing/validation and SQLite then use both cores. The first writer error stops the
// import (reported by Add*/Finish); nothing is committed here.
class Pipeline : public RecordSink {
 public:
  explicit Pipeline(Writer* writer) : writer_(writer), thread_([this] { Run(); }) {}

  ~Pipeline() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool AddCustomer(Customer&& customer, std::string* error) override {
    if (current_.customers.empty()) current_.customers.reserve(kBatchSize);
    current_.customers.push_back(std::move(customer));
    return current_.customers.size() < kBatchSize || Submit(error);
  }
  bool AddWorker(const Worker& worker, std::string* error) override {
    current_.workers.push_back(worker);
    return current_.workers.size() < kBatchSize || Submit(error);
  }

  // Waits until everything submitted is written. False with `error` on a writer failure.
  bool Finish(std::string* error) {
    if (!Submit(error)) return false;
    std::unique_lock<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return finished_; });
    if (failed_) {
      *error = error_;
      return false;
    }
    return true;
  }

 private:
  static constexpr size_t kBatchSize = 512;
  static constexpr size_t kMaxQueued = 8;

  struct Batch {
    std::vector<Customer> customers;
    std::vector<Worker> workers;
  };

  bool Submit(std::string* error) {
    std::deque<Batch> spent;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return queue_.size() < kMaxQueued || failed_; });
    // Written batches are freed here, on the thread that allocated them: glibc's allocator is
    // much slower when memory is freed on another thread.
    spent.swap(spent_);
    if (failed_) {
      *error = error_;
      return false;
    }
    if (!current_.customers.empty() || !current_.workers.empty()) {
      queue_.push_back(std::move(current_));
      current_ = Batch();
      cv_.notify_all();
    }
    return true;
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return !queue_.empty() || done_; });
      if (stop_ || (queue_.empty() && done_)) break;
      Batch batch = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      lock.unlock();
      std::string error;
      bool ok = true;
      for (const Customer& c : batch.customers) {
        if (!(ok = writer_->AddCustomer(c, &error))) break;
      }
      for (size_t i = 0; ok && i < batch.workers.size(); ++i) {
        ok = writer_->AddWorker(batch.workers[i], &error);
      }
      lock.lock();
      spent_.push_back(std::move(batch));
      if (!ok) {
        failed_ = true;
        error_ = error;
        queue_.clear();
        cv_.notify_all();
        break;
      }
    }
    finished_ = true;
    cv_.notify_all();
  }

  Writer* writer_;
  Batch current_;  // being filled by the parsing thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::deque<Batch> spent_;  // written, to be freed by the parsing thread
  bool done_ = false;        // no more batches will come
  bool stop_ = false;        // abandon the queue (destruction)
  bool finished_ = false;    // the writer thread is done
  bool failed_ = false;
  std::string error_;
  std::thread thread_;  // last: starts after the members above exist
};

// The import of one run: validation, duplicate checks across files, statistics; feeds the
// pipeline.
// The customer_ids seen so far with where each was first seen, for the duplicate check: an
// open-addressing table over one arena of ids, so a million ids cost a few allocations rather
// than a million.
class IdSet {
 public:
  // Adds `id` seen at `where`; false (with `first` set) when it was already there.
  bool Insert(std::string_view id, const Location& where, Location* first) {
    if ((entries_.size() + 1) * 2 > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    const uint64_t hash = Hash(id);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      uint32_t slot = slots_[i];
      if (slot == 0) {
        slots_[i] = static_cast<uint32_t>(entries_.size() + 1);
        entries_.push_back({hash, arena_.size(), id.size(), where});
        arena_.append(id);
        return true;
      }
      const Entry& e = entries_[slot - 1];
      if (e.hash == hash && std::string_view(arena_).substr(e.offset, e.length) == id) {
        *first = e.where;
        return false;
      }
    }
  }

 private:
  struct Entry {
    uint64_t hash;
    size_t offset;
    size_t length;
    Location where;
  };

  static uint64_t Hash(std::string_view s) {
    uint64_t h = 14695981039346656037ull;  // FNV-1a, then a final mix
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
  }

  void Grow() {
    std::vector<uint32_t> slots(slots_.empty() ? 1024 : slots_.size() * 2, 0);
    const size_t mask = slots.size() - 1;
    for (size_t k = 0; k < entries_.size(); ++k) {
      size_t i = entries_[k].hash & mask;
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = static_cast<uint32_t>(k + 1);
    }
    slots_.swap(slots);
  }

  std::vector<uint32_t> slots_;  // 0 = empty, else entries_ index + 1
  std::vector<Entry> entries_;
  std::string arena_;
};

class Importer {
 public:
  Importer(RecordSink* sink, ImportStats* stats) : sink_(sink), stats_(stats) {}

  // `utf8_checked`: the caller already knows every string is valid UTF-8.
  bool AddCustomer(Customer&& customer, const Location& where, bool utf8_checked,
                   std::string* error) {
    std::string reason;
    if (!CheckCustomer(customer, !utf8_checked, &reason)) {
      *error = where.ToString() + ": " + reason;
      return false;
    }
    Location first;
    if (!customer_ids_.Insert(customer.customer_id, where, &first)) {
      *error = where.ToString() + ": duplicate customer_id \"" + customer.customer_id +
               "\" (first at " + first.ToString() + ")";
      return false;
    }
    if (!sink_->AddCustomer(std::move(customer), error)) return false;
    ++stats_->customers;
    return true;
  }

  bool AddWorker(const Worker& worker, const Location& where, std::string* error) {
    std::string reason;
    if (!ValidateWorker(worker, &reason)) {
      *error = where.ToString() + ": " + reason;
      return false;
    }
    if (!worker_ids_.insert(worker.identity).second) {
      *error = where.ToString() + ": duplicate worker identity \"" + worker.identity + "\"";
      return false;
    }
    if (!sink_->AddWorker(worker, error)) return false;
    ++stats_->workers;
    return true;
  }

  size_t customers() const { return stats_->customers; }

 private:
  RecordSink* sink_;
  ImportStats* stats_;
  IdSet customer_ids_;
  std::unordered_set<std::string> worker_ids_;
};

// ---------------------------------------------------------------------------------------------
// Reading files: a buffered RapidJSON-compatible input stream that counts lines.

class LineStream {
 public:
  typedef char Ch;

  explicit LineStream(std::FILE* file) : file_(file) { Fill(); }

  Ch Peek() {
    if (pos_ == size_) Fill();
    return pos_ < size_ ? buffer_[pos_] : '\0';
  }
  Ch Take() {
    if (pos_ == size_) Fill();
    if (pos_ >= size_) return '\0';
    Ch c = buffer_[pos_++];
    if (c == '\n') ++line_;
    return c;
  }
  size_t Tell() const { return consumed_ + pos_; }
  bool AtEnd() {
    if (pos_ == size_) Fill();
    return pos_ >= size_;
  }
  size_t line() const { return line_; }
  bool read_error() const { return read_error_; }

  // Not used for reading (RapidJSON needs them to compile).
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  void Fill() {
    consumed_ += size_;
    pos_ = 0;
    size_ = std::fread(buffer_, 1, sizeof(buffer_), file_);
    if (size_ == 0 && std::ferror(file_)) read_error_ = true;
  }

  std::FILE* file_;
  char buffer_[1 << 16];
  size_t pos_ = 0;
  size_t size_ = 0;
  size_t consumed_ = 0;
  size_t line_ = 1;
  bool read_error_ = false;
};

// The same interface over a file read into memory: no refills, and line numbers counted only
// when asked for (from the last position asked about), which keeps Take() trivial.
class MemoryLineStream {
 public:
  typedef char Ch;

  explicit MemoryLineStream(std::string_view data) : data_(data) {}

  Ch Peek() const { return pos_ < data_.size() ? data_[pos_] : '\0'; }
  Ch Take() { return pos_ < data_.size() ? data_[pos_++] : '\0'; }
  size_t Tell() const { return pos_; }
  bool AtEnd() const { return pos_ >= data_.size(); }
  // The text read since position `from`.
  std::string_view Since(size_t from) const { return data_.substr(from, pos_ - from); }
  size_t line() {
    if (pos_ > counted_) {
      line_ += static_cast<size_t>(std::count(data_.data() + counted_, data_.data() + pos_, '\n'));
      counted_ = pos_;
    }
    return line_;
  }
  bool read_error() const { return false; }

  // Not used for reading (RapidJSON needs them to compile).
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  size_t counted_ = 0;  // line_ is the line of this position (positions only move forward)
  size_t line_ = 1;
};

// ---------------------------------------------------------------------------------------------
// JSON

using JsonValue = rapidjson::Value;

bool GetString(const JsonValue& object, const char* name, const std::string& path, std::string* out,
               std::string* reason) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsString()) {
    *reason = path + name + " must be a string";
    return false;
  }
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

bool CustomerFromJson(const JsonValue& v, Customer* c, std::string* reason) {
  if (!v.IsObject()) {
    *reason = "a customer must be a JSON object";
    return false;
  }
  auto id = v.FindMember("customer_id");
  if (id == v.MemberEnd() || id->value.IsNull()) {
    *reason = "missing customer_id";
    return false;
  }
  if (id->value.IsString()) {
    c->customer_id.assign(id->value.GetString(), id->value.GetStringLength());
  } else if (id->value.IsInt64()) {
    c->customer_id = std::to_string(id->value.GetInt64());
  } else if (id->value.IsUint64()) {
    c->customer_id = std::to_string(id->value.GetUint64());
  } else {
    *reason = "customer_id must be a string or an integer";
    return false;
  }
  if (!GetString(v, "display_name", "", &c->display_name, reason) ||
      !GetString(v, "avatar", "", &c->avatar, reason) ||
      !GetString(v, "worker", "", &c->worker, reason)) {
    return false;
  }
  auto channels = v.FindMember("channels");
  if (channels != v.MemberEnd() && !channels->value.IsNull()) {
    if (!channels->value.IsArray()) {
      *reason = "channels must be an array";
      return false;
    }
    for (rapidjson::SizeType i = 0; i < channels->value.Size(); ++i) {
      const JsonValue& item = channels->value[i];
      std::string path = "channels[" + std::to_string(i) + "].";
      if (!item.IsObject()) {
        *reason = "channels[" + std::to_string(i) + "] must be an object";
        return false;
      }
      Channel channel;
      if (!GetString(item, "type", path, &channel.type, reason) ||
          !GetString(item, "value", path, &channel.value, reason)) {
        return false;
      }
      c->channels.push_back(std::move(channel));
    }
  }
  auto links = v.FindMember("links");
  if (links != v.MemberEnd() && !links->value.IsNull()) {
    if (!links->value.IsArray()) {
      *reason = "links must be an array";
      return false;
    }
    for (rapidjson::SizeType i = 0; i < links->value.Size(); ++i) {
      const JsonValue& item = links->value[i];
      std::string path = "links[" + std::to_string(i) + "].";
      if (!item.IsObject()) {
        *reason = "links[" + std::to_string(i) + "] must be an object";
        return false;
      }
      Link link;
      if (!GetString(item, "type", path, &link.type, reason) ||
          !GetString(item, "value", path, &link.value, reason) ||
          !GetString(item, "display_name", path, &link.display_name, reason)) {
        return false;
      }
      c->links.push_back(std::move(link));
    }
  }
  auto details = v.FindMember("details");
  if (details != v.MemberEnd() && !details->value.IsNull()) {
    if (!details->value.IsObject()) {
      *reason = "details must be an object";
      return false;
    }
    if (!GetString(details->value, "title", "details.", &c->details.title, reason) ||
        !GetString(details->value, "content", "details.", &c->details.content, reason)) {
      return false;
    }
  }
  return true;
}

bool WorkerFromJson(const JsonValue& v, Worker* w, std::string* reason) {
  if (!v.IsObject()) {
    *reason = "a worker must be a JSON object";
    return false;
  }
  return GetString(v, "identity", "", &w->identity, reason) &&
         GetString(v, "sms_number", "", &w->sms_number, reason) &&
         GetString(v, "whatsapp_number", "", &w->whatsapp_number, reason);
}

// Reads one JSON file from a MemoryLineStream. With `utf8_checked` the caller has validated the
// whole input as UTF-8 once, so the parser does not check it again, nor does the record
// validation for records without \u escapes (RapidJSON rejects a lone high surrogate escape as a
// syntax error but writes a lone low one, \udc00-\udfff, as invalid UTF-8).
template <typename Stream>
class JsonFileReader {
 public:
  JsonFileReader(const std::string& name, Stream* in, Importer* importer, Progress* progress,
                 uint64_t base_bytes, bool utf8_checked)
      : name_(name),
        in_(in),
        importer_(importer),
        progress_(progress),
        base_bytes_(base_bytes),
        utf8_checked_(utf8_checked) {}

  bool Read(std::string* error) {
    SkipSpace();
    char c = in_->Peek();
    bool ok;
    if (c == '[') {
      ok = ReadArray(true, error);
    } else if (c == '{') {
      ok = ReadObject(error);
    } else {
      return Fail("expected an array of customers or an object with \"customers\"", error);
    }
    if (!ok) return false;
    SkipSpace();
    if (!in_->AtEnd()) return Fail("unexpected data after the JSON value", error);
    return true;
  }

 private:
  // Iterative: RapidJSON's default recursive descent overflows the stack on a record nested
  // a few hundred thousand levels deep (e.g. an unknown member of "[[[[…").
  static constexpr unsigned kFlags =
      rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseIterativeFlag;
  static constexpr unsigned kValidatingFlags = kFlags | rapidjson::kParseValidateEncodingFlag;

  std::string Where(size_t line) const { return name_ + ":" + std::to_string(line); }

  bool Fail(const std::string& reason, std::string* error) {
    *error = Where(in_->line()) + ": " + reason;
    return false;
  }

  void SkipSpace() {
    for (char c = in_->Peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = in_->Peek()) {
      in_->Take();
    }
  }

  // Parses one complete JSON value into doc_ (memory reused between values).
  bool ParseValue(std::string* error) {
    doc_.SetNull();
    pool_.Clear();
    if (utf8_checked_) {
      doc_.template ParseStream<kFlags>(*in_);
    } else {
      doc_.template ParseStream<kValidatingFlags>(*in_);
    }
    if (doc_.HasParseError()) {
      rapidjson::ParseErrorCode code = doc_.GetParseError();
      std::string reason =
          code == rapidjson::kParseErrorStringInvalidEncoding
              ? std::string("invalid UTF-8")
              : std::string("JSON syntax error: ") + rapidjson::GetParseError_En(code);
      return Fail(reason, error);
    }
    return true;
  }

  bool ReadObject(std::string* error) {
    in_->Take();  // '{'
    SkipSpace();
    if (in_->Peek() == '}') {
      in_->Take();
      return true;
    }
    while (true) {
      SkipSpace();
      if (in_->Peek() != '"') return Fail("expected a member name", error);
      if (!ParseValue(error)) return false;
      std::string key(doc_.GetString(), doc_.GetStringLength());
      SkipSpace();
      if (in_->Take() != ':') return Fail("expected ':'", error);
      SkipSpace();
      if (key == "customers" || key == "workers") {
        if (in_->Peek() != '[') return Fail("\"" + key + "\" must be an array", error);
        if (!ReadArray(key == "customers", error)) return false;
      } else if (!ParseValue(error)) {  // unknown member: parsed and ignored
        return false;
      }
      SkipSpace();
      char c = in_->Take();
      if (c == '}') return true;
      if (c != ',') return Fail("expected ',' or '}'", error);
    }
  }

  bool ReadArray(bool customers, std::string* error) {
    in_->Take();  // '['
    SkipSpace();
    if (in_->Peek() == ']') {
      in_->Take();
      return true;
    }
    size_t index = 0;
    while (true) {
      SkipSpace();
      const size_t line = in_->line();
      const size_t start = in_->Tell();
      if (!ParseValue(error)) return false;
      std::string reason;
      if (customers) {
        Customer customer;
        if (!CustomerFromJson(doc_, &customer, &reason)) {
          *error = Where(line) + ": " + reason;
          return false;
        }
        // RapidJSON 1.1 turns an escaped lone low surrogate ("\udc00") into bytes that are not
        // UTF-8, so a record with \u escapes is checked even when the file is known to be UTF-8
        // (import_json_fuzz finding).
        const bool utf8_checked =
            utf8_checked_ && in_->Since(start).find("\\u") == std::string_view::npos;
        if (!importer_->AddCustomer(std::move(customer), Location{&name_, line}, utf8_checked,
                                    error)) {
          return false;
        }
      } else {
        Worker worker;
        if (!WorkerFromJson(doc_, &worker, &reason)) {
          *error = Where(line) + ": " + reason;
          return false;
        }
        if (!importer_->AddWorker(worker, Location{&name_, line}, error)) return false;
      }
      if (++index % 1024 == 0) progress_->Update(base_bytes_ + in_->Tell(), importer_->customers());
      SkipSpace();
      char c = in_->Take();
      if (c == ']') return true;
      if (c != ',') return Fail("expected ',' or ']'", error);
    }
  }

  const std::string& name_;
  Stream* in_;
  Importer* importer_;
  Progress* progress_;
  uint64_t base_bytes_;
  bool utf8_checked_;
  // Value memory and the parser's stack both come from pools backed by our own buffers (aligned
  // for the pools' chunk headers), so parsing one record after another allocates nothing once
  // the buffers are big enough.
  using Pool = rapidjson::MemoryPoolAllocator<>;
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, Pool>;
  alignas(std::max_align_t) char pool_buffer_[1 << 16];
  alignas(std::max_align_t) char stack_buffer_[1 << 14];
  Pool pool_{pool_buffer_, sizeof(pool_buffer_)};
  Pool stack_pool_{stack_buffer_, sizeof(stack_buffer_)};
  Document doc_{&pool_, 1024, &stack_pool_};
};

// ---------------------------------------------------------------------------------------------
// CSV

constexpr const char* kCustomerColumns[] = {"customer_id",  "display_name",     "avatar",
                                            "worker",       "details_title",    "details_content",
                                            "channel_type", "channel_value",    "link_type",
                                            "link_value",   "link_display_name"};
enum CustomerColumn {
  kColId,
  kColName,
  kColAvatar,
  kColWorker,
  kColDetailsTitle,
  kColDetailsContent,
  kColChannelType,
  kColChannelValue,
  kColLinkType,
  kColLinkValue,
  kColLinkDisplayName,
  kCustomerColumnCount,
};
constexpr const char* kWorkerColumns[] = {"identity", "sms_number", "whatsapp_number"};

class CsvFileReader {
 public:
  CsvFileReader(const std::string& name, LineStream* in, Importer* importer, Progress* progress,
                uint64_t base_bytes)
      : name_(name), in_(in), importer_(importer), progress_(progress), base_bytes_(base_bytes) {}

  bool Read(std::string* error) {
    std::vector<std::string> fields;
    bool blank;
    size_t line;
    size_t rows = 0;
    while (true) {
      line = in_->line();
      if (!ReadRecord(&fields, &blank, error)) return false;
      if (fields.empty()) break;  // end of file
      if (++rows % 1024 == 0) progress_->Update(base_bytes_ + in_->Tell(), importer_->customers());
      if (kind_ == kNone) {
        if (blank) continue;
        if (!StartTable(fields, line, error)) return false;
        continue;
      }
      if (blank) {  // an empty line ends the table
        if (!FlushCustomer(error)) return false;
        kind_ = kNone;
        continue;
      }
      if (fields.size() != columns_.size()) {
        *error = Where(line) + ": expected " + std::to_string(columns_.size()) + " fields, found " +
                 std::to_string(fields.size());
        return false;
      }
      if (!(kind_ == kCustomers ? CustomerRow(fields, line, error)
                                : WorkerRow(fields, line, error))) {
        return false;
      }
    }
    return FlushCustomer(error);
  }

 private:
  enum Kind { kNone, kCustomers, kWorkers };

  std::string Where(size_t line) const { return name_ + ":" + std::to_string(line); }

  // One RFC 4180 record. `fields` empty at end of file; `blank` for an empty line.
  bool ReadRecord(std::vector<std::string>* fields, bool* blank, std::string* error) {
    fields->clear();
    *blank = false;
    if (in_->AtEnd()) return !in_->read_error() || Fail("read error", error);
    const size_t line = in_->line();
    bool saw_anything = false;
    while (true) {  // one field per iteration
      std::string field;
      if (in_->Peek() == '"') {
        in_->Take();
        saw_anything = true;
        while (true) {
          if (in_->AtEnd()) {
            *error = Where(line) + ": unterminated quoted field";
            return false;
          }
          char q = in_->Take();
          if (q == '"') {
            if (in_->Peek() != '"' || in_->AtEnd()) break;
            in_->Take();
          }
          field.push_back(q);
        }
        if (!in_->AtEnd()) {
          char c = in_->Peek();
          if (c != ',' && c != '\n' && c != '\r') {
            return Fail("unexpected character after a closing quote", error);
          }
        }
      } else {
        while (!in_->AtEnd()) {
          char c = in_->Peek();
          if (c == ',' || c == '\n' || c == '\r') break;
          if (c == '"') return Fail("quote inside an unquoted field", error);
          field.push_back(in_->Take());
          saw_anything = true;
        }
      }
      fields->push_back(std::move(field));
      if (!in_->AtEnd() && in_->Peek() == ',') {
        in_->Take();
        saw_anything = true;
        continue;
      }
      EndOfRecord();
      break;
    }
    *blank = !saw_anything;
    return CheckUtf8Fields(*fields, line, error);
  }

  // Consumes a line ending if one is next; true when the record ended.
  bool EndOfRecord() {
    if (in_->AtEnd()) return true;
    char c = in_->Peek();
    if (c == '\r') {
      in_->Take();
      if (in_->Peek() == '\n') in_->Take();
      return true;
    }
    if (c == '\n') {
      in_->Take();
      return true;
    }
    return false;
  }

  bool CheckUtf8Fields(const std::vector<std::string>& fields, size_t line, std::string* error) {
    for (const std::string& f : fields) {
      if (!IsValidUtf8(f)) {
        *error = Where(line) + ": invalid UTF-8";
        return false;
      }
    }
    return true;
  }

  bool Fail(const std::string& reason, std::string* error) {
    *error = Where(in_->line()) + ": " + reason;
    return false;
  }

  bool StartTable(const std::vector<std::string>& header, size_t line, std::string* error) {
    const bool workers = std::find(header.begin(), header.end(), "identity") != header.end();
    kind_ = workers ? kWorkers : kCustomers;
    columns_.assign(header.size(), -1);
    std::vector<bool> seen(workers ? std::size(kWorkerColumns) : std::size(kCustomerColumns));
    for (size_t i = 0; i < header.size(); ++i) {
      int index = -1;
      for (size_t k = 0; k < seen.size(); ++k) {
        if (header[i] == (workers ? kWorkerColumns[k] : kCustomerColumns[k]))
          index = static_cast<int>(k);
      }
      if (index < 0) {
        *error = Where(line) + ": unknown column \"" + header[i] + "\"";
        return false;
      }
      if (seen[index]) {
        *error = Where(line) + ": duplicate column \"" + header[i] + "\"";
        return false;
      }
      seen[index] = true;
      columns_[i] = index;
    }
    if (!workers && (!seen[kColId] || !seen[kColName])) {
      *error = Where(line) + ": the header needs the columns customer_id and display_name";
      return false;
    }
    return true;
  }

  bool WorkerRow(const std::vector<std::string>& fields, size_t line, std::string* error) {
    Worker worker;
    std::string* targets[] = {&worker.identity, &worker.sms_number, &worker.whatsapp_number};
    for (size_t i = 0; i < fields.size(); ++i) *targets[columns_[i]] = fields[i];
    return importer_->AddWorker(worker, Location{&name_, line}, error);
  }

  bool CustomerRow(const std::vector<std::string>& fields, size_t line, std::string* error) {
    std::string row[kCustomerColumnCount];
    for (size_t i = 0; i < fields.size(); ++i) row[columns_[i]] = fields[i];
    auto where = [&] { return Where(line); };

    const bool continuation =
        has_pending_ && !row[kColId].empty() && row[kColId] == pending_.customer_id;
    if (continuation) {
      // Customer-level columns: empty or repeating the first row.
      const std::pair<int, const std::string*> same[] = {
          {kColName, &pending_.display_name},
          {kColAvatar, &pending_.avatar},
          {kColWorker, &pending_.worker},
          {kColDetailsTitle, &pending_.details.title},
          {kColDetailsContent, &pending_.details.content}};
      for (const auto& [column, value] : same) {
        if (!row[column].empty() && row[column] != *value) {
          *error = where() + ": " + kCustomerColumns[column] +
                   " differs from the first row of customer \"" + row[kColId] + "\"";
          return false;
        }
      }
    } else {
      if (!FlushCustomer(error)) return false;
      pending_ = Customer();
      has_pending_ = true;
      pending_line_ = line;
      pending_.customer_id = row[kColId];
      pending_.display_name = row[kColName];
      pending_.avatar = row[kColAvatar];
      pending_.worker = row[kColWorker];
      pending_.details.title = row[kColDetailsTitle];
      pending_.details.content = row[kColDetailsContent];
    }
    if (!row[kColChannelType].empty() || !row[kColChannelValue].empty()) {
      Channel channel{row[kColChannelType], row[kColChannelValue]};
      std::string reason;
      Customer probe;
      probe.customer_id = "x";
      probe.display_name = "x";
      probe.channels.push_back(channel);
      if (!ValidateCustomer(probe, &reason)) {
        *error = where() + ": " + reason;
        return false;
      }
      pending_.channels.push_back(std::move(channel));
    }
    if (!row[kColLinkType].empty() || !row[kColLinkValue].empty() ||
        !row[kColLinkDisplayName].empty()) {
      Link link{row[kColLinkType], row[kColLinkValue], row[kColLinkDisplayName]};
      std::string reason;
      Customer probe;
      probe.customer_id = "x";
      probe.display_name = "x";
      probe.links.push_back(link);
      if (!ValidateCustomer(probe, &reason)) {
        *error = where() + ": " + reason;
        return false;
      }
      pending_.links.push_back(std::move(link));
    }
    return true;
  }

  bool FlushCustomer(std::string* error) {
    if (!has_pending_) return true;
    has_pending_ = false;
    return importer_->AddCustomer(std::move(pending_), Location{&name_, pending_line_}, false,
                                  error);
  }

  const std::string& name_;
  LineStream* in_;
  Importer* importer_;
  Progress* progress_;
  uint64_t base_bytes_;
  Kind kind_ = kNone;
  std::vector<int> columns_;  // field index → column enum
  Customer pending_;
  bool has_pending_ = false;
  size_t pending_line_ = 0;
};

std::string LowercaseExtension(const std::string& path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 0x20);
  }
  return ext;
}

// Reads the rest of `file` into `data`; false on a read error.
bool ReadWholeFile(std::FILE* file, std::string* data) {
  data->clear();
  if (std::fseek(file, 0, SEEK_END) == 0) {
    long size = std::ftell(file);
    if (size > 0) data->reserve(static_cast<size_t>(size));
    std::rewind(file);
  }
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0) data->append(chunk, n);
  return !std::ferror(file);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

bool ValidateCustomer(const Customer& c, std::string* reason) {
  return CheckCustomer(c, true, reason);
}

bool ValidateWorker(const Worker& w, std::string* reason) {
  if (w.identity.empty()) {
    *reason = "missing worker identity";
    return false;
  }
  return CheckUtf8(w.identity, "identity", reason) &&
         CheckUtf8(w.sms_number, "sms_number", reason) &&
         CheckUtf8(w.whatsapp_number, "whatsapp_number", reason);
}

bool ImportFiles(const std::string& db_path, const std::vector<std::string>& files,
                 const ImportOptions& options, ImportStats* stats, std::string* error) {
  std::string detail;
  ImportStats local_stats;
  // Check the names and sizes before taking the write lock.
  uint64_t total_bytes = 0;
  std::vector<std::unique_ptr<std::FILE, FileCloser>> handles;
  for (const std::string& file : files) {
    std::string ext = LowercaseExtension(file);
    if (ext != "json" && ext != "csv") {
      if (error != nullptr) *error = file + ": unsupported file type (expected .json or .csv)";
      return false;
    }
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(file.c_str(), "rb"));
    if (!f) {
      if (error != nullptr) *error = file + ": " + std::strerror(errno);
      return false;
    }
    if (std::fseek(f.get(), 0, SEEK_END) == 0) {
      long size = std::ftell(f.get());
      if (size > 0) total_bytes += static_cast<uint64_t>(size);
      std::rewind(f.get());
    }
    handles.push_back(std::move(f));
  }

  Writer writer;
  if (!writer.Begin(db_path, options.replace, &detail)) {
    if (error != nullptr) *error = detail;
    return false;
  }
  Pipeline pipeline(&writer);
  Importer importer(&pipeline, &local_stats);
  Progress progress(options.progress, total_bytes);
  uint64_t base = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    bool ok;
    size_t consumed;
    if (LowercaseExtension(files[i]) == "json") {
      // JSON is parsed from memory, with the UTF-8 validity of the whole file checked once (the
      // per-character check in the parser is only used to locate an error).
      std::string data;
      ok = ReadWholeFile(handles[i].get(), &data);
      if (ok) {
        MemoryLineStream in(data);
        ok = JsonFileReader<MemoryLineStream>(files[i], &in, &importer, &progress, base,
                                              IsValidUtf8(data))
                 .Read(&detail);
        consumed = in.Tell();
      } else {
        detail = files[i] + ": read error";
      }
    } else {
      auto in = std::make_unique<LineStream>(handles[i].get());
      ok = CsvFileReader(files[i], in.get(), &importer, &progress, base).Read(&detail);
      if (ok && in->read_error()) {
        ok = false;
        detail = files[i] + ": read error";
      }
      consumed = in->Tell();
    }
    if (!ok) {
      if (options.progress) std::fputc('\n', stderr);
      if (error != nullptr) *error = detail;
      return false;  // ~Writer rolls back
    }
    base += consumed;
  }
  if (!pipeline.Finish(&detail) || !writer.Commit(&detail)) {
    if (error != nullptr) *error = detail;
    return false;
  }
  progress.Finish(local_stats.customers);
  if (stats != nullptr) *stats = local_stats;
  return true;
}

bool ImportRecords(const std::string& db_path, const std::vector<Customer>& customers,
                   const std::vector<Worker>& workers, const ImportOptions& options,
                   ImportStats* stats, std::string* error) {
  std::string detail;
  ImportStats local_stats;
  Writer writer;
  if (!writer.Begin(db_path, options.replace, &detail)) {
    if (error != nullptr) *error = detail;
    return false;
  }
  Pipeline pipeline(&writer);
  Importer importer(&pipeline, &local_stats);
  Progress progress(options.progress, customers.size() + workers.size());
  const std::string customers_name = "customers", workers_name = "workers";
  for (size_t i = 0; i < customers.size(); ++i) {
    Customer copy = customers[i];
    if (!importer.AddCustomer(std::move(copy), Location{&customers_name, i, true}, false,
                              &detail)) {
      if (error != nullptr) *error = detail;
      return false;
    }
    if (i % 1024 == 0) progress.Update(i, local_stats.customers);
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!importer.AddWorker(workers[i], Location{&workers_name, i, true}, &detail)) {
      if (error != nullptr) *error = detail;
      return false;
    }
  }
  if (!pipeline.Finish(&detail) || !writer.Commit(&detail)) {
    if (error != nullptr) *error = detail;
    return false;
  }
  progress.Finish(local_stats.customers);
  if (stats != nullptr) *stats = local_stats;
  return true;
}

bool ParseImportData(const std::string& name, std::string_view data,
                     std::vector<Customer>* customers, std::vector<Worker>* workers,
                     std::string* error) {
  std::string detail;
  const std::string ext = LowercaseExtension(name);
  if (ext != "json" && ext != "csv") {
    if (error != nullptr) *error = name + ": unsupported file type (expected .json or .csv)";
    return false;
  }
  CollectingSink sink(customers, workers);
  ImportStats stats;
  Importer importer(&sink, &stats);
  Progress progress(false, 0);
  bool ok;
  if (ext == "json") {
    MemoryLineStream in(data);
    ok = JsonFileReader<MemoryLineStream>(name, &in, &importer, &progress, 0, IsValidUtf8(data))
             .Read(&detail);
  } else {
    // The CSV reader works on a FILE*, as ImportFiles gives it; fmemopen reads `data` in place
    // (the buffer is only read: "rb").
    std::unique_ptr<std::FILE, FileCloser> file(
        fmemopen(const_cast<char*>(data.data()), data.size(), "rb"));
    if (!file) {
      if (error != nullptr) *error = name + ": " + std::strerror(errno);
      return false;
    }
    auto in = std::make_unique<LineStream>(file.get());
    ok = CsvFileReader(name, in.get(), &importer, &progress, 0).Read(&detail);
    if (ok && in->read_error()) {
      ok = false;
      detail = name + ": read error";
    }
  }
  if (!ok && error != nullptr) *error = detail;
  return ok;
}

std::vector<Customer> SeedDemoCustomers(const std::string& phone1, const std::string& phone2,
                                        const std::string& worker_identity) {
  const Details details{"Purchase History",
                        "Product: Unobtanium\n\nDate: 2021-07-07\nQuantity: 1000 units\n\n"
                        "Sales rep: Ash Williams"};
  const std::string avatar = "https://example.com/image.jpeg";
  Customer one;
  one.customer_id = "1";
  one.display_name = "Customer 1";
  one.avatar = avatar;
  if (!phone1.empty()) one.channels.push_back({"sms", phone1});
  if (!worker_identity.empty()) one.channels.push_back({"chat", worker_identity});
  one.links.push_back({"Facebook", "https://meta.facebook.com/", "Meta"});
  one.details = details;
  one.worker = worker_identity;
  Customer two;
  two.customer_id = "2";
  two.display_name = "Customer 2";
  two.avatar = avatar;
  if (!phone2.empty()) two.channels.push_back({"sms", phone2});
  two.links.push_back({"Facebook", "https://meta.facebook.com/", "Facebook"});
  two.details = details;
  two.worker = worker_identity;
  return {one, two};
}

}  // namespace frontline
