// What a handler may use besides its Request: configuration and the I/O edges, each behind an
// interface so unit tests can pass fakes. Built once in main; every member is safe to share
// between request threads (see each type's header).
#ifndef FRONTLINE_HANDLERS_SERVICES_H_
#define FRONTLINE_HANDLERS_SERVICES_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "handlers/optout.h"

namespace frontline {

class Directory;
class Metrics;
class OptOutStore;
class Outbox;
class Templates;

// The part of the configuration that request handling reads. Immutable after startup.
struct HandlerConfig {
  std::string route_prefix;           // e.g. "/frontline"; routes are matched below it
  std::string public_url;             // scheme://host[:port][/prefix], may be empty (SPEC §7)
  std::string auth_token;             // Twilio auth token; never logged
  bool skip_signature = false;        // development only: accept unsigned requests
  size_t max_body = 65536;            // bytes
  std::string sms_number;             // twilio.sms-number
  std::string whatsapp_number;        // twilio.whatsapp-number
  std::string default_worker;         // routing.default-worker
  bool list_all_customers = false;    // crm.list-all-customers
  // This process delivers outbox jobs (twilio.account-sid and the auth token are both set);
  // without it, jobs are only stored and wait for a process or `outbox deliver` that can.
  bool delivers_outbox = false;
  OptOutKeywords optout_keywords;     // optout.stop-keywords, optout.start-keywords (SPEC §11)
};

// Monotonic and wall time, injectable for tests.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point Now() const {
    return std::chrono::steady_clock::now();
  }
  virtual int64_t UnixSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

struct Services {
  const HandlerConfig& config;
  Directory* directory = nullptr;     // null until a directory is configured
  const Templates* templates = nullptr;
  Metrics* metrics = nullptr;         // optional
  const Clock& clock;
  Outbox* outbox = nullptr;           // durable Twilio REST jobs; null until configured
  // Opt-outs and the conversation map (SPEC §11): the event store's other side; null: not
  // configured, and then nothing is recorded or blocked.
  OptOutStore* optouts = nullptr;
};

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_SERVICES_H_
