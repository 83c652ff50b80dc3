// The listening socket: finding it (--listen, systemd's LISTEN_FDS, fd 0), accepting
// connections from it for the request threads, refusing TCP peers not allowed by
// FCGI_WEB_SERVER_ADDRS, and waking every waiting thread to stop.
//
// The socket is usually shared: systemd keeps it after this process exits (socket activation),
// spawn-fcgi -F and multiwatch children all accept on it. So stopping never shuts it down
// (shutdown() would refuse connections for all of them, and a restarted service would find
// systemd's socket dead); a wake-up eventfd ends the waits instead, which needs accept in our
// hands rather than libfcgi's. FCGI_WEB_SERVER_ADDRS keeps libfcgi's meaning, and adds IPv6.
//
// Thread-safety: Accept may be called from any number of threads (one waits in poll/accept,
// the others queue behind it); Wake from any thread, at any time.
#ifndef FRONTLINE_FCGI_LISTENER_H_
#define FRONTLINE_FCGI_LISTENER_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <mutex>
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

class Listener {
 public:
  // Does not take ownership of `fd`. `on_refused` (may be empty) is told each refused peer.
  Listener(int fd, PeerAllowList allowed, std::function<void(const std::string&)> on_refused);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Blocks until a connection from an allowed peer arrives and returns it (close-on-exec,
  // TCP_NODELAY for TCP), or returns -1 once Wake was called or when the socket fails (errno
  // set; the caller may retry after a pause).
  int Accept();
  // Every Accept, waiting or future, returns -1.
  void Wake();

 private:
  int fd_;
  int wake_fd_;
  PeerAllowList allowed_;
  std::function<void(const std::string&)> on_refused_;
  std::atomic<bool> woken_{false};
  std::mutex accept_mutex_;
};

}  // namespace frontline

#endif  // FRONTLINE_FCGI_LISTENER_H_
