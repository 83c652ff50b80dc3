// The ConnectionSet on a real loopback socket: peers refused, silent connections costing no
// thread, read and idle timeouts, kept-alive connections coming back, and Stop closing idle
// connections without shutting the shared listening socket down.
#include "fcgi/connections.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace frontline {
namespace {

using std::chrono::milliseconds;

// A listening TCP socket on 127.0.0.1 and clients connected to it.
struct TcpSocket {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  TcpSocket() {
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    REQUIRE(listen(fd, 16) == 0);
  }
  ~TcpSocket() { close(fd); }
  // The kernel completes the connection before anyone accepts it.
  int Connect() const {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    return client;
  }
};

void Send(int fd, const char* text) {
  REQUIRE(write(fd, text, std::char_traits<char>::length(text)) > 0);
}

// True when the peer of `client` closed (EOF or reset) within `timeout`.
bool ClosedWithin(int client, milliseconds timeout) {
  pollfd p{client, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char byte;
  return read(client, &byte, 1) <= 0;
}

struct Notices {
  std::mutex mutex;
  std::vector<ConnectionNotice> seen;
  ConnectionSet::NoticeFn Fn() {
    return [this](ConnectionNotice n, const std::string&, const std::string&) {
      std::lock_guard<std::mutex> lock(mutex);
      seen.push_back(n);
    };
  }
  // How many `n` were seen, waiting up to a second for `expected` of them (notices are told
  // just after the action they report).
  size_t Count(ConnectionNotice n, size_t expected) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (;;) {
      size_t count = 0;
      {
        std::lock_guard<std::mutex> lock(mutex);
        for (ConnectionNotice s : seen) count += s == n ? 1 : 0;
      }
      if (count >= expected || std::chrono::steady_clock::now() > deadline) return count;
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
};

ConnectionTimeouts Timeouts(milliseconds read, milliseconds idle) {
  ConnectionTimeouts t;
  t.read = read;
  t.idle = idle;
  return t;
}

TEST_CASE("ConnectionSet refuses peers outside the allow list and Stop ends every wait") {
  TcpSocket server;
  Notices notices;
  std::string error;
  ConnectionSet set(server.fd, *PeerAllowList::Parse("10.0.0.5", &error), {}, notices.Fn());
  auto waiting = std::async(std::launch::async, [&set] { return set.Next(); });
  int first = server.Connect();
  int second = server.Connect();
  Send(first, "x");
  CHECK(ClosedWithin(first, milliseconds(2000)));
  CHECK(ClosedWithin(second, milliseconds(2000)));
  CHECK(notices.Count(ConnectionNotice::kRefused, 2) == 2);
  set.Stop();
  CHECK_FALSE(waiting.get().has_value());
  CHECK_FALSE(set.Next().has_value());  // stays stopped
  close(first);
  close(second);
}

TEST_CASE("A connection that sends nothing costs no thread and is closed after the read timeout") {
  TcpSocket server;
  Notices notices;
  ConnectionSet set(server.fd, PeerAllowList(), Timeouts(milliseconds(300), std::chrono::minutes(5)),
                    notices.Fn());
  int silent = server.Connect();
  int talking = server.Connect();
  Send(talking, "request");
  // One thread: it must be handed the connection that has something to say.
  std::optional<Connection> got = set.Next();
  REQUIRE(got.has_value());
  char buffer[16];
  CHECK(read(got->fd, buffer, sizeof buffer) == 7);
  set.Handling(*got);
  set.Done(*got, false);
  CHECK(ClosedWithin(talking, milliseconds(1000)));
  // The silent one is closed by the watchdog, not by anyone reading it.
  CHECK(ClosedWithin(silent, milliseconds(2000)));
  CHECK(notices.Count(ConnectionNotice::kNoRequest, 1) == 1);
  CHECK(set.open_count() == 0);
  close(silent);
  close(talking);
}

TEST_CASE("A request that does not arrive whole within the read timeout is cut off") {
  TcpSocket server;
  Notices notices;
  ConnectionSet set(server.fd, PeerAllowList(), Timeouts(milliseconds(300), std::chrono::minutes(5)),
                    notices.Fn());
  int dribbler = server.Connect();
  Send(dribbler, "a");
  std::optional<Connection> got = set.Next();
  REQUIRE(got.has_value());
  char buffer[16];
  REQUIRE(read(got->fd, buffer, 1) == 1);
  // The reader now blocks for the rest; the watchdog ends that read.
  auto started = std::chrono::steady_clock::now();
  CHECK(read(got->fd, buffer, sizeof buffer) == 0);
  CHECK(std::chrono::steady_clock::now() - started < milliseconds(2000));
  CHECK(notices.Count(ConnectionNotice::kReadTimeout, 1) == 1);
  set.Done(*got, true);  // even when the caller would keep it
  CHECK(set.open_count() == 0);
  close(dribbler);
}

TEST_CASE("A kept-alive connection comes back for its next request, then idles out") {
  TcpSocket server;
  ConnectionSet set(server.fd, PeerAllowList(), Timeouts(milliseconds(5000), milliseconds(400)), {});
  int client = server.Connect();
  Send(client, "1");
  std::optional<Connection> first = set.Next();
  REQUIRE(first.has_value());
  char byte;
  REQUIRE(read(first->fd, &byte, 1) == 1);
  set.Handling(*first);
  set.Done(*first, true);
  CHECK(set.open_count() == 1);
  Send(client, "2");
  std::optional<Connection> second = set.Next();
  REQUIRE(second.has_value());
  CHECK(second->fd == first->fd);
  CHECK(second->generation == first->generation);
  REQUIRE(read(second->fd, &byte, 1) == 1);
  CHECK(byte == '2');
  set.Done(*second, true);
  // Idle longer than the idle timeout (not the read timeout): closed.
  CHECK(ClosedWithin(client, milliseconds(3000)));
  CHECK(set.open_count() == 0);
  close(client);
}

TEST_CASE("Stop closes idle connections at once, lets handled ones finish, keeps the socket") {
  TcpSocket server;
  ConnectionSet set(server.fd, PeerAllowList(), {}, {});
  int idle = server.Connect();
  int busy = server.Connect();
  Send(idle, "i");
  std::optional<Connection> a = set.Next();
  REQUIRE(a.has_value());
  char byte;
  REQUIRE(read(a->fd, &byte, 1) == 1);
  set.Done(*a, true);  // now idle, kept alive
  Send(busy, "b");
  std::optional<Connection> b = set.Next();
  REQUIRE(b.has_value());
  REQUIRE(read(b->fd, &byte, 1) == 1);
  set.Handling(*b);

  set.Stop();
  // The idle connection is closed at once; the one being handled stays open.
  int idle_client = idle;
  int busy_client = busy;
  CHECK(ClosedWithin(idle_client, milliseconds(1000)));
  CHECK_FALSE(ClosedWithin(busy_client, milliseconds(100)));
  CHECK(write(b->fd, "answer", 6) == 6);
  set.Done(*b, true);  // kept by the peer's wish, but we are stopping
  char answer[8];
  CHECK(read(busy_client, answer, sizeof answer) == 6);
  CHECK(ClosedWithin(busy_client, milliseconds(1000)));
  CHECK_FALSE(set.Next().has_value());

  // The listening socket still takes connections for whoever else holds it.
  int later = server.Connect();
  ConnectionSet again(server.fd, PeerAllowList(), {}, {});
  Send(later, "l");
  std::optional<Connection> c = again.Next();
  CHECK(c.has_value());
  if (c) again.Done(*c, false);
  close(idle);
  close(busy);
  close(later);
}

}  // namespace
}  // namespace frontline
