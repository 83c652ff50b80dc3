// URL redaction for logs and check-config, and the loopback test behind plain-http api-base.
#include "twilio/url.h"

#include <doctest/doctest.h>

namespace frontline {
namespace {

TEST_CASE("url: RedactUrl hides userinfo, query values and fragments, keeps the rest") {
  struct Case {
    const char* url;
    const char* redacted;
  };
  const Case cases[] = {
      // Nothing to hide.
      {"", ""},
      {"https://example.com", "https://example.com"},
      {"https://example.com:8443/frontline/callbacks/crm",
       "https://example.com:8443/frontline/callbacks/crm"},
      {"http://[::1]:8080/x", "http://[::1]:8080/x"},
      {"/callbacks/crm", "/callbacks/crm"},
      // Userinfo, whatever its shape.
      {"https://user:pass@example.com/cb", "https://***@example.com/cb"},
      {"https://user@example.com", "https://***@example.com"},
      {"https://:pass@example.com", "https://***@example.com"},
      {"https://u:p@ss@example.com/x", "https://***@example.com/x"},
      {"HTTP://Username:Password@MyCompany.com:80/a", "HTTP://***@MyCompany.com:80/a"},
      {"//user:pass@example.com/x", "//***@example.com/x"},
      {"https://user:pass@[::1]:443/", "https://***@[::1]:443/"},
      // '@' after the authority is not userinfo.
      {"https://example.com/users/@me", "https://example.com/users/@me"},
      // Query values; keys, order and empty values stay.
      {"https://example.com/cb?a=secret", "https://example.com/cb?a=***"},
      {"https://example.com/cb?a=1&b=&c&d=x=y", "https://example.com/cb?a=***&b=&c&d=***"},
      {"https://example.com/cb?", "https://example.com/cb?"},
      {"https://example.com?token=abc", "https://example.com?token=***"},
      {"https://example.com/cb?a=1&&b=2", "https://example.com/cb?a=***&&b=***"},
      {"/callbacks/crm?key=value", "/callbacks/crm?key=***"},
      {"https://u:p@example.com/x?next=https://v:q@other.com/",
       "https://***@example.com/x?next=***"},
      // A "://" inside a path or query is no authority.
      {"/cb?next=https://v:q@other.com/", "/cb?next=***"},
      // Fragments.
      {"https://example.com/x#access_token=abc", "https://example.com/x#***"},
      {"https://example.com/x#", "https://example.com/x#"},
      {"https://example.com/x?a=1#f", "https://example.com/x?a=***#***"},
      {"https://user:pass@example.com#f?a=1", "https://***@example.com#***"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.url);
    CHECK(RedactUrl(c.url) == c.redacted);
  }
}

TEST_CASE("url: RedactUrl output never contains the secret it hid") {
  for (const char* url : {"https://sekrit@h/", "https://u:sekrit@h:1/p?q=sekrit#sekrit",
                          "http://h/?a=sekrit&b=sekrit"}) {
    CAPTURE(url);
    CHECK(RedactUrl(url).find("sekrit") == std::string::npos);
  }
}

TEST_CASE("url: RedactUrlsInText redacts each URL in a message and nothing else") {
  struct Case {
    const char* text;
    const char* redacted;
  };
  const Case cases[] = {
      {"", ""},
      {"Failed to connect to 127.0.0.1 port 1 after 4 ms: Couldn't connect to server",
       "Failed to connect to 127.0.0.1 port 1 after 4 ms: Couldn't connect to server"},
      // libcurl 7.88's own words for a bad proxy variable.
      {"Unsupported proxy scheme for 'foo://user:sekrit@127.0.0.1:1'",
       "Unsupported proxy scheme for 'foo://***@127.0.0.1:1'"},
      {"Unsupported proxy syntax in 'http://user:sek rit@bad host:1'",
       "Unsupported proxy syntax in 'http://***@bad host:1'"},
      {"see \"https://u:p@h/x?a=1\" and https://v:q@i/?b=2 then",
       "see \"https://***@h/x?a=***\" and https://***@i/?b=*** then"},
      {"<http://u:p@h>", "<http://***@h>"},
      {"url=https://u:p@h/", "url=https://***@h/"},
      {"odd :// here", "odd :// here"},
      {"unterminated 'http://u:p@h", "unterminated 'http://***@h"},
  };
  for (const Case& c : cases) {
    std::string text = c.text;
    CAPTURE(text);
    CHECK(RedactUrlsInText(c.text) == c.redacted);
  }
}

TEST_CASE("url: UrlHost") {
  struct Case {
    const char* url;
    const char* host;
  };
  const Case cases[] = {
      {"https://conversations.twilio.com", "conversations.twilio.com"},
      {"http://127.0.0.1:8080", "127.0.0.1"},
      {"http://LOCALHOST:1/x", "localhost"},
      {"http://[::1]:8080/", "::1"},
      {"http://[::1]", "::1"},
      {"http://user:pass@127.0.0.1:9/", "127.0.0.1"},
      {"http://127.0.0.1@evil.example.com/", "evil.example.com"},
      {"http://evil.example.com?@127.0.0.1", "evil.example.com"},
      {"http://evil.example.com#@127.0.0.1", "evil.example.com"},
      {"http://[::1", ""},
      {"http://", ""},
      {"127.0.0.1:80", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.url);
    CHECK(UrlHost(c.url) == c.host);
  }
}

TEST_CASE("url: IsLoopbackHost accepts only 127.0.0.0/8, ::1 and localhost") {
  struct Case {
    const char* host;
    bool loopback;
  };
  const Case cases[] = {
      {"127.0.0.1", true},
      {"127.255.255.254", true},
      {"127.1.2.3", true},
      {"localhost", true},
      {"LocalHost", true},
      {"::1", true},
      {"0:0:0:0:0:0:0:1", true},
      {"", false},
      {"128.0.0.1", false},
      {"126.255.255.255", false},
      {"10.0.0.1", false},
      {"0.0.0.0", false},
      {"::", false},
      {"::2", false},
      {"::ffff:127.0.0.1", false},
      {"127.1", false},
      {"127.0.0.1.example.com", false},
      {"localhost.example.com", false},
      {"evil-localhost", false},
      {"conversations.twilio.com", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.host);
    CHECK(IsLoopbackHost(c.host) == c.loopback);
  }
}

}  // namespace
}  // namespace frontline
