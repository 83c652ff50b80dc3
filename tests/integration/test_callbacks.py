"""The Frontline callbacks (SPEC §2-4) through nginx against a real SQLite directory loaded with
`frontline-fcgi import`: every Location, every error status, unicode and quotes, pagination
walked to the end while customers are added, and an import that fails half-way while the
responder keeps serving the old data."""
import json
import os
import subprocess
import tempfile
import threading
import unittest

from stack import BIN, SOURCE_DIR, Stack, new_directory

CRM = "/callbacks/crm"
OUTGOING = "/callbacks/outgoing-conversation"
TEMPLATES = "/callbacks/templates"
EXAMPLES = os.path.join(SOURCE_DIR, "examples", "customers.json")


def frontline(*args, check=True):
    r = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=120,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                       cwd=tempfile.gettempdir())
    if check and r.returncode != 0:
        raise AssertionError("frontline-fcgi %s: %d %s" % (args, r.returncode, r.stderr))
    return r


def write_json(path, customers, workers=()):
    with open(path, "w") as f:
        json.dump({"customers": customers, "workers": list(workers)}, f)


class Callbacks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="frontline-cb-")
        cls.db = new_directory(cls.tmp)
        frontline("import", "--directory", cls.db, EXAMPLES)
        cls.stack = Stack(args=["--directory", cls.db, "--twilio.sms-number", "+15551230000"])
        cls.stack.start()

    @classmethod
    def tearDownClass(cls):
        assert cls.stack.stop() == 0
        subprocess.run(["rm", "-rf", cls.tmp])

    def post(self, path, **params):
        return self.stack.post_form(path, list(params.items()))

    def crm_list(self, worker, **params):
        r = self.post(CRM, Location="GetCustomersList", Worker=worker, **params)
        self.assertEqual(r.status, 200, r)
        return r.json()["objects"]

    # -- crm ----------------------------------------------------------------------------
    def test_list_is_the_workers_customers_in_name_order(self):
        objects = self.crm_list("alice@example.com")
        self.assertIs(objects["searchable"], True)
        self.assertNotIn("next_page_token", objects)
        names = [c["display_name"] for c in objects["customers"]]
        self.assertEqual(names, ["Customer 1", "Customer 2", "Joseph Martin", "Zoë Ångström"])
        ids = [c["customer_id"] for c in objects["customers"]]
        self.assertTrue(all(isinstance(i, str) for i in ids))
        zoe = objects["customers"][3]
        self.assertEqual(set(zoe), {"customer_id", "display_name"})  # no avatar: omitted
        self.assertEqual(objects["customers"][0]["avatar"], "https://example.com/image.jpeg")
        self.assertEqual(self.crm_list("nobody@example.com")["customers"], [])

    def test_list_pages_with_next_page_token_and_legacy_anchor(self):
        first = self.crm_list("alice@example.com", PageSize="3")
        self.assertEqual(len(first["customers"]), 3)
        second = self.crm_list("alice@example.com", PageSize="3",
                               NextPageToken=first["next_page_token"])
        self.assertEqual([c["display_name"] for c in second["customers"]], ["Zoë Ångström"])
        self.assertNotIn("next_page_token", second)
        anchored = self.crm_list("alice@example.com", PageSize="30", Anchor="2")
        self.assertEqual([c["customer_id"] for c in anchored["customers"]], ["3", "4"])

    def test_list_rejects_bad_paging(self):
        for params in ({"PageSize": "0"}, {"PageSize": "201"}, {"PageSize": "ten"},
                       {"NextPageToken": "not-a-token"}, {"Anchor": "no-such-customer"}):
            with self.subTest(params=params):
                r = self.post(CRM, Location="GetCustomersList", Worker="alice@example.com",
                              **params)
                self.assertEqual(r.status, 400, r)
                self.assertIn("error", r.json())

    def test_search(self):
        cases = [("joseph", ["3"]), ("JOS MART", ["3"]), ("ångström", ["4"]),
                 ("+1 555 867 5310", ["3"]), ("8675310", ["3"]), ("customer", ["1", "2"]),
                 ("zzz", [])]
        for query, expected in cases:
            with self.subTest(query=query):
                objects = self.crm_list("alice@example.com", Query=query)
                self.assertEqual([c["customer_id"] for c in objects["customers"]], expected)
        # Accents, punctuation and phone digits anywhere (SPEC §2), on the demo customers.
        bob = [("jose", ["7"]), ("JOSÉ", ["7"]), ("maria", ["7"]), ("lopez", ["7"]),
               ("garcia-lopez", ["7"]), ("brien", ["5"]), ("o'brien", ["5"]), ("sean", ["5"]),
               ("87 123", ["5"]), ("087 123 4567", ["5"]), ("1234567", ["7", "5", "6"]),
               ("612 34", ["7"]), ("李", ["6"])]
        alice = [("zoe", ["4"]), ("angstrom", ["4"]), ("example.se", ["4"]),
                 ("555 867", ["3"]), ("5558675310", ["3"]), ("8675", ["3"]), ("c", ["1", "2"])]
        for worker, worker_cases in (("bob@example.com", bob), ("alice@example.com", alice)):
            for query, expected in worker_cases:
                with self.subTest(worker=worker, query=query):
                    objects = self.crm_list(worker, Query=query)
                    self.assertEqual([c["customer_id"] for c in objects["customers"]], expected)
        # Another worker's customers never show up in a search.
        self.assertEqual(self.crm_list("alice@example.com", Query="Captain")["customers"], [])
        self.assertEqual([c["customer_id"] for c in
                          self.crm_list("bob@example.com", Query="captain")["customers"]], ["5"])

    def test_details(self):
        r = self.post(CRM, Location="GetCustomerDetailsByCustomerId", CustomerId="5",
                      Worker="bob@example.com")
        self.assertEqual(r.status, 200, r)
        c = r.json()["objects"]["customer"]
        self.assertEqual(c["customer_id"], "5")
        self.assertEqual(c["display_name"], 'Seán "The Captain" O\'Brien')
        self.assertEqual(c["channels"][1], {"type": "whatsapp", "value": "whatsapp:+353871234567"})
        self.assertEqual(c["links"][0]["display_name"], "O'Brien & Sons")
        self.assertIn('"Always on time" <fast> & reliable', c["details"]["content"])

        unicode = self.post(CRM, Location="GetCustomerDetailsByCustomerId", CustomerId="6",
                            Worker="bob@example.com").json()["objects"]["customer"]
        self.assertEqual(unicode["display_name"], "李小龍")
        self.assertEqual(unicode["details"]["content"], "VIP 客戶 🐉")

        bare = self.post(CRM, Location="GetCustomerDetailsByCustomerId", CustomerId="8",
                         Worker="carol@example.com").json()["objects"]["customer"]
        for absent in ("channels", "links", "details", "avatar"):
            self.assertNotIn(absent, bare)

    def test_crm_errors(self):
        cases = [({"Location": "GetCustomerDetailsByCustomerId", "CustomerId": "999"}, 404),
                 ({"Location": "GetCustomerDetailsByCustomerId"}, 400),
                 ({"Location": "CreateCustomer"}, 422),
                 ({}, 422)]
        for params, status in cases:
            with self.subTest(params=params):
                r = self.post(CRM, Worker="alice@example.com", **params)
                self.assertEqual(r.status, status, r)
                self.assertIsInstance(r.json()["error"], str)

    # -- outgoing-conversation -------------------------------------------------------------
    def test_proxy_address(self):
        cases = [("bob@example.com", "sms", 200, "+15550009999"),
                 ("bob@example.com", "whatsapp", 200, "whatsapp:+15550009999"),
                 ("alice@example.com", "sms", 200, "+15551230000"),   # the global number
                 ("carol@example.com", "sms", 200, "+15550008888"),
                 ("alice@example.com", "whatsapp", 403, None),        # none configured
                 ("bob@example.com", "chat", 403, None)]
        for worker, channel, status, proxy in cases:
            with self.subTest(worker=worker, channel=channel):
                r = self.post(OUTGOING, Location="GetProxyAddress", Worker=worker,
                              CustomerId="3", ChannelType=channel,
                              ChannelValue="+15558675310")
                self.assertEqual(r.status, status, r)
                if proxy:
                    self.assertEqual(r.json(), {"proxy_address": proxy})
        r = self.post(OUTGOING, Location="Nope", Worker="bob@example.com", ChannelType="sms")
        self.assertEqual(r.status, 422)

    # -- templates ------------------------------------------------------------------------
    def test_templates(self):
        r = self.post(TEMPLATES, Location="GetTemplatesByCustomerId", CustomerId="3",
                      Worker="alice@example.com", ConversationSid="CH123")
        self.assertEqual(r.status, 200, r)
        categories = r.json()
        self.assertEqual([c["display_name"] for c in categories], ["Openers", "Replies", "Closing"])
        texts = [t for c in categories for t in c["templates"]]
        self.assertEqual(len(texts), 9)
        approved = [t for t in texts if t.get("whatsAppApproved") is True]
        self.assertEqual([t["content"] for t in approved],
                         ["Just to confirm I am on my way to your office. Joseph Martin."])
        self.assertTrue(all("whatsAppApproved" not in t for t in texts if t not in approved))
        joined = " ".join(t["content"] for t in texts)
        self.assertNotIn("{{", joined)
        self.assertIn("Joseph?", joined)                     # {{FirstName}}
        self.assertIn("- alice@example.com", joined)         # {{Author}} is the requester
        for params, status in (({"CustomerId": "999"}, 404), ({"Location": "X"}, 422)):
            with self.subTest(params=params):
                p = {"Location": "GetTemplatesByCustomerId", "CustomerId": "3",
                     "Worker": "alice@example.com"}
                p.update(params)
                self.assertEqual(self.post(TEMPLATES, **p).status, status)


class NameOrder(unittest.TestCase):
    """The list order and search of SPEC §2 through nginx, on names chosen for it, with the
    default (root) collation and with --crm.collation sv on the same directory file (whose
    keys the responder rebuilds when it starts)."""
    NAMES = ["Zoë Ball", "Zack", "José", "Jörg", "Eve", "Émile Zola", "Åsa Öberg", "Müller",
             "Straße", "eve"]

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="frontline-order-")
        cls.db = new_directory(cls.tmp)
        customers = [{"customer_id": str(i + 1), "display_name": name, "worker": "w@example.com",
                      "channels": [{"type": "sms", "value": "+44 20 7946 %04d" % i}]}
                     for i, name in enumerate(cls.NAMES)]
        path = os.path.join(cls.tmp, "names.json")
        write_json(path, customers)
        frontline("import", "--directory", cls.db, path)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp])

    def names(self, stack, **params):
        r = stack.post_form(CRM, [("Location", "GetCustomersList"), ("Worker", "w@example.com"),
                                  ("PageSize", "3")] + list(params.items()))
        self.assertEqual(r.status, 200, r)
        objects = r.json()["objects"]
        names = [c["display_name"] for c in objects["customers"]]
        if "next_page_token" in objects:
            names += self.names(stack, NextPageToken=objects["next_page_token"], **{
                k: v for k, v in params.items() if k != "NextPageToken"})
        return names

    def test_root_then_swedish_order_and_search(self):
        with Stack(args=["--directory", self.db]) as stack:
            self.assertEqual(self.names(stack), ["Åsa Öberg", "Émile Zola", "eve", "Eve", "Jörg",
                                                 "José", "Müller", "Straße", "Zack", "Zoë Ball"])
            for query, expected in [("jose", ["José"]), ("emile", ["Émile Zola"]),
                                    ("zoe", ["Zoë Ball"]), ("muller", ["Müller"]),
                                    ("strasse", ["Straße"]), ("oberg", ["Åsa Öberg"]),
                                    ("7946 0003", ["Jörg"]), ("020 7946 0004", ["Eve"]),
                                    ("7946", self.names(stack))]:
                with self.subTest(query=query):
                    self.assertEqual(self.names(stack, Query=query), expected)
        with Stack(args=["--directory", self.db, "--crm.collation", "sv"]) as stack:
            # Swedish: å, ä and ö are letters after z.
            self.assertEqual(self.names(stack), ["Émile Zola", "eve", "Eve", "José", "Jörg",
                                                 "Müller", "Straße", "Zack", "Zoë Ball",
                                                 "Åsa Öberg"])
            self.assertIn("directory sort and search keys rebuilt", stack.read_log())
        bad = frontline("check-config", "--directory", self.db, "--crm.collation", "xx",
                        check=False)
        self.assertEqual(bad.returncode, 78, bad.stderr)
        self.assertIn("--crm.collation", bad.stderr)


class DirectoryUnderChange(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="frontline-dir-")
        self.db = new_directory(self.tmp)

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.tmp])

    def test_pagination_sees_each_customer_once_while_customers_are_added(self):
        initial = [{"customer_id": "c%04d" % i, "display_name": "Name %04d" % ((i * 7919) % 1000),
                    "worker": "w@example.com"} for i in range(1000)]
        path = os.path.join(self.tmp, "initial.json")
        write_json(path, initial)
        frontline("import", "--directory", self.db, path)
        with Stack(args=["--directory", self.db]) as stack:
            seen = []
            token = None
            batch = 0
            while True:
                pairs = [("Location", "GetCustomersList"), ("Worker", "w@example.com"),
                         ("PageSize", "37")]
                if token:
                    pairs.append(("NextPageToken", token))
                r = stack.post_form(CRM, pairs)
                self.assertEqual(r.status, 200, r)
                objects = r.json()["objects"]
                seen += [c["customer_id"] for c in objects["customers"]]
                # Between pages, new customers land before, inside and after the cursor.
                extra = os.path.join(self.tmp, "extra%d.json" % batch)
                write_json(extra, [{"customer_id": "n%02d-%d" % (batch, k),
                                    "display_name": "Name %04d" % ((batch * 97 + k * 331) % 1000),
                                    "worker": "w@example.com"} for k in range(3)])
                frontline("import", "--directory", self.db, extra)
                batch += 1
                token = objects.get("next_page_token")
                if not token:
                    break
            self.assertEqual(len(seen), len(set(seen)), "a customer was repeated")
            original = {c["customer_id"] for c in initial}
            self.assertEqual(original - set(seen), set(), "a customer was skipped")

    def test_failed_import_leaves_served_data_intact(self):
        good = [{"customer_id": str(i), "display_name": "Good %d" % i, "worker": "w@example.com"}
                for i in range(2000)]
        path = os.path.join(self.tmp, "good.json")
        write_json(path, good)
        frontline("import", "--directory", self.db, path)
        before = frontline("export", "--directory", self.db).stdout

        bad = [{"customer_id": str(i), "display_name": "Changed %d" % i, "worker": "w@example.com"}
               for i in range(3000)]
        bad[1500]["channels"] = [{"type": "fax", "value": "+1"}]
        bad_path = os.path.join(self.tmp, "bad.json")
        with open(bad_path, "w") as f:  # one record per line, so the error names a line
            f.write("[\n" + ",\n".join(json.dumps(c) for c in bad) + "\n]\n")

        with Stack(args=["--directory", self.db]) as stack:
            stop = threading.Event()
            failures = []

            def hammer():
                while not stop.is_set():
                    r = stack.post_form(CRM, [("Location", "GetCustomersList"),
                                              ("Worker", "w@example.com"), ("PageSize", "5")])
                    names = [c["display_name"] for c in r.json()["objects"]["customers"]] \
                        if r.status == 200 else []
                    if r.status != 200 or any(not n.startswith("Good") for n in names):
                        failures.append(r)
            threads = [threading.Thread(target=hammer) for _ in range(3)]
            for t in threads:
                t.start()
            result = frontline("import", "--directory", self.db, bad_path, check=False)
            replace = frontline("import", "--replace", "--directory", self.db, bad_path,
                                check=False)
            stop.set()
            for t in threads:
                t.join()
            self.assertNotEqual(result.returncode, 0)
            self.assertIn(bad_path + ":1502:", result.stderr)
            self.assertNotEqual(replace.returncode, 0)
            self.assertEqual(failures, [])
            self.assertEqual(stack.get("/healthz").status, 200)
        self.assertEqual(frontline("export", "--directory", self.db).stdout, before)


if __name__ == "__main__":
    unittest.main()
