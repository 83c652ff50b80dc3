// Test driver for the integration tests of CurlRestClient: makes one REST call (or the same call
// --repeat times on one client, to observe connection reuse, from each of --threads threads
// sharing that client) and prints each RestResult as one JSON line on stdout. The auth token is
// read from a file so it never appears in argv.
//
//   rest_client_driver --api-base URL --account-sid AC... --auth-token-file PATH
//       [--connect-timeout-ms N] [--total-timeout-ms N] [--repeat N] [--threads N]
//       (add CH... IDENTITY | fetch CH... MB... | update CH... MB... JSON)
//
// Exit status: 0 when the calls were made (whatever their outcome), 64 on usage errors, 66 when
// the token file cannot be read, 70 when libcurl cannot be initialised.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "twilio/rest_client.h"

namespace frontline {
namespace {

constexpr int kExitUsage = 64;
constexpr int kExitNoInput = 66;
constexpr int kExitSoftware = 70;

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void String(Writer& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string ResultJson(const RestResult& r) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("outcome");
  w.String(OutcomeName(Classify(r)));
  w.Key("http_status");
  w.Int(r.http_status);
  w.Key("transport_error");
  w.String(TransportErrorName(r.transport_error));
  w.Key("transport_message");
  String(w, r.transport_message);
  w.Key("retry_after");
  if (r.retry_after_seconds) {
    w.Int64(*r.retry_after_seconds);
  } else {
    w.Null();
  }
  w.Key("error");
  if (r.error) {
    w.StartObject();
    w.Key("code");
    w.Int(r.error->code);
    w.Key("message");
    String(w, r.error->message);
    w.Key("status");
    w.Int(r.error->status);
    w.Key("more_info");
    String(w, r.error->more_info);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("participant");
  if (r.participant) {
    w.StartObject();
    w.Key("sid");
    String(w, r.participant->sid);
    w.Key("conversation_sid");
    String(w, r.participant->conversation_sid);
    w.Key("identity");
    String(w, r.participant->identity);
    w.Key("attributes");
    String(w, r.participant->attributes);
    w.Key("binding_address");
    String(w, r.participant->binding_address);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("description");
  String(w, DescribeResult(r));
  w.Key("body");
  String(w, r.body);
  w.EndObject();
  return buffer.GetString();
}

int Usage(const std::string& problem) {
  std::cerr
      << "rest_client_driver: " << problem << "\n"
      << "usage: rest_client_driver --api-base URL --account-sid SID --auth-token-file PATH\n"
         "         [--connect-timeout-ms N] [--total-timeout-ms N] [--repeat N] [--threads N]\n"
         "         (add CH IDENTITY | fetch CH MB | update CH MB JSON)\n";
  return kExitUsage;
}

bool ParseLong(const std::string& text, long* value) {
  char* end = nullptr;
  *value = std::strtol(text.c_str(), &end, 10);
  return !text.empty() && end != nullptr && *end == '\0' && *value >= 0;
}

int Run(int argc, char** argv) {
  CurlRestClientConfig config;
  std::string token_file;
  long repeat = 1;
  long threads = 1;
  std::vector<std::string> command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string text;
    if (arg == "--api-base") {
      if (!value(&config.api_base)) return Usage("--api-base needs a value");
    } else if (arg == "--account-sid") {
      if (!value(&config.account_sid)) return Usage("--account-sid needs a value");
    } else if (arg == "--auth-token-file") {
      if (!value(&token_file)) return Usage("--auth-token-file needs a value");
    } else if (arg == "--connect-timeout-ms") {
      if (!value(&text) || !ParseLong(text, &config.connect_timeout_ms)) {
        return Usage("--connect-timeout-ms needs a number");
      }
    } else if (arg == "--total-timeout-ms") {
      if (!value(&text) || !ParseLong(text, &config.total_timeout_ms)) {
        return Usage("--total-timeout-ms needs a number");
      }
    } else if (arg == "--repeat") {
      if (!value(&text) || !ParseLong(text, &repeat) || repeat < 1) {
        return Usage("--repeat needs a positive number");
      }
    } else if (arg == "--threads") {
      if (!value(&text) || !ParseLong(text, &threads) || threads < 1 || threads > 64) {
        return Usage("--threads needs a number from 1 to 64");
      }
    } else if (arg.rfind("--", 0) == 0) {
      return Usage("unknown option " + arg);
    } else {
      command.push_back(arg);
    }
  }
  if (token_file.empty()) return Usage("--auth-token-file is required");
  std::ifstream in(token_file);
  if (!in) {
    std::cerr << "rest_client_driver: cannot read the token file\n";
    return kExitNoInput;
  }
  std::stringstream token;
  token << in.rdbuf();
  config.auth_token = token.str();
  while (!config.auth_token.empty() &&
         (config.auth_token.back() == '\n' || config.auth_token.back() == '\r')) {
    config.auth_token.pop_back();
  }

  bool add = command.size() == 3 && command[0] == "add";
  bool fetch = command.size() == 3 && command[0] == "fetch";
  bool update = command.size() == 4 && command[0] == "update";
  if (!add && !fetch && !update) return Usage("expected add, fetch or update with its arguments");

  if (!InitRestClientGlobal()) {
    std::cerr << "rest_client_driver: curl_global_init failed\n";
    return kExitSoftware;
  }
  CurlRestClient client(config);
  std::mutex output_mutex;
  auto calls = [&] {
    for (long i = 0; i < repeat; ++i) {
      RestResult result =
          add     ? client.AddParticipant(command[1], command[2])
          : fetch ? client.FetchParticipant(command[1], command[2])
                  : client.UpdateParticipantAttributes(command[1], command[2], command[3]);
      std::string line = ResultJson(result);
      std::lock_guard<std::mutex> lock(output_mutex);
      std::cout << line << std::endl;
    }
  };
  std::vector<std::thread> workers;
  for (long t = 1; t < threads; ++t) workers.emplace_back(calls);
  calls();
  for (std::thread& worker : workers) worker.join();
  return 0;
}

}  // namespace
}  // namespace frontline

int main(int argc, char** argv) { return frontline::Run(argc, argv); }
