"""PostgreSQL as the directory (SPEC §8, issue 11), against a real PostgreSQL server started for
this file (pg_server.py). So far: check-config connects, reports the server and schema versions
and masks a password; import and export work on PostgreSQL exactly as on SQLite (the same
sequence of imports gives the same export, addresses and search terms on both); serve and
outbox refuse PostgreSQL clearly; options that make no sense with PostgreSQL are errors."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from pg_server import PostgresServer
import time

from stack import AUTH_TOKEN, BIN, Stack, wait_for
from twilio_stub import TwilioStub

ACCOUNT = "AC" + "0" * 32
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TWILIO_AUTH_TOKEN": AUTH_TOKEN}


def run(args, env=None):
    return subprocess.run([BIN] + args, env=env if env is not None else ENV,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                          cwd=tempfile.gettempdir())


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresServer()
        cls.pg.start()
        cls.pg.create_database("frontline")
        cls.pg.psql("frontline", "CREATE ROLE app LOGIN PASSWORD 's3cret-pw'; "
                    "GRANT ALL ON DATABASE frontline TO app")

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def test_reports_server_and_schema_versions_without_creating_anything(self):
        r = run(["check-config", "--directory", self.pg.uri("frontline")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"postgresql: server 1[0-9]\.\d+, schema frontline: "
                                   r"directory version 0 of \d+ \(created on first start\)")
        self.assertRegex(r.stdout, r"schema frontline: events version 0 of \d+ "
                                   r"\(created on first start\)")
        self.assertIn("outbox = (in the PostgreSQL database)", r.stdout)
        self.assertIn("postgres.schema = frontline", r.stdout)
        # Read only: check-config created no schema.
        self.assertEqual(self.pg.psql("frontline", "SELECT count(*) FROM pg_namespace WHERE "
                                      "nspname = 'frontline'").stdout.strip(), "0")

    def test_libpq_variables_and_key_value_form_work(self):
        env = dict(ENV, PGHOST="127.0.0.1", PGPORT=str(self.pg.port), PGUSER="postgres",
                   PGDATABASE="frontline")
        for directory in ("postgresql:", "postgresql://", "postgresql:connect_timeout=5"):
            with self.subTest(directory=directory):
                r = run(["check-config", "--directory", directory], env=env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("directory version 0 of", r.stdout)

    def test_password_is_never_printed(self):
        uri = "postgresql://app:s3cret-pw@127.0.0.1:%d/frontline" % self.pg.port
        r = run(["check-config", "--directory", uri])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("s3cret-pw", r.stdout + r.stderr)
        self.assertIn("postgresql://app:****@127.0.0.1", r.stdout)
        # A wrong password: refused (78), still masked. Trust auth accepts any password on
        # this server, so use a server that is not there: the port of nothing.
        bad = "postgresql://app:s3cret-pw@127.0.0.1:1/frontline?connect_timeout=2"
        r = run(["check-config", "--directory", bad])
        self.assertEqual(r.returncode, 78)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("--directory", r.stderr)
        self.assertNotIn("s3cret-pw", r.stdout + r.stderr)

    def test_unreachable_server_is_78_within_the_connect_timeout(self):
        r = run(["check-config", "--directory",
                 "postgresql://postgres@127.0.0.1:1/frontline?connect_timeout=2"])
        self.assertEqual(r.returncode, 78)
        self.assertIn("Connection refused", r.stderr)

    def test_schema_option_is_validated_and_used(self):
        r = run(["check-config", "--directory", self.pg.uri("frontline"),
                 "--postgres.schema", "tenant_2"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("schema tenant_2: directory version 0", r.stdout)
        for bad in ("Frontline", "a-b", "1abc", "x" * 64, 'a"b'):
            with self.subTest(schema=bad):
                r = run(["check-config", "--directory", self.pg.uri("frontline"),
                         "--postgres.schema", bad])
                self.assertEqual(r.returncode, 78, r.stdout)
                self.assertIn("--postgres.schema", r.stderr)

    def test_outbox_file_with_postgres_is_a_configuration_error(self):
        r = run(["check-config", "--directory", self.pg.uri("frontline"), "--outbox", "/tmp/o.db"])
        self.assertEqual(r.returncode, 78)
        self.assertIn("--outbox", r.stderr)


DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                    "customers.json")

# Names and channels chosen to exercise the keys: accents and case (search folding, collation
# order), punctuation inside words, phone numbers in several spellings.
EXTRA = {"customers": [
    {"customer_id": "x1", "display_name": "Émile Zola", "worker": "alice@example.com",
     "channels": [{"type": "sms", "value": "+44 20 7946 0958"}]},
    {"customer_id": "x2", "display_name": "Åsa Öberg-Lind", "worker": "bob@example.com",
     "channels": [{"type": "whatsapp", "value": "whatsapp:+46701234567"},
                  {"type": "email", "value": "asa@example.se"}],
     "links": [{"type": "Web", "value": "https://example.se", "display_name": "Site"}],
     "details": {"title": "Notes", "content": "Line 1\nLine \"2\", with, commas"}},
    {"customer_id": "10", "display_name": "zoë ball", "worker": "carol@example.com",
     "channels": [{"type": "sms", "value": "(555) 867-5310"}]},
], "workers": [{"identity": "dave@example.com", "sms_number": "+15550009999"}]}


class ImportExport(unittest.TestCase):
    """The same imports into PostgreSQL and into a SQLite file: the same exports (JSON and CSV,
    byte for byte) and the same address and search-term rows, after each step."""

    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresServer()
        cls.pg.start()
        cls.tmp = tempfile.mkdtemp(prefix="frontline-pgimport-")
        cls.extra = os.path.join(cls.tmp, "extra.json")
        with open(cls.extra, "w") as f:
            json.dump(EXTRA, f, ensure_ascii=False)
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def fresh(self):
        """A new empty database and SQLite file: (uri, path)."""
        ImportExport.count += 1
        name = "d%d" % ImportExport.count
        self.pg.create_database(name)
        return self.pg.uri(name), os.path.join(self.tmp, name + ".db"), name

    def both(self, uri, path, args):
        a = run(["import", "--directory", uri] + args)
        b = run(["import", "--directory", path] + args)
        self.assertEqual((a.returncode, b.returncode), (b.returncode, b.returncode),
                         a.stderr + b.stderr)
        return a, b

    def assert_same(self, uri, path, database):
        for fmt in ("json", "csv"):
            a = run(["export", "--directory", uri, "--format", fmt])
            b = run(["export", "--directory", path, "--format", fmt])
            self.assertEqual(a.returncode, 0, a.stderr)
            self.assertEqual(b.returncode, 0, b.stderr)
            self.assertEqual(a.stdout, b.stdout, fmt)
        pg_rows = self.pg.psql(database, "SELECT c.customer_id, a.normalised FROM frontline.addresses a JOIN frontline.customers c ON c.id = a.customer UNION ALL SELECT c.customer_id || ' ' || k.identity, convert_from(t.term, 'UTF8') FROM frontline.search_terms t JOIN frontline.customers c ON c.id = t.customer JOIN frontline.worker_keys k ON k.wkey = t.wkey").stdout.splitlines()
        with sqlite3.connect(path) as db:
            lite_rows = ["%s|%s" % r for r in db.execute(
                "SELECT c.customer_id, a.normalised FROM addresses a JOIN customers c ON c.id = a.customer UNION ALL SELECT c.customer_id || ' ' || k.identity, t.term FROM search_terms t JOIN customers c ON c.id = t.customer JOIN worker_keys k ON k.wkey = t.wkey")]
        self.assertEqual(sorted(pg_rows), sorted(lite_rows))
        self.assertGreater(len(pg_rows), 20)

    def test_the_same_imports_give_the_same_directory(self):
        uri, path, database = self.fresh()
        a, _ = self.both(uri, path, [DEMO])
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertIn("imported 10 customers and 3 workers into postgresql://", a.stderr)
        self.assert_same(uri, path, database)
        # Upsert: new customers, one existing id (10) changed, a new worker.
        self.both(uri, path, [self.extra])
        self.assert_same(uri, path, database)
        # The same again changes nothing.
        self.both(uri, path, [self.extra, DEMO])
        self.assert_same(uri, path, database)
        # --replace keeps only what it names.
        self.both(uri, path, ["--replace", self.extra])
        self.assert_same(uri, path, database)
        out = json.loads(run(["export", "--directory", uri]).stdout)
        self.assertEqual(sorted(c["customer_id"] for c in out["customers"]), ["10", "x1", "x2"])

    def test_export_reimported_is_byte_identical(self):
        uri, _, _ = self.fresh()
        run(["import", "--directory", uri, DEMO, self.extra])
        first = run(["export", "--directory", uri])
        dumped = os.path.join(self.tmp, "dump.json")
        with open(dumped, "w") as f:
            f.write(first.stdout)
        r = run(["import", "--directory", uri, "--replace", dumped])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(run(["export", "--directory", uri]).stdout, first.stdout)

    def test_a_bad_record_changes_nothing(self):
        uri, _, _ = self.fresh()
        run(["import", "--directory", uri, DEMO])
        before = run(["export", "--directory", uri]).stdout
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump([{"customer_id": "n1", "display_name": "New"}, {"display_name": "no id"}], f)
        r = run(["import", "--directory", uri, "--replace", bad])
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("bad.json", r.stderr)
        self.assertEqual(run(["export", "--directory", uri]).stdout, before)

    def test_export_before_any_import_says_so(self):
        uri, _, _ = self.fresh()
        r = run(["export", "--directory", uri])
        self.assertEqual(r.returncode, 78)
        self.assertIn("holds no directory", r.stderr)

    def test_another_schema_is_another_directory(self):
        uri, _, _ = self.fresh()
        run(["import", "--directory", uri, DEMO])
        r = run(["import", "--directory", uri, "--postgres.schema", "second", self.extra])
        self.assertEqual(r.returncode, 0, r.stderr)
        one = json.loads(run(["export", "--directory", uri]).stdout)
        two = json.loads(run(["export", "--directory", uri, "--postgres.schema", "second"]).stdout)
        self.assertEqual(len(one["customers"]), 10)
        self.assertEqual(len(two["customers"]), 3)
        r = run(["check-config", "--directory", uri, "--postgres.schema", "second"])
        self.assertRegex(r.stdout, r"schema second: directory version (\d+) of \1\n")


class Serving(unittest.TestCase):
    """serve with --directory postgresql://…: the callbacks through nginx, and two responder
    "hosts" (each its own process, folder and socket, behind their own nginx) sharing nothing
    but the database: a customer imported once is seen by both, a routing job stored through
    one is delivered exactly once, and the database going away answers 503 until it is back."""

    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresServer()
        cls.pg.start()
        cls.pg.create_database("serve")
        cls.uri = cls.pg.uri("serve")
        r = run(["import", "--directory", cls.uri, DEMO])
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def stack(self, twilio, extra=()):
        return Stack(args=["--directory", self.uri, "--twilio.api-base", twilio.url] + list(extra),
                     env={"TWILIO_ACCOUNT_SID": ACCOUNT}, create_directory=False)

    def test_callbacks_and_routing_through_nginx(self):
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, self.stack(twilio) as st:
            r = st.post_form("/callbacks/crm", [("Location", "GetCustomerDetailsByCustomerId"),
                                                ("CustomerId", "1"), ("Worker", "alice@example.com")])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["objects"]["customer"]["display_name"], "Customer 1")
            r = st.post_form("/callbacks/crm", [("Location", "GetCustomersList"),
                                                ("Worker", "alice@example.com"), ("PageSize", "2")])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(len(r.json()["objects"]["customers"]), 2)
            self.assertTrue(r.json()["objects"]["next_page_token"])
            r = st.post_form("/callbacks/routing", [("ConversationSid", "CH" + "1" * 32),
                                                    ("MessagingBinding.Address", "+15550000001")])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"worker": "alice@example.com"})
            wait_for(lambda: len(twilio.participants("CH" + "1" * 32)) == 1, timeout=15,
                     what="the worker added at the Twilio stub")
            self.assertEqual(st.get("/healthz").status, 200)
            log = st.read_log()
            self.assertIn("postgresql schema frontline", log)
            self.assertNotIn("ERROR", log.upper().replace("ERROR_", ""), log[-2000:])

    def test_two_hosts_share_the_directory_and_deliver_each_job_once(self):
        conversations = ["CH%032x" % (0xabc000 + i) for i in range(40)]
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, \
                self.stack(twilio) as one, self.stack(twilio) as two:
            # Imported after both started: both see it.
            extra = os.path.join(one.dir, "late.json")
            with open(extra, "w") as f:
                json.dump([{"customer_id": "late-1", "display_name": "Late Comer",
                            "worker": "bob@example.com",
                            "channels": [{"type": "sms", "value": "+15557770001"}]}], f)
            self.assertEqual(run(["import", "--directory", self.uri, extra]).returncode, 0)
            for st in (one, two):
                r = st.post_form("/callbacks/crm", [("Location", "GetCustomerDetailsByCustomerId"),
                                                    ("CustomerId", "late-1"),
                                                    ("Worker", "bob@example.com")])
                self.assertEqual(r.status, 200, r)
            # Each webhook to both hosts (as a Twilio retry landing elsewhere would).
            for c in conversations:
                for st in (one, two):
                    r = st.post_form("/callbacks/routing", [("ConversationSid", c),
                                                            ("MessagingBinding.Address",
                                                             "+15557770001")])
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(r.json(), {"worker": "bob@example.com"})
            wait_for(lambda: all(twilio.participants(c) for c in conversations), timeout=30,
                     what="every worker added")
            time.sleep(1.0)  # a second delivery, were there one, would have come by now
            posts = [r for r in twilio.requests if r["method"] == "POST" and
                     r["path"].endswith("/Participants")]
            self.assertEqual(len(posts), len(conversations), posts[:3])
            self.assertEqual(sorted(r["path"].split("/")[3] for r in posts), sorted(conversations))

    def test_outbox_list_deliver_and_retry(self):
        conversation = "CH" + "5" * 32
        failing = "CH" + "6" * 32
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio:
            # A responder without an account SID stores jobs but does not deliver them.
            with Stack(args=["--directory", self.uri], create_directory=False) as st:
                for c in (conversation, failing):
                    r = st.post_form("/callbacks/routing", [("ConversationSid", c),
                                                            ("MessagingBinding.Address",
                                                             "+15550000001")])
                    self.assertEqual(r.status, 200, r)
            r = run(["outbox", "list", "--directory", self.uri])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("add:" + conversation + "\t", r.stdout)
            self.assertIn("add:" + failing + "\t", r.stdout)
            self.assertIn("2 pending or failed jobs", r.stderr)
            # cron's `outbox deliver`: one delivered, one refused by Twilio for good (400).
            twilio.force(400, code=50000, message="bad", conversation_sid=failing)
            env = dict(ENV, TWILIO_ACCOUNT_SID=ACCOUNT)
            r = run(["outbox", "deliver", "--directory", self.uri,
                     "--twilio.api-base", twilio.url], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("1 delivered, 0 retrying, 1 failed", r.stderr)
            self.assertEqual(len(twilio.participants(conversation)), 1)
            listed = run(["outbox", "list", "--directory", self.uri]).stdout
            self.assertNotIn(conversation, listed)
            line = [l for l in listed.splitlines() if failing in l][0]
            self.assertIn("\tfailed\t", line)
            job = line.split("\t")[0]
            r = run(["outbox", "retry", job, "--directory", self.uri])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("\tpending\t", [l for l in run(["outbox", "list", "--directory",
                                                          self.uri]).stdout.splitlines()
                                          if failing in l][0])
            r = run(["outbox", "deliver", "--directory", self.uri,
                     "--twilio.api-base", twilio.url], env=env)
            self.assertIn("1 delivered", r.stderr)
            self.assertEqual(len(twilio.participants(failing)), 1)
            r = run(["outbox", "retry", "999999", "--directory", self.uri])
            self.assertEqual(r.returncode, 78)
            self.assertIn("no failed outbox job with id 999999", r.stderr)

    def test_a_job_stored_on_one_host_wakes_another_at_once(self):
        # Host one cannot deliver (no account SID); host two polls only every 10 minutes, so
        # only the notification can make it deliver the job soon.
        conversation = "CH" + "7" * 32
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, \
                Stack(args=["--directory", self.uri], create_directory=False) as one, \
                self.stack(twilio, ["--outbox.poll-interval", "600000"]) as two:
            # (Were host two's listener not connected yet, it wakes its dispatcher once it is.)
            r = one.post_form("/callbacks/routing", [("ConversationSid", conversation),
                                                     ("MessagingBinding.Address",
                                                      "+15550000001")])
            self.assertEqual(r.status, 200, r)
            wait_for(lambda: len(twilio.participants(conversation)) == 1, timeout=20,
                     what="host two delivering host one's job")

    def test_a_host_killed_with_claimed_jobs_loses_none(self):
        # Host one claims 8 jobs (its outbox.concurrency) whose Twilio calls hang for 55 s, and
        # is killed -9 with them leased; host two, started afterwards, delivers the other 12 at
        # once and the leased ones when their lease (30 s) expires, well before the hung calls
        # would end: every conversation gets its worker exactly once.
        conversations = ["CH%032x" % (0xdead00 + i) for i in range(20)]
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio:
            twilio.stall(55, times=8)
            one = self.stack(twilio)
            one.start()
            try:
                for c in conversations:
                    r = one.post_form("/callbacks/routing", [("ConversationSid", c),
                                                             ("MessagingBinding.Address",
                                                              "+15550000001")])
                    self.assertEqual(r.status, 200, r)
                wait_for(lambda: len(twilio.requests) >= 8, timeout=15,
                         what="host one's deliveries hanging at the stub")
                one.responder.kill()  # SIGKILL: the leases stay behind
                one.responder.wait(timeout=10)
            finally:
                one.stop()
            leased = self.pg.psql("serve", "SELECT count(*) FROM frontline.outbox WHERE "
                                  "lease_owner IS NOT NULL AND state = 'pending'").stdout.strip()
            self.assertEqual(int(leased), 8)
            with self.stack(twilio) as two:
                wait_for(lambda: all(len(twilio.participants(c)) == 1 for c in conversations),
                         timeout=40, what="every conversation's worker, leased ones included")
                two_log = two.read_log()
            for c in conversations:
                self.assertEqual(len(twilio.participants(c)), 1, c)
            self.assertIn("outbox delivery", two_log)

    def test_postgresql_down_10_s_under_load_loses_no_stored_job(self):
        # Routing webhooks from 2 senders, a new conversation each, for about 18 s; PostgreSQL
        # is stopped for 10 s in the middle. While it is down the answer is 503 (Twilio
        # retries); every webhook answered 200 has its worker added once it is back.
        import threading
        results = []  # (conversation, status, time sent)
        lock = threading.Lock()
        stop = threading.Event()
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, self.stack(twilio) as st:
            def sender(base):
                n = 0
                while not stop.is_set() and n < 5000:
                    c = "CH%032x" % (base + n)
                    n += 1
                    try:
                        r = st.post_form("/callbacks/routing", [("ConversationSid", c),
                                                                ("MessagingBinding.Address",
                                                                 "+15550000001")])
                        status = r.status
                    except OSError:
                        status = 0
                    with lock:
                        results.append((c, status, time.monotonic()))
                    time.sleep(0.02)
            threads = [threading.Thread(target=sender, args=(base,))
                       for base in (0xb0000000, 0xc0000000)]
            for t in threads:
                t.start()
            try:
                time.sleep(3)
                self.pg.stop_server("fast")
                down_at = time.monotonic()
                time.sleep(10)
                self.pg.start_server()
                up_at = time.monotonic()
                time.sleep(5)
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=30)
            ok = [c for c, status, _ in results if status == 200]
            during = [status for _, status, sent in results if down_at + 1 < sent < up_at - 1]
            # Reconnects back off up to 2 s while the server is away: allow 3 s to be back.
            after = [status for _, status, sent in results if sent > up_at + 3]
            self.assertTrue(during and all(s == 503 for s in during), sorted(set(during)))
            self.assertTrue(after and after.count(200) >= len(after) - 2, after)
            self.assertTrue(all(s in (200, 503) for _, s, _ in results),
                            sorted(set(s for _, s, _ in results)))
            wait_for(lambda: all(twilio.participants(c) for c in ok), timeout=60,
                     what="every stored job delivered after the outage")
            for c in ok:
                self.assertEqual(len(twilio.participants(c)), 1, c)

    def test_round_robin_is_shared_by_the_hosts(self):
        # An address nobody owns and no default worker: the worker is the next turn of the
        # round-robin over alice, bob and carol. Three webhooks to one, two, one: one shared
        # sequence gives three different workers (per-process counters would give alice twice).
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, \
                self.stack(twilio) as one, self.stack(twilio) as two:
            chosen = []
            for i, st in enumerate((one, two, one, two, one, two)):
                r = st.post_form("/callbacks/routing", [("ConversationSid", "CH%032x" % (0xfe00 + i)),
                                                        ("MessagingBinding.Address",
                                                         "+15559990000")])
                self.assertEqual(r.status, 200, r)
                chosen.append(r.json()["worker"])
            workers = ["alice@example.com", "bob@example.com", "carol@example.com"]
            self.assertEqual(sorted(chosen[:3]), workers, chosen)
            self.assertEqual(sorted(chosen[3:]), workers, chosen)

    def test_database_down_is_503_then_recovers_by_itself(self):
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, self.stack(twilio) as st:
            details = [("Location", "GetCustomerDetailsByCustomerId"), ("CustomerId", "1"),
                       ("Worker", "alice@example.com")]
            self.assertEqual(st.post_form("/callbacks/crm", details).status, 200)
            self.pg.stop_server("fast")
            try:
                r = st.post_form("/callbacks/crm", details)
                self.assertEqual(r.status, 503, r)
                self.assertTrue(r.header("Retry-After"), r)
                r = st.post_form("/callbacks/routing", [("ConversationSid", "CH" + "2" * 32),
                                                        ("MessagingBinding.Address",
                                                         "+15550000001")])
                self.assertEqual(r.status, 503, r)
                self.assertEqual(st.get("/healthz").status, 503)
            finally:
                self.pg.start_server()
            wait_for(lambda: st.post_form("/callbacks/crm", details).status == 200, timeout=15,
                     what="the directory back after PostgreSQL restarted")
            self.assertEqual(st.get("/healthz").status, 200)
            self.assertEqual(st.responder.poll(), None)  # never restarted


class Failover(unittest.TestCase):
    """A multi-host URI with target_session_attrs=read-write (README "Failover"): the standby
    is listed first and skipped while it is read-only; when the primary stops and the standby
    is promoted, the same responder, unchanged and never restarted, serves and routes through
    the new primary."""

    def test_promoted_standby_takes_over_without_a_config_change(self):
        with PostgresServer() as primary:
            primary.create_database("ha")
            with PostgresServer(standby_of=primary) as standby:
                uri = ("postgresql://postgres@127.0.0.1:%d,127.0.0.1:%d/ha"
                       "?target_session_attrs=read-write&connect_timeout=2"
                       % (standby.port, primary.port))
                r = run(["import", "--directory", uri, DEMO])
                self.assertEqual(r.returncode, 0, r.stderr)
                details = [("Location", "GetCustomerDetailsByCustomerId"), ("CustomerId", "1"),
                           ("Worker", "alice@example.com")]
                with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, \
                        Stack(args=["--directory", uri, "--twilio.api-base", twilio.url],
                              env={"TWILIO_ACCOUNT_SID": ACCOUNT},
                              create_directory=False) as st:
                    def route(conversation):
                        return st.post_form("/callbacks/routing", [
                            ("ConversationSid", conversation),
                            ("MessagingBinding.Address", "+15550000001")]).status
                    self.assertEqual(st.post_form("/callbacks/crm", details).status, 200)
                    self.assertEqual(route("CH" + "a" * 32), 200)
                    wait_for(lambda: twilio.participants("CH" + "a" * 32), timeout=15,
                             what="the worker added before the failover")
                    # Writes went to the primary, and the standby has them.
                    wait_for(lambda: standby.psql("ha", "SELECT count(*) FROM frontline.outbox"
                                                  " WHERE state = 'done'",
                                                  check=False).stdout.strip() == "1",
                             timeout=15, what="the standby to replay the primary's writes")
                    primary.stop_server("fast")
                    self.assertEqual(st.post_form("/callbacks/crm", details).status, 503)
                    standby.promote()
                    wait_for(lambda: st.post_form("/callbacks/crm", details).status == 200,
                             timeout=20, what="the callbacks served by the promoted standby")
                    wait_for(lambda: route("CH" + "b" * 32) == 200, timeout=10,
                             what="routing on the new primary")
                    wait_for(lambda: twilio.participants("CH" + "b" * 32), timeout=15,
                             what="the worker added through the new primary's outbox")
                    self.assertEqual(len(twilio.participants("CH" + "a" * 32)), 1)
                    self.assertIsNone(st.responder.poll())  # never restarted
                    self.assertEqual(st.get("/healthz").status, 200)


class NameOrderOnPostgres(unittest.TestCase):
    """SPEC §2's order and search through nginx on PostgreSQL, root then --crm.collation sv on
    the same schema: the keys are rebuilt at start, and an import under sv keeps them so."""
    NAMES = ["Zoë Ball", "Zack", "José", "Jörg", "Eve", "Émile Zola", "Åsa Öberg", "Müller",
             "Straße", "eve"]
    ROOT = ["Åsa Öberg", "Émile Zola", "eve", "Eve", "Jörg", "José", "Müller", "Straße", "Zack",
            "Zoë Ball"]
    SWEDISH = ["Émile Zola", "eve", "Eve", "José", "Jörg", "Müller", "Straße", "Zack",
               "Zoë Ball", "Åsa Öberg"]

    def names(self, st, **params):
        r = st.post_form("/callbacks/crm", [("Location", "GetCustomersList"),
                                            ("Worker", "w@example.com"), ("PageSize", "3")]
                         + list(params.items()))
        self.assertEqual(r.status, 200, r)
        objects = r.json()["objects"]
        names = [c["display_name"] for c in objects["customers"]]
        if "next_page_token" in objects:
            names += self.names(st, NextPageToken=objects["next_page_token"],
                                **{k: v for k, v in params.items() if k != "NextPageToken"})
        return names

    def test_root_then_swedish(self):
        with PostgresServer() as pg:
            pg.create_database("order")
            uri = pg.uri("order")
            tmp = tempfile.mkdtemp(prefix="frontline-pgorder-")
            try:
                path = os.path.join(tmp, "names.json")
                with open(path, "w") as f:
                    json.dump([{"customer_id": str(i + 1), "display_name": n,
                                "worker": "w@example.com",
                                "channels": [{"type": "sms", "value": "+44 20 7946 %04d" % i}]}
                               for i, n in enumerate(self.NAMES)], f, ensure_ascii=False)
                self.assertEqual(run(["import", "--directory", uri, path]).returncode, 0)
                with Stack(args=["--directory", uri], create_directory=False) as st:
                    self.assertEqual(self.names(st), self.ROOT)
                    for query, expected in [("jose", ["José"]), ("oberg", ["Åsa Öberg"]),
                                            ("020 7946 0004", ["Eve"]), ("strasse", ["Straße"])]:
                        self.assertEqual(self.names(st, Query=query), expected, query)
                with Stack(args=["--directory", uri, "--crm.collation", "sv"],
                           create_directory=False) as st:
                    self.assertEqual(self.names(st), self.SWEDISH)
                    self.assertIn("directory sort and search keys rebuilt", st.read_log())
                # An import under root into the Swedish keys rebuilds the kept rows as well.
                more = os.path.join(tmp, "more.json")
                with open(more, "w") as f:
                    json.dump([{"customer_id": "99", "display_name": "Ödön",
                                "worker": "w@example.com"}], f, ensure_ascii=False)
                r = run(["import", "--directory", uri, more])
                self.assertEqual(r.returncode, 0, r.stderr)
                with Stack(args=["--directory", uri], create_directory=False) as st:
                    self.assertEqual(self.names(st), ["Åsa Öberg", "Émile Zola", "eve", "Eve",
                                                      "Jörg", "José", "Müller", "Ödön",
                                                      "Straße", "Zack", "Zoë Ball"])
                    self.assertNotIn("keys rebuilt", st.read_log())
            finally:
                shutil.rmtree(tmp, ignore_errors=True)


class DirectoryOnBothBackends(unittest.TestCase):
    """The stores' behaviour cases written as TEST_CASE_TEMPLATE over both backends run against
    PostgreSQL here, each in a schema of its own: the directory's
    (tests/unit/sqlite_directory_test.cpp: lookups, workers, list order and paging, page tokens
    and anchors, search) and the opt-out store's (tests/unit/optout_store_test.cpp: the
    conversation map, opt-out rows and their rules)."""

    def run_cases(self, pattern, at_least):
        unit_tests = os.environ.get("FRONTLINE_UNIT_TESTS")
        self.assertTrue(unit_tests, "FRONTLINE_UNIT_TESTS is not set (ctest sets it)")
        with PostgresServer() as pg:
            pg.create_database("cases")
            r = subprocess.run([unit_tests, "-tc=" + pattern, "-s"],
                               env=dict(os.environ, FRONTLINE_TEST_POSTGRES=pg.uri("cases")),
                               capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout[-4000:] + r.stderr[-2000:])
        self.assertNotIn("skipped:", r.stdout)
        ran = int(re.search(r"test cases:\s+(\d+) \|\s+(\d+) passed", r.stdout).group(2))
        self.assertGreaterEqual(ran, at_least, r.stdout[-2000:])

    def test_the_directory_cases_pass_on_postgresql(self):
        self.run_cases("directory:*<*PgBackend>", 6)

    def test_the_optout_store_cases_pass_on_postgresql(self):
        self.run_cases("optout store:*<*PgBackend>", 3)


if __name__ == "__main__":
    unittest.main()
