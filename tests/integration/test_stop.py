"""Signals at every phase (start-up, serving, draining), a graceful stop with nginx keeping
FastCGI connections alive (fastcgi_keep_conn on), and peers that send nothing or dribble."""
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import fastcgi_client
from stack import AUTH_TOKEN, BIN, Stack, import_empty_directory, new_directory, read_text, wait_for

HEALTH = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "REQUEST_URI": "/healthz"}
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
STOP_SIGNALS = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGHUP - 1))


def status_mask(path, field):
    """A signal mask line of /proc/PID[/task/TID]/status ("SigBlk", "SigCgt") as an int."""
    for line in read_text(path).splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    return 0


def socket_fds(pid):
    """How many sockets process `pid` holds open (the listening one included)."""
    count = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            count += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return count


def partial_request(path, body_sent=b"ab", length=5):
    """Opens a FastCGI request to the unix socket `path` whose body is still arriving."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path)
    params = dict(HEALTH, CONTENT_LENGTH=str(length))
    s.sendall(fastcgi_client._record(fastcgi_client.FCGI_BEGIN_REQUEST, b"\x00\x01" + b"\x00" * 6) +
              fastcgi_client._record(fastcgi_client.FCGI_PARAMS, fastcgi_client.encode_params(params)) +
              fastcgi_client._record(fastcgi_client.FCGI_PARAMS, b"") +
              fastcgi_client._record(fastcgi_client.FCGI_STDIN, body_sent))
    return s


def finish_request(s, rest=b"cde"):
    """Sends the rest of a partial_request's body; returns the whole reply."""
    s.sendall(fastcgi_client._record(fastcgi_client.FCGI_STDIN, rest) +
              fastcgi_client._record(fastcgi_client.FCGI_STDIN, b""))
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    s.close()
    return reply


def closed_within(s, seconds):
    """True when the responder closed `s` (EOF or reset) within `seconds`."""
    s.settimeout(seconds)
    try:
        while True:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def pid_of(response):
    return response.json()["pid"]


class StartUp(unittest.TestCase):
    """Signals sent while the process starts (before it serves) wait for it to be ready, and
    are then honoured: never lost, never fatal for SIGHUP. The start-up is held at a known
    point: the --templates file is a FIFO, so loading it waits until the test writes it."""

    def start(self, d):
        db = new_directory(d)
        import_empty_directory(db)
        self.fifo = os.path.join(d, "templates.json")
        os.mkfifo(self.fifo)
        proc = subprocess.Popen([BIN, "--listen", "unix:" + os.path.join(d, "s.sock"),
                                 "--directory", db, "--templates", self.fifo,
                                 "--log-file", os.path.join(d, "log")],
                                env=ENV, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=d)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        self.addCleanup(proc.stderr.close)
        # Its stop signals are blocked from the start; it cannot serve (nor wait for signals)
        # before the FIFO is written, so from here until release() it is in start-up.
        wait_for(lambda: status_mask("/proc/%d/status" % proc.pid, "SigBlk") & STOP_SIGNALS ==
                 STOP_SIGNALS or proc.poll() is not None, timeout=10, what="signals blocked")
        self.assertIsNone(proc.poll(), "exited during start-up")
        return proc

    def release(self):
        """Lets start-up go on: writes the templates file."""
        with open(self.fifo, "w") as f:
            f.write('[{"display_name":"Openers","templates":[{"content":"Hello {{Name}}"}]}]')

    def test_sigterm_during_start_up_stops_it_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig), tempfile.TemporaryDirectory() as d:
                proc = self.start(d)
                proc.send_signal(sig)
                time.sleep(0.2)
                self.assertIsNone(proc.poll(), "the signal killed it during start-up")
                self.release()
                self.assertEqual(proc.wait(timeout=20), 0, proc.stderr.read())
                log = read_text(os.path.join(d, "log"))
                self.assertIn("serving", log)
                self.assertIn("stopped", log)

    def test_sighup_during_start_up_is_not_fatal(self):
        with tempfile.TemporaryDirectory() as d:
            proc = self.start(d)
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            self.assertIsNone(proc.poll(), "SIGHUP killed it during start-up")
            self.release()
            path = os.path.join(d, "s.sock")
            wait_for(lambda: os.path.exists(path), what="the socket")
            self.assertEqual(fastcgi_client.request(path, HEALTH)[0], 200)
            self.assertIsNone(proc.poll())
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=20), 0)


class Serving(unittest.TestCase):
    def test_every_thread_blocks_the_stop_signals_and_no_handler_is_installed(self):
        """libfcgi's FCGX_Init installs a SIGTERM handler that makes every later read fail; no
        thread may take a stop signal by a handler, so each one's mask blocks them all and no
        handler is left (SigCgt), for TERM, INT, HUP nor libfcgi's USR1."""
        env = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}  # the outbox dispatcher runs too
        with Stack(args=["--twilio.api-base", "http://127.0.0.1:9"], env=env) as stack:
            stack.get("/healthz")
            pid = stack.responder.pid
            tasks = os.listdir("/proc/%d/task" % pid)
            self.assertGreaterEqual(len(tasks), 4 + 2)  # request threads, dispatcher, watchdog
            for tid in tasks:
                if int(tid) == pid:
                    # Main's thread waits in sigtimedwait, during which the kernel shows the
                    # waited-for signals as unblocked: it is the one meant to take them.
                    continue
                blocked = status_mask("/proc/%d/task/%s/status" % (pid, tid), "SigBlk")
                self.assertEqual(blocked & STOP_SIGNALS, STOP_SIGNALS, "thread %s" % tid)
            caught = status_mask("/proc/%d/status" % pid, "SigCgt")
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
                self.assertFalse(caught & (1 << (sig - 1)), "a handler for %s" % sig)

    def test_sighup_during_a_request_is_not_fatal(self):
        with Stack() as stack:
            s = partial_request(stack.socket_path)
            time.sleep(0.2)
            stack.responder.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            self.assertIsNone(stack.responder.poll())
            self.assertIn(b"Status: 200", finish_request(s))
            self.assertEqual(stack.get("/healthz").status, 200)


class Draining(unittest.TestCase):
    def test_signals_while_draining_neither_kill_nor_hurry_it(self):
        with Stack() as stack:
            s = partial_request(stack.socket_path)
            time.sleep(0.2)
            stack.responder.send_signal(signal.SIGTERM)
            wait_for(lambda: "stopping" in stack.read_log(), what="the stop to begin")
            os.rename(stack.log_path, stack.log_path + ".1")
            stack.responder.send_signal(signal.SIGHUP)
            wait_for(lambda: os.path.exists(stack.log_path), what="the log reopened")
            stack.responder.send_signal(signal.SIGTERM)
            stack.responder.send_signal(signal.SIGINT)
            time.sleep(0.3)
            self.assertIsNone(stack.responder.poll(), "exited with a request in flight")
            self.assertIn(b"Status: 200", finish_request(s))
            self.assertEqual(stack.responder.wait(timeout=10), 0)
            log = stack.read_log()
            self.assertIn("already stopping", log)
            self.assertIn("stopped", log)

    def test_the_stop_deadline_abandons_what_still_runs_and_exits_non_zero(self):
        # A read timeout longer than the 15 s stop deadline, so the request outlives it.
        with Stack(args=["--read-timeout", "60"]) as stack:
            s = partial_request(stack.socket_path)
            time.sleep(0.2)
            started = time.monotonic()
            stack.responder.send_signal(signal.SIGTERM)
            code = stack.responder.wait(timeout=40)
            elapsed = time.monotonic() - started
            s.close()
            self.assertNotEqual(code, 0)
            self.assertGreater(elapsed, 14)
            log = stack.read_log()
            self.assertIn("abandoned at the stop deadline", log)
            self.assertIn("request still arriving", log)


class KeepAlive(unittest.TestCase):
    """nginx with an upstream keepalive pool and fastcgi_keep_conn on."""

    def fill_the_pool(self, stack, parallel=6, rounds=5):
        def client():
            for _ in range(rounds):
                self.assertEqual(stack.get("/healthz").status, 200)
        threads = [threading.Thread(target=client) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def test_sigterm_with_idle_kept_connections_exits_at_once(self):
        with Stack(keepalive=True) as stack:
            self.fill_the_pool(stack)
            pid = stack.responder.pid
            # The listening socket plus kept-alive connections that nginx left open.
            self.assertGreater(socket_fds(pid), 1)
            started = time.monotonic()
            stack.responder.send_signal(signal.SIGTERM)
            self.assertEqual(stack.responder.wait(timeout=20), 0)
            self.assertLess(time.monotonic() - started, 3.0)

    def test_after_sigterm_no_request_is_taken_on_any_connection(self):
        with Stack(keepalive=True, children=2) as stack:
            seen = set()
            deadline = time.monotonic() + 10
            while seen != set(stack.pids) and time.monotonic() < deadline:
                self.fill_the_pool(stack, parallel=4, rounds=2)
                seen |= {pid_of(stack.get("/healthz")) for _ in range(4)}
            # Stop a child that served (so nginx keeps connections to it). Under load one
            # child may take every connection within the 10 s; that one is stopped then.
            self.assertTrue(seen, "no child served")
            stopped = sorted(seen)[0]
            survivor = next(p for p in stack.pids if p != stopped)
            started = time.monotonic()
            os.kill(stopped, signal.SIGTERM)
            time.sleep(1.0)
            answers = [stack.get("/healthz") for _ in range(20)]
            self.assertEqual([r.status for r in answers], [200] * 20)
            self.assertEqual({pid_of(r) for r in answers}, {survivor})
            wait_for(lambda: not Stack._alive(stopped), timeout=5, what="the stopped child")
            self.assertLess(time.monotonic() - started, 4.0)


class SlowPeers(unittest.TestCase):
    def test_connections_that_send_nothing_do_not_hold_the_request_threads(self):
        with Stack(args=["--threads", "4", "--read-timeout", "2"]) as stack:
            silent = []
            for _ in range(8):
                s = socket.socket(socket.AF_UNIX)
                s.connect(stack.socket_path)
                silent.append(s)
            time.sleep(0.2)
            for _ in range(10):
                started = time.monotonic()
                self.assertEqual(stack.get("/healthz").status, 200)
                self.assertLess(time.monotonic() - started, 1.0)
            # Each silent one is closed once the read timeout passed.
            for s in silent:
                self.assertTrue(closed_within(s, 5))
                s.close()
            wait_for(lambda: stack.read_log().count("no request within the read timeout") == 8,
                     what="a log line for each silent connection")

    def test_a_dribbling_request_is_cut_off_at_the_read_timeout(self):
        with Stack(args=["--threads", "1", "--read-timeout", "2"]) as stack:
            s = socket.socket(socket.AF_UNIX)
            s.connect(stack.socket_path)
            record = fastcgi_client._record(fastcgi_client.FCGI_BEGIN_REQUEST,
                                            struct.pack(">HB5x", 1, 0))
            record += fastcgi_client._record(fastcgi_client.FCGI_PARAMS,
                                             fastcgi_client.encode_params(HEALTH))
            started = time.monotonic()
            cut = False
            for i in range(len(record)):  # one byte every 0.25 s: 20 s for the whole request
                try:
                    s.sendall(record[i:i + 1])
                except OSError:
                    cut = True
                    break
                s.settimeout(0.25)
                try:
                    if not s.recv(4096):
                        cut = True
                        break
                except socket.timeout:
                    pass
                except OSError:
                    cut = True
                    break
            elapsed = time.monotonic() - started
            s.close()
            self.assertTrue(cut)
            self.assertLess(elapsed, 5)
            wait_for(lambda: "cut off" in stack.read_log(), what="the log line")
            # The only request thread is free again.
            self.assertEqual(stack.get("/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
