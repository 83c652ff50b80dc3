// Fuzz target: the templates file (handlers/templates.h) and placeholder rendering. The input is
// the file's content. Checks: a refused file gets an error "name:LINE:COLUMN: reason"; an
// accepted one holds only non-empty UTF-8 names and contents and survives being written back out
// and read again; and RenderTemplate (on each template and on the raw input) agrees with a naive
// reference renderer, for values that themselves look like placeholders too.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "directory/text.h"
#include "handlers/templates.h"
#include "tests/fuzz/fuzz_util.h"

namespace frontline {
namespace {

// Placeholder substitution written the obvious way: at each position, a placeholder or one
// character.
std::string ReferenceRender(std::string_view content, const TemplateValues& values) {
  std::string_view name = values.display_name;
  std::string_view first = name;
  while (!first.empty() && first.front() == ' ') first.remove_prefix(1);
  first = first.substr(0, first.find(' '));
  if (first.empty()) first = name;
  const std::pair<std::string_view, std::string_view> placeholders[] = {
      {"{{Name}}", name},
      {"{{FirstName}}", first},
      {"{{Author}}", values.author},
      {"{{CustomerId}}", values.customer_id}};
  std::string out;
  size_t i = 0;
  while (i < content.size()) {
    bool replaced = false;
    // (Placeholders all start "{{"; testing that first keeps the reference cheap.)
    const bool braces = content[i] == '{' && i + 1 < content.size() && content[i + 1] == '{';
    for (const auto& [token, value] : placeholders) {
      if (!braces) break;
      if (content.substr(i, token.size()) == token) {
        out += value;
        i += token.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(content[i++]);
  }
  return out;
}

void CheckRender(std::string_view content) {
  const TemplateValues cases[] = {
      {"Zoë Ångström", "alice@example.com", "4"},
      {"", "", ""},
      {"  {{Author}} x", "{{Name}}", "{{CustomerId}}"},
      {"Plain", "{", "}}"},
  };
  for (const TemplateValues& values : cases) {
    const std::string rendered = RenderTemplate(content, values);
    const std::string reference = ReferenceRender(content, values);
    FUZZ_CHECK(rendered == reference, "RenderTemplate " + fuzz::Quote(rendered) +
                                          " differs from the reference " + fuzz::Quote(reference));
  }
}

std::string Serialise(const Templates& templates) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const TemplateCategory& category : templates.categories()) {
    w.StartObject();
    w.Key("display_name");
    w.String(category.display_name.data(),
             static_cast<rapidjson::SizeType>(category.display_name.size()));
    w.Key("templates");
    w.StartArray();
    for (const Template& t : category.templates) {
      w.StartObject();
      w.Key("content");
      w.String(t.content.data(), static_cast<rapidjson::SizeType>(t.content.size()));
      if (t.whatsapp_approved) {
        w.Key("whatsAppApproved");
        w.Bool(true);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// "fuzz.json:LINE:COLUMN: reason" with both numbers positive.
bool IsPositionedError(const std::string& error) {
  constexpr std::string_view kPrefix = "fuzz.json:";
  if (error.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  size_t i = kPrefix.size();
  for (int number = 0; number < 2; ++number) {
    size_t start = i;
    while (i < error.size() && error[i] >= '0' && error[i] <= '9') ++i;
    if (i == start || error[start] == '0') return false;
    if (i >= error.size() || error[i] != ':') return false;
    ++i;
  }
  return error.compare(i, 1, " ") == 0 && error.size() > i + 1;
}

}  // namespace
}  // namespace frontline

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frontline;
  const std::string_view input = fuzz::AsView(data, size);
  CheckRender(input);

  std::string error;
  std::optional<Templates> templates = Templates::Parse(input, "fuzz.json", &error);
  if (!templates) {
    FUZZ_CHECK(IsPositionedError(error), "error without a position: " + fuzz::Quote(error));
    return 0;
  }
  for (const TemplateCategory& category : templates->categories()) {
    FUZZ_CHECK(!category.display_name.empty(), "empty category name accepted");
    FUZZ_CHECK(IsValidUtf8(category.display_name), "category name is not UTF-8");
    for (const Template& t : category.templates) {
      FUZZ_CHECK(!t.content.empty(), "empty template accepted");
      FUZZ_CHECK(IsValidUtf8(t.content), "template is not UTF-8: " + fuzz::Quote(t.content));
      CheckRender(t.content);
    }
  }
  const std::string written = Serialise(*templates);
  std::optional<Templates> again = Templates::Parse(written, "fuzz.json", &error);
  FUZZ_CHECK(again.has_value(), "written-out templates refused: " + error);
  FUZZ_CHECK(again->categories() == templates->categories(), "templates changed on a round trip");
  return 0;
}
