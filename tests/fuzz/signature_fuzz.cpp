// Fuzz target: the X-Twilio-Signature check (twilio/signature.h). Input, one field per line:
//   auth token, URL, REQUEST_URI, HTTPS, REQUEST_SCHEME, HTTP_HOST, SERVER_NAME, SERVER_PORT,
//   X-Twilio-Signature, then the form body (decoded into the signed pairs).
// Checks: a signature we compute validates, for the URL and for each of its port variants; the
// order of the pairs does not matter; a given signature validates exactly when it equals one
// computed for a variant; an empty token or signature never validates; the URL builders keep
// the request URI and a scheme.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "handlers/form.h"
#include "tests/fuzz/fuzz_util.h"
#include "twilio/signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frontline;
  const std::vector<std::string_view> f = fuzz::SplitFields(fuzz::AsView(data, size), 10);
  const std::string_view token = f[0], url = f[1], request_uri = f[2], https = f[3], scheme = f[4],
                         host = f[5], server_name = f[6], port = f[7], given = f[8], body = f[9];

  FormParams form;
  std::string error;
  if (!DecodeForm(body, &form, &error, 256)) return 0;
  const SignedParams& params = form.pairs();

  const std::vector<std::string> variants = UrlPortVariants(url);
  FUZZ_CHECK(!variants.empty() && variants[0] == url, "the URL itself must be the first variant");
  FUZZ_CHECK(variants.size() <= 2, "at most one other port variant");

  const std::string computed = ComputeTwilioSignature(token, url, params);
  FUZZ_CHECK(computed.size() == 28, "a base64 SHA-1 is 28 characters: " + computed);
  if (token.empty()) {
    FUZZ_CHECK(!ValidateTwilioSignature(token, url, params, computed), "empty token validated");
  } else {
    FUZZ_CHECK(ValidateTwilioSignature(token, url, params, computed), "own signature refused");
    for (const std::string& variant : variants) {
      FUZZ_CHECK(ValidateTwilioSignature(token, url, params,
                                         ComputeTwilioSignature(token, variant, params)),
                 "signature for variant " + fuzz::Quote(variant) + " refused");
    }
    SignedParams reversed(params.rbegin(), params.rend());
    FUZZ_CHECK(ComputeTwilioSignature(token, url, reversed) == computed,
               "the order of the pairs changed the signature");
  }
  FUZZ_CHECK(!ValidateTwilioSignature(token, url, params, ""), "empty signature validated");

  // The given signature: valid exactly when it equals a variant's signature (plain comparison).
  bool expected = false;
  if (!token.empty() && !given.empty()) {
    for (const std::string& variant : variants) {
      expected = expected || ComputeTwilioSignature(token, variant, params) == given;
    }
  }
  FUZZ_CHECK(ValidateTwilioSignature(token, url, params, given) == expected,
             "ValidateTwilioSignature disagrees with a plain comparison");

  const std::string from_base = SignedUrlFromPublicBase(url, request_uri);
  FUZZ_CHECK(from_base.size() >= request_uri.size() &&
                 from_base.compare(from_base.size() - request_uri.size(), request_uri.size(),
                                   request_uri) == 0,
             "SignedUrlFromPublicBase lost the request URI");
  const std::string rebuilt = RebuildSignedUrl(https, scheme, host, server_name, port, request_uri);
  FUZZ_CHECK(rebuilt.rfind("http://", 0) == 0 || rebuilt.rfind("https://", 0) == 0,
             "rebuilt URL without a scheme: " + fuzz::Quote(rebuilt));
  FUZZ_CHECK(
      rebuilt.size() >= request_uri.size() && rebuilt.compare(rebuilt.size() - request_uri.size(),
                                                              request_uri.size(), request_uri) == 0,
      "RebuildSignedUrl lost the request URI");
  UrlPortVariants(rebuilt);
  UrlPortVariants(from_base);
  return 0;
}
