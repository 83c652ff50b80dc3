#include "handlers/templates.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "directory/directory.h"
#include "directory/text.h"
#include "handlers/callback_log.h"
#include "handlers/json.h"
#include "handlers/router.h"
#include "handlers/unavailable.h"

namespace frontline {
namespace {

// A RapidJSON input stream over a string_view. Unlike rapidjson::StringStream it is not copied
// by the reader (no StreamTraits copy optimisation), so the handler sees the live position.
class TrackedStream {
 public:
  using Ch = char;
  explicit TrackedStream(std::string_view text) : text_(text) {}
  Ch Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  Ch Take() { return pos_ < text_.size() ? text_[pos_++] : '\0'; }
  size_t Tell() const { return pos_; }
  std::string_view text() const { return text_; }
  // Only used for in-situ parsing, which we never request.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Validates the templates file while RapidJSON reads it (SAX), so a schema error stops the
// parse at the offending token and reports a line:column position just as a syntax error
// does. A DOM would have lost the positions by the time we could check the shape.
class TemplatesReader {
 public:
  explicit TemplatesReader(const TrackedStream& stream) : stream_(stream) {}

  const std::string& message() const { return message_; }
  // Where the token that failed the schema starts. Every callback arrives just after its token
  // was consumed, so the token began at the first character after the previous token that is
  // not whitespace or a separator.
  size_t error_offset() const {
    const std::string_view text = stream_.text();
    size_t i = previous_end_;
    while (i < text.size() && std::strchr(" \t\r\n,:", text[i]) != nullptr) ++i;
    return i;
  }
  std::vector<TemplateCategory> TakeCategories() { return std::move(categories_); }

  // The SAX interface RapidJSON calls; each records where its token ended.
  bool Null() { return Advance(OnNull()); }
  bool Bool(bool b) { return Advance(OnBool(b)); }
  bool Int(int) { return Advance(Unexpected("a number")); }
  bool Uint(unsigned) { return Advance(Unexpected("a number")); }
  bool Int64(int64_t) { return Advance(Unexpected("a number")); }
  bool Uint64(uint64_t) { return Advance(Unexpected("a number")); }
  bool Double(double) { return Advance(Unexpected("a number")); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return Advance(Unexpected("a number")); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return Advance(OnString(s, n, copy));
  }
  bool StartObject() { return Advance(OnStartObject()); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return Advance(OnKey(s, n, copy)); }
  bool EndObject(rapidjson::SizeType n) { return Advance(OnEndObject(n)); }
  bool StartArray() { return Advance(OnStartArray()); }
  bool EndArray(rapidjson::SizeType n) { return Advance(OnEndArray(n)); }

 private:
  bool OnNull() { return Unexpected("null"); }
  bool OnBool(bool b) {
    if (state_ != State::kApproved) return Unexpected(b ? "true" : "false");
    category_.templates.back().whatsapp_approved = b;
    state_ = State::kTemplate;
    return true;
  }

  bool OnString(const char* s, rapidjson::SizeType length, bool) {
    // The file is validated as UTF-8 while it is read, but RapidJSON 1.1 writes an escaped lone
    // low surrogate ("\udc00") as bytes that are not UTF-8 (as found by import_json_fuzz).
    if ((state_ == State::kCategoryName || state_ == State::kContent) &&
        !IsValidUtf8(std::string_view(s, length))) {
      const char* field = state_ == State::kCategoryName ? "\"display_name\"" : "\"content\"";
      return Fail(Where() + field + " holds a \\u escape of a lone surrogate, not a character");
    }
    if (state_ == State::kCategoryName) {
      if (length == 0) return Fail(Where() + "\"display_name\" must not be empty");
      category_.display_name.assign(s, length);
      state_ = State::kCategory;
      return true;
    }
    if (state_ == State::kContent) {
      if (length == 0) return Fail(Where() + "\"content\" must not be empty");
      category_.templates.back().content.assign(s, length);
      state_ = State::kTemplate;
      return true;
    }
    return Unexpected("a string");
  }

  bool OnStartObject() {
    if (state_ == State::kCategoryList) {
      category_ = TemplateCategory();
      has_name_ = has_templates_ = false;
      state_ = State::kCategory;
      return true;
    }
    if (state_ == State::kTemplateList) {
      category_.templates.emplace_back();
      has_content_ = has_approved_ = false;
      state_ = State::kTemplate;
      return true;
    }
    return Unexpected("an object");
  }

  bool OnKey(const char* s, rapidjson::SizeType length, bool) {
    const std::string key(s, length);
    if (state_ == State::kCategory) {
      if (key == "display_name") return TakeKey(&has_name_, key, State::kCategoryName);
      if (key == "templates") return TakeKey(&has_templates_, key, State::kTemplatesValue);
      return Fail(Where() + "unknown key \"" + key +
                  "\" (a category has \"display_name\" and \"templates\")");
    }
    // Keys only arrive inside an object, and the only other objects we accept are templates.
    if (key == "content") return TakeKey(&has_content_, key, State::kContent);
    if (key == "whatsAppApproved") return TakeKey(&has_approved_, key, State::kApproved);
    return Fail(Where() + "unknown key \"" + key +
                "\" (a template has \"content\" and optionally \"whatsAppApproved\")");
  }

  bool OnEndObject(rapidjson::SizeType) {
    if (state_ == State::kCategory) {
      if (!has_name_) return Fail(Where() + "missing \"display_name\"");
      if (!has_templates_) return Fail(Where() + "missing \"templates\"");
      categories_.push_back(std::move(category_));
      state_ = State::kCategoryList;
      return true;
    }
    // state_ == kTemplate: the grammar allows no other open object.
    if (!has_content_) return Fail(Where() + "missing \"content\"");
    state_ = State::kTemplateList;
    return true;
  }

  bool OnStartArray() {
    if (state_ == State::kTop) {
      state_ = State::kCategoryList;
      return true;
    }
    if (state_ == State::kTemplatesValue) {
      state_ = State::kTemplateList;
      return true;
    }
    return Unexpected("an array");
  }

  bool OnEndArray(rapidjson::SizeType) {
    // Only our own arrays can close: any nested one was refused at StartArray.
    state_ = state_ == State::kCategoryList ? State::kDone : State::kCategory;
    return true;
  }

  bool Advance(bool ok) {
    if (ok) previous_end_ = stream_.Tell();
    return ok;
  }

  enum class State {
    kTop,             // before the root: an array of categories
    kCategoryList,    // inside the root array: a category object or the end
    kCategory,        // inside a category: a key or the end
    kCategoryName,    // the value of display_name
    kTemplatesValue,  // the value of templates
    kTemplateList,    // inside templates: a template object or the end
    kTemplate,        // inside a template: a key or the end
    kContent,         // the value of content
    kApproved,        // the value of whatsAppApproved
    kDone,
  };

  bool TakeKey(bool* seen, const std::string& key, State next) {
    // A repeated key is almost always an editing mistake; guessing which one was meant
    // would hide it.
    if (*seen) return Fail(Where() + "repeated key \"" + key + "\"");
    *seen = true;
    state_ = next;
    return true;
  }

  // "category 2, template 3: " for the element being read (1-based, as a person counts).
  std::string Where() const {
    std::string where = "category " + std::to_string(categories_.size() + 1);
    const bool in_template =
        state_ == State::kTemplate || state_ == State::kContent || state_ == State::kApproved;
    if (in_template) where += ", template " + std::to_string(category_.templates.size());
    if (state_ == State::kTemplateList) {
      where += ", template " + std::to_string(category_.templates.size() + 1);
    }
    return where + ": ";
  }

  bool Unexpected(const char* found) {
    std::string what;
    switch (state_) {
      case State::kTop:
        what = "the top level must be an array of categories";
        break;
      case State::kCategoryList:
        what = Where() + "must be an object";
        break;
      case State::kCategoryName:
        what = Where() + "\"display_name\" must be a string";
        break;
      case State::kTemplatesValue:
        what = Where() + "\"templates\" must be an array";
        break;
      case State::kTemplateList:
        what = Where() + "must be an object";
        break;
      case State::kContent:
        what = Where() + "\"content\" must be a string";
        break;
      case State::kApproved:
        what = Where() + "\"whatsAppApproved\" must be true or false";
        break;
      default:
        what = "unexpected value";
        break;
    }
    return Fail(what + ", found " + found);
  }

  bool Fail(std::string message) {
    message_ = std::move(message);
    return false;
  }

  State state_ = State::kTop;
  std::vector<TemplateCategory> categories_;
  TemplateCategory category_;  // the category being read
  bool has_name_ = false;
  bool has_templates_ = false;
  bool has_content_ = false;
  bool has_approved_ = false;
  std::string message_;
  const TrackedStream& stream_;
  size_t previous_end_ = 0;  // offset just after the last accepted token
};

// "LINE:COLUMN" of byte `offset` in `text`, both 1-based. The column counts UTF-8 characters,
// not bytes, so it matches what an editor shows.
std::string LineColumn(std::string_view text, size_t offset) {
  if (offset > text.size()) offset = text.size();
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

const Templates& BuiltInInstance() {
  // Built once (thread-safe static initialisation) and never destroyed, so request threads
  // still running during exit never see it torn down.
  static const Templates* const kBuiltIn = new Templates(Templates::BuiltIn());
  return *kBuiltIn;
}

Response RenderedTemplates(const Request& request, Services& services) {
  const FormParams& form = request.form;
  if (form.Get("Location") != "GetTemplatesByCustomerId") {
    return ErrorResponse(422, "unknown Location",
                         "Location '" + std::string(form.Get("Location")) + "'");
  }
  if (services.directory == nullptr) return ErrorResponse(503, "directory not configured");
  const std::string_view customer_id = form.Get("CustomerId");
  if (customer_id.empty()) return ErrorResponse(400, "missing CustomerId");
  const Lookup<Customer> customer = services.directory->FindById(customer_id);
  if (customer.unavailable()) return DirectoryUnavailable(services, customer.error());
  if (customer.absent()) {
    return ErrorResponse(404, "customer not found",
                         "no customer '" + std::string(customer_id) + "'");
  }
  const Templates& templates =
      services.templates != nullptr ? *services.templates : BuiltInInstance();
  const TemplateValues values{customer->display_name, form.Get("Worker"), customer->customer_id};

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();  // a bare array of categories, not wrapped in "objects" like the CRM answers
  for (const TemplateCategory& category : templates.categories()) {
    w.StartObject();
    WriteKey(w, "display_name");
    WriteString(w, category.display_name);
    WriteKey(w, "templates");
    w.StartArray();
    for (const Template& t : category.templates) {
      w.StartObject();
      WriteKey(w, "content");
      WriteString(w, RenderTemplate(t.content, values));
      if (t.whatsapp_approved) {
        WriteKey(w, "whatsAppApproved");
        w.Bool(true);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return JsonResponse(200, buffer);
}

}  // namespace

std::optional<Templates> Templates::Parse(std::string_view json, std::string_view source_name,
                                          std::string* error) {
  // Editors on Windows like to start UTF-8 files with a byte order mark; it is not JSON.
  std::string_view body = json;
  size_t skipped = 0;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") {
    body.remove_prefix(3);
    skipped = 3;
  }
  // RapidJSON's string stream reads up to a NUL, which would silently cut the file short.
  const size_t nul = body.find('\0');
  if (nul != std::string_view::npos) {
    if (error != nullptr) {
      *error = std::string(source_name) + ":" + LineColumn(json, nul + skipped) +
               ": unexpected NUL byte";
    }
    return std::nullopt;
  }
  TrackedStream stream(body);
  rapidjson::Reader reader;
  TemplatesReader handler(stream);
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag;
  const rapidjson::ParseResult result = reader.Parse<kFlags>(stream, handler);
  if (result.IsError()) {
    // A termination is our schema check refusing a token; anything else is a syntax error.
    const bool schema = result.Code() == rapidjson::kParseErrorTermination;
    const std::string what =
        schema ? handler.message() : rapidjson::GetParseError_En(result.Code());
    const size_t offset = schema ? handler.error_offset() : result.Offset();
    if (error != nullptr) {
      *error = std::string(source_name) + ":" + LineColumn(json, offset + skipped) + ": " + what;
    }
    return std::nullopt;
  }
  return Templates(handler.TakeCategories());
}

std::optional<Templates> Templates::LoadFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error != nullptr) *error = path + ": cannot open: " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    if (error != nullptr) *error = path + ": read error: " + std::strerror(errno);
    return std::nullopt;
  }
  return Parse(contents.str(), path, error);
}

Templates Templates::BuiltIn() {
  // The seed's texts verbatim (reference §5.3), including its "- {{Author}}" signatures. The
  // seed flagged the "on my way" opener as approved but sent the flag as a string under a
  // misspelt key; we send it as the boolean Frontline reads.
  return Templates({
      {"Openers",
       {
           {"Hello {{Name}} we have now processed your documents and would like to move you on "
            "to the next step. Drop me a message. - {{Author}}.",
            false},
           {"Hello {{Name}} we have a new product out which may be of interest to your "
            "business. Drop me a message. - {{Author}}.",
            false},
           {"Just to confirm I am on my way to your office. {{Name}}.", true},
       }},
      {"Replies",
       {
           {"This has now been sent. - {{Author}}.", false},
           {"Our rates for any loan are 20% or 30% over $30,000. You can read more at "
            "https://example.com. - {{Author}}.",
            false},
           {"Just to confirm I am on my way to your office. - {{Author}}.", false},
           {"Would you like me to go over some options with you {{FirstName}}? - {{Author}}.",
            false},
           {"We have a secure drop box for documents. Can you attach and upload them here: "
            "https://example.com. - {{Author}}",
            false},
       }},
      {"Closing",
       {
           {"Happy to help, {{FirstName}}. If you have a moment could you leave a review about "
            "our interaction at this link: https://example.com. - {{Author}}.",
            false},
       }},
  });
}

std::string_view FirstName(std::string_view display_name) {
  std::string_view name = display_name;
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  name = name.substr(0, name.find(' '));
  // The seed panicked on a name without a space; a blank name is simply kept.
  return name.empty() ? display_name : name;
}

std::string RenderTemplate(std::string_view content, const TemplateValues& values) {
  struct Placeholder {
    std::string_view token;
    std::string_view value;
  };
  const Placeholder placeholders[] = {
      {"{{Name}}", values.display_name},
      {"{{FirstName}}", FirstName(values.display_name)},
      {"{{Author}}", values.author},
      {"{{CustomerId}}", values.customer_id},
  };
  std::string out;
  out.reserve(content.size() + 64);
  size_t i = 0;
  while (i < content.size()) {
    const size_t open = content.find("{{", i);
    if (open == std::string_view::npos) break;
    out.append(content, i, open - i);
    const Placeholder* match = nullptr;
    for (const Placeholder& p : placeholders) {
      if (content.compare(open, p.token.size(), p.token) == 0) {
        match = &p;
        break;
      }
    }
    if (match != nullptr) {
      out.append(match->value);
      i = open + match->token.size();
    } else {
      // Not one of ours: keep one '{' and look again from the next character, so that
      // "{{{Name}}" still finds the "{{Name}}" inside it.
      out.push_back('{');
      i = open + 1;
    }
  }
  if (i < content.size()) out.append(content, i, std::string_view::npos);
  return out;
}

// Rendered templates for the customer of an open conversation (SPEC §4). The app shows each
// text as-is, so rendering happens here; approval is sent only when true, as a boolean.
Response HandleTemplates(const Request& request, Services& services) {
  return TagForLog(RenderedTemplates(request, services), request);
}

}  // namespace frontline
