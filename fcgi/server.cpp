#include "fcgi/server.h"

#include <fcgiapp.h>

#include <cerrno>
#include <cstring>

#include "fcgi/adapter.h"
#include "handlers/router.h"

namespace frontline {

Server::Server(Listener& listener, int threads, Services& services, Log& log, Metrics& metrics)
    : listener_(listener), thread_count_(threads), services_(services), log_(log), metrics_(metrics) {}

Server::~Server() {
  Stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Server::Start() {
  running_ = thread_count_;
  for (int i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { Serve(); });
}

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  // Ends every wait for a connection; the socket itself stays open and listening for whoever
  // else holds it (systemd, sibling processes).
  listener_.Wake();
}

bool Server::Wait(std::chrono::milliseconds deadline) {
  std::unique_lock<std::mutex> lock(done_mutex_);
  bool all = done_.wait_for(lock, deadline, [this] { return running_ == 0; });
  if (all) {
    lock.unlock();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  return all;
}

void Server::Serve() {
  FCGX_Request fcgi;
  // No listening socket for libfcgi: the Listener accepts and hands each connection over in
  // ipcFd, so libfcgi only speaks the protocol. Were it ever to try accept() itself (after a
  // broken connection), the invalid socket makes FCGX_Accept_r fail instead.
  FCGX_InitRequest(&fcgi, -1, 0);
  while (!stopping_.load()) {
    if (fcgi.ipcFd < 0) {
      int connection = listener_.Accept();
      if (connection < 0) {
        if (stopping_.load()) break;
        log_.Error("accept failed", {{"detail", std::strerror(errno)}});
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      fcgi.ipcFd = connection;
      // FCGX_Accept_r first finishes the previous request, closing its connection unless it
      // was kept; mark this one kept so it survives that step. The peer's FCGI_KEEP_CONN
      // flag then decides, as usual, when FCGX_Finish_r closes it.
      fcgi.keepConnection = 1;
    }
    // Reads the next request from the connection (a kept one may carry several in turn).
    // Fails when the peer closed or broke the protocol; the connection is closed then.
    if (FCGX_Accept_r(&fcgi) < 0) continue;
    HandleOne(fcgi);
    FCGX_Finish_r(&fcgi);
  }
  FCGX_Free(&fcgi, 1);
  std::lock_guard<std::mutex> lock(done_mutex_);
  --running_;
  done_.notify_all();
}

void Server::HandleOne(FCGX_Request& fcgi) {
  auto started = std::chrono::steady_clock::now();
  Request request = ReadRequest(fcgi, services_.config.max_body);
  Response response = Dispatch(request, services_);
  bool written = WriteResponse(fcgi, response);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count();
  std::string_view route = RouteName(request.path, services_.config.route_prefix);
  metrics_.RecordRequest(route, response.status, micros);

  LogFields fields = {
      {"req", request.request_id},
      {"method", request.method},
      {"route", route == "other" ? request.path : std::string(route)},
      {"status", std::to_string(response.status)},
      {"us", std::to_string(micros)},
  };
  if (!response.log_operation.empty()) fields.emplace_back("op", response.log_operation);
  if (!response.log_worker.empty()) fields.emplace_back("worker", response.log_worker);
  if (response.status >= 400 && !response.log_detail.empty()) {
    fields.emplace_back("detail", response.log_detail);
  }
  if (!written) fields.emplace_back("write", "failed: web server closed the connection");
  LogLevel level = response.status >= 500 ? LogLevel::kError
                   : response.status >= 400 ? LogLevel::kWarning
                                            : LogLevel::kInfo;
  log_.Write(level, "request", fields);
  if (services_.config.skip_signature) {
    log_.Warning("signature check is OFF (--insecure-skip-signature): never run like this in "
                 "production", {{"req", request.request_id}});
  }
}

}  // namespace frontline
