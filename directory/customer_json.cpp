#include "directory/customer_json.h"

#include <string>

#include "directory/text.h"

namespace frontline {
namespace {

rapidjson::SizeType Size(std::string_view s) { return static_cast<rapidjson::SizeType>(s.size()); }

// Which of the two full-customer shapes to write.
enum class Shape {
  kDetails,  // SPEC §2: no worker; present links and details carry every member
  kRecord,   // export: with the worker; every empty member omitted
};

void WriteMember(JsonWriter& w, std::string_view key, std::string_view value, Shape shape) {
  if (shape == Shape::kRecord) {
    WriteOptionalMember(w, key, value);
  } else {
    WriteKey(w, key);
    WriteString(w, value);
  }
}

void WriteSummaryMembers(JsonWriter& w, std::string_view customer_id,
                         std::string_view display_name, std::string_view avatar) {
  WriteKey(w, "customer_id");
  WriteString(w, customer_id);
  WriteKey(w, "display_name");
  WriteString(w, display_name);
  WriteOptionalMember(w, "avatar", avatar);
}

void WriteCustomer(JsonWriter& w, const Customer& c, Shape shape) {
  w.StartObject();
  WriteSummaryMembers(w, c.customer_id, c.display_name, c.avatar);
  if (shape == Shape::kRecord) WriteOptionalMember(w, "worker", c.worker);
  if (!c.channels.empty()) {
    WriteKey(w, "channels");
    w.StartArray();
    for (const Channel& channel : c.channels) {
      w.StartObject();
      WriteKey(w, "type");
      WriteString(w, channel.type);
      WriteKey(w, "value");
      WriteString(w, channel.value);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!c.links.empty()) {
    WriteKey(w, "links");
    w.StartArray();
    for (const Link& link : c.links) {
      w.StartObject();
      WriteMember(w, "type", link.type, shape);
      WriteKey(w, "value");
      WriteString(w, link.value);
      WriteMember(w, "display_name", link.display_name, shape);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!c.details.title.empty() || !c.details.content.empty()) {
    WriteKey(w, "details");
    w.StartObject();
    WriteMember(w, "title", c.details.title, shape);
    WriteMember(w, "content", c.details.content, shape);
    w.EndObject();
  }
  w.EndObject();
}

}  // namespace

void WriteString(JsonWriter& w, std::string_view s) {
  if (IsValidUtf8(s)) {
    w.String(s.data(), Size(s));
  } else {
    const std::string valid = ToValidUtf8(s);
    w.String(valid.data(), Size(valid));
  }
}

void WriteKey(JsonWriter& w, std::string_view s) {
  if (IsValidUtf8(s)) {
    w.Key(s.data(), Size(s));
  } else {
    const std::string valid = ToValidUtf8(s);
    w.Key(valid.data(), Size(valid));
  }
}

void WriteOptionalMember(JsonWriter& w, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  WriteKey(w, key);
  WriteString(w, value);
}

void WriteCustomerDetails(JsonWriter& w, const Customer& customer) {
  WriteCustomer(w, customer, Shape::kDetails);
}

void WriteCustomerSummary(JsonWriter& w, const CustomerSummary& summary) {
  w.StartObject();
  WriteSummaryMembers(w, summary.customer_id, summary.display_name, summary.avatar);
  w.EndObject();
}

void WriteCustomerSummary(JsonWriter& w, const Customer& customer) {
  w.StartObject();
  WriteSummaryMembers(w, customer.customer_id, customer.display_name, customer.avatar);
  w.EndObject();
}

void WriteCustomerRecord(JsonWriter& w, const Customer& customer) {
  WriteCustomer(w, customer, Shape::kRecord);
}

void WriteWorkerRecord(JsonWriter& w, const Worker& worker) {
  w.StartObject();
  WriteKey(w, "identity");
  WriteString(w, worker.identity);
  WriteOptionalMember(w, "sms_number", worker.sms_number);
  WriteOptionalMember(w, "whatsapp_number", worker.whatsapp_number);
  w.EndObject();
}

}  // namespace frontline
