"""A directory that cannot answer (SPEC §1, §8) through nginx: 503 {"error":"directory
unavailable"} with Retry-After, never a 404, an empty list or a guessed worker; a corrupt row
hurts only its customer; the file replaced by garbage under a running responder (in place, as
`cp` does, and by rename) makes it answer 503 without crashing, and it recovers by itself once
the good file is back. And imports that cannot finish (a full disk, kill -9) leave the
directory as it was and intact."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from stack import BIN, SOURCE_DIR, Stack, wait_for

CRM = "/callbacks/crm"
TEMPLATES = "/callbacks/templates"
OUTGOING = "/callbacks/outgoing-conversation"
ROUTING = "/callbacks/routing"
CONVERSATIONS = "/callbacks/twilio-conversations"
EXAMPLES = os.path.join(SOURCE_DIR, "examples", "customers.json")
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def run(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=ENV)
    if check and r.returncode != 0:
        raise AssertionError("%s: %d %s" % (args, r.returncode, r.stderr))
    return r


def outbox_lines(db):
    """`frontline-fcgi outbox list`: the pending and failed jobs, one line each."""
    r = run(BIN, "outbox", "list", "--directory", db)
    return [line for line in r.stdout.splitlines() if line.strip()]


def conversation(n):
    return "CH" + "%032d" % n


class StorageFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="frontline-sf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.db = os.path.join(self.tmp, "directory.db")
        run(BIN, "import", "--directory", self.db, EXAMPLES)
        # The import has closed its connection: the file is complete on its own (no -wal).
        self.good = os.path.join(self.tmp, "good.db")
        shutil.copyfile(self.db, self.good)
        self.garbage = os.path.join(self.tmp, "garbage")
        with open(self.garbage, "wb") as f:
            f.write(b"this is not a database\n" * 200)  # 4.6 kB: shorter than the directory
        # No Account SID: routing jobs stay pending, so `outbox list` shows every stored one.
        self.stack = Stack(args=["--directory", self.db, "--twilio.sms-number", "+15551230000"])
        self.stack.start()
        self.addCleanup(self.stack.stop)

    def post(self, path, **params):
        return self.stack.post_form(path, list(params.items()))

    def details(self, customer_id):
        return self.post(CRM, Location="GetCustomerDetailsByCustomerId", CustomerId=customer_id)

    def route(self, n, address):
        return self.post(ROUTING, ConversationSid=conversation(n),
                         **{"MessagingBinding.Address": address})

    def assert_unavailable(self, r):
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json(), {"error": "directory unavailable"})
        self.assertEqual(r.header("Retry-After"), "1")

    def assert_alive(self):
        self.assertIsNone(self.stack.responder.poll(),
                          "responder died: %s" % self.stack.read_stderr()[-2000:])

    def replace(self, source, in_place):
        if in_place:
            run("cp", source, self.db)  # truncates and rewrites the same inode
        else:
            tmp = self.db + ".new"
            shutil.copyfile(source, tmp)
            os.rename(tmp, self.db)

    # -- a row that cannot be decoded --------------------------------------------------------
    def test_corrupt_channels_blob_is_503_for_that_customer_only(self):
        # schema.h: each field is a LEB128 length then its bytes; 0x05 and nothing after it is
        # a length running past the end of the blob.
        run("sqlite3", self.db, "UPDATE customers SET channels = x'05' WHERE customer_id = '3'")
        self.assert_unavailable(self.details("3"))
        self.assert_unavailable(self.post(TEMPLATES, Location="GetTemplatesByCustomerId",
                                          CustomerId="3", Worker="alice@example.com"))
        self.assertEqual(self.details("1").status, 200)
        self.assertEqual(self.details("5").status, 200)
        self.assertEqual(self.details("999").status, 404)
        r = self.post(CRM, Location="GetCustomersList", Worker="alice@example.com")
        self.assertEqual(r.status, 200, r)  # the list shows no channels: it still works

        # Routing for the corrupt customer's address: 503 and no job, not round-robin.
        self.assert_unavailable(self.route(1, "+15558675310"))
        self.assertEqual(outbox_lines(self.db), [])
        r = self.route(2, "+15550000001")
        self.assertEqual(r.json(), {"worker": "alice@example.com"})
        lines = outbox_lines(self.db)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(conversation(2), lines[0])

        # PRE-event: never blocks the conversation, named after the raw address instead.
        r = self.post(CONVERSATIONS, EventType="onConversationAdd",
                      **{"MessagingBinding.Address": "+15558675310"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["friendly_name"], "+15558675310")
        # POST-event: 503, so the attribute update is not dropped silently.
        self.assert_unavailable(self.post(CONVERSATIONS, EventType="onParticipantAdded",
                                          ConversationSid=conversation(3), ParticipantSid="MB1",
                                          **{"MessagingBinding.Address": "+15558675310"}))
        self.assertEqual(len(outbox_lines(self.db)), 1)

        # The request's log line names the customer (quotes escaped inside the detail value).
        malformed = [line for line in self.stack.read_log().splitlines()
                     if "malformed channels or links of customer \\\"3\\\"" in line]
        self.assertTrue(malformed, self.stack.read_log()[-2000:])
        self.assertIn("status=503", malformed[0])
        self.assertIn("directory unavailable", malformed[0])
        self.assertEqual(self.stack.get("/healthz").status, 200)  # the store itself is fine
        metrics = self.stack.get("/metrics").body.decode()
        self.assertIn("frontline_directory_unavailable_total 5\n", metrics)
        self.assert_alive()

    # -- the whole file replaced ------------------------------------------------------------
    def check_replaced_by_garbage(self, in_place):
        self.assertEqual(self.details("3").status, 200)  # warm: pages cached, file mapped
        self.assertEqual(self.route(1, "+15558675310").status, 200)
        self.replace(self.garbage, in_place)
        self.assert_unavailable(self.details("3"))
        self.assert_unavailable(self.post(CRM, Location="GetCustomersList",
                                          Worker="alice@example.com"))
        self.assert_unavailable(self.route(2, "+15558675310"))
        self.assert_unavailable(self.route(3, "+19999999999"))  # not round-robin either
        self.assert_unavailable(self.post(TEMPLATES, Location="GetTemplatesByCustomerId",
                                          CustomerId="3"))
        self.assert_unavailable(self.post(OUTGOING, Location="GetProxyAddress",
                                          Worker="bob@example.com", ChannelType="sms",
                                          ChannelValue="+15553334444"))
        health = self.stack.get("/healthz")
        self.assertEqual(health.status, 503, health)
        self.assertEqual(health.json()["directory"], "error")
        metrics = self.stack.metrics()
        self.assertEqual(metrics["frontline_directory_up"], 0)
        self.assertEqual(metrics["frontline_outbox_up"], 1)  # its own file, still fine
        self.assertGreaterEqual(metrics["frontline_directory_unavailable_total"], 6)
        self.assert_alive()

        self.replace(self.good, in_place)
        wait_for(lambda: self.stack.get("/healthz").status == 200, timeout=10,
                 what="/healthz 200 after the good file is back")
        r = self.details("3")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["objects"]["customer"]["display_name"], "Joseph Martin")
        self.assertEqual(self.stack.metrics()["frontline_directory_up"], 1)
        self.assertEqual(self.route(4, "+15558675310").json(), {"worker": "alice@example.com"})
        jobs = "\n".join(outbox_lines(self.db))
        for refused in (2, 3):
            self.assertNotIn(conversation(refused), jobs)
        self.assert_alive()

    def test_garbage_in_place_then_restored(self):
        self.check_replaced_by_garbage(in_place=True)

    def test_garbage_by_rename_then_restored(self):
        self.check_replaced_by_garbage(in_place=False)

    def test_truncated_in_place_under_load_never_crashes(self):
        """cp of a shorter file over the directory while requests run: with SQLite's memory map
        a reader touching a page past the new end of file would die of SIGBUS."""
        stop = threading.Event()
        statuses = []
        errors = []

        def client(customer_id):
            while not stop.is_set():
                try:
                    statuses.append(self.details(customer_id).status)
                except OSError as e:
                    errors.append(e)

        threads = [threading.Thread(target=client, args=(cid,)) for cid in ("1", "3", "5", "10")]
        for t in threads:
            t.start()
        try:
            for round_number in range(15):
                self.replace(self.garbage, in_place=True)
                time.sleep(0.05)
                self.replace(self.good, in_place=True)
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        self.assert_alive()
        self.assertEqual(errors, [])
        self.assertTrue(set(statuses) <= {200, 503}, set(statuses))
        self.assertIn(503, statuses)
        wait_for(lambda: self.details("10").status == 200, timeout=10,
                 what="details 200 after the last restore")

    @unittest.skipIf(os.geteuid() == 0, "root reads a chmod 000 file anyway")
    def test_unreadable_file_then_readable_again(self):
        self.assertEqual(self.details("3").status, 200)
        # A new inode without read permission, renamed over the directory.
        tmp = self.db + ".new"
        shutil.copyfile(self.good, tmp)
        os.chmod(tmp, 0)
        os.rename(tmp, self.db)
        self.assert_unavailable(self.details("3"))
        self.assertEqual(self.stack.get("/healthz").status, 503)
        os.chmod(self.db, 0o600)
        wait_for(lambda: self.details("3").status == 200, timeout=10,
                 what="details 200 once the file is readable")
        self.assert_alive()


def write_customers(path, count, prefix="g"):
    """A JSON import file of `count` generated customers (about 200 bytes each)."""
    with open(path, "w") as f:
        f.write('{"customers":[')
        for i in range(count):
            if i:
                f.write(",")
            f.write(json.dumps({
                "customer_id": "%s%d" % (prefix, i),
                "display_name": "Generated Customer %d" % i,
                "worker": "worker%d@example.com" % (i % 20),
                "channels": [{"type": "sms", "value": "+1555%07d" % i},
                             {"type": "whatsapp", "value": "whatsapp:+1555%07d" % i}],
                "details": {"title": "Notes", "content": "Customer number %d" % i},
            }))
        f.write("]}")


def integrity(db):
    return run("sqlite3", db, "PRAGMA integrity_check").stdout.strip()


def export(db):
    return run(BIN, "export", "--directory", db).stdout


class ImportFaults(unittest.TestCase):
    """`frontline-fcgi import` is one transaction (SPEC §8): when it cannot finish, nothing of
    it is visible and the file is not damaged."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="frontline-if-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    @unittest.skipIf(os.geteuid() != 0, "mounting a small tmpfs needs root")
    def test_full_disk_during_import(self):
        mnt = os.path.join(self.tmp, "small")
        os.mkdir(mnt)
        run("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt)
        self.addCleanup(run, "umount", mnt)
        db = os.path.join(mnt, "directory.db")
        run(BIN, "import", "--directory", db, EXAMPLES)
        before = export(db)
        big = os.path.join(self.tmp, "big.json")  # outside the tmpfs
        write_customers(big, 40000)  # several times what fits in 3 MiB
        for replace in (False, True):
            with self.subTest(replace=replace):
                args = [BIN, "import", "--directory", db] + (["--replace"] if replace else [])
                r = run(*(args + [big]), check=False)
                self.assertEqual(r.returncode, 74, r.stderr)  # EX_IOERR, not 65 "bad data"
                lines = [line for line in r.stderr.splitlines() if line.strip()]
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn("full", lines[0].lower(), lines[0])
                self.assertEqual(integrity(db), "ok")
                self.assertEqual(export(db), before)
        # The space is given back: a small import still works afterwards.
        small = os.path.join(self.tmp, "small.json")
        write_customers(small, 10, prefix="s")
        run(BIN, "import", "--directory", db, small)
        self.assertIn('"s9"', export(db))
        self.assertEqual(integrity(db), "ok")

    def test_kill_9_mid_import(self):
        db = os.path.join(self.tmp, "directory.db")
        run(BIN, "import", "--directory", db, EXAMPLES)
        before = export(db)
        big = os.path.join(self.tmp, "big.json")
        write_customers(big, 150000)
        for replace in (False, True):
            with self.subTest(replace=replace):
                args = [BIN, "import", "--directory", db] + (["--replace"] if replace else [])
                proc = subprocess.Popen(args + [big], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        env=ENV)
                try:
                    # Midway: the transaction has written to the WAL but not committed. The
                    # validation pass comes first, which takes a while under the sanitizers.
                    wal = db + "-wal"
                    wait_for(lambda: proc.poll() is not None or
                             (os.path.exists(wal) and os.path.getsize(wal) > 4 << 20),
                             timeout=240, what="the import writing its transaction")
                    self.assertIsNone(proc.poll(), "the import finished before it was killed")
                finally:
                    proc.kill()  # SIGKILL
                    proc.wait()
                self.assertEqual(proc.returncode, -9)
                self.assertEqual(integrity(db), "ok")
                self.assertEqual(export(db), before)


if __name__ == "__main__":
    unittest.main()
