#!/usr/bin/env python3
"""Load benchmark: wrk against nginx + frontline-fcgi on loopback, printing requests/s and
latency for each target next to a baseline measured in the same run: nginx answering by itself
(no FastCGI hop). Not a test: it prints figures and asserts nothing.

Usage: bench/load_bench.py [--binary build/fcgi/frontline-fcgi] [--seconds 10]
       [--connections 32] [--threads 4]
Needs wrk (Debian package 'wrk'; installed on first use when running as root).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        sys.exit("wrk is not installed: apt-get install wrk")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def run_wrk(url, seconds, connections, threads, script=None):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, total, lat.get("50", "?"), lat.get("99", "?"), int(non2xx.group(1)) if non2xx else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "fcgi", "frontline-fcgi"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--customers", default=os.path.join(ROOT, "examples", "customers.json"))
    args = parser.parse_args()
    ensure_wrk()
    os.environ["FRONTLINE_BIN"] = os.path.abspath(args.binary)
    import stack as stack_module
    from stack import Stack, twilio_signature

    db = os.path.join(tempfile.mkdtemp(prefix="frontline-bench-"), "directory.db")
    if os.path.exists(args.customers):
        subprocess.run([args.binary, "import", "--directory", db, args.customers], check=True,
                       capture_output=True)
    with Stack(args=["--directory", db, "--threads", "8", "--log-format", "json"]) as st:
        base = "http://127.0.0.1:%d" % st.port
        pairs = [("Location", "GetCustomersList"), ("Worker", "alice@example.com"),
                 ("PageSize", "30")]
        body = urllib.parse.urlencode(pairs)
        sig = twilio_signature(st.token, st.public_url + "/callbacks/crm", pairs)
        script = os.path.join(st.dir, "crm.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = "%s"\n'
                    'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                    'wrk.headers["X-Twilio-Signature"] = "%s"\n' % (body, sig))
        targets = [
            ("baseline: nginx alone (static 404)", base + "/no-such-path", None),
            ("GET /healthz via FastCGI", base + "/healthz", None),
            ("POST /callbacks/crm signed list", base + "/callbacks/crm", script),
        ]
        print("wrk %ds, %d connections, %d threads; responder --threads 8" %
              (args.seconds, args.connections, args.threads))
        print("%-40s %10s %10s %9s %9s %8s" % ("target", "req/s", "requests", "p50", "p99",
                                                "non-2xx"))
        baseline = None
        for name, url, lua in targets:
            rps, total, p50, p99, bad = run_wrk(url, args.seconds, args.connections,
                                                args.threads, lua)
            if baseline is None:
                baseline = rps
                bad = 0  # the baseline answers 404 on purpose
            print("%-40s %10.0f %10d %9s %9s %8d  (%.2fx baseline)" %
                  (name, rps, total, p50, p99, bad, rps / baseline))


if __name__ == "__main__":
    main()
