// The checks shared by the JSON and CSV import fuzz targets: parse the input as an import file
// (ParseImportData, the readers and validation of `frontline-fcgi import` without a database),
// then write what was accepted back out in both formats, as export does, and require that
// reading each gives exactly the same records. Test-only.
#ifndef FRONTLINE_TESTS_FUZZ_FUZZ_IMPORT_H_
#define FRONTLINE_TESTS_FUZZ_FUZZ_IMPORT_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "directory/customer.h"
#include "directory/import.h"
#include "tests/fuzz/fuzz_util.h"

namespace frontline {
namespace fuzz {

// Every field of every record, for comparisons.
inline std::string Describe(const std::vector<Customer>& customers,
                            const std::vector<Worker>& workers) {
  std::string out;
  auto field = [&out](std::string_view s) {
    out += Quote(s);
    out += ' ';
  };
  for (const Customer& c : customers) {
    out += "customer ";
    for (std::string_view s :
         {std::string_view(c.customer_id), std::string_view(c.display_name),
          std::string_view(c.avatar), std::string_view(c.worker), std::string_view(c.details.title),
          std::string_view(c.details.content)}) {
      field(s);
    }
    for (const Channel& ch : c.channels) {
      out += "channel ";
      field(ch.type);
      field(ch.value);
    }
    for (const Link& l : c.links) {
      out += "link ";
      field(l.type);
      field(l.value);
      field(l.display_name);
    }
    out += '\n';
  }
  for (const Worker& w : workers) {
    out += "worker ";
    field(w.identity);
    field(w.sms_number);
    field(w.whatsapp_number);
    out += '\n';
  }
  return out;
}

inline std::string WriteJson(const std::vector<Customer>& customers,
                             const std::vector<Worker>& workers) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&w](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("customers");
  w.StartArray();
  for (const Customer& c : customers) {
    w.StartObject();
    w.Key("customer_id");
    str(c.customer_id);
    w.Key("display_name");
    str(c.display_name);
    w.Key("avatar");
    str(c.avatar);
    w.Key("worker");
    str(c.worker);
    w.Key("channels");
    w.StartArray();
    for (const Channel& ch : c.channels) {
      w.StartObject();
      w.Key("type");
      str(ch.type);
      w.Key("value");
      str(ch.value);
      w.EndObject();
    }
    w.EndArray();
    w.Key("links");
    w.StartArray();
    for (const Link& l : c.links) {
      w.StartObject();
      w.Key("type");
      str(l.type);
      w.Key("value");
      str(l.value);
      w.Key("display_name");
      str(l.display_name);
      w.EndObject();
    }
    w.EndArray();
    w.Key("details");
    w.StartObject();
    w.Key("title");
    str(c.details.title);
    w.Key("content");
    str(c.details.content);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("workers");
  w.StartArray();
  for (const Worker& worker : workers) {
    w.StartObject();
    w.Key("identity");
    str(worker.identity);
    w.Key("sms_number");
    str(worker.sms_number);
    w.Key("whatsapp_number");
    str(worker.whatsapp_number);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Every field quoted, CRLF line ends, as RFC 4180 allows.
inline void CsvRow(std::initializer_list<std::string_view> fields, std::string* out) {
  bool first = true;
  for (std::string_view f : fields) {
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    for (char c : f) {
      if (c == '"') out->push_back('"');
      out->push_back(c);
    }
    out->push_back('"');
  }
  *out += "\r\n";
}

inline std::string WriteCsv(const std::vector<Customer>& customers,
                            const std::vector<Worker>& workers) {
  std::string out;
  if (!customers.empty()) {
    out +=
        "customer_id,display_name,avatar,worker,details_title,details_content,channel_type,"
        "channel_value,link_type,link_value,link_display_name\r\n";
    for (const Customer& c : customers) {
      const size_t rows = std::max<size_t>({1, c.channels.size(), c.links.size()});
      for (size_t i = 0; i < rows; ++i) {
        const bool first = i == 0;
        const Channel channel = i < c.channels.size() ? c.channels[i] : Channel{};
        const Link link = i < c.links.size() ? c.links[i] : Link{};
        CsvRow({c.customer_id, first ? c.display_name : "", first ? c.avatar : "",
                first ? c.worker : "", first ? c.details.title : "", first ? c.details.content : "",
                channel.type, channel.value, link.type, link.value, link.display_name},
               &out);
      }
    }
  }
  if (!workers.empty()) {
    if (!out.empty()) out += "\r\n";
    out += "identity,sms_number,whatsapp_number\r\n";
    for (const Worker& w : workers) CsvRow({w.identity, w.sms_number, w.whatsapp_number}, &out);
  }
  return out;
}

// Parses `input` as the file `name`, checks what was accepted, and round-trips it through both
// formats.
inline void CheckImport(const std::string& name, std::string_view input) {
  std::vector<Customer> customers;
  std::vector<Worker> workers;
  std::string error;
  if (!ParseImportData(name, input, &customers, &workers, &error)) {
    // "name:LINE: reason"
    FUZZ_CHECK(error.compare(0, name.size() + 1, name + ":") == 0, "error names no file: " + error);
    size_t i = name.size() + 1, start = i;
    while (i < error.size() && error[i] >= '0' && error[i] <= '9') ++i;
    FUZZ_CHECK(i > start && error[start] != '0' && error.compare(i, 2, ": ") == 0,
               "error names no line: " + Quote(error));
    return;
  }
  std::set<std::string> ids, identities;
  for (const Customer& c : customers) {
    std::string reason;
    FUZZ_CHECK(ValidateCustomer(c, &reason), "accepted an invalid customer: " + reason);
    FUZZ_CHECK(ids.insert(c.customer_id).second, "accepted a duplicate customer_id");
  }
  for (const Worker& w : workers) {
    std::string reason;
    FUZZ_CHECK(ValidateWorker(w, &reason), "accepted an invalid worker: " + reason);
    FUZZ_CHECK(identities.insert(w.identity).second, "accepted a duplicate worker");
  }
  const std::string original = Describe(customers, workers);
  const std::pair<std::string, std::string> copies[] = {
      {"copy.json", WriteJson(customers, workers)}, {"copy.csv", WriteCsv(customers, workers)}};
  for (const auto& [copy_name, text] : copies) {
    std::vector<Customer> again_customers;
    std::vector<Worker> again_workers;
    FUZZ_CHECK(ParseImportData(copy_name, text, &again_customers, &again_workers, &error),
               "the records written back as " + copy_name + " are refused: " + error);
    const std::string again = Describe(again_customers, again_workers);
    FUZZ_CHECK(again == original,
               copy_name + " changed the records:\n" + original + "became\n" + again);
  }
}

}  // namespace fuzz
}  // namespace frontline

#endif  // FRONTLINE_TESTS_FUZZ_FUZZ_IMPORT_H_
