#include "directory/import/csv_reader.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "directory/import/validate.h"
#include "directory/text.h"

namespace frontline {
namespace {

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
  CsvFileReader(const std::string& name, ImportInputStream* in, RecordSink* sink,
                const ReadProgress& progress)
      : name_(name), in_(in), sink_(sink), progress_(progress) {}

  bool Read(std::string* error) {
    std::vector<std::string> fields;
    bool blank;
    size_t line;
    size_t rows = 0;
    while (true) {
      line = in_->line();
      if (!ReadRecord(&fields, &blank, error)) return false;
      if (fields.empty()) break;  // end of file
      if (++rows % 1024 == 0 && progress_) progress_(in_->Tell());
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
    return sink_->AddWorker(std::move(worker), Location{&name_, line}, error);
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
    return sink_->AddCustomer(std::move(pending_), Location{&name_, pending_line_}, error);
  }

  const std::string& name_;
  ImportInputStream* in_;
  RecordSink* sink_;
  const ReadProgress& progress_;
  Kind kind_ = kNone;
  std::vector<int> columns_;  // field index → column enum
  Customer pending_;
  bool has_pending_ = false;
  size_t pending_line_ = 0;
};


}  // namespace

bool ReadCsvFile(const std::string& name, ImportInputStream* in, RecordSink* sink,
                 const ReadProgress& progress, std::string* error) {
  // A read error ends the stream early: say so rather than what the truncation looks like.
  const bool ok = CsvFileReader(name, in, sink, progress).Read(error);
  if (in->read_error()) {
    *error = name + ": read error";
    return false;
  }
  return ok;
}

}  // namespace frontline
