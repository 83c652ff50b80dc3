"""SPEC §1 through a real nginx and the real binary: every bad input gets its documented status
and a JSON error, and the process keeps serving afterwards."""
import os
import random
import socket
import unittest
import urllib.parse

import fastcgi_client
from stack import Stack, parse_metrics, twilio_signature

CRM = "/callbacks/crm"
LIST = [("Location", "GetCustomersList"), ("Worker", "alice@example.com"), ("PageSize", "30")]


# 10 000 distinct parameters take about 90 KB, so this stack allows bodies up to 200 000 bytes.
MAX_BODY = 200000


class PipelineThroughNginx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(args=["--max-body", str(MAX_BODY)])
        cls.stack.start()
        cls.pid = cls.stack.responder.pid

    @classmethod
    def tearDownClass(cls):
        code = cls.stack.stop()
        assert code == 0, "responder exit code %r" % code

    def tearDown(self):
        # Whatever the case did, the same process still answers.
        self.assertIsNone(self.stack.responder.poll(), self.stack.read_stderr())
        self.assertEqual(self.stack.responder.pid, self.pid)
        self.assertEqual(self.stack.get("/healthz").status, 200)

    def assertJsonError(self, response, status):
        self.assertEqual(response.status, status, response)
        self.assertTrue(response.header("Content-Type").startswith("application/json"), response)
        body = response.json()
        self.assertIsInstance(body.get("error"), str, response)

    def test_signed_request_reaches_the_handler(self):
        r = self.stack.post_form(CRM, LIST)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json; charset=utf-8")
        self.assertIn("customers", r.json()["objects"])

    def test_health(self):
        r = self.stack.get("/healthz")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["directory"], "ok")
        self.assertEqual(body["outbox"], {"pending": 0, "failed": 0})

    def test_metrics(self):
        self.stack.get("/healthz")
        r = self.stack.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"))
        text = r.body.decode()
        self.assertIn('frontline_requests_total{route="/healthz",code="200"}', text)
        self.assertIn('frontline_outbox_jobs{state="pending"} 0\n', text)
        # Nothing pending in this stack: the gauge is there, at 0.
        self.assertIn("frontline_outbox_oldest_pending_seconds 0\n", text)
        self.assertIn("frontline_outbox_up 1\n", text)
        self.assertIn("frontline_directory_up 1\n", text)
        m = parse_metrics(text)
        # The /healthz histogram: cumulative, +Inf equal to _count, at least the GET above.
        route = 'route="/healthz"'
        count = m["frontline_request_duration_seconds_count{%s}" % route]
        self.assertGreaterEqual(count, 1)
        self.assertEqual(m['frontline_request_duration_seconds_bucket{%s,le="+Inf"}' % route], count)
        buckets = [v for k, v in m.items()
                   if k.startswith("frontline_request_duration_seconds_bucket{%s," % route)]
        self.assertEqual(len(buckets), 16)
        self.assertEqual(buckets, sorted(buckets))
        self.assertGreater(m["frontline_request_duration_seconds_sum{%s}" % route], 0)

    def test_signature_failures_are_counted_by_reason(self):
        missing = 'frontline_signature_failures_total{reason="missing"}'
        invalid = 'frontline_signature_failures_total{reason="invalid"}'
        forbidden = 'frontline_requests_total{route="/callbacks/crm",code="403"}'
        before = self.stack.metrics()
        self.assertJsonError(self.stack.post_form(CRM, LIST, sign=False), 403)
        self.assertJsonError(self.stack.post_form(CRM, LIST, token="not-the-token"), 403)
        self.assertJsonError(self.stack.post_form(CRM, LIST, url="http://elsewhere" + CRM), 403)
        self.assertEqual(self.stack.post_form(CRM, LIST).status, 200)  # signed: not counted
        after = self.stack.metrics()
        self.assertEqual(after[missing] - before[missing], 1)
        self.assertEqual(after[invalid] - before[invalid], 2)
        self.assertEqual(after[forbidden] - before.get(forbidden, 0), 3)

    def test_unknown_path_is_404(self):
        self.assertJsonError(self.stack.post_form("/callbacks/unknown", LIST), 404)
        self.assertJsonError(self.stack.get("/nothing-here"), 404)

    def test_wrong_method_is_405_with_allow(self):
        r = self.stack.get(CRM)
        self.assertJsonError(r, 405)
        self.assertEqual(r.header("Allow"), "POST")
        r = self.stack.request("POST", "/healthz", body=b"", headers={"Content-Length": "0"})
        self.assertJsonError(r, 405)
        self.assertEqual(r.header("Allow"), "GET")

    def test_malformed_percent_escapes_are_400(self):
        for body in (b"Location=%zz", b"Location=%", b"Loc%4=x", b"a=1&b=%G0"):
            with self.subTest(body=body):
                r = self.stack.request("POST", CRM, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": "irrelevant"})
                self.assertJsonError(r, 400)

    def test_binary_garbage_body(self):
        rng = random.Random(7)
        for i in range(20):
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
            with self.subTest(i=i):
                r = self.stack.request("POST", CRM, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": "garbage"})
                # Either it does not decode (400) or it decodes and is not signed (403).
                self.assertIn(r.status, (400, 403), r)
                self.assertJsonError(r, r.status)

    def test_binary_garbage_on_the_http_port_and_the_fastcgi_socket(self):
        rng = random.Random(11)
        garbage = bytes(rng.randrange(256) for _ in range(5000))
        # nginx refuses it as HTTP, and passes nothing on.
        answer = self.stack.raw(garbage, read_timeout=3)
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer[:200])
        # Not a FastCGI record: the responder hangs up at once without answering, rather than
        # holding a request thread on the connection (a timeout here) or replying to it.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(3)
            s.connect(self.stack.socket_path)
            s.sendall(garbage)
            try:
                reply = s.recv(100)
            except ConnectionResetError:  # closed with some of the garbage unread
                reply = b""
            self.assertEqual(reply, b"")

    def test_wrong_content_type_is_415(self):
        for ctype in ("application/json", "text/plain", "multipart/form-data; boundary=x"):
            with self.subTest(ctype=ctype):
                r = self.stack.post_form(CRM, LIST, content_type=ctype)
                self.assertJsonError(r, 415)
        r = self.stack.post_form(CRM, LIST,
                                 content_type="application/x-www-form-urlencoded; charset=UTF-8")
        self.assertEqual(r.status, 200, r)

    def test_missing_forged_and_misdirected_signatures_are_403(self):
        self.assertJsonError(self.stack.post_form(CRM, LIST, sign=False), 403)
        self.assertJsonError(self.stack.post_form(CRM, LIST, token="not-the-token"), 403)
        self.assertJsonError(self.stack.post_form(
            CRM, LIST, headers={"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}), 403)
        other = self.stack.public_url + "/callbacks/templates"
        self.assertJsonError(self.stack.post_form(CRM, LIST, url=other), 403)
        # A parameter added after signing.
        body = urllib.parse.urlencode(LIST + [("Extra", "1")])
        sig = twilio_signature(self.stack.token, self.stack.public_url + CRM, LIST)
        r = self.stack.request("POST", CRM, body=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})
        self.assertJsonError(r, 403)

    def test_query_string_is_part_of_the_signed_url(self):
        path = CRM + "?tenant=a%20b"
        self.assertEqual(self.stack.post_form(path, LIST).status, 200)
        r = self.stack.post_form(path, LIST, url=self.stack.public_url + CRM)
        self.assertJsonError(r, 403)

    def test_both_port_variants_are_accepted(self):
        # public-url has an explicit port; Twilio may have signed the URL without it.
        no_port = self.stack.public_url.rsplit(":", 1)[0] + CRM
        self.assertEqual(self.stack.post_form(CRM, LIST, url=no_port).status, 200)

    def test_repeated_and_unknown_parameters_are_signed(self):
        pairs = LIST + [("Tag", "b"), ("Tag", "a"), ("SomethingNew", "x y+z")]
        self.assertEqual(self.stack.post_form(CRM, pairs).status, 200)

    def test_empty_body(self):
        r = self.stack.post_form(CRM, [])
        self.assertJsonError(r, 422)  # signed, decoded, then no Location
        self.assertJsonError(self.stack.post_form(CRM, [], sign=False), 403)

    def test_ten_thousand_parameters(self):
        pairs = [("p%d" % i, "v") for i in range(9997)] + LIST
        r = self.stack.post_form(CRM, pairs)
        self.assertEqual(r.status, 200, r)
        pairs = [("p%d" % i, "") for i in range(10001)]
        self.assertJsonError(self.stack.post_form(CRM, pairs), 400)

    def test_body_over_max_body_is_413(self):
        big = [("Location", "GetCustomersList"), ("Pad", "x" * (MAX_BODY + 1))]
        self.assertJsonError(self.stack.post_form(CRM, big), 413)

    def test_ten_megabyte_body_is_413(self):
        body = b"Pad=" + b"x" * (10 * 1024 * 1024)
        r = self.stack.request("POST", CRM, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        self.assertJsonError(r, 413)

    def test_no_content_length_is_411(self):
        reply = self.stack.raw(
            b"POST " + CRM.encode() + b" HTTP/1.0\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 411"), reply[:200])
        self.assertIn(b'{"error":', reply)

    def test_body_longer_than_content_length(self):
        # nginx takes exactly Content-Length bytes as the body; the rest is a second
        # (garbage) request on the same connection, which nginx itself rejects.
        signed = urllib.parse.urlencode(LIST).encode()
        sig = twilio_signature(self.stack.token, self.stack.public_url + CRM, LIST)
        reply = self.stack.raw(
            b"POST " + CRM.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"X-Twilio-Signature: " + sig.encode() + b"\r\n"
            b"Content-Length: " + str(len(signed)).encode() + b"\r\n\r\n" + signed +
            b"&Extra=trailing-bytes-beyond-the-length")
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
        self.assertIn(b"HTTP/1.1 400", reply)

    def test_body_shorter_than_content_length(self):
        with socket.create_connection(("127.0.0.1", self.stack.port), timeout=10) as s:
            s.sendall(b"POST " + CRM.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1000\r\n\r\nLocation=GetCustomersList")
            s.shutdown(socket.SHUT_WR)
            reply = s.recv(65536)
        # nginx never passes a truncated body on; whatever it answers is not a success.
        self.assertFalse(reply.startswith(b"HTTP/1.1 2"), reply[:200])

    def test_request_id_from_the_caller_is_logged(self):
        self.stack.post_form(CRM, LIST, headers={"X-Request-Id": "trace-abc-123"})
        self.assertIn("req=trace-abc-123", self.stack.read_log())


class PipelineDirectFastCgi(unittest.TestCase):
    """Length mismatches that nginx never forwards, sent straight to the FastCGI socket."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        cls.stack.start()

    @classmethod
    def tearDownClass(cls):
        assert cls.stack.stop() == 0

    def send(self, body, length):
        params = {"REQUEST_METHOD": "POST", "DOCUMENT_URI": CRM, "REQUEST_URI": CRM,
                  "CONTENT_TYPE": "application/x-www-form-urlencoded",
                  "HTTP_X_TWILIO_SIGNATURE": "x"}
        if length is not None:
            params["CONTENT_LENGTH"] = length
        return fastcgi_client.request(self.stack.socket_path, params, body)

    def test_length_mismatches(self):
        cases = [
            ("shorter", b"Location=x", "100", 400),
            ("longer", b"Location=x&more", "10", 400),
            ("missing", b"Location=x", None, 411),
            ("empty", b"", "", 411),
            ("not a number", b"Location=x", "ten", 400),
            ("negative", b"Location=x", "-5", 400),
            ("huge", b"Location=x", "99999999999", 413),
        ]
        for name, body, length, status in cases:
            with self.subTest(name):
                code, headers, reply = self.send(body, length)
                self.assertEqual(code, status, reply)
                self.assertTrue(reply.startswith(b'{"error":'), reply)
        self.assertEqual(self.stack.get("/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
