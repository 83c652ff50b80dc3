// Helpers to build JSON responses with RapidJSON, so every string (customer data included) is
// escaped correctly. Stateless; safe from any thread.
#ifndef FRONTLINE_HANDLERS_JSON_H_
#define FRONTLINE_HANDLERS_JSON_H_

#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "directory/customer_json.h"
#include "handlers/http.h"

namespace frontline {

// JsonWriter, WriteString, WriteKey and WriteOptionalMember come from directory/customer_json.h.

// A response carrying the JSON in `buffer`.
Response JsonResponse(int status, const rapidjson::StringBuffer& buffer);
// {"error":"<reason>"} with `status`; `detail` goes to the log only.
Response ErrorResponse(int status, std::string_view reason, std::string_view detail = {});

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_JSON_H_
