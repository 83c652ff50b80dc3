#!/usr/bin/env python3
"""directory_bench on SQLite and on PostgreSQL side by side, same --customers.

Starts a PostgreSQL server of its own (tests/integration/pg_server.py: initdb into a temporary
folder, run as nobody when run as root, loopback only, fsync on, default shared_buffers),
creates a database, then runs build/bench/directory_bench first on a SQLite file and then with
--postgres on that database, each under /usr/bin/time -v (the client's peak RSS; the binary
also prints its own RSS before and after the import). While the PostgreSQL run lasts, the
server processes' peak resident sets (VmHWM) are sampled, so the server side of the import's
memory is reported too. Prints both outputs whole, then one table: the import rate, database
size, peak RSS, and the median and p99 of every lookup, SQLite next to PostgreSQL.

    bench/directory_bench.py [--customers 1000000] [--samples 2000] [--binary PATH]
                             [--only sqlite|postgres]

Not a test: asserts nothing. The server and the client share the machine's cores.
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def run(cmd, label):
    """Runs cmd under /usr/bin/time -v; returns (stdout, max RSS in MB, wall seconds)."""
    print("$ " + " ".join(cmd), flush=True)
    started = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.monotonic() - started
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.exit("%s failed (%d): %s" % (label, done.returncode, done.stderr[-3000:]))
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return done.stdout, (int(rss.group(1)) / 1024.0 if rss else float("nan")), wall


def parse(out):
    """{metric: (median, p99)} and the import line's figures from directory_bench's output."""
    figures = {}
    m = re.search(r"import:\s+(\d+) customers, \d+ workers in ([\d.]+) s = (\d+) customers/s", out)
    if m:
        figures["import customers/s"] = (float(m.group(3)), None)
        figures["import seconds"] = (float(m.group(2)), None)
    m = re.search(r"import peak RSS: ([\d.]+) MB \(([\d.]+) MB before", out)
    if m:
        figures["import peak RSS MB (getrusage)"] = (float(m.group(1)), None)
    m = re.search(r"database: ([\d.]+) MB", out)
    if m:
        figures["database MB"] = (float(m.group(1)), None)
    for name, median, p99 in re.findall(
            r"^  (\S.*?)\s+median\s+([\d.]+) us\s+p99\s+([\d.]+) us", out, re.M):
        figures[name.strip()] = (float(median), float(p99))
    return figures


class ServerMemory:
    """Samples the peak VmHWM of the server's processes (those whose parent chain reaches the
    postmaster) every 0.2 s while running; peak() is the largest single process seen, in MB,
    and the largest sum over processes at one sample."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.stop_flag = threading.Event()
        self.max_single = 0
        self.max_sum = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def postmaster(self):
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def loop(self):
        root = self.postmaster()
        while not self.stop_flag.wait(0.2):
            if root is None:
                root = self.postmaster()
                continue
            total = 0
            for pid in [root] + self.children(root):
                try:
                    with open("/proc/%d/status" % pid) as f:
                        fields = dict(line.split(":", 1) for line in f if ":" in line)
                    hwm = int(fields["VmHWM"].split()[0])
                    rss = int(fields.get("RssAnon", "0 kB").split()[0])
                except (OSError, KeyError, ValueError):
                    continue
                self.max_single = max(self.max_single, hwm)
                total += rss
            self.max_sum = max(self.max_sum, total)

    @staticmethod
    def children(pid):
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join()
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--binary",
                        default=os.path.join(ROOT, "build", "bench", "directory_bench"))
    parser.add_argument("--only", choices=["sqlite", "postgres"],
                        help="run one backend only")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit("%s not found: cmake --build build --target directory_bench" % args.binary)
    common = [args.binary, "--customers", str(args.customers), "--samples", str(args.samples)]
    print("%d cores, load average %.2f %.2f %.2f at the start" % ((os.cpu_count(),) +
                                                                  os.getloadavg()), flush=True)
    results = {}
    if args.only != "postgres":
        out, rss, wall = run(common, "sqlite")
        results["SQLite"] = parse(out)
        results["SQLite"]["client max RSS MB (time -v)"] = (rss, None)
        results["SQLite"]["wall seconds"] = (wall, None)
    if args.only != "sqlite":
        from pg_server import PostgresServer
        with PostgresServer() as server:
            server.create_database("bench")
            version = server.psql("bench", "SHOW server_version").stdout.strip()
            settings = server.psql("bench", "SELECT string_agg(name || '=' || setting || "
                                   "coalesce(unit, ''), ' ') FROM pg_settings WHERE name IN "
                                   "('shared_buffers', 'work_mem', 'maintenance_work_mem', "
                                   "'fsync', 'synchronous_commit', 'max_wal_size')").stdout
            print("PostgreSQL %s: %s" % (version, settings.strip()), flush=True)
            with ServerMemory(server.data) as memory:
                out, rss, wall = run(common + ["--postgres", server.uri("bench")], "postgres")
            results["PostgreSQL"] = parse(out)
            results["PostgreSQL"]["client max RSS MB (time -v)"] = (rss, None)
            results["PostgreSQL"]["server peak VmHWM of one process MB"] = (
                memory.max_single / 1024.0, None)
            results["PostgreSQL"]["server peak RssAnon sum MB"] = (memory.max_sum / 1024.0, None)
            results["PostgreSQL"]["wall seconds"] = (wall, None)

    sides = list(results)
    names = []
    for side in sides:
        names += [n for n in results[side] if n not in names]
    print("\n%d customers, %d samples per lookup; load average %.2f %.2f %.2f at the end" % (
        (args.customers, args.samples) + os.getloadavg()))
    header = "%-52s" % "measure" + "".join("%26s" % s for s in sides)
    if len(sides) == 2:
        header += "%12s" % "PG/SQLite"
    print(header)

    def cell(v):
        if v is None:
            return "%26s" % "-"
        median, p99 = v
        if p99 is None:
            return "%26.1f" % median
        return "%26s" % ("%.1f / %.1f us" % (median, p99))

    for name in names:
        values = [results[s].get(name) for s in sides]
        line = "%-52s" % name[:52] + "".join(cell(v) for v in values)
        if len(sides) == 2 and all(values) and values[0][0]:
            line += "%12.2f" % (values[1][0] / values[0][0])
        print(line)
    print("(lookups: median / p99; the ratio is of the medians, or of the single figure)")


if __name__ == "__main__":
    main()
