#include "fcgi/options.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <boost/program_options.hpp>

#include "db/postgres.h"
#include "directory/collation.h"
#include "fcgi/listener.h"
#include "twilio/url.h"

extern char** environ;

namespace frontline {
namespace po = boost::program_options;
namespace {

constexpr unsigned kHelpWidth = 100;
// No abbreviations: "--twilio.auth-token" must not silently mean "--twilio.auth-token-file".
constexpr int kCliStyle =
    po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
constexpr const char* kDefaultEnvFile = ".env";
constexpr const char* kConfigNextToBinary = "frontline-fcgi.conf";
constexpr const char* kCredentialName = "twilio-auth-token";

// Environment variable -> option name. The seed's names come first so an operator can keep the
// seed's .env file; WORKER_IDENTITY wins over the seed's Worker_Identity when both are set.
const std::pair<const char*, const char*> kEnvironmentNames[] = {
    {"FRONTLINE_CONFIG", "config"},
    {"FRONTLINE_LISTEN", "listen"},
    {"FCGI_WEB_SERVER_ADDRS", "web-server-addrs"},
    {"FRONTLINE_ALLOW_ANY_PEER", "allow-any-peer"},
    {"FRONTLINE_READ_TIMEOUT", "read-timeout"},
    {"FRONTLINE_THREADS", "threads"},
    {"FRONTLINE_DIRECTORY", "directory"},
    {"FRONTLINE_OUTBOX", "outbox"},
    {"FRONTLINE_TEMPLATES", "templates"},
    {"PUBLIC_BASE_URL", "public-url"},
    {"FRONTLINE_ROUTE_PREFIX", "route-prefix"},
    {"FRONTLINE_MAX_BODY", "max-body"},
    {"FRONTLINE_LOG_FORMAT", "log-format"},
    {"FRONTLINE_LOG_FILE", "log-file"},
    {"FRONTLINE_INSECURE_SKIP_SIGNATURE", "insecure-skip-signature"},
    {"FRONTLINE_LIST_ALL_CUSTOMERS", "crm.list-all-customers"},
    {"TWILIO_ACCOUNT_SID", "twilio.account-sid"},
    {"TWILIO_AUTH_TOKEN", "twilio.auth-token"},
    {"TWILIO_AUTH_TOKEN_FILE", "twilio.auth-token-file"},
    {"TWILIO_API_BASE", "twilio.api-base"},
    {"TWILIO_SMS_NUMBER", "twilio.sms-number"},
    {"TWILIO_WHATSAPP_NUMBER", "twilio.whatsapp-number"},
    {"WORKER_IDENTITY", "routing.default-worker"},
    {"Worker_Identity", "routing.default-worker"},
    {"CUSTOMER_PHONE_1", "seed.customer-phone-1"},
    {"CUSTOMER_PHONE_2", "seed.customer-phone-2"},
};

std::string EnvironmentNameOf(const std::string& option) {
  std::string names;
  for (const auto& [env, name] : kEnvironmentNames) {
    if (option == name) {
      if (!names.empty()) names += ", ";
      names += env;
    }
  }
  return names;
}

constexpr const char* kBooleanSpellings = "true/false, yes/no, on/off or 1/0";

// A boolean setting. Boost's own bool validator reads an empty value as true, which would let
// `FRONTLINE_INSECURE_SKIP_SIGNATURE=` turn signature checking off; the text is kept and read by
// ParseBoolean instead. A bare `--name` on the command line still means true.
po::typed_value<std::string>* BooleanValue() {
  return po::value<std::string>()->implicit_value("true")->value_name("BOOL");
}

// Options every source may set. The auth token value itself is deliberately absent: it must
// not appear on a command line (ps, /proc/*/cmdline), so it has its own description below.
po::options_description SettingsDescription() {
  po::options_description d("Settings (command line > environment > config file > default)", kHelpWidth, kHelpWidth / 2);
  auto env = [](const char* option, std::string text) {
    std::string names = EnvironmentNameOf(option);
    if (!names.empty()) text += " [env " + names + "]";
    return text;
  };
  // clang-format off
  d.add_options()
    ("listen", po::value<std::string>(),
     env("listen", "where to accept FastCGI connections: unix:PATH or HOST:PORT. Default: the "
         "listening socket on fd 0 (spawn-fcgi, systemd StandardInput=socket, mod_fcgid) or "
         "systemd's LISTEN_FDS").c_str())
    ("web-server-addrs", po::value<std::string>()->value_name("ADDR,..."),
     env("web-server-addrs", "comma-separated IPv4/IPv6 addresses of the web servers allowed "
         "to connect over TCP (libfcgi's variable). Default: any peer when listening on "
         "loopback or a unix socket (guarded by its file permissions); required to listen on "
         "another TCP address, unless --allow-any-peer").c_str())
    ("allow-any-peer", BooleanValue(),
     env("allow-any-peer", "accept FastCGI connections from any TCP peer even on a "
         "non-loopback address without --web-server-addrs (default false)").c_str())
    ("read-timeout", po::value<int>()->default_value(10)->value_name("SECONDS"),
     env("read-timeout", "a connection must deliver a whole request within this time once it "
         "starts, and a new connection its first request; slower peers are dropped "
         "(1..3600)").c_str())
    ("threads", po::value<int>()->default_value(8),
     env("threads", "request threads, each serving one request at a time (1..1024)").c_str())
    ("directory", po::value<std::string>()->default_value("/var/lib/frontline-fcgi/directory.db"),
     env("directory", "the customer directory: a SQLite file, shared by all processes on the "
         "host, or a PostgreSQL database shared by every host (postgresql://... or "
         "postgres://... URI, or postgresql: followed by libpq key=value pairs such as "
         "service=NAME; libpq's PG* variables and ~/.pgpass apply), which then holds the event "
         "state too").c_str())
    ("postgres.schema", po::value<std::string>()->default_value("frontline")->value_name("NAME"),
     "with a PostgreSQL directory: the schema of our tables (created and migrated by the "
     "binary; lower-case letters, digits and _)")
    ("outbox", po::value<std::string>()->value_name("PATH"),
     env("outbox", "SQLite file of the outbox (event state), shared by all processes on the "
         "host; default outbox.db in the directory file's folder. Jobs left in an older "
         "directory file move here on first start").c_str())
    ("outbox.concurrency", po::value<int>()->default_value(8)->value_name("N"),
     "outbox deliveries in flight per process, so one stalled Twilio call delays no other job "
     "(1..64)")
    ("outbox.poll-interval", po::value<int>()->default_value(500)->value_name("MS"),
     "how often the outbox dispatcher looks for jobs it was not woken for (stored by another "
     "process, or due again after a backoff), in milliseconds (10..600000)")
    ("outbox.retention", po::value<int>()->default_value(7)->value_name("DAYS"),
     "delivered outbox jobs are kept this long, so Twilio's retries of a webhook are still "
     "recognised, then purged (1..3650)")
    ("templates", po::value<std::string>(),
     env("templates", "JSON file of message templates (default: the built-in set)").c_str())
    ("public-url", po::value<std::string>(),
     env("public-url", "scheme://host[:port][/prefix] Twilio calls; the signed URL is this plus "
         "REQUEST_URI. Without it the URL is rebuilt from what nginx passes").c_str())
    ("route-prefix", po::value<std::string>(),
     env("route-prefix", "path prefix in front of /callbacks/..., e.g. /frontline").c_str())
    ("max-body", po::value<size_t>()->default_value(65536),
     env("max-body", "largest request body accepted, in bytes (413 above)").c_str())
    ("insecure-skip-signature", BooleanValue(),
     env("insecure-skip-signature", "DEVELOPMENT ONLY: accept requests without a valid "
         "X-Twilio-Signature; logs a warning on every request (default false)").c_str())
    ("crm.list-all-customers", BooleanValue(),
     env("crm.list-all-customers", "list every customer to every worker (the seed's behaviour) "
         "instead of the worker's own (default false)").c_str())
    ("crm.collation", po::value<std::string>()->value_name("LOCALE"),
     env("crm.collation", "locale whose Unicode collation orders the customer list (ICU; BCP 47 "
         "tag such as sv, de, fr-CA, de-u-co-phonebk; default root, the language-neutral "
         "order). Changing it rebuilds the directory's sort keys on the next start").c_str())
    ("twilio.account-sid", po::value<std::string>(),
     env("twilio.account-sid", "Twilio Account SID (AC...), user of the REST API").c_str())
    ("twilio.auth-token-file", po::value<std::string>(),
     env("twilio.auth-token-file", "file holding the Twilio auth token (default: "
         "$CREDENTIALS_DIRECTORY/twilio-auth-token when present; the token itself may come "
         "from env TWILIO_AUTH_TOKEN or twilio.auth-token in the config file, never the "
         "command line)").c_str())
    ("twilio.api-base", po::value<std::string>()->default_value("https://conversations.twilio.com"),
     env("twilio.api-base", "base URL of the Conversations REST API; http:// only for "
         "localhost, 127.0.0.0/8 and ::1 (a test stub), since the auth token goes with every "
         "call").c_str())
    ("twilio.sms-number", po::value<std::string>(),
     env("twilio.sms-number", "global SMS proxy number, +E.164").c_str())
    ("twilio.whatsapp-number", po::value<std::string>(),
     env("twilio.whatsapp-number", "global WhatsApp sender, with or without whatsapp:").c_str())
    ("routing.default-worker", po::value<std::string>(),
     env("routing.default-worker", "worker identity for conversations whose customer has no "
         "assigned worker").c_str())
    ("optout.stop-keywords", po::value<std::string>()->value_name("WORDS"),
     "space-separated opt-out keywords replacing the default \"STOP STOPALL UNSUBSCRIBE CANCEL "
     "END QUIT\": a customer's message that is exactly one of them (trimmed, case- and "
     "accent-insensitive) opts them out on the conversation's number (letters and digits, "
     "up to 64 bytes each)")
    ("optout.start-keywords", po::value<std::string>()->value_name("WORDS"),
     "space-separated opt-in keywords replacing the default \"START YES UNSTOP\": such a "
     "message from an opted-out customer opts them in again (none may also be an opt-out "
     "keyword)")
    ("seed.customer-phone-1", po::value<std::string>(),
     env("seed.customer-phone-1", "phone of the seed's demo Customer 1 (import --seed-demo)").c_str())
    ("seed.customer-phone-2", po::value<std::string>(),
     env("seed.customer-phone-2", "phone of the seed's demo Customer 2 (import --seed-demo)").c_str())
    ("log-format", po::value<std::string>(),
     env("log-format", "plain | json | journal (default: journal when stderr is the systemd "
         "journal, else plain)").c_str())
    ("log-file", po::value<std::string>(),
     env("log-file", "append the log to this file instead of stderr; reopened on SIGHUP").c_str());
  // clang-format on
  return d;
}

po::options_description SecretDescription() {
  po::options_description d("Secrets (environment or config file only)", kHelpWidth, kHelpWidth / 2);
  d.add_options()("twilio.auth-token", po::value<std::string>(), "Twilio auth token");
  return d;
}

po::options_description GeneralDescription() {
  po::options_description d("General", kHelpWidth, kHelpWidth / 2);
  // clang-format off
  d.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("config", po::value<std::string>(),
     "INI config file ([section] name = value, names as the long options). Default: "
     "frontline-fcgi.conf next to the binary when present [env FRONTLINE_CONFIG]")
    ("env-file", po::value<std::string>(),
     "a .env file (NAME=value lines) whose variables fill in the environment; "
     "default ./.env when present");
  // clang-format on
  return d;
}

po::options_description CommandDescription() {
  po::options_description d("Command options", kHelpWidth, kHelpWidth / 2);
  // clang-format off
  d.add_options()
    ("replace", po::bool_switch(), "import: replace the whole directory atomically instead of upserting")
    ("seed-demo", po::bool_switch(), "import: add the seed's two demo customers from "
     "CUSTOMER_PHONE_1, CUSTOMER_PHONE_2 and Worker_Identity")
    ("format", po::value<std::string>()->default_value("json"), "export: json | csv")
    ("proxy", po::value<std::string>()->value_name("ADDRESS"), "optout add|remove: only for "
     "this proxy number (+E.164 or whatsapp:+E.164) instead of every proxy");
  // clang-format on
  return d;
}

// Said once in --help: the rules that hold for every option and source.
constexpr const char* kValueRules =
    "An empty value (NAME= in the environment or .env, 'name =' in the config file, --name= on\n"
    "the command line) is unset: the next source or the default applies. A BOOL is true/false,\n"
    "yes/no, on/off or 1/0 (any case); a bare --name means true.\n";

constexpr const char* kUsage =
    "Usage: frontline-fcgi [COMMAND] [OPTIONS] [ARGS]\n"
    "\n"
    "A FastCGI responder for Twilio Frontline: run it behind nginx (or Apache mod_fcgid),\n"
    "started by spawn-fcgi, systemd socket activation or the web server itself.\n"
    "\n"
    "Commands:\n"
    "  serve           answer FastCGI requests (the default)\n"
    "  import FILE...  load customers and workers from JSON or CSV files into the directory\n"
    "  export          write the directory to stdout as JSON or CSV (import reads it back)\n"
    "  outbox [list | retry ID | deliver]  list, requeue or deliver due Twilio REST jobs (cron)\n"
    "  optout [list | add ADDRESS [--proxy P] | remove ADDRESS [--proxy P]]  show, record or\n"
    "                  remove customers' opt-outs (STOP), on every proxy or on proxy P\n"
    "  check-config    validate the configuration and print it with secrets masked\n"
    "\n"
    "Exit codes: 0 ok, 1 stop deadline passed, 64 usage error, 65 bad import data, 74 import\n"
    "I/O error (disk full), 75 outbox deliver database error, 78 configuration error.\n"
    "Signals while serving: TERM/INT stop after in-flight requests; HUP reopens --log-file.\n";

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Reads NAME=value lines: '#' comments, optional "export ", optional single or double quotes
// around the value. Lines without '=' are ignored.
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw StartupError(kExitConfig, "cannot read env file " + path + ": " + std::strerror(errno));
  std::map<std::string, std::string> vars;
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string name = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else {
      size_t hash = value.find(" #");
      if (hash != std::string::npos) value = Trim(value.substr(0, hash));
    }
    vars.emplace(name, value);
  }
  return vars;
}

std::string ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw StartupError(kExitConfig, "--twilio.auth-token-file: cannot read " + path + ": " +
                                        std::strerror(errno));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = Trim(buffer.str());
  if (token.empty()) throw StartupError(kExitConfig, "--twilio.auth-token-file: " + path + " is empty");
  return token;
}

bool FileExists(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

std::string DirectoryOfExecutable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

po::parsed_options EnvironmentOptions(const po::options_description& desc,
                                      const std::map<std::string, std::string>& environment) {
  po::parsed_options parsed(&desc);
  auto is_set = [&environment](const char* env) {
    auto it = environment.find(env);
    return it != environment.end() && !it->second.empty();
  };
  for (const auto& [env, name] : kEnvironmentNames) {
    if (!is_set(env)) continue;  // NAME= is unset, like a missing NAME
    if (std::string(env) == "Worker_Identity" && is_set("WORKER_IDENTITY")) continue;
    auto it = environment.find(env);
    po::option option;
    option.string_key = name;
    option.value.push_back(it->second);
    option.original_tokens = {env, it->second};
    parsed.options.push_back(option);
  }
  return parsed;
}

// `parsed` without the options whose value is the empty string (SPEC §9: an empty value is
// unset, in every source). A bare flag has no value at all and is kept; positional arguments
// are not options and are kept too.
po::parsed_options WithoutEmptyValues(po::parsed_options parsed) {
  auto& list = parsed.options;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [](const po::option& o) {
                              return o.position_key < 0 && o.value.size() == 1 &&
                                     o.value[0].empty();
                            }),
             list.end());
  return parsed;
}

// argv without its `--name=` tokens, which Boost would refuse ("should follow immediately after
// the equal sign") but which mean "unset" like every other empty value. The name must still be
// an option of `cli`: a misspelt one stays a usage error. Tokens after "--" are kept.
std::vector<std::string> WithoutEmptyAssignments(int argc, const char* const argv[],
                                                 const po::options_description& cli) {
  std::vector<std::string> kept;
  bool options_ended = false;
  for (int i = 0; i < argc; ++i) {
    std::string token = argv[i];
    if (i > 0 && !options_ended) {
      if (token == "--") options_ended = true;
      if (token.size() > 3 && token.compare(0, 2, "--") == 0 &&
          token.find('=') == token.size() - 1) {
        std::string name = token.substr(2, token.size() - 3);
        if (cli.find_nothrow(name, false) == nullptr) {
          throw StartupError(kExitUsage, "unrecognised option '--" + name + "' (try --help)");
        }
        continue;
      }
    }
    kept.push_back(std::move(token));
  }
  return kept;
}

po::parsed_options ParseCommandLine(const std::vector<std::string>& args,
                                    const po::options_description& cli,
                                    const po::positional_options_description& positional) {
  std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  return WithoutEmptyValues(
      po::command_line_parser(rest).options(cli).positional(positional).style(kCliStyle).run());
}

// true/false, yes/no, on/off, 1/0 in any case; nullopt for anything else (including " ").
std::optional<bool> ParseBoolean(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
  if (text == "false" || text == "no" || text == "off" || text == "0") return false;
  return std::nullopt;
}

// The separately parsed sources, to say where a bad value came from.
struct Sources {
  const po::variables_map& cli;
  const po::variables_map& env;
  const po::variables_map& file;
  const std::map<std::string, std::string>& environment;  // with the .env file's additions
  const std::set<std::string>& from_env_file;             // the variables the .env file set
  const std::string& env_file;
  const std::string& config_file;

  // "command line", "environment NAME", ".env file PATH (NAME)" or "config file PATH".
  std::string Of(const std::string& option) const {
    auto given = [&option](const po::variables_map& vm) {
      auto it = vm.find(option);
      return it != vm.end() && !it->second.defaulted();
    };
    if (given(cli)) return "command line";
    if (given(env)) {
      // The first variable set is the one used (kEnvironmentNames is in order of preference).
      for (const auto& [variable, name] : kEnvironmentNames) {
        auto it = environment.find(variable);
        if (option != name || it == environment.end() || it->second.empty()) continue;
        if (from_env_file.count(variable)) {
          return ".env file " + env_file + " (" + variable + ")";
        }
        return std::string("environment ") + variable;
      }
      return "environment";
    }
    if (given(file)) return "config file " + config_file;
    return "default";
  }
};

template <typename T>
T Get(const po::variables_map& vm, const char* name, T fallback = T()) {
  auto it = vm.find(name);
  return it == vm.end() || it->second.empty() ? fallback : it->second.as<T>();
}

bool GetBool(const po::variables_map& vm, const char* name, const Sources& sources) {
  std::string text = Get<std::string>(vm, name);
  if (text.empty()) return false;
  std::optional<bool> value = ParseBoolean(text);
  if (!value) {
    throw StartupError(kExitConfig, std::string("--") + name + ": '" + text + "' (from " +
                                        sources.Of(name) + ") is not a boolean; use " +
                                        kBooleanSpellings);
  }
  return *value;
}

// Checks scheme://[userinfo@]host[:port][/path]; error lines show the URL redacted, since its
// userinfo is a password. Returns the scheme.
std::string CheckUrl(const std::string& option, const std::string& url, bool allow_path,
                     bool allow_userinfo) {
  std::string shown = "'" + RedactUrl(url) + "'";
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    throw StartupError(kExitConfig,
                       "--" + option + ": " + shown + " must start with https:// or http://");
  }
  std::string rest = url.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  if (rest.find_first_of("?#") != std::string::npos) {
    throw StartupError(kExitConfig, "--" + option + ": " + shown + " must not contain ? or #");
  }
  if (UrlHost(url).empty()) {
    throw StartupError(kExitConfig, "--" + option + ": " + shown + " has no host");
  }
  if (!allow_userinfo && rest.substr(0, slash).find('@') != std::string::npos) {
    throw StartupError(kExitConfig, "--" + option + ": " + shown +
                                        " must not contain user:password@ (the credentials are "
                                        "twilio.account-sid and the auth token)");
  }
  if (!allow_path && slash != std::string::npos && slash + 1 < rest.size()) {
    throw StartupError(kExitConfig, "--" + option + ": " + shown + " must not contain a path");
  }
  return scheme;
}

// The REST base gets the auth token with every call (HTTP Basic): over http:// it would cross
// the network in clear, so plain http is only for a stub on this machine.
void CheckApiBase(const std::string& url) {
  std::string scheme = CheckUrl("twilio.api-base", url, false, false);
  if (scheme == "http" && !IsLoopbackHost(UrlHost(url))) {
    throw StartupError(kExitConfig,
                       "--twilio.api-base: '" + RedactUrl(url) +
                           "' would send the auth token in clear; use https:// (http:// is "
                           "accepted only for localhost, 127.0.0.0/8 and ::1)");
  }
}

void CheckListen(const std::string& listen) {
  if (listen.empty()) return;
  if (listen.rfind("unix:", 0) == 0) {
    if (listen.size() == 5) throw StartupError(kExitConfig, "--listen: unix: needs a socket path");
    return;
  }
  size_t colon = listen.rfind(':');
  std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  char* end = nullptr;
  long number = std::strtol(port.c_str(), &end, 10);
  if (host.empty() || port.empty() || *end != '\0' || number < 1 || number > 65535) {
    throw StartupError(kExitConfig, "--listen: '" + listen +
                                        "' must be unix:PATH or HOST:PORT (e.g. 127.0.0.1:9000)");
  }
}

LogFormat ParseLogFormat(const std::string& value) {
  if (value == "plain") return LogFormat::kPlain;
  if (value == "json") return LogFormat::kJson;
  if (value == "journal") return LogFormat::kJournal;
  throw StartupError(kExitConfig, "--log-format: '" + value + "' must be plain, json or journal");
}

Command ParseCommand(const std::string& word) {
  if (word == "serve") return Command::kServe;
  if (word == "import") return Command::kImport;
  if (word == "export") return Command::kExport;
  if (word == "outbox") return Command::kOutbox;
  if (word == "optout") return Command::kOptOut;
  if (word == "check-config") return Command::kCheckConfig;
  throw StartupError(kExitUsage, "unknown command '" + word + "' (try --help)");
}

}  // namespace

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

Options ParseOptions(int argc, const char* const argv[], std::map<std::string, std::string> environment) {
  po::options_description general = GeneralDescription();
  po::options_description settings = SettingsDescription();
  po::options_description secrets = SecretDescription();
  po::options_description command = CommandDescription();
  po::options_description positional_names;
  positional_names.add_options()("command", po::value<std::string>())(
      "arguments", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("command", 1).add("arguments", -1);

  po::options_description cli;
  cli.add(general).add(settings).add(command).add(positional_names);
  po::options_description all;
  all.add(general).add(settings).add(secrets).add(command).add(positional_names);
  po::options_description file_options;
  file_options.add(settings).add(secrets);

  Options options;
  // Each source is parsed once, without its empty values, and stored twice: alone (to know
  // where a value came from) and into `vm`, where store() keeps the first value it sees.
  po::variables_map from_cli, from_env, from_file, vm;
  std::optional<po::parsed_options> cli_parsed, env_parsed, file_parsed;
  try {
    cli_parsed = ParseCommandLine(WithoutEmptyAssignments(argc, argv, cli), cli, positional);
    po::store(*cli_parsed, from_cli);
  } catch (const po::error& e) {
    throw StartupError(kExitUsage, std::string(e.what()) + " (try --help)");
  }
  if (from_cli.count("help")) {
    std::ostringstream help;
    po::options_description shown(kHelpWidth, kHelpWidth / 2);
    shown.add(general).add(settings).add(command);
    help << kUsage << "\n" << kValueRules << shown;
    options.command = Command::kHelp;
    options.help_text = help.str();
    return options;
  }
  if (from_cli.count("version")) {
    options.command = Command::kVersion;
    return options;
  }
  if (from_cli.count("command")) options.command = ParseCommand(from_cli["command"].as<std::string>());
  if (from_cli.count("arguments")) {
    options.arguments = from_cli["arguments"].as<std::vector<std::string>>();
  }

  // .env fills in what the real environment lacks; an empty variable is lacking too.
  std::string env_file = Get<std::string>(from_cli, "env-file");
  if (env_file.empty() && FileExists(kDefaultEnvFile)) env_file = kDefaultEnvFile;
  std::set<std::string> from_env_file;
  if (!env_file.empty()) {
    for (auto& [name, value] : ReadEnvFile(env_file)) {
      std::string& slot = environment[name];
      if (!slot.empty() || value.empty()) continue;
      slot = value;
      from_env_file.insert(name);
    }
    options.env_file = env_file;
  }
  try {
    env_parsed = EnvironmentOptions(all, environment);
    po::store(*env_parsed, from_env);
  } catch (const po::error& e) {
    throw StartupError(kExitConfig, std::string("environment: ") + e.what());
  }

  std::string config = Get<std::string>(from_cli, "config");
  if (config.empty()) config = Get<std::string>(from_env, "config");
  if (config.empty()) {
    std::string beside = DirectoryOfExecutable() + "/" + kConfigNextToBinary;
    if (FileExists(beside)) config = beside;
  }
  if (!config.empty()) {
    std::ifstream in(config);
    if (!in) {
      throw StartupError(kExitConfig, "--config: cannot read " + config + ": " + std::strerror(errno));
    }
    try {
      file_parsed = WithoutEmptyValues(po::parse_config_file(in, file_options, false));
      po::store(*file_parsed, from_file);
    } catch (const po::error& e) {
      throw StartupError(kExitConfig, "config file " + config + ": " + e.what());
    }
    options.config_file = config;
  }

  // Precedence: store() keeps the first non-default value it sees.
  try {
    po::store(*cli_parsed, vm);
    po::store(*env_parsed, vm);
    if (file_parsed) po::store(*file_parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw StartupError(kExitConfig, e.what());
  }

  options.listen = Get<std::string>(vm, "listen");
  options.threads = Get<int>(vm, "threads", 8);
  options.directory = Get<std::string>(vm, "directory");
  options.outbox = Get<std::string>(vm, "outbox");
  options.outbox_concurrency = Get<int>(vm, "outbox.concurrency", 8);
  options.outbox_retention_days = Get<int>(vm, "outbox.retention", 7);
  options.outbox_poll_interval_ms = Get<int>(vm, "outbox.poll-interval", 500);
  options.templates = Get<std::string>(vm, "templates");
  options.collation = Get<std::string>(vm, "crm.collation");
  options.postgres_schema = Get<std::string>(vm, "postgres.schema");
  options.public_url = Get<std::string>(vm, "public-url");
  options.route_prefix = Get<std::string>(vm, "route-prefix");
  options.web_server_addrs = Get<std::string>(vm, "web-server-addrs");
  options.max_body = Get<size_t>(vm, "max-body", 65536);
  const Sources origin{
      from_cli,      from_env,         from_file,           environment,
      from_env_file, options.env_file, options.config_file,
  };
  options.skip_signature = GetBool(vm, "insecure-skip-signature", origin);
  options.list_all_customers = GetBool(vm, "crm.list-all-customers", origin);
  options.allow_any_peer = GetBool(vm, "allow-any-peer", origin);
  options.read_timeout_seconds = Get<int>(vm, "read-timeout", 10);
  options.account_sid = Get<std::string>(vm, "twilio.account-sid");
  options.api_base = Get<std::string>(vm, "twilio.api-base");
  options.sms_number = Get<std::string>(vm, "twilio.sms-number");
  options.whatsapp_number = Get<std::string>(vm, "twilio.whatsapp-number");
  options.default_worker = Get<std::string>(vm, "routing.default-worker");
  options.customer_phone_1 = Get<std::string>(vm, "seed.customer-phone-1");
  options.customer_phone_2 = Get<std::string>(vm, "seed.customer-phone-2");
  options.log_file = Get<std::string>(vm, "log-file");
  options.replace = Get<bool>(vm, "replace");
  options.seed_demo = Get<bool>(vm, "seed-demo");
  options.export_format = Get<std::string>(vm, "format", "json");
  options.proxy = Get<std::string>(vm, "proxy");
  options.optout_stop_keywords = Get<std::string>(vm, "optout.stop-keywords");
  options.optout_start_keywords = Get<std::string>(vm, "optout.start-keywords");

  std::string log_format = Get<std::string>(vm, "log-format");
  if (!log_format.empty()) {
    options.log_format = ParseLogFormat(log_format);
  } else {
    options.log_format = StderrIsJournal() ? LogFormat::kJournal : LogFormat::kPlain;
  }

  // The auth token: the first source (command line, environment, config file) that names a
  // token file or a token wins; then systemd's credential directory.
  const po::variables_map* sources[] = {&from_cli, &from_env, &from_file};
  const char* source_names[] = {"command line", "environment", "config file"};
  for (int i = 0; i < 3 && options.auth_token.empty(); ++i) {
    std::string file = Get<std::string>(*sources[i], "twilio.auth-token-file");
    std::string token = Get<std::string>(*sources[i], "twilio.auth-token");
    if (!file.empty()) {
      options.auth_token = ReadSecretFile(file);
      options.auth_token_source = "file " + file;
    } else if (!token.empty()) {
      options.auth_token = token;
      options.auth_token_source = i == 1 ? "environment TWILIO_AUTH_TOKEN" : source_names[i];
    }
  }
  if (options.auth_token.empty()) {
    auto creds = environment.find("CREDENTIALS_DIRECTORY");
    if (creds != environment.end() && !creds->second.empty()) {
      std::string file = creds->second + "/" + kCredentialName;
      if (FileExists(file)) {
        options.auth_token = ReadSecretFile(file);
        options.auth_token_source = "credential " + file;
      }
    }
  }

  if (options.threads < 1 || options.threads > 1024) {
    throw StartupError(kExitConfig, "--threads: must be between 1 and 1024");
  }
  {
    std::string error;
    std::unique_ptr<Collation> collation = Collation::Create(options.collation, &error);
    if (collation == nullptr) throw StartupError(kExitConfig, "--crm.collation: " + error);
    options.collation = collation->name();
  }
  if (options.read_timeout_seconds < 1 || options.read_timeout_seconds > 3600) {
    throw StartupError(kExitConfig, "--read-timeout: must be between 1 and 3600 seconds");
  }
  if (options.max_body < 1 || options.max_body > 16 * 1024 * 1024) {
    throw StartupError(kExitConfig, "--max-body: must be between 1 and 16777216 bytes");
  }
  CheckListen(options.listen);
  std::string peers_error;
  if (!PeerAllowList::Parse(options.web_server_addrs, &peers_error)) {
    throw StartupError(kExitConfig, "--web-server-addrs: " + peers_error);
  }
  // Twilio signs a public URL's userinfo like the rest of it (protocol §10.4 V10..V15).
  if (!options.public_url.empty()) CheckUrl("public-url", options.public_url, true, true);
  CheckApiBase(options.api_base);
  if (!options.route_prefix.empty() && options.route_prefix.front() != '/') {
    throw StartupError(kExitConfig, "--route-prefix: must start with '/'");
  }
  if (options.directory.empty()) throw StartupError(kExitConfig, "--directory: must not be empty");
  if (options.postgres_schema.empty() || options.postgres_schema.size() > 63 ||
      options.postgres_schema.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") !=
          std::string::npos ||
      (options.postgres_schema[0] >= '0' && options.postgres_schema[0] <= '9')) {
    throw StartupError(kExitConfig,
                       "--postgres.schema: must be 1-63 lower-case letters, digits and _, not "
                       "starting with a digit");
  }
  if (pg::IsConnectionString(options.directory)) {
    // One database for everything: the event state lives beside the directory's tables.
    if (!options.outbox.empty()) {
      throw StartupError(kExitConfig,
                         "--outbox: SQLite only; with a PostgreSQL directory the outbox is in the "
                         "same database");
    }
  } else if (options.outbox.empty()) {
    options.outbox = DefaultOutboxPath(options.directory);
  }
  if (options.outbox == options.directory) {
    throw StartupError(kExitConfig, "--outbox: must be another file than --directory");
  }
  if (options.outbox_concurrency < 1 || options.outbox_concurrency > 64) {
    throw StartupError(kExitConfig, "--outbox.concurrency: must be between 1 and 64");
  }
  if (options.outbox_poll_interval_ms < 10 || options.outbox_poll_interval_ms > 600000) {
    throw StartupError(kExitConfig, "--outbox.poll-interval: must be between 10 and 600000 ms");
  }
  if (options.outbox_retention_days < 1 || options.outbox_retention_days > 3650) {
    throw StartupError(kExitConfig, "--outbox.retention: must be between 1 and 3650 days");
  }
  {
    std::string error;
    std::optional<OptOutKeywords> keywords = OptOutKeywords::Parse(
        options.optout_stop_keywords, options.optout_start_keywords, &error);
    if (!keywords) throw StartupError(kExitConfig, error);
    options.optout_keywords = std::move(*keywords);
  }
  if (options.export_format != "json" && options.export_format != "csv") {
    throw StartupError(kExitUsage, "--format: must be json or csv");
  }
  return options;
}

std::string DefaultOutboxPath(const std::string& directory) {
  const size_t slash = directory.find_last_of('/');
  if (slash == std::string::npos) return "outbox.db";
  return directory.substr(0, slash + 1) + "outbox.db";
}

std::string DescribeOptions(const Options& o) {
  auto line = [](const char* name, const std::string& value) {
    return std::string(name) + " = " + (value.empty() ? "(unset)" : value) + "\n";
  };
  const char* formats[] = {"plain", "json", "journal"};
  std::string out;
  out += line("config", o.config_file);
  out += line("env-file", o.env_file);
  out += line("listen", o.listen.empty() ? "fd 0 / LISTEN_FDS" : o.listen);
  out += line("web-server-addrs", o.web_server_addrs.empty()
                                      ? "(unset: any peer on loopback or a unix socket)"
                                      : o.web_server_addrs);
  out += line("allow-any-peer", o.allow_any_peer ? "true" : "false");
  out += line("read-timeout", std::to_string(o.read_timeout_seconds));
  out += line("threads", std::to_string(o.threads));
  if (pg::IsConnectionString(o.directory)) {
    out += line("directory", pg::MaskPassword(o.directory));
    out += line("postgres.schema", o.postgres_schema);
    out += line("outbox", "(in the PostgreSQL database)");
  } else {
    out += line("directory", o.directory);
    out += line("outbox", o.outbox);
  }
  out += line("outbox.concurrency", std::to_string(o.outbox_concurrency));
  out += line("outbox.retention", std::to_string(o.outbox_retention_days) + " days");
  out += line("outbox.poll-interval", std::to_string(o.outbox_poll_interval_ms) + " ms");
  out += line("templates", o.templates.empty() ? "built-in" : o.templates);
  // URLs may carry a password (userinfo) or a query secret: shown with those hidden.
  out += line("public-url", RedactUrl(o.public_url));
  out += line("route-prefix", o.route_prefix);
  out += line("max-body", std::to_string(o.max_body));
  out += line("insecure-skip-signature", o.skip_signature ? "true" : "false");
  out += line("crm.list-all-customers", o.list_all_customers ? "true" : "false");
  out += line("crm.collation", o.collation);
  out += line("log-format", formats[static_cast<int>(o.log_format)]);
  out += line("log-file", o.log_file.empty() ? "stderr" : o.log_file);
  out += line("twilio.account-sid", o.account_sid);
  out += line("twilio.auth-token",
              o.auth_token.empty() ? "" : "******** (from " + o.auth_token_source + ")");
  out += line("twilio.api-base", RedactUrl(o.api_base));
  out += line("twilio.sms-number", o.sms_number);
  out += line("twilio.whatsapp-number", o.whatsapp_number);
  out += line("routing.default-worker", o.default_worker);
  auto words = [](const std::vector<std::string>& list) {
    std::string text;
    for (const std::string& w : list) text += (text.empty() ? "" : " ") + w;
    return text;
  };
  out += line("optout.stop-keywords", words(o.optout_keywords.stop()));
  out += line("optout.start-keywords", words(o.optout_keywords.start()));
  return out;
}

}  // namespace frontline
