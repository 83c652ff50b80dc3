"""Routing and Conversations webhooks (SPEC §5, §6) through nginx, with the outbox delivering
to the Twilio API stub: the answer comes at once, the participant is added exactly once, and
failures are retried or kept as documented."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from stack import AUTH_TOKEN, BIN, SOURCE_DIR, Stack, wait_for
from twilio_stub import TwilioStub

ROUTING = "/callbacks/routing"
CONVERSATIONS = "/callbacks/twilio-conversations"
ACCOUNT = "AC" + "0" * 32


class Webhooks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.twilio = TwilioStub(ACCOUNT, AUTH_TOKEN).start()
        cls.tmp = tempfile.mkdtemp(prefix="frontline-wh-")
        cls.db = os.path.join(cls.tmp, "directory.db")
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


if __name__ == "__main__":
    unittest.main()
