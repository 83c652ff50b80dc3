"""Opt-outs (SPEC §11) through nginx on the real binary, on the test backend (CTest runs this file
on SQLite and again on PostgreSQL, integration/optout@postgres): a customer's STOP blocks workers'
messages (451 on the onMessageAdd PRE event) on that conversation's number only, never the
customer's own, and new conversations from that number (403 from GetProxyAddress); `import
--replace` keeps it; START lifts it; an unmapped STOP applies to every number; a body that only
contains a keyword is none; a store that cannot answer rejects the PRE event (503); and `optout
list|add|remove` edits the same records."""
import os
import shutil
import subprocess
import tempfile
import unittest

from stack import (BIN, SOURCE_DIR, Stack, is_database_uri, new_directory, postgres_server)

CONVERSATIONS = "/callbacks/twilio-conversations"
ROUTING = "/callbacks/routing"
OUTGOING = "/callbacks/outgoing-conversation"
EXAMPLES = os.path.join(SOURCE_DIR, "examples", "customers.json")
GLOBAL_SMS = "+15550001111"  # alice has no number of her own: hers is this one
BOB_SMS = "+15550009999"
CAROL_SMS = "+15550008888"
OPTED_OUT = {"error": "customer opted out"}
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def cli(*args):
    """frontline-fcgi ARGS: (exit code, stdout, stderr)."""
    r = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=60, env=ENV)
    return r.returncode, r.stdout, r.stderr


def sid(tag, n=0):
    return "CH" + tag + "%030d" % n


class OptOut(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="frontline-optout-")
        cls.db = new_directory(cls.tmp)
        code, _, err = cli("import", "--directory", cls.db, EXAMPLES)
        assert code == 0, err
        # No Account SID: routing jobs are stored, not delivered (no Twilio needed here).
        cls.stack = Stack(args=["--directory", cls.db, "--twilio.sms-number", GLOBAL_SMS])
        cls.stack.start()

    @classmethod
    def tearDownClass(cls):
        code = cls.stack.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, code

    # -- webhooks ---------------------------------------------------------------------------
    def route(self, conversation, customer, proxy):
        r = self.stack.post_form(ROUTING, [("ConversationSid", conversation),
                                           ("MessagingBinding.Address", customer),
                                           ("MessagingBinding.ProxyAddress", proxy)])
        self.assertEqual(r.status, 200, r)
        return r

    def event(self, event, conversation, author, body):
        return self.stack.post_form(CONVERSATIONS, [
            ("EventType", event), ("ConversationSid", conversation), ("Author", author),
            ("Body", body), ("Source", "SMS"), ("MessageSid", "IM" + "0" * 32)])

    def pre(self, conversation, author, body="hello"):
        """onMessageAdd (PRE): the status Twilio decides by."""
        return self.event("onMessageAdd", conversation, author, body)

    def customer_says(self, conversation, customer, body):
        """onMessageAdded (POST) from the customer: always 200 {}."""
        r = self.event("onMessageAdded", conversation, customer, body)
        self.assertEqual((r.status, r.json()), (200, {}), r)

    def proxy_for(self, worker, value, channel="sms"):
        return self.stack.post_form(OUTGOING, [("Location", "GetProxyAddress"),
                                               ("Worker", worker), ("CustomerId", "x"),
                                               ("ChannelType", channel),
                                               ("ChannelValue", value)])

    def assert_blocked(self, r):
        self.assertEqual(r.status, 451, r)
        self.assertEqual(r.json(), OPTED_OUT)

    def assert_allowed(self, r):
        self.assertEqual((r.status, r.json()), (200, {}), r)

    def optout(self, *args):
        return cli("optout", *args, "--directory", self.db)

    def listed(self):
        code, out, err = self.optout("list")
        self.assertEqual(code, 0, err)
        return [line.split("\t")[:3] for line in out.splitlines() if line.strip()]

    def rename_opt_outs(self, old, new):
        """Renames the store's opt_outs table from outside: every statement on it fails."""
        if is_database_uri(self.db):
            postgres_server().psql(self.db.rsplit("/", 1)[1],
                                   "ALTER TABLE frontline.%s RENAME TO %s" % (old, new))
        else:
            subprocess.run(["sqlite3", os.path.join(self.tmp, "outbox.db"),
                            "ALTER TABLE %s RENAME TO %s" % (old, new)], check=True, env=ENV)

    # -- cases ------------------------------------------------------------------------------
    def test_stop_blocks_workers_on_that_number_until_start(self):
        joe = "+15558675310"  # Joseph Martin, alice's customer
        here, there = sid("a", 1), sid("a", 2)
        self.route(here, joe, GLOBAL_SMS)
        self.route(there, "whatsapp:" + joe, "whatsapp:" + BOB_SMS)
        self.assert_allowed(self.pre(here, "alice@example.com"))
        before = self.stack.metrics()

        self.customer_says(here, joe, "  Stop\n")
        self.assert_blocked(self.pre(here, "alice@example.com"))
        self.assert_blocked(self.pre(here, "bob@example.com"))  # anyone but the customer
        self.assert_allowed(self.pre(here, joe, "one more question"))  # the customer never
        self.assert_allowed(self.pre(there, "alice@example.com"))  # another number
        r = self.proxy_for("alice@example.com", "+1 555 867 5310")
        self.assertEqual((r.status, r.json()), (403, OPTED_OUT), r)
        r = self.proxy_for("bob@example.com", joe)  # bob's own number: not opted out there
        self.assertEqual((r.status, r.json()), (200, {"proxy_address": BOB_SMS}), r)
        self.assertIn(["15558675310", "15550001111", "opted out"], self.listed())

        # The directory replaced whole: opt-outs and the map are event state, kept.
        code, _, err = cli("import", "--replace", "--directory", self.db, EXAMPLES)
        self.assertEqual(code, 0, err)
        self.assert_blocked(self.pre(here, "alice@example.com"))
        self.assertIn(["15558675310", "15550001111", "opted out"], self.listed())

        after = self.stack.metrics()
        for key, at_least in (('frontline_optout_keywords_total{change="opt_out"}', 1),
                              ('frontline_optout_blocked_total{what="message"}', 3),
                              ('frontline_optout_blocked_total{what="new_conversation"}', 1)):
            self.assertGreaterEqual(after[key] - before.get(key, 0), at_least, key)
        self.assertGreaterEqual(after['frontline_requests_total{route="/callbacks/'
                                      'twilio-conversations",code="451"}'], 3)

        self.customer_says(here, joe, "START")
        self.assert_allowed(self.pre(here, "alice@example.com"))
        r = self.proxy_for("alice@example.com", joe)
        self.assertEqual((r.status, r.json()), (200, {"proxy_address": GLOBAL_SMS}), r)
        self.assertNotIn(["15558675310", "15550001111", "opted out"], self.listed())
        self.assertGreaterEqual(self.stack.metrics()[
            'frontline_optout_keywords_total{change="opt_in"}'], 1)
        log = self.stack.read_log()
        self.assertIn("opted out on proxy 15550001111", log)
        self.assertIn("status=451", log)

    def test_an_unmapped_stop_applies_to_every_number(self):
        stranger = "+19995550100"  # not in the directory
        self.customer_says(sid("b", 0), stranger, "QUIT")  # no webhook mapped sid("b", 0)
        self.assertIn(["19995550100", "every proxy", "opted out"], self.listed())
        # An unmapped conversation is never blocked.
        self.assert_allowed(self.pre(sid("b", 0), "alice@example.com"))
        # Conversations mapped later, by routing and by onParticipantAdded, on two numbers.
        self.route(sid("b", 1), stranger, GLOBAL_SMS)
        r = self.stack.post_form(CONVERSATIONS, [
            ("EventType", "onParticipantAdded"), ("ConversationSid", sid("b", 2)),
            ("ParticipantSid", "MB" + "1" * 32), ("MessagingBinding.Address", stranger),
            ("MessagingBinding.ProxyAddress", CAROL_SMS)])
        self.assertEqual(r.status, 200, r)
        self.assert_blocked(self.pre(sid("b", 1), "alice@example.com"))
        self.assert_blocked(self.pre(sid("b", 2), "carol@example.com"))
        self.assert_allowed(self.pre(sid("b", 2), stranger))
        for worker in ("alice@example.com", "bob@example.com", "carol@example.com"):
            r = self.proxy_for(worker, stranger)
            self.assertEqual((r.status, r.json()), (403, OPTED_OUT), (worker, r))
        # A worker's STOP in an unmapped conversation is nobody's opt-out.
        self.customer_says(sid("b", 3), "alice@example.com", "STOP")
        self.assertFalse([row for row in self.listed() if row[0] == "alice@example.com"])
        # START on one number opts in there only.
        self.customer_says(sid("b", 1), stranger, "unstop")
        self.assert_allowed(self.pre(sid("b", 1), "alice@example.com"))
        self.assert_blocked(self.pre(sid("b", 2), "carol@example.com"))

    def test_a_body_containing_the_word_is_not_a_keyword(self):
        one = "+15550000001"  # Customer 1
        conversation = sid("c", 1)
        self.route(conversation, one, GLOBAL_SMS)
        for body in ("Please STOP texting me", "stop.", "STOP!", "S T O P", "stopp", ""):
            with self.subTest(body=body):
                self.customer_says(conversation, one, body)
                self.assert_allowed(self.pre(conversation, "alice@example.com"))
        # A worker (not the customer) writing STOP changes nothing either.
        self.customer_says(conversation, "alice@example.com", "STOP")
        self.assert_allowed(self.pre(conversation, "alice@example.com"))
        self.assertFalse([row for row in self.listed() if row[0] == "15550000001"])

    def test_a_store_that_cannot_answer_rejects_the_pre_event(self):
        two = "+15550000002"  # Customer 2
        conversation = sid("d", 1)
        self.route(conversation, two, GLOBAL_SMS)
        self.assert_allowed(self.pre(conversation, "alice@example.com"))
        self.rename_opt_outs("opt_outs", "opt_outs_away")
        try:
            r = self.pre(conversation, "alice@example.com")
            # Twilio rejects the message: when we cannot tell, we do not let it through.
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json(), {"error": "opt-outs unavailable"})
            self.assertEqual(r.header("Retry-After"), "1")
            # POST with a keyword: 503, so Twilio's retry can record it; GetProxyAddress too.
            r = self.event("onMessageAdded", conversation, two, "STOP")
            self.assertEqual(r.status, 503, r)
            self.assertEqual(self.proxy_for("alice@example.com", two).status, 503)
            # Messages that are no keyword are not affected on the POST event.
            self.assertEqual(self.event("onMessageAdded", conversation, two, "hi").status, 200)
        finally:
            self.rename_opt_outs("opt_outs_away", "opt_outs")
        self.assert_allowed(self.pre(conversation, "alice@example.com"))  # back by itself
        self.assertIsNone(self.stack.responder.poll())
        self.assertIn("opt-outs unavailable", self.stack.read_log())

    def test_optout_command_lists_adds_and_removes(self):
        amara = "+2348031234567"  # carol's customer; carol's own number is CAROL_SMS
        conversation = sid("e", 1)
        self.route(conversation, amara, CAROL_SMS)
        code, _, err = self.optout("add", "whatsapp:" + amara, "--proxy", CAROL_SMS)
        self.assertEqual(code, 0, err)
        self.assertIn("opted out on proxy 15550008888", err)
        self.assertIn(["2348031234567", "15550008888", "opted out"], self.listed())
        self.assert_blocked(self.pre(conversation, "carol@example.com"))
        r = self.proxy_for("carol@example.com", amara)
        self.assertEqual((r.status, r.json()), (403, OPTED_OUT), r)
        self.assertEqual(self.proxy_for("alice@example.com", amara).status, 200)

        code, _, err = self.optout("add", amara)  # every proxy
        self.assertEqual(code, 0, err)
        self.assertEqual([row for row in self.listed() if row[0] == "2348031234567"],
                         [["2348031234567", "every proxy", "opted out"]])
        self.assertEqual(self.proxy_for("alice@example.com", amara).status, 403)
        code, _, err = self.optout("remove", amara, "--proxy", GLOBAL_SMS)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.proxy_for("alice@example.com", amara).status, 200)
        self.assertEqual(self.proxy_for("carol@example.com", amara).status, 403)
        code, _, err = self.optout("remove", amara)
        self.assertEqual(code, 0, err)
        self.assertFalse([row for row in self.listed() if row[0] == "2348031234567"])
        self.assert_allowed(self.pre(conversation, "carol@example.com"))

        if is_database_uri(self.db):
            # The events component (outbox, opt-outs, map) is at this binary's latest version.
            code, out, err = cli("check-config", "--directory", self.db,
                                 "--insecure-skip-signature")
            self.assertEqual(code, 0, err)
            self.assertRegex(out, r"events version (\d+) of \1\n")

        # Usage errors are 64 (SPEC §9).
        for args in (["frob"], ["add"], ["add", "a", "b"], ["list", "--proxy", GLOBAL_SMS],
                     ["remove", " "]):
            with self.subTest(args=args):
                code, _, err = self.optout(*args)
                self.assertEqual(code, 64, err)
                self.assertIn("optout", err)


if __name__ == "__main__":
    unittest.main()
