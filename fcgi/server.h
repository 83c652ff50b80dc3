// The FastCGI server: N request threads that each own one FCGX_Request, take connections from
// the Listener, and answer requests through the router; stops gracefully. Start/Stop/Wait are
// called from main's thread; Stop is also safe to call from any thread.
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

#include "fcgi/listener.h"
#include "fcgi/log.h"
#include "handlers/metrics.h"
#include "handlers/services.h"

namespace frontline {

class Server {
 public:
  // `listener` must outlive the server.
  Server(Listener& listener, int threads, Services& services, Log& log, Metrics& metrics);
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

  Listener& listener_;
  int thread_count_;
  Services& services_;
  Log& log_;
  Metrics& metrics_;
  std::atomic<bool> stopping_{false};
  std::mutex done_mutex_;
  std::condition_variable done_;
  int running_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace frontline

#endif  // FRONTLINE_FCGI_SERVER_H_
