#include "fcgi/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace frontline {
namespace {

sigset_t ServeSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

void SetDisposition(int signal_number, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  sigaction(signal_number, &action, nullptr);
}

}  // namespace

void BlockServeSignals() {
  sigset_t set = ServeSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void UnblockServeSignals() {
  sigset_t set = ServeSignals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void TakeOverSignals() {
  SetDisposition(SIGTERM, SIG_DFL);
  SetDisposition(SIGINT, SIG_DFL);
  SetDisposition(SIGHUP, SIG_DFL);
  SetDisposition(SIGUSR1, SIG_IGN);
  SetDisposition(SIGPIPE, SIG_IGN);
}

int WaitForServeSignal(std::chrono::milliseconds timeout) {
  sigset_t set = ServeSignals();
  timespec wait{};
  wait.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  wait.tv_nsec = static_cast<long>(timeout.count() % 1000 * 1000000);
  for (;;) {
    int signal_number = sigtimedwait(&set, nullptr, &wait);
    if (signal_number > 0) return signal_number;
    if (errno == EAGAIN) return 0;
    if (errno != EINTR) return 0;
  }
}

}  // namespace frontline
