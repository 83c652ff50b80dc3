// Fuzz target: application/x-www-form-urlencoded decoding (handlers/form.h) over any bytes.
// Besides crashes it checks that a decoded form re-encodes (every byte %-escaped) to a body that
// decodes to the same pairs, that PercentDecode agrees with DecodeForm on a single pair, and that
// the content-type check never reads out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "handlers/form.h"
#include "handlers/http.h"
#include "tests/fuzz/fuzz_util.h"

namespace frontline {
namespace {

std::string EscapeAll(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 15]);
  }
  return out;
}

}  // namespace
}  // namespace frontline

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frontline;
  const std::string_view body = fuzz::AsView(data, size);

  IsFormContentType(body);

  FormParams form;
  std::string error;
  const bool ok = DecodeForm(body, &form, &error, 64);
  if (!ok) {
    FUZZ_CHECK(!error.empty(), "a refused form must say why");
    return 0;
  }
  FUZZ_CHECK(form.size() <= 64, "max_params not enforced");

  // Re-encode every pair fully escaped, joined by '&': the decoder must give the same pairs.
  std::string encoded;
  for (const auto& [key, value] : form.pairs()) {
    if (!encoded.empty()) encoded += '&';
    encoded += EscapeAll(key);
    encoded += '=';
    encoded += EscapeAll(value);
  }
  FormParams again;
  FUZZ_CHECK(DecodeForm(encoded, &again, &error, 64), "re-encoded form refused: " + error);
  // A pair with an empty key and value ("=") re-encodes to "=", which decodes to the same pair;
  // nothing else may change.
  FUZZ_CHECK(again.pairs() == form.pairs(), "re-encoded form decodes differently");

  // Find/Get agree with the first pair of each key.
  for (const auto& [key, value] : form.pairs()) {
    const std::string* found = form.Find(key);
    FUZZ_CHECK(found != nullptr, "Find misses key " + fuzz::Quote(key));
    FUZZ_CHECK(form.Get(key) == *found, "Get and Find disagree");
  }

  // Without '&' and '=' the body is one key: PercentDecode must give exactly that key.
  if (body.find_first_of("&=") == std::string_view::npos && !body.empty()) {
    std::string decoded;
    FUZZ_CHECK(PercentDecode(body, &decoded), "PercentDecode refuses what DecodeForm accepted");
    FUZZ_CHECK(
        form.size() == 1 && form.pairs()[0].first == decoded && form.pairs()[0].second.empty(),
        "single key decoded differently");
  }
  return 0;
}
