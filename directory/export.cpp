#include "directory/export.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "db/postgres.h"
#include "db/sqlite.h"
#include "directory/customer.h"
#include "directory/customer_json.h"
#include "directory/customer_row.h"
#include "directory/pg_schema.h"
#include "directory/schema.h"

namespace frontline {
namespace {

void AppendCsvField(std::string_view field, std::string* line) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    line->append(field);
    return;
  }
  line->push_back('"');
  for (char c : field) {
    if (c == '"') line->push_back('"');
    line->push_back(c);
  }
  line->push_back('"');
}

void AppendCsvRow(std::initializer_list<std::string_view> fields, std::string* out) {
  bool first = true;
  for (std::string_view f : fields) {
    if (!first) out->push_back(',');
    first = false;
    AppendCsvField(f, out);
  }
  out->push_back('\n');
}

// One consistent snapshot of the directory, customers streamed in customer_id order (bytewise).
class Reader {
 public:
  virtual ~Reader() = default;
  // The next customer; false at the end or on error (then `error` is set).
  virtual bool NextCustomer(Customer* c, std::string* error) = 0;
  // Every worker, by identity (bytewise).
  virtual bool Workers(std::vector<Worker>* workers, std::string* error) = 0;
};

// One read transaction over a SQLite file.
class SqliteReader : public Reader {
 public:
  ~SqliteReader() override {
    // Statements and the transaction end before the connection closes.
    customers_ = db::Statement();
    workers_ = db::Statement();
    transaction_.reset();
    sqlite3_close_v2(db_);
  }

  bool Open(const std::string& path, std::string* error) {
    if (::access(path.c_str(), F_OK) != 0) {
      *error = path + ": " + std::strerror(errno);
      return false;
    }
    db_ = OpenConnection(path, error);
    if (db_ == nullptr || !Migrate(db_, error)) return false;
    transaction_ = std::make_unique<db::Transaction>(db_, error, db::Transaction::Mode::kDeferred);
    if (!transaction_->ok()) return false;
    customers_ = db::Statement(
        db_, "SELECT " FRONTLINE_CUSTOMER_COLUMNS " FROM customers c ORDER BY c.customer_id",
        error);
    if (!customers_.ok()) return false;
    workers_ = db::Statement(
        db_, "SELECT identity, sms_number, whatsapp_number FROM workers ORDER BY identity", error);
    return workers_.ok();
  }

  bool NextCustomer(Customer* c, std::string* error) override {
    switch (customers_.Next()) {
      case db::StepResult::kDone:
        return false;
      case db::StepResult::kError:
        *error = db::Error(db_, "export customers");
        return false;
      case db::StepResult::kRow:
        break;
    }
    std::string detail;
    if (!ReadCustomerRow(customers_, c, &detail)) {
      *error = "export customers: " + detail;
      return false;
    }
    return true;
  }

  bool Workers(std::vector<Worker>* workers, std::string* error) override {
    db::StepResult step;
    while ((step = workers_.Next()) == db::StepResult::kRow) {
      workers->push_back({workers_.Text(0), workers_.Text(1), workers_.Text(2)});
    }
    if (step != db::StepResult::kDone) {
      *error = db::Error(db_, "export workers");
      return false;
    }
    return true;
  }

 private:
  sqlite3* db_ = nullptr;
  std::unique_ptr<db::Transaction> transaction_;
  db::Statement customers_;
  db::Statement workers_;
};

// A REPEATABLE READ, READ ONLY transaction on PostgreSQL, customers fetched through a cursor
// in batches so memory stays bounded. Rows are read in binary: text and bytea arrive as bytes.
class PgReader : public Reader {
 public:
  bool Open(const std::string& conninfo, const std::string& schema, std::string* error) {
    pg::ConnectOptions options;
    options.conninfo = conninfo;
    options.schema = schema;
    options.statement_timeout_ms = 0;  // an export of a big directory takes its time
    conn_ = pg::Connection::Open(options, error);
    if (conn_ == nullptr) return false;
    // As with a SQLite file that does not exist: no directory yet is an error, not an empty
    // export; an older one is migrated, as the SQLite export does.
    const int version = pg::SchemaVersion(*conn_, schema, "directory", error);
    if (version < 0) return false;
    if (version == 0) {
      *error = "schema " + schema + " holds no directory (`frontline-fcgi import` creates it)";
      return false;
    }
    if (!MigratePgDirectory(*conn_, schema, error)) return false;
    pg::Result r = conn_->Exec(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
        " DECLARE export_customers NO SCROLL CURSOR FOR SELECT " FRONTLINE_CUSTOMER_COLUMNS
        " FROM customers c ORDER BY c.customer_id COLLATE \"C\"");
    if (!r.ok()) {
      *error = "export: " + r.error();
      return false;
    }
    return true;
  }

  bool NextCustomer(Customer* c, std::string* error) override {
    if (next_ == batch_.rows()) {
      if (done_) return false;
      batch_ = conn_->Query("FETCH 1000 FROM export_customers", {}, /*binary_results=*/true);
      next_ = 0;
      if (!batch_.ok()) {
        *error = "export customers: " + batch_.error();
        return false;
      }
      if (batch_.rows() == 0) {
        done_ = true;
        return false;
      }
    }
    std::string_view values[kCustomerColumns];
    for (int i = 0; i < kCustomerColumns; ++i) values[i] = batch_.Text(next_, i);
    ++next_;
    std::string detail;
    if (!ReadCustomerValues(values, c, &detail)) {
      *error = "export customers: " + detail;
      return false;
    }
    return true;
  }

  bool Workers(std::vector<Worker>* workers, std::string* error) override {
    pg::Result r = conn_->Query(
        "SELECT identity, sms_number, whatsapp_number FROM workers ORDER BY identity COLLATE \"C\"");
    if (!r.ok()) {
      *error = "export workers: " + r.error();
      return false;
    }
    for (int i = 0; i < r.rows(); ++i) {
      workers->push_back({std::string(r.Text(i, 0)), std::string(r.Text(i, 1)),
                          std::string(r.Text(i, 2))});
    }
    return true;
  }

 private:
  std::unique_ptr<pg::Connection> conn_;
  pg::Result batch_;
  int next_ = 0;
  bool done_ = false;
};

bool ExportJson(Reader* reader, std::ostream& out, std::string* error) {
  out << "{\"customers\":[";
  Customer c;
  bool first = true;
  rapidjson::StringBuffer buffer;
  std::string detail;
  while (reader->NextCustomer(&c, &detail)) {
    buffer.Clear();
    JsonWriter w(buffer);
    WriteCustomerRecord(w, c);
    out << (first ? "\n" : ",\n");
    out.write(buffer.GetString(), static_cast<std::streamsize>(buffer.GetSize()));
    first = false;
  }
  if (!detail.empty()) {
    *error = detail;
    return false;
  }
  std::vector<Worker> workers;
  if (!reader->Workers(&workers, error)) return false;
  out << "\n],\"workers\":[";
  first = true;
  for (const Worker& w : workers) {
    buffer.Clear();
    JsonWriter writer(buffer);
    WriteWorkerRecord(writer, w);
    out << (first ? "\n" : ",\n");
    out.write(buffer.GetString(), static_cast<std::streamsize>(buffer.GetSize()));
    first = false;
  }
  out << "\n]}\n";
  return true;
}

bool ExportCsv(Reader* reader, std::ostream& out, std::string* error) {
  std::string text =
      "customer_id,display_name,avatar,worker,details_title,details_content,"
      "channel_type,channel_value,link_type,link_value,link_display_name\n";
  Customer c;
  std::string detail;
  while (reader->NextCustomer(&c, &detail)) {
    size_t rows = std::max<size_t>({1, c.channels.size(), c.links.size()});
    for (size_t i = 0; i < rows; ++i) {
      const bool first = i == 0;
      const Channel* ch = i < c.channels.size() ? &c.channels[i] : nullptr;
      const Link* link = i < c.links.size() ? &c.links[i] : nullptr;
      AppendCsvRow(
          {c.customer_id, first ? c.display_name : "", first ? c.avatar : "", first ? c.worker : "",
           first ? c.details.title : "", first ? c.details.content : "", ch ? ch->type : "",
           ch ? ch->value : "", link ? link->type : "", link ? link->value : "",
           link ? link->display_name : ""},
          &text);
    }
    if (text.size() > (1 << 16)) {
      out << text;
      text.clear();
    }
  }
  if (!detail.empty()) {
    *error = detail;
    return false;
  }
  std::vector<Worker> workers;
  if (!reader->Workers(&workers, error)) return false;
  if (!workers.empty()) {
    text += "\nidentity,sms_number,whatsapp_number\n";
    for (const Worker& w : workers)
      AppendCsvRow({w.identity, w.sms_number, w.whatsapp_number}, &text);
  }
  out << text;
  return true;
}

}  // namespace

bool ExportDirectory(const std::string& db_path, const std::string& postgres_schema,
                     ExportFormat format, std::ostream& out, std::string* error) {
  std::string detail;
  std::unique_ptr<Reader> reader;
  bool ok;
  if (pg::IsConnectionString(db_path)) {
    auto pg_reader = std::make_unique<PgReader>();
    ok = pg_reader->Open(pg::LibpqConnInfo(db_path), postgres_schema, &detail);
    reader = std::move(pg_reader);
  } else {
    auto sqlite_reader = std::make_unique<SqliteReader>();
    ok = sqlite_reader->Open(db_path, &detail);
    reader = std::move(sqlite_reader);
  }
  ok = ok && (format == ExportFormat::kJson ? ExportJson(reader.get(), out, &detail)
                                            : ExportCsv(reader.get(), out, &detail));
  if (ok && !out) {
    ok = false;
    detail = "write error";
  }
  if (!ok && error != nullptr) *error = detail;
  return ok;
}

}  // namespace frontline
