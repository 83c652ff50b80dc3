// The Listener: which TCP peers FCGI_WEB_SERVER_ADDRS lets in, how peers are named in the log,
// and accepting from a real socket until woken, without shutting the shared socket down.
#include "fcgi/listener.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <string>
#include <vector>

namespace frontline {
namespace {

sockaddr_storage Peer(const std::string& address, int port = 40000) {
  sockaddr_storage peer{};
  if (address == "unix") {
    peer.ss_family = AF_UNIX;
  } else if (address.find(':') == std::string::npos) {
    auto& in = reinterpret_cast<sockaddr_in&>(peer);
    in.sin_family = AF_INET;
    in.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(inet_pton(AF_INET, address.c_str(), &in.sin_addr) == 1);
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(peer);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<uint16_t>(port));
    REQUIRE(inet_pton(AF_INET6, address.c_str(), &in6.sin6_addr) == 1);
  }
  return peer;
}

TEST_CASE("PeerAllowList admits exactly the listed addresses") {
  struct Case {
    const char* list;
    const char* peer;
    bool allowed;
  };
  const Case cases[] = {
      {"", "203.0.113.9", true},  // no list: everyone
      {" , ", "203.0.113.9", true},
      {"10.0.0.5", "10.0.0.5", true},
      {"10.0.0.5", "10.0.0.6", false},
      {"10.0.0.5,127.0.0.1", "127.0.0.1", true},
      {"10.0.0.5, 127.0.0.1 ", "127.0.0.1", true},  // spaces around entries
      {"10.0.0.5", "127.0.0.1", false},
      {"fd00::5", "fd00::5", true},
      {"fd00::5", "fd00::6", false},
      {"10.0.0.5", "::ffff:10.0.0.5", true},  // IPv4 client of a dual-stack socket
      {"10.0.0.5", "::ffff:10.0.0.6", false},
      {"fd00::5", "10.0.0.5", false},
      {"10.0.0.5", "unix", true},  // unix sockets: file permissions decide
  };
  for (const Case& c : cases) {
    CAPTURE(c.list);
    CAPTURE(c.peer);
    std::string error;
    std::optional<PeerAllowList> list = PeerAllowList::Parse(c.list, &error);
    REQUIRE(list.has_value());
    CHECK(list->Allows(Peer(c.peer)) == c.allowed);
  }
}

TEST_CASE("PeerAllowList refuses entries that are not addresses") {
  for (const char* bad : {"nginx.internal", "10.0.0.5,10.0.0", "10.0.0.0/8", "::1]"}) {
    CAPTURE(bad);
    std::string error;
    CHECK_FALSE(PeerAllowList::Parse(bad, &error).has_value());
    CHECK(error.find("is not an IPv4 or IPv6 address") != std::string::npos);
  }
}

TEST_CASE("DescribePeer names TCP peers with their port") {
  CHECK(DescribePeer(Peer("10.0.0.5", 51234)) == "10.0.0.5:51234");
  CHECK(DescribePeer(Peer("fd00::5", 8080)) == "[fd00::5]:8080");
  CHECK(DescribePeer(Peer("unix")) == "unix");
}

// A listening TCP socket on 127.0.0.1 and a way to connect to it.
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
  // A client connected to the socket (the kernel completes it before anyone accepts).
  int Connect() const {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(client, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    return client;
  }
};

TEST_CASE("Listener accepts allowed peers, drops others, and Wake ends every wait") {
  TcpSocket server;
  std::vector<std::string> refused;
  std::string error;
  Listener allowed(server.fd, *PeerAllowList::Parse("127.0.0.1", &error), {});
  int client = server.Connect();
  int connection = allowed.Accept();
  CHECK(connection >= 0);
  close(connection);
  close(client);

  Listener strict(server.fd, *PeerAllowList::Parse("10.0.0.5", &error),
                  [&refused](const std::string& peer) { refused.push_back(peer); });
  auto waiting = std::async(std::launch::async, [&strict] { return strict.Accept(); });
  int first = server.Connect();
  int second = server.Connect();
  char byte;
  // Both are closed by the listener without a byte: read sees EOF (or a reset).
  CHECK(read(first, &byte, 1) <= 0);
  CHECK(read(second, &byte, 1) <= 0);
  strict.Wake();
  CHECK(waiting.get() == -1);
  REQUIRE(refused.size() == 2);
  CHECK(refused[0].rfind("127.0.0.1:", 0) == 0);
  CHECK(strict.Accept() == -1);  // stays woken
  close(first);
  close(second);

  // The socket itself was not shut down: it still takes connections for whoever holds it.
  int later = server.Connect();
  Listener again(server.fd, PeerAllowList(), {});
  int accepted = again.Accept();
  CHECK(accepted >= 0);
  close(accepted);
  close(later);
}

}  // namespace
}  // namespace frontline
