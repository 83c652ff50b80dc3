#include "directory/import/json_reader.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace frontline {
namespace {

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

// Reads one JSON file record by record: the top level is walked by hand, each record is
// parsed into a reused document (so memory is that of one record). The stream checks the raw
// bytes' UTF-8; escapes are checked after parsing (ValidatingSink), since RapidJSON turns an
// escaped lone low surrogate ("\udc00") into bytes that are not UTF-8.
class JsonFileReader {
 public:
  JsonFileReader(const std::string& name, ImportInputStream* in, RecordSink* sink,
                 const ReadProgress& progress)
      : name_(name), in_(in), sink_(sink), progress_(progress) {}

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
    if (!in_->AtEnd() || in_->stopped_at_invalid_utf8()) {
      return Fail("unexpected data after the JSON value", error);
    }
    return true;
  }

 private:
  // Iterative: RapidJSON's default recursive descent overflows the stack on a record nested
  // a few hundred thousand levels deep (e.g. an unknown member of "[[[[…").
  static constexpr unsigned kFlags =
      rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseIterativeFlag;

  std::string Where(size_t line) const { return name_ + ":" + std::to_string(line); }

  // Any failure at the point where the stream stopped before invalid UTF-8 is that.
  bool Fail(const std::string& reason, std::string* error) {
    if (in_->stopped_at_invalid_utf8()) {
      *error = Where(in_->invalid_utf8_line()) + ": invalid UTF-8";
      return false;
    }
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
    // The document's and the reader's stacks are "freed" (a no-op for a pool) at the end of
    // every parse, and would otherwise take fresh pool memory for each record: about 1.3 KB
    // per record that was only returned with the reader (1.3 GB for a million customers).
    // Both stacks are empty and released here, so the pool can start over.
    stack_pool_.Clear();
    doc_.ParseStream<kFlags>(*in_);
    if (doc_.HasParseError()) {
      return Fail(std::string("JSON syntax error: ") + rapidjson::GetParseError_En(doc_.GetParseError()),
                  error);
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
      if (!ParseValue(error)) return false;
      std::string reason;
      if (customers) {
        Customer customer;
        if (!CustomerFromJson(doc_, &customer, &reason)) {
          *error = Where(line) + ": " + reason;
          return false;
        }
        if (!sink_->AddCustomer(std::move(customer), Location{&name_, line}, error)) return false;
      } else {
        Worker worker;
        if (!WorkerFromJson(doc_, &worker, &reason)) {
          *error = Where(line) + ": " + reason;
          return false;
        }
        if (!sink_->AddWorker(std::move(worker), Location{&name_, line}, error)) return false;
      }
      if (++index % 1024 == 0 && progress_) progress_(in_->Tell());
      SkipSpace();
      char c = in_->Take();
      if (c == ']') return true;
      if (c != ',') return Fail("expected ',' or ']'", error);
    }
  }

  const std::string& name_;
  ImportInputStream* in_;
  RecordSink* sink_;
  const ReadProgress& progress_;
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


}  // namespace

bool ReadJsonFile(const std::string& name, ImportInputStream* in, RecordSink* sink,
                  const ReadProgress& progress, std::string* error) {
  // The reader holds 80 KiB of pools: on the heap, not the caller's stack.
  auto reader = std::make_unique<JsonFileReader>(name, in, sink, progress);
  // A read error ends the stream early: say so rather than what the truncation looks like.
  const bool ok = reader->Read(error);
  if (in->read_error()) {
    *error = name + ": read error";
    return false;
  }
  return ok;
}

}  // namespace frontline
