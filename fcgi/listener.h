// The listening socket: finding it (--listen, systemd's LISTEN_FDS, fd 0), telling whether
// other hosts can reach it, and which TCP peers may connect (FCGI_WEB_SERVER_ADDRS, with
// libfcgi's meaning plus IPv6). Accepting is fcgi/connections.h's job.
//
// Thread-safety: free functions without shared state; a PeerAllowList is immutable.
#ifndef FRONTLINE_FCGI_LISTENER_H_
#define FRONTLINE_FCGI_LISTENER_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace frontline {

// Where the listening socket came from, for the startup log.
struct ListenSocket {
  int fd = -1;
  std::string description;  // "fd 0", "systemd LISTEN_FDS", "unix:/run/x.sock", ...
};

// The socket to serve: `listen` ("unix:PATH" or "HOST:PORT") when set, else systemd's first
// LISTEN_FDS socket, else fd 0 when it is a listening socket. Returns fd -1 with `error` set
// when there is none (`no_socket` true: the caller prints how to run it, exit 64) or when
// binding failed (`no_socket` false: a configuration error).
ListenSocket FindListenSocket(const std::string& listen, std::string* error, bool* no_socket);

// The web servers allowed to connect over TCP: libfcgi's FCGI_WEB_SERVER_ADDRS convention, a
// comma-separated list of IPv4 or IPv6 addresses. Empty: every peer. Unix-socket peers are
// always allowed (file permissions guard those). Immutable once parsed.
class PeerAllowList {
 public:
  // Nullopt with `error` naming the bad entry when one is not an IP address.
  static std::optional<PeerAllowList> Parse(std::string_view list, std::string* error);

  bool Allows(const sockaddr_storage& peer) const;
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  std::vector<in_addr> v4_;
  std::vector<in6_addr> v6_;
};

// "10.0.0.5:51234", "[::1]:8080" or "unix": for log lines.
std::string DescribePeer(const sockaddr_storage& peer);

// True when `fd` is a TCP socket bound to an address other hosts can reach: anything but
// 127.0.0.0/8 and ::1 (the wildcards 0.0.0.0 and :: included). `address` names it ("0.0.0.0:9000").
// FastCGI has no authentication, so such a socket needs an allow list (or an explicit opt-out).
bool ListensBeyondLoopback(int fd, std::string* address);

}  // namespace frontline

#endif  // FRONTLINE_FCGI_LISTENER_H_
