// The FastCGI server: finds or opens the listening socket, runs N request threads that each own
// one FCGX_Request (accept serialised by a mutex, as libfcgi's threaded example requires), and
// stops gracefully. Start/Stop/Wait are called from main's thread; Stop is also safe to call
// from any thread.
#ifndef FRONTLINE_FCGI_SERVER_H_
#define FRONTLINE_FCGI_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcgiapp.h>

#include "fcgi/log.h"
#include "handlers/metrics.h"
#include "handlers/services.h"

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

class Server {
 public:
  Server(int listen_fd, int threads, Services& services, Log& log, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void Start();
  // Stops accepting; requests already read are answered. Idempotent.
  void Stop();
  // Waits until every thread has finished its request, up to `deadline`. True when all did.
  bool Wait(std::chrono::milliseconds deadline);

 private:
  void Serve();
  void HandleOne(FCGX_Request& fcgi);

  int listen_fd_;
  int thread_count_;
  Services& services_;
  Log& log_;
  Metrics& metrics_;
  std::mutex accept_mutex_;
  std::atomic<bool> stopping_{false};
  std::mutex done_mutex_;
  std::condition_variable done_;
  int running_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace frontline

#endif  // FRONTLINE_FCGI_SERVER_H_
