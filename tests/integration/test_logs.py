"""SPEC §10 logs: one line per request with the request id, in each format, and never a
secret: not the auth token, not the signature, in any format, whatever the request."""
import json
import os
import unittest

from stack import AUTH_TOKEN, Stack, is_database_uri, new_directory, twilio_signature

CRM = "/callbacks/crm"
LIST = [("Location", "GetCustomersList"), ("Worker", "alice@example.com")]


def exercise(stack):
    """Requests that touch every logging path: success, each error, a forged signature that
    contains the token itself, headers that mention it."""
    signatures = [twilio_signature(AUTH_TOKEN, stack.public_url + CRM, LIST)]
    stack.post_form(CRM, LIST, headers={"X-Request-Id": "req-ok"})
    stack.post_form(CRM, LIST, headers={"X-Twilio-Signature": AUTH_TOKEN,
                                        "X-Request-Id": "req-forged"})
    stack.post_form(CRM, LIST + [("Token", AUTH_TOKEN)], sign=False)
    stack.post_form(CRM, [("Location", "Nope")])
    stack.post_form("/callbacks/nowhere", LIST)
    stack.request("POST", CRM, body=b"%zz", headers={"Content-Type":
                                                      "application/x-www-form-urlencoded"})
    stack.get("/healthz", headers={"Authorization": "Basic " + AUTH_TOKEN})
    return signatures


DATABASE_PASSWORD = "db-secret-pw-42"


def directory_with_password(folder):
    """The test backend's directory (SQLite: a file in `folder`, relative to the responder's
    working directory when relative); on PostgreSQL with a password in the URI (the test
    server trusts loopback, so any password connects) that the logs must never show."""
    directory = new_directory(folder)
    if is_database_uri(directory):
        scheme, rest = directory.split("://", 1)
        user, host = rest.split("@", 1)
        directory = "%s://%s:%s@%s" % (scheme, user, DATABASE_PASSWORD, host)
    return directory


class Logs(unittest.TestCase):
    def stack(self, *args, **kwargs):
        return Stack(args=["--directory", directory_with_password(".")] +
                     list(args), **kwargs)

    def check_no_secrets(self, stack, signatures):
        text = stack.read_log() + stack.read_stderr()
        self.assertNotIn(AUTH_TOKEN, text)
        self.assertNotIn(DATABASE_PASSWORD, text)
        for sig in signatures:
            self.assertNotIn(sig, text)
        return text

    def test_plain(self):
        with self.stack("--log-format", "plain") as stack:
            sigs = exercise(stack)
            text = self.check_no_secrets(stack, sigs)
            lines = [l for l in text.splitlines() if " request " in l]
            self.assertGreaterEqual(len(lines), 7)
            ok = [l for l in lines if "req=req-ok" in l]
            self.assertEqual(len(ok), 1, lines)
            for field in ("route=/callbacks/crm", "status=200", "op=GetCustomersList",
                          "worker=alice@example.com", " us="):
                self.assertIn(field, ok[0])
            forged = [l for l in lines if "req=req-forged" in l][0]
            self.assertIn("status=403", forged)

    def test_json(self):
        with self.stack("--log-format", "json") as stack:
            sigs = exercise(stack)
            text = self.check_no_secrets(stack, sigs)
            records = [json.loads(l) for l in stack.read_log().splitlines()]
            requests = [r for r in records if r["msg"] == "request"]
            self.assertGreaterEqual(len(requests), 7)
            ok = [r for r in requests if r["req"] == "req-ok"][0]
            self.assertEqual(ok["status"], "200")
            self.assertEqual(ok["route"], "/callbacks/crm")
            self.assertEqual(ok["op"], "GetCustomersList")
            self.assertEqual(ok["worker"], "alice@example.com")
            self.assertTrue(all(len(r["req"]) > 0 for r in requests))

    def test_journal(self):
        with self.stack("--log-format", "journal") as stack:
            sigs = exercise(stack)
            self.check_no_secrets(stack, sigs)
            lines = stack.read_log().splitlines()
            self.assertTrue(all(l[:3] in ("<3>", "<4>", "<6>") for l in lines), lines)
            self.assertTrue(any(l.startswith("<4>request") and "status=403" in l for l in lines))
            self.assertTrue(any(l.startswith("<6>request") and "status=200" in l for l in lines))

    def test_skip_signature_warns_on_every_request(self):
        with self.stack("--insecure-skip-signature", token=None) as stack:
            for _ in range(3):
                self.assertEqual(stack.post_form(CRM, LIST, sign=False).status, 200)
            warnings = [l for l in stack.read_log().splitlines() if "signature check is OFF" in l]
            self.assertGreaterEqual(len(warnings), 3)


if __name__ == "__main__":
    unittest.main()
