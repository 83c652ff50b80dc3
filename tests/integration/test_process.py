"""The process: how it finds its socket, exit codes, signals (SPEC §9)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import fastcgi_client
from stack import AUTH_TOKEN, BIN, Stack, import_empty_directory, new_directory, sqlite_only, wait_for

HEALTH = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "REQUEST_URI": "/healthz"}
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TWILIO_AUTH_TOKEN": AUTH_TOKEN}


def run(args, env=None, stdin=subprocess.DEVNULL, cwd=None):
    return subprocess.run([BIN] + args, env=env if env is not None else ENV, stdin=stdin,
                          capture_output=True, timeout=30, cwd=cwd or tempfile.gettempdir())


class ExitCodes(unittest.TestCase):
    def test_started_without_a_socket_says_how_to_run_it(self):
        r = run([])
        self.assertEqual(r.returncode, 64)
        lines = r.stderr.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("spawn-fcgi", lines[0])

    def test_usage_errors_are_64(self):
        for args in (["--bogus"], ["frobnicate"], ["--threads"]):
            with self.subTest(args=args):
                r = run(args)
                self.assertEqual(r.returncode, 64, r.stderr)
                self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1)

    def test_configuration_errors_are_78_and_name_the_option(self):
        cases = [(["--threads", "0"], "--threads"),
                 (["--listen", "nowhere"], "--listen"),
                 (["--log-format", "xml"], "--log-format"),
                 (["--public-url", "ftp://x"], "--public-url"),
                 (["--web-server-addrs", "nginx.internal"], "--web-server-addrs"),
                 (["--read-timeout", "0"], "--read-timeout"),
                 (["--crm.list-all-customers=maybe"], "--crm.list-all-customers"),
                 (["--twilio.api-base", "http://api.example.com"], "--twilio.api-base"),
                 (["--twilio.auth-token-file", "/nonexistent"], "auth-token-file")]
        for args, name in cases:
            with self.subTest(args=args):
                r = run(args)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn(name, r.stderr.decode())

    def test_serving_without_an_auth_token_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            r = run(["--listen", "unix:" + os.path.join(d, "s.sock")],
                    env={"PATH": ENV["PATH"]}, cwd=d)
            self.assertEqual(r.returncode, 78)
            self.assertIn("TWILIO_AUTH_TOKEN", r.stderr.decode())
            self.assertFalse(os.path.exists(os.path.join(d, "s.sock")))

    @sqlite_only("a directory file in a folder that does not exist")
    def test_unopenable_directory_is_78(self):
        with tempfile.TemporaryDirectory() as d:
            r = run(["--listen", "unix:" + os.path.join(d, "s.sock"),
                     "--directory", "/nonexistent/dir/directory.db"], cwd=d)
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertIn("--directory", r.stderr.decode())

    @sqlite_only("a mistyped directory file name (PostgreSQL: the schema is created by serve)")
    def test_a_directory_file_that_does_not_exist_is_refused_not_created(self):
        """serve, export and outbox refuse a mistyped --directory (78, one line naming it)
        instead of letting SQLite create an empty directory there; only import creates one."""
        env = dict(ENV, TWILIO_ACCOUNT_SID="AC" + "0" * 32)
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as sockets:
            db = os.path.join(d, "typo.db")
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(os.path.join(sockets, "fd0.sock"))
            listener.listen(4)
            cases = [(["serve", "--listen", "unix:" + os.path.join(sockets, "s.sock")], None),
                     (["serve"], listener.fileno()),  # spawn-fcgi, systemd, mod_fcgid: fd 0
                     (["export"], None), (["export", "--format", "csv"], None),
                     (["outbox"], None), (["outbox", "list"], None),
                     (["outbox", "retry", "1"], None), (["outbox", "deliver"], None)]
            try:
                for args, stdin in cases:
                    with self.subTest(args=args, fd0=stdin is not None):
                        r = run(args + ["--directory", db], env=env,
                                stdin=stdin if stdin is not None else subprocess.DEVNULL, cwd=d)
                        self.assertEqual(r.returncode, 78, r.stderr)
                        lines = r.stderr.decode().strip().splitlines()
                        self.assertEqual(len(lines), 1, r.stderr)
                        self.assertIn("--directory: " + db + " does not exist", lines[0])
                        self.assertIn("import", lines[0])
                        self.assertEqual(r.stdout, b"")
                        # No database, no -wal/-shm, and --listen made no socket.
                        self.assertEqual(os.listdir(d), [])
                        self.assertEqual(os.listdir(sockets), ["fd0.sock"])
            finally:
                listener.close()
            # import is the one command that creates it; then the others accept it.
            with open(os.path.join(sockets, "empty.json"), "w") as f:
                f.write("[]")
            r = run(["import", "--directory", db, os.path.join(sockets, "empty.json")], cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.isfile(db))
            for args in (["export"], ["outbox", "list"]):
                with self.subTest(after_import=args):
                    r = run(args + ["--directory", db], env=env, cwd=d)
                    self.assertEqual(r.returncode, 0, r.stderr)

    def test_help_version_and_check_config(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("--public-url", r.stdout.decode())
        r = run(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.decode().startswith("frontline-fcgi "))
        r = run(["check-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(AUTH_TOKEN, r.stdout.decode() + r.stderr.decode())
        self.assertIn("twilio.auth-token = ********", r.stdout.decode())

    def test_an_empty_variable_is_unset_and_never_turns_a_boolean_on(self):
        bare = {"PATH": ENV["PATH"]}
        # Empty would have meant "skip the signature check": without a token, it must refuse.
        r = run(["check-config"], env=dict(bare, FRONTLINE_INSECURE_SKIP_SIGNATURE=""))
        self.assertEqual(r.returncode, 78, r.stdout)
        self.assertIn("no Twilio auth token", r.stderr.decode())
        self.assertIn("insecure-skip-signature = false", r.stdout.decode())
        r = run(["check-config"], env=dict(ENV, FRONTLINE_LIST_ALL_CUSTOMERS="",
                                           FRONTLINE_THREADS="", PUBLIC_BASE_URL=""))
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in ("crm.list-all-customers = false", "threads = 8", "public-url = (unset)"):
            self.assertIn(line, r.stdout.decode())
        r = run(["check-config"], env=dict(ENV, FRONTLINE_INSECURE_SKIP_SIGNATURE="2"))
        self.assertEqual(r.returncode, 78)
        lines = r.stderr.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("--insecure-skip-signature", lines[0])
        self.assertIn("FRONTLINE_INSECURE_SKIP_SIGNATURE", lines[0])

    def test_check_config_hides_url_passwords(self):
        r = run(["check-config", "--public-url", "https://hook:hook-password@hooks.example.com"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("public-url = https://***@hooks.example.com", r.stdout.decode())
        self.assertNotIn("hook-password", r.stdout.decode() + r.stderr.decode())

    def test_seed_env_file_is_read_from_the_working_directory(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, ".env"), "w") as f:
                f.write("TWILIO_AUTH_TOKEN=from-dotenv\nWorker_Identity=seed@example.com\n")
            r = run(["check-config"], env={"PATH": ENV["PATH"]}, cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("routing.default-worker = seed@example.com", r.stdout.decode())
            self.assertNotIn("from-dotenv", r.stdout.decode())


class Sockets(unittest.TestCase):
    def serve_tcp(self, extra_env=None):
        """Starts the responder on a free 127.0.0.1 port; returns the port. Stops at cleanup."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        d = tempfile.mkdtemp(prefix="frontline-tcp-")
        db = new_directory(d)
        import_empty_directory(db)
        p = subprocess.Popen([BIN, "--listen", "127.0.0.1:%d" % port, "--directory", db],
                             env=dict(ENV, **(extra_env or {})),
                             stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop():
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=10), 0)
            p.stderr.close()
            shutil.rmtree(d, ignore_errors=True)
        self.addCleanup(stop)
        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return p.poll() is not None
        wait_for(listening, what="the responder's TCP socket")
        return port

    @staticmethod
    def health_over_tcp(port):
        try:
            return fastcgi_client.request(("127.0.0.1", port), HEALTH)[0]
        except OSError:
            return None

    def test_listen_on_tcp(self):
        port = self.serve_tcp()
        wait_for(lambda: self.health_over_tcp(port) == 200, what="TCP listener")

    def test_fcgi_web_server_addrs_drops_other_peers(self):
        """FCGI_WEB_SERVER_ADDRS (libfcgi's convention, which the README tells scaled-out hosts
        to set) guards the TCP socket: a peer not in the list is disconnected unanswered."""
        allowed = self.serve_tcp({"FCGI_WEB_SERVER_ADDRS": "10.0.0.5,127.0.0.1"})
        wait_for(lambda: self.health_over_tcp(allowed) == 200, what="an allowed peer answered")
        refused = self.serve_tcp({"FCGI_WEB_SERVER_ADDRS": "10.0.0.5"})
        time.sleep(0.2)
        self.assertEqual([self.health_over_tcp(refused) for _ in range(30)], [None] * 30)
        self.assertEqual(self.health_over_tcp(allowed), 200)

    def test_a_socket_other_hosts_can_reach_needs_an_allow_list(self):
        """FastCGI has no authentication: a TCP socket beyond loopback (here the wildcard, as
        --listen 0.0.0.0:PORT or spawn-fcgi -a 0.0.0.0 would make) without web-server-addrs
        is refused at start, unless --allow-any-peer says so explicitly."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with tempfile.TemporaryDirectory() as d:
            db = new_directory(d)
            import_empty_directory(db)
            r = run(["--listen", "0.0.0.0:%d" % port, "--directory", db], cwd=d)
            self.assertEqual(r.returncode, 78, r.stderr)
            message = r.stderr.decode()
            self.assertIn("0.0.0.0:%d" % port, message)
            self.assertIn("--web-server-addrs", message)
            self.assertIn("--allow-any-peer", message)
            self.assertEqual(len(message.strip().splitlines()), 1)
            # The same socket handed over on fd 0, as spawn-fcgi -a 0.0.0.0 does.
            with socket.socket() as listener:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("0.0.0.0", port))
                listener.listen(4)
                r = run(["--directory", db], stdin=listener.fileno(), cwd=d)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn("--web-server-addrs", r.stderr.decode())
        for extra in (["--web-server-addrs", "127.0.0.1"], ["--allow-any-peer"]):
            with self.subTest(extra=extra):
                d = tempfile.mkdtemp(prefix="frontline-tcp-")
                self.addCleanup(shutil.rmtree, d, True)
                db = new_directory(d)
                import_empty_directory(db)
                p = subprocess.Popen([BIN, "--listen", "0.0.0.0:%d" % port,
                                      "--directory", db] + extra,
                                     env=ENV, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
                try:
                    wait_for(lambda: self.health_over_tcp(port) == 200 or p.poll() is not None,
                             what="the responder on 0.0.0.0")
                    self.assertIsNone(p.poll(), p.stderr.read() if p.poll() is not None else "")
                finally:
                    p.send_signal(signal.SIGTERM)
                    self.assertEqual(p.wait(timeout=10), 0)
                    p.stderr.close()

    def test_stopping_one_process_leaves_the_shared_socket_listening(self):
        """systemd keeps the socket of frontline-fcgi.socket after the service stops, and
        spawn-fcgi -F / multiwatch children share theirs: a process that stops must not shut
        the socket down for the others (the next start, the sibling still running)."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "shared.sock")
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            listener.listen(16)
            db = new_directory(d)
            import_empty_directory(db)
            logs = [os.path.join(d, "responder-%d.log" % i) for i in range(2)]
            procs = [subprocess.Popen([BIN, "--directory", db, "--threads", "2",
                                       "--log-file", log], env=ENV,
                                      stdin=listener.fileno(), stderr=subprocess.DEVNULL)
                     for log in logs]

            def serving(log):
                try:
                    with open(log) as f:
                        return " serving " in f.read()
                except OSError:
                    return False
            try:
                # Both must be serving (signals set up) before one is stopped. Asked through
                # their logs: which process the kernel hands a connection to is its choice.
                wait_for(lambda: all(serving(log) for log in logs), what="both responders")
                procs[0].send_signal(signal.SIGTERM)
                self.assertEqual(procs[0].wait(timeout=10), 0)
                # Every request now lands on the survivor.
                for _ in range(20):
                    status, _, body = fastcgi_client.request(path, HEALTH)
                    self.assertEqual(status, 200)
                    self.assertIn(b'"pid":%d' % procs[1].pid, body)
                procs[1].send_signal(signal.SIGTERM)
                self.assertEqual(procs[1].wait(timeout=10), 0)
                # Like systemd, the holder of the socket can still take connections.
                with socket.socket(socket.AF_UNIX) as client:
                    client.connect(path)
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                listener.close()

    def test_systemd_listen_fds(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "sd.sock")
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(path)
            listener.listen(16)
            fd = listener.fileno()
            db = new_directory(d)
            import_empty_directory(db)

            def to_fd3():
                os.dup2(fd, 3)
            # fd 3 is kept through close_fds by naming it in pass_fds.
            # LISTEN_PID must be the responder's own pid: sh sets it, then execs in place.
            p = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', BIN,
                                  "--directory", db],
                                 env=ENV, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 pass_fds=(fd, 3), preexec_fn=to_fd3)
            listener.close()
            try:
                status, _, body = fastcgi_client.request(path, HEALTH)
                self.assertEqual(status, 200, body)
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0)
            self.assertIn(b"LISTEN_FDS", p.stderr.read())
            p.stderr.close()


class Signals(unittest.TestCase):
    # A request in flight at SIGTERM, and every signal at every phase: test_stop.py.

    def test_sigint_exits_0(self):
        with Stack() as stack:
            self.assertEqual(stack.stop_responder(signal.SIGINT), 0)

    def test_sighup_reopens_the_log_file(self):
        with Stack() as stack:
            stack.get("/healthz")
            os.rename(stack.log_path, stack.log_path + ".1")
            stack.responder.send_signal(signal.SIGHUP)
            wait_for(lambda: os.path.exists(stack.log_path), what="reopened log")
            stack.get("/healthz", headers={"X-Request-Id": "after-rotation"})
            wait_for(lambda: "after-rotation" in stack.read_log(), what="line in the new log")
            self.assertNotIn("after-rotation", stack.read_file("responder.log.1"))
            self.assertIsNone(stack.responder.poll())


if __name__ == "__main__":
    unittest.main()
