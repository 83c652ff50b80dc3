"""Routing and Conversations webhooks (SPEC §5, §6) through nginx, with the outbox delivering
to the Twilio API stub: the answer comes at once, the participant is added exactly once, and
failures are retried or kept as documented."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

from stack import AUTH_TOKEN, BIN, SOURCE_DIR, Stack, new_directory, sqlite_only, wait_for
from twilio_stub import TwilioStub

ROUTING = "/callbacks/routing"
CONVERSATIONS = "/callbacks/twilio-conversations"
ACCOUNT = "AC" + "0" * 32


class Webhooks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.twilio = TwilioStub(ACCOUNT, AUTH_TOKEN).start()
        cls.tmp = tempfile.mkdtemp(prefix="frontline-wh-")
        cls.db = new_directory(cls.tmp)
        subprocess.run([BIN, "import", "--directory", cls.db,
                        os.path.join(SOURCE_DIR, "examples", "customers.json")],
                       check=True, capture_output=True)
        cls.stack = Stack(args=["--directory", cls.db, "--twilio.api-base", cls.twilio.url],
                          env={"TWILIO_ACCOUNT_SID": ACCOUNT})
        cls.stack.start()

    @classmethod
    def tearDownClass(cls):
        code = cls.stack.stop()
        cls.twilio.stop()
        subprocess.run(["rm", "-rf", cls.tmp])
        assert code == 0, code

    def adds(self, conversation):
        return [r for r in self.twilio.requests_matching(
            "POST", "/v1/Conversations/%s/Participants" % conversation)]

    def route(self, conversation, address):
        return self.stack.post_form(ROUTING, [("ConversationSid", conversation),
                                              ("MessagingBinding.Address", address),
                                              ("MessagingBinding.ProxyAddress", "+15550001111")])

    def test_routing_adds_the_customers_worker_once(self):
        for conversation, address, worker in (("CH" + "1" * 32, "+15558675310", "alice@example.com"),
                                              ("CH" + "2" * 32, "whatsapp:+353871234567",
                                               "bob@example.com")):
            with self.subTest(address=address):
                r = self.route(conversation, address)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json(), {"worker": worker})
                wait_for(lambda: len(self.twilio.participants(conversation)) == 1,
                         what="the participant at the stub")
                self.assertEqual(self.twilio.participants(conversation)[0]["identity"], worker)
                # Twilio retries the webhook: still one participant, one REST call.
                self.assertEqual(self.route(conversation, address).status, 200)
                time.sleep(0.3)
                self.assertEqual(len(self.adds(conversation)), 1)

    def test_routing_retries_after_server_errors(self):
        conversation = "CH" + "3" * 32
        self.twilio.force(500, times=3, conversation_sid=conversation)
        self.assertEqual(self.route(conversation, "+15558675310").status, 200)
        wait_for(lambda: len(self.twilio.participants(conversation)) == 1, timeout=30,
                 what="delivery after three 500s")
        self.assertEqual(len(self.adds(conversation)), 4)

    def test_routing_without_conversation_sid_is_400(self):
        r = self.stack.post_form(ROUTING, [("MessagingBinding.Address", "+15558675310")])
        self.assertEqual(r.status, 400)

    def test_on_conversation_add(self):
        def add(address):
            pairs = [("EventType", "onConversationAdd"), ("ConversationSid", "CH" + "4" * 32)]
            if address is not None:
                pairs.append(("MessagingBinding.Address", address))
            r = self.stack.post_form(CONVERSATIONS, pairs)
            self.assertEqual(r.status, 200, r)
            return r.json()
        known = add("whatsapp:+15558675310")
        self.assertEqual(known["friendly_name"], "Joseph Martin")
        self.assertEqual(json.loads(known["attributes"]),
                         {"avatar": "https://example.com/avatars/joseph.png"})
        self.assertEqual(add("+19990000000")["friendly_name"], "+19990000000")
        self.assertEqual(add(None), {})

    def test_on_participant_added_merges_attributes(self):
        conversation = "CH" + "5" * 32
        p = self.twilio.add_participant(conversation, attributes='{"keep":"me","customer_id":"x"}',
                                        messaging_binding={"address": "+15558675310"})
        r = self.stack.post_form("/callbacks/conversations", [
            ("EventType", "onParticipantAdded"), ("ConversationSid", conversation),
            ("ParticipantSid", p["sid"]), ("MessagingBinding.Address", "+15558675310")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {})

        def merged():
            attrs = json.loads(self.twilio.participants(conversation)[0]["attributes"])
            return attrs.get("display_name") == "Joseph Martin"
        wait_for(merged, what="merged attributes")
        attrs = json.loads(self.twilio.participants(conversation)[0]["attributes"])
        self.assertEqual(attrs["keep"], "me")
        self.assertEqual(attrs["customer_id"], "x")  # existing keys are kept

    def test_other_events_are_200(self):
        r = self.stack.post_form(CONVERSATIONS, [("EventType", "onMessageAdd")])
        self.assertEqual((r.status, r.json()), (200, {}))
        self.assertEqual(self.stack.post_form(CONVERSATIONS, []).status, 400)


def outbox(db, *args):
    """`frontline-fcgi outbox ARGS --directory DB`: (exit code, stdout lines, stderr)."""
    r = subprocess.run([BIN, "outbox"] + list(args) + ["--directory", db], capture_output=True,
                       text=True, timeout=30)
    return r.returncode, [line for line in r.stdout.splitlines() if line.strip()], r.stderr


def conversation_sid(n, tag="a"):
    return "CH" + tag + "%031d" % n


class IsolatedCase(unittest.TestCase):
    """Each test gets its own stub, temporary directory and database; stacks it starts are
    stopped (and the stub) even when the test fails."""

    def setUp(self):
        self.twilio = TwilioStub(ACCOUNT, AUTH_TOKEN).start()
        self.addCleanup(self.twilio.stop)
        self.tmp = tempfile.mkdtemp(prefix="frontline-wh-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.db = new_directory(self.tmp)

    def import_customers(self):
        subprocess.run([BIN, "import", "--directory", self.db,
                        os.path.join(SOURCE_DIR, "examples", "customers.json")],
                       check=True, capture_output=True, timeout=30)

    def start_stack(self, args=(), env=None, deliver=True, **kwargs):
        """A Stack on self.db delivering to the stub (with deliver, the Account SID is set)."""
        environment = {"TWILIO_ACCOUNT_SID": ACCOUNT} if deliver else {}
        environment.update(env or {})
        stack = Stack(args=["--directory", self.db, "--twilio.api-base", self.twilio.url] +
                      list(args), env=environment, **kwargs)
        self.addCleanup(stack.stop)
        stack.start()
        return stack

    def route(self, stack, conversation, address="+15558675310"):
        return stack.post_form(ROUTING, [("ConversationSid", conversation),
                                         ("MessagingBinding.Address", address),
                                         ("MessagingBinding.ProxyAddress", "+15550001111")])

    def adds(self, conversation, status=None):
        return [r for r in self.twilio.requests_matching(
            "POST", "/v1/Conversations/%s/Participants" % conversation)
            if status is None or r["status"] == status]

    def identities(self, conversation):
        return [p["identity"] for p in self.twilio.participants(conversation)]

    def wait_participants(self, conversation, count=1, timeout=15):
        wait_for(lambda: len(self.twilio.participants(conversation)) >= count, timeout=timeout,
                 what="%d participant(s) in %s" % (count, conversation))

    def wait_outbox_empty(self, timeout=15):
        wait_for(lambda: outbox(self.db)[1] == [], timeout=timeout,
                 what="no pending or failed job in `outbox list`")

    def assert_outbox_empty(self):
        code, lines, err = outbox(self.db)
        self.assertEqual((code, lines), (0, []), err)


class RoutingChoice(IsolatedCase):
    """SPEC §5 step 1 beyond the customer's own worker."""

    def test_unknown_address_goes_to_the_default_worker(self):
        self.import_customers()
        for how, args, env in (("--routing.default-worker", ["--routing.default-worker",
                                                            "dave@example.com"], None),
                               ("WORKER_IDENTITY", [], {"WORKER_IDENTITY": "dave@example.com"})):
            with self.subTest(how=how):
                stack = self.start_stack(args=args, env=env)
                conversation = conversation_sid(1, "d" if env else "f")
                r = self.route(stack, conversation, "+19990001234")
                self.assertEqual((r.status, r.json()), (200, {"worker": "dave@example.com"}), r)
                self.wait_participants(conversation)
                self.assertEqual(self.identities(conversation), ["dave@example.com"])
                # A known customer still goes to their own worker, not the default one.
                known = conversation_sid(2, "d" if env else "f")
                r = self.route(stack, known, "whatsapp:+353871234567")
                self.assertEqual(r.json(), {"worker": "bob@example.com"})
                self.wait_participants(known)
                self.assertEqual(self.identities(known), ["bob@example.com"])
                self.wait_outbox_empty()
                stack.stop()

    def test_round_robin_over_workers_with_customers(self):
        self.import_customers()
        stack = self.start_stack()
        owners = {"alice@example.com", "bob@example.com", "carol@example.com"}
        chosen = []
        for n in range(6):
            r = self.route(stack, conversation_sid(n, "r"), "+1999000%04d" % n)
            self.assertEqual(r.status, 200, r)
            chosen.append(r.json()["worker"])
        # Strict rotation in one process: every owner in each window of three.
        self.assertEqual(set(chosen[:3]), owners, chosen)
        self.assertEqual(chosen[3:], chosen[:3], chosen)
        for n, worker in enumerate(chosen):
            self.wait_participants(conversation_sid(n, "r"))
            self.assertEqual(self.identities(conversation_sid(n, "r")), [worker])
        self.wait_outbox_empty()

    def test_a_retried_webhook_answers_the_worker_stored_first(self):
        self.import_customers()
        stack = self.start_stack()
        first = self.route(stack, conversation_sid(1, "t"), "+19990000001")
        self.assertEqual(first.status, 200, first)
        other = self.route(stack, conversation_sid(2, "t"), "+19990000002")
        self.assertNotEqual(other.json(), first.json())  # round-robin moved on
        retry = self.route(stack, conversation_sid(1, "t"), "+19990000001")
        self.assertEqual((retry.status, retry.json()), (200, first.json()), retry)
        self.wait_participants(conversation_sid(1, "t"))
        self.wait_outbox_empty()
        self.assertEqual(self.identities(conversation_sid(1, "t")), [first.json()["worker"]])
        self.assertEqual(len(self.adds(conversation_sid(1, "t"))), 1)

    def test_no_worker_at_all_is_422(self):
        stack = self.start_stack()  # empty directory, no default worker
        conversation = conversation_sid(1, "n")
        r = self.route(stack, conversation, "+19990001234")
        self.assertEqual(r.status, 422, r)
        time.sleep(0.7)  # longer than the dispatcher's poll interval
        self.assertEqual(self.twilio.requests, [])
        self.assert_outbox_empty()
        code, _, err = outbox(self.db)
        self.assertIn("0 pending or failed jobs", err)


class ParticipantAttributes(IsolatedCase):
    def setUp(self):
        super().setUp()
        self.import_customers()
        self.stack = self.start_stack()

    def participant_added(self, conversation, participant, identity=None,
                          address="+15558675310"):
        pairs = [("EventType", "onParticipantAdded"), ("ConversationSid", conversation),
                 ("ParticipantSid", participant), ("MessagingBinding.Address", address)]
        if identity is not None:
            pairs.append(("Identity", identity))
        r = self.stack.post_form(CONVERSATIONS, pairs)
        self.assertEqual((r.status, r.json()), (200, {}), r)

    def test_worker_participant_is_ignored(self):
        conversation = conversation_sid(1, "w")
        p = self.twilio.add_participant(conversation, identity="alice@example.com",
                                        attributes='{"role":"agent"}')
        self.participant_added(conversation, p["sid"], identity="alice@example.com")
        time.sleep(1.0)  # two dispatcher polls
        self.assertEqual(self.twilio.requests, [])
        self.assertEqual(self.twilio.participants(conversation)[0]["attributes"],
                         '{"role":"agent"}')
        self.assert_outbox_empty()

    def test_no_update_when_nothing_changes(self):
        conversation = conversation_sid(1, "u")
        attributes = json.dumps({"customer_id": "3", "display_name": "Joseph Martin",
                                 "avatar": "https://example.com/avatars/joseph.png",
                                 "extra": 1})
        p = self.twilio.add_participant(conversation, attributes=attributes,
                                        messaging_binding={"address": "+15558675310"})
        path = "/v1/Conversations/%s/Participants/%s" % (conversation, p["sid"])
        self.participant_added(conversation, p["sid"])
        wait_for(lambda: self.twilio.requests_matching("GET", path), what="the fetch")
        self.wait_outbox_empty()
        time.sleep(0.5)
        self.assertEqual(len(self.twilio.requests_matching("GET", path)), 1)
        self.assertEqual(self.twilio.requests_matching("POST", path), [])
        self.assertEqual(len(self.twilio.requests), 1)
        self.assertEqual(self.twilio.participants(conversation)[0]["attributes"], attributes)


@sqlite_only("the outbox file beside the directory file and its folder's permissions")
class OwnOutboxFile(IsolatedCase):
    """SPEC §8: the outbox in its own 0600 file beside the directory; jobs an older build left in
    the directory file's outbox table move over on first start and are delivered."""

    def test_jobs_in_an_older_directory_file_move_over_and_are_delivered(self):
        self.import_customers()
        conversation = conversation_sid(1, "m")
        now_ms = int(time.time() * 1000)
        with sqlite3.connect(self.db) as db:
            db.execute("INSERT INTO outbox (key, action, conversation_sid, identity, state, "
                       "next_attempt_at, created_at, updated_at) VALUES (?, 'add_participant', "
                       "?, 'carol@example.com', 'pending', ?, ?, ?)",
                       ("add:" + conversation, conversation, now_ms, now_ms, now_ms))
        db.close()
        stack = self.start_stack()
        self.wait_participants(conversation)
        self.assertEqual(self.identities(conversation), ["carol@example.com"])
        self.wait_outbox_empty()
        with sqlite3.connect(self.db) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM outbox").fetchone()[0], 0)
        db.close()
        outbox_db = os.path.join(self.tmp, "outbox.db")
        for name in (outbox_db, outbox_db + "-wal", outbox_db + "-shm"):
            self.assertEqual(os.stat(name).st_mode & 0o777, 0o600, name)
        # The moved job still deduplicates Twilio's retry of its webhook.
        r = self.route(stack, conversation, "+19990000001")
        self.assertEqual((r.status, r.json()), (200, {"worker": "carol@example.com"}), r)
        time.sleep(0.7)
        self.assertEqual(len(self.adds(conversation)), 1)

    def test_an_open_database_folder_gets_a_warning(self):
        self.import_customers()
        os.chmod(self.tmp, 0o755)
        stack = self.start_stack()
        wait_for(lambda: "readable by its group or by everyone" in stack.read_log(),
                 timeout=5, what="the folder warning")


class ParallelDelivery(IsolatedCase):
    """SPEC §6: several jobs in flight per process, so one stalled Twilio call delays no other."""

    def test_a_stalled_conversation_delays_no_other(self):
        self.import_customers()
        stack = self.start_stack(args=["--outbox.concurrency", "4"])
        stalled = conversation_sid(0, "s")
        # 3 s: under the REST client's 5 s total timeout, so the stalled call then succeeds.
        self.twilio.stall(3, conversation_sid=stalled, call="add")
        start = time.monotonic()
        self.assertEqual(self.route(stack, stalled).status, 200)
        wait_for(lambda: self.adds(stalled), timeout=5, what="the stalled call to arrive")
        others = [conversation_sid(n, "s") for n in range(1, 11)]
        for conversation in others:
            self.assertEqual(self.route(stack, conversation).status, 200)
        for conversation in others:
            self.wait_participants(conversation, timeout=10)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 2.5, "the others waited for the stalled call")
        self.assertEqual(self.twilio.participants(stalled), [])  # still stalled meanwhile
        self.wait_participants(stalled, timeout=10)
        self.wait_outbox_empty()
        self.assertEqual(len(self.adds(stalled)), 1)


class DeliveryOutcomes(IsolatedCase):
    """SPEC §6 outcomes of the add-participant call, seen at the stub and in `outbox list`."""

    def setUp(self):
        super().setUp()
        self.import_customers()
        self.stack = self.start_stack()

    def test_429_retry_after_is_honoured(self):
        conversation = conversation_sid(1, "t")
        # Retry-After 2 s is longer than the first backoff (0.5-1 s with jitter).
        self.twilio.force(429, times=1, retry_after=2, conversation_sid=conversation)
        self.assertEqual(self.route(self.stack, conversation).status, 200)
        self.wait_participants(conversation, timeout=15)
        adds = self.adds(conversation)
        self.assertEqual([r["status"] for r in adds], [429, 201])
        self.assertGreaterEqual(adds[1]["time"] - adds[0]["time"], 1.9)
        self.assertLess(adds[1]["time"] - adds[0]["time"], 5)
        self.assertEqual(self.identities(conversation), ["alice@example.com"])
        self.wait_outbox_empty()

    def test_already_exists_counts_as_done(self):
        for n, (status, code) in enumerate(((409, 50433), (400, 50437))):
            with self.subTest(status=status, code=code):
                conversation = conversation_sid(n, "x")
                self.twilio.force(status, times=1, code=code, conversation_sid=conversation)
                self.assertEqual(self.route(self.stack, conversation).status, 200)
                wait_for(lambda: self.adds(conversation), what="the add call")
                self.wait_outbox_empty()
                time.sleep(1.5)  # a retry would come within 1 s
                self.assertEqual([r["status"] for r in self.adds(conversation)], [status])
                self.assert_outbox_empty()
                self.assertEqual(self.twilio.participants(conversation), [])

    def test_400_fails_and_retry_requeues(self):
        conversation = conversation_sid(1, "b")
        self.twilio.force(400, times=1, code=20001, message="Invalid Identity",
                          conversation_sid=conversation)
        self.assertEqual(self.route(self.stack, conversation).status, 200)
        wait_for(lambda: outbox(self.db)[1], what="the failed job in `outbox list`")
        code, lines, err = outbox(self.db)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(lines), 1, lines)
        fields = lines[0].split("\t")
        job_id = fields[0]
        self.assertTrue(job_id.isdigit(), lines)
        self.assertEqual(fields[1:3], ["failed", "add:" + conversation], lines)
        self.assertIn("attempts=1", fields)
        self.assertIn("400", lines[0])
        self.assertIn("Invalid Identity", lines[0])
        self.assertIn("1 pending or failed jobs", err)
        time.sleep(1.5)  # failed is final: no retry
        self.assertEqual(len(self.adds(conversation)), 1)
        self.assertEqual(self.twilio.participants(conversation), [])

        r = subprocess.run([BIN, "outbox", "retry", job_id, "--directory", self.db],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_participants(conversation, timeout=10)
        self.assertEqual(self.identities(conversation), ["alice@example.com"])
        self.assertEqual([r["status"] for r in self.adds(conversation)], [400, 201])
        self.wait_outbox_empty()
        # Retrying it again is an error: it is no longer failed.
        r = subprocess.run([BIN, "outbox", "retry", job_id, "--directory", self.db],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)


class RestCallMetrics(IsolatedCase):
    """/metrics counts each HTTP call to the Twilio API by outcome (not jobs: a job retried
    after a 500 is two calls), beside the deliveries by outcome."""

    def setUp(self):
        super().setUp()
        self.import_customers()
        self.stack = self.start_stack()

    def calls(self):
        m = self.stack.metrics()
        return {outcome: m['frontline_twilio_rest_calls_total{outcome="%s"}' % outcome]
                for outcome in ("2xx", "4xx", "429", "5xx", "timeout", "network", "other")}

    def deliveries(self):
        m = self.stack.metrics()
        return {outcome: m['frontline_twilio_deliveries_total{outcome="%s"}' % outcome]
                for outcome in ("done", "retry", "failed")}

    def wait_calls(self, expected):
        try:
            wait_for(lambda: self.calls() == expected, timeout=15, what="REST calls %r" % expected)
        except TimeoutError:
            self.assertEqual(self.calls(), expected)

    def test_rest_calls_are_counted_by_outcome(self):
        zero = {"2xx": 0, "4xx": 0, "429": 0, "5xx": 0, "timeout": 0, "network": 0, "other": 0}
        self.assertEqual(self.calls(), zero)
        retried = conversation_sid(1, "m")
        self.twilio.force(500, times=1, conversation_sid=retried)
        self.assertEqual(self.route(self.stack, retried).status, 200)
        self.wait_participants(retried)
        self.wait_calls(dict(zero, **{"5xx": 1, "2xx": 1}))

        refused = conversation_sid(2, "m")
        self.twilio.force(400, times=1, code=20001, message="Invalid Identity",
                          conversation_sid=refused)
        self.assertEqual(self.route(self.stack, refused).status, 200)
        self.wait_calls(dict(zero, **{"5xx": 1, "2xx": 1, "4xx": 1}))
        self.assertEqual(self.deliveries(), {"done": 1, "retry": 1, "failed": 1})

        # Twilio unreachable: a network outcome, then the retry once it is back.
        down = conversation_sid(3, "m")
        self.twilio.go_down(seconds=1.5)
        self.assertEqual(self.route(self.stack, down).status, 200)
        self.wait_participants(down, timeout=20)
        calls = self.calls()
        self.assertGreaterEqual(calls["network"], 1, calls)
        self.assertEqual(calls["2xx"], 2, calls)
        self.assertEqual({k: calls[k] for k in ("4xx", "429", "5xx", "timeout", "other")},
                         {"4xx": 1, "429": 0, "5xx": 1, "timeout": 0, "other": 0})


class UndeliveredJobs(IsolatedCase):
    """A responder without the Account SID stores jobs it cannot deliver (shared hosting, a
    forgotten setting): /healthz says so, and `outbox deliver` (cron) delivers them."""

    def setUp(self):
        super().setUp()
        self.import_customers()
        self.stack = self.start_stack(deliver=False)

    def health(self):
        r = self.stack.get("/healthz")
        return r.status, r.json()

    def test_healthz_is_degraded_while_jobs_wait_for_a_process_that_can_deliver(self):
        status, body = self.health()
        self.assertEqual((status, body["status"]), (200, "ok"), body)  # nothing waits yet
        conversation = conversation_sid(1, "h")
        self.assertEqual(self.route(self.stack, conversation).status, 200)
        status, body = self.health()
        self.assertEqual(status, 200, body)  # requests are still answered
        self.assertEqual(body["status"], "degraded", body)
        self.assertIn("1 outbox jobs pending", body["reason"])
        self.assertIn("cannot deliver", body["reason"])
        self.assertEqual(body["outbox"]["pending"], 1, body)
        self.assertIn("oldest_pending_seconds", body["outbox"])
        time.sleep(0.7)  # longer than a dispatcher's poll interval: none runs here
        self.assertEqual(self.twilio.requests, [])
        # A process that can deliver (here a second responder on the same directory) clears it.
        self.start_stack()
        self.wait_participants(conversation)
        wait_for(lambda: self.health()[1]["status"] == "ok", what="/healthz ok again")
        self.assertNotIn("reason", self.health()[1])


    def test_metrics_show_the_oldest_pending_job(self):
        gauge = "frontline_outbox_oldest_pending_seconds"
        m = self.stack.metrics()
        self.assertEqual((m[gauge], m['frontline_outbox_jobs{state="pending"}']), (0, 0))
        self.assertEqual(self.route(self.stack, conversation_sid(2, "h")).status, 200)
        first = self.stack.metrics()
        self.assertEqual(first['frontline_outbox_jobs{state="pending"}'], 1)
        self.assertGreaterEqual(first[gauge], 0)
        time.sleep(1.2)
        later = self.stack.metrics()[gauge]
        self.assertGreaterEqual(later, 1.2)
        self.assertLess(later, 30)
        # The age /healthz judges "degraded" by: the same number, in whole seconds.
        self.assertIn(self.health()[1]["outbox"]["oldest_pending_seconds"],
                      (int(later), int(later) + 1))

    def deliver(self, account=ACCOUNT):
        """`frontline-fcgi outbox deliver` as cron runs it: (exit code, stderr lines)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
        if account:
            env["TWILIO_ACCOUNT_SID"] = account
        r = subprocess.run([BIN, "outbox", "deliver", "--directory", self.db,
                            "--twilio.api-base", self.twilio.url], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.stdout, "")
        return r.returncode, r.stderr.splitlines()

    def test_outbox_deliver_delivers_what_a_responder_without_credentials_stored(self):
        ok, later, retry_after = ([conversation_sid(n, "c") for n in range(2)],
                                  conversation_sid(2, "c"), conversation_sid(3, "c"))
        self.twilio.force(500, times=1, conversation_sid=later)
        self.twilio.force(429, times=1, retry_after=120, conversation_sid=retry_after)
        for conversation in ok + [later, retry_after]:
            self.assertEqual(self.route(self.stack, conversation).status, 200)
        time.sleep(0.7)
        self.assertEqual(self.twilio.requests, [])  # the responder only stores them

        code, lines = self.deliver(account=None)
        self.assertEqual(code, 78, lines)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("twilio.account-sid", lines[0])
        self.assertEqual(self.twilio.requests, [])

        code, lines = self.deliver()
        self.assertEqual(code, 0, lines)
        self.assertEqual(lines[-1], "outbox deliver: 2 delivered, 2 retrying, 0 failed", lines)
        self.assertEqual(len(lines), 3, lines)  # one line per job not done, naming it
        for conversation in ok:
            self.assertEqual(self.identities(conversation), ["alice@example.com"])
        self.assertEqual(self.twilio.participants(later), [])

        # Each run takes only what is due: the 500 after its backoff (about 1 s), never the
        # job Twilio asked to come back to in 120 s.
        def later_delivered():
            time.sleep(0.2)  # cron would wait a minute
            code, lines = self.deliver()
            self.assertEqual(code, 0, lines)
            return self.twilio.participants(later)
        wait_for(later_delivered, timeout=15, what="a cron run to deliver the retried job")
        self.assertEqual(self.identities(later), ["alice@example.com"])
        self.assertEqual(len(self.adds(retry_after)), 1)
        self.assertEqual(self.deliver(), (0, ["outbox deliver: 0 delivered, 0 retrying, 0 failed"]))
        code, pending, _ = outbox(self.db)
        self.assertEqual(len(pending), 1, pending)
        self.assertIn("add:" + retry_after, pending[0])
        for conversation in ok + [later]:
            self.assertEqual(len(self.adds(conversation, 201)), 1, conversation)


class Resilience(IsolatedCase):
    def setUp(self):
        super().setUp()
        self.import_customers()

    def test_stub_down_while_100_webhooks_arrive(self):
        stack = self.start_stack()
        downtime = 10.0
        conversations = [conversation_sid(n, "o") for n in range(100)]
        self.twilio.go_down(downtime)
        started = time.monotonic()
        slowest = 0.0
        for conversation in conversations:
            t = time.monotonic()
            r = self.route(stack, conversation)
            slowest = max(slowest, time.monotonic() - t)
            self.assertEqual((r.status, r.json()), (200, {"worker": "alice@example.com"}), r)
        sent = time.monotonic() - started
        self.assertLess(slowest, 1.0)  # the answer never waits for Twilio
        self.assertLess(sent, downtime - 2, "the webhooks took too long to test anything")
        self.assertTrue(outbox(self.db)[1])  # jobs are waiting
        # Backoff is 1 s doubling: after 10 s down the next attempt is within ~16 s.
        wait_for(lambda: all(self.twilio.participants(c) for c in conversations),
                 timeout=downtime + 40, what="all 100 participants")
        for conversation in conversations:
            self.assertEqual(self.identities(conversation), ["alice@example.com"], conversation)
            self.assertEqual(len(self.adds(conversation, 201)), 1, conversation)
            self.assertEqual(self.adds(conversation, 409), [], conversation)
        self.wait_outbox_empty()

    def test_routing_at_a_steady_rate_during_a_300k_import_replace(self):
        """The outbox has a file of its own, so an import holding the directory's write lock
        for seconds delays no webhook: every one sent while `import --replace` loads 300 000
        customers is answered 200 (never nginx's 504), and each is delivered once."""
        stack = self.start_stack()
        big = os.path.join(self.tmp, "big.json")
        with open(big, "w") as f:
            f.write("[")
            for n in range(300000):
                f.write('%s{"customer_id":"g%d","display_name":"Generated %d","worker":"gen@example.com",'
                        '"channels":[{"type":"sms","value":"+1555%07d"}]}' % ("," if n else "", n, n, n))
            f.write("]")
        importer = subprocess.Popen([BIN, "import", "--replace", "--directory", self.db, big],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        self.addCleanup(lambda: importer.poll() is None and (importer.kill(), importer.wait()))
        results = []
        lock = threading.Lock()
        deadline = time.monotonic() + 240

        def sender(tag):
            n = 0
            while importer.poll() is None and time.monotonic() < deadline:
                conversation = conversation_sid(n, tag)
                started = time.monotonic()
                r = self.route(stack, conversation)
                with lock:
                    results.append((conversation, r.status, time.monotonic() - started))
                n += 1
                time.sleep(0.02)  # about 50 webhooks a second from each sender
        senders = [threading.Thread(target=sender, args=(tag,)) for tag in ("i", "j")]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        self.assertEqual(importer.wait(timeout=60), 0, importer.stderr.read())
        importer.stderr.close()
        self.assertGreaterEqual(len(results), 20, "too few webhooks during the import")
        self.assertEqual([r for r in results if r[1] != 200], [])
        for conversation, _, _ in results:
            self.wait_participants(conversation, timeout=60)
            self.assertEqual(len(self.adds(conversation, 201)), 1, conversation)
        slowest = max(r[2] for r in results)
        print("%d webhooks during the import, slowest %.0f ms" % (len(results), slowest * 1000))

    def test_kill_9_while_claimed_then_restart(self):
        # One delivery in flight, so the others are still unclaimed when the process dies.
        stack = self.start_stack(args=["--outbox.concurrency", "1"])
        conversations = [conversation_sid(n, "k") for n in range(5)]
        # The first job's call stalls 2 s (under the client's 5 s timeout): the process dies
        # with it claimed, after the request reached Twilio, so the retry finds the worker there.
        self.twilio.stall(2.0, times=1, conversation_sid=conversations[0])
        for conversation in conversations:
            self.assertEqual(self.route(stack, conversation).status, 200)
        wait_for(lambda: self.adds(conversations[0]), what="the stalled add call")
        time.sleep(0.3)
        code, lines, _ = outbox(self.db)
        leased = [line for line in lines if "lease=" in line]
        self.assertEqual(len(leased), 1, lines)
        self.assertIn("add:" + conversations[0], leased[0])
        self.assertEqual(stack.stop_responder(signal.SIGKILL), -signal.SIGKILL)
        killed = time.monotonic()
        stack.stop()
        wait_for(lambda: self.twilio.participants(conversations[0]), what="the stalled add")
        # Nothing else was delivered by the dead process.
        self.assertEqual(len(self.twilio.requests), 1)
        self.assertEqual(len(outbox(self.db)[1]), len(conversations))

        restarted = self.start_stack()
        # The unclaimed jobs go at once; the claimed one after its 30 s lease expires.
        for conversation in conversations[1:]:
            self.wait_participants(conversation, timeout=10)
        # The last delivery is recorded just after the stub answered it.
        wait_for(lambda: len(outbox(self.db)[1]) == 1, timeout=5, what="only the claimed job")
        self.assertIn("add:" + conversations[0], outbox(self.db)[1][0])
        wait_for(lambda: outbox(self.db)[1] == [], timeout=45,
                 what="the killed process's job to be taken over")
        self.assertGreater(time.monotonic() - killed, 25)
        for conversation in conversations:
            self.assertEqual(self.identities(conversation), ["alice@example.com"], conversation)
            self.assertEqual(len(self.adds(conversation, 201)), 1, conversation)
        # The repeat of the claimed job met "already exists" and counted as done.
        self.assertEqual([r["status"] for r in self.adds(conversations[0])], [201, 409])
        restarted.stop()

    def test_three_processes_deliver_500_webhooks_once(self):
        stack = self.start_stack(children=3)
        self.assertEqual(len(stack.pids), 3)
        conversations = [conversation_sid(n, "p") for n in range(500)]
        errors = []

        def send(chunk):
            for conversation in chunk:
                r = self.route(stack, conversation)
                if r.status != 200:
                    errors.append((conversation, r))
        threads = [threading.Thread(target=send, args=(conversations[i::8],))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        wait_for(lambda: all(self.twilio.participants(c) for c in conversations), timeout=60,
                 what="all 500 participants")
        self.wait_outbox_empty()
        time.sleep(0.6)
        for conversation in conversations:
            self.assertEqual([r["status"] for r in self.adds(conversation)], [201],
                             conversation)
            self.assertEqual(self.identities(conversation), ["alice@example.com"])
        self.assertEqual(len(self.twilio.requests), 500)
        # All three processes are alive and stop cleanly.
        self.assertTrue(all(Stack._alive(pid) for pid in stack.pids))
        self.assertEqual(stack.stop(), 0)


if __name__ == "__main__":
    unittest.main()
