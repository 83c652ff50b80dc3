#include "directory/export.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "directory/customer.h"
#include "directory/customer_json.h"
#include "directory/schema.h"
#include "directory/sqlite_util.h"

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
    for (sqlite3_stmt* s : {customers_, workers_}) sqlite3_finalize(s);
    if (db_ != nullptr) {
      if (in_transaction_) ExecSql(db_, "ROLLBACK", nullptr);
      sqlite3_close_v2(db_);
    }
  }

  bool Open(const std::string& path, std::string* error) {
    if (::access(path.c_str(), F_OK) != 0) {
      *error = path + ": " + std::strerror(errno);
      return false;
    }
    db_ = OpenConnection(path, error);
    if (db_ == nullptr || !Migrate(db_, error)) return false;
    if (!ExecSql(db_, "BEGIN", error)) return false;
    in_transaction_ = true;
    customers_ = PreparePersistent(
        db_,
        "SELECT customer_id, display_name, avatar, details_title, details_content, worker,"
        " channels, links FROM customers ORDER BY customer_id",
        error);
    workers_ = PreparePersistent(
        db_, "SELECT identity, sms_number, whatsapp_number FROM workers ORDER BY identity", error);
    // A read of the snapshot now, so the whole export sees one version of the data.
    return customers_ != nullptr && workers_ != nullptr;
  }

  // The next customer; false at the end or on error (then `error` is set).
  bool NextCustomer(Customer* c, std::string* error) {
    int rc = sqlite3_step(customers_);
    if (rc != SQLITE_ROW) {
      if (rc != SQLITE_DONE) *error = SqliteError(db_, "export customers");
      return false;
    }
    *c = Customer();
    c->customer_id = ColumnText(customers_, 0);
    c->display_name = ColumnText(customers_, 1);
    c->avatar = ColumnText(customers_, 2);
    c->details.title = ColumnText(customers_, 3);
    c->details.content = ColumnText(customers_, 4);
    c->worker = ColumnText(customers_, 5);
    if (!DecodeChannelsBlob(ColumnBlob(customers_, 6), &c->channels) ||
        !DecodeLinksBlob(ColumnBlob(customers_, 7), &c->links)) {
      *error =
          "export customers: malformed channels or links of customer \"" + c->customer_id + "\"";
      return false;
    }
    return true;
  }

  bool Workers(std::vector<Worker>* workers, std::string* error) {
    int rc;
    while ((rc = sqlite3_step(workers_)) == SQLITE_ROW) {
      workers->push_back(
          {ColumnText(workers_, 0), ColumnText(workers_, 1), ColumnText(workers_, 2)});
    }
    if (rc != SQLITE_DONE) {
      *error = SqliteError(db_, "export workers");
      return false;
    }
    return true;
  }

 private:
  sqlite3* db_ = nullptr;
  bool in_transaction_ = false;
  sqlite3_stmt* customers_ = nullptr;
  sqlite3_stmt* workers_ = nullptr;
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
