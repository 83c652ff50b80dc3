"""frontline-fcgi spawned by a real Apache 2.4 through mod_fcgid, set up from the shipped files:
apache/frontline-vhost.conf (included with its example paths and address replaced),
apache/htaccess as the .htaccess of the frontline folder, and frontline-fcgi.conf derived from
apache/frontline-fcgi.conf.example next to the copied binary, which finds it by itself (no
--config, no environment: mod_fcgid passes neither).

Everything lives in one temporary directory with Apache on a free loopback port. As root,
Apache serves as www-data (it refuses to run requests as root), so the tree is made readable
and the data folder and mod_fcgid's socket folder writable by www-data. As another user,
Apache and its children simply run as that user.

Environment: FRONTLINE_BIN, FRONTLINE_SOURCE_DIR, FRONTLINE_APACHE (set by CTest).
"""
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

from stack import (AUTH_TOKEN, BIN, SOURCE_DIR, free_port, http_request, read_text,
                   stop_process, twilio_signature, wait_for)

APACHE = os.environ.get("FRONTLINE_APACHE", "/usr/sbin/apache2")
MODULES_DIR = "/usr/lib/apache2/modules"
MODULES = ["mpm_event", "authz_core", "authz_host", "rewrite", "alias", "fcgid"]
SHIPPED = os.path.join(SOURCE_DIR, "apache")
EXAMPLES = os.path.join(SOURCE_DIR, "examples", "customers.json")
# The example paths in the shipped files, replaced by the test's own.
EXAMPLE_DOCROOT = "/home/alice/public_html"
EXAMPLE_VHOST = "<VirtualHost *:80>"
EXAMPLE_SCRIPTALIAS_DIR = "/home/alice/frontline"
RUN_AS = "www-data"
# The responders' stderr goes to Apache's main error log: reports of an ASan/UBSan build
# ("==PID==ERROR: AddressSanitizer", LeakSanitizer at exit, UBSan's "runtime error:") land there.
SANITIZER_MARKERS = ("Sanitizer", "runtime error:")


def replace_all(text, old, new, what):
    """`text` with every `old` replaced; fails when `old` is missing, so a change to a shipped
    file that the test relies on shows up here rather than as a confusing Apache error."""
    if old not in text:
        raise AssertionError("%s no longer contains %r" % (what, old))
    return text.replace(old, new)


def uncomment_scriptalias(vhost, what):
    """The vhost's commented-out ScriptAlias alternative, uncommented and moved to /hooks with
    its folder in the test directory, so that it can run beside the .htaccess setup."""
    lines = vhost.splitlines()
    try:
        first = next(i for i, l in enumerate(lines) if l.strip().startswith("# ScriptAlias "))
        last = next(i for i in range(first, len(lines)) if lines[i].strip() == "# </Directory>")
    except StopIteration:
        raise AssertionError("%s has no commented ScriptAlias ... </Directory> block" % what)
    block = [re.sub(r"^(\s*)# ?", r"\1", l, count=1) for l in lines[first:last + 1]]
    block = "\n".join(block)
    return replace_all(block, "ScriptAlias /frontline ", "ScriptAlias /hooks ", what)


def set_ini(text, name, value, what):
    """Sets `name = value` on the (possibly commented-out) line of the shipped example that
    names it, keeping the section it is in."""
    pattern = re.compile(r"^#?[ \t]*" + re.escape(name) + r"[ \t]*=.*$", re.MULTILINE)
    if not pattern.search(text):
        raise AssertionError("%s has no line for %r" % (what, name))
    return pattern.sub(lambda _: "%s = %s" % (name, value), text, count=1)


def responder_pids(binaries):
    """Pids of the running processes whose executable is one of `binaries`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % entry)
            with open("/proc/%s/stat" % entry) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if exe in binaries and state != "Z":
            pids.append(int(entry))
    return pids


class Apache(unittest.TestCase):
    failed = False

    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(os.path.join(MODULES_DIR, "mod_fcgid.so")):
            raise AssertionError("mod_fcgid is not installed (Debian: libapache2-mod-fcgid); "
                                 "scripts/install-deps installs it")
        cls.root = os.geteuid() == 0
        if cls.root:
            entry = pwd.getpwnam(RUN_AS)  # KeyError: no www-data user to serve as
            cls.uid, cls.gid = entry.pw_uid, entry.pw_gid
        cls.dir = tempfile.mkdtemp(prefix="frontline-apache-")
        cls.port = free_port()
        cls.public_url = "http://127.0.0.1:%d" % cls.port
        cls.apache = None
        cls.binaries = []
        try:
            cls._prepare()
            cls._start()
        except BaseException:
            cls._dump_logs()
            cls._stop()
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def path(cls, *parts):
        return os.path.join(cls.dir, *parts)

    @classmethod
    def _prepare(cls):
        for sub in ("logs", "run", "run/fcgidsock", "public_html/frontline/data", "hooks"):
            os.makedirs(cls.path(sub), exist_ok=True)
        folder = cls.path("public_html", "frontline")
        # The data folder sits inside the web folder on purpose: the shipped .htaccess must
        # refuse it (the example recommends a folder outside public_html).
        data = os.path.join(folder, "data")
        cls.db = os.path.join(data, "directory.db")
        cls.log = os.path.join(data, "responder.log")
        cls.hooks_log = os.path.join(data, "hooks.log")

        shutil.copy(os.path.join(SHIPPED, "htaccess"), os.path.join(folder, ".htaccess"))
        with open(os.path.join(SHIPPED, "frontline-fcgi.conf.example")) as f:
            example = f.read()
        # Setup 1, the shipped one: .htaccess rewrite under /frontline.
        cls._install_binary(folder, cls._conf(example, "/frontline", cls.log))
        # Setup 2: the vhost's commented ScriptAlias alternative, at /hooks, to check that
        # routing follows the URL called in both (same binary and data, its own prefix).
        cls._install_binary(cls.path("hooks"), cls._conf(example, "/hooks", cls.hooks_log))

        r = subprocess.run([BIN, "import", "--directory", cls.db, EXAMPLES], capture_output=True,
                           text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}, cwd=cls.dir)
        if r.returncode != 0:
            raise AssertionError("import failed %d: %s" % (r.returncode, r.stderr))

        with open(os.path.join(SHIPPED, "frontline-vhost.conf")) as f:
            vhost = f.read()
        what = "apache/frontline-vhost.conf"
        vhost = replace_all(vhost, EXAMPLE_DOCROOT, cls.path("public_html"), what)
        vhost = replace_all(vhost, EXAMPLE_VHOST, "<VirtualHost 127.0.0.1:%d>" % cls.port, what)
        scriptalias = replace_all(uncomment_scriptalias(vhost, what), EXAMPLE_SCRIPTALIAS_DIR,
                                  cls.path("hooks"), what)
        vhost = replace_all(vhost, "</VirtualHost>", scriptalias + "\n</VirtualHost>", what)
        with open(cls.path("frontline-vhost.conf"), "w") as f:
            f.write(vhost)
        with open(cls.path("apache.conf"), "w") as f:
            f.write(cls._main_conf())

        if cls.root:
            # www-data must reach everything below the (0700) temporary directory, own what
            # the responders write, and read the configurations (0600, as with suEXEC).
            for top, dirs, files in os.walk(cls.dir):
                os.chmod(top, 0o755)
            for top in (data, cls.path("run", "fcgidsock")):
                for base, dirs, files in os.walk(top):
                    for name in [base] + [os.path.join(base, n) for n in files]:
                        os.chown(name, cls.uid, cls.gid)
            for conf in (os.path.join(folder, "frontline-fcgi.conf"),
                         cls.path("hooks", "frontline-fcgi.conf")):
                os.chown(conf, cls.uid, cls.gid)

    @classmethod
    def _conf(cls, example, prefix, log):
        what = "apache/frontline-fcgi.conf.example"
        conf = set_ini(example, "public-url", cls.public_url, what)
        conf = set_ini(conf, "route-prefix", prefix, what)
        conf = set_ini(conf, "directory", cls.db, what)
        conf = set_ini(conf, "log-file", log, what)
        conf = set_ini(conf, "auth-token", AUTH_TOKEN, what)
        return conf

    @classmethod
    def _install_binary(cls, folder, conf):
        binary = os.path.join(folder, "frontline.fcgi")
        shutil.copy(BIN, binary)
        os.chmod(binary, 0o755)
        cls.binaries.append(binary)
        path = os.path.join(folder, "frontline-fcgi.conf")
        with open(path, "w") as f:
            f.write(conf)
        os.chmod(path, 0o600)

    @classmethod
    def _main_conf(cls):
        lines = [
            "# The smallest self-contained Apache around the shipped vhost (test_apache.py).",
            "ServerRoot %s" % cls.dir,
            "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % cls.port,
            "PidFile %s" % cls.path("run", "httpd.pid"),
            "DefaultRuntimeDir %s" % cls.path("run"),
            "ErrorLog %s" % cls.path("logs", "error.log"),
            "LogLevel info",
            'LogFormat "%h %l %u %t \\"%r\\" %>s %b" combined',
            # Set by Debian's envvars for its own apache2.conf; the vhost uses it.
            "Define APACHE_LOG_DIR %s" % cls.path("logs"),
        ]
        lines += ["LoadModule %s_module %s/mod_%s.so" % (m, MODULES_DIR, m) for m in MODULES]
        if cls.root:
            lines += ["User %s" % RUN_AS, "Group %s" % RUN_AS]
        lines += [
            "FcgidIPCDir %s" % cls.path("run", "fcgidsock"),
            "FcgidProcessTableFile %s" % cls.path("run", "fcgid_shm"),
        ]
        # mod_fcgid starts the responders with an empty environment (PATH aside); hand the
        # sanitizer settings of an ASan test run on to them.
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if os.environ.get(name):
                lines.append('FcgidInitialEnv %s "%s"' % (name, os.environ[name]))
        lines += [
            # Like Debian's apache2.conf: nothing is served that is not granted explicitly.
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
            "Include %s" % cls.path("frontline-vhost.conf"),
            "",
        ]
        return "\n".join(lines)

    @classmethod
    def _start(cls):
        check = subprocess.run([APACHE, "-f", cls.path("apache.conf"), "-t"],
                               capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise AssertionError("apache2 -t: " + check.stderr + check.stdout)
        cls.apache_out = open(cls.path("logs", "apache.out"), "wb")
        cls.apache = subprocess.Popen(
            [APACHE, "-f", cls.path("apache.conf"), "-DFOREGROUND"],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}, cwd=cls.dir,
            stdin=subprocess.DEVNULL, stdout=cls.apache_out, stderr=cls.apache_out)

        def healthy():
            if cls.apache.poll() is not None:
                raise AssertionError("apache2 exited %d" % cls.apache.returncode)
            try:
                status = cls.request("GET", "/frontline/healthz").status
            except OSError:
                return False
            # A broken .htaccess, or a responder that exits at start (its stderr goes to the
            # main error log), answers 5xx for good: say why instead of waiting.
            fatal = [l for l in cls.read("logs/frontline-error.log").splitlines()
                     if "[core:alert]" in l]
            fatal += [l for l in cls.read("logs/error.log").splitlines()
                      if l.startswith("frontline-fcgi: ")]
            if fatal:
                raise AssertionError("no responder: " + fatal[0])
            if status == 404:  # from the responder: the routing itself is wrong
                raise AssertionError("GET /frontline/healthz answered 404")
            return status == 200

        # The first request waits for mod_fcgid to spawn the first responder.
        wait_for(healthy, timeout=30, what="GET /frontline/healthz through Apache")

    @classmethod
    def _stop(cls):
        """Stops Apache; mod_fcgid must take every responder down with it. Returns the pids
        still running afterwards (then killed)."""
        stop_process(cls.apache, signal.SIGTERM, timeout=30)
        if hasattr(cls, "apache_out"):
            cls.apache_out.close()
        left = []
        try:
            wait_for(lambda: not responder_pids(cls.binaries), timeout=20,
                     what="the responders to exit")
        except TimeoutError:
            left = responder_pids(cls.binaries)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return left

    @classmethod
    def tearDownClass(cls):
        left = cls._stop()
        problems = []
        if left:
            problems.append("responders still running after Apache stopped: %r" % left)
        logs = cls.read("logs/error.log") + cls.read("logs/frontline-error.log")
        for marker in SANITIZER_MARKERS:
            if marker in logs:
                problems.append("sanitizer report in Apache's error log: " + marker)
        # Every responder mod_fcgid started must have shut down cleanly on its SIGTERM.
        for log in (cls.log, cls.hooks_log):
            text = cls.read(log)
            started = len(re.findall(r" serving ", text))
            stopped = len(re.findall(r" stopped$", text, re.MULTILINE))
            if started == 0 or stopped != started:
                problems.append("%s: %d responders started, %d stopped cleanly" % (
                    os.path.basename(log), started, stopped))
        if problems or cls.failed:
            cls._dump_logs()
        if os.environ.get("FRONTLINE_KEEP_TEST_DIRS"):
            print("kept", cls.dir)
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)
        if problems:
            raise AssertionError("; ".join(problems))

    def run(self, result=None):
        # Remember a failure so tearDownClass prints the logs that explain it.
        before = len(result.failures) + len(result.errors) if result else 0
        super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            type(self).failed = True

    # -- inspection ------------------------------------------------------------------------
    @classmethod
    def read(cls, name):
        return read_text(os.path.join(cls.dir, name))

    @classmethod
    def _dump_logs(cls):
        for name in ("logs/apache.out", "logs/error.log", "logs/frontline-error.log",
                     "logs/frontline-access.log", cls.log, cls.hooks_log):
            text = cls.read(name)
            if text:
                sys.stderr.write("\n===== %s =====\n%s" % (name, text[-20000:]))

    # -- HTTP ------------------------------------------------------------------------------
    @classmethod
    def request(cls, method, path, body=None, headers=None):
        return http_request(cls.port, method, path, body, headers, timeout=20)

    def post(self, path, pairs, signed_path=None, token=AUTH_TOKEN):
        """POSTs `pairs` form-encoded, signed like Twilio for public-url + the path."""
        url = self.public_url + (signed_path if signed_path is not None else path)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": twilio_signature(token, url, pairs)}
        return self.request("POST", path, urllib.parse.urlencode(pairs).encode(), headers)

    # -- the callbacks through mod_fcgid ----------------------------------------------------
    def test_customer_details(self):
        r = self.post("/frontline/callbacks/crm", [
            ("Location", "GetCustomerDetailsByCustomerId"), ("CustomerId", "3"),
            ("Worker", "alice@example.com")])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/json"), r.headers)
        customer = r.json()["objects"]["customer"]
        self.assertEqual(customer["customer_id"], "3")
        self.assertEqual(customer["display_name"], "Joseph Martin")
        self.assertEqual(customer["channels"][0], {"type": "sms", "value": "+15558675310"})

    def test_customer_list_of_a_worker(self):
        r = self.post("/frontline/callbacks/crm", [
            ("Location", "GetCustomersList"), ("Worker", "bob@example.com")])
        self.assertEqual(r.status, 200, r)
        ids = [c["customer_id"] for c in r.json()["objects"]["customers"]]
        self.assertEqual(sorted(ids), ["5", "6", "7"])

    def test_query_string_is_part_of_the_signed_url(self):
        pairs = [("Location", "GetCustomersList"), ("Worker", "carol@example.com")]
        r = self.post("/frontline/callbacks/crm?tenant=a%20b", pairs)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["objects"]["customers"]), 3)
        wrong = self.post("/frontline/callbacks/crm?tenant=a%20b", pairs,
                          signed_path="/frontline/callbacks/crm")
        self.assertEqual(wrong.status, 403, wrong)

    def test_templates(self):
        r = self.post("/frontline/callbacks/templates", [
            ("Location", "GetTemplatesByCustomerId"), ("CustomerId", "3"),
            ("Worker", "alice@example.com"), ("ConversationSid", "CH123")])
        self.assertEqual(r.status, 200, r)
        categories = r.json()
        self.assertEqual([c["display_name"] for c in categories],
                         ["Openers", "Replies", "Closing"])
        self.assertIn("Joseph Martin", r.body.decode())

    def test_scriptalias_setup_routes_the_same(self):
        r = self.post("/hooks/callbacks/crm", [
            ("Location", "GetCustomerDetailsByCustomerId"), ("CustomerId", "5"),
            ("Worker", "bob@example.com")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["objects"]["customer"]["customer_id"], "5")
        self.assertEqual(self.request("GET", "/hooks/healthz").status, 200)

    # -- what is refused --------------------------------------------------------------------
    def test_bad_signature_is_403(self):
        pairs = [("Location", "GetCustomersList"), ("Worker", "alice@example.com")]
        r = self.post("/frontline/callbacks/crm", pairs, token="not-the-token")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"], "invalid X-Twilio-Signature")
        # Signed for the binary's own URL instead of the one called.
        r = self.post("/frontline/callbacks/crm", pairs,
                      signed_path="/frontline/frontline.fcgi/callbacks/crm")
        self.assertEqual(r.status, 403, r)

    def test_unknown_route_is_404(self):
        for path in ("/frontline/callbacks/nope", "/frontline/", "/frontline/frontline.fcgi",
                     "/frontline/frontline.fcgi/callbacks/crm", "/frontline//callbacks/crm"):
            with self.subTest(path=path):
                r = self.post(path, [("Location", "GetCustomersList")])
                self.assertEqual(r.status, 404, r)
                self.assertEqual(r.json(), {"error": "not found"})

    def test_get_on_a_callback_is_405(self):
        r = self.request("GET", "/frontline/callbacks/crm")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.header("Allow"), "POST")

    def test_configuration_and_data_are_not_served(self):
        for path in ("/frontline/frontline-fcgi.conf", "/frontline/data/directory.db",
                     "/frontline/data/responder.log", "/frontline/data/", "/frontline/.htaccess",
                     "/frontline/frontline.fcgi", "/hooks/frontline-fcgi.conf",
                     "/frontline-vhost.conf"):
            with self.subTest(path=path):
                r = self.request("GET", path)
                self.assertIn(r.status, (403, 404), r)
                self.assertNotIn(AUTH_TOKEN.encode(), r.body)
                self.assertNotIn(b"SQLite format", r.body)

    def test_metrics_and_health_from_localhost(self):
        self.assertEqual(self.request("GET", "/frontline/healthz").json()["status"], "ok")
        r = self.request("GET", "/frontline/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"# TYPE", r.body)

    def test_body_limits(self):
        pairs = [("Location", "GetCustomersList"), ("Worker", "alice@example.com"),
                 ("Pad", "x" * 100000)]
        # Over the responder's max-body, under the .htaccess limit: the responder says so.
        r = self.post("/frontline/callbacks/crm", pairs)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json()["error"], "request body too large")
        # Over the .htaccess limit: Apache refuses it before mod_fcgid buffers it.
        pairs[-1] = ("Pad", "x" * 200000)
        r = self.post("/frontline/callbacks/crm", pairs)
        self.assertEqual(r.status, 413, r)
        self.assertNotIn(b'"error"', r.body)  # Apache's own page, not the responder's

    # -- several processes -----------------------------------------------------------------
    def test_concurrent_requests_are_served_by_several_processes(self):
        count = 12
        barrier = threading.Barrier(count)
        results = [None] * count

        def one(i):
            customer = str(i % 10 + 1)
            pairs = [("Location", "GetCustomerDetailsByCustomerId"), ("CustomerId", customer)]
            barrier.wait()
            try:
                r = self.post("/frontline/callbacks/crm", pairs)
                results[i] = (r.status, r.json()["objects"]["customer"]["customer_id"]
                              if r.status == 200 else r.body)
            except Exception as e:  # reported below with the others
                results[i] = (None, repr(e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(results, [(200, str(i % 10 + 1)) for i in range(count)])
        # mod_fcgid sends one request at a time to a process, so it had to start more; the
        # vhost's FcgidMaxProcessesPerClass caps them.
        frontline = responder_pids(self.binaries[:1])
        self.assertGreaterEqual(len(frontline), 2, "responders: %r" % frontline)
        self.assertLessEqual(len(frontline), 4, "responders: %r" % frontline)


if __name__ == "__main__":
    unittest.main()
