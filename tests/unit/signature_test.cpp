// Every vector of reference/frontline-protocol.md §10.4, valid and invalid, plus URL building.
#include "twilio/signature.h"

#include <doctest/doctest.h>

namespace frontline {
namespace {

const SignedParams kP1 = {{"CallSid", "CA1234567890ABCDE"},
                          {"Caller", "+14158675309"},
                          {"Digits", "1234"},
                          {"From", "+14158675309"},
                          {"To", "+18005551212"}};

TEST_CASE("signature: computed values match Twilio's published vectors") {
  struct Vector {
    const char* name;
    const char* url;
    SignedParams params;
    const char* expected;
  };
  const Vector vectors[] = {
      {"V1", "https://mycompany.com/myapp.php?foo=1&bar=2", kP1, "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
      {"V2", "https://mycompany.com:443/myapp.php?foo=1&bar=2", kP1, "kvajT1Ptam85bY51eRf/AJRuM3w="},
      {"V3", "http://mycompany.com/myapp.php?foo=1&bar=2", kP1, "OyGYPqTF6ztdbRNCvuQO/oPvqQ4="},
      {"V4", "http://mycompany.com:80/myapp.php?foo=1&bar=2", kP1, "0ZXoZLH/DfblKGATFgpif+LLRf4="},
      {"V5", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", kP1, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
      {"V6", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", kP1, "CYn1h0gLBdNxDGkKJg6hYohgeD8="},
      {"V7", "https://MyCompany.com/myapp.php?foo=1&bar=2", kP1, "g9IN/x4Cft2g517EjYvEvM/W7LU="},
      {"V8", "https://MyCompany.com:1234/myapp.php?foo=1&bar=2", kP1, "PCqOZm8cnu/L6+u5i5fuEd+Iac4="},
      {"V9", "http://MyCompany.com/myapp.php?foo=1&bar=2", kP1, "XY7AlKOKL6im4yWyX84gldUrtis="},
      {"V10", "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", kP1,
       "CukzLTc1tT5dXEDIHm/tKBanW10="},
      {"V11", "https://user@mycompany.com/myapp.php?foo=1&bar=2", kP1,
       "2YRLlVAflCqxaNicjMpJcSTgzSs="},
      {"V12", "https://user:pass@mycompany.com:443/myapp.php?foo=1&bar=2", kP1,
       "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="},
      {"V13", "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2", kP1,
       "PJ08CxXr7KLPjEQCTc8LkUSMwSM="},
      {"V14", "HTTP://username:password@MyCompany.com/myapp.php?foo=1&bar=2", kP1,
       "hy/l8pca+LFms4cvRdv8uiP6NGc="},
      {"V15", "http://Username:Password@MyCompany.com/myapp.php?foo=1&bar=2", kP1,
       "SkTSKyDJH9kUlhItI0slbgZ1UsI="},
      {"V16 repeated keys, duplicate pair counted once",
       "https://mycompany.com/myapp.php?foo=1&bar=2",
       {{"Sid", "CA123"}, {"SidAccount", "AC123"}, {"Digits", "5678"}, {"Digits", "1234"},
        {"Digits", "1234"}},
       "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
      {"V17", "https://mycompany.com/myapp.php?foo=1&bar=2",
       {{"CallSid", "CA1234567890ABCDE"}, {"Caller", "+12349013030"}, {"Digits", "1234"},
        {"From", "+12349013030"}, {"To", "+18005551212"}},
       "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
      {"body hash, two params", "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
       "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", {},
       "a9nBmqA0ju/hNViExpshrM61xv4="},
      {"body hash only", "https://mycompany.com/myapp.php?bodySHA256="
       "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", {},
       "y77kIzt2vzLz71DgmJGsen2scGs="},
  };
  for (const Vector& v : vectors) {
    CAPTURE(v.name);
    CHECK(ComputeTwilioSignature("12345", v.url, v.params) == v.expected);
    CHECK(ValidateTwilioSignature("12345", v.url, v.params, v.expected));
  }
}

TEST_CASE("signature: parameter order of arrival does not matter") {
  SignedParams reversed(kP1.rbegin(), kP1.rend());
  CHECK(ComputeTwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", reversed) ==
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

TEST_CASE("signature: acceptance across port variants, and rejections") {
  struct Case {
    const char* url;
    const char* header;
    bool valid;
  };
  const Case cases[] = {
      // The stripped-port variant matches V1.
      {"https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", true},
      // :443 added matches V2.
      {"https://mycompany.com/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w=", true},
      // :80 added matches V4.
      {"http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4=", true},
      {"http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", true},
      {"https://mycompany.com:443/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", true},
      // The host is case-sensitive.
      {"https://MyCompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", false},
      {"https://mycompany.com/myapp.php?foo=1&bar=2", "WRONG SIGNATURE", false},
      {"https://mycompany.com/myapp.php?foo=1&bar=2", "NOTRSOYDt4T1cUTdK1PDd93/VVr8B8=", false},
      {"https://mycompany.com/myapp.php?foo=1&bar=2", "", false},
      // The query string is part of what is signed.
      {"https://mycompany.com/myapp.php?foo=1&bar=3", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", false},
      {"https://mycompany.com/myapp.php", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", false},
      // The scheme matters.
      {"http://mycompany.com/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.url);
    CAPTURE(c.header);
    CHECK(ValidateTwilioSignature("12345", c.url, kP1, c.header) == c.valid);
  }
}

TEST_CASE("signature: wrong token, changed or extra parameters are rejected") {
  const char* url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  CHECK_FALSE(ValidateTwilioSignature("54321", url, kP1, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  CHECK_FALSE(ValidateTwilioSignature("", url, kP1, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  SignedParams extra = kP1;
  extra.emplace_back("Extra", "1");
  CHECK_FALSE(ValidateTwilioSignature("12345", url, extra, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  SignedParams changed = kP1;
  changed[2].second = "1235";
  CHECK_FALSE(ValidateTwilioSignature("12345", url, changed, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

TEST_CASE("signature: UrlPortVariants") {
  struct Case {
    const char* url;
    std::vector<std::string> variants;
  };
  const Case cases[] = {
      {"https://a.com/x", {"https://a.com/x", "https://a.com:443/x"}},
      {"http://a.com/x?q=1", {"http://a.com/x?q=1", "http://a.com:80/x?q=1"}},
      {"https://a.com:8443/x", {"https://a.com:8443/x", "https://a.com/x"}},
      {"https://u:p@a.com/x", {"https://u:p@a.com/x", "https://u:p@a.com:443/x"}},
      {"https://u:p@a.com:443/x", {"https://u:p@a.com:443/x", "https://u:p@a.com/x"}},
      {"https://[::1]:8443/x", {"https://[::1]:8443/x", "https://[::1]/x"}},
      {"https://a.com", {"https://a.com", "https://a.com:443"}},
      {"ftp://a.com/x", {"ftp://a.com/x"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.url);
    CHECK(UrlPortVariants(c.url) == c.variants);
  }
}

TEST_CASE("signature: the signed URL from public-url or rebuilt from FastCGI params") {
  CHECK(SignedUrlFromPublicBase("https://x.example.com", "/callbacks/crm?a=1") ==
        "https://x.example.com/callbacks/crm?a=1");
  CHECK(SignedUrlFromPublicBase("https://x.example.com/", "/callbacks/crm") ==
        "https://x.example.com/callbacks/crm");
  CHECK(SignedUrlFromPublicBase("https://x.example.com:8443/base", "/callbacks/crm") ==
        "https://x.example.com:8443/base/callbacks/crm");

  struct Case {
    const char *https, *scheme, *host, *server_name, *port, *uri, *expected;
  };
  const Case cases[] = {
      {"on", "https", "x.example.com", "srv", "443", "/c?a=1", "https://x.example.com/c?a=1"},
      {"", "https", "x.example.com", "srv", "443", "/c", "https://x.example.com/c"},
      {"", "http", "x.example.com", "srv", "80", "/c", "http://x.example.com/c"},
      {"", "http", "127.0.0.1", "srv", "8082", "/c", "http://127.0.0.1:8082/c"},
      {"", "http", "127.0.0.1:8082", "srv", "8082", "/c", "http://127.0.0.1:8082/c"},
      {"", "http", "", "srv", "80", "/c", "http://srv/c"},
      {"1", "", "h", "srv", "8443", "/c", "https://h:8443/c"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.expected);
    CHECK(RebuildSignedUrl(c.https, c.scheme, c.host, c.server_name, c.port, c.uri) == c.expected);
  }
}

}  // namespace
}  // namespace frontline
