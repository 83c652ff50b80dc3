// The FastCGI server: N request threads that each own one FCGX_Request, take connections with
// a request to read from the ConnectionSet, and answer through the router; stops gracefully.
// Start/Stop/Wait/Abandoned are called from main's thread; Stop is also safe from any thread.
#ifndef FRONTLINE_FCGI_SERVER_H_
#define FRONTLINE_FCGI_SERVER_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcgiapp.h>

#include "fcgi/connections.h"
#include "fcgi/log.h"
#include "handlers/metrics.h"
#include "handlers/services.h"

namespace frontline {

class Server {
 public:
  // `connections` must outlive the server.
  Server(ConnectionSet& connections, int threads, Services& services, Log& log, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void Start();
  // No new request is taken on any connection; requests being read or handled finish, and
  // idle kept-alive connections are closed at once. Idempotent.
  void Stop();
  // Waits up to `timeout` for every thread to finish its request. True when all did (the
  // threads are joined then).
  bool Wait(std::chrono::milliseconds timeout);
  // The requests still running, one line each ("req=… route=… for 12.3 s"), for the log when
  // the stop deadline expires.
  std::vector<std::string> Abandoned() const;

 private:
  // What one request thread is doing, for Abandoned().
  struct Activity {
    mutable std::mutex mutex;
    bool busy = false;
    std::string request_id;
    std::string route;
    std::chrono::steady_clock::time_point started;
  };

  void Serve(Activity& activity);
  void HandleOne(FCGX_Request& fcgi, const Connection& connection, Activity& activity);

  ConnectionSet& connections_;
  int thread_count_;
  Services& services_;
  Log& log_;
  Metrics& metrics_;
  std::mutex done_mutex_;
  std::condition_variable done_;
  int running_ = 0;
  std::vector<std::unique_ptr<Activity>> activities_;
  std::vector<std::thread> threads_;
};

}  // namespace frontline

#endif  // FRONTLINE_FCGI_SERVER_H_
