// The configuration of one frontline-fcgi run, from the command line, the environment (and a
// .env file), an INI config file and defaults, in that order of precedence (SPEC §9).
// ParseOptions is called once from main before any thread starts; Options is then immutable.
#ifndef FRONTLINE_FCGI_OPTIONS_H_
#define FRONTLINE_FCGI_OPTIONS_H_

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fcgi/log.h"
#include "handlers/optout.h"

namespace frontline {

// Exit codes from sysexits.h, as SPEC §9 requires (and 1 for an expired stop deadline).
constexpr int kExitOk = 0;
constexpr int kExitStopDeadline = 1;  // serve: requests still running at the stop deadline
constexpr int kExitUsage = 64;
constexpr int kExitDataError = 65;  // import: a bad record in an input file
constexpr int kExitIoError = 74;    // import: the disk or the database failed (EX_IOERR)
constexpr int kExitTempFail = 75;   // outbox deliver: a database error; retry (EX_TEMPFAIL)
constexpr int kExitConfig = 78;

// A startup error: one line for stderr and the process exit code (64 or 78).
class StartupError : public std::runtime_error {
 public:
  StartupError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

enum class Command { kServe, kImport, kExport, kOutbox, kOptOut, kCheckConfig, kHelp, kVersion };

struct Options {
  Command command = Command::kServe;
  std::vector<std::string> arguments;  // positional arguments after the command
  std::string help_text;               // filled for kHelp

  std::string config_file;             // the INI file read, if any
  std::string env_file;                // the .env file read, if any
  std::string listen;                  // "", "unix:PATH" or "HOST:PORT"
  std::string web_server_addrs;        // "" = unset; else the TCP peers PeerAllowList admits
  bool allow_any_peer = false;         // any TCP peer even on a non-loopback address
  int read_timeout_seconds = 10;       // for a whole request, and a new connection's first one
  int threads = 8;
  std::string directory = "/var/lib/frontline-fcgi/directory.db";  // a path or a libpq URI
  std::string postgres_schema = "frontline";  // our tables' schema in a PostgreSQL directory
  std::string outbox;                  // SQLite event store file; ParseOptions fills the default
                                       // (empty with a PostgreSQL directory)
  int outbox_concurrency = 8;          // deliveries in flight per process
  int outbox_retention_days = 7;       // done jobs are purged after this
  int outbox_poll_interval_ms = 500;   // the dispatcher's look for jobs nobody woke it for
  std::string templates;               // "" = built-in
  std::string collation = "root";      // crm.collation, as ICU resolved it (collation.h)
  std::string public_url;
  std::string route_prefix;
  bool skip_signature = false;
  bool list_all_customers = false;
  size_t max_body = 65536;

  std::string account_sid;
  std::string auth_token;              // the secret itself; never printed
  std::string auth_token_source;       // where it came from, for check-config
  std::string api_base = "https://conversations.twilio.com";
  std::string sms_number;
  std::string whatsapp_number;
  std::string default_worker;
  std::string customer_phone_1;        // seed compatibility, for import --seed-demo
  std::string customer_phone_2;

  // optout.stop-keywords / optout.start-keywords as given ("" = default) and as parsed.
  std::string optout_stop_keywords;
  std::string optout_start_keywords;
  OptOutKeywords optout_keywords;

  LogFormat log_format = LogFormat::kPlain;
  std::string log_file;

  // Command-specific.
  bool replace = false;                // import --replace
  bool seed_demo = false;              // import --seed-demo
  std::string export_format = "json";  // export --format
  std::string proxy;                   // optout add|remove --proxy ("" = every proxy)
};

// Parses everything. `environment` is the process environment as NAME -> value; variables from
// a .env file fill in names it lacks or has empty (never overriding a value). In every source
// an empty value is unset (SPEC §9): it neither overrides a lower source nor turns a boolean
// on. A boolean is true/false, yes/no, on/off or 1/0 in any case; a bare `--name` is true.
// Throws StartupError(64) for a command-line usage error and StartupError(78) for a bad
// configuration (a bad boolean from any source included), the line naming the option.
Options ParseOptions(int argc, const char* const argv[], std::map<std::string, std::string> environment);

// The process environment as a map (for ParseOptions).
std::map<std::string, std::string> ProcessEnvironment();

// outbox.db in the folder of the directory file `directory` (SPEC §8).
std::string DefaultOutboxPath(const std::string& directory);

// The effective configuration as INI-style lines (check-config): the auth token masked, URLs
// shown without their userinfo or query values (RedactUrl).
std::string DescribeOptions(const Options& options);

}  // namespace frontline

#endif  // FRONTLINE_FCGI_OPTIONS_H_
