#include "twilio/signature.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace frontline {
namespace {

std::string Base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                static_cast<int>(size));
  out.resize(static_cast<size_t>(written));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string ComputeTwilioSignature(std::string_view auth_token, std::string_view url,
                                   const SignedParams& params) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(params.size());
  for (const auto& p : params) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
  sorted.erase(std::unique(sorted.begin(), sorted.end(),
                           [](const auto* a, const auto* b) { return *a == *b; }),
               sorted.end());

  std::string data(url);
  for (const auto* p : sorted) {
    data += p->first;
    data += p->second;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &mac_size);
  return Base64(mac, mac_size);
}

std::vector<std::string> UrlPortVariants(std::string_view url) {
  std::vector<std::string> variants{std::string(url)};
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return variants;
  std::string_view scheme = url.substr(0, scheme_end);
  size_t authority_start = scheme_end + 3;
  size_t authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  // The host part starts after any userinfo; an IPv6 literal is in brackets.
  size_t at = authority.rfind('@');
  size_t host_start = at == std::string_view::npos ? 0 : at + 1;
  size_t bracket = authority.find(']', host_start);
  size_t colon = authority.find(':', bracket == std::string_view::npos ? host_start : bracket);
  std::string_view before = url.substr(0, authority_start);
  std::string_view after = url.substr(authority_end);
  if (colon != std::string_view::npos) {
    std::string stripped(before);
    stripped += authority.substr(0, colon);
    stripped += after;
    variants.push_back(std::move(stripped));
  } else {
    const char* port = EqualsIgnoreCase(scheme, "https") ? ":443"
                       : EqualsIgnoreCase(scheme, "http") ? ":80"
                                                          : nullptr;
    if (port != nullptr) {
      std::string added(before);
      added += authority;
      added += port;
      added += after;
      variants.push_back(std::move(added));
    }
  }
  return variants;
}

bool ValidateTwilioSignature(std::string_view auth_token, std::string_view url,
                             const SignedParams& params, std::string_view signature) {
  if (auth_token.empty() || signature.empty()) return false;
  bool valid = false;
  // Every variant is computed and compared so the time taken does not say which one matched.
  for (const std::string& candidate : UrlPortVariants(url)) {
    std::string expected = ComputeTwilioSignature(auth_token, candidate, params);
    if (expected.size() == signature.size() &&
        CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0) {
      valid = true;
    }
  }
  return valid;
}

std::string SignedUrlFromPublicBase(std::string_view public_url, std::string_view request_uri) {
  while (!public_url.empty() && public_url.back() == '/') public_url.remove_suffix(1);
  std::string url(public_url);
  if (request_uri.empty() || request_uri.front() != '/') url += '/';
  url += request_uri;
  return url;
}

std::string RebuildSignedUrl(std::string_view https, std::string_view request_scheme,
                             std::string_view http_host, std::string_view server_name,
                             std::string_view server_port, std::string_view request_uri) {
  bool secure = EqualsIgnoreCase(https, "on") || https == "1" ||
                EqualsIgnoreCase(request_scheme, "https");
  std::string url = secure ? "https://" : "http://";
  std::string_view host = http_host.empty() ? server_name : http_host;
  url += host;
  bool host_has_port = host.find(':', host.rfind(']') == std::string_view::npos
                                          ? 0
                                          : host.rfind(']')) != std::string_view::npos;
  std::string_view default_port = secure ? "443" : "80";
  if (!host_has_port && !server_port.empty() && server_port != default_port) {
    url += ':';
    url += server_port;
  }
  if (request_uri.empty() || request_uri.front() != '/') url += '/';
  url += request_uri;
  return url;
}

}  // namespace frontline
