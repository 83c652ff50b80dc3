#include "twilio/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>

namespace frontline {
namespace {

// Where the authority of `url` starts ("scheme://" or a leading "//"), or npos when it has none.
size_t AuthorityStart(std::string_view url) {
  if (url.substr(0, 2) == "//") return 2;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0) return std::string_view::npos;
  // A scheme is letters, digits, '+', '-', '.'; anything else means "://" is inside a path or
  // a query (e.g. "/cb?next=https://x"), which is not an authority.
  for (size_t i = 0; i < colon; ++i) {
    char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return std::string_view::npos;
    }
  }
  return colon + 3;
}

// Appends `query` (without its '?') with every value replaced.
void AppendRedactedQuery(std::string_view query, std::string* out) {
  for (;;) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq + 1 == pair.size()) {
      out->append(pair);  // a bare key or an empty value hides nothing
    } else {
      out->append(pair.substr(0, eq + 1));
      out->append(kRedacted);
    }
    if (amp == std::string_view::npos) return;
    out->push_back('&');
    query.remove_prefix(amp + 1);
  }
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  std::string out;
  out.reserve(url.size() + 8);
  size_t start = AuthorityStart(url);
  if (start != std::string_view::npos) {
    size_t end = url.find_first_of("/?#", start);
    if (end == std::string_view::npos) end = url.size();
    std::string_view authority = url.substr(start, end - start);
    out.append(url.substr(0, start));
    // The last '@' ends the userinfo: a password with an unescaped '@' is hidden whole.
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      out.append(kRedacted);
      authority.remove_prefix(at);
    }
    out.append(authority);
    url.remove_prefix(end);
  }
  size_t hash = url.find('#');
  std::string_view fragment =
      hash == std::string_view::npos ? std::string_view() : url.substr(hash);
  url = url.substr(0, hash);
  size_t question = url.find('?');
  out.append(url.substr(0, question));
  if (question != std::string_view::npos) {
    out.push_back('?');
    AppendRedactedQuery(url.substr(question + 1), &out);
  }
  if (!fragment.empty()) {
    out.push_back('#');
    if (fragment.size() > 1) out.append(kRedacted);
  }
  return out;
}

std::string RedactUrlsInText(std::string_view text) {
  auto is_scheme_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  for (size_t mark = text.find("://"); mark != std::string_view::npos;
       mark = text.find("://", mark)) {
    size_t start = mark;
    while (start > copied && is_scheme_char(text[start - 1])) --start;
    if (start == mark) {  // "://" without a scheme
      mark += 3;
      continue;
    }
    size_t end;
    if (start > 0 && (text[start - 1] == '\'' || text[start - 1] == '"')) {
      end = text.find(text[start - 1], mark);
    } else {
      end = text.find_first_of(" \t\r\n'\"<>`", mark);
    }
    if (end == std::string_view::npos) end = text.size();
    out.append(text.substr(copied, start - copied));
    out.append(RedactUrl(text.substr(start, end - start)));
    copied = end;
    mark = end;
  }
  out.append(text.substr(copied));
  return out;
}

std::string UrlHost(std::string_view url) {
  size_t start = url.find("://");
  if (start == std::string_view::npos) return {};
  std::string_view authority = url.substr(start + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return {};
    host = authority.substr(1, close - 1);
  } else {
    host = authority.substr(0, authority.find(':'));
  }
  std::string lower(host);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

bool IsLoopbackHost(std::string_view host) {
  std::string text(host);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace frontline
