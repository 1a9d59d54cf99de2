"""Every outbound webhook call goes through here.

The request is a plain snapshot taken before the call, so no database
transaction stays open while a slow target keeps us waiting.
"""
import json
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

import requests

from .outcome import Outcome

SNIPPET_CHARS = 1000
USER_AGENT = "ChronoFlow/1.0 (+https://github.com/chronoflow)"

_local = threading.local()


def _session():
    # One pooled session per worker thread: keep-alive to targets called often.
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    payload: object = None  # str: sent as is; any other JSON value: sent as JSON
    timeout_s: float = 10.0
    max_bytes: int = 65536

    def body(self):
        """Bytes to send and the Content-Type they imply."""
        if self.payload is None:
            return None, None
        if isinstance(self.payload, str):
            return self.payload.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.payload).encode(), "application/json"


def send(request: HttpRequest) -> Outcome:
    body, content_type = request.body()
    headers = {"User-Agent": USER_AGENT}
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(request.headers)  # what the person set wins

    sent = {  # what the run's page shows as "request as sent"
        "request": {
            "method": request.method,
            "url": request.url,
            "headers": headers,
            "body": body.decode("utf-8", errors="replace")[:SNIPPET_CHARS] if body else None,
        }
    }
    started = time.monotonic()
    deadline = started + request.timeout_s
    try:
        # Redirects are not followed: a 3xx counts as success, and following
        # one would send the request somewhere the person never configured.
        with _session().request(
            request.method,
            request.url,
            headers=headers,
            data=body,
            timeout=(request.timeout_s, request.timeout_s),
            allow_redirects=False,
            stream=True,
        ) as response:
            content = _read_bounded(response, request.max_bytes, deadline)
    except requests.Timeout:
        return Outcome.failure("timeout", f"No response within {request.timeout_s:g} s", _ms(started), result=sent)
    except requests.ConnectionError as exc:
        return Outcome.failure("connection", f"Connection failed: {_reason(exc)}", _ms(started), result=sent)
    except requests.RequestException as exc:
        return Outcome.failure(
            "request", f"Request failed: {_reason(exc)}", _ms(started), retryable=False, result=sent
        )

    snippet = content.decode(response.encoding or "utf-8", errors="replace")[:SNIPPET_CHARS]
    status = response.status_code
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
    """At most max_bytes of the body, so a 1 GB answer costs 64 KiB and not 1 GB."""
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= max_bytes:
            break
        if time.monotonic() > deadline:
            # A target trickling bytes would otherwise hold us past the timeout.
            raise requests.Timeout()
    return b"".join(chunks)[:max_bytes]


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
