#!/usr/bin/env python3
"""Outbox latency benchmark: nginx + frontline-fcgi + the Twilio API stub on loopback. Sends a
burst of signed routing webhooks, each for a new conversation, and prints the time from sending
each webhook to the stub receiving its add-participant call (p50, p99, max):
  - with --outbox.concurrency 1 (one delivery in flight: the old dispatcher), as the baseline;
  - with --outbox.concurrency 8 (the default);
  - with 8, while the stub stalls the first conversation's call for 5 s: the others must not
    wait for it (their figures stay near the unstalled ones).
Also the webhook's own response time. With --import N, also the routing webhooks' response
times while `import --replace` loads N generated customers into the directory (the outbox in
its own file must not wait for the import's write lock). Not a test: it prints figures and
asserts nothing.

Usage: bench/outbox_latency.py [--binary build/fcgi/frontline-fcgi] [--webhooks 1000]
       [--senders 8] [--import 500000]
"""
import json
import threading
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

ACCOUNT = "AC" + "0" * 32


def run(args, concurrency, stall_first, tag):
    """One fresh stack; returns (latencies of the unstalled, stalled latency or None, response
    times, non-200 count, seconds to send the burst)."""
    from stack import AUTH_TOKEN, Stack, wait_for
    from twilio_stub import TwilioStub
    from webhook_bench import send_all

    tmp = tempfile.mkdtemp(prefix="frontline-obbench-")
    db = os.path.join(tmp, "directory.db")
    subprocess.run([args.binary, "import", "--directory", db, args.customers], check=True,
                   capture_output=True)
    address = "+15558675310"  # a known customer: alice@example.com
    try:
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, \
                Stack(args=["--directory", db, "--threads", "8", "--twilio.api-base", twilio.url,
                            "--outbox.concurrency", str(concurrency)],
                      env={"TWILIO_ACCOUNT_SID": ACCOUNT}) as st:
            send_all(st, ["CHwarm%s%025d" % (tag, n) for n in range(20)], 1, address)
            wait_for(lambda: len(twilio.requests) >= 20, timeout=30, what="warm-up deliveries")
            twilio.reset()
            conversations = ["CH%s%030d" % (tag, n) for n in range(args.webhooks)]
            if stall_first:
                twilio.stall(5.0, times=1, conversation_sid=conversations[0], call="add")
            started = time.monotonic()
            sent = send_all(st, conversations, args.senders, address)
            send_seconds = time.monotonic() - started
            # A stalled call times out at the client's 5 s and is retried after about 1 s.
            wait_for(lambda: len({r["path"] for r in twilio.requests
                                  if r["status"] in (201, 409)}) >= args.webhooks,
                     timeout=300, what="all deliveries")
            received = {}
            for r in twilio.requests:
                conversation = r["path"].split("/")[3]
                if r["method"] == "POST" and conversation not in received:
                    received[conversation] = r["time"]
            latencies = [received[c] - sent[c][0] for c in conversations[1 if stall_first else 0:]
                         if c in received]
            stalled = None
            if stall_first:
                # The stalled call times out at the client; the stub still adds the participant
                # (as Twilio would), and the retry meets 409, "done". Wait for that retry.
                def calls():
                    return [r for r in twilio.requests
                            if r["path"].split("/")[3] == conversations[0]]
                wait_for(lambda: len(calls()) >= 2, timeout=30, what="the stalled job's retry")
                stalled = (max(r["time"] for r in calls()), len(calls()))
                stalled = (stalled[0] - sent[conversations[0]][0], stalled[1])
            bad = sum(1 for v in sent.values() if v[2] != 200)
            responses = [v[1] for v in sent.values()]
            twilio.reset()
    finally:
        subprocess.run(["rm", "-rf", tmp])
    return latencies, stalled, responses, bad, send_seconds


def during_import(args, count):
    """Routing webhooks from 4 senders while `import --replace` loads `count` customers."""
    from stack import AUTH_TOKEN, Stack
    from twilio_stub import TwilioStub

    tmp = tempfile.mkdtemp(prefix="frontline-obbench-")
    try:
        db = os.path.join(tmp, "directory.db")
        big = os.path.join(tmp, "customers.json")
        with open(big, "w") as out:
            out.write('{"customers":[\n')
            for i in range(count):
                out.write(json.dumps({"customer_id": str(i), "display_name": "Customer %d" % i,
                                      "worker": "w%d@example.com" % (i % 100),
                                      "channels": [{"type": "sms", "value": "+1555%07d" % i}]}))
                out.write(",\n" if i < count - 1 else "\n")
            out.write("]}\n")
        subprocess.run([args.binary, "import", "--directory", db, args.customers], check=True,
                       capture_output=True)
        with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, \
                Stack(args=["--directory", db, "--twilio.api-base", twilio.url],
                      env={"TWILIO_ACCOUNT_SID": ACCOUNT}) as st:
            results = []
            lock = threading.Lock()
            stop = threading.Event()

            def sender(k):
                n = 0
                while not stop.is_set() and n < 100000:
                    t = time.monotonic()
                    r = st.post_form("/callbacks/routing", [
                        ("ConversationSid", "CHi%d%029d" % (k, n)),
                        ("MessagingBinding.Address", "+15558675310")])
                    with lock:
                        results.append((time.monotonic() - t, r.status))
                    n += 1
                    time.sleep(0.005)
            threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            started = time.monotonic()
            imported = subprocess.run([args.binary, "import", "--replace", "--directory", db,
                                       big], capture_output=True, timeout=1800)
            seconds = time.monotonic() - started
            stop.set()
            for t in threads:
                t.join()
    finally:
        subprocess.run(["rm", "-rf", tmp])
    return seconds, imported.returncode, [r[0] for r in results], \
        sum(1 for r in results if r[1] != 200)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "fcgi", "frontline-fcgi"))
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=8, help="concurrent webhook senders")
    parser.add_argument("--customers", default=os.path.join(ROOT, "examples", "customers.json"))
    parser.add_argument("--import", dest="import_count", type=int, default=0,
                        help="also measure webhooks during import --replace of N customers")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    os.environ["FRONTLINE_BIN"] = args.binary
    from webhook_bench import fmt

    print("frontline-fcgi --threads 8 behind nginx, Twilio stub on loopback; %d webhooks from "
          "%d senders, each a new conversation" % (args.webhooks, args.senders))
    baseline = None
    for name, concurrency, stall, tag in (("concurrency 1", 1, False, "a"),
                                          ("concurrency 8", 8, False, "b"),
                                          ("concurrency 8, one stalled 5 s", 8, True, "c")):
        latencies, stalled, responses, bad, send_seconds = run(args, concurrency, stall, tag)
        median = sorted(latencies)[len(latencies) // 2]
        if baseline is None:
            baseline = median
        print("%s: burst sent in %.2f s, non-200: %d" % (name, send_seconds, bad))
        print("  webhook -> add-participant  " + fmt(latencies) +
              "  median ratio to concurrency 1: %.2f" % (median / baseline))
        if stalled is not None:
            print("  the stalled conversation    its last call %.2f s after the webhook, %d calls "
                  "(5 s stall, the client's 5 s timeout, a retry after about 1 s)" % stalled)
        print("  webhook response            " + fmt(responses))
    if args.import_count:
        seconds, code, responses, bad = during_import(args, args.import_count)
        print("import --replace of %d customers: %.1f s (exit %d); routing webhooks meanwhile "
              "from 4 senders, non-200: %d" % (args.import_count, seconds, code, bad))
        print("  webhook response            " + fmt(responses))


if __name__ == "__main__":
    main()
