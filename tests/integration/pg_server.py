"""A PostgreSQL server of the test run's own: initdb and pg_ctl from Debian's postgresql package
into a temporary folder, run as an unprivileged user (nobody when the tests run as root),
listening on a unix socket in that folder and on 127.0.0.1 at a free port, stopped and removed
at the end. No system-wide service is started or touched.

    with PostgresServer() as pg:
        pg.create_database("frontline")
        uri = pg.uri("frontline")          # postgresql://postgres@127.0.0.1:PORT/frontline
        pg.psql("frontline", "SELECT 1")

Connections are trusted (no password) and only from loopback and the folder's socket.
PostgresServer(standby_of=primary) is a streaming-replication standby of a running server
(pg_basebackup), which promote() turns into a primary: a failover on one machine.
"""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from stack import free_port, wait_for


def postgres_bindir():
    """The newest /usr/lib/postgresql/N/bin that has initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


class PostgresServer:
    def __init__(self, superuser="postgres", standby_of=None):
        self.bindir = postgres_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (scripts/install-deps installs it)")
        self.superuser = superuser
        self.standby_of = standby_of
        self.dir = None
        self.port = None
        self.running = False

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _as_owner(self, cmd):
        """`cmd` run as the folder's unprivileged owner (initdb refuses root)."""
        if os.geteuid() == 0:
            return ["runuser", "-u", "nobody", "--"] + cmd
        return cmd

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="frontline-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        env = dict(os.environ, LC_ALL="C.UTF-8")
        if self.standby_of is None:
            cmd = [os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", self.superuser,
                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
        else:
            # A copy of the primary that keeps streaming from it (-R writes standby.signal and
            # primary_conninfo); initdb's pg_hba trusts replication from loopback.
            cmd = [os.path.join(self.bindir, "pg_basebackup"), "-D", self.data, "-R",
                   "-X", "stream", "-c", "fast", "-h", "127.0.0.1", "-p", str(self.standby_of.port),
                   "-U", self.superuser]
        subprocess.run(self._as_owner(cmd), check=True, capture_output=True, env=env,
                       cwd=self.dir)
        self.start_server()

    def start_server(self):
        """(Re)starts the server on the same folder and port; waits until it accepts."""
        if self.port is None:
            self.port = free_port()
        options = "-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s " \
                  "-c max_connections=200 -c fsync=on" % (self.port, self.dir)
        subprocess.run(self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data,
                                       "-l", self.log, "-o", options, "-w", "-t", "60",
                                       "start"]),
                       check=True, capture_output=True, cwd=self.dir)
        self.running = True
        wait_for(lambda: self.psql("postgres", "SELECT 1", check=False).returncode == 0,
                 timeout=30, what="PostgreSQL to accept connections")

    def stop_server(self, mode="fast"):
        """Stops the server (the folder is kept, start_server brings it back)."""
        if not self.running:
            return
        subprocess.run(self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data,
                                       "-m", mode, "-w", "-t", "60", "stop"]),
                       capture_output=True, cwd=self.dir)
        self.running = False

    def promote(self):
        """A standby becomes a primary (accepts writes); waits until it does."""
        subprocess.run(self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D", self.data,
                                       "-w", "-t", "60", "promote"]),
                       check=True, capture_output=True, cwd=self.dir)
        wait_for(lambda: self.psql("postgres", "SELECT pg_is_in_recovery()",
                                   check=False).stdout.strip() == "f",
                 timeout=30, what="the promoted server to accept writes")

    def stop(self):
        if self.dir is None:
            return
        self.stop_server("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    # -- use -------------------------------------------------------------------------------
    def uri(self, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.superuser, self.port, database)

    def psql(self, database, sql, check=True):
        """Runs `sql` with psql (tuples only, unaligned); returns the CompletedProcess."""
        return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                               "-h", "127.0.0.1", "-p", str(self.port), "-U", self.superuser,
                               "-d", database, "-c", sql],
                              check=check, capture_output=True, text=True)

    def create_database(self, name):
        self.psql("postgres", 'CREATE DATABASE "%s"' % name)

    def postmaster_pid(self):
        """The server's main process (the first line of postmaster.pid)."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def server_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""
