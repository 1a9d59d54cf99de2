"""Every outbound webhook call goes through here.

The request is a plain snapshot taken before the call, so no database
transaction stays open while a slow target keeps us waiting. The wire is
executors/transport.py (libcurl, one thread a process): `send` makes one
call and waits (the form's Test, alerts); `start_all` starts many side by side
and reports each outcome to a callback (a burst's runs).
"""
import codecs
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import current_app, has_app_context

from ..security import mask_headers
from . import transport
from .headers import outgoing
from .outcome import Outcome

# Signed webhooks (README "Signed webhooks"): HMAC-SHA256 over "<timestamp>.<body>".
TIMESTAMP_HEADER = "X-ChronoFlow-Timestamp"
SIGNATURE_HEADER = "X-ChronoFlow-Signature"

SNIPPET_CHARS = 1000
USER_AGENT = "ChronoFlow/1.0 (+https://github.com/chronoflow)"


def allowed_networks():
    """OUTBOUND_ALLOWED_NETWORKS of the current app (none outside one)."""
    if has_app_context():
        return tuple(current_app.config.get("OUTBOUND_ALLOWED_NETWORKS") or ())
    return ()


def sign(secret, timestamp, body):
    """The signature header's value: v1=hex(HMAC-SHA256(secret, "<timestamp>.<body>"))."""
    message = str(timestamp).encode() + b"." + (body or b"")
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    payload: object = None  # str: sent as is; any other JSON value: sent as JSON
    timeout_s: float = 10.0
    max_bytes: int = 65536
    signing_secret: str | None = None  # signs the request (chronos); None: unsigned (alerts)
    allowed: tuple | None = None  # OUTBOUND_ALLOWED_NETWORKS; None: the current app's
    success: object = None  # success.Rules; None: 2xx/3xx, the body unread

    def body(self):
        """Bytes to send and the Content-Type they imply."""
        if self.payload is None:
            return None, None
        if isinstance(self.payload, str):
            return self.payload.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.payload).encode(), "application/json"


def build(request):
    """(body, headers, what the run's page shows as "request as sent", secrets masked)."""
    body, content_type = request.body()
    defaults = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}  # as curl sends them
    if content_type:
        defaults["Content-Type"] = content_type
    own = {}
    if request.signing_secret:
        timestamp = int(time.time())
        own = {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(request.signing_secret, timestamp, body)}
    headers = outgoing(request.headers, defaults=defaults, own=own)  # what the person set wins over defaults

    sent = {  # what the run's page shows as "request as sent"; secrets masked
        "request": {
            "method": request.method,
            "url": request.url,
            "headers": mask_headers(headers),
            "body": body.decode("utf-8", errors="replace")[:SNIPPET_CHARS] if body else None,
        }
    }
    return body, headers, sent


def send(request: HttpRequest) -> Outcome:
    """One call, waited for."""
    finished = threading.Event()
    outcome = []

    def done(result):
        outcome.append(result)
        finished.set()

    start_all([(request, done)])
    finished.wait()
    return outcome[0]


def start_all(calls):
    """(request, done) pairs: the calls start side by side on the process's loop;
    each `done(Outcome)` is called there when its call ends."""
    allowed = allowed_networks()  # read here: the loop's thread has no app context
    transport.fetch_all([_wire(request, allowed, done) for request, done in calls])


def _wire(request, allowed, done):
    """The transport's arguments for `request`, and its callback turning what came back into an Outcome."""
    body, headers, sent = build(request)
    host = urlsplit(request.url).hostname or ""
    args = (request.method, request.url, host, headers, body, request.timeout_s, request.max_bytes,
            tuple(allowed if request.allowed is None else request.allowed))
    return args, lambda answer: done(_outcome(request, answer, sent))


def _outcome(request, answer, sent):
    duration = int(answer.seconds * 1000)
    host = urlsplit(request.url).hostname or ""
    if isinstance(answer, transport.Failed):
        if answer.code == "timeout":
            return Outcome.failure("timeout", f"No response within {request.timeout_s:g} s", duration, result=sent,
                                   params={"seconds": request.timeout_s, "host": host})
        return Outcome.failure(answer.code, str(answer), duration, retryable=answer.code == "connection", result=sent,
                               params={"host": host, **answer.params})
    status = answer.status
    encoding = _encoding(answer.content_type)
    snippet = answer.body.decode(encoding, errors="replace")[:SNIPPET_CHARS]
    if request.success is not None:
        return _judged(request, answer, sent, status, snippet, duration, host, encoding)
    if 200 <= status < 400:  # redirects are not followed: a 3xx counts as success
        return Outcome(ok=True, http_status=status, snippet=snippet, duration_ms=duration, result=sent)
    return Outcome(
        result=sent,
        ok=False,
        http_status=status,
        snippet=snippet,
        duration_ms=duration,
        error_code="http_status",
        params={"status": status, "host": host},
        error=f"HTTP {status} {answer.reason}".strip(),
        retryable=status >= 500 or status == 429,
        retry_after_s=answer.retry_after_s,
    )


def _judged(request, answer, sent, status, snippet, duration, host, encoding):
    """The outcome by the chrono's success rules (executors/success.py)."""
    failed = request.success.failure(status, answer.body, encoding)
    if failed is None:
        return Outcome(ok=True, http_status=status, snippet=snippet, duration_ms=duration, result=sent)
    rule, params = failed
    # A status the target may change its mind about is worth another attempt; a body that
    # says the wrong thing is an answer.
    retryable = rule == "status" and (status >= 500 or status == 429)
    return Outcome(result=sent, ok=False, http_status=status, snippet=snippet, duration_ms=duration,
                   error_code="success_rule", params={"rule": rule, "host": host, **params},
                   error=f"Success rule {rule} failed: {params}", retryable=retryable,
                   retry_after_s=answer.retry_after_s if retryable else None)


def _encoding(content_type):
    """The body's charset as requests guesses it: the header's, else Latin-1 for text/*, else UTF-8."""
    if not content_type:
        return "utf-8"
    kind, _, params = content_type.partition(";")
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            value = value.strip("'\" ")
            try:
                return codecs.lookup(value).name
            except LookupError:
                return "utf-8"
    return "ISO-8859-1" if "text" in kind.lower() else "utf-8"



