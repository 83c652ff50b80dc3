#include "directory/sqlite_keys.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <tuple>
#include <unordered_map>

#include "db/sqlite.h"
#include "directory/schema.h"
#include "directory/search.h"

namespace frontline {
namespace {

// Bump when SearchTokens or IndexTerms change what they produce, so stored keys are rebuilt.
constexpr const char* kSearchTokensVersion = "search-tokens 2";

}  // namespace

void ComputeKeys(const Customer& customer, const Collation& collation, CustomerKeys* keys) {
  keys->sort_key = collation.SortKey(customer.display_name);
  keys->tokens = SearchTokens(customer.display_name, customer.channels);
  keys->search_text = JoinSearchTokens(keys->tokens);
  keys->index_terms = IndexTerms(keys->tokens);
}

std::string KeysVersion(const Collation& collation) {
  return "collation " + collation.version() + "; " + kSearchTokensVersion;
}

bool StoreKeysVersion(sqlite3* db, const Collation& collation, std::string* error) {
  db::Statement stmt(db,
                     "INSERT INTO settings(name, value) VALUES ('keys', ?1)"
                     " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                     error);
  if (!stmt.ok()) return false;
  stmt.Bind(1, KeysVersion(collation));
  return stmt.Run("store keys version", error);
}

bool KeysAreCurrent(sqlite3* db, const Collation& collation, bool* current, std::string* stored,
                    std::string* error) {
  db::Statement stmt(db, "SELECT value FROM settings WHERE name = 'keys'", error);
  if (!stmt.ok()) return false;
  std::string value;
  switch (stmt.Next()) {
    case db::StepResult::kRow:
      value = stmt.Text(0);
      break;
    case db::StepResult::kDone:
      break;
    case db::StepResult::kError:
      *error = db::Error(db, "read keys version");
      return false;
  }
  *current = value == KeysVersion(collation);
  if (stored != nullptr) *stored = value;
  return true;
}

bool RebuildKeys(sqlite3* db, const Collation& collation, size_t* customers, std::string* error) {
  std::unordered_map<std::string, int64_t> worker_keys;
  {
    db::Statement keys(db, "SELECT wkey, identity FROM worker_keys", error);
    if (!keys.ok()) return false;
    db::StepResult step;
    while ((step = keys.Next()) == db::StepResult::kRow) worker_keys[keys.Text(1)] = keys.Int(0);
    if (step == db::StepResult::kError) {
      *error = db::Error(db, "rebuild keys");
      return false;
    }
  }
  db::Statement add_key(db, "INSERT INTO worker_keys(identity) VALUES (?1)", error);
  db::Statement select(db,
                       "SELECT id, display_name, worker, channels FROM customers WHERE id > ?1"
                       " ORDER BY id LIMIT 4096",
                       error);
  db::Statement update(db, "UPDATE customers SET sort_key = ?1, search_text = ?2 WHERE id = ?3",
                       error);
  if (!add_key.ok() || !select.ok() || !update.ok() ||
      !db::Exec(db, "DELETE FROM search_terms", error)) {
    return false;
  }
  // The index rows, sorted before they are inserted (appending to the B-tree is much faster).
  std::vector<std::tuple<int64_t, std::string, int64_t>> terms;
  CustomerKeys keys;
  Customer customer;
  size_t count = 0;
  int64_t last_id = 0;
  for (;;) {
    db::ResetOnExit reset_select(select);
    select.Bind(1, last_id);
    size_t batch = 0;
    db::StepResult step;
    while ((step = select.Next()) == db::StepResult::kRow) {
      ++batch;
      last_id = select.Int(0);
      customer.display_name = select.Text(1);
      const std::string worker = select.Text(2);
      customer.channels.clear();
      if (!DecodeChannelsBlob(select.Blob(3), &customer.channels)) {
        *error = "rebuild keys: malformed channels in customers row " + std::to_string(last_id);
        return false;
      }
      ComputeKeys(customer, collation, &keys);
      {
        db::ResetOnExit reset(update);
        update.BindBlob(1, keys.sort_key);
        update.Bind(2, keys.search_text);
        update.Bind(3, last_id);
        if (!update.Run("rebuild keys", error)) return false;
      }
      auto it = worker_keys.find(worker);
      if (it == worker_keys.end()) {
        db::ResetOnExit reset(add_key);
        add_key.Bind(1, worker);
        if (!add_key.Run("rebuild keys", error)) return false;
        it = worker_keys.emplace(worker, sqlite3_last_insert_rowid(db)).first;
      }
      for (std::string& term : keys.index_terms) terms.emplace_back(it->second, std::move(term), last_id);
      ++count;
    }
    if (step == db::StepResult::kError) {
      *error = db::Error(db, "rebuild keys");
      return false;
    }
    if (batch == 0) break;
  }
  std::sort(terms.begin(), terms.end());
  db::Statement insert(db, "INSERT OR IGNORE INTO search_terms(wkey, term, customer) VALUES (?1, ?2, ?3)",
                       error);
  if (!insert.ok()) return false;
  for (const auto& [wkey, term, id] : terms) {
    db::ResetOnExit reset(insert);
    insert.Bind(1, wkey);
    insert.Bind(2, term);
    insert.Bind(3, id);
    if (!insert.Run("rebuild search index", error)) return false;
  }
  if (!StoreKeysVersion(db, collation, error)) return false;
  *customers = count;
  return true;
}

bool EnsureKeys(sqlite3* db, const Collation& collation, KeysReport* report, std::string* error) {
  *report = KeysReport();
  report->version = KeysVersion(collation);
  bool current = false;
  if (!KeysAreCurrent(db, collation, &current, &report->previous, error)) return false;
  if (current) return true;
  const auto start = std::chrono::steady_clock::now();
  db::Transaction transaction(db, error);
  if (!transaction.ok()) return false;
  // Another process may have rebuilt them while this one waited for the lock.
  if (!KeysAreCurrent(db, collation, &current, &report->previous, error)) return false;
  if (current) return true;
  if (!RebuildKeys(db, collation, &report->customers, error) || !transaction.Commit(error)) {
    return false;
  }
  report->rebuilt = true;
  report->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

}  // namespace frontline
