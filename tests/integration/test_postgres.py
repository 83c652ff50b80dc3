"""PostgreSQL as the directory (SPEC §8, issue 11), against a real PostgreSQL server started for
this file (pg_server.py). So far: check-config connects, reports the server and schema versions
and masks a password; the commands that would need the PostgreSQL stores refuse them clearly;
the options that make no sense with PostgreSQL are configuration errors."""
import os
import subprocess
import tempfile
import unittest

from pg_server import PostgresServer
from stack import AUTH_TOKEN, BIN

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

    def test_commands_not_served_yet_refuse_clearly(self):
        for args in (["export"], ["outbox", "list"], ["import", "/dev/null"]):
            with self.subTest(args=args):
                r = run(args + ["--directory", self.pg.uri("frontline")])
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn("PostgreSQL is not served by this version yet", r.stderr)


if __name__ == "__main__":
    unittest.main()
