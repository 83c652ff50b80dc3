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

Needs wrk (Debian package 'wrk', in scripts/install-deps; installed on first use as root).
"""
import argparse
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
    upstream ceiling {{ {ceiling_servers} }}
    server {{
        listen 127.0.0.1:{port_a};
        location / {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param HTTP_X_REQUEST_ID $request_id;
            fastcgi_pass ceiling;
        }}
    }}
    server {{
        listen 127.0.0.1:{port_b};
        location / {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param HTTP_X_REQUEST_ID $request_id;
            fastcgi_pass unix:{dir}/frontline.sock;
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
    for path in (args.binary, args.ceiling):
        if not os.access(path, os.X_OK):
            sys.exit("%s not found: build first (cmake --build build)" % path)
    return args


class Rig:
    """The responders and nginx in a temporary folder; stop() ends and removes them all."""

    def __init__(self, args):
        self.dir = tempfile.mkdtemp(prefix="frontline-ceiling-")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.procs = {}  # name -> Popen, in report order
        self.nginx = None
        self.port_a, self.port_b, self.port_stub = free_port(), free_port(), free_port()
        while len({self.port_a, self.port_b, self.port_stub}) < 3:
            self.port_b, self.port_stub = free_port(), free_port()
        self.url_b = "http://127.0.0.1:%d" % self.port_b
        self.args = args
        self.pg = None  # the PostgreSQL server of --postgres

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        args = self.args
        started = time.monotonic()
        db = self.path("directory.db")
        if args.postgres:
            from pg_server import PostgresServer
            self.pg = PostgresServer()
            self.pg.start()
            self.pg.create_database("bench")
            db = self.pg.uri("bench")
        write_customers(self.path("customers.json"), args.customers)
        imported = subprocess.run([args.binary, "import", "--directory", db,
                                   self.path("customers.json")],
                                  capture_output=True, text=True, timeout=600, cwd=self.dir)
        if imported.returncode != 0:
            sys.exit("import failed: " + imported.stderr)
        print("generated and imported %d customers into %s in %.1f s" % (
            args.customers, "PostgreSQL" if args.postgres else "SQLite",
            time.monotonic() - started))

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TWILIO_AUTH_TOKEN": TOKEN,
               "TWILIO_ACCOUNT_SID": ACCOUNT}
        self.log = open(self.path("responders.stderr"), "wb")
        sockets = {"ceiling #1": self.path("ceiling-1.sock"),
                   "ceiling #2": self.path("ceiling-2.sock"),
                   "frontline-fcgi": self.path("frontline.sock")}
        for name in ("ceiling #1", "ceiling #2"):
            self.spawn(name, [args.ceiling, "--socket", sockets[name], "--threads", "4"], None)
        # cwd is the temporary folder, so no ./.env is read.
        self.spawn("frontline-fcgi", [
            args.binary, "serve", "--listen", "unix:" + sockets["frontline-fcgi"],
            "--threads", "8", "--directory", db, "--public-url", self.url_b,
            "--twilio.api-base", "http://127.0.0.1:%d" % self.port_stub,
            "--log-file", self.path("frontline.log")], env)
        for name, p in self.procs.items():
            wait_for(lambda: os.path.exists(sockets[name]) or p.poll() is not None, what=name)
            if p.poll() is not None:
                sys.exit("%s exited %d: %s" % (name, p.returncode,
                                               read_text(self.path("responders.stderr"))))
        with open(self.path("nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(
                dir=self.dir, user="user root;" if os.geteuid() == 0 else "",
                ceiling_servers=" ".join("server unix:%s;" % sockets[n]
                                         for n in ("ceiling #1", "ceiling #2")),
                port_a=self.port_a, port_b=self.port_b, port_stub=self.port_stub, mb="4" * 32,
                account=ACCOUNT))
        self.nginx = subprocess.Popen(
            ["nginx", "-p", self.dir, "-c", self.path("nginx.conf"),
             "-e", self.path("nginx-error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answering, what="both upstreams through nginx")

    def spawn(self, name, cmd, env):
        self.procs[name] = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                            stdout=self.log, stderr=self.log, cwd=self.dir)

    def answering(self):
        if self.nginx.poll() is not None:
            sys.exit("nginx exited: " + read_text(self.path("nginx-error.log")))
        try:
            return all(http_request(p, "GET", "/healthz", timeout=2).status == 200
                       for p in (self.port_a, self.port_b))
        except OSError:
            return False

    def memory(self):
        return {name: memory(p.pid) for name, p in self.procs.items()}

    def stop(self):
        stop_process(self.nginx, signal.SIGQUIT)
        for p in self.procs.values():
            stop_process(p)
        if self.pg is not None:
            self.pg.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(rig, args, raw):
    """Every wrk run; returns {(connections, route): {"A": [runs], "B": [runs]}}."""
    fixed = fixed_requests(args.customers)
    scripts = {}
    for route in args.routes:
        path, pairs = fixed[route]
        if route == "routing":
            pairs = routing_pairs(0xffff, 0, args.customers)
        size_a = check_once(rig.port_a, rig.url_b, path, pairs, "ceiling " + route)
        size_b = check_once(rig.port_b, rig.url_b, path, pairs, "frontline-fcgi " + route)
        print("%-16s %-33s answer bytes: ceiling %d, frontline-fcgi %d" %
              (route, path, size_a, size_b))
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
                    if route == "routing" and side == "A":
                        # Fresh conversations for B; A (which stores nothing) shares them.
                        run_tag += 1
                        pool = rig.path("routing-%d.txt" % run_tag)
                        write_pool(pool, run_tag, pool_size, args.customers, rig.url_b + path)
                        write_lua(scripts[route], None, pool=pool)
                    label = "%s %s c=%d round %d" % (
                        "ceiling" if side == "A" else "frontline-fcgi", route, c, rnd + 1)
                    r = run_wrk("http://127.0.0.1:%d%s" % (port, path), args.seconds, c,
                                scripts[route], raw, label)
                    results[(c, route)][side].append(r)
                    print("  %-44s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms" % (
                        label, r["rps"], r["p50"], r["p99"]))
                    if r["non2xx"] or r["socket_errors"] or r["timeouts"]:
                        print("  !!!!! %s: %d non-2xx answers, %d socket errors, %d timeouts "
                              "!!!!!" % (label, r["non2xx"], r["socket_errors"], r["timeouts"]))
                    if route == "routing" and side == "B":
                        if r["requests"] > pool_size:
                            print("  !!!!! %d requests but %d conversations: the rest were "
                                  "retries of one !!!!!" % (r["requests"], pool_size))
                        os.unlink(pool)
                        # The outbox delivers behind the answers: let it drain.
                        wait_for(lambda: outbox_state(rig.port_b).get("pending", 1) == 0,
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
        idle = rig.memory()
        results = measure(rig, args, raw)
        report(results, args, idle, rig.memory(), outbox_state(rig.port_b),
               time.monotonic() - started)
    finally:
        rig.stop()
        if raw:
            raw.close()


def report(results, args, idle, after, outbox, elapsed):
    """The table: means over the rounds of each route; then memory and the outbox."""
    def mean(runs, key):
        return sum(r[key] for r in runs) / len(runs)

    print("\nA = ceiling (2 processes x 4 threads, a socket each), B = frontline-fcgi "
          "(1 process, 8 threads); wrk -t1, %d s per run, %d rounds of A then B, means of the "
          "rounds; %d customers" % (args.seconds, args.rounds, args.customers))
    bad = []
    for c in args.connections:
        print("\n%d connections" % c)
        print("%-16s %9s %9s %6s %8s %8s %8s %8s %7s %8s %13s" % (
            "route", "A req/s", "B req/s", "B/A", "A p50", "B p50", "A p99", "B p99", "p99 B/A",
            "non-2xx", "timeouts A/B"))
        for route in args.routes:
            a, b = results[(c, route)]["A"], results[(c, route)]["B"]
            non2xx = sum(r["non2xx"] for r in a + b)
            if non2xx:
                bad.append("%s at %d connections: %d non-2xx" % (route, c, non2xx))
            print("%-16s %9.0f %9.0f %6.2f %6.2fms %6.2fms %6.2fms %6.2fms %7.2f %8d %13s" % (
                route, mean(a, "rps"), mean(b, "rps"), mean(b, "rps") / mean(a, "rps"),
                mean(a, "p50"), mean(b, "p50"), mean(a, "p99"), mean(b, "p99"),
                mean(b, "p99") / mean(a, "p99"), non2xx,
                "%d/%d" % (sum(r["timeouts"] for r in a), sum(r["timeouts"] for r in b))))
    print("\n%-16s %14s %12s %16s %14s" % ("process", "idle RssAnon", "idle VmRSS",
                                          "after RssAnon", "after VmRSS"))
    for name in idle:
        print("%-16s %11d KiB %8d KiB %13d KiB %10d KiB" % (name, *idle[name], *after[name]))
    print("\noutbox after the load: %d pending, %d failed; %.0f s in all; load average %.2f "
          "%.2f %.2f at the end" % ((outbox.get("pending", -1), outbox.get("failed", -1),
                                    elapsed) + os.getloadavg()))
    for line in bad:
        print("!!!!! NOT ALL 2xx: " + line)


if __name__ == "__main__":
    main()
