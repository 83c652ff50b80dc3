#!/usr/bin/env python3
"""Ceiling benchmark: frontline-fcgi next to "the ceiling" (build/bench/ceiling, a libfcgi
responder answering a constant 440-byte JSON body) behind one nginx, route by route.

What runs, all on 127.0.0.1 in a temporary folder that is removed afterwards:
  - nginx, 1 worker, access log off, three servers on free ports:
      A: the ceiling, 2 processes of 4 threads, each on its own unix socket (an nginx upstream
         of two servers, round-robin);
      B: frontline-fcgi serve, 8 threads, signatures checked, request log to a file, a SQLite
         (or with --postgres a PostgreSQL)
         directory of --customers generated customers (100 workers) loaded with `import`;
      a stub of the Twilio REST API (nginx itself answering 201 with a participant), which
         frontline-fcgi's outbox delivers routing's add-participant calls to;
    no FastCGI keep-alive (as nginx/frontline.conf), so every request connects to the socket.
  - wrk -t1 -cN for --seconds, A B A B (--rounds times), for each route and each N in
    --connections. Every request is signed as Twilio signs it, for B's public URL; A gets the
    same bytes and ignores them. Routing sends a new conversation per request (pre-signed
    bodies cycled by a wrk Lua script, fresh ones for every A B pair).
Run it from a build tree: bench/ceiling_bench.py [--seconds 5] [--raw wrk-output.txt] ...
Routes (--routes), for a worker owning 1/100 of the customers:
  details           POST /callbacks/crm GetCustomerDetailsByCustomerId, one customer
  list              POST /callbacks/crm GetCustomersList, PageSize=30, first page
  search-name       the same with Query=garcia (a last name, about 1 customer in 30)
  search-phone      the same with Query=<the last 7 digits of one customer's number>
  search-letter     the same with Query=m (one letter: a word-prefix walk)
  templates         POST /callbacks/templates GetTemplatesByCustomerId (built-in templates)
  outgoing          POST /callbacks/outgoing-conversation GetProxyAddress, sms
  conversation-add  POST /callbacks/twilio-conversations onConversationAdd, a known address
  routing           POST /callbacks/routing, a new conversation per request: a durable outbox
                    job (fsync'd) per request, delivered to the stub behind the answer
  healthz           GET /healthz
Prints, per route: requests/s of A and B, B/A, p50 and p99 of each (means over the rounds),
the p99 ratio, non-2xx answers and wrk timeouts (2 s); then each responder's private memory
(RssAnon) and resident set (VmRSS), idle and after the load. Not a test: it asserts nothing,
but says loudly when an answer was not 2xx. nginx, wrk and both responders share the machine's
cores, so on a small machine the ceiling mostly measures nginx and wrk.

Two other comparisons, A and B both frontline-fcgi (everything else as above):
  --postgres --baseline sqlite   A = frontline-fcgi on a SQLite directory, B = frontline-fcgi on
                                 PostgreSQL, the same customers imported into each; B/A is
                                 PostgreSQL's share of SQLite's throughput (the read-route target
                                 is 0.7). A and B each have their own folder, outbox and socket.
  --postgres --hosts 2           A = one "host", B = two: each host a spawn-fcgi process group
                                 (-F --processes, default 1) in its own folder with its own
                                 socket, log and processes, sharing only the PostgreSQL database;
                                 A is nginx's upstream of host 1, B the upstream (least_conn) of
                                 hosts 1 and 2. Same wrk for both; B/A is the two-host scaling
                                 (the routing target is 1.6). On one machine the hosts share its
                                 cores with nginx, wrk and PostgreSQL: see the report's notes;
                                 --host-cpus gives each host a CPU budget of its own (a
                                 cgroup), so that hosts, not the machine, are the limit.
When A is a responder, every routing run (A's too) gets fresh conversations and waits for the
outbox to drain after it. --pg-unix-socket connects to PostgreSQL through its unix socket
rather than TCP on 127.0.0.1. The table also gives B/A for each round, to show the noise.

Needs wrk (Debian package 'wrk', in scripts/install-deps; installed on first use as root),
and spawn-fcgi for --hosts.
"""
import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from stack import (free_port, http_request, read_text, stop_process,  # noqa: E402
                   twilio_signature, wait_for)

TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "0" * 32
WORKERS = 100
WORKER = "worker7@example.com"  # the worker the CRM requests are for
PROXY = "+15550100000"
FIRST = ["Maria", "James", "Anna", "John", "Sofia", "David", "Emma", "Lucas", "Mia", "Noah",
         "Olivia", "Liam", "Ava", "Mateo", "Chloe", "Ethan", "Zoe", "Leon", "Ines", "Omar",
         "Hana", "Ivan", "Greta", "Pablo", "Yuki", "Kofi", "Lena", "Marco", "Nora", "Felix"]
LAST = ["Garcia", "Smith", "Muller", "Rossi", "Martin", "Silva", "Kowalski", "Nguyen", "Kim",
        "Jensen", "Novak", "Dubois", "Costa", "Schmidt", "Lopez", "Brown", "Wilson", "Tanaka",
        "Moreau", "Fischer", "Romero", "Larsen", "Horvat", "Murphy", "Weber", "Santos",
        "Kaya", "Popescu", "Berg", "Okafor"]
ROUTES = ["details", "list", "search-name", "search-phone", "search-letter", "templates",
          "outgoing", "conversation-add", "routing", "healthz"]


def phone(i):
    return "+1%d" % (2000000000 + (i * 654435761) % 1000000000)  # unique for i < 1e9


def customer(i):
    """Deterministic synthetic customer i (ids 1..N; workers round-robin)."""
    rng = random.Random(i)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {"customer_id": str(i), "display_name": "%s %s" % (first, last),
            "avatar": "https://example.com/avatars/%d.png" % i,
            "worker": "worker%d@example.com" % (i % WORKERS),
            "channels": [{"type": "sms", "value": phone(i)},
                         {"type": "email", "value": "%s.%s%d@example.com" % (
                             first.lower(), last.lower(), i)}],
            "details": {"title": "Purchase history",
                        "content": "Product: Unobtanium\n\nDate: 2021-07-07"}}


def write_customers(path, count):
    with open(path, "w") as out:
        out.write('{"customers":[\n')
        for i in range(1, count + 1):
            out.write(json.dumps(customer(i), separators=(",", ":")))
            out.write(",\n" if i < count else "\n")
        out.write('],"workers":[\n')
        out.write(",\n".join(json.dumps({"identity": "worker%d@example.com" % w,
                                         "sms_number": "+1800555%04d" % w})
                             for w in range(WORKERS)))
        out.write("\n]}\n")


def fixed_requests(count):
    """route -> (path, form pairs or None for GET), on customers of WORKER."""
    pick = customer(7 + WORKERS * (count // WORKERS // 2))  # one of WORKER's
    cid, number = pick["customer_id"], pick["channels"][0]["value"]
    crm_list = [("Location", "GetCustomersList"), ("Worker", WORKER), ("PageSize", "30")]
    return {
        "details": ("/callbacks/crm", [("Location", "GetCustomerDetailsByCustomerId"),
                                       ("Worker", WORKER), ("CustomerId", cid)]),
        "list": ("/callbacks/crm", crm_list),
        "search-name": ("/callbacks/crm", crm_list + [("Query", "garcia")]),
        "search-phone": ("/callbacks/crm", crm_list + [("Query", number[-7:])]),
        "search-letter": ("/callbacks/crm", crm_list + [("Query", "m")]),
        "templates": ("/callbacks/templates", [
            ("Location", "GetTemplatesByCustomerId"), ("Worker", WORKER), ("CustomerId", cid),
            ("ConversationSid", "CH" + "1" * 32)]),
        "outgoing": ("/callbacks/outgoing-conversation", [
            ("Location", "GetProxyAddress"), ("Worker", WORKER), ("CustomerId", cid),
            ("ChannelType", "sms"), ("ChannelValue", number)]),
        "conversation-add": ("/callbacks/twilio-conversations", [
            ("EventType", "onConversationAdd"), ("ChatServiceSid", "IS" + "2" * 32),
            ("MessagingBinding.Address", number), ("MessagingBinding.ProxyAddress", PROXY),
            ("Source", "SMS")]),
        "routing": ("/callbacks/routing", None),  # bodies from write_pool()
        "healthz": ("/healthz", None),
    }


def routing_pairs(run, n, count):
    """The routing webhook for a new conversation from a known customer."""
    return [("AccountSid", ACCOUNT), ("ChatServiceSid", "IS" + "2" * 32),
            ("ConversationSid", "CH%04x%028x" % (run, n)),
            ("MessagingBinding.Address", phone(1 + (n * 7919) % count)),
            ("MessagingBinding.ProxyAddress", PROXY), ("MessagingServiceSid", "MG" + "3" * 32)]


def write_lua(path, url, pairs=None, pool=None):
    """A wrk script: one signed form POST, or (pool) every line "signature body" in turn."""
    with open(path, "w") as f:
        if pool:
            f.write('local sigs, bodies, n, i = {}, {}, 0, 0\n'
                    'for line in io.lines("%s") do\n'
                    '  n = n + 1\n'
                    '  sigs[n], bodies[n] = line:match("^(%%S+) (.*)$")\n'
                    'end\n'
                    'request = function()\n'
                    '  i = i %% n + 1\n'
                    '  return wrk.format("POST", nil, {\n'
                    '    ["Content-Type"] = "application/x-www-form-urlencoded",\n'
                    '    ["X-Twilio-Signature"] = sigs[i]}, bodies[i])\n'
                    'end\n' % pool)
        elif pairs is not None:
            # Form encoding and base64 hold no quote or backslash.
            f.write('wrk.method = "POST"\nwrk.body = "%s"\n'
                    'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                    'wrk.headers["X-Twilio-Signature"] = "%s"\n'
                    % (urllib.parse.urlencode(pairs), twilio_signature(TOKEN, url, pairs)))


def write_pool(path, run, size, count, url):
    with open(path, "w") as f:
        for n in range(size):
            pairs = routing_pairs(run, n, count)
            f.write("%s %s\n" % (twilio_signature(TOKEN, url, pairs),
                                 urllib.parse.urlencode(pairs)))


NGINX_CONF = """worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
{user}
events {{ worker_connections 2048; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/client_body;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    proxy_temp_path {dir}/tmp/proxy;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    upstream side_a {{ {servers_a} }}
    upstream side_b {{ {balance_b} {servers_b} }}
    server {{
        listen 127.0.0.1:{port_a};
        location / {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param HTTP_X_REQUEST_ID $request_id;
            fastcgi_pass side_a;
        }}
    }}
    server {{
        listen 127.0.0.1:{port_b};
        location / {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param HTTP_X_REQUEST_ID $request_id;
            fastcgi_pass side_b;
        }}
    }}
    server {{
        listen 127.0.0.1:{port_stub};
        location / {{
            default_type application/json;
            return 201 '{{"sid":"MB{mb}","account_sid":"{account}","attributes":"{{}}"}}';
        }}
    }}
}}
"""


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        sys.exit("wrk is not installed: apt-get install wrk (or scripts/install-deps)")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def to_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url, seconds, connections, script, raw, label):
    cmd = ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency", url]
    if script and os.path.exists(script):
        cmd[1:1] = ["-s", script]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    if raw:
        raw.write("==== %s\n$ %s\n%s%s\n" % (label, " ".join(cmd), out, done.stderr))
        raw.flush()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done.returncode != 0 or rps is None:
        sys.exit("wrk failed (%s): %s%s" % (label, out, done.stderr))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = [int(x) for x in errors.groups()] if errors else [0, 0, 0, 0]
    return {"rps": float(rps.group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": to_ms(lat["50"]), "p99": to_ms(lat["99"]),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "timeouts": errors[3], "socket_errors": sum(errors[:3])}


def memory(pid):
    """(RssAnon, VmRSS) of a process in KiB."""
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f)
    return tuple(int(fields[k].split()[0]) for k in ("RssAnon", "VmRSS"))


def outbox_state(port):
    r = http_request(port, "GET", "/healthz", timeout=10)
    return r.json().get("outbox", {}) if r.status == 200 else {"pending": -1, "failed": -1}


def check_once(port, url, path, pairs, what):
    """One request as wrk will send it; exits unless it is a 2xx."""
    if pairs is None:
        r = http_request(port, "GET", path)
    else:
        r = http_request(port, "POST", path, urllib.parse.urlencode(pairs).encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(TOKEN, url + path, pairs)})
    if not 200 <= r.status < 300:
        sys.exit("%s answered %d: %r" % (what, r.status, r.body[:300]))
    return len(r.body)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The default run: 10 routes x 2 connection counts x 2 rounds x 2 responders x "
               "5 s, about 7 minutes in all. Every wrk run is bounded (--seconds plus 60 s), and "
               "so is the wait for the outbox to drain after each routing run (120 s).")
    parser.add_argument("--seconds", type=int, default=5,
                        help="length of one wrk run, 1..600 (default 5)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="A B pairs per route and connection count, 1..20 (default 2: A B A B)")
    parser.add_argument("--connections", default="32,128",
                        help="comma-separated wrk connection counts, one pass over the routes "
                             "each (default 32,128); wrk counts a request unanswered after 2 s "
                             "as a timeout")
    parser.add_argument("--customers", type=int, default=100000,
                        help="generated customers imported into the directory (default 100000)")
    parser.add_argument("--routes", default=",".join(ROUTES),
                        help="comma-separated subset of: %s (default all)" % ", ".join(ROUTES))
    parser.add_argument("--raw", metavar="FILE",
                        help="also write every wrk command and its whole output to FILE "
                             "(overwritten)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "fcgi", "frontline-fcgi"),
                        help="frontline-fcgi (default build/fcgi/frontline-fcgi)")
    parser.add_argument("--ceiling", default=os.path.join(ROOT, "build", "bench", "ceiling"),
                        help="the ceiling responder (default build/bench/ceiling)")
    parser.add_argument("--postgres", action="store_true",
                        help="B keeps its directory and outbox in a PostgreSQL server started "
                             "for the run (tests/integration/pg_server.py: initdb into the "
                             "temporary folder, loopback only) instead of SQLite files")
    parser.add_argument("--pg-unix-socket", action="store_true",
                        help="with --postgres: the responders and the import connect through the "
                             "server's unix socket instead of TCP on 127.0.0.1")
    parser.add_argument("--db-core", action="store_true",
                        help="with --postgres: PostgreSQL runs on the last core alone, "
                             "everything else (nginx, wrk, the responders, the imports) on the "
                             "others, as when the database has a machine of its own; A and B "
                             "then have the same cores (needs 2 or more)")
    parser.add_argument("--baseline", choices=["ceiling", "sqlite"], default="ceiling",
                        help="what A is: the ceiling (default), or with --postgres "
                             "frontline-fcgi on SQLite (B/A = PostgreSQL / SQLite)")
    parser.add_argument("--hosts", type=int, default=1, choices=[1, 2],
                        help="2 (with --postgres): A = one host, B = two hosts, each a "
                             "spawn-fcgi process group of its own sharing the database")
    parser.add_argument("--processes", type=int, default=1,
                        help="with --hosts 2: responder processes per host (spawn-fcgi -F), "
                             "1..8 (default 1)")
    parser.add_argument("--host-cpus", type=float, metavar="CPUS",
                        help="with --hosts 2: give each host's processes at most CPUS cores "
                             "(a CPU cgroup with a CFS quota, e.g. 0.4; needs root), so that a "
                             "host, not the machine, is the limit, as when each host is a "
                             "machine of its own; nginx, wrk and PostgreSQL keep the rest")
    parser.add_argument("--threads", type=int, default=8,
                        help="request threads of each frontline-fcgi process (default 8)")
    args = parser.parse_args()
    args.routes = [r for r in args.routes.split(",") if r]
    try:
        args.connections = [int(c) for c in args.connections.split(",") if c]
    except ValueError:
        parser.error("--connections takes numbers, e.g. 32,128")
    unknown = sorted(set(args.routes) - set(ROUTES))
    if unknown or not args.routes:
        parser.error("--routes: unknown %s; choose from %s" % (unknown, ", ".join(ROUTES)))
    if not args.connections or not all(1 <= c <= 1000 for c in args.connections):
        parser.error("--connections: each 1..1000")
    if not 1 <= args.seconds <= 600 or not 1 <= args.rounds <= 20:
        parser.error("--seconds 1..600, --rounds 1..20")
    if not WORKERS <= args.customers <= 10000000:
        parser.error("--customers %d..10000000" % WORKERS)
    if (args.baseline == "sqlite" or args.hosts == 2) and not args.postgres:
        parser.error("--baseline sqlite and --hosts 2 compare against PostgreSQL: add --postgres")
    if args.baseline == "sqlite" and args.hosts == 2:
        parser.error("--baseline sqlite or --hosts 2, not both")
    if not 1 <= args.processes <= 8 or not 1 <= args.threads <= 64:
        parser.error("--processes 1..8, --threads 1..64")
    if args.db_core and (not args.postgres or (os.cpu_count() or 1) < 2):
        parser.error("--db-core needs --postgres and 2 or more cores")
    if args.host_cpus is not None and (args.hosts != 2 or not 0.1 <= args.host_cpus <= 64):
        parser.error("--host-cpus 0.1..64, with --hosts 2")
    if args.hosts == 2 and not shutil.which("spawn-fcgi"):
        sys.exit("--hosts 2 needs spawn-fcgi (apt-get install spawn-fcgi)")
    for path in (args.binary, args.ceiling):
        if not os.access(path, os.X_OK):
            sys.exit("%s not found: build first (cmake --build build)" % path)
    return args


def pin_process_tree(pid, cores):
    """Pins `pid` and its children (PostgreSQL's postmaster and the processes it started) to
    `cores`; later children of `pid` inherit it."""
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = read_text("/proc/%s/stat" % entry)
            if stat:
                children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in os.listdir("/proc/%d/task" % p) if os.path.isdir("/proc/%d" % p) else []:
            os.sched_setaffinity(int(task), cores)
        todo += children.get(p, [])


class CpuLimit:
    """A CPU cgroup that holds processes to `cpus` cores (CFS quota over a 10 ms period, short
    so that a throttled host pauses for milliseconds, not for most of a 100 ms default period):
    cgroup v1's cpu controller, or v2's cpu.max where the cpu controller is enabled. remove()
    moves what is left back to the root group and deletes it."""

    V1 = "/sys/fs/cgroup/cpu"
    V2 = "/sys/fs/cgroup"

    def __init__(self, name, cpus):
        period = 10000
        quota = int(cpus * period)
        if os.path.exists(os.path.join(self.V1, "cpu.cfs_quota_us")):
            self.root = self.V1
            self.dir = os.path.join(self.V1, name)
            os.makedirs(self.dir, exist_ok=True)
            self._write("cpu.cfs_period_us", period)
            self._write("cpu.cfs_quota_us", quota)
        elif "cpu" in read_text(os.path.join(self.V2, "cgroup.subtree_control")).split():
            self.root = self.V2
            self.dir = os.path.join(self.V2, name)
            os.makedirs(self.dir, exist_ok=True)
            self._write("cpu.max", "%d %d" % (quota, period))
        else:
            sys.exit("--host-cpus needs a CPU cgroup controller (v1 at %s, or v2 with cpu in "
                     "cgroup.subtree_control) and root" % self.V1)

    def _write(self, name, value):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("%s\n" % value)

    def add(self, pid):
        self._write("cgroup.procs", pid)  # the whole process, every thread

    def remove(self):
        for pid in read_text(os.path.join(self.dir, "cgroup.procs")).split():
            try:
                with open(os.path.join(self.root, "cgroup.procs"), "w") as f:
                    f.write(pid + "\n")
            except OSError:
                pass
        try:
            os.rmdir(self.dir)
        except OSError as e:
            print("could not remove cgroup %s: %s" % (self.dir, e))


class Rig:
    """The responders and nginx in a temporary folder; stop() ends and removes them all.
    Side A and side B are nginx upstreams (servers_a, servers_b: unix sockets); label_a and
    label_b say what each is, real_a whether A is a frontline-fcgi (so it stores routing jobs)."""

    def __init__(self, args):
        self.dir = tempfile.mkdtemp(prefix="frontline-ceiling-")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.procs = {}  # name -> Popen of the responders started directly, in report order
        self.pids = {}  # name -> pid of every responder process, in report order (memory)
        self.spawned = []  # pids started by spawn-fcgi (not our children)
        self.logs = []  # (log file, processes that must have logged "serving")
        self.nginx = None
        self.port_a, self.port_b, self.port_stub = free_port(), free_port(), free_port()
        while len({self.port_a, self.port_b, self.port_stub}) < 3:
            self.port_b, self.port_stub = free_port(), free_port()
        self.url_b = "http://127.0.0.1:%d" % self.port_b
        self.args = args
        self.pg = None  # the PostgreSQL server of --postgres
        self.real_a = args.baseline != "ceiling" or args.hosts == 2
        self.servers_a, self.servers_b = [], []
        self.cpu_limits = []  # CpuLimit of each host (--host-cpus)
        self.cores = set(os.sched_getaffinity(0))  # as the script started (--db-core)

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def db_core(self):
        return max(self.cores)

    def cores_for_rest(self):
        return self.cores - {self.db_core()}

    def import_into(self, db, what):
        started = time.monotonic()
        imported = subprocess.run([self.args.binary, "import", "--directory", db,
                                   self.path("customers.json")],
                                  capture_output=True, text=True, timeout=1800, cwd=self.dir)
        if imported.returncode != 0:
            sys.exit("import failed: " + imported.stderr)
        print("imported %d customers into %s in %.1f s" % (
            self.args.customers, what, time.monotonic() - started))

    def serve_cmd(self, db, folder, socket=None):
        """frontline-fcgi serve as B's (and a real A's) processes run it."""
        cmd = [self.args.binary, "serve"]
        if socket:
            cmd += ["--listen", "unix:" + socket]
        return cmd + ["--threads", str(self.args.threads), "--directory", db,
                      "--public-url", self.url_b,
                      "--twilio.api-base", "http://127.0.0.1:%d" % self.port_stub,
                      "--log-file", os.path.join(folder, "frontline.log")]

    def start(self):
        args = self.args
        started = time.monotonic()
        write_customers(self.path("customers.json"), args.customers)
        print("generated %d customers in %.1f s" % (args.customers, time.monotonic() - started))
        db = self.path("directory.db")
        if args.postgres:
            from pg_server import PostgresServer
            if args.db_core:
                # Inherited by every process started from here on; PostgreSQL is moved after.
                os.sched_setaffinity(0, self.cores_for_rest())
            self.pg = PostgresServer()
            self.pg.start()
            if args.db_core:
                pin_process_tree(self.pg.postmaster_pid(), {self.db_core()})
            self.pg.create_database("bench")
            db = self.pg.uri("bench")
            if args.pg_unix_socket:
                db = "postgresql://%s@/bench?host=%s&port=%d" % (
                    self.pg.superuser, urllib.parse.quote(self.pg.dir, safe=""), self.pg.port)
            self.import_into(db, "PostgreSQL" + (" (unix socket)" if args.pg_unix_socket else ""))
        else:
            self.import_into(db, "SQLite")

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TWILIO_AUTH_TOKEN": TOKEN,
               "TWILIO_ACCOUNT_SID": ACCOUNT}
        self.log = open(self.path("responders.stderr"), "wb")
        sockets = {}
        if args.hosts == 2:
            # Two hosts: a spawn-fcgi process group each, its own folder, socket and log.
            for host in (1, 2):
                folder = self.path("host%d" % host)
                os.makedirs(folder)
                sock = os.path.join(folder, "fcgi.sock")
                pidfile = os.path.join(folder, "spawn.pid")
                done = subprocess.run(
                    ["spawn-fcgi", "-s", sock, "-F", str(args.processes), "-P", pidfile,
                     "-d", folder, "--"] + self.serve_cmd(db, folder),
                    env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                    cwd=folder, timeout=30)
                if done.returncode != 0:
                    sys.exit("spawn-fcgi for host %d failed: %s%s" % (host, done.stdout,
                                                                      done.stderr))
                pids = [int(line) for line in read_text(pidfile).split()]
                self.spawned += pids
                if args.host_cpus is not None:
                    limit = CpuLimit("frontline-bench-%d-host%d" % (os.getpid(), host),
                                     args.host_cpus)
                    self.cpu_limits.append(limit)
                    for pid in pids:
                        limit.add(pid)
                for i, pid in enumerate(pids):
                    self.pids["host%d #%d" % (host, i + 1)] = pid
                self.logs.append((os.path.join(folder, "frontline.log"), len(pids)))
                (self.servers_a if host == 1 else []).append(sock)
                self.servers_b.append(sock)
            size = "%d process%s x %d threads, spawn-fcgi%s" % (
                args.processes, "" if args.processes == 1 else "es", args.threads,
                "" if args.host_cpus is None else ", at most %g CPUs" % args.host_cpus)
            self.label_a = "one host (%s)" % size
            self.label_b = "two hosts (each %s), least_conn" % size
            self.name_a, self.name_b = "1 host", "2 hosts"
        else:
            if args.baseline == "sqlite":
                folder = self.path("sqlite")
                os.makedirs(folder)
                sqlite_db = os.path.join(folder, "directory.db")
                self.import_into(sqlite_db, "SQLite (A)")
                sockets["frontline-fcgi sqlite"] = os.path.join(folder, "frontline.sock")
                self.spawn("frontline-fcgi sqlite",
                           self.serve_cmd(sqlite_db, folder, sockets["frontline-fcgi sqlite"]),
                           env, folder)
                self.servers_a.append(sockets["frontline-fcgi sqlite"])
                self.label_a = "frontline-fcgi on SQLite (1 process, %d threads)" % args.threads
                self.name_a = "sqlite"
            else:
                for name in ("ceiling #1", "ceiling #2"):
                    sockets[name] = self.path(name.replace(" #", "-") + ".sock")
                    self.spawn(name, [args.ceiling, "--socket", sockets[name], "--threads", "4"],
                               None, self.dir)
                    self.servers_a.append(sockets[name])
                self.label_a = "ceiling (2 processes x 4 threads, a socket each)"
                self.name_a = "ceiling"
            folder = self.path("frontline")
            os.makedirs(folder)
            name = "frontline-fcgi" + (" postgres" if args.postgres else "")
            sockets[name] = os.path.join(folder, "frontline.sock")
            # cwd is the temporary folder, so no ./.env is read.
            self.spawn(name, self.serve_cmd(db, folder, sockets[name]), env, folder)
            self.servers_b.append(sockets[name])
            self.label_b = "frontline-fcgi%s (1 process, %d threads)" % (
                (" on PostgreSQL" + (" over its unix socket" if args.pg_unix_socket else
                                     " over TCP loopback")) if args.postgres else "",
                args.threads)
            self.name_b = "frontline-fcgi" if args.baseline == "ceiling" else "postgres"
        for name, p in self.procs.items():
            wait_for(lambda: os.path.exists(sockets[name]) or p.poll() is not None, what=name)
            if p.poll() is not None:
                sys.exit("%s exited %d: %s" % (name, p.returncode,
                                               read_text(self.path("responders.stderr"))))
        for log, count in self.logs:
            wait_for(lambda: read_text(log).count(" serving ") >= count, timeout=60,
                     what="%d responders to log 'serving' in %s" % (count, log))
        with open(self.path("nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(
                dir=self.dir, user="user root;" if os.geteuid() == 0 else "",
                servers_a=" ".join("server unix:%s;" % s for s in self.servers_a),
                servers_b=" ".join("server unix:%s;" % s for s in self.servers_b),
                balance_b="least_conn;" if len(self.servers_b) > 1 else "",
                port_a=self.port_a, port_b=self.port_b, port_stub=self.port_stub, mb="4" * 32,
                account=ACCOUNT))
        self.nginx = subprocess.Popen(
            ["nginx", "-p", self.dir, "-c", self.path("nginx.conf"),
             "-e", self.path("nginx-error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answering, what="both upstreams through nginx")

    def spawn(self, name, cmd, env, cwd):
        self.procs[name] = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                            stdout=self.log, stderr=self.log, cwd=cwd)
        self.pids[name] = self.procs[name].pid

    def answering(self):
        if self.nginx.poll() is not None:
            sys.exit("nginx exited: " + read_text(self.path("nginx-error.log")))
        try:
            return all(http_request(p, "GET", "/healthz", timeout=2).status == 200
                       for p in (self.port_a, self.port_b))
        except OSError:
            return False

    def memory(self):
        return {name: memory(pid) for name, pid in self.pids.items()}

    def stop(self):
        stop_process(self.nginx, signal.SIGQUIT)
        for p in self.procs.values():
            stop_process(p)
        for pid in self.spawned:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in self.spawned:
            try:
                wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                         " Z " in read_text("/proc/%d/stat" % pid), timeout=10,
                         what="responder %d to exit" % pid)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
        for limit in self.cpu_limits:
            limit.remove()
        if self.pg is not None:
            self.pg.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(rig, args, raw):
    """Every wrk run; returns {(connections, route): {"A": [runs], "B": [runs]}}."""
    fixed = fixed_requests(args.customers)
    scripts = {}
    for route in args.routes:
        path, pairs = fixed[route]
        pairs_b = pairs
        if route == "routing":
            # A and B may share one outbox (--hosts 2): a conversation each.
            pairs = routing_pairs(0xffff, 0, args.customers)
            pairs_b = routing_pairs(0xffff, 1, args.customers)
        size_a = check_once(rig.port_a, rig.url_b, path, pairs, rig.name_a + " " + route)
        size_b = check_once(rig.port_b, rig.url_b, path, pairs_b, rig.name_b + " " + route)
        print("%-16s %-33s answer bytes: %s %d, %s %d" %
              (route, path, rig.name_a, size_a, rig.name_b, size_b))
        scripts[route] = rig.path(route + ".lua")
        if route != "routing":
            write_lua(scripts[route], rig.url_b + path, fixed[route][1])

    # A new conversation per request: more bodies than frontline-fcgi can answer in a run.
    pool_size = min(args.seconds * 8000, 200000)
    results = {}
    run_tag = 0
    for c in args.connections:
        print("\n-- %d connections, %d s per run" % (c, args.seconds))
        for route in args.routes:
            path = fixed[route][0]
            results[(c, route)] = {"A": [], "B": []}
            for rnd in range(args.rounds):
                for side, port in (("A", rig.port_a), ("B", rig.port_b)):
                    if route == "routing" and (side == "A" or rig.real_a):
                        # Fresh conversations for B; the ceiling (which stores nothing) shares
                        # them; a real A gets its own.
                        run_tag += 1
                        pool = rig.path("routing-%d.txt" % run_tag)
                        write_pool(pool, run_tag, pool_size, args.customers, rig.url_b + path)
                        write_lua(scripts[route], None, pool=pool)
                    label = "%s %s c=%d round %d" % (
                        rig.name_a if side == "A" else rig.name_b, route, c, rnd + 1)
                    r = run_wrk("http://127.0.0.1:%d%s" % (port, path), args.seconds, c,
                                scripts[route], raw, label)
                    results[(c, route)][side].append(r)
                    print("  %-44s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms" % (
                        label, r["rps"], r["p50"], r["p99"]))
                    if r["non2xx"] or r["socket_errors"] or r["timeouts"]:
                        print("  !!!!! %s: %d non-2xx answers, %d socket errors, %d timeouts "
                              "!!!!!" % (label, r["non2xx"], r["socket_errors"], r["timeouts"]))
                    if route == "routing" and (side == "B" or rig.real_a):
                        if r["requests"] > pool_size:
                            print("  !!!!! %d requests but %d conversations: the rest were "
                                  "retries of one !!!!!" % (r["requests"], pool_size))
                        os.unlink(pool)
                        # The outbox delivers behind the answers: let it drain.
                        wait_for(lambda: outbox_state(port).get("pending", 1) == 0,
                                 timeout=120, what="the outbox to drain")
                    time.sleep(0.2)
    return results


def main():
    args = parse_args()
    ensure_wrk()
    rig = Rig(args)
    raw = open(args.raw, "w") if args.raw else None
    try:
        started, load = time.monotonic(), os.getloadavg()
        print("%d cores, load average %.2f %.2f %.2f at the start" % ((os.cpu_count(),) + load))
        rig.start()
        if args.db_core:
            print("PostgreSQL on core %d alone; nginx, wrk, the responders and the imports on "
                  "cores %s" % (rig.db_core(), ",".join(map(str, sorted(rig.cores_for_rest())))))
        idle = rig.memory()
        results = measure(rig, args, raw)
        report(results, args, rig, idle, rig.memory(), outbox_state(rig.port_b),
               time.monotonic() - started)
    finally:
        rig.stop()
        if raw:
            raw.close()


def report(results, args, rig, idle, after, outbox, elapsed):
    """The table: means over the rounds of each route; then memory and the outbox."""
    def mean(runs, key):
        return sum(r[key] for r in runs) / len(runs)

    print("\nA = %s, B = %s; wrk -t1, %d s per run, %d rounds of A then B, means of the "
          "rounds; %d customers" % (rig.label_a, rig.label_b, args.seconds, args.rounds,
                                    args.customers))
    bad = []
    for c in args.connections:
        print("\n%d connections" % c)
        print("%-16s %9s %9s %6s %8s %8s %8s %8s %7s %8s %13s  %s" % (
            "route", "A req/s", "B req/s", "B/A", "A p50", "B p50", "A p99", "B p99", "p99 B/A",
            "non-2xx", "timeouts A/B", "B/A by round"))
        for route in args.routes:
            a, b = results[(c, route)]["A"], results[(c, route)]["B"]
            non2xx = sum(r["non2xx"] for r in a + b)
            if non2xx:
                bad.append("%s at %d connections: %d non-2xx" % (route, c, non2xx))
            print("%-16s %9.0f %9.0f %6.2f %6.2fms %6.2fms %6.2fms %6.2fms %7.2f %8d %13s  %s" % (
                route, mean(a, "rps"), mean(b, "rps"), mean(b, "rps") / mean(a, "rps"),
                mean(a, "p50"), mean(b, "p50"), mean(a, "p99"), mean(b, "p99"),
                mean(b, "p99") / mean(a, "p99"), non2xx,
                "%d/%d" % (sum(r["timeouts"] for r in a), sum(r["timeouts"] for r in b)),
                " ".join("%.2f" % (y["rps"] / x["rps"]) for x, y in zip(a, b))))
    print("\n%-24s %14s %12s %16s %14s" % ("process", "idle RssAnon", "idle VmRSS",
                                          "after RssAnon", "after VmRSS"))
    for name in idle:
        print("%-24s %11d KiB %8d KiB %13d KiB %10d KiB" % (name, *idle[name], *after[name]))
    print("\noutbox after the load: %d pending, %d failed; %.0f s in all; load average %.2f "
          "%.2f %.2f at the end" % ((outbox.get("pending", -1), outbox.get("failed", -1),
                                    elapsed) + os.getloadavg()))
    for line in bad:
        print("!!!!! NOT ALL 2xx: " + line)


if __name__ == "__main__":
    main()
