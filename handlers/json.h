// Helpers to build JSON responses with RapidJSON, so every string (customer data included) is
// escaped correctly. Stateless; safe from any thread.
#ifndef FRONTLINE_HANDLERS_JSON_H_
#define FRONTLINE_HANDLERS_JSON_H_

#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "directory/text.h"
#include "handlers/http.h"

namespace frontline {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// RapidJSON's Writer copies string bytes as they are, so a string that is not UTF-8 (a request
// parameter such as Worker or MessagingBinding.Address with a stray %A0, echoed back) would
// make the whole answer invalid JSON for Twilio. Such bytes are written as U+FFFD instead.
inline void WriteString(JsonWriter& w, std::string_view s) {
  if (IsValidUtf8(s)) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else {
    const std::string valid = ToValidUtf8(s);
    w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  }
}
inline void WriteKey(JsonWriter& w, std::string_view s) {
  if (IsValidUtf8(s)) {
    w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else {
    const std::string valid = ToValidUtf8(s);
    w.Key(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  }
}
// Writes "key": "value" only when value is not empty.
inline void WriteOptionalMember(JsonWriter& w, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  WriteKey(w, key);
  WriteString(w, value);
}

// A response carrying the JSON in `buffer`.
Response JsonResponse(int status, const rapidjson::StringBuffer& buffer);
// {"error":"<reason>"} with `status`; `detail` goes to the log only.
Response ErrorResponse(int status, std::string_view reason, std::string_view detail = {});

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_JSON_H_
