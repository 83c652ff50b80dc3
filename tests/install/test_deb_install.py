"""End-to-end install test: the .deb `cpack -G DEB` builds is installed on this machine, checked
for what it must (and must not) do, run the ways an admin runs it, driven through nginx with the
shipped site file over TLS with signed requests, then purged.

The responder is started from the installed units' own ExecStart lines: under
systemd-socket-activate for frontline-fcgi.socket + .service (no systemd is PID 1 here), and
as-is for frontline-fcgi-spawn.service (spawn-fcgi -n) and its multiwatch variant. The Twilio
REST API is the stub of the integration tests.

Needs root, dpkg and apt-get, and changes the system while it runs: it is registered with CTest
only when FRONTLINE_INSTALL_TESTS=ON (scripts/test sets it when it runs as root).
Environment: FRONTLINE_BUILD_DIR (where to run cpack), FRONTLINE_SOURCE_DIR.
"""
import glob
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from stack import (free_port, http_request, read_text, stop_process,  # noqa: E402
                   twilio_signature, wait_for)
from twilio_stub import TwilioStub  # noqa: E402

BUILD_DIR = os.environ.get("FRONTLINE_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
PACKAGE = "frontline-fcgi"
CONF_DIR = "/etc/frontline-fcgi"
CONF = CONF_DIR + "/frontline-fcgi.conf"
STATE_DIR = "/var/lib/frontline-fcgi"
RUN_DIR = "/run/frontline-fcgi"
SOCKET = RUN_DIR + "/fcgi.sock"
UNIT_DIR = "/usr/lib/systemd/system"
EXAMPLES = "/usr/share/doc/frontline-fcgi/examples"
HOST = "frontline.example.com"
ACCOUNT = "AC" + "1" * 32
TOKEN = "install-test-token-0123456789abcdef"
SMS_NUMBER = "+15550009999"


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                     r.stderr))
    return r


def installed():
    r = run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], check=False)
    return "install ok installed" in r.stdout or "config-files" in r.stdout


def exec_start(unit, commented=False):
    """The argv of a unit's ExecStart= line (the first #ExecStart= one when `commented`)."""
    prefix = "#ExecStart=" if commented else "ExecStart="
    with open(os.path.join(UNIT_DIR, unit)) as f:
        for line in f:
            if line.startswith(prefix):
                return shlex.split(line[len(prefix):])
    raise AssertionError("no %s line in %s" % (prefix, unit))


def responders():
    """pids of running frontline-fcgi processes (by executable)."""
    pids = []
    for exe in glob.glob("/proc/[0-9]*/exe"):
        try:
            if os.readlink(exe) == "/usr/bin/frontline-fcgi":
                pids.append(int(exe.split("/")[2]))
        except OSError:
            pass
    return pids


@unittest.skipUnless(os.geteuid() == 0, "installs a package: needs root")
class DebInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="frontline-install-")
        if installed():  # left over from an earlier run that was killed
            run(["dpkg", "--purge", PACKAGE])
        for old in glob.glob(os.path.join(BUILD_DIR, "frontline-fcgi_*.deb")):
            os.remove(old)
        run(["cpack", "-G", "DEB"], cwd=BUILD_DIR)
        debs = glob.glob(os.path.join(BUILD_DIR, "frontline-fcgi_*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        cls.install_output = run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                                  cls.deb], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        cls.stub = TwilioStub(ACCOUNT, TOKEN).start()
        cls.configure()
        cls.nginx_port = free_port()
        cls.redirect_port = free_port()
        cls.nginx = cls.start_nginx()

    @classmethod
    def tearDownClass(cls):
        stop_process(getattr(cls, "nginx", None), signal.SIGQUIT)
        if getattr(cls, "stub", None) is not None:
            cls.stub.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        if installed():
            run(["dpkg", "--purge", PACKAGE], check=False)

    # -- set-up as an admin does it ------------------------------------------------------------
    @classmethod
    def configure(cls):
        """Edits the installed config file, writes the token file and a credentials folder (as
        LoadCredential= would), and imports the example customers with the default directory."""
        with open(CONF) as f:
            text = f.read()
        text = text.replace("#public-url = https://frontline.example.com",
                            "public-url = https://%s:@PORT@" % HOST)
        text = text.replace("#account-sid = ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                            "account-sid = %s\napi-base = %s" % (ACCOUNT, cls.stub.url))
        text = text.replace("#sms-number = +15005550006", "sms-number = " + SMS_NUMBER)
        text = text.replace("#default-worker = alice@example.com",
                            "default-worker = carol@example.com")
        cls.conf_template = text
        token_file = os.path.join(CONF_DIR, "twilio-auth-token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(TOKEN + "\n")
        cls.credentials = os.path.join(cls.tmp, "credentials")
        os.makedirs(cls.credentials, mode=0o700)
        shutil.copy(token_file, os.path.join(cls.credentials, "twilio-auth-token"))
        cls.import_output = run(["frontline-fcgi", "import", EXAMPLES + "/customers.json"])

    @classmethod
    def start_nginx(cls):
        """nginx with the shipped site file: only the ports, certificate and file paths change."""
        cert, key = os.path.join(cls.tmp, "cert.pem"), os.path.join(cls.tmp, "key.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=" + HOST, "-keyout", key, "-out", cert])
        with open(EXAMPLES + "/nginx/frontline.conf") as f:
            site = f.read()
        for old, new in (("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % cls.nginx_port),
                         ("listen [::]:443 ssl http2;", ""),
                         ("listen 80;", "listen 127.0.0.1:%d;" % cls.redirect_port),
                         ("listen [::]:80;", ""),
                         ("/etc/letsencrypt/live/frontline.example.com/fullchain.pem", cert),
                         ("/etc/letsencrypt/live/frontline.example.com/privkey.pem", key)):
            assert old in site, "the shipped site file no longer has: " + old
            site = site.replace(old, new)
        with open(os.path.join(cls.tmp, "site.conf"), "w") as f:
            f.write(site)
        os.makedirs(os.path.join(cls.tmp, "tmp"))
        main = """user root;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {d}/nginx-access.log;
    client_body_temp_path {d}/tmp/body;
    fastcgi_temp_path {d}/tmp/fastcgi;
    proxy_temp_path {d}/tmp/proxy;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/site.conf;
}}
""".format(d=cls.tmp)
        path = os.path.join(cls.tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(main)
        # The site file's relative `include fastcgi_params` resolves next to the main file.
        shutil.copy("/etc/nginx/fastcgi_params", os.path.join(cls.tmp, "fastcgi_params"))
        run(["nginx", "-t", "-p", cls.tmp, "-c", path, "-e", os.path.join(cls.tmp, "nginx-error.log")])
        return subprocess.Popen(["nginx", "-p", cls.tmp, "-c", path,
                                 "-e", os.path.join(cls.tmp, "nginx-error.log")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    # -- running the responder as the units do -------------------------------------------------
    def start_responder(self, argv, socket_activate):
        with open(CONF, "w") as f:
            f.write(self.conf_template.replace("@PORT@", str(self.nginx_port)))
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        os.makedirs(RUN_DIR, mode=0o755)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CREDENTIALS_DIRECTORY": self.credentials}
        if socket_activate:
            # It passes on only the variables named with -E (and PATH, HOME and the like).
            argv = ["systemd-socket-activate", "-l", SOCKET,
                    "-E", "CREDENTIALS_DIRECTORY=" + self.credentials] + argv
        self.log = open(os.path.join(self.tmp, "responder.log"), "ab")
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                stderr=self.log, start_new_session=True)
        wait_for(lambda: os.path.exists(SOCKET) or proc.poll() is not None, what="the socket")
        self.addCleanup(self.stop_responder, proc)
        if proc.poll() is not None:
            self.fail("responder exited %d: %s" % (proc.returncode, self.read("responder.log")))
        return proc

    def stop_responder(self, proc):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        wait_for(lambda: not responders(), timeout=20, what="every responder to exit")
        self.log.close()

    def read(self, name):
        return read_text(os.path.join(self.tmp, name))

    # -- HTTPS through nginx ---------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, port=None):
        """To nginx as frontline.example.com: HTTPS, or plain HTTP on `port`."""
        context = None
        if port is None:
            port = self.nginx_port
            context = ssl.create_default_context(cafile=os.path.join(self.tmp, "cert.pem"))
            context.check_hostname = False
        return http_request(port, method, path, body, dict({"Host": HOST}, **(headers or {})),
                            tls_context=context)

    def post(self, path, pairs, token=TOKEN):
        url = "https://%s:%d%s" % (HOST, self.nginx_port, path)
        return self.request("POST", path, body=urllib.parse.urlencode(pairs).encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(token, url, pairs)})

    def drive_every_route(self, conversation, one_process=True):
        """Every route through nginx, as Twilio would call it; `conversation` must be new."""
        health = self.request("GET", "/healthz")
        self.assertEqual(health.status, 200, health)
        self.assertEqual(health.json()["status"], "ok")

        r = self.post("/callbacks/crm", [("Location", "GetCustomerDetailsByCustomerId"),
                                         ("CustomerId", "1"), ("Worker", "alice@example.com")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["objects"]["customer"]["display_name"], "Customer 1")
        r = self.post("/callbacks/crm", [("Location", "GetCustomersList"),
                                         ("Worker", "alice@example.com"), ("PageSize", "50")])
        self.assertEqual(r.status, 200, r)
        self.assertIn("Customer 1", [c["display_name"] for c in r.json()["objects"]["customers"]])

        r = self.post("/callbacks/outgoing-conversation", [
            ("Location", "GetProxyAddress"), ("Worker", "alice@example.com"), ("CustomerId", "1"),
            ("ChannelType", "sms"), ("ChannelValue", "+15550000001")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"proxy_address": SMS_NUMBER})

        r = self.post("/callbacks/templates", [("Location", "GetTemplatesByCustomerId"),
                                               ("CustomerId", "1"), ("Worker", "alice@example.com")])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json() and r.json()[0]["templates"], r)

        r = self.post("/callbacks/routing", [("ConversationSid", conversation),
                                             ("MessagingBinding.Address", "+15550000001"),
                                             ("MessagingBinding.ProxyAddress", SMS_NUMBER)])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"worker": "alice@example.com"})
        wait_for(lambda: len(self.stub.participants(conversation)) == 1, timeout=15,
                 what="the worker added at the Twilio stub")
        self.assertEqual(self.stub.participants(conversation)[0]["identity"], "alice@example.com")

        for path in ("/callbacks/twilio-conversations", "/callbacks/conversations"):
            r = self.post(path, [("EventType", "onConversationAdd"),
                                 ("ConversationSid", conversation),
                                 ("MessagingBinding.Address", "+15550000001")])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["friendly_name"], "Customer 1")

        # What must be refused: a forged signature, and anything but POST (nginx's limit_except).
        r = self.post("/callbacks/crm", [("Location", "GetCustomersList"),
                                         ("Worker", "alice@example.com")], token="wrong-token")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(self.request("GET", "/callbacks/crm").status, 403)
        self.assertEqual(self.request("GET", "/elsewhere").status, 404)
        metrics = self.request("GET", "/metrics")
        self.assertEqual(metrics.status, 200)
        self.assertIn(b"frontline_requests_total", metrics.body)
        if not one_process:
            return  # each process counts its own; the scrape reached any one of them
        # The worker added and the wrong-token POST above, counted by the one service process.
        self.assertRegex(metrics.body, rb'\nfrontline_twilio_rest_calls_total\{outcome="2xx"\} [1-9]')
        self.assertRegex(metrics.body,
                         rb'\nfrontline_signature_failures_total\{reason="invalid"\} [1-9]')

    # -- the tests, in order ---------------------------------------------------------------------
    def test_1_package_contents_and_nothing_started(self):
        control = run(["dpkg-deb", "-f", self.deb, "Depends", "Section"]).stdout
        for dependency in ("libfcgi0ldbl", "libcurl4", "libsqlite3-0",
                           "libboost-program-options1.74.0"):
            self.assertIn(dependency, control)
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", PACKAGE]).stdout
        self.assertIn(CONF, conffiles)
        for path in ("/usr/bin/frontline-fcgi", UNIT_DIR + "/frontline-fcgi.socket",
                     UNIT_DIR + "/frontline-fcgi.service",
                     UNIT_DIR + "/frontline-fcgi-spawn.service",
                     "/usr/share/man/man8/frontline-fcgi.8",
                     EXAMPLES + "/nginx/frontline.conf", EXAMPLES + "/nginx/upstream-example.conf",
                     EXAMPLES + "/customers.json", EXAMPLES + "/apache/htaccess",
                     EXAMPLES + "/prometheus/frontline-fcgi.rules.yml",
                     EXAMPLES + "/prometheus/frontline-fcgi.rules.test.yml"):
            self.assertTrue(os.path.exists(path), path)
        self.assertTrue(os.path.isdir(CONF_DIR))
        self.assertIn("frontline-fcgi", run(["man", "-P", "cat", "frontline-fcgi"],
                                            env=dict(os.environ, MANWIDTH="80")).stdout)
        # Installing started nothing and bound nothing.
        self.assertEqual(responders(), [])
        self.assertFalse(os.path.exists(SOCKET))
        self.assertIn("nothing was started", self.install_output.stdout)
        # The import as root made the database folder.
        self.assertTrue(os.path.isfile(STATE_DIR + "/directory.db"))
        self.assertIn("imported 10 customers", self.import_output.stderr)

    def test_2_units_verify(self):
        r = run(["systemd-analyze", "verify", UNIT_DIR + "/frontline-fcgi.socket",
                 UNIT_DIR + "/frontline-fcgi.service", UNIT_DIR + "/frontline-fcgi-spawn.service"],
                check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_3_check_config_masks_the_token(self):
        r = run(["frontline-fcgi", "check-config", "--config", CONF],
                env={"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": self.credentials})
        self.assertIn("configuration ok", r.stdout)
        self.assertNotIn(TOKEN, r.stdout + r.stderr)

    def test_4_socket_activation(self):
        self.start_responder(exec_start("frontline-fcgi.service"), socket_activate=True)
        self.drive_every_route("CH" + "a" * 32)
        redirect = self.request("POST", "/callbacks/crm", port=self.redirect_port)
        self.assertEqual(redirect.status, 301)

    def test_5_spawn_fcgi_unit(self):
        self.start_responder(exec_start("frontline-fcgi-spawn.service"), socket_activate=False)
        self.drive_every_route("CH" + "b" * 32)

    def test_6_spawn_fcgi_with_multiwatch(self):
        self.start_responder(exec_start("frontline-fcgi-spawn.service", commented=True),
                             socket_activate=False)
        wait_for(lambda: len(responders()) == 4, what="multiwatch's four children")
        self.drive_every_route("CH" + "c" * 32, one_process=False)

    def test_8_spawn_fcgi_forked_as_the_readme_says(self):
        """The README's spawn-fcgi recipe: a system user, forked children with a pid file, the
        socket owned by the nginx user, a log file, and an import as root afterwards that leaves
        the database with the service's user."""
        log_dir = "/var/log/frontline-fcgi"
        self.addCleanup(shutil.rmtree, log_dir, True)
        self.addCleanup(run, ["deluser", "--system", "frontline"], False)
        run(["adduser", "--system", "--group", "--home", STATE_DIR, "frontline"])
        run(["install", "-d", "-o", "frontline", "-g", "frontline", STATE_DIR, log_dir])
        run(["install", "-d", RUN_DIR])
        os.chmod(os.path.join(CONF_DIR, "twilio-auth-token"), 0o640)
        shutil.chown(os.path.join(CONF_DIR, "twilio-auth-token"), "root", "frontline")
        run(["frontline-fcgi", "import", EXAMPLES + "/customers.json"])
        self.assertEqual(os.stat(STATE_DIR + "/directory.db").st_uid,
                         int(run(["id", "-u", "frontline"]).stdout))
        with open(CONF, "w") as f:
            f.write(self.conf_template.replace("@PORT@", str(self.nginx_port)))
        pid_file = RUN_DIR + "/spawn.pid"
        run(["spawn-fcgi", "-s", SOCKET, "-M", "0660", "-U", "www-data", "-G", "www-data",
             "-u", "frontline", "-g", "frontline", "-F", "2", "-P", pid_file, "--",
             "/usr/bin/frontline-fcgi", "--config", CONF,
             "--twilio.auth-token-file", CONF_DIR + "/twilio-auth-token",
             "--log-file", log_dir + "/frontline-fcgi.log"],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        with open(pid_file) as f:
            pids = [int(p) for p in f.read().split()]

        def stop():
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            wait_for(lambda: not responders(), timeout=20, what="the children to exit")
        self.addCleanup(stop)
        # spawn-fcgi writes the pid file as it forks; a child may not have exec'd the responder yet.
        wait_for(lambda: sorted(pids) == sorted(responders()), what="both children running")
        st = os.stat(SOCKET)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (33, 33, 0o660))  # www-data
        for pid in pids:
            with open("/proc/%d/status" % pid) as f:
                uid = [line.split()[1] for line in f if line.startswith("Uid:")][0]
            self.assertEqual(int(uid), int(run(["id", "-u", "frontline"]).stdout))
        self.drive_every_route("CH" + "d" * 32, one_process=False)
        with open(log_dir + "/frontline-fcgi.log") as f:
            self.assertIn("route=/callbacks/crm status=200", f.read())

    def test_9_purge_removes_everything(self):
        run(["dpkg", "--purge", PACKAGE])
        self.assertFalse(installed())
        for path in ("/usr/bin/frontline-fcgi", UNIT_DIR + "/frontline-fcgi.service", CONF_DIR,
                     STATE_DIR, "/usr/share/doc/frontline-fcgi"):
            self.assertFalse(os.path.exists(path), path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
