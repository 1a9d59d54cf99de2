"""Every outbound webhook call goes through here.

The request is a plain snapshot taken before the call, so no database
transaction stays open while a slow target keeps us waiting.
"""
import codecs
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from functools import lru_cache

import urllib3
from flask import current_app, has_app_context
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from ..security import mask_headers
from . import outbound
from .headers import outgoing
from .outcome import Outcome

# Signed webhooks (README "Signed webhooks"): HMAC-SHA256 over "<timestamp>.<body>".
TIMESTAMP_HEADER = "X-ChronoFlow-Timestamp"
SIGNATURE_HEADER = "X-ChronoFlow-Signature"

SNIPPET_CHARS = 1000
USER_AGENT = "ChronoFlow/1.0 (+https://github.com/chronoflow)"
# Connections kept per target host. Past it a call still gets a connection, one
# that is closed afterwards: a burst is never held back by the pool.
CONNECTIONS_PER_HOST = 128

_managers = {}
_managers_lock = threading.Lock()


class _TooSlow(Exception):
    """The body kept coming past the timeout."""


def _manager(allowed):
    # urllib3 directly, not requests: a fraction of the CPU per call, which is
    # what a burst of thousands of runs is made of. One pool manager per
    # process (and outbound policy), shared by every thread: keep-alive
    # connections to targets called often.
    manager = _managers.get(allowed)
    if manager is None:
        with _managers_lock:
            manager = _managers.get(allowed)
            if manager is None:
                manager = urllib3.PoolManager(num_pools=64, maxsize=CONNECTIONS_PER_HOST, block=False, retries=False)
                manager.pool_classes_by_scheme = _pool_classes(allowed)
                _managers[allowed] = manager
    return manager


class _GuardedConnection:
    """urllib3's connection, but the socket comes from outbound.connect: the host
    is resolved once, every address checked, and the checked address connected to."""

    allowed = ()

    def _new_conn(self):
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        try:
            sock = outbound.connect(
                self._dns_host, self.port, self.allowed, timeout, self.source_address, self.socket_options
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        except TimeoutError as e:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. (connect timeout={timeout})") from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


@lru_cache(maxsize=16)
def _pool_classes(allowed):
    conn = type("GuardedHTTPConnection", (_GuardedConnection, HTTPConnection), {"allowed": allowed})
    tls = type("GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection), {"allowed": allowed})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }


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

    def body(self):
        """Bytes to send and the Content-Type they imply."""
        if self.payload is None:
            return None, None
        if isinstance(self.payload, str):
            return self.payload.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.payload).encode(), "application/json"


def send(request: HttpRequest) -> Outcome:
    body, content_type = request.body()
    defaults = {"User-Agent": USER_AGENT, "Accept": "*/*"}  # as requests and curl send it
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
    started = time.monotonic()
    deadline = started + request.timeout_s
    allowed = allowed_networks() if request.allowed is None else tuple(request.allowed)
    try:
        # Redirects are not followed: a 3xx counts as success, and following
        # one would send the request somewhere the person never configured.
        response = _manager(allowed).urlopen(
            request.method,
            request.url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=request.timeout_s, read=request.timeout_s),
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            content = _read_bounded(response, request.max_bytes, deadline)
        finally:
            response.release_conn()
    except outbound.Blocked as exc:
        return Outcome.failure("blocked", str(exc), _ms(started), retryable=False, result=sent)
    except (NewConnectionError, ProtocolError, SSLError) as exc:  # before timeouts: urllib3 files
        # NewConnectionError under ConnectTimeoutError.
        return Outcome.failure("connection", f"Connection failed: {_reason(exc)}", _ms(started), result=sent)
    except (Urllib3Timeout, _TooSlow):
        return Outcome.failure("timeout", f"No response within {request.timeout_s:g} s", _ms(started), result=sent)
    except OSError as exc:
        return Outcome.failure("connection", f"Connection failed: {_reason(exc)}", _ms(started), result=sent)
    except (HTTPError, ValueError) as exc:  # a URL or header that cannot be sent
        return Outcome.failure(
            "request", f"Request failed: {_reason(exc)}", _ms(started), retryable=False, result=sent
        )

    snippet = content.decode(_encoding(response.headers.get("Content-Type")), errors="replace")[:SNIPPET_CHARS]
    status = response.status
    duration = _ms(started)
    if 200 <= status < 400:
        return Outcome(ok=True, http_status=status, snippet=snippet, duration_ms=duration, result=sent)
    return Outcome(
        result=sent,
        ok=False,
        http_status=status,
        snippet=snippet,
        duration_ms=duration,
        error_code="http_status",
        error=f"HTTP {status} {response.reason or ''}".strip(),
        retryable=status >= 500 or status == 429,
        retry_after_s=_retry_after(response.headers.get("Retry-After")),
    )


def _read_bounded(response, max_bytes, deadline):
    """At most max_bytes of the body, so a 1 GB answer costs 64 KiB and not 1 GB.

    A body cut short leaves its connection closed, never back in the pool half read.
    """
    chunks, size = [], 0
    while size < max_bytes:
        chunk = response.read(min(8192, max_bytes - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            # A target trickling bytes would otherwise hold us past the timeout.
            response.close()
            raise _TooSlow()
    if response.read(1):
        response.close()
    return b"".join(chunks)


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


def _retry_after(value):
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _reason(exc):
    # requests nests the useful words several exceptions deep.
    inner = exc
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    text = str(inner) or exc.__class__.__name__
    return text[:300]


def _ms(started):
    return int((time.monotonic() - started) * 1000)
