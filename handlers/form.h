// application/x-www-form-urlencoded decoding (SPEC §1) and the content-type check.
// Pure functions; safe from any thread.
#ifndef FRONTLINE_HANDLERS_FORM_H_
#define FRONTLINE_HANDLERS_FORM_H_

#include <string>
#include <string_view>

#include "handlers/http.h"

namespace frontline {

// Decodes `body` into `out`: '+' is a space, %XX a byte, pairs split on '&', a key without '='
// has an empty value, empty segments ("a=1&&b=2") are skipped. Keys may repeat.
// Returns false, with `error` describing the first problem, on a malformed %-escape or when
// more than `max_params` pairs arrive; `out` is then unspecified.
bool DecodeForm(std::string_view body, FormParams* out, std::string* error,
                size_t max_params = 10000);

// Decodes one %-escaped component ('+' as space). False on a malformed escape.
bool PercentDecode(std::string_view in, std::string* out);

// True when `content_type` is application/x-www-form-urlencoded, case-insensitively, with or
// without parameters such as "; charset=UTF-8".
bool IsFormContentType(std::string_view content_type);

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_FORM_H_
