// frontline-fcgi: parse the configuration, then run one command (serve by default).
#include <fcgiapp.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "directory/address.h"
#include "directory/database_files.h"
#include "directory/export.h"
#include "directory/import.h"
#include "fcgi/progress.h"
#include "db/postgres.h"
#include "db/sqlite.h"
#include "directory/pg_directory.h"
#include "directory/pg_schema.h"
#include "directory/sqlite_directory.h"
#include "fcgi/connections.h"
#include "fcgi/log.h"
#include "fcgi/options.h"
#include "fcgi/server.h"
#include "fcgi/signals.h"
#include "handlers/metrics.h"
#include "handlers/services.h"
#include "handlers/templates.h"
#include "events/pg_event_store.h"
#include "events/sqlite_event_store.h"
#include "twilio/dispatcher.h"
#include "twilio/rest_client.h"

namespace frontline {
namespace {

// How long a stop waits for in-flight requests: below systemd's and mod_fcgid's kill timers.
constexpr std::chrono::seconds kStopDeadline{15};

CurlRestClientConfig MakeRestClientConfig(const Options& options) {
  CurlRestClientConfig config;
  config.api_base = options.api_base;
  config.account_sid = options.account_sid;
  config.auth_token = options.auth_token;
  return config;
}

HandlerConfig MakeHandlerConfig(const Options& options) {
  HandlerConfig config;
  config.route_prefix = options.route_prefix;
  config.public_url = options.public_url;
  config.auth_token = options.auth_token;
  config.skip_signature = options.skip_signature;
  config.max_body = options.max_body;
  config.sms_number = options.sms_number;
  config.whatsapp_number = options.whatsapp_number;
  config.default_worker = options.default_worker;
  config.list_all_customers = options.list_all_customers;
  config.delivers_outbox = !options.account_sid.empty() && !options.auth_token.empty();
  config.optout_keywords = options.optout_keywords;
  return config;
}

// The --templates file, or the built-in set. A bad file is a configuration error that names
// the file and the position.
Templates LoadTemplates(const Options& options) {
  if (options.templates.empty()) return Templates::BuiltIn();
  std::string error;
  std::optional<Templates> loaded = Templates::LoadFile(options.templates, &error);
  if (!loaded) throw StartupError(kExitConfig, "--templates: " + error);
  return std::move(*loaded);
}

// FastCGI has no authentication: a socket other hosts can reach needs an allow list.
void RequirePeerPolicy(const Options& options, const ListenSocket& socket,
                       const PeerAllowList& allowed) {
  std::string address;
  if (allowed.empty() && !options.allow_any_peer && ListensBeyondLoopback(socket.fd, &address)) {
    throw StartupError(kExitConfig,
                       "the FastCGI socket listens on " + address +
                           ", which other hosts can reach, and FastCGI has no authentication: "
                           "set --web-server-addrs (FCGI_WEB_SERVER_ADDRS) to the web server's "
                           "address, listen on loopback or a unix socket, or pass --allow-any-peer");
  }
}

// Serving without a way to check signatures would accept forged requests: refuse to start.
void RequireAuthToken(const Options& options) {
  if (options.auth_token.empty() && !options.skip_signature) {
    throw StartupError(kExitConfig,
                       "no Twilio auth token: set TWILIO_AUTH_TOKEN, --twilio.auth-token-file or "
                       "$CREDENTIALS_DIRECTORY/twilio-auth-token (--insecure-skip-signature "
                       "only for local development)");
  }
}

// serve, export and outbox work on a directory that exists: SQLite would silently create an
// empty one at a mistyped path. Only import creates it.
// serve, export and outbox refuse a SQLite directory file that does not exist (SPEC §8); a
// PostgreSQL directory has no file (its schema is created by serve or import).
void RequireDirectoryFile(const Options& options) {
  if (pg::IsConnectionString(options.directory)) return;
  std::string error;
  if (!DatabaseFileExists(options.directory, &error)) {
    throw StartupError(kExitConfig,
                       "--directory: " + error + " (`frontline-fcgi import` creates a directory)");
  }
}

// The event store options from the command line.
OutboxOptions MakeOutboxOptions(const Options& options) {
  OutboxOptions outbox_options;
  outbox_options.legacy_directory = options.directory;
  outbox_options.retention_ms = int64_t{options.outbox_retention_days} * 24 * 3600 * 1000;
  return outbox_options;
}

// The event store in its own file (--outbox), taking over the jobs of an older directory file.
std::unique_ptr<SqliteEventStore> OpenEventStore(const Options& options) {
  std::string error;
  std::unique_ptr<SqliteEventStore> store =
      SqliteEventStore::Open(options.outbox, MakeOutboxOptions(options), &error);
  if (!store) throw StartupError(kExitConfig, "--outbox: " + error);
  return store;
}

// How the serving stores reach a PostgreSQL --directory.
pg::ConnectOptions PostgresConnectOptions(const Options& options) {
  pg::ConnectOptions connect;
  connect.conninfo = pg::LibpqConnInfo(options.directory);
  connect.schema = options.postgres_schema;
  return connect;
}

// The two stores serve uses, for the backend --directory names (chosen here, once).
struct Stores {
  std::unique_ptr<Directory> directory;
  std::unique_ptr<EventStore> events;
};

Stores OpenStores(const Options& options, Log& log) {
  Stores stores;
  std::string error;
  KeysReport keys;
  if (pg::IsConnectionString(options.directory)) {
    const pg::ConnectOptions connect = PostgresConnectOptions(options);
    stores.directory = PgDirectory::Open(connect, options.collation, &keys, &error);
    if (!stores.directory) throw StartupError(kExitConfig, "--directory: " + error);
    stores.events = PgEventStore::Open(connect, MakeOutboxOptions(options), &error);
    if (!stores.events) throw StartupError(kExitConfig, "--directory: " + error);
  } else {
    stores.directory = SqliteDirectory::Open(options.directory, options.collation, &keys, &error);
    if (!stores.directory) throw StartupError(kExitConfig, "--directory: " + error);
    stores.events = OpenEventStore(options);
  }
  if (keys.rebuilt) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", keys.seconds);
    log.Info("directory sort and search keys rebuilt",
             {{"customers", std::to_string(keys.customers)},
              {"keys", keys.version},
              {"previous", keys.previous.empty() ? "none" : keys.previous},
              {"seconds", seconds}});
  }
  return stores;
}

// A database folder others can read exposes customer data and jobs: warn, do not refuse
// (a shared host may have no choice).
void WarnAboutOpenFolders(const Options& options, Log& log) {
  if (pg::IsConnectionString(options.directory)) return;  // no files of ours
  for (const std::string* path : {&options.directory, &options.outbox}) {
    std::string folder;
    if (db::FolderReadableByOthers(*path, &folder)) {
      log.Warning("the database folder is readable by its group or by everyone: make it 0700",
                  {{"folder", folder}});
    }
  }
}

int Serve(const Options& options) {
  // Started by hand without a socket is the most common first mistake: say how to run it
  // before complaining about configuration. --listen creates its socket only once the rest is
  // known to be valid.
  std::string error;
  bool no_socket = false;
  ListenSocket socket;
  if (options.listen.empty()) {
    socket = FindListenSocket(options.listen, &error, &no_socket);
    if (socket.fd < 0) throw StartupError(no_socket ? kExitUsage : kExitConfig, error);
  }
  RequireAuthToken(options);
  RequireDirectoryFile(options);
  // Validated by ParseOptions.
  std::optional<PeerAllowList> allowed_peers = PeerAllowList::Parse(options.web_server_addrs, &error);
  if (socket.fd >= 0) RequirePeerPolicy(options, socket, *allowed_peers);
  Log log(options.log_format);
  if (!options.log_file.empty() && !log.Open(options.log_file, &error)) {
    throw StartupError(kExitConfig, error);
  }
  if (!options.listen.empty()) {
    socket = FindListenSocket(options.listen, &error, &no_socket);
    if (socket.fd < 0) throw StartupError(kExitConfig, error);
    RequirePeerPolicy(options, socket, *allowed_peers);
  }

  WarnAboutOpenFolders(options, log);
  HandlerConfig config = MakeHandlerConfig(options);
  Templates templates = LoadTemplates(options);
  Stores stores = OpenStores(options, log);
  Directory* directory = stores.directory.get();
  EventStore* outbox = stores.events.get();
  Clock clock;
  Metrics metrics;
  Services services{config, directory, &templates, &metrics, clock, outbox, outbox};

  // Jobs are always stored; they are delivered only by processes that can authenticate.
  InitRestClientGlobal();
  CurlRestClientConfig rest_config = MakeRestClientConfig(options);
  rest_config.on_call = [&metrics](RestCallOutcome outcome) { metrics.RecordRestCall(outcome); };
  CurlRestClient rest_client(std::move(rest_config));
  DispatcherOptions dispatch_options;
  dispatch_options.concurrency = options.outbox_concurrency;
  dispatch_options.poll_interval_ms = options.outbox_poll_interval_ms;
  dispatch_options.on_delivery = [&log, &metrics](const OutboxRow& row, const Delivery& delivery) {
    metrics.RecordDelivery(delivery.outcome);
    LogFields fields = {{"job", std::to_string(row.id)},
                        {"key", row.key},
                        {"outcome", OutcomeName(delivery.outcome)},
                        {"detail", delivery.description}};
    if (delivery.outcome == Outcome::kDone) {
      log.Info("outbox delivery", fields);
    } else {
      log.Warning("outbox delivery", fields);
    }
  };
  dispatch_options.on_error = [&log](const std::string& message) {
    log.Error("outbox", {{"detail", message}});
  };
  OutboxDispatcher dispatcher(outbox, &rest_client, dispatch_options);
  bool deliver = !options.account_sid.empty() && !options.auth_token.empty();
  if (deliver) {
    dispatcher.Start();
  } else {
    log.Warning("twilio.account-sid or the auth token is not set: routing and participant jobs "
                "are stored in the outbox but not delivered by this process");
  }

  if (FCGX_Init() != 0) throw StartupError(kExitConfig, "libfcgi initialisation failed");
  TakeOverSignals();

  ConnectionTimeouts timeouts;
  timeouts.read = std::chrono::seconds(options.read_timeout_seconds);
  ConnectionSet connections(
      socket.fd, std::move(*allowed_peers), timeouts,
      [&log](ConnectionNotice notice, const std::string& peer, const std::string& detail) {
        switch (notice) {
          case ConnectionNotice::kRefused:
            log.Warning("connection refused: peer not in web-server-addrs", {{"peer", peer}});
            break;
          case ConnectionNotice::kNoRequest:
            log.Warning("connection closed: no request within the read timeout", {{"peer", peer}});
            break;
          case ConnectionNotice::kReadTimeout:
            log.Warning("connection cut off: request not received whole within the read timeout",
                        {{"peer", peer}});
            break;
          case ConnectionNotice::kAcceptError:
            log.Error("accept failed", {{"detail", detail}});
            break;
        }
      });
  Server server(connections, options.threads, services, log, metrics);
  server.Start();
  log.Info("serving", {{"version", FRONTLINE_VERSION},
                       {"pid", std::to_string(getpid())},
                       {"socket", socket.description},
                       {"threads", std::to_string(options.threads)},
                       {"outbox", pg::IsConnectionString(options.directory)
                                      ? "postgresql schema " + options.postgres_schema
                                      : options.outbox},
                       {"outbox_concurrency", std::to_string(options.outbox_concurrency)}});
  if (!options.web_server_addrs.empty()) {
    log.Info("TCP peers limited", {{"allowed", options.web_server_addrs}});
  }
  if (options.skip_signature) {
    log.Warning("X-Twilio-Signature checking is DISABLED (--insecure-skip-signature); "
                "anyone who can reach this service can impersonate Twilio");
  } else if (options.public_url.empty()) {
    log.Warning("public-url is not set: the signed URL is rebuilt from what the web server "
                "passes, which fails behind TLS-terminating proxies; set --public-url");
  }

  // Signals that came during start-up have waited, blocked, and are taken here.
  for (;;) {
    int sig = WaitForServeSignal(std::chrono::hours(1));
    if (sig == 0) continue;
    if (sig == SIGHUP) {
      log.Reopen();
      log.Info("log reopened");
      continue;
    }
    log.Info("stopping", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
    break;
  }
  server.Stop();
  // Draining: still answer SIGHUP; a second stop signal changes nothing.
  auto deadline = std::chrono::steady_clock::now() + kStopDeadline;
  bool finished = false;
  while (!(finished = server.Wait(std::chrono::milliseconds(50)))) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    int sig = WaitForServeSignal(std::chrono::milliseconds(50));
    if (sig == SIGHUP) {
      log.Reopen();
      log.Info("log reopened");
    } else if (sig != 0) {
      log.Info("already stopping: waiting for requests in flight");
    }
  }
  if (!finished) {
    for (const std::string& request : server.Abandoned()) {
      log.Error("abandoned at the stop deadline", {{"request", request}});
    }
    log.Error("requests still running at the stop deadline; exiting without them",
              {{"deadline_s", std::to_string(kStopDeadline.count())}});
    std::_Exit(kExitStopDeadline);
  }
  // The delivery in flight is finished and recorded; unclaimed jobs wait for the next start.
  if (deliver) dispatcher.Stop();
  log.Info("stopped");
  return kExitOk;
}

// import FILE... [--replace] [--seed-demo]: one transaction for everything named.
int Import(const Options& options) {
  if (options.arguments.empty() && !options.seed_demo) {
    throw StartupError(kExitUsage, "import: name at least one JSON or CSV file, or --seed-demo");
  }
  ImportOptions import_options;
  import_options.replace = options.replace;
  import_options.collation = options.collation;
  import_options.postgres_schema = options.postgres_schema;
  ProgressBar bar(stderr);
  const bool draw = isatty(STDERR_FILENO) != 0;
  if (draw) import_options.progress = bar.Callback();
  ImportStats stats;
  std::string error;
  if (!pg::IsConnectionString(options.directory) &&
      !EnsureDatabaseFolder(options.directory, &error)) {
    throw StartupError(kExitConfig, "import: " + error);
  }
  bool ok;
  if (options.seed_demo) {
    if (!options.arguments.empty()) {
      throw StartupError(kExitUsage, "import: --seed-demo takes no files");
    }
    if (options.customer_phone_1.empty() || options.customer_phone_2.empty() ||
        options.default_worker.empty()) {
      throw StartupError(kExitConfig,
                         "import --seed-demo: set CUSTOMER_PHONE_1, CUSTOMER_PHONE_2 and "
                         "Worker_Identity (environment or .env)");
    }
    ok = ImportRecords(options.directory,
                       SeedDemoCustomers(options.customer_phone_1, options.customer_phone_2,
                                         options.default_worker),
                       {}, import_options, &stats, &error);
  } else {
    ok = ImportFiles(options.directory, options.arguments, import_options, &stats, &error);
  }
  if (draw) {
    if (ok) {
      bar.Finish(stats.customers);
    } else {
      bar.Abort();
    }
  }
  if (!ok) {
    std::cerr << "frontline-fcgi: import failed, directory unchanged: " << error << "\n";
    // The disk or the database failed: the input may be fine.
    return stats.database_failed ? kExitIoError : kExitDataError;
  }
  std::cerr << "imported " << stats.customers << " customers and " << stats.workers
            << " workers into "
            << (pg::IsConnectionString(options.directory) ? pg::MaskPassword(options.directory)
                                                          : options.directory)
            << (options.replace ? " (replaced)" : "")
            << "\n";
  return kExitOk;
}

int Export(const Options& options) {
  if (!options.arguments.empty()) throw StartupError(kExitUsage, "export takes no arguments");
  RequireDirectoryFile(options);
  std::string error;
  ExportFormat format = options.export_format == "csv" ? ExportFormat::kCsv : ExportFormat::kJson;
  if (!ExportDirectory(options.directory, options.postgres_schema, format, std::cout, &error)) {
    std::cout.flush();
    throw StartupError(kExitConfig, "export: " + error);
  }
  std::cout.flush();
  return kExitOk;
}

// outbox deliver: delivers the jobs due now, once each, then exits. For cron where responders
// do not stay up (mod_fcgid reaps idle processes, so a job in backoff would otherwise wait for
// the next webhook). Leases keep it from delivering a job a running responder has claimed.
int DeliverDueJobs(const Options& options) {
  if (options.account_sid.empty() || options.auth_token.empty()) {
    throw StartupError(kExitConfig,
                       "outbox deliver: set twilio.account-sid (TWILIO_ACCOUNT_SID) and the auth "
                       "token (TWILIO_AUTH_TOKEN or --twilio.auth-token-file)");
  }
  std::string error;
  std::unique_ptr<EventStore> outbox;
  if (pg::IsConnectionString(options.directory)) {
    outbox = PgEventStore::Open(PostgresConnectOptions(options), MakeOutboxOptions(options), &error);
    if (!outbox) throw StartupError(kExitConfig, "--directory: " + error);
  } else {
    outbox = OpenEventStore(options);
  }
  if (!InitRestClientGlobal()) throw StartupError(kExitConfig, "libcurl initialisation failed");
  CurlRestClient rest_client(MakeRestClientConfig(options));
  DispatcherOptions dispatch_options;
  dispatch_options.concurrency = options.outbox_concurrency;
  // What is not done is named, so cron's mail (or log) says which job and why.
  // Called from several delivery threads: each line is written whole, under a mutex.
  std::mutex stderr_mu;
  dispatch_options.on_delivery = [&stderr_mu](const OutboxRow& row, const Delivery& delivery) {
    if (delivery.outcome == Outcome::kDone) return;
    const std::string line = "job " + std::to_string(row.id) + " " + row.key + ": " +
                             OutcomeName(delivery.outcome) + ": " + delivery.description + "\n";
    std::lock_guard<std::mutex> lock(stderr_mu);
    std::cerr << line;
  };
  dispatch_options.on_error = [&stderr_mu](const std::string& message) {
    std::lock_guard<std::mutex> lock(stderr_mu);
    std::cerr << "frontline-fcgi: outbox deliver: " << message << "\n";
  };
  OutboxDispatcher dispatcher(outbox.get(), &rest_client, dispatch_options);
  dispatcher.DeliverDue();
  std::cerr << "outbox deliver: " << dispatcher.done() << " delivered, " << dispatcher.retried()
            << " retrying, " << dispatcher.failed() << " failed\n";
  return dispatcher.errors() == 0 ? kExitOk : kExitTempFail;
}

// outbox [list] | outbox retry ID | outbox deliver
int OutboxCommand(const Options& options) {
  const std::vector<std::string>& args = options.arguments;
  std::string verb = args.empty() ? "list" : args[0];
  std::string error;
  const bool postgres = pg::IsConnectionString(options.directory);
  std::unique_ptr<PgEventStore> pg_store;
  if (postgres && (verb == "list" || verb == "retry")) {
    pg_store = PgEventStore::Open(PostgresConnectOptions(options), MakeOutboxOptions(options),
                                  &error);
    if (!pg_store) throw StartupError(kExitConfig, "--directory: " + error);
  }
  if (verb == "list" && args.size() <= 1) {
    std::vector<OutboxRow> rows;
    RequireDirectoryFile(options);
    const bool ok = postgres ? pg_store->List(false, &rows, &error)
                             : ListJobs(options.outbox, options.directory, false, &rows, &error);
    if (!ok) throw StartupError(kExitConfig, "outbox: " + error);
    for (const OutboxRow& row : rows) std::cout << FormatOutboxRow(row) << "\n";
    std::cerr << rows.size() << " pending or failed jobs\n";
    return kExitOk;
  }
  if (verb == "retry" && args.size() == 2) {
    char* end = nullptr;
    long long id = std::strtoll(args[1].c_str(), &end, 10);
    if (*end != '\0' || id <= 0) throw StartupError(kExitUsage, "outbox retry: ID must be a job number");
    RequireDirectoryFile(options);
    const bool ok = postgres ? pg_store->Retry(id, &error)
                             : RetryJob(options.outbox, options.directory, id, &error);
    if (!ok) throw StartupError(kExitConfig, "outbox retry: " + error);
    std::cerr << "job " << id << " is pending again\n";
    return kExitOk;
  }
  if (verb == "deliver" && args.size() == 1) {
    RequireDirectoryFile(options);
    return DeliverDueJobs(options);
  }
  throw StartupError(kExitUsage, "usage: frontline-fcgi outbox [list | retry ID | deliver]");
}

// The event store for a command outside serve, on the backend --directory names.
std::unique_ptr<EventStore> OpenCommandEventStore(const Options& options) {
  if (!pg::IsConnectionString(options.directory)) return OpenEventStore(options);
  std::string error;
  std::unique_ptr<EventStore> store =
      PgEventStore::Open(PostgresConnectOptions(options), MakeOutboxOptions(options), &error);
  if (!store) throw StartupError(kExitConfig, "--directory: " + error);
  return store;
}

// One line of `optout list`, tab-separated: address, proxy ("every proxy" for ""), state,
// updated=<UTC>, the reason.
std::string FormatOptOutRow(const OptOutRow& row) {
  return row.address + "\t" + (row.proxy.empty() ? "every proxy" : row.proxy) + "\t" +
         (row.opted_out ? "opted out" : "opted in again") + "\tupdated=" +
         FormatUtc(row.updated_at) + "\t" + row.reason;
}

// optout [list] | optout add ADDRESS [--proxy P] | optout remove ADDRESS [--proxy P] (SPEC §11):
// the same records a customer's STOP and START make, on either backend.
int OptOutCommand(const Options& options) {
  const std::vector<std::string>& args = options.arguments;
  const std::string verb = args.empty() ? "list" : args[0];
  constexpr const char* kUsageLine =
      "usage: frontline-fcgi optout [list | add ADDRESS [--proxy P] | remove ADDRESS [--proxy P]]";
  const bool list = verb == "list" && args.size() <= 1;
  const bool change = (verb == "add" || verb == "remove") && args.size() == 2;
  if (!list && !change) throw StartupError(kExitUsage, kUsageLine);
  if (list && !options.proxy.empty()) {
    throw StartupError(kExitUsage, "optout list: --proxy is for add and remove");
  }
  std::string address;
  std::string proxy;
  if (change) {
    address = NormaliseAddress(args[1]);
    proxy = NormaliseAddress(options.proxy);
    if (address.empty()) throw StartupError(kExitUsage, "optout " + verb + ": ADDRESS is empty");
  }
  RequireDirectoryFile(options);
  std::unique_ptr<EventStore> store = OpenCommandEventStore(options);
  std::string error;
  if (list) {
    std::vector<OptOutRow> rows;
    if (!store->ListOptOuts(&rows, &error)) throw StartupError(kExitConfig, "optout: " + error);
    for (const OptOutRow& row : rows) std::cout << FormatOptOutRow(row) << "\n";
    std::cerr << rows.size() << " opt-out records\n";
    return kExitOk;
  }
  const bool opted_out = verb == "add";
  if (!store->SetOptOut(address, proxy, opted_out, "optout " + verb + " (command)", &error)) {
    throw StartupError(kExitConfig, "optout " + verb + ": " + error);
  }
  std::cerr << address << (opted_out ? " opted out on " : " opted in on ")
            << (proxy.empty() ? std::string("every proxy") : "proxy " + proxy) << "\n";
  return kExitOk;
}

// check-config with a PostgreSQL directory: connects as serve would and reports the server's
// version and the schema's (read only: nothing is created or migrated).
void CheckPostgres(const Options& options) {
  pg::ConnectOptions connect;
  connect.conninfo = pg::LibpqConnInfo(options.directory);
  connect.schema = options.postgres_schema;
  std::string error;
  std::unique_ptr<pg::Connection> conn = pg::Connection::Open(connect, &error);
  if (conn == nullptr) throw StartupError(kExitConfig, "--directory: " + error);
  const int server = conn->server_version();
  const int version = pg::SchemaVersion(*conn, options.postgres_schema, "directory", &error);
  if (version < 0) throw StartupError(kExitConfig, "--directory: " + error);
  const int latest = static_cast<int>(PgDirectoryMigrations().size());
  std::cout << "postgresql: server " << server / 10000 << "." << server % 10000 << ", schema "
            << options.postgres_schema << ": directory version " << version << " of " << latest
            << (version == 0 ? " (created on first start)"
                : version < latest ? " (migrated on next start)"
                : version > latest ? " (newer than this binary: it will refuse to start)"
                                   : "")
            << "\n";
  // The event state (outbox, opt-outs, conversation map) has versions of its own.
  const int events = pg::SchemaVersion(*conn, options.postgres_schema, "events", &error);
  if (events < 0) throw StartupError(kExitConfig, "--directory: " + error);
  const int events_latest = static_cast<int>(PgEventMigrations().size());
  std::cout << "postgresql: schema " << options.postgres_schema << ": events version " << events
            << " of " << events_latest
            << (events == 0 ? " (created on first start)"
                : events < events_latest ? " (migrated on next start)"
                : events > events_latest ? " (newer than this binary: it will refuse to start)"
                                         : "")
            << "\n";
  if (version > latest || events > events_latest) {
    throw StartupError(kExitConfig, "--directory: schema " + options.postgres_schema +
                                        " is newer than this binary");
  }
}

int CheckConfig(const Options& options) {
  std::cout << DescribeOptions(options);
  RequireAuthToken(options);
  LoadTemplates(options);
  if (pg::IsConnectionString(options.directory)) CheckPostgres(options);
  std::cout << "configuration ok\n";
  return kExitOk;
}

// Runs a command that opens the database outside the server, then hands any file it made to the
// owner of the database folder (see MatchFolderOwner).
int RunOnDatabase(const Options& options, int (*command)(const Options&)) {
  if (pg::IsConnectionString(options.directory)) return command(options);  // no files to hand over
  int status;
  std::string error;
  try {
    status = command(options);
  } catch (const StartupError&) {
    MatchFolderOwner(options.directory, &error);
    MatchFolderOwner(options.outbox, &error);
    throw;
  }
  if (!MatchFolderOwner(options.directory, &error) || !MatchFolderOwner(options.outbox, &error)) {
    std::cerr << "frontline-fcgi: " << error << "\n";
    if (status == kExitOk) status = kExitConfig;
  }
  return status;
}

int Run(int argc, char** argv) {
  // Before anything else, so no thread (the outbox dispatcher, libcurl's resolver, the request
  // threads) ever has these signals unblocked: serve takes them with sigtimedwait. The other
  // commands get the default behaviour back.
  BlockServeSignals();
  Options options = ParseOptions(argc, argv, ProcessEnvironment());
  if (options.command != Command::kServe) UnblockServeSignals();
  switch (options.command) {
    case Command::kHelp:
      std::cout << options.help_text;
      return kExitOk;
    case Command::kVersion:
      std::cout << "frontline-fcgi " FRONTLINE_VERSION "\n";
      return kExitOk;
    case Command::kCheckConfig:
      return CheckConfig(options);
    case Command::kServe:
      return Serve(options);
    case Command::kImport:
      return RunOnDatabase(options, Import);
    case Command::kExport:
      return RunOnDatabase(options, Export);
    case Command::kOutbox:
      return RunOnDatabase(options, OutboxCommand);
    case Command::kOptOut:
      return RunOnDatabase(options, OptOutCommand);
  }
  return kExitOk;
}

}  // namespace
}  // namespace frontline

int main(int argc, char** argv) {
  try {
    return frontline::Run(argc, argv);
  } catch (const frontline::StartupError& e) {
    std::cerr << "frontline-fcgi: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "frontline-fcgi: " << e.what() << "\n";
    return frontline::kExitConfig;
  }
}
