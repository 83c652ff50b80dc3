// The signals of a serving process: SIGTERM/SIGINT (stop), SIGHUP (reopen the log). They are
// blocked in main's thread before any other thread exists, so every thread inherits the mask
// and none of them, nor a signal handler, ever takes one: main's thread alone receives them
// with sigtimedwait. libfcgi's FCGX_Init installs handlers of its own (SIGTERM and SIGUSR1 set
// its "shutdown pending" flag, after which every libfcgi read fails, even of a request in
// flight); TakeOverSignals removes them again.
//
// Thread-safety: BlockServeSignals and TakeOverSignals change process-wide state; call them
// from main's thread only, the first before any thread starts. WaitForServeSignal may only
// be called from main's thread.
#ifndef FRONTLINE_FCGI_SIGNALS_H_
#define FRONTLINE_FCGI_SIGNALS_H_

#include <chrono>

namespace frontline {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every thread it starts).
void BlockServeSignals();
// Undoes BlockServeSignals, for the commands that do not serve (Ctrl-C ends an import).
void UnblockServeSignals();
// After FCGX_Init: SIGTERM, SIGINT and SIGHUP back to their default action (still blocked, so
// they wait for WaitForServeSignal; SIG_IGN inherited from a parent would discard them),
// SIGUSR1 and SIGPIPE ignored. No libfcgi handler is left installed.
void TakeOverSignals();
// The next blocked signal, waiting at most `timeout`; 0 when none came.
int WaitForServeSignal(std::chrono::milliseconds timeout);

}  // namespace frontline

#endif  // FRONTLINE_FCGI_SIGNALS_H_
