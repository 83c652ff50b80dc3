// Configuration precedence, seed variable names, secrets and exit codes (SPEC §9).
#include "fcgi/options.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <optional>

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

// The four places a setting can come from, for one ParseOptions call. The .env and INI texts are
// written to files only when non-empty.
struct Given {
  std::vector<std::string> args;
  Env env;
  std::string dotenv;
  std::string ini;
};

// Parses `given`; on a StartupError returns its code and message instead of options.
struct Outcome {
  std::optional<Options> options;
  int code = 0;
  std::string error;
};

Outcome ParseGiven(const TempDir& dir, Given given) {
  if (!given.dotenv.empty()) {
    given.args.push_back("--env-file");
    given.args.push_back(dir.Write("given.env", given.dotenv));
  }
  if (!given.ini.empty()) {
    given.args.push_back("--config");
    given.args.push_back(dir.Write("given.conf", given.ini));
  }
  Outcome outcome;
  try {
    outcome.options = Parse(given.args, given.env);
  } catch (const StartupError& e) {
    outcome.code = e.exit_code();
    outcome.error = e.what();
  }
  return outcome;
}

// One setting as every source spells it.
struct Setting {
  std::string name;   // the long option, also the key in the config file
  const char* env;    // its environment (and .env) variable, or nullptr
  bool cli;           // settable on the command line
  bool ini;           // settable in the config file
  std::string value;  // a valid value that differs from the default
  std::function<std::string(const Options&)> get;
};

std::string Text(bool b) { return b ? "true" : "false"; }

std::vector<Setting> AllSettings(const TempDir& dir) {
  std::string token_file = dir.Write("token-file", "token-from-file\n");
  std::string config = dir.Write("lower.conf", "threads = 3\n");
  std::string env_file = dir.Write("lower.env", "TWILIO_SMS_NUMBER=+1999\n");
  return {
      {"config", "FRONTLINE_CONFIG", true, false, config,
       [](const Options& o) { return o.config_file; }},
      {"env-file", nullptr, true, false, env_file, [](const Options& o) { return o.env_file; }},
      {"listen", "FRONTLINE_LISTEN", true, true, "unix:/tmp/frontline-test.sock",
       [](const Options& o) { return o.listen; }},
      {"web-server-addrs", "FCGI_WEB_SERVER_ADDRS", true, true, "127.0.0.1",
       [](const Options& o) { return o.web_server_addrs; }},
      {"allow-any-peer", "FRONTLINE_ALLOW_ANY_PEER", true, true, "true",
       [](const Options& o) { return Text(o.allow_any_peer); }},
      {"read-timeout", "FRONTLINE_READ_TIMEOUT", true, true, "30",
       [](const Options& o) { return std::to_string(o.read_timeout_seconds); }},
      {"threads", "FRONTLINE_THREADS", true, true, "3",
       [](const Options& o) { return std::to_string(o.threads); }},
      {"directory", "FRONTLINE_DIRECTORY", true, true, "/tmp/other.db",
       [](const Options& o) { return o.directory; }},
      {"templates", "FRONTLINE_TEMPLATES", true, true, "/tmp/templates.json",
       [](const Options& o) { return o.templates; }},
      {"public-url", "PUBLIC_BASE_URL", true, true, "https://hooks.example.com",
       [](const Options& o) { return o.public_url; }},
      {"route-prefix", "FRONTLINE_ROUTE_PREFIX", true, true, "/frontline",
       [](const Options& o) { return o.route_prefix; }},
      {"max-body", "FRONTLINE_MAX_BODY", true, true, "1000",
       [](const Options& o) { return std::to_string(o.max_body); }},
      {"insecure-skip-signature", "FRONTLINE_INSECURE_SKIP_SIGNATURE", true, true, "true",
       [](const Options& o) { return Text(o.skip_signature); }},
      {"crm.list-all-customers", "FRONTLINE_LIST_ALL_CUSTOMERS", true, true, "true",
       [](const Options& o) { return Text(o.list_all_customers); }},
      {"twilio.account-sid", "TWILIO_ACCOUNT_SID", true, true, "AC123",
       [](const Options& o) { return o.account_sid; }},
      {"twilio.auth-token-file", "TWILIO_AUTH_TOKEN_FILE", true, true, token_file,
       [](const Options& o) { return o.auth_token; }},
      {"twilio.auth-token", "TWILIO_AUTH_TOKEN", false, true, "token-itself",
       [](const Options& o) { return o.auth_token; }},
      {"twilio.api-base", "TWILIO_API_BASE", true, true, "https://api.example.com",
       [](const Options& o) { return o.api_base; }},
      {"twilio.sms-number", "TWILIO_SMS_NUMBER", true, true, "+15550001",
       [](const Options& o) { return o.sms_number; }},
      {"twilio.whatsapp-number", "TWILIO_WHATSAPP_NUMBER", true, true, "+15550002",
       [](const Options& o) { return o.whatsapp_number; }},
      {"routing.default-worker", "WORKER_IDENTITY", true, true, "w@example.com",
       [](const Options& o) { return o.default_worker; }},
      {"routing.default-worker", "Worker_Identity", true, true, "w@example.com",
       [](const Options& o) { return o.default_worker; }},
      {"seed.customer-phone-1", "CUSTOMER_PHONE_1", true, true, "+15551111",
       [](const Options& o) { return o.customer_phone_1; }},
      {"seed.customer-phone-2", "CUSTOMER_PHONE_2", true, true, "+15552222",
       [](const Options& o) { return o.customer_phone_2; }},
      {"log-format", "FRONTLINE_LOG_FORMAT", true, true, "json",
       [](const Options& o) { return std::to_string(static_cast<int>(o.log_format)); }},
      {"log-file", "FRONTLINE_LOG_FILE", true, true, "/tmp/frontline.log",
       [](const Options& o) { return o.log_file; }},
      {"format", nullptr, true, false, "csv", [](const Options& o) { return o.export_format; }},
  };
}

// `setting` given `value` by the highest source below `above` that can hold it (the
// environment, then the config file), or nothing at all when none can.
enum class Source { kCli, kEnv, kDotEnv, kIni };

Given Lower(const Setting& setting, Source above, const std::string& value) {
  Given given;
  if (above == Source::kCli && setting.env != nullptr) {
    given.env[setting.env] = value;
  } else if (above != Source::kIni && setting.ini) {
    given.ini = setting.name + " = " + value + "\n";
  }
  return given;
}

TEST_CASE("options: an empty value is unset in every source, for every option") {
  TempDir dir;
  const std::string defaults_differ = "(the lower source changed nothing)";
  for (const Setting& setting : AllSettings(dir)) {
    CAPTURE(setting.name);
    std::string env_name = setting.env != nullptr ? setting.env : "(none)";
    CAPTURE(env_name);
    const std::string by_default = setting.get(*ParseGiven(dir, {}).options);
    auto check = [&](const std::string& what, Source above, Given given) {
      CAPTURE(what);
      Outcome lower = ParseGiven(dir, Lower(setting, above, setting.value));
      REQUIRE(lower.options);
      Given combined = Lower(setting, above, setting.value);
      for (auto& a : given.args) combined.args.push_back(a);
      for (auto& [k, v] : given.env) combined.env[k] = v;
      if (!given.dotenv.empty()) combined.dotenv = given.dotenv;
      if (!given.ini.empty()) combined.ini = given.ini;
      Outcome outcome = ParseGiven(dir, combined);
      CAPTURE(outcome.error);
      REQUIRE(outcome.options);
      CHECK(setting.get(*outcome.options) == setting.get(*lower.options));
    };
    if (setting.cli) {
      check("--name=", Source::kCli, {{"--" + setting.name + "="}, {}, "", ""});
      if (setting.value != "true") {
        check("--name ''", Source::kCli, {{"--" + setting.name, ""}, {}, "", ""});
      }
    }
    if (setting.env != nullptr) {
      check("NAME= in the environment", Source::kEnv, {{}, {{setting.env, ""}}, "", ""});
      check("NAME= in .env", Source::kDotEnv, {{}, {}, std::string(setting.env) + "=\n", ""});
      check("NAME='' in .env", Source::kDotEnv, {{}, {}, std::string(setting.env) + "=''\n", ""});
      // An empty variable is one the .env file may fill in.
      Outcome filled = ParseGiven(
          dir,
          {{}, {{setting.env, ""}}, std::string(setting.env) + "=" + setting.value + "\n", ""});
      REQUIRE(filled.options);
      CHECK(setting.get(*filled.options) != by_default);
    }
    if (setting.ini) {
      check("name = in the config file", Source::kIni, {{}, {}, "", setting.name + " =\n"});
      check("name = (blanks) in the config file", Source::kIni,
            {{}, {}, "", setting.name + " =  \t\n"});
      size_t dot = setting.name.find('.');
      if (dot != std::string::npos) {  // [twilio] sms-number =
        std::string text =
            "[" + setting.name.substr(0, dot) + "]\n" + setting.name.substr(dot + 1) + " =\n";
        Outcome in_section = ParseGiven(dir, {{}, {}, "", text});
        REQUIRE(in_section.options);
        CHECK(setting.get(*in_section.options) == by_default);
      }
    }
    // The lower source is real: without the empty value above it, it takes effect.
    if (setting.cli && (setting.env != nullptr || setting.ini)) {
      Outcome lower = ParseGiven(dir, Lower(setting, Source::kCli, setting.value));
      REQUIRE(lower.options);
      CHECK_MESSAGE(setting.get(*lower.options) != by_default, defaults_differ);
    }
  }
}

TEST_CASE("options: the seed's Worker_Identity is not hidden by an empty WORKER_IDENTITY") {
  Options o = Parse({}, {{"WORKER_IDENTITY", ""}, {"Worker_Identity", "seed@example.com"}});
  CHECK(o.default_worker == "seed@example.com");
  CHECK(Parse({}, {{"CREDENTIALS_DIRECTORY", ""}}).auth_token.empty());
}

TEST_CASE("options: a misspelt --name= is still a usage error") {
  CHECK(ExitCodeOf({"--no-such-option="}) == kExitUsage);
  CHECK(ExitCodeOf({"--twilio.auth-token="}) == kExitUsage);  // never on the command line
  // After "--" nothing is an option.
  CHECK(ExitCodeOf({"import", "--", "--threads="}) == 0);
  CHECK(Parse({"import", "--", "--threads="}).arguments == std::vector<std::string>{"--threads="});
}

TEST_CASE("options: booleans accept true/false, yes/no, on/off, 1/0 in every source") {
  TempDir dir;
  const std::pair<const char*, bool> accepted[] = {
      {"true", true}, {"false", false}, {"1", true},    {"0", false},   {"yes", true},
      {"no", false},  {"on", true},     {"off", false}, {"TRUE", true}, {"False", false},
      {"YES", true},  {"No", false},    {"On", true},   {"OFF", false},
  };
  const char* rejected[] = {"maybe", "2", " ", "-1", "truee", "y", "enabled"};
  for (const Setting& setting : AllSettings(dir)) {
    if (setting.value != "true") continue;  // the booleans
    CAPTURE(setting.name);
    const std::string env = setting.env;
    for (const auto& [text, value] : accepted) {
      std::string spelling = text;
      CAPTURE(spelling);
      // Each source, over a lower source saying the opposite where there is one.
      std::string opposite = value ? "false" : "true";
      const Given givens[] = {
          {{"--" + setting.name + "=" + text}, {{env, opposite}}, "", ""},
          {{}, {{env, text}}, "", setting.name + " = " + opposite + "\n"},
          {{}, {}, env + "=\"" + text + "\"\n", setting.name + " = " + opposite + "\n"},
          {{}, {}, env + "=" + text + "\n", ""},
          {{}, {}, "", setting.name + " = " + text + "\n"},
      };
      for (const Given& given : givens) {
        Outcome outcome = ParseGiven(dir, given);
        CAPTURE(outcome.error);
        REQUIRE(outcome.options);
        CHECK(setting.get(*outcome.options) == Text(value));
      }
    }
    for (const char* text : rejected) {
      std::string t = text;
      CAPTURE(t);
      struct Bad {
        Given given;
        std::string source;
      };
      std::vector<Bad> bad = {
          {{{"--" + setting.name + "=" + t}, {}, "", ""}, "command line"},
          {{{}, {{env, t}}, "", ""}, "environment " + env},
          {{{}, {}, env + "=\"" + t + "\"\n", ""}, ".env file"},
      };
      // The config file and an unquoted .env value trim blanks: " " there is empty, so unset.
      if (t != " ") {
        bad.push_back({{{}, {}, env + "=" + t + "\n", ""}, ".env file"});
        bad.push_back({{{}, {}, "", setting.name + " = " + t + "\n"}, "config file"});
      }
      for (const Bad& b : bad) {
        Outcome outcome = ParseGiven(dir, b.given);
        CAPTURE(b.source);
        CHECK_FALSE(outcome.options);
        CHECK(outcome.code == kExitConfig);
        CHECK(outcome.error.find("--" + setting.name) != std::string::npos);
        CHECK(outcome.error.find(b.source) != std::string::npos);
        CHECK(outcome.error.find("'" + t + "'") != std::string::npos);
      }
    }
    // A bare --name means true, over any lower source.
    Outcome bare = ParseGiven(dir, {{"--" + setting.name}, {{env, "false"}}, "", ""});
    REQUIRE(bare.options);
    CHECK(setting.get(*bare.options) == "true");
    Outcome blank_ini = ParseGiven(dir, {{}, {}, env + "= \n", setting.name + " =   \n"});
    REQUIRE(blank_ini.options);
    CHECK(setting.get(*blank_ini.options) == "false");
  }
}

TEST_CASE("options: --allow-any-peer and --read-timeout") {
  Options defaults = Parse({});
  CHECK_FALSE(defaults.allow_any_peer);
  CHECK(defaults.read_timeout_seconds == 10);
  CHECK(Parse({"--allow-any-peer"}).allow_any_peer);
  CHECK(Parse({}, {{"FRONTLINE_ALLOW_ANY_PEER", "yes"}}).allow_any_peer);
  CHECK(Parse({"--read-timeout", "1"}).read_timeout_seconds == 1);
  CHECK(Parse({"--read-timeout=3600"}).read_timeout_seconds == 3600);
  CHECK(Parse({}, {{"FRONTLINE_READ_TIMEOUT", "42"}}).read_timeout_seconds == 42);
  TempDir dir;
  std::string ini = dir.Write("p.conf", "allow-any-peer = on\nread-timeout = 7\n");
  Options from_file = Parse({"--config", ini});
  CHECK(from_file.allow_any_peer);
  CHECK(from_file.read_timeout_seconds == 7);

  for (const char* bad : {"0", "3601", "-5"}) {
    CAPTURE(bad);
    try {
      Parse({"--read-timeout", bad});
      FAIL("accepted");
    } catch (const StartupError& e) {
      CHECK(e.exit_code() == kExitConfig);
      CHECK(std::string(e.what()).find("--read-timeout") != std::string::npos);
    }
  }
  CHECK(ExitCodeOf({"--read-timeout", "soon"}) == kExitUsage);
  CHECK(ExitCodeOf({}, {{"FRONTLINE_READ_TIMEOUT", "soon"}}) == kExitConfig);

  std::string help = Parse({"--help"}).help_text;
  for (const char* text : {"--allow-any-peer", "FRONTLINE_ALLOW_ANY_PEER", "--read-timeout",
                           "FRONTLINE_READ_TIMEOUT", "slower peers are dropped"}) {
    std::string wanted = text;
    CAPTURE(wanted);
    CHECK(help.find(text) != std::string::npos);
  }
  // --web-server-addrs says when it is required.
  size_t addrs = help.find("--web-server-addrs");
  REQUIRE(addrs != std::string::npos);
  size_t next = help.find("\n  --", addrs);
  std::string addrs_help = help.substr(addrs, next - addrs);
  CHECK(addrs_help.find("loopback") != std::string::npos);
  CHECK(addrs_help.find("allow-any-peer") != std::string::npos);

  std::string described = DescribeOptions(Parse({"--allow-any-peer", "--read-timeout", "25"}));
  CHECK(described.find("allow-any-peer = true\n") != std::string::npos);
  CHECK(described.find("read-timeout = 25\n") != std::string::npos);
  CHECK(DescribeOptions(defaults).find("allow-any-peer = false\n") != std::string::npos);
}

TEST_CASE("options: twilio.api-base over http:// only to this machine") {
  struct Case {
    const char* url;
    bool accepted;
  };
  const Case cases[] = {
      {"https://conversations.twilio.com", true},
      {"https://api.example.com:8443", true},
      {"https://10.0.0.5", true},
      {"http://127.0.0.1:8080", true},
      {"http://127.0.0.1:8080/", true},
      {"http://127.9.8.7", true},
      {"http://localhost:9000", true},
      {"http://LOCALHOST", true},
      {"http://[::1]:9000", true},
      {"http://conversations.twilio.com", false},
      {"http://10.0.0.5:8080", false},
      {"http://192.168.1.1", false},
      {"http://0.0.0.0:8080", false},
      {"http://[::]:8080", false},
      {"http://[::ffff:127.0.0.1]", false},
      {"http://127.0.0.1.nip.io", false},
      {"http://localhost.example.com", false},
      {"http://127.0.0.1@evil.example.com", false},
      {"http://user:hunter2@127.0.0.1:8080", false},  // credentials are the SID and token
      {"https://user:hunter2@conversations.twilio.com", false},
      {"http://", false},
      {"https://:443", false},
  };
  for (const Case& c : cases) {
    std::string url = c.url;
    CAPTURE(url);
    for (bool via_env : {false, true}) {
      CAPTURE(via_env);
      TempDir dir;
      Outcome outcome = via_env ? ParseGiven(dir, {{}, {{"TWILIO_API_BASE", c.url}}, "", ""})
                                : ParseGiven(dir, {{"--twilio.api-base", c.url}, {}, "", ""});
      CAPTURE(outcome.error);
      CHECK(outcome.options.has_value() == c.accepted);
      if (!c.accepted) {
        CHECK(outcome.code == kExitConfig);
        CHECK(outcome.error.find("--twilio.api-base") != std::string::npos);
        CHECK(outcome.error.find("hunter2") == std::string::npos);
      }
    }
  }
  try {
    Parse({"--twilio.api-base", "http://api.example.com"});
    FAIL("accepted");
  } catch (const StartupError& e) {
    CHECK(std::string(e.what()).find("in clear") != std::string::npos);
  }
}

TEST_CASE("options: check-config and error lines never show URL userinfo or query values") {
  Options o =
      Parse({"check-config", "--public-url", "https://hook:hook-pass@hooks.example.com/fl"});
  std::string text = DescribeOptions(o);
  CHECK(o.public_url == "https://hook:hook-pass@hooks.example.com/fl");  // used as given
  CHECK(text.find("public-url = https://***@hooks.example.com/fl\n") != std::string::npos);
  CHECK(text.find("hook-pass") == std::string::npos);
  CHECK(text.find("twilio.api-base = https://conversations.twilio.com\n") != std::string::npos);

  struct Case {
    std::vector<std::string> args;
    const char* secret;
  };
  const Case cases[] = {
      {{"--public-url", "ftp://u:url-pass@x.example.com"}, "url-pass"},
      {{"--public-url", "https://u:url-pass@x.example.com/?k=query-secret"}, "query-secret"},
      {{"--public-url", "https://u:url-pass@x.example.com/?k=query-secret"}, "url-pass"},
      {{"--twilio.api-base", "https://u:url-pass@x.example.com"}, "url-pass"},
      {{"--twilio.api-base", "https://x.example.com/v1?k=query-secret"}, "query-secret"},
      {{"--twilio.api-base", "http://u:url-pass@x.example.com"}, "url-pass"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args[1]);
    try {
      Parse(c.args);
      FAIL("accepted");
    } catch (const StartupError& e) {
      CHECK(e.exit_code() == kExitConfig);
      CHECK(std::string(e.what()).find(c.secret) == std::string::npos);
    }
  }
}

}  // namespace
}  // namespace frontline

namespace frontline {
namespace {

TEST_CASE("options: --outbox beside the directory, --outbox.concurrency, --outbox.retention") {
  Options o = Parse({});
  CHECK(o.outbox == "/var/lib/frontline-fcgi/outbox.db");
  CHECK(o.outbox_concurrency == 8);
  CHECK(o.outbox_retention_days == 7);
  CHECK(Parse({"--directory", "/srv/x/dir.db"}).outbox == "/srv/x/outbox.db");
  CHECK(Parse({"--directory", "dir.db"}).outbox == "outbox.db");
  CHECK(Parse({}, {{"FRONTLINE_OUTBOX", "/tmp/o.db"}}).outbox == "/tmp/o.db");
  CHECK(Parse({"--outbox", "/a.db"}, {{"FRONTLINE_OUTBOX", "/tmp/o.db"}}).outbox == "/a.db");
  o = Parse({"--outbox.concurrency", "1", "--outbox.retention", "30"});
  CHECK(o.outbox_concurrency == 1);
  CHECK(o.outbox_retention_days == 30);
  CHECK(ExitCodeOf({"--outbox.concurrency", "0"}) == kExitConfig);
  CHECK(ExitCodeOf({"--outbox.concurrency", "65"}) == kExitConfig);
  CHECK(ExitCodeOf({"--outbox.retention", "0"}) == kExitConfig);
  CHECK(ExitCodeOf({"--directory", "/a.db", "--outbox", "/a.db"}) == kExitConfig);
  const std::string described = DescribeOptions(Parse({"--directory", "/srv/x/dir.db"}));
  CHECK(described.find("outbox = /srv/x/outbox.db\n") != std::string::npos);
  CHECK(described.find("outbox.concurrency = 8\n") != std::string::npos);
  CHECK(described.find("outbox.retention = 7 days\n") != std::string::npos);
}

}  // namespace
}  // namespace frontline

namespace frontline {
namespace {

TEST_CASE("options: a PostgreSQL --directory, --postgres.schema, --outbox.poll-interval") {
  Options o = Parse({"--directory", "postgresql://app:pw@db1,db2/frontline"});
  CHECK(o.outbox.empty());  // the event state is in the same database
  CHECK(o.postgres_schema == "frontline");
  CHECK(o.outbox_poll_interval_ms == 500);
  const std::string described = DescribeOptions(o);
  CHECK(described.find("directory = postgresql://app:****@db1,db2/frontline\n") !=
        std::string::npos);
  CHECK(described.find("pw") == std::string::npos);
  CHECK(described.find("outbox = (in the PostgreSQL database)\n") != std::string::npos);
  CHECK(Parse({"--directory", "postgresql:service=x", "--postgres.schema", "tenant_2"})
            .postgres_schema == "tenant_2");
  CHECK(Parse({}, {{"FRONTLINE_DIRECTORY", "postgres://db/f"}}).outbox.empty());
  struct Case {
    std::vector<std::string> args;
    int exit;
  };
  const Case cases[] = {
      {{"--directory", "postgresql://db/f", "--outbox", "/tmp/o.db"}, kExitConfig},
      {{"--postgres.schema", "Upper"}, kExitConfig},
      {{"--postgres.schema", "1abc"}, kExitConfig},
      {{"--postgres.schema", "a-b"}, kExitConfig},
      {{"--postgres.schema", std::string(64, 'x')}, kExitConfig},
      {{"--postgres.schema", std::string(63, 'x')}, 0},
      {{"--outbox.poll-interval", "9"}, kExitConfig},
      {{"--outbox.poll-interval", "600001"}, kExitConfig},
      {{"--outbox.poll-interval", "10"}, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args.back());
    CHECK(ExitCodeOf(c.args) == c.exit);
  }
  CHECK(Parse({"--outbox.poll-interval", "10"}).outbox_poll_interval_ms == 10);
}

}  // namespace
}  // namespace frontline

namespace frontline {
namespace {

TEST_CASE("options: optout keywords and the optout command") {
  TempDir dir;
  Options defaults = Parse({});
  CHECK(defaults.optout_keywords.stop() ==
        std::vector<std::string>{"stop", "stopall", "unsubscribe", "cancel", "end", "quit"});
  CHECK(defaults.optout_keywords.start() == std::vector<std::string>{"start", "yes", "unstop"});
  Options o = Parse({"--optout.stop-keywords", "HALT  Arrêt", "--optout.start-keywords="});
  CHECK(o.optout_keywords.stop() == std::vector<std::string>{"halt", "arret"});
  CHECK(o.optout_keywords.start() == defaults.optout_keywords.start());  // empty: unset
  CHECK(o.optout_keywords.Classify("ARRET") == Keyword::kStop);
  // From the config file too, under [optout].
  std::string ini = dir.Write("f.conf", "[optout]\nstart-keywords = RESUME\n");
  CHECK(Parse({"--config", ini}).optout_keywords.start() == std::vector<std::string>{"resume"});
  CHECK(DescribeOptions(o).find("optout.stop-keywords = halt arret\n") != std::string::npos);
  // Invalid keywords are configuration errors.
  CHECK(ExitCodeOf({"--optout.stop-keywords", "STOP!"}) == 78);
  CHECK(ExitCodeOf({"--optout.start-keywords", "stop"}) == 78);

  Options command = Parse({"optout", "add", "+15558675310", "--proxy", "+15550001111"});
  CHECK(command.command == Command::kOptOut);
  CHECK(command.arguments == std::vector<std::string>{"add", "+15558675310"});
  CHECK(command.proxy == "+15550001111");
}

}  // namespace
}  // namespace frontline
