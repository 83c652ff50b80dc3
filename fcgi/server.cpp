#include "fcgi/server.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fcgi/adapter.h"
#include "handlers/router.h"

namespace frontline {

Server::Server(ConnectionSet& connections, int threads, Services& services, Log& log,
               Metrics& metrics)
    : connections_(connections),
      thread_count_(threads),
      services_(services),
      log_(log),
      metrics_(metrics) {}

Server::~Server() {
  Stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Server::Start() {
  running_ = thread_count_;
  for (int i = 0; i < thread_count_; ++i) activities_.push_back(std::make_unique<Activity>());
  for (int i = 0; i < thread_count_; ++i) {
    Activity* activity = activities_[static_cast<size_t>(i)].get();
    threads_.emplace_back([this, activity] { Serve(*activity); });
  }
}

void Server::Stop() { connections_.Stop(); }

bool Server::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(done_mutex_);
  bool all = done_.wait_for(lock, timeout, [this] { return running_ == 0; });
  if (all) {
    lock.unlock();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  return all;
}

std::vector<std::string> Server::Abandoned() const {
  std::vector<std::string> lines;
  auto now = std::chrono::steady_clock::now();
  for (const auto& activity : activities_) {
    std::lock_guard<std::mutex> lock(activity->mutex);
    if (!activity->busy) continue;
    double seconds = std::chrono::duration<double>(now - activity->started).count();
    char running[32];
    std::snprintf(running, sizeof running, "%.1f s", seconds);
    lines.push_back("req=" + activity->request_id + " route=" + activity->route + " running " +
                    running);
  }
  return lines;
}

void Server::Serve(Activity& activity) {
  FCGX_Request fcgi;
  // No listening socket for libfcgi: connections come from the ConnectionSet, one request at
  // a time, so libfcgi only speaks the protocol. Were it ever to try accept() itself (after a
  // broken connection), the invalid socket makes FCGX_Accept_r fail instead.
  FCGX_InitRequest(&fcgi, -1, 0);
  while (std::optional<Connection> connection = connections_.Next()) {
    // libfcgi gets a duplicate of the descriptor and may close it whenever it likes (end of a
    // request without FCGI_KEEP_CONN, a broken exchange); the original stays the set's, so the
    // set alone decides when the connection's number can be reused, and its watchdog can
    // never shut down a stranger's connection.
    int duplicate = fcntl(connection->fd, F_DUPFD_CLOEXEC, 0);
    if (duplicate < 0) {
      log_.Error("cannot duplicate a connection", {{"detail", std::strerror(errno)}});
      connections_.Done(*connection, false);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(activity.mutex);
      activity.busy = true;
      activity.request_id = "-";
      activity.route = "(request still arriving)";
      activity.started = std::chrono::steady_clock::now();
    }
    fcgi.ipcFd = duplicate;
    // FCGX_Accept_r first finishes the previous request, closing its connection unless kept;
    // mark this one kept so it survives that step. The peer's FCGI_KEEP_CONN flag then
    // decides, as usual, whether FCGX_Finish_r closes it. `detached` makes libfcgi's close a
    // plain close(2): its lingering close uses select(), unsafe for descriptors >= 1024.
    fcgi.keepConnection = 1;
    fcgi.detached = 1;
    // Reads the request's params. Fails when the peer closed, broke the protocol or was cut
    // off by the read timeout; libfcgi has closed its descriptor then.
    if (FCGX_Accept_r(&fcgi) >= 0) {
      HandleOne(fcgi, *connection, activity);
      fcgi.detached = 1;
      FCGX_Finish_r(&fcgi);
    }
    bool kept = fcgi.ipcFd >= 0;
    if (kept) close(fcgi.ipcFd);
    fcgi.ipcFd = -1;
    connections_.Done(*connection, kept);
    std::lock_guard<std::mutex> lock(activity.mutex);
    activity.busy = false;
  }
  FCGX_Free(&fcgi, 1);
  std::lock_guard<std::mutex> lock(done_mutex_);
  --running_;
  done_.notify_all();
}

void Server::HandleOne(FCGX_Request& fcgi, const Connection& connection, Activity& activity) {
  auto started = std::chrono::steady_clock::now();
  Request request = ReadRequest(fcgi, services_.config.max_body);
  connections_.Handling(connection);
  const size_t route_id = RouteId(request.path, services_.config.route_prefix);
  std::string_view route = RouteIdName(route_id);
  std::string route_text = route == "other" ? request.path : std::string(route);
  {
    std::lock_guard<std::mutex> lock(activity.mutex);
    activity.request_id = request.request_id;
    activity.route = route_text;
  }
  Response response = Dispatch(request, services_);
  bool written = WriteResponse(fcgi, response);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count();
  metrics_.RecordRequest(route_id, response.status, micros);

  LogFields fields = {
      {"req", request.request_id},
      {"method", request.method},
      {"route", std::move(route_text)},
      {"status", std::to_string(response.status)},
      {"us", std::to_string(micros)},
  };
  if (!response.log_operation.empty()) fields.emplace_back("op", response.log_operation);
  if (!response.log_worker.empty()) fields.emplace_back("worker", response.log_worker);
  if (!response.log_detail.empty()) {  // also a 200 answered by a documented fallback
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
