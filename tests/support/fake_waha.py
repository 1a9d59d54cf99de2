"""A fake WAHA: a real HTTP server on 127.0.0.1 that follows shared/waha-api.md
(§10's checklist), with session states a test drives.

    waha = FakeWaha(api_key="secret")          # core mode: only "default"
    waha.url                                   # http://127.0.0.1:PORT
    waha.add_session("default", "SCAN_QR_CODE")
    waha.pair("default", "5511900000000")      # the phone scanned: WORKING
    waha.fail("default"); waha.restart("default"); waha.rotate_qr("default")
    waha.missing.add("5511911111111")          # not on WhatsApp
    waha.chat_ids["5511988887777"] = "551188887777@c.us"   # check-exists answers another id
    waha.send_errors["5511922222222@c.us"] = 500            # the engine fails this chat
    waha.sent                                  # [Sent(session, chat_id, text, at, message_id)]
    waha.api_key = "other"                     # our key is now wrong: 401
    waha.reads_down = True                     # every GET answers 503 (no polling WAHA)
    waha.close()                               # unreachable from now on

A started session moves STARTING -> SCAN_QR_CODE (or -> WORKING when it was
paired before) after `start_delay` seconds, on its own and whenever it is read.

Webhooks (§7), as WAHA sends them: to each session's config.webhooks (what
ChronoFlow sets when it creates a session) and to `global_hooks` (what
WHATSAPP_HOOK_URL/EVENTS/HMAC_KEY configure), signed with X-Webhook-Hmac when
the hook has an hmac key:

    waha.global_hooks = [{"url": ..., "events": ["session.status", "message.ack"], "hmac": {"key": "k"}}]
    # session.status on every change (QR rotations included); after each sendText,
    # message.ack for `auto_acks` (SERVER, DEVICE by default); then, by hand:
    waha.ack(waha.sent[0], 3)                  # READ
    waha.wait_for_deliveries(lambda d: d.event == "message.ack" and d.ack == 3)
    waha.replay(delivery)                      # the same request again (WAHA retrying)
"""
import base64
import hashlib
import hmac
import json
import queue
import random
import struct
import uuid
import zlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import requests

NOT_EXPECTED = "Session status is not as expected. Try again later or restart the session"


def qr_like_png(version, modules=29, scale=8):
    """A PNG that looks like a QR code (three finder squares, random modules), a new
    pattern per rotation: real enough for screenshots, nothing to scan."""
    rng = random.Random(version)

    def dark(x, y):
        for fx, fy in ((0, 0), (modules - 7, 0), (0, modules - 7)):
            if fx <= x < fx + 7 and fy <= y < fy + 7:
                dx, dy = x - fx, y - fy
                return not (dx in (1, 5) and 1 <= dy <= 5 or dy in (1, 5) and 1 <= dx <= 5)
            if fx - 1 <= x <= fx + 7 and fy - 1 <= y <= fy + 7:
                return False
        return rng.random() < 0.5

    quiet = 4
    size = (modules + 2 * quiet) * scale
    grid = [[dark(x, y) for x in range(modules)] for y in range(modules)]
    rows = []
    for py in range(size):
        y = py // scale - quiet
        row = bytes(0 if 0 <= y < modules and 0 <= px // scale - quiet < modules and grid[y][px // scale - quiet]
                    else 255 for px in range(size))
        rows.append(b"\0" + row)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + \
        chunk(b"IEND", b"")


@dataclass
class Session:
    name: str
    status: str = "STOPPED"
    me: dict | None = None
    paired_phone: str | None = None  # kept across stop/start, dropped by logout
    starting_since: float | None = None
    qr_version: int = 1
    config: dict = field(default_factory=dict)


@dataclass
class Sent:
    session: str
    chat_id: str
    text: str
    at: float  # time.time()
    message_id: str = ""  # the bare id; sendText answered it wrapped per engine, acks carry true_<chat>_<id>

    @property
    def serialized(self):
        return f"true_{self.chat_id}_{self.message_id}"


@dataclass
class Delivery:
    """One webhook request the fake made, and what ChronoFlow answered."""

    url: str
    event: str
    body: bytes
    headers: dict
    status: int | None = None  # None: no answer (connection refused, timeout)

    @property
    def envelope(self):
        return json.loads(self.body)

    @property
    def ack(self):
        return self.envelope["payload"].get("ack") if self.event == "message.ack" else None


ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}


class FakeWaha:
    def __init__(self, api_key="test-key", core=True, engine="WEBJS", start_delay=0.2):
        self.api_key = api_key
        self.core = core
        self.engine = engine  # WEBJS or NOWEB: the shape of sendText's answer
        self.start_delay = start_delay
        self.sessions: dict[str, Session] = {}
        self.missing: set[str] = set()  # digits not on WhatsApp
        self.chat_ids: dict[str, str] = {}  # digits -> the chat id check-exists answers
        self.send_errors: dict[str, int] = {}  # chat id -> HTTP status sendText answers
        self.sent: list[Sent] = []
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, headers)
        self.reads_down = False  # every GET answers 503: a test that must not poll WAHA
        self.global_hooks: list[dict] = []  # like WHATSAPP_HOOK_URL: every session's events
        self.auto_acks = (1, 2)  # acks sent after each sendText: SERVER, DEVICE
        self.deliveries: list[Delivery] = []
        self._outbox = queue.Queue()
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        threading.Thread(target=self._deliver_forever, daemon=True).start()
        self._closed = False

    # --- what a test uses -------------------------------------------------------
    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def settings(self):
        """The app settings that point ChronoFlow here."""
        return {"WAHA_BASE_URL": self.url, "WAHA_API_KEY": self.api_key}

    def add_session(self, name="default", status="STOPPED", phone=None, config=None):
        with self._lock:
            session = Session(name, paired_phone=phone, config=config or {})
            self.sessions[name] = session
            self._set(session, status)
            return session

    def status(self, name="default"):
        with self._lock:
            session = self._get(name)
            return session.status if session else None

    def pair(self, name="default", phone="5511900000000", push_name="Loja"):
        """The person scanned the QR code (or typed the pairing code)."""
        with self._lock:
            session = self.sessions[name]
            session.paired_phone = phone
            session.me = {"id": f"{phone}@c.us", "pushName": push_name}
            session.status = "WORKING"
            self._emit_status(session)

    def fail(self, name="default"):
        with self._lock:
            self._set(self.sessions[name], "FAILED")

    def restart(self, name="default"):
        """WAHA restarts the session (as after FAILED): STARTING, then SCAN_QR_CODE or WORKING."""
        with self._lock:
            self._set(self.sessions[name], "STARTING")

    def rotate_qr(self, name="default"):
        """A new QR code: WAHA says SCAN_QR_CODE again."""
        with self._lock:
            session = self.sessions[name]
            session.qr_version += 1
            if session.status == "SCAN_QR_CODE":
                self._emit_status(session)

    def ack(self, message, level):
        """WhatsApp's news about a message we sent (a Sent): 2 delivered, 3 read, 4 played, -1 error."""
        with self._lock:
            self._emit(message.session, "message.ack", {
                "id": message.serialized, "from": message.chat_id, "to": message.chat_id, "participant": None,
                "fromMe": True, "ack": level, "ackName": ACK_NAMES[level]})

    def wait_for_deliveries(self, predicate=lambda delivery: True, count=1, timeout=10.0):
        """The first `count` deliveries ChronoFlow answered for which `predicate` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [d for d in self.deliveries if d.status is not None and predicate(d)]
            if len(found) >= count:
                return found[:count]
            time.sleep(0.05)
        raise AssertionError(f"expected {count} matching webhook deliveries, got: {self.deliveries}")

    def replay(self, delivery):
        """The same request again, byte for byte (as WAHA retrying it, or someone who captured it)."""
        return requests.post(delivery.url, data=delivery.body, headers=delivery.headers, timeout=10)

    def reset(self):
        with self._lock:
            self.sessions.clear()
            self.missing.clear()
            self.chat_ids.clear()
            self.send_errors.clear()
            self.sent.clear()
            self.requests.clear()
            self.deliveries.clear()
            self.global_hooks = []
            self.reads_down = False
            self.auto_acks = (1, 2)

    def wait_for_sent(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.sent) >= count:
                    return list(self.sent)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s) sent, got {len(self.sent)}: {self.sent}")

    def close(self):
        if not self._closed:
            self._closed = True
            self._outbox.put(None)
            self._server.shutdown()
            self._server.server_close()

    # --- webhooks -----------------------------------------------------------------
    def _hooks(self, session_name, event):
        session = self.sessions.get(session_name)
        hooks = list((session.config if session else {}).get("webhooks") or []) + list(self.global_hooks)
        return [hook for hook in hooks if event in hook.get("events", []) or "*" in hook.get("events", [])]

    def _emit_status(self, session):
        self._emit(session.name, "session.status", {"name": session.name, "status": session.status})

    def _emit(self, session_name, event, payload):
        session = self.sessions.get(session_name)
        for hook in self._hooks(session_name, event):
            now_ms = int(time.time() * 1000)
            body = json.dumps({
                "id": "evt_" + uuid.uuid4().hex[:26], "timestamp": now_ms, "event": event, "session": session_name,
                "metadata": {}, "me": session.me if session else None, "payload": payload, "engine": self.engine,
                "environment": {"version": "2024.10.8", "engine": self.engine, "tier": "CORE"},
            }).encode()
            headers = {"Content-Type": "application/json", "User-Agent": "WAHA/2024.10.8",
                       "X-Webhook-Request-Id": uuid.uuid4().hex, "X-Webhook-Timestamp": str(now_ms)}
            key = (hook.get("hmac") or {}).get("key")
            if key:
                headers["X-Webhook-Hmac"] = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
                headers["X-Webhook-Hmac-Algorithm"] = "sha512"
            self._outbox.put(Delivery(hook["url"], event, body, headers))

    def _deliver_forever(self):
        """One delivery at a time, in order, as WAHA's sender (fire and forget)."""
        while True:
            delivery = self._outbox.get()
            if delivery is None:
                return
            try:
                delivery.status = requests.post(delivery.url, data=delivery.body, headers=delivery.headers,
                                                timeout=10).status_code
            except requests.RequestException:
                delivery.status = None
            with self._lock:
                self.deliveries.append(delivery)

    # --- the state machine --------------------------------------------------------
    def _set(self, session, status):
        session.status = status
        if status == "STARTING":
            session.starting_since = started = time.monotonic()
            timer = threading.Timer(self.start_delay, self._started, (session, started))
            timer.daemon = True
            timer.start()
        if status == "WORKING" and session.paired_phone:
            session.me = {"id": f"{session.paired_phone}@c.us", "pushName": "Loja"}
        if status != "WORKING":
            session.me = None
        self._emit_status(session)

    def _started(self, session, started):
        """STARTING -> SCAN_QR_CODE or WORKING once start_delay passed, without anyone asking."""
        with self._lock:
            if self.sessions.get(session.name) is session and session.status == "STARTING" \
                    and session.starting_since == started:
                self._set(session, "WORKING" if session.paired_phone else "SCAN_QR_CODE")

    def _get(self, name):
        session = self.sessions.get(name)
        if session and session.status == "STARTING" and time.monotonic() - session.starting_since >= self.start_delay:
            self._set(session, "WORKING" if session.paired_phone else "SCAN_QR_CODE")
        return session

    def _info(self, session):
        return {"name": session.name, "status": session.status, "config": session.config, "me": session.me,
                "engine": {"engine": self.engine}}

    def _route(self, method, path, query, body):
        """(status, body) where body is a JSON value, bytes (PNG) or None."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if path == "/ping":
            return 200, {"message": "pong"}
        if parts[:2] == ["api", "sessions"]:
            return self._sessions(method, parts[2:], query, body)
        if len(parts) == 4 and parts[0] == "api" and parts[2] == "auth":
            return self._auth(method, parts[1], parts[3], query, body)
        if path == "/api/sendText" and method == "POST":
            return self._send_text(body)
        if path == "/api/contacts/check-exists" and method == "GET":
            return self._check_exists(query)
        return 404, {"statusCode": 404, "message": f"Cannot {method} {path}", "error": "Not Found"}

    def _sessions(self, method, rest, query, body):
        if not rest:
            if method == "GET":
                shown = [s for s in map(self._get, list(self.sessions)) if query.get("all") or s.status != "STOPPED"]
                return 200, [self._info(s) for s in shown]
            if method == "POST":
                name = (body or {}).get("name") or "default"
                core = self._core_only(name)
                if core:
                    return core
                if name in self.sessions:
                    return 422, {"statusCode": 422, "error": "Unprocessable Entity",
                                 "message": f"Session '{name}' already exists. Use PUT to update it."}
                session = self.add_session(name, "STARTING" if body.get("start") else "STOPPED",
                                           config=body.get("config"))
                return 201, self._info(session)
        name = rest[0]
        core = self._core_only(name)
        if core:
            return core
        session = self._get(name)
        if session is None:
            if method == "DELETE":
                return 200, None  # idempotent
            return 404, {"statusCode": 404, "message": "Session not found", "error": "Not Found"}
        if len(rest) == 1:
            if method == "GET":
                return 200, self._info(session)
            if method == "PUT":
                session.config = (body or {}).get("config") or {}
                return 200, self._info(session)
            if method == "DELETE":
                del self.sessions[name]
                return 200, None
        if len(rest) == 2 and method == "POST":
            action = rest[1]
            if action == "start":
                if session.status != "STOPPED":
                    return 422, {"statusCode": 422, "message": f"Session '{name}' is already started.",
                                 "error": "Unprocessable Entity"}
                self._set(session, "STARTING")
            elif action == "stop":
                self._set(session, "STOPPED")
            elif action == "restart":
                self._set(session, "STARTING")
            elif action == "logout":
                session.paired_phone = None
                self._set(session, "STARTING" if session.status != "STOPPED" else "STOPPED")
            else:
                return 404, {"statusCode": 404, "message": "Not found", "error": "Not Found"}
            return 201, self._info(session)
        return 404, {"statusCode": 404, "message": "Not found", "error": "Not Found"}

    def _core_only(self, name):
        if self.core and name != "default":
            return 422, {"statusCode": 422, "error": "Unprocessable Entity",
                         "message": "WAHA Core support only 'default' session. If you want to run more then one "
                                    "WhatsApp account - please get WAHA PLUS version."}
        return None

    def _running(self, name, expected):
        """None when the session is in `expected`, else WAHA's error (404 not running, 422 wrong status)."""
        session = self._get(name)
        if session is None or session.status == "STOPPED":
            return None, (404, {"statusCode": 404, "error": "Not Found",
                                "message": f"We didn't find a session with name '{name}'.\nPlease start it first "
                                           f"by using POST /api/sessions/{name}/start request"})
        if session.status != expected:
            return None, (422, {"error": NOT_EXPECTED, "session": name, "status": session.status,
                                "expected": [expected]})
        return session, None

    def _auth(self, method, name, what, query, body):
        if what == "qr" and method == "GET":
            session, problem = self._running(name, "SCAN_QR_CODE")
            if problem:
                return problem
            if query.get("format") == "raw":
                return 200, {"value": f"2@fake-qr-{session.qr_version}"}
            return 200, qr_like_png(session.qr_version)  # the handler decides PNG or JSON from Accept
        if what == "request-code" and method == "POST":
            session, problem = self._running(name, "SCAN_QR_CODE")
            if problem and problem[0] == 404:
                return problem
            digits = str((body or {}).get("phoneNumber", ""))
            return 201, {"code": f"{digits[-4:]:0>4}-WXYZ".upper()}
        return 404, {"statusCode": 404, "message": "Not found", "error": "Not Found"}

    def _check_exists(self, query):
        name = query.get("session") or "default"
        _, problem = self._running(name, "WORKING")
        if problem:
            return problem
        digits = (query.get("phone") or "").split("@")[0]
        if digits in self.missing:
            return 200, {"numberExists": False}
        return 200, {"numberExists": True, "chatId": self.chat_ids.get(digits, f"{digits}@c.us")}

    def _send_text(self, body):
        body = body or {}
        name = body.get("session") or "default"
        _, problem = self._running(name, "WORKING")
        if problem:
            return problem
        chat_id = body.get("chatId", "")
        chat_id = chat_id if "@" in chat_id else chat_id + "@c.us"
        if chat_id in self.send_errors:
            status = self.send_errors[chat_id]
            return status, {"statusCode": status, "timestamp": "2026-01-01T00:00:00.000Z",
                            "exception": {"message": "No LID for user", "name": "Error"},
                            "request": {"path": "/api/sendText", "method": "POST", "body": body, "query": {}},
                            "version": {"version": "2024.10.8", "engine": self.engine, "tier": "CORE"}}
        message_id = f"3EB0{uuid.uuid4().hex[:16].upper()}"
        self.sent.append(Sent(name, chat_id, body.get("text", ""), time.time(), message_id))
        for level in self.auto_acks:
            self.ack(self.sent[-1], level)
        if self.engine == "NOWEB":
            return 201, {"key": {"remoteJid": chat_id.replace("@c.us", "@s.whatsapp.net"), "fromMe": True,
                                 "id": message_id},
                         "message": {"extendedTextMessage": {"text": body.get("text")}}, "status": "PENDING"}
        return 201, {"id": {"fromMe": True, "remote": chat_id, "id": message_id,
                            "_serialized": f"true_{chat_id}_{message_id}"},
                     "body": body.get("text"), "type": "chat", "ack": 0, "hasMedia": False}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                query = {key: values[-1] for key, values in parse_qs(split.query).items()}
                with fake._lock:
                    fake.requests.append((self.command, self.path, dict(self.headers.items())))
                    key = self.headers.get("X-Api-Key") or query.get("x-api-key")
                    if fake.api_key and key != fake.api_key:
                        status, body = 401, {"statusCode": 401, "message": "Unauthorized"}
                    elif fake.reads_down and self.command == "GET":
                        status, body = 503, {"statusCode": 503, "message": "Service Unavailable"}
                    else:
                        try:
                            data = json.loads(raw) if raw else None
                        except ValueError:
                            data = None
                        status, body = fake._route(self.command, split.path, query, data)
                if isinstance(body, bytes):
                    # §5: JSON only for an exact "Accept: application/json"
                    if self.headers.get("Accept") == "application/json":
                        body = {"mimetype": "image/png", "data": base64.b64encode(body).decode()}
                    else:
                        return self._reply(status, body, "image/png")
                self._reply(status, b"" if body is None else json.dumps(body).encode(), "application/json")

            def _reply(self, status, payload, content_type):
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
