// Configuration precedence, seed variable names, secrets and exit codes (SPEC §9).
#include "fcgi/options.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <doctest/doctest.h>

namespace frontline {
namespace {

using Env = std::map<std::string, std::string>;

// A scratch directory with files the test writes.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/frontline-options-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string file = path + "/" + name;
    std::ofstream(file) << text;
    return file;
  }
};

Options Parse(std::vector<std::string> args, const Env& env = {}) {
  args.insert(args.begin(), "frontline-fcgi");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseOptions(static_cast<int>(argv.size()), argv.data(), env);
}

int ExitCodeOf(std::vector<std::string> args, const Env& env = {}) {
  try {
    Parse(std::move(args), env);
  } catch (const StartupError& e) {
    return e.exit_code();
  }
  return 0;
}

TEST_CASE("options: defaults") {
  Options o = Parse({});
  CHECK(o.command == Command::kServe);
  CHECK(o.threads == 8);
  CHECK(o.directory == "/var/lib/frontline-fcgi/directory.db");
  CHECK(o.max_body == 65536);
  CHECK(o.api_base == "https://conversations.twilio.com");
  CHECK(o.listen.empty());
  CHECK(o.auth_token.empty());
  CHECK_FALSE(o.skip_signature);
}

TEST_CASE("options: command line > environment > config file > default") {
  TempDir dir;
  std::string ini = dir.Write("f.conf",
                              "threads = 3\n"
                              "directory = /from/file.db\n"
                              "public-url = https://file.example.com\n"
                              "[twilio]\n"
                              "sms-number = +1000\n"
                              "whatsapp-number = +2000\n"
                              "[routing]\n"
                              "default-worker = file-worker\n");
  Env env = {{"FRONTLINE_THREADS", "4"}, {"TWILIO_SMS_NUMBER", "+3000"},
             {"FRONTLINE_DIRECTORY", "/from/env.db"}};
  Options o = Parse({"--config", ini, "--threads", "5"}, env);
  CHECK(o.threads == 5);                           // command line
  CHECK(o.directory == "/from/env.db");            // environment
  CHECK(o.sms_number == "+3000");                  // environment
  CHECK(o.whatsapp_number == "+2000");             // file
  CHECK(o.public_url == "https://file.example.com");
  CHECK(o.default_worker == "file-worker");
  CHECK(o.config_file == ini);

  Options via_env = Parse({}, {{"FRONTLINE_CONFIG", ini}});
  CHECK(via_env.threads == 3);
}

TEST_CASE("options: the seed's variable names") {
  Env env = {{"TWILIO_ACCOUNT_SID", "AC123"},     {"TWILIO_AUTH_TOKEN", "secret"},
             {"Worker_Identity", "seed@example.com"}, {"TWILIO_SMS_NUMBER", "+15550001"},
             {"TWILIO_WHATSAPP_NUMBER", "+15550002"}, {"CUSTOMER_PHONE_1", "+15551111"},
             {"CUSTOMER_PHONE_2", "+15552222"},    {"LISTEN_PORT", "8082"}};
  Options o = Parse({}, env);
  CHECK(o.account_sid == "AC123");
  CHECK(o.auth_token == "secret");
  CHECK(o.default_worker == "seed@example.com");
  CHECK(o.sms_number == "+15550001");
  CHECK(o.whatsapp_number == "+15550002");
  CHECK(o.customer_phone_1 == "+15551111");
  CHECK(o.customer_phone_2 == "+15552222");

  env["WORKER_IDENTITY"] = "new@example.com";
  CHECK(Parse({}, env).default_worker == "new@example.com");
}

TEST_CASE("options: .env fills in only what the environment lacks") {
  TempDir dir;
  std::string file = dir.Write("seed.env",
                               "# the seed's static/.env\n"
                               "TWILIO_AUTH_TOKEN=from-dotenv\n"
                               "export TWILIO_SMS_NUMBER=\"+1555 0003\"\n"
                               "Worker_Identity='quoted@example.com'\n"
                               "TWILIO_ACCOUNT_SID=AC999 # trailing comment\n"
                               "not a variable line\n");
  Options o = Parse({"--env-file", file}, {{"TWILIO_AUTH_TOKEN", "from-env"}});
  CHECK(o.auth_token == "from-env");
  CHECK(o.sms_number == "+1555 0003");
  CHECK(o.default_worker == "quoted@example.com");
  CHECK(o.account_sid == "AC999");
  CHECK(o.env_file == file);
  CHECK(ExitCodeOf({"--env-file", dir.path + "/missing.env"}) == kExitConfig);
}

TEST_CASE("options: auth token sources") {
  TempDir dir;
  std::string token_file = dir.Write("token", "file-token\n");
  CHECK(Parse({"--twilio.auth-token-file", token_file}, {{"TWILIO_AUTH_TOKEN", "env-token"}})
            .auth_token == "file-token");
  CHECK(Parse({}, {{"TWILIO_AUTH_TOKEN", "env-token"}}).auth_token == "env-token");

  std::string ini = dir.Write("t.conf", "[twilio]\nauth-token = ini-token\n");
  CHECK(Parse({"--config", ini}).auth_token == "ini-token");
  CHECK(Parse({"--config", ini}, {{"TWILIO_AUTH_TOKEN", "env-token"}}).auth_token == "env-token");

  std::string creds = dir.path + "/creds";
  REQUIRE(mkdir(creds.c_str(), 0700) == 0);
  dir.Write("creds/twilio-auth-token", "credential-token");
  Options o = Parse({}, {{"CREDENTIALS_DIRECTORY", creds}});
  CHECK(o.auth_token == "credential-token");
  CHECK(o.auth_token_source.find("credential") != std::string::npos);

  // Never on the command line, where ps would show it.
  CHECK(ExitCodeOf({"--twilio.auth-token", "x"}) == kExitUsage);
  CHECK(ExitCodeOf({"--twilio.auth-token-file", dir.path + "/none"}) == kExitConfig);
  dir.Write("empty", "\n");
  CHECK(ExitCodeOf({"--twilio.auth-token-file", dir.path + "/empty"}) == kExitConfig);
}

TEST_CASE("options: check-config never prints the secret") {
  Options o = Parse({"check-config"}, {{"TWILIO_AUTH_TOKEN", "very-secret-token"}});
  CHECK(o.command == Command::kCheckConfig);
  std::string text = DescribeOptions(o);
  CHECK(text.find("very-secret-token") == std::string::npos);
  CHECK(text.find("twilio.auth-token = ********") != std::string::npos);
}

TEST_CASE("options: usage errors exit 64, bad configuration 78") {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    Env env;
    int code;
  };
  const Case cases[] = {
      {{"--no-such-option"}, {}, kExitUsage},
      {{"frobnicate"}, {}, kExitUsage},
      {{"--threads"}, {}, kExitUsage},
      {{"--threads", "lots"}, {}, kExitUsage},
      {{"--threads", "0"}, {}, kExitConfig},
      {{"--threads", "2000"}, {}, kExitConfig},
      {{}, {{"FRONTLINE_THREADS", "many"}}, kExitConfig},
      {{"--listen", "nowhere"}, {}, kExitConfig},
      {{"--listen", ":9000"}, {}, kExitConfig},
      {{"--listen", "127.0.0.1:70000"}, {}, kExitConfig},
      {{"--listen", "unix:"}, {}, kExitConfig},
      {{"--public-url", "ftp://x"}, {}, kExitConfig},
      {{"--public-url", "https://x.example.com/?a=1"}, {}, kExitConfig},
      {{"--twilio.api-base", "https://x.example.com/v1"}, {}, kExitConfig},
      {{"--log-format", "xml"}, {}, kExitConfig},
      {{"--max-body", "0"}, {}, kExitConfig},
      {{"--route-prefix", "frontline"}, {}, kExitConfig},
      {{"--config", "/nonexistent/f.conf"}, {}, kExitConfig},
      {{"--config", dir.Write("typo.conf", "thredas = 4\n")}, {}, kExitConfig},
      {{"--config", dir.Write("syntax.conf", "[unclosed\n")}, {}, kExitConfig},
      {{"export", "--format", "xml"}, {}, kExitUsage},
      {{"--listen", "unix:/tmp/x.sock", "--threads", "2"}, {}, 0},
      {{"--listen", "127.0.0.1:9000"}, {}, 0},
  };
  for (const Case& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    CAPTURE(joined);
    CHECK(ExitCodeOf(c.args, c.env) == c.code);
  }
}

TEST_CASE("options: the error line names the option") {
  try {
    Parse({"--threads", "0"});
    FAIL("no error");
  } catch (const StartupError& e) {
    CHECK(std::string(e.what()).find("--threads") != std::string::npos);
  }
  TempDir dir;
  std::string conf = dir.Write("typo.conf", "thredas = 4\n");
  try {
    Parse({"--config", conf});
    FAIL("no error");
  } catch (const StartupError& e) {
    CHECK(std::string(e.what()).find(conf) != std::string::npos);
    CHECK(std::string(e.what()).find("thredas") != std::string::npos);
  }
}

TEST_CASE("options: commands, arguments, help and version") {
  Options import = Parse({"import", "--replace", "a.json", "b.csv"});
  CHECK(import.command == Command::kImport);
  CHECK(import.replace);
  CHECK(import.arguments == std::vector<std::string>{"a.json", "b.csv"});
  CHECK(Parse({"export", "--format", "csv"}).export_format == "csv");
  Options help = Parse({"--help"});
  CHECK(help.command == Command::kHelp);
  // Every option is explained.
  for (const char* name : {"--listen", "--threads", "--directory", "--templates", "--public-url",
                           "--twilio.account-sid", "--twilio.auth-token-file", "--twilio.api-base",
                           "--twilio.sms-number", "--twilio.whatsapp-number",
                           "--routing.default-worker", "--max-body", "--log-format", "--log-file",
                           "--config", "--env-file", "--insecure-skip-signature",
                           "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL", "Worker_Identity"}) {
    CAPTURE(name);
    CHECK(help.help_text.find(name) != std::string::npos);
  }
  CHECK(Parse({"--version"}).command == Command::kVersion);
}

}  // namespace
}  // namespace frontline
