#!/usr/bin/env python3
"""Webhook benchmark: nginx + frontline-fcgi + the Twilio API stub on loopback. Sends routing
webhooks (distinct ConversationSids) and prints
  - the time from sending each webhook to the stub receiving its add-participant call
    (median, p99), the outbox's delivery latency;
  - the webhook's own response time (median, p99) with the stub answering normally, and while
    the stub stalls every call for 2 s: it must not grow, since the answer never waits for
    Twilio.
Not a test: it prints figures and asserts nothing.

Usage: bench/webhook_bench.py [--binary build/fcgi/frontline-fcgi] [--webhooks 1000]
       [--stalled 300] [--senders 4]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

ACCOUNT = "AC" + "0" * 32


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(p / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def fmt(values):
    return "median %7.2f ms  p99 %7.2f ms  max %7.2f ms  (n=%d)" % (
        statistics.median(values) * 1000, percentile(values, 99) * 1000, max(values) * 1000,
        len(values))


def send_all(stack, conversations, senders, address):
    """POSTs one routing webhook per conversation from `senders` threads; returns
    {conversation: (sent_at wall clock, response seconds, status)}."""
    results = {}
    lock = threading.Lock()

    def worker(chunk):
        for conversation in chunk:
            sent = time.time()
            t = time.monotonic()
            r = stack.post_form("/callbacks/routing", [
                ("ConversationSid", conversation), ("MessagingBinding.Address", address),
                ("MessagingBinding.ProxyAddress", "+15550001111")])
            elapsed = time.monotonic() - t
            with lock:
                results[conversation] = (sent, elapsed, r.status)
    threads = [threading.Thread(target=worker, args=(conversations[i::senders],))
               for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "fcgi", "frontline-fcgi"))
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--stalled", type=int, default=300,
                        help="webhooks sent while the stub stalls every call for 2 s")
    parser.add_argument("--senders", type=int, default=4, help="concurrent webhook senders")
    parser.add_argument("--customers", default=os.path.join(ROOT, "examples", "customers.json"))
    args = parser.parse_args()
    os.environ["FRONTLINE_BIN"] = os.path.abspath(args.binary)
    from stack import AUTH_TOKEN, Stack, wait_for
    from twilio_stub import TwilioStub

    tmp = tempfile.mkdtemp(prefix="frontline-whbench-")
    db = os.path.join(tmp, "directory.db")
    subprocess.run([args.binary, "import", "--directory", db, args.customers], check=True,
                   capture_output=True)
    address = "+15558675310"  # a known customer: alice@example.com
    with TwilioStub(ACCOUNT, AUTH_TOKEN) as twilio, \
            Stack(args=["--directory", db, "--threads", "8", "--twilio.api-base", twilio.url],
                  env={"TWILIO_ACCOUNT_SID": ACCOUNT}) as st:
        # Warm up nginx, the responder and the client's connection.
        send_all(st, ["CHwarm%026d" % n for n in range(20)], 1, address)
        wait_for(lambda: len(twilio.requests) >= 20, timeout=30, what="warm-up deliveries")
        twilio.reset()

        # 1. Normal: webhook -> stub latency and the webhook's response time.
        conversations = ["CHnorm%026d" % n for n in range(args.webhooks)]
        started = time.monotonic()
        normal = send_all(st, conversations, args.senders, address)
        send_seconds = time.monotonic() - started
        wait_for(lambda: len(twilio.requests) >= args.webhooks, timeout=120,
                 what="all deliveries")
        drained = time.monotonic() - started
        received = {}
        for r in twilio.requests:
            conversation = r["path"].split("/")[3]
            if r["method"] == "POST" and conversation not in received:
                received[conversation] = r["time"]
        delivery = [received[c] - normal[c][0] for c in conversations if c in received]
        bad = sum(1 for v in normal.values() if v[2] != 200)

        # 2. The stub stalls every call for 2 s: response time of the webhooks meanwhile.
        twilio.reset()
        twilio.stall(2.0, times=10 ** 6)
        stalled_conversations = ["CHstal%026d" % n for n in range(args.stalled)]
        stalled = send_all(st, stalled_conversations, args.senders, address)
        stalled_bad = sum(1 for v in stalled.values() if v[2] != 200)
        stalled_calls = len(twilio.requests)

        print("frontline-fcgi --threads 8 behind nginx, Twilio stub on loopback; %d senders"
              % args.senders)
        print("normal: %d webhooks sent in %.2f s (%.0f/s), all delivered after %.2f s; "
              "non-200: %d; delivered: %d" % (args.webhooks, send_seconds,
                                             args.webhooks / send_seconds, drained, bad,
                                             len(delivery)))
        print("  webhook -> stub add-participant   " + fmt(delivery))
        print("  webhook response, stub normal      " + fmt([v[1] for v in normal.values()]))
        print("stalled: every Twilio call stalls 2 s; %d webhooks, non-200: %d; "
              "REST calls reached the stub meanwhile: %d" % (args.stalled, stalled_bad,
                                                             stalled_calls))
        print("  webhook response, stub stalling    " + fmt([v[1] for v in stalled.values()]))
        # Let the stub's stalled handlers go before the stack stops (stop wakes them).
        twilio.reset()
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
