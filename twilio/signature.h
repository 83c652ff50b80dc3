// X-Twilio-Signature (SPEC §7): the signed URL, the HMAC-SHA1 over URL + sorted POST pairs, and
// a constant-time check that accepts either port variant of the URL. Pure functions over their
// arguments; safe from any thread.
#ifndef FRONTLINE_TWILIO_SIGNATURE_H_
#define FRONTLINE_TWILIO_SIGNATURE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frontline {

using SignedParams = std::vector<std::pair<std::string, std::string>>;

// base64(HMAC-SHA1(auth_token, url + key1 + value1 + key2 + value2 ...)) with the pairs sorted
// bytewise by key, then value; a repeated identical pair counts once, as in Twilio's SDKs.
std::string ComputeTwilioSignature(std::string_view auth_token, std::string_view url,
                                   const SignedParams& params);

// The URLs Twilio may have signed for `url`: the URL as given, plus the variant with its port
// removed when it has one, or with the scheme's default port (:443, :80) added when it has none.
std::vector<std::string> UrlPortVariants(std::string_view url);

// True when `signature` matches one of UrlPortVariants(url). Comparison is constant-time;
// an empty signature or token never matches.
bool ValidateTwilioSignature(std::string_view auth_token, std::string_view url,
                             const SignedParams& params, std::string_view signature);

// The URL Twilio called: `public_url` (scheme://host[:port][/prefix], trailing '/' ignored)
// followed by `request_uri`.
std::string SignedUrlFromPublicBase(std::string_view public_url, std::string_view request_uri);

// The URL rebuilt from what nginx passed when no public-url is configured: scheme from
// HTTPS/REQUEST_SCHEME, host from HTTP_HOST (else SERVER_NAME), SERVER_PORT unless it is the
// scheme's default or the host already carries a port, then `request_uri`.
std::string RebuildSignedUrl(std::string_view https, std::string_view request_scheme,
                             std::string_view http_host, std::string_view server_name,
                             std::string_view server_port, std::string_view request_uri);

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_SIGNATURE_H_
