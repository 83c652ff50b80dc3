// Message templates for /callbacks/templates (SPEC §4): the categories loaded once at startup
// from the `templates` JSON file (or the seed's built-in set), and the placeholder rendering.
// A Templates object is immutable after construction, so one instance is shared by every
// request thread without locking; RenderTemplate is a pure function.
#ifndef FRONTLINE_HANDLERS_TEMPLATES_H_
#define FRONTLINE_HANDLERS_TEMPLATES_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frontline {

struct Template {
  std::string content;             // text with {{Name}}-style placeholders
  bool whatsapp_approved = false;  // "whatsAppApproved" in JSON

  bool operator==(const Template& other) const {
    return content == other.content && whatsapp_approved == other.whatsapp_approved;
  }
};

struct TemplateCategory {
  std::string display_name;
  std::vector<Template> templates;

  bool operator==(const TemplateCategory& other) const {
    return display_name == other.display_name && templates == other.templates;
  }
};

class Templates {
 public:
  // Reads and validates the JSON file at `path`:
  //   [{"display_name":"Openers","templates":[{"content":"Hello
  //   {{Name}}","whatsAppApproved":true}]}]
  // Returns nullopt with `error` set to "PATH:LINE:COLUMN: what is wrong" for a syntax error,
  // invalid UTF-8 or a schema error (not an array, a category or template that is not an object,
  // a missing/empty/non-string display_name or content, missing templates, a non-boolean
  // whatsAppApproved, an unknown or repeated key), or "PATH: reason" when it cannot be read.
  static std::optional<Templates> LoadFile(const std::string& path, std::string* error);

  // As LoadFile, over `json` already in memory; `source_name` prefixes error messages.
  static std::optional<Templates> Parse(std::string_view json, std::string_view source_name,
                                        std::string* error);

  // The seed's three categories and nine texts (reference §5.3), with only the
  // "on my way to your office" opener WhatsApp-approved.
  static Templates BuiltIn();

  const std::vector<TemplateCategory>& categories() const { return categories_; }

 private:
  explicit Templates(std::vector<TemplateCategory> categories)
      : categories_(std::move(categories)) {}

  std::vector<TemplateCategory> categories_;
};

// What the placeholders of one rendering stand for.
struct TemplateValues {
  std::string_view display_name;  // {{Name}}; {{FirstName}} is derived from it
  std::string_view author;        // {{Author}}: the requesting Worker
  std::string_view customer_id;   // {{CustomerId}}
};

// `content` with every {{Name}}, {{FirstName}}, {{Author}} and {{CustomerId}} replaced.
// Unknown placeholders are kept as written, and replacement text is never scanned again, so
// a customer named "{{Author}}" is shown literally.
std::string RenderTemplate(std::string_view content, const TemplateValues& values);

// {{FirstName}}: `display_name` without leading spaces, up to the next space; the whole
// display name when that leaves nothing.
std::string_view FirstName(std::string_view display_name);

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_TEMPLATES_H_
