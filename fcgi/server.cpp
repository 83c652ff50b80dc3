#include "fcgi/server.h"

#include <arpa/inet.h>
#include <fcgiapp.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fcgi/adapter.h"
#include "handlers/router.h"

namespace frontline {
namespace {

constexpr int kBacklog = 128;

bool IsListeningSocket(int fd) {
  int accepting = 0;
  socklen_t len = sizeof accepting;
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting != 0;
}

int OpenUnixSocket(const std::string& path, std::string* error) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    *error = "--listen: socket path too long: " + path;
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("--listen: socket: ") + std::strerror(errno);
    return -1;
  }
  // Like spawn-fcgi: refuse a socket somebody still answers on, replace a stale one.
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      close(fd);
      *error = "--listen: " + path + " is in use by another process";
      return -1;
    }
    close(fd);
    unlink(path.c_str());
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, kBacklog) != 0) {
    *error = "--listen: cannot listen on " + path + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

int OpenTcpSocket(const std::string& host_port, std::string* error) {
  size_t colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon);
  std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    *error = "--listen: cannot resolve " + host_port + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, kBacklog) == 0) break;
    last_error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) *error = "--listen: cannot listen on " + host_port + ": " + last_error;
  return fd;
}

}  // namespace

ListenSocket FindListenSocket(const std::string& listen, std::string* error, bool* no_socket) {
  *no_socket = false;
  ListenSocket result;
  if (!listen.empty()) {
    result.description = listen;
    result.fd = listen.rfind("unix:", 0) == 0 ? OpenUnixSocket(listen.substr(5), error)
                                                : OpenTcpSocket(listen, error);
    return result;
  }
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid != nullptr && fds != nullptr && std::atol(pid) == static_cast<long>(getpid()) &&
      std::atoi(fds) >= 1) {
    // systemd passes sockets from fd 3 on; we serve the first. Children must not inherit them.
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (IsListeningSocket(3)) {
      result.fd = 3;
      result.description = "systemd LISTEN_FDS (fd 3)";
      return result;
    }
    *error = "LISTEN_FDS is set but fd 3 is not a listening socket";
    return result;
  }
  if (IsListeningSocket(0)) {
    result.fd = 0;
    result.description = "fd 0 (spawn-fcgi, systemd or web server)";
    return result;
  }
  *no_socket = true;
  *error =
      "no FastCGI socket to serve (this is a FastCGI responder, not a web server): start it with "
      "spawn-fcgi, systemd socket activation or --listen unix:PATH|HOST:PORT (see --help)";
  return result;
}

Server::Server(int listen_fd, int threads, Services& services, Log& log, Metrics& metrics)
    : listen_fd_(listen_fd), thread_count_(threads), services_(services), log_(log), metrics_(metrics) {}

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
  FCGX_ShutdownPending();
  // Wakes every thread blocked in accept() on Linux; the socket itself stays (it is owned by
  // whoever created it: spawn-fcgi, systemd or --listen).
  shutdown(listen_fd_, SHUT_RDWR);
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
  FCGX_InitRequest(&fcgi, listen_fd_, 0);
  while (!stopping_.load()) {
    int rc;
    {
      std::lock_guard<std::mutex> lock(accept_mutex_);
      if (stopping_.load()) break;
      rc = FCGX_Accept_r(&fcgi);
    }
    if (rc < 0) {
      if (stopping_.load()) break;
      // A transient accept failure (e.g. a peer that reset): keep serving, without spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
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
