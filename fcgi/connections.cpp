#include "fcgi/connections.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace frontline {
namespace {

// epoll data of the two descriptors that are not connections; a connection's is
// generation << 32 | fd, and generations start at 1.
constexpr uint64_t kListenTag = 0xffffffff00000000ull;
constexpr uint64_t kWakeTag = 0xfffffffe00000000ull;

uint64_t Tag(int fd, uint32_t generation) {
  return static_cast<uint64_t>(generation) << 32 | static_cast<uint32_t>(fd);
}

bool ConnectionWentAway(int error) {
  switch (error) {
    case EAGAIN:
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;  // accept(2), "Error handling": the connection went away, not the socket
    default:
      return false;
  }
}

}  // namespace

ConnectionSet::ConnectionSet(int listen_fd, PeerAllowList allowed, ConnectionTimeouts timeouts,
                             NoticeFn notice)
    : listen_fd_(listen_fd),
      allowed_(std::move(allowed)),
      timeouts_(timeouts),
      notice_(std::move(notice)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int saved = errno;
    close(epoll_fd_);
    throw std::system_error(saved, std::generic_category(), "eventfd");
  }
  int flags = fcntl(listen_fd_, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK);
  // Level-triggered, so every thread that waits sees the wake-up, and a connection left in
  // the backlog is reported again to the next waiter. (Not EPOLLEXCLUSIVE: it would hand
  // every connection to the same idle process of those sharing the socket.)
  epoll_event listen_event{};
  listen_event.events = EPOLLIN;
  listen_event.data.u64 = kListenTag;
  epoll_event wake_event{};
  wake_event.events = EPOLLIN;
  wake_event.data.u64 = kWakeTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event) != 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event) != 0) {
    int saved = errno;
    close(wake_fd_);
    close(epoll_fd_);
    throw std::system_error(saved, std::generic_category(), "epoll_ctl on the listening socket");
  }
  watchdog_ = std::thread([this] { Watch(); });
}

ConnectionSet::~ConnectionSet() {
  {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    watch_done_ = true;
  }
  watch_wake_.notify_all();
  watchdog_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t fd = 0; fd < slots_.size(); ++fd) {
      if (slots_[fd].state != State::kFree) CloseLocked(static_cast<int>(fd), slots_[fd]);
    }
  }
  close(wake_fd_);
  close(epoll_fd_);
}

std::optional<Connection> ConnectionSet::Next() {
  for (;;) {
    epoll_event event{};
    int ready = epoll_wait(epoll_fd_, &event, 1, -1);
    if (ready < 0 && errno != EINTR) {
      // Only EBADF/EFAULT/EINVAL, none of which can happen with our own epoll descriptor.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (ready <= 0) continue;
    if (event.data.u64 == kWakeTag) return std::nullopt;
    if (event.data.u64 == kListenTag) {
      AcceptOne();
      continue;
    }
    int fd = static_cast<int>(event.data.u64 & 0xffffffffu);
    uint32_t generation = static_cast<uint32_t>(event.data.u64 >> 32);
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return std::nullopt;
    // An event may describe a connection that the watchdog or Stop closed meanwhile (and
    // whose fd number may already belong to a newer connection): the generation tells.
    if (static_cast<size_t>(fd) >= slots_.size()) continue;
    Slot& slot = slots_[static_cast<size_t>(fd)];
    if (slot.generation != generation || (slot.state != State::kNew && slot.state != State::kIdle)) {
      continue;
    }
    slot.state = State::kReading;
    slot.deadline = std::chrono::steady_clock::now() + timeouts_.read;
    return Connection{fd, generation};
  }
}

void ConnectionSet::AcceptOne() {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  // Blocking (no SOCK_NONBLOCK): libfcgi reads and writes the connection with plain read(2).
  int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (ConnectionWentAway(error)) return;
    // Out of descriptors or memory: the connection stays in the backlog and the socket stays
    // readable, so pause instead of spinning, and say so at most once a second.
    bool report = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto now = std::chrono::steady_clock::now();
      if (now - last_accept_error_ >= std::chrono::seconds(1)) {
        last_accept_error_ = now;
        report = true;
      }
    }
    if (report && notice_) notice_(ConnectionNotice::kAcceptError, "", std::strerror(error));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return;
  }
  if (!allowed_.Allows(peer)) {
    close(fd);
    if (notice_) notice_(ConnectionNotice::kRefused, DescribePeer(peer), "");
    return;
  }
  if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
    int one = 1;  // a response is written in few pieces; do not hold the last one back
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  // A web server that stops reading our answer must not hold a request thread for ever.
  timeval send_timeout{};
  send_timeout.tv_sec = static_cast<time_t>(timeouts_.read.count() / 1000);
  send_timeout.tv_usec = static_cast<suseconds_t>(timeouts_.read.count() % 1000 * 1000);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);

  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) {
    close(fd);
    return;
  }
  if (static_cast<size_t>(fd) >= slots_.size()) slots_.resize(static_cast<size_t>(fd) + 64);
  Slot& slot = slots_[static_cast<size_t>(fd)];
  ++slot.generation;
  if (slot.generation == 0 || slot.generation == 0xffffffffu || slot.generation == 0xfffffffeu) {
    slot.generation = 1;  // never 0, and never the tags of the listening socket or eventfd
  }
  slot.state = State::kNew;
  slot.deadline = std::chrono::steady_clock::now() + timeouts_.read;
  slot.peer = peer;
  ++open_;
  if (!Arm(fd, slot, EPOLL_CTL_ADD)) CloseLocked(fd, slot);
}

bool ConnectionSet::Arm(int fd, const Slot& slot, int op) {
  epoll_event event{};
  // One-shot: the event goes to one thread, and the connection is not reported again until
  // it is re-armed after its request.
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  event.data.u64 = Tag(fd, slot.generation);
  return epoll_ctl(epoll_fd_, op, fd, &event) == 0;
}

void ConnectionSet::CloseLocked(int fd, Slot& slot) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  slot.state = State::kFree;
  --open_;
}

void ConnectionSet::Handling(const Connection& connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = slots_[static_cast<size_t>(connection.fd)];
  if (slot.generation == connection.generation && slot.state == State::kReading) {
    slot.state = State::kHandling;
  }
}

void ConnectionSet::Done(const Connection& connection, bool keep) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = slots_[static_cast<size_t>(connection.fd)];
  if (slot.generation != connection.generation || slot.state == State::kFree) return;
  keep = keep && !stopping_ && slot.state != State::kCutOff;
  if (keep) {
    slot.state = State::kIdle;
    slot.deadline = std::chrono::steady_clock::now() + timeouts_.idle;
    if (Arm(connection.fd, slot, EPOLL_CTL_MOD)) return;
  }
  CloseLocked(connection.fd, slot);
}

void ConnectionSet::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    // New connections are for the other processes sharing the socket (or the next start).
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    for (size_t fd = 0; fd < slots_.size(); ++fd) {
      Slot& slot = slots_[fd];
      if (slot.state == State::kNew || slot.state == State::kIdle) {
        CloseLocked(static_cast<int>(fd), slot);
      }
    }
  }
  uint64_t one = 1;
  // Level-triggered: the counter stays non-zero, so every later epoll_wait returns at once too.
  // Only EAGAIN (counter at its maximum) could fail here, and it means already woken.
  if (write(wake_fd_, &one, sizeof one) < 0) return;
}

size_t ConnectionSet::open_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_;
}

void ConnectionSet::Watch() {
  // Deadlines are kept to within a tenth of the read timeout (between 10 ms and 250 ms).
  auto tick = std::clamp<std::chrono::milliseconds>(timeouts_.read / 10, std::chrono::milliseconds(10),
                                                    std::chrono::milliseconds(250));
  std::unique_lock<std::mutex> watch_lock(watch_mutex_);
  while (!watch_wake_.wait_for(watch_lock, tick, [this] { return watch_done_; })) {
    std::vector<PendingNotice> notices;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto now = std::chrono::steady_clock::now();
      for (size_t fd = 0; fd < slots_.size(); ++fd) {
        Slot& slot = slots_[fd];
        if (slot.state == State::kFree || slot.state == State::kHandling ||
            slot.state == State::kCutOff || slot.deadline > now) {
          continue;
        }
        if (slot.state == State::kReading) {
          // The reading thread owns the descriptor; ending its read is enough. It hands the
          // connection back through Done, which closes it.
          shutdown(static_cast<int>(fd), SHUT_RDWR);
          slot.state = State::kCutOff;
          notices.push_back({ConnectionNotice::kReadTimeout, slot.peer, ""});
        } else {
          if (slot.state == State::kNew) notices.push_back({ConnectionNotice::kNoRequest, slot.peer, ""});
          CloseLocked(static_cast<int>(fd), slot);
        }
      }
    }
    watch_lock.unlock();
    Report(notices);
    watch_lock.lock();
  }
}

void ConnectionSet::Report(const std::vector<PendingNotice>& notices) {
  if (!notice_) return;
  for (const PendingNotice& n : notices) notice_(n.notice, DescribePeer(n.peer), n.detail);
}

}  // namespace frontline
