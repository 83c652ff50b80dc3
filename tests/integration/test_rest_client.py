"""The real CurlRestClient (through tests/rest_client_driver) against the Twilio API stub on
loopback: every SPEC §6 outcome the outbox will rely on (done, retry, failed), Retry-After,
timeouts, refused connections, bad credentials, the fetch/update round trip, connection reuse,
and that the auth token never appears in what the client prints. Also checks the stub itself, so
the outbox tests can trust it.

Environment: FRONTLINE_REST_DRIVER (the driver binary, set by CTest).
"""
import base64
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from stack import wait_for
from twilio_stub import TwilioStub

DRIVER = os.environ.get("FRONTLINE_REST_DRIVER", "rest_client_driver")
ACCOUNT_SID = "AC" + "1" * 32
TOKEN = "rest-client-secret-token-9f8e7d6c5b4a"
CH = "CH" + "a" * 32
SID_PATTERN = re.compile(r"^MB[0-9a-f]{32}$")


class RestClientTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="frontline-rest-")
        self.token_file = self.write_token(TOKEN)
        self.stub = TwilioStub(ACCOUNT_SID, TOKEN).start()

    def tearDown(self):
        self.stub.stop()
        subprocess.run(["rm", "-rf", self.tmp])

    def write_token(self, token, name="token"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(token + "\n")
        return path

    def drive(self, *command, repeat=1, threads=1, total_timeout_ms=3000, token_file=None,
              account_sid=ACCOUNT_SID, api_base=None):
        """Runs the driver and returns its results, one dict per call."""
        args = [DRIVER, "--api-base", api_base or self.stub.url, "--account-sid", account_sid,
                "--auth-token-file", token_file or self.token_file,
                "--connect-timeout-ms", "1000", "--total-timeout-ms", str(total_timeout_ms),
                "--repeat", str(repeat), "--threads", str(threads)] + list(command)
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The token must never leak: not in results, descriptions, or diagnostics.
        self.assertNotIn(TOKEN, r.stdout + r.stderr)
        results = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(results), repeat * threads, r.stdout)
        return results

    def drive_one(self, *command, **kwargs):
        return self.drive(*command, **kwargs)[0]

    def control(self, **command):
        """Steers the stub over HTTP, as a test in another process would."""
        req = urllib.request.Request(self.stub.url + "/__control", json.dumps(command).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def assertOutcome(self, result, outcome, status=None, transport="none"):
        self.assertEqual(result["outcome"], outcome, result)
        self.assertEqual(result["transport_error"], transport, result)
        if status is not None:
            self.assertEqual(result["http_status"], status, result)

    # -- add participant -------------------------------------------------------------------
    def test_add_participant_sends_basic_auth_and_a_form_body(self):
        r = self.drive_one("add", CH, "alice@example.com")
        self.assertOutcome(r, "done", 201)
        self.assertRegex(r["participant"]["sid"], SID_PATTERN)
        self.assertEqual(r["participant"]["identity"], "alice@example.com")
        self.assertEqual(r["participant"]["conversation_sid"], CH)
        self.assertEqual(r["participant"]["attributes"], "{}")

        [req] = self.stub.requests
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["path"], "/v1/Conversations/%s/Participants" % CH)
        self.assertEqual(req["form"], {"Identity": ["alice@example.com"]})
        self.assertEqual(req["headers"]["content-type"], "application/x-www-form-urlencoded")
        self.assertEqual(req["headers"]["accept"], "application/json")
        self.assertRegex(req["headers"]["user-agent"], r"^frontline-fcgi/\d+\.\d+\.\d+$")
        self.assertNotIn("expect", req["headers"])
        scheme, credentials = req["headers"]["authorization"].split(" ", 1)
        self.assertEqual(scheme, "Basic")
        self.assertEqual(base64.b64decode(credentials).decode(), ACCOUNT_SID + ":" + TOKEN)
        self.assertEqual([p["identity"] for p in self.stub.participants(CH)],
                         ["alice@example.com"])

    def test_form_values_are_escaped(self):
        identity = "alice+bob@example.com &=x/?#%41 é\u00a0"
        r = self.drive_one("add", CH, identity)
        self.assertOutcome(r, "done", 201)
        [req] = self.stub.requests
        self.assertEqual(req["form"], {"Identity": [identity]})
        self.assertNotIn("+", req["body"])
        self.assertNotIn(" ", req["body"])

    def test_existing_identity_is_409_50433_and_done(self):
        first, second = self.drive("add", CH, "alice", repeat=2)
        self.assertOutcome(first, "done", 201)
        self.assertOutcome(second, "done", 409)
        self.assertEqual(second["error"]["code"], 50433)
        self.assertEqual(second["error"]["status"], 409)
        self.assertEqual(second["error"]["more_info"], "https://www.twilio.com/docs/errors/50433")
        self.assertEqual(len(self.stub.participants(CH)), 1)

    def test_group_participant_exists_50437_is_done(self):
        self.stub.force(400, code=50437, message="Group participant already exists")
        r = self.drive_one("add", CH, "alice")
        self.assertOutcome(r, "done", 400)
        self.assertEqual(r["error"]["code"], 50437)

    def test_500_three_times_then_normal(self):
        # Through the HTTP control endpoint, as the outbox tests in another process will.
        self.assertEqual(self.control(action="force", status=500, times=3), {"ok": True})
        results = self.drive("add", CH, "alice", repeat=4)
        for r in results[:3]:
            self.assertOutcome(r, "retry", 500)
            self.assertEqual(r["error"]["code"], 20500)
        self.assertOutcome(results[3], "done", 201)
        self.assertEqual([q["status"] for q in self.stub.requests], [500, 500, 500, 201])
        self.assertEqual(len(self.stub.participants(CH)), 1)

    def test_503_is_retry(self):
        self.stub.force(503)
        self.assertOutcome(self.drive_one("add", CH, "alice"), "retry", 503)
        self.assertEqual(self.stub.participants(CH), [])

    def test_429_with_retry_after_is_retry(self):
        self.stub.force(429, retry_after=1)
        r = self.drive_one("add", CH, "alice")
        self.assertOutcome(r, "retry", 429)
        self.assertEqual(r["retry_after"], 1)
        self.assertEqual(r["error"]["code"], 20429)
        self.assertIn("Retry-After 1 s", r["description"])

    def test_429_without_retry_after(self):
        self.stub.force(429)
        r = self.drive_one("add", CH, "alice")
        self.assertOutcome(r, "retry", 429)
        self.assertIsNone(r["retry_after"])

    def test_400_is_failed(self):
        self.stub.force(400, code=21211, message="Invalid parameter")
        r = self.drive_one("add", CH, "alice")
        self.assertOutcome(r, "failed", 400)
        self.assertEqual(r["error"]["code"], 21211)
        self.assertEqual(r["error"]["message"], "Invalid parameter")

    def test_stall_past_the_total_timeout_is_a_timeout_and_retry(self):
        self.stub.stall(1.0)
        start = time.monotonic()
        r = self.drive_one("add", CH, "alice", total_timeout_ms=300)
        elapsed = time.monotonic() - start
        self.assertOutcome(r, "retry", 0, transport="timeout")
        self.assertLess(elapsed, 0.95)
        # Twilio may still apply a call the client gave up on: the retry then meets 50433,
        # which is why that code counts as done.
        wait_for(lambda: len(self.stub.participants(CH)) == 1, what="the stalled add")
        again = self.drive_one("add", CH, "alice")
        self.assertOutcome(again, "done", 409)

    def test_stub_down_is_a_connection_error_and_retry(self):
        self.stub.go_down()
        r = self.drive_one("add", CH, "alice")
        self.assertOutcome(r, "retry", 0, transport="connection")
        self.assertTrue(r["transport_message"])
        self.stub.come_up()
        self.assertOutcome(self.drive_one("add", CH, "alice"), "done", 201)

    def test_down_through_the_control_endpoint_comes_back_by_itself(self):
        port = self.stub.port
        self.assertEqual(self.control(action="down", seconds=1), {"ok": True})
        wait_for(lambda: not self.stub.is_up, what="the stub going down")
        self.assertOutcome(self.drive_one("add", CH, "alice"), "retry", transport="connection")
        wait_for(lambda: self.stub.is_up, what="the stub coming back")
        self.assertEqual(self.stub.port, port)
        self.assertOutcome(self.drive_one("add", CH, "alice"), "done", 201)

    def test_wrong_credentials_are_401_and_failed(self):
        wrong = self.write_token("not-the-token", "wrong")
        r = self.drive_one("add", CH, "alice", token_file=wrong)
        self.assertOutcome(r, "failed", 401)
        self.assertEqual(r["error"]["code"], 20003)
        r = self.drive_one("add", CH, "alice", account_sid="AC" + "2" * 32)
        self.assertOutcome(r, "failed", 401)
        self.assertEqual(self.stub.participants(CH), [])

    def test_malformed_sids_are_never_sent(self):
        for command in (("add", "CH/../x", "alice"), ("fetch", CH, "MB?x=1"),
                        ("update", CH, "MB 1", "{}"), ("update", CH, "MB1", "{not json")):
            r = self.drive_one(*command)
            self.assertOutcome(r, "failed", 0, transport="invalid_request")
        self.assertEqual(self.stub.requests, [])

    def test_api_base_other_than_http_or_https_is_refused(self):
        r = self.drive_one("add", CH, "alice", api_base="ftp://127.0.0.1:%d" % self.stub.port)
        self.assertOutcome(r, "failed", 0, transport="invalid_request")

    # -- fetch and update ------------------------------------------------------------------
    def test_fetch_and_update_round_trip(self):
        binding = {"type": "sms", "address": "+15551234567", "proxy_address": "+15550001111"}
        customer = self.stub.add_participant(CH, attributes='{"existing":"kept"}',
                                             messaging_binding=binding)
        mb = customer["sid"]
        r = self.drive_one("fetch", CH, mb)
        self.assertOutcome(r, "done", 200)
        self.assertEqual(r["participant"]["sid"], mb)
        self.assertEqual(r["participant"]["identity"], "")
        self.assertEqual(r["participant"]["attributes"], '{"existing":"kept"}')
        self.assertEqual(r["participant"]["binding_address"], "+15551234567")

        merged = json.dumps({"existing": "kept", "customer_id": "c-1",
                             "display_name": "Zoë \"Q\" & Co", "avatar": "https://x/a.png?a=1"})
        r = self.drive_one("update", CH, mb, merged)
        self.assertOutcome(r, "done", 200)
        self.assertEqual(r["participant"]["attributes"], merged)
        update = self.stub.requests[-1]
        self.assertEqual(update["method"], "POST")
        self.assertEqual(update["path"], "/v1/Conversations/%s/Participants/%s" % (CH, mb))
        self.assertEqual(update["form"], {"Attributes": [merged]})

        r = self.drive_one("fetch", CH, mb)
        self.assertEqual(json.loads(r["participant"]["attributes"]), json.loads(merged))
        self.assertEqual(self.stub.participants(CH)[0]["attributes"], merged)

    def test_large_attributes_are_sent_in_one_request(self):
        mb = self.stub.add_participant(CH, identity="alice")["sid"]
        big = json.dumps({"notes": "x" * 5000})
        start = time.monotonic()
        r = self.drive_one("update", CH, mb, big)
        self.assertOutcome(r, "done", 200)
        self.assertLess(time.monotonic() - start, 0.9)  # no Expect: 100-continue wait
        self.assertNotIn("expect", self.stub.requests[-1]["headers"])
        self.assertEqual(self.stub.participants(CH)[0]["attributes"], big)

    def test_fetch_unknown_participant_is_404_50432_and_failed(self):
        r = self.drive_one("fetch", CH, "MB" + "0" * 32)
        self.assertOutcome(r, "failed", 404)
        self.assertEqual(r["error"]["code"], 50432)
        r = self.drive_one("update", CH, "MB" + "0" * 32, "{}")
        self.assertOutcome(r, "failed", 404)

    def test_calls_reuse_one_connection(self):
        mb = self.stub.add_participant(CH, identity="alice")["sid"]
        results = self.drive("fetch", CH, mb, repeat=3)
        self.assertEqual([r["http_status"] for r in results], [200, 200, 200])
        self.assertEqual(len({q["client_port"] for q in self.stub.requests}), 1,
                         self.stub.requests)

    def test_one_client_shared_by_threads(self):
        # 8 threads x 5 adds of one identity on one client: exactly one is created, the rest
        # are 409/50433, and the handle pool keeps the connection count near the thread count.
        results = self.drive("add", CH, "alice", repeat=5, threads=8)
        statuses = sorted(r["http_status"] for r in results)
        self.assertEqual(statuses, [201] + [409] * 39)
        self.assertTrue(all(r["outcome"] == "done" for r in results))
        self.assertEqual(len(self.stub.participants(CH)), 1)
        self.assertLessEqual(len({q["client_port"] for q in self.stub.requests}), 8)


class StubTest(unittest.TestCase):
    """The stub's own checks, made with urllib rather than the client under test."""

    def setUp(self):
        self.stub = TwilioStub(ACCOUNT_SID, TOKEN).start()
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (ACCOUNT_SID, TOKEN)).encode()).decode()

    def tearDown(self):
        self.stub.stop()

    def call(self, method, path, body=None, content_type="application/x-www-form-urlencoded",
             auth=True):
        headers = {"Content-Type": content_type} if body is not None else {}
        if auth:
            headers["Authorization"] = self.auth
        req = urllib.request.Request(self.stub.url + path, body, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_checks_auth_form_bodies_and_attributes(self):
        path = "/v1/Conversations/%s/Participants" % CH
        status, body = self.call("POST", path, b"Identity=a", auth=False)
        self.assertEqual((status, body["code"]), (401, 20003))
        status, body = self.call("POST", path, b'{"Identity":"a"}', "application/json")
        self.assertEqual(status, 400)
        status, body = self.call("POST", path, b"Identity=a&Attributes=%7Bnope")
        self.assertEqual((status, body["code"]), (400, 50400))
        status, body = self.call("POST", path, b"Identity=a")
        self.assertEqual(status, 201)
        status, body = self.call("POST", path + "/" + body["sid"], b"Attributes=%7Bnope")
        self.assertEqual((status, body["code"]), (400, 50400))
        status, body = self.call("GET", "/v1/Nope")
        self.assertEqual((status, body["code"]), (404, 20404))

    def test_control_endpoint(self):
        def control(command):
            req = urllib.request.Request(self.stub.url + "/__control",
                                         json.dumps(command).encode(), method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())

        p = control({"action": "add_participant", "conversation_sid": CH,
                     "attributes": '{"a":1}',
                     "messaging_binding": {"type": "sms", "address": "+1555"}})
        self.assertRegex(p["sid"], SID_PATTERN)
        control({"action": "force", "status": 503, "call": "fetch"})
        path = "/v1/Conversations/%s/Participants/%s" % (CH, p["sid"])
        self.assertEqual(self.call("GET", path)[0], 503)
        self.assertEqual(self.call("GET", path)[1]["attributes"], '{"a":1}')
        with urllib.request.urlopen(self.stub.url + "/__control/requests", timeout=10) as r:
            self.assertEqual([q["status"] for q in json.loads(r.read())], [503, 200])
        with urllib.request.urlopen(self.stub.url + "/__control/participants?conversation_sid=" +
                                    CH, timeout=10) as r:
            self.assertEqual([q["sid"] for q in json.loads(r.read())], [p["sid"]])
        self.assertEqual(control({"action": "reset"}), {"ok": True})
        self.assertEqual(self.stub.participants(CH), [])


if __name__ == "__main__":
    unittest.main()
