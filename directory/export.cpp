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

#include "db/sqlite.h"
#include "directory/customer.h"
#include "directory/customer_json.h"
#include "directory/customer_row.h"
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

// One read transaction over the database, streaming customers in customer_id order.
class Reader {
 public:
  ~Reader() {
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

  // The next customer; false at the end or on error (then `error` is set).
  bool NextCustomer(Customer* c, std::string* error) {
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

  bool Workers(std::vector<Worker>* workers, std::string* error) {
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

bool ExportDirectory(const std::string& db_path, ExportFormat format, std::ostream& out,
                     std::string* error) {
  std::string detail;
  Reader reader;
  bool ok = reader.Open(db_path, &detail) &&
            (format == ExportFormat::kJson ? ExportJson(&reader, out, &detail)
                                           : ExportCsv(&reader, out, &detail));
  if (ok && !out) {
    ok = false;
    detail = "write error";
  }
  if (!ok && error != nullptr) *error = detail;
  return ok;
}

}  // namespace frontline
