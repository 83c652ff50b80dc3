// Helpers shared by the libFuzzer targets: a check that aborts (so libFuzzer records the input
// as a crash) with a message, and splitting an input into newline-separated fields. Test-only.
#ifndef FRONTLINE_TESTS_FUZZ_FUZZ_UTIL_H_
#define FRONTLINE_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace frontline {
namespace fuzz {

// An invariant of the code under test was broken: print why and abort, which libFuzzer reports
// as a crash and saves the input for.
[[noreturn]] inline void Fail(const char* file, int line, const char* condition,
                              const std::string& detail) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", file, line, condition, detail.c_str());
  std::abort();
}

#define FUZZ_CHECK(condition, detail)                                                  \
  do {                                                                                 \
    if (!(condition)) ::frontline::fuzz::Fail(__FILE__, __LINE__, #condition, detail); \
  } while (0)

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// The first `count - 1` lines of `input` (without their '\n') and then the rest, verbatim;
// missing fields are empty. Seeds stay readable text files this way.
inline std::vector<std::string_view> SplitFields(std::string_view input, size_t count) {
  std::vector<std::string_view> fields;
  fields.reserve(count);
  while (fields.size() + 1 < count) {
    size_t end = input.find('\n');
    if (end == std::string_view::npos) {
      fields.push_back(input);
      input = std::string_view();
      continue;
    }
    fields.push_back(input.substr(0, end));
    input.remove_prefix(end + 1);
  }
  fields.push_back(input);
  return fields;
}

// `s` quoted for a failure message, non-printable bytes as \xNN.
inline std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    }
  }
  return out + "\"";
}

}  // namespace fuzz
}  // namespace frontline

#endif  // FRONTLINE_TESTS_FUZZ_FUZZ_UTIL_H_
