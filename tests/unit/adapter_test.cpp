// RoutingPath: which FastCGI param a request is routed on, with the values nginx and Apache
// mod_fcgid really pass (Apache's were logged by a FastCGI dump script behind the shipped
// apache/htaccess and behind a ScriptAlias).
#include "fcgi/adapter.h"

#include <doctest/doctest.h>

#include "handlers/router.h"

namespace frontline {
namespace {

TEST_CASE("adapter: nginx DOCUMENT_URI is the routing path") {
  CHECK(RoutingPath("/callbacks/crm", "/callbacks/crm?x=1", "/callbacks/crm", "") ==
        "/callbacks/crm");
  // nginx normalises DOCUMENT_URI itself; REQUEST_URI is not consulted.
  CHECK(RoutingPath("/frontline/callbacks/crm", "/frontline//callbacks/crm", "", "") ==
        "/frontline/callbacks/crm");
}

TEST_CASE("adapter: Apache .htaccess rewrite routes on the URL Twilio called") {
  // RewriteRule ^(.*)$ frontline.fcgi/$1 in /frontline/.htaccess
  std::string path = RoutingPath("", "/frontline/callbacks/crm?x=1", "/frontline/frontline.fcgi",
                                 "/callbacks/crm");
  CHECK(path == "/frontline/callbacks/crm");
  CHECK(RouteName(path, "/frontline") == "/callbacks/crm");
  CHECK(RouteName(path, "/frontline/") == "/callbacks/crm");
}

TEST_CASE("adapter: Apache ScriptAlias routes the same way") {
  // ScriptAlias /frontline /srv/frontline/frontline.fcgi
  std::string path = RoutingPath("", "/frontline/healthz", "/frontline", "/healthz");
  CHECK(path == "/frontline/healthz");
  CHECK(RouteName(path, "/frontline") == "/healthz");
}

TEST_CASE("adapter: the binary's own URL and non-canonical spellings match no route") {
  std::string direct = RoutingPath("", "/frontline/frontline.fcgi/callbacks/crm",
                                   "/frontline/frontline.fcgi", "/callbacks/crm");
  CHECK(RouteName(direct, "/frontline") == "other");
  // Apache cleans these up for SCRIPT_NAME/PATH_INFO and its access rules, but the signed URL
  // is REQUEST_URI as sent, so they are routed verbatim and end in a 404.
  CHECK(RouteName(RoutingPath("", "/frontline//metrics", "/frontline/frontline.fcgi", "/metrics"),
                  "/frontline") == "other");
  CHECK(RouteName(RoutingPath("", "/frontline/%6Detrics", "/frontline/frontline.fcgi", "/metrics"),
                  "/frontline") == "other");
}

TEST_CASE("adapter: without DOCUMENT_URI and REQUEST_URI, SCRIPT_NAME + PATH_INFO") {
  CHECK(RoutingPath("", "", "/frontline", "/callbacks/crm") == "/frontline/callbacks/crm");
  CHECK(RoutingPath("", "", "", "") == "");
}

}  // namespace
}  // namespace frontline
