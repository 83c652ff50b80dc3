"""A stub of the Twilio Conversations REST API for tests: a real HTTP/1.1 server on 127.0.0.1
(keep-alive, so client connection reuse is observable) implementing the three calls the responder
makes (reference/frontline-protocol.md §9.1-9.3), with in-memory state per conversation.

    POST /v1/Conversations/{CH}/Participants          Identity=... [Attributes=...]
         -> 201 participant | 409 code 50433 when the identity is already in the conversation
    GET  /v1/Conversations/{CH}/Participants/{MB}     -> 200 participant | 404 code 50432
    POST /v1/Conversations/{CH}/Participants/{MB}     Attributes=<json> [Identity=...]
         -> 200 participant | 404 code 50432 | 400 code 50400 (stub's code) when not JSON

Every call checks HTTP Basic auth (401 code 20003 otherwise) and, for POST, that the body is
application/x-www-form-urlencoded (400 code 20001 otherwise). Conversations need not be created
first: any alphanumeric CH... SID exists. Errors use Twilio's shape
{"code","message","more_info","status"}.

Every API request is recorded (control requests are not), in `stub.requests`: dicts with
method, path, headers (lower-case names), form (name -> list of values), body (str), time
(time.time() on arrival), client_port, and status (the answer, once sent; None if none was).

Steering, from Python or from another process through the control endpoint:
  force(status, times=1, code=None, message=None, retry_after=None, delay=0, method=None,
        call=None, conversation_sid=None)
      The next `times` matching requests get `status` (with Twilio error JSON for >= 400, using
      `code`, by default Twilio's generic code for that status, e.g. 20429 for 429) after sleeping `delay` seconds; the state is not changed.
      `delay` is at most MAX_DELAY (60 s). status=None with a delay is a stall: sleep, then answer normally (the change is applied
      even though the client may have given up, as Twilio would). `call` is "add", "fetch" or
      "update". Rules are consumed in the order given; a request uses the first that matches.
  stall(seconds, times=1, ...)     same as force(None, delay=seconds, ...)
  go_down(seconds=None)            close the listening socket and every open connection, so new
                                   connections are refused; with `seconds`, come back by itself
  come_up()                        listen again on the same port
  add_participant(conversation_sid, identity=None, attributes="{}", messaging_binding=None,
                  sid=None)        pre-create a participant (e.g. a customer with a binding)
  participants(conversation_sid)   the participants of a conversation (list of dicts)
  reset()                          forget participants, rules and recorded requests

Control endpoint (no auth): POST /__control with a JSON object {"action": "force" | "stall" |
"down" | "add_participant" | "reset", ...the keyword arguments above...} answers 200 JSON (the
participant for add_participant); "down" requires "seconds" since the endpoint goes down too.
GET /__control/requests and GET /__control/participants?conversation_sid=CH... answer JSON.

As a script: python3 twilio_stub.py --port N --account-sid AC... --auth-token ...
"""
import argparse
import base64
import hmac
import http.server
import json
import re
import signal
import socket
import threading
import time
import urllib.parse
import uuid

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
# A stall is bounded, so a test that forgets one cannot hang a handler thread for long.
MAX_DELAY = 60
ERROR_DOCS = "https://www.twilio.com/docs/errors/"
PARTICIPANTS = re.compile(r"^/v1/Conversations/([A-Za-z0-9]+)/Participants(?:/([A-Za-z0-9]+))?$")
# Twilio's codes for the generic statuses, used when a forced answer names no code.
DEFAULT_CODES = {400: 20001, 401: 20003, 404: 20404, 409: 50433, 429: 20429, 500: 20500,
                 503: 20503}
DEFAULT_MESSAGES = {
    400: "Bad request", 401: "Authenticate", 404: "The requested resource was not found",
    409: "Participant already exists", 429: "Too many requests", 500: "Internal server error",
    502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout",
}


def new_sid(prefix):
    return prefix + uuid.uuid4().hex


def twilio_error(status, code, message):
    return {"code": code, "message": message, "more_info": ERROR_DOCS + str(code),
            "status": status}


class _Rule:
    def __init__(self, status, times, code, message, retry_after, delay, method, call,
                 conversation_sid):
        self.status = status
        self.remaining = int(times)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.delay = float(delay or 0)
        self.method = method
        self.call = call
        self.conversation_sid = conversation_sid

    def matches(self, method, call, conversation_sid):
        return (self.remaining > 0 and self.method in (None, method) and
                self.call in (None, call) and
                self.conversation_sid in (None, conversation_sid))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs under a burst of new connections, which a
    # client then sees as a one-second connect stall; Twilio's front end is not that small.
    request_queue_size = 128

    def __init__(self, address, stub):
        self.stub = stub
        super().__init__(address, _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TwilioStub/1.0"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this a kept-alive connection waits for
        # the client's delayed ACK (~40 ms a call), which real Twilio does not do.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.stub._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.server.stub._track(self.connection, False)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        self.server.stub._handle(self, "GET")

    def do_POST(self):
        self.server.stub._handle(self, "POST")

    def do_DELETE(self):
        self.server.stub._handle(self, "DELETE")

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            # The client gave up (a stall past its timeout) or the stub went down.
            self.close_connection = True


class TwilioStub:
    def __init__(self, account_sid=DEFAULT_ACCOUNT_SID, auth_token="stub-auth-token",
                 host="127.0.0.1", port=0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self.requests = []
        self._lock = threading.Lock()
        self._conversations = {}   # CH sid -> {MB sid -> participant dict}, insertion-ordered
        self._rules = []
        self._connections = set()
        self._server = None
        self._thread = None
        self._stopped = threading.Event()   # wakes stalled handlers on stop()
        self._up_timer = None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self):
        """Starts listening (on a free port the first time when port is 0)."""
        self._stopped.clear()
        self._listen()
        return self

    def stop(self):
        """Stops listening, drops open connections and wakes stalled handlers."""
        self._stopped.set()
        if self._up_timer is not None:
            self._up_timer.cancel()
            self._up_timer = None
        self._close()

    def go_down(self, seconds=None):
        """Refuses new connections and closes open ones; back by itself after `seconds`."""
        self._close()
        if seconds is not None:
            self._up_timer = threading.Timer(float(seconds), self.come_up)
            self._up_timer.daemon = True
            self._up_timer.start()

    def come_up(self):
        """Listens again on the same port."""
        with self._lock:
            up = self._server is not None
        if not up and not self._stopped.is_set():
            self._listen()

    @property
    def is_up(self):
        with self._lock:
            return self._server is not None

    def _listen(self):
        deadline = time.monotonic() + 5
        while True:
            try:
                server = _Server((self.host, self.port), self)
                break
            except OSError:
                # The port was just released; with SO_REUSEADDR this should be rare.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        with self._lock:
            self._server, self._thread = server, thread
        thread.start()

    def _close(self):
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            connections = list(self._connections)
        if server is not None:
            server.shutdown()
            server.server_close()
            thread.join()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _track(self, conn, add):
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- steering --------------------------------------------------------------------------
    def force(self, status, times=1, code=None, message=None, retry_after=None, delay=0,
              method=None, call=None, conversation_sid=None):
        if call not in (None, "add", "fetch", "update"):
            raise ValueError("call must be add, fetch or update")
        if not 0 <= delay <= MAX_DELAY:
            raise ValueError("delay must be between 0 and %d seconds" % MAX_DELAY)
        rule = _Rule(status, times, code, message, retry_after, delay, method, call,
                     conversation_sid)
        with self._lock:
            self._rules.append(rule)

    def stall(self, seconds, times=1, **match):
        self.force(None, times=times, delay=seconds, **match)

    def add_participant(self, conversation_sid, identity=None, attributes="{}",
                        messaging_binding=None, sid=None):
        with self._lock:
            return dict(self._create(conversation_sid, identity, attributes, messaging_binding,
                                     sid))

    def participants(self, conversation_sid):
        with self._lock:
            return [dict(p) for p in self._conversations.get(conversation_sid, {}).values()]

    def requests_matching(self, method=None, path=None):
        with self._lock:
            return [r for r in self.requests
                    if method in (None, r["method"]) and path in (None, r["path"])]

    def reset(self):
        with self._lock:
            self._conversations.clear()
            self._rules.clear()
            self.requests.clear()

    # -- requests --------------------------------------------------------------------------
    def _create(self, conversation_sid, identity, attributes, messaging_binding, sid=None):
        """Adds a participant; the caller holds the lock."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sid = sid or new_sid("MB")
        participant = {
            "account_sid": self.account_sid,
            "chat_service_sid": "IS" + "0" * 32,
            "conversation_sid": conversation_sid,
            "sid": sid,
            "identity": identity,
            "attributes": attributes,
            "messaging_binding": messaging_binding,
            "role_sid": "RL" + "0" * 32,
            "date_created": now,
            "date_updated": now,
            "last_read_message_index": None,
            "last_read_timestamp": None,
            "url": "https://conversations.twilio.com/v1/Conversations/%s/Participants/%s" % (
                conversation_sid, sid),
        }
        self._conversations.setdefault(conversation_sid, {})[sid] = participant
        return participant

    def _authorised(self, header):
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return False
        expected = "%s:%s" % (self.account_sid, self.auth_token)
        return hmac.compare_digest(decoded.encode(), expected.encode())

    def _handle(self, handler, method):
        if not self.is_up:
            handler.close_connection = True
            return
        parsed = urllib.parse.urlsplit(handler.path)
        length = handler.headers.get("Content-Length")
        try:
            raw = handler.rfile.read(int(length)) if length else b""
        except (ValueError, OSError):
            handler.close_connection = True
            return
        if parsed.path == "/__control" or parsed.path.startswith("/__control/"):
            return self._control(handler, method, parsed, raw)

        record = {
            "method": method, "path": parsed.path, "query": parsed.query,
            "headers": {k.lower(): v for k, v in handler.headers.items()},
            "body": raw.decode("utf-8", errors="replace"), "form": {}, "time": time.time(),
            "client_port": handler.client_address[1], "status": None,
        }
        with self._lock:
            self.requests.append(record)
        status, obj, headers = self._answer(method, parsed.path, record, raw)
        record["status"] = status
        handler.send_json(status, obj, headers)

    def _answer(self, method, path, record, raw):
        """(status, JSON object, extra headers) for one API request."""
        if not self._authorised(record["headers"].get("authorization")):
            return 401, twilio_error(401, 20003, "Authenticate"), [
                ("WWW-Authenticate", 'Basic realm="Twilio API"')]
        match = PARTICIPANTS.match(path)
        if match is None or method not in ("GET", "POST"):
            return 404, twilio_error(404, 20404, "The requested resource %s was not found" %
                                     path), []
        conversation_sid, participant_sid = match.group(1), match.group(2)
        if method == "POST":
            content_type = record["headers"].get("content-type", "")
            if content_type.split(";")[0].strip() != "application/x-www-form-urlencoded":
                return 400, twilio_error(400, 20001, "Body must be form-encoded"), []
            try:
                record["form"] = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True,
                                                       strict_parsing=bool(raw))
            except (ValueError, UnicodeDecodeError):
                return 400, twilio_error(400, 20001, "Malformed form body"), []
        elif participant_sid is None:
            return 404, twilio_error(404, 20404, "Listing is not implemented by the stub"), []
        call = "fetch" if method == "GET" else ("add" if participant_sid is None else "update")

        with self._lock:
            rule = next((r for r in self._rules
                         if r.matches(method, call, conversation_sid)), None)
            if rule is not None:
                rule.remaining -= 1
                self._rules = [r for r in self._rules if r.remaining > 0]
        if rule is not None:
            if rule.delay:
                self._stopped.wait(rule.delay)
            if rule.status is not None:
                return self._forced(rule)

        form = {k: v[-1] for k, v in record["form"].items()}
        with self._lock:
            if call == "add":
                return self._add(conversation_sid, form)
            participant = self._conversations.get(conversation_sid, {}).get(participant_sid)
            if participant is None:
                return 404, twilio_error(404, 50432, "Participant not found"), []
            if call == "update":
                if "Attributes" in form:
                    try:
                        json.loads(form["Attributes"])
                    except ValueError:
                        return 400, twilio_error(400, 50400, "Attributes must be valid JSON"), []
                    participant["attributes"] = form["Attributes"]
                if "Identity" in form:
                    participant["identity"] = form["Identity"]
                participant["date_updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            return 200, dict(participant), []

    def _add(self, conversation_sid, form):
        identity = form.get("Identity")
        address = form.get("MessagingBinding.Address")
        if not identity and not address:
            return 400, twilio_error(400, 20001, "Missing required parameter Identity"), []
        attributes = form.get("Attributes", "{}")
        try:
            json.loads(attributes)
        except ValueError:
            return 400, twilio_error(400, 50400, "Attributes must be valid JSON"), []
        for p in self._conversations.get(conversation_sid, {}).values():
            if identity and p["identity"] == identity:
                return 409, twilio_error(409, 50433, "Participant already exists"), []
        binding = None
        if address:
            binding = {"type": "sms", "address": address,
                       "proxy_address": form.get("MessagingBinding.ProxyAddress")}
        return 201, dict(self._create(conversation_sid, identity or None, attributes, binding)), []

    @staticmethod
    def _forced(rule):
        headers = []
        if rule.retry_after is not None:
            headers.append(("Retry-After", str(rule.retry_after)))
        if rule.status >= 400:
            code = rule.code if rule.code is not None else DEFAULT_CODES.get(rule.status,
                                                                              rule.status)
            message = rule.message or DEFAULT_MESSAGES.get(rule.status, "Error")
            return rule.status, twilio_error(rule.status, code, message), headers
        return rule.status, {}, headers

    def _control(self, handler, method, parsed, raw):
        try:
            if method == "GET" and parsed.path == "/__control/requests":
                with self._lock:
                    return handler.send_json(200, list(self.requests))
            if method == "GET" and parsed.path == "/__control/participants":
                query = urllib.parse.parse_qs(parsed.query)
                sid = query.get("conversation_sid", [""])[0]
                return handler.send_json(200, self.participants(sid))
            if method != "POST" or parsed.path != "/__control":
                return handler.send_json(404, {"error": "unknown control request"})
            command = json.loads(raw.decode() or "{}")
            action = command.pop("action", None)
            if action == "force":
                self.force(command.pop("status"), **command)
            elif action == "stall":
                self.stall(command.pop("seconds"), **command)
            elif action == "down":
                seconds = float(command["seconds"])
                handler.send_json(200, {"ok": True})
                handler.close_connection = True
                # After answering, so the controller gets its reply before the socket closes.
                threading.Thread(target=self.go_down, args=(seconds,), daemon=True).start()
                return None
            elif action == "add_participant":
                return handler.send_json(200, self.add_participant(**command))
            elif action == "reset":
                self.reset()
            else:
                return handler.send_json(400, {"error": "unknown action %r" % action})
            return handler.send_json(200, {"ok": True})
        except (ValueError, KeyError, TypeError) as e:
            return handler.send_json(400, {"error": str(e)})


def main():
    parser = argparse.ArgumentParser(description="Twilio Conversations API stub")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default="stub-auth-token")
    args = parser.parse_args()
    stub = TwilioStub(args.account_sid, args.auth_token, host=args.host, port=args.port).start()
    print("twilio stub listening on %s" % stub.url, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    stub.stop()


if __name__ == "__main__":
    main()
