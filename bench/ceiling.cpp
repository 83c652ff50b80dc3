// The ceiling: the least work a libfcgi responder can do per request, for bench/ceiling_bench.py
// to measure next to frontline-fcgi behind the same nginx. It reads each request (parameters
// and body, as any responder must), ignores it and answers 200 with a constant JSON body about
// the size of a customer-details answer. Whatever frontline-fcgi is slower than this is our
// own cost; what both share (nginx, the FastCGI hop, libfcgi, wrk) is not.
//
//   ceiling [--socket] PATH [--threads N]     (N request threads, default 4)
//
// Creates the unix socket PATH itself (FCGX_OpenSocket) and dies at once on SIGTERM or SIGINT:
// there is nothing to finish, and libfcgi's own SIGTERM handler would not wake the thread
// blocked in accept().
#include <fcgiapp.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// 440 bytes: a customer as GetCustomerDetailsByCustomerId answers it.
constexpr char kBody[] =
    "{\"objects\":{\"customer\":{\"customer_id\":\"4711\",\"display_name\":\"Maria Garcia\","
    "\"avatar\":\"https://example.com/avatars/4711.png\",\"channels\":[{\"type\":\"sms\","
    "\"value\":\"+15550004711\"},{\"type\":\"email\",\"value\":\"maria.garcia@example.com\"}],"
    "\"links\":[{\"type\":\"Facebook\",\"value\":\"https://www.facebook.com/example\","
    "\"display_name\":\"Facebook\"}],\"details\":{\"title\":\"Purchase history\",\"content\":"
    "\"Product: Unobtanium\\n\\nDate: 2021-07-07\\nQuantity: 1000 units\"}}}}";

std::mutex accept_mutex;

void Serve(int listen_fd) {
  FCGX_Request request;
  if (FCGX_InitRequest(&request, listen_fd, 0) != 0) return;
  const std::string head = "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(sizeof kBody - 1) + "\r\n\r\n";
  char sink[4096];
  for (;;) {
    int accepted;
    {
      // As libfcgi's threaded example: one thread in accept() at a time.
      std::lock_guard<std::mutex> lock(accept_mutex);
      accepted = FCGX_Accept_r(&request);
    }
    if (accepted < 0) break;
    while (FCGX_GetStr(sink, sizeof sink, request.in) > 0) {
    }
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), request.out);
    FCGX_PutStr(kBody, static_cast<int>(sizeof kBody - 1), request.out);
    FCGX_Finish_r(&request);
  }
}

int Usage() {
  std::fprintf(stderr, "usage: ceiling [--socket] PATH [--threads N]\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int threads = 4;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--socket" && i + 1 < argc) {
      path = argv[++i];
    } else if (arg.empty() || arg[0] == '-' || !path.empty()) {
      return Usage();
    } else {
      path = arg;
    }
  }
  if (path.empty() || threads < 1 || threads > 256) return Usage();

  if (FCGX_Init() != 0) {
    std::fprintf(stderr, "ceiling: FCGX_Init failed\n");
    return 1;
  }
  // After FCGX_Init, which installs handlers of its own (SIGPIPE stays ignored, as it should).
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  int listen_fd = FCGX_OpenSocket(path.c_str(), 128);
  if (listen_fd < 0) {
    std::fprintf(stderr, "ceiling: cannot listen on %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(Serve, listen_fd);
  for (auto& t : pool) t.join();
  return 0;
}
