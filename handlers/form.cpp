#include "handlers/form.h"

#include <cctype>

namespace frontline {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool DecodeForm(std::string_view body, FormParams* out, std::string* error, size_t max_params) {
  size_t start = 0;
  std::string key, value;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view segment = body.substr(start, end - start);
    start = end + 1;
    if (segment.empty()) {
      if (end == body.size()) break;
      continue;
    }
    if (out->size() >= max_params) {
      *error = "more than " + std::to_string(max_params) + " parameters";
      return false;
    }
    size_t eq = segment.find('=');
    std::string_view raw_key = segment.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : segment.substr(eq + 1);
    if (!PercentDecode(raw_key, &key) || !PercentDecode(raw_value, &value)) {
      *error = "malformed percent-escape in form body";
      return false;
    }
    out->Add(key, value);
    if (end == body.size()) break;
  }
  return true;
}

bool IsFormContentType(std::string_view content_type) {
  static constexpr std::string_view kForm = "application/x-www-form-urlencoded";
  size_t i = 0;
  while (i < content_type.size() && (content_type[i] == ' ' || content_type[i] == '\t')) ++i;
  std::string_view rest = content_type.substr(i);
  if (rest.size() < kForm.size()) return false;
  for (size_t k = 0; k < kForm.size(); ++k) {
    if (std::tolower(static_cast<unsigned char>(rest[k])) != kForm[k]) return false;
  }
  rest = rest.substr(kForm.size());
  size_t j = 0;
  while (j < rest.size() && (rest[j] == ' ' || rest[j] == '\t')) ++j;
  return j == rest.size() || rest[j] == ';';
}

}  // namespace frontline
