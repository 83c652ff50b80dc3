"""The real parts for integration tests: the built frontline-fcgi binary, spawned by spawn-fcgi
(socket on fd 0) or with --listen, behind a real nginx on a free loopback port, all inside a
temporary directory that is removed afterwards.

Environment: FRONTLINE_BIN (the binary, set by CTest), FRONTLINE_SOURCE_DIR (repository root),
FRONTLINE_TEST_BACKEND: "sqlite" (default) or "postgres". With "postgres" every directory a test
asks for with new_directory() (and every Stack's default one) is a new database on one PostgreSQL
server that this test process starts on first use (pg_server.py) and stops at exit; tests about
SQLite files themselves are marked sqlite_only. CTest runs the backend-neutral files both ways.
"""
import atexit
import base64
import hashlib
import hmac
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

BIN = os.environ.get("FRONTLINE_BIN", "frontline-fcgi")
SOURCE_DIR = os.environ.get(
    "FRONTLINE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
AUTH_TOKEN = "integration-test-token-0123456789"
BACKEND = os.environ.get("FRONTLINE_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError("FRONTLINE_TEST_BACKEND must be sqlite or postgres, not %r" % BACKEND)


def sqlite_only(reason):
    """Skips a test (or class) on the PostgreSQL backend: it is about SQLite files themselves
    (`reason` says how), so it has no PostgreSQL twin here."""
    return unittest.skipIf(BACKEND == "postgres", "SQLite only: " + reason)


_postgres = None
_databases = 0


def postgres_server():
    """The test process's PostgreSQL server (started on first use, stopped at exit)."""
    global _postgres
    if _postgres is None:
        from pg_server import PostgresServer  # pg_server imports this module
        server = PostgresServer()
        server.start()
        atexit.register(server.stop)
        _postgres = server
    return _postgres


def new_directory(folder, name="directory.db"):
    """A --directory value for a new, empty customer directory of the test backend: the file
    `name` in `folder` (not created) on SQLite, a new database's URI on PostgreSQL."""
    global _databases
    if BACKEND == "sqlite":
        return os.path.join(folder, name)
    server = postgres_server()
    _databases += 1
    database = "t%d" % _databases
    server.create_database(database)
    return server.uri(database)


def is_database_uri(directory):
    return directory.startswith(("postgresql:", "postgres:"))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def twilio_signature(token, url, pairs):
    """X-Twilio-Signature as Twilio's helper libraries compute it, written independently of the
    C++ code: HMAC-SHA1 over the URL followed by every distinct key+value pair sorted by key
    then value, base64-encoded."""
    data = url + "".join(k + v for k, v in sorted(set(pairs)))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError("timed out waiting for " + what)


def parse_metrics(text):
    """Prometheus text format as {'name{labels}': float}: each sample line split at its last
    space (our samples carry no timestamps)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        samples[key] = float(value)
    return samples


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        import json
        return json.loads(self.body.decode())

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:200])


def read_text(path):
    """A log or output file as text ("" while it does not exist)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def import_empty_directory(db, env=None):
    """Creates an empty customer directory at `db` (a file or a PostgreSQL URI) with
    `frontline-fcgi import`: serve, export and outbox refuse a directory file that does not
    exist (SPEC §8)."""
    fd, empty = tempfile.mkstemp(suffix=".json", prefix="empty-directory-")
    with os.fdopen(fd, "w") as f:
        f.write("[]")
    try:
        subprocess.run([BIN, "import", "--directory", db, empty], check=True, capture_output=True,
                       timeout=30, env=env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    finally:
        os.unlink(empty)


def launch_nginx(run_dir, conf):
    """Writes `conf` to run_dir/nginx.conf and starts nginx on it (prefix run_dir, error log
    run_dir/nginx-error.log) in the foreground; returns its Popen."""
    path = os.path.join(run_dir, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return subprocess.Popen(
        ["nginx", "-p", run_dir, "-c", path, "-e", os.path.join(run_dir, "nginx-error.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Signals `proc` (a Popen; None or exited: nothing to do) and waits; kills it if it
    outlives `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http_request(port, method, path, body=None, headers=None, timeout=15, tls_context=None):
    """One HTTP/1.1 request to 127.0.0.1:`port` (HTTPS with `tls_context`); the whole answer."""
    if tls_context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                           context=tls_context)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


class Stack:
    """nginx + frontline-fcgi. Use as a context manager or call start()/stop()."""

    def __init__(self, args=(), env=None, token=AUTH_TOKEN, launcher="spawn-fcgi",
                 public_url=None, children=1, keepalive=False, create_directory=True):
        self.dir = tempfile.mkdtemp(prefix="frontline-it-")
        self.port = free_port()
        self.socket_path = os.path.join(self.dir, "fcgi.sock")
        self.log_path = os.path.join(self.dir, "responder.log")
        self.args = list(args)
        self.token = token
        self.launcher = launcher
        self.children = children
        self.keepalive = keepalive  # nginx keeps FastCGI connections open between requests
        # A --directory file that does not exist yet is imported empty first (serve refuses it).
        self.create_directory = create_directory
        self.public_url = public_url if public_url is not None else "http://127.0.0.1:%d" % self.port
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if token:
            self.env["TWILIO_AUTH_TOKEN"] = token
        if env:
            self.env.update(env)
        # Without --directory in args: a new directory of the test backend.
        self.default_directory = None if "--directory" in self.args else \
            new_directory(self.dir)
        self.responder = None
        self.pids = []  # the responders spawn-fcgi -F forked (children > 1)
        self.nginx = None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def start(self):
        """Starts the responder, then nginx; on any failure stops what did start."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    def responder_command(self):
        cmd = [BIN, "--log-file", self.log_path]
        if "--threads" not in self.args:
            cmd += ["--threads", "4"]
        if self.default_directory is not None:
            cmd += ["--directory", self.default_directory]
        if self.public_url:
            cmd += ["--public-url", self.public_url]
        return cmd + self.args

    def directory_path(self):
        """The responder's --directory: a file (relative paths are in self.dir, its cwd) or a
        PostgreSQL URI."""
        cmd = self.responder_command()
        directory = cmd[cmd.index("--directory") + 1]
        return directory if is_database_uri(directory) else os.path.join(self.dir, directory)

    def _start(self):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        # (On PostgreSQL an empty import into a directory that exists changes nothing.)
        directory = self.directory_path()
        if self.create_directory and (is_database_uri(directory) or
                                      not os.path.exists(directory)):
            import_empty_directory(directory)
        self.pids = []
        if self.launcher == "spawn-fcgi" and self.children > 1:
            self._start_children()
            self.start_nginx()
            wait_for(self._healthy, what="GET /healthz through nginx")
            return
        if self.launcher == "spawn-fcgi":
            # -n keeps spawn-fcgi in the foreground as the responder itself (exec), so we get
            # its exit code and signals reach it directly.
            cmd = ["spawn-fcgi", "-n", "-s", self.socket_path, "-M", "0666", "--"] + \
                self.responder_command()
        else:
            cmd = self.responder_command() + ["--listen", "unix:" + self.socket_path]
        self.stderr = open(os.path.join(self.dir, "responder.stderr"), "wb")
        self.responder = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=self.stderr, stderr=self.stderr,
                                          cwd=self.dir)
        wait_for(lambda: os.path.exists(self.socket_path) or self.responder.poll() is not None,
                 what="the FastCGI socket")
        if self.responder.poll() is not None:
            raise RuntimeError("responder exited %d: %s" % (self.responder.returncode,
                                                          self.read_stderr()))
        self.start_nginx()
        wait_for(self._healthy, what="GET /healthz through nginx")

    def _start_children(self):
        """spawn-fcgi -F N (which does not work with -n): it forks N responders sharing the
        socket, writes their pids to a pid file and exits; self.pids are the responders."""
        pid_file = os.path.join(self.dir, "responders.pid")
        cmd = ["spawn-fcgi", "-s", self.socket_path, "-M", "0666", "-F", str(self.children),
               "-P", pid_file, "--"] + self.responder_command()
        self.stderr = open(os.path.join(self.dir, "responder.stderr"), "wb")
        launcher = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=self.stderr, stderr=self.stderr, cwd=self.dir)
        code = launcher.wait(timeout=20)
        try:
            with open(pid_file) as f:
                self.pids = [int(line) for line in f.read().split()]
        except FileNotFoundError:
            pass
        if code != 0 or len(self.pids) != self.children:
            raise RuntimeError("spawn-fcgi exited %d with pids %r: %s" % (
                code, self.pids, self.read_stderr()))

    @staticmethod
    def _alive(pid):
        """True while `pid` runs (a zombie nobody reaped counts as gone)."""
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, IndexError, ProcessLookupError):
            return False

    def _stop_children(self, sig, timeout):
        """Signals every spawned responder; 0 once all are gone (their exit codes belong to
        whoever reaps them), else raises subprocess.TimeoutExpired."""
        for pid in self.pids:
            if self._alive(pid):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        while any(self._alive(pid) for pid in self.pids):
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("responders %r" % self.pids, timeout)
            time.sleep(0.02)
        return 0

    def start_nginx(self):
        with open(os.path.join(SOURCE_DIR, "nginx", "frontline-dev.conf.in")) as f:
            conf = f.read()
        conf = (conf.replace("@RUN_DIR@", self.dir)
                    .replace("@PORT@", str(self.port))
                    .replace("@SOCKET@", self.socket_path)
                    .replace("@USER_DIRECTIVE@", "user root;" if os.geteuid() == 0 else ""))
        if self.keepalive:
            # As nginx/upstream-example.conf suggests: an upstream with idle connections kept
            # (keepalive) and FCGI_KEEP_CONN asked of the responder (fastcgi_keep_conn).
            conf = conf.replace("fastcgi_pass unix:%s;" % self.socket_path,
                                "fastcgi_pass frontline_kept; fastcgi_keep_conn on;")
            conf = conf.replace("http {", "http {\n    upstream frontline_kept {\n"
                                "        server unix:%s;\n        keepalive 16;\n    }"
                                % self.socket_path, 1)
        self.nginx = launch_nginx(self.dir, conf)

    def _healthy(self):
        if self.nginx.poll() is not None:
            raise RuntimeError("nginx exited: " + self.read_file("nginx-error.log"))
        try:
            return self.get("/healthz").status == 200
        except OSError:
            return False

    def stop_responder(self, sig=signal.SIGTERM, timeout=20):
        """Signals the responder and returns its exit code."""
        if self.pids:
            return self._stop_children(sig, timeout)
        if self.responder is None or self.responder.poll() is not None:
            return self.responder.returncode if self.responder else None
        self.responder.send_signal(sig)
        return self.responder.wait(timeout=timeout)

    def stop(self):
        code = None
        stop_process(self.nginx, signal.SIGQUIT)
        if self.responder is not None or self.pids:
            try:
                code = self.stop_responder()
            except subprocess.TimeoutExpired:
                if self.pids:
                    self._stop_children(signal.SIGKILL, 10)
                else:
                    self.responder.kill()
                    self.responder.wait()
        if hasattr(self, "stderr"):
            self.stderr.close()
        if os.environ.get("FRONTLINE_KEEP_TEST_DIRS"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return code

    # -- inspection ------------------------------------------------------------------------
    def read_file(self, name):
        return read_text(os.path.join(self.dir, name))

    def read_stderr(self):
        return self.read_file("responder.stderr")

    def read_log(self):
        return self.read_file("responder.log")

    # -- HTTP through nginx ----------------------------------------------------------------
    def request(self, method, path, body=None, headers=None):
        return http_request(self.port, method, path, body, headers)

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def metrics(self):
        """GET /metrics parsed: {'name{labels}': value} for every sample line (comments and
        blank lines skipped). Raises when the scrape is not a 200."""
        r = self.get("/metrics")
        if r.status != 200:
            raise AssertionError("GET /metrics: %r" % r)
        return parse_metrics(r.body.decode())

    def post_form(self, path, pairs, sign=True, token=None, url=None, headers=None,
                  content_type="application/x-www-form-urlencoded"):
        """POSTs `pairs` form-encoded, signed for the URL nginx will be asked for."""
        body = urllib.parse.urlencode(pairs)
        h = {"Content-Type": content_type}
        if sign:
            signed_url = url if url is not None else self.public_url + path
            h["X-Twilio-Signature"] = twilio_signature(token or self.token, signed_url, pairs)
        h.update(headers or {})
        return self.request("POST", path, body=body.encode(), headers=h)

    def raw(self, data, read_timeout=10):
        """Sends raw bytes to nginx and returns everything it answers until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except socket.timeout:
                pass
            return b"".join(chunks)
