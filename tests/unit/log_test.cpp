#include "fcgi/log.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

namespace frontline {
namespace {

TEST_CASE("log: plain lines stay one line and quote what needs it") {
  Log log(LogFormat::kPlain);
  std::string line = log.Format(LogLevel::kWarning, "request",
                                {{"req", "abc"}, {"detail", "two words \"q\"\nnext"}, {"e", ""}});
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find(" warning request req=abc detail=\"two words \\\"q\\\"\\nnext\" e=\"\"") !=
        std::string::npos);
}

TEST_CASE("log: json lines parse and carry every field") {
  Log log(LogFormat::kJson);
  std::string line = log.Format(LogLevel::kInfo, "request", {{"req", "r1"}, {"status", "200"}});
  rapidjson::Document doc;
  doc.Parse(line.c_str());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["level"].GetString()) == "info");
  CHECK(std::string(doc["msg"].GetString()) == "request");
  CHECK(std::string(doc["req"].GetString()) == "r1");
  CHECK(doc.HasMember("ts"));
}

TEST_CASE("log: journal lines start with the syslog priority") {
  Log log(LogFormat::kJournal);
  CHECK(log.Format(LogLevel::kError, "x", {}).rfind("<3>x", 0) == 0);
  CHECK(log.Format(LogLevel::kWarning, "x", {}).rfind("<4>", 0) == 0);
  CHECK(log.Format(LogLevel::kInfo, "x", {}).rfind("<6>", 0) == 0);
}

}  // namespace
}  // namespace frontline
