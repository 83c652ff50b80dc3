// The listening socket's helpers: which TCP peers FCGI_WEB_SERVER_ADDRS lets in, how peers are
// named in the log, and which sockets other hosts can reach.
#include "fcgi/listener.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
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

int BoundSocket(int family, const std::string& address) {
  sockaddr_storage local = Peer(address, 0);
  int fd = socket(family, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&local), length) == 0);
  REQUIRE(listen(fd, 4) == 0);
  return fd;
}

TEST_CASE("ListensBeyondLoopback tells sockets other hosts can reach") {
  struct Case {
    int family;
    const char* address;
    bool beyond;
  };
  const Case cases[] = {
      {AF_INET, "127.0.0.1", false},
      {AF_INET, "127.0.0.2", false},  // all of 127.0.0.0/8 is loopback
      {AF_INET, "0.0.0.0", true},     // the wildcard takes every interface
      {AF_INET6, "::1", false},
      {AF_INET6, "::", true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.address);
    int fd = BoundSocket(c.family, c.address);
    std::string address;
    CHECK(ListensBeyondLoopback(fd, &address) == c.beyond);
    CHECK(address.find(c.family == AF_INET ? c.address : "[") == 0);
    close(fd);
  }
  int unix_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  std::string address;
  CHECK_FALSE(ListensBeyondLoopback(unix_fd, &address));
  close(unix_fd);
}

}  // namespace
}  // namespace frontline
