#include "fcgi/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

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
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
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

std::optional<PeerAllowList> PeerAllowList::Parse(std::string_view list, std::string* error) {
  PeerAllowList result;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string entry(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    size_t b = entry.find_first_not_of(" \t");
    size_t e = entry.find_last_not_of(" \t");
    entry = b == std::string::npos ? std::string() : entry.substr(b, e - b + 1);
    if (entry.empty()) continue;
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, entry.c_str(), &v4) == 1) {
      result.v4_.push_back(v4);
    } else if (inet_pton(AF_INET6, entry.c_str(), &v6) == 1) {
      result.v6_.push_back(v6);
    } else {
      *error = "'" + entry + "' is not an IPv4 or IPv6 address";
      return std::nullopt;
    }
  }
  return result;
}

bool PeerAllowList::Allows(const sockaddr_storage& peer) const {
  if (empty()) return true;
  if (peer.ss_family == AF_INET) {
    const in_addr& a = reinterpret_cast<const sockaddr_in&>(peer).sin_addr;
    for (const in_addr& allowed : v4_) {
      if (allowed.s_addr == a.s_addr) return true;
    }
    return false;
  }
  if (peer.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    for (const in6_addr& allowed : v6_) {
      if (std::memcmp(&allowed, &a, sizeof a) == 0) return true;
    }
    // An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d.
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      for (const in_addr& allowed : v4_) {
        if (std::memcmp(&allowed, &a.s6_addr[12], 4) == 0) return true;
      }
    }
    return false;
  }
  return true;  // unix socket peers
}

std::string DescribePeer(const sockaddr_storage& peer) {
  char host[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (peer.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  return "unix";
}

bool ListensBeyondLoopback(int fd, std::string* address) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return false;
  *address = DescribePeer(local);
  if (local.ss_family == AF_INET) {
    uint32_t host = ntohl(reinterpret_cast<const sockaddr_in&>(local).sin_addr.s_addr);
    return (host >> 24) != 127;
  }
  if (local.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6&>(local).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return false;
    if (IN6_IS_ADDR_V4MAPPED(&a)) return a.s6_addr[12] != 127;
    return true;
  }
  return false;  // unix sockets: file permissions decide who connects
}

}  // namespace frontline
