#include "handlers/json.h"

namespace frontline {

Response JsonResponse(int status, const rapidjson::StringBuffer& buffer) {
  Response response;
  response.status = status;
  response.body.assign(buffer.GetString(), buffer.GetSize());
  return response;
}

Response ErrorResponse(int status, std::string_view reason, std::string_view detail) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteKey(w, "error");
  WriteString(w, reason);
  w.EndObject();
  Response response = JsonResponse(status, buffer);
  response.log_detail = detail.empty() ? std::string(reason) : std::string(detail);
  return response;
}

}  // namespace frontline
