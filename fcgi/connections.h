// The FastCGI connections of one process: new ones accepted from the listening socket and
// kept-alive ones between requests (nginx `fastcgi_keep_conn on`), all watched with one epoll
// set, so that a connection with nothing to say costs a file descriptor, never a request
// thread. A request thread asks Next() for a connection that has bytes to read, reads and
// answers one request on it, and hands it back with Done().
//
// Time limits, enforced by a watchdog thread of this class:
//  - a new connection must start its first request within the read timeout;
//  - once a request starts, all of it (params and body) must arrive within the read timeout:
//    a silent or dribbling peer is cut off with shutdown(), which ends the blocked read;
//  - a kept-alive connection may stay idle for the idle timeout, then it is closed.
// Stop() makes every Next() return nothing, closes the idle connections at once and lets the
// requests in flight finish; their connections are closed when they are handed back.
//
// The listening socket is usually shared (systemd, spawn-fcgi -F, multiwatch siblings), so it
// is never shut down here: a wake-up eventfd in the epoll set ends the waits instead.
//
// Thread-safety: Next, Handling, Done and Stop may be called from any number of threads.
#ifndef FRONTLINE_FCGI_CONNECTIONS_H_
#define FRONTLINE_FCGI_CONNECTIONS_H_

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fcgi/listener.h"

namespace frontline {

struct ConnectionTimeouts {
  // A whole request, and a new connection's first one.
  std::chrono::milliseconds read{std::chrono::seconds(10)};
  // A kept-alive connection between two requests. Longer than nginx's default upstream
  // keepalive_timeout (60 s), so nginx normally closes first.
  std::chrono::milliseconds idle{std::chrono::minutes(5)};
};

// What the set tells its owner about, for the log.
enum class ConnectionNotice {
  kRefused,      // a TCP peer not in web-server-addrs; closed
  kNoRequest,    // a new connection sent no request within the read timeout; closed
  kReadTimeout,  // a request did not arrive whole within the read timeout; cut off
  kAcceptError,  // accept failed for another reason than the connection going away (detail)
};

// One connection lent to a request thread, from Next() until Done().
struct Connection {
  int fd = -1;
  uint32_t generation = 0;  // tells this connection from a later one on the same fd number
};

class ConnectionSet {
 public:
  using NoticeFn =
      std::function<void(ConnectionNotice notice, const std::string& peer, const std::string& detail)>;

  // Does not take ownership of `listen_fd`, but sets it O_NONBLOCK (shared with every holder
  // of the socket: those that lose the race for a connection must not block in accept).
  // `notice` may be empty. Throws std::system_error when epoll or the eventfd cannot be made.
  ConnectionSet(int listen_fd, PeerAllowList allowed, ConnectionTimeouts timeouts, NoticeFn notice);
  ~ConnectionSet();
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;

  // Blocks until a connection has a request to read and lends it to the caller (its read
  // deadline starts now), or returns nullopt once Stop() was called.
  std::optional<Connection> Next();
  // The request on `connection` has been read whole: no read deadline while it is handled.
  void Handling(const Connection& connection);
  // Takes `connection` back: watched for its next request when `keep` (the peer asked for
  // FCGI_KEEP_CONN and the exchange went well) and not stopping, else closed.
  void Done(const Connection& connection, bool keep);
  // No more Next() results; idle connections are closed now. Idempotent.
  void Stop();

  // Open connections (idle, reading or handled), for tests and metrics.
  size_t open_count() const;

 private:
  enum class State : uint8_t { kFree, kNew, kIdle, kReading, kHandling, kCutOff };
  struct Slot {
    uint32_t generation = 0;
    State state = State::kFree;
    std::chrono::steady_clock::time_point deadline;
    sockaddr_storage peer{};
  };
  struct PendingNotice {
    ConnectionNotice notice;
    sockaddr_storage peer;
    std::string detail;
  };

  void AcceptOne();
  void CloseLocked(int fd, Slot& slot);  // requires mutex_
  bool Arm(int fd, const Slot& slot, int op);
  void Watch();
  void Report(const std::vector<PendingNotice>& notices);

  int listen_fd_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  PeerAllowList allowed_;
  ConnectionTimeouts timeouts_;
  NoticeFn notice_;

  mutable std::mutex mutex_;
  std::vector<Slot> slots_;  // indexed by fd
  size_t open_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point last_accept_error_;

  std::mutex watch_mutex_;
  std::condition_variable watch_wake_;
  bool watch_done_ = false;
  std::thread watchdog_;
};

}  // namespace frontline

#endif  // FRONTLINE_FCGI_CONNECTIONS_H_
