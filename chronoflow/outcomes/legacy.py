"""Runs stored before outcomes had parameters: an error code (most of them) and
an English sentence. What the sentence says is read back here, so an old run
is shown in the reader's language too; what cannot be read is shown as
"the server said: …" with the sentence quoted.

Each pattern matches the sentence the code of its time wrote (executors, the
WhatsApp client, the scheduler), and the network errors of the HTTP clients we
used (urllib3's "[Errno 111] Connection refused", libcurl's "Could not resolve host").
"""
import re
from urllib.parse import urlsplit

from ..models import TargetType

NETWORK = (
    ("dns", re.compile(r"Name or service not known|Could not resolve host|Temporary failure in name resolution|"
                       r"nodename nor servname|getaddrinfo failed|No address associated", re.I)),
    ("refused", re.compile(r"Connection refused|Couldn't connect|Failed to connect|Errno 111", re.I)),
    ("tls", re.compile(r"SSL|certificate|TLS", re.I)),
    ("empty", re.compile(r"Empty reply|RemoteDisconnected|closed connection without response", re.I)),
    ("reset", re.compile(r"reset by peer|closed before an answer|Recv failure|Send failure|Broken pipe|"
                         r"Connection aborted", re.I)),
)
BLOCKED = {
    "a cloud metadata address": "metadata", "a link-local address": "link_local",
    "a loopback address": "loopback", "a private network address": "private",
    "an unspecified address": "unspecified", "not a public internet address": "reserved",
}
# Sentences whose code was not stored with them.
EXACT = {
    "The chrono was paused before this run started.": "cancelled",
    "The worker stopped during this attempt.": "worker_lost",
    "Another worker took over this run.": "superseded",
    "Skipped: the previous run was still running (overlap policy: skip).": "overlap",
    "This number is not on WhatsApp.": "not_on_whatsapp",
}
SESSION_STATES = (("is not connected: scan", "SCAN_QR_CODE"), ("failed (the phone", "FAILED"),
                  ("is stopped", "STOPPED"))


def problem(text, result=None, target_type=None):
    """(code, params) for an English `text` stored with `result` (its error_code, request...)."""
    result = result if isinstance(result, dict) else {}
    text = str(text).strip()
    code = EXACT.get(text) or result.get("error_code")
    if code is None:
        attempts = result.get("attempts")
        if isinstance(attempts, list) and attempts and isinstance(attempts[-1], dict) \
                and attempts[-1].get("error") == text:
            code = attempts[-1].get("error_code")
    params = {}
    host = _host(result)
    if host:
        params["host"] = host
    reader = READERS.get(code)
    if reader is not None:
        found = reader(text, result)
        if found is not None:
            return code, {**params, **found}
    reason = _network(text)
    if reason and target_type != TargetType.MESSAGE:
        return "connection", {**params, "reason": reason}
    if target_type == TargetType.MESSAGE or code in ("waha", "unreachable", "session", "session_not_ready"):
        return "waha", {"detail": text}
    return None, {"detail": text}  # "the server said: …"


def _host(result):
    request = result.get("request")
    if isinstance(request, dict) and isinstance(request.get("url"), str):
        try:
            return urlsplit(request["url"]).hostname
        except ValueError:
            return None
    return None


def _network(text):
    for reason, pattern in NETWORK:
        if pattern.search(text):
            return reason
    return None


def _match(pattern, text, *names, convert=str):
    found = re.search(pattern, text)
    if not found:
        return None
    return {name: convert(value) for name, value in zip(names, found.groups()) if value is not None}


def _timeout(text, result):
    return _match(r"within ([\d.]+) ?s", text, "seconds", convert=float) or {}


def _connection(text, result):
    return {"reason": _network(text) or "other"}


def _blocked(text, result):
    for words, reason in BLOCKED.items():
        if f" is {words}" in text:
            host, _, address = text.split(f" is {words}")[0].partition(" (")
            return {"host": host, "reason": reason, **({"address": address.rstrip(")")} if address else {})}
    return None


def _http_status(text, result):
    return _match(r"HTTP (\d{3})", text, "status", convert=int)


def _request(text, result):
    return {"detail": text.removeprefix("Request failed: ")}


def _seconds(text, result):
    return _match(r"Started (\d+) s after", text, "seconds", convert=int) or {}


def _missed(text, result):
    if "skipped_count" in result:
        return {key: result[key] for key in ("skipped_count", "skipped_count_exact", "skipped_from", "skipped_until")
                if key in result}
    if "misfire_policy" in result:
        return {"while_down": True, "misfire_policy": result["misfire_policy"]}
    return _seconds(text, result)


def _session_not_ready(text, result):
    found = _match(r"session '(.*?)' is not connected yet \(status (\w+)\)", text, "session", "status")
    if found:
        return found
    session = _match(r"session '(.*?)'", text, "session") or {}
    for words, status in SESSION_STATES:
        if words in text:
            return {**session, "status": status}
    return None


def _waha(text, result):
    return _match(r"\(HTTP (\d{3})\): (.*)$", text, "status", "detail") or {"detail": text}


def _messages(text, result):
    return (_match(r"Sent to (\d+) of (\d+) recipients", text, "sent", "total", convert=int)
            or _match(r"any of the (\d+) recipients", text, "total", convert=int) or {})


def _with_sent(reader):
    def read(text, result):
        found = reader(text, result)
        if found is None:
            return None
        return {**found, **(_match(r"\(sent to (\d+) of (\d+) recipients before that\)", text, "sent", "total",
                                   convert=int) or {})}
    return read


def _invalid(text, result):
    entry = _match(r"“(.*?)” is not", text, "entry")
    if entry:
        return {**entry, "reason": "not_a_number" if "is not a phone number" in text else "invalid_number"}
    for pattern, reason, name in ((r"more than (\d+) ms", "template_timeout", "ms"),
                                  (r"longer than (\d+) characters", "template_too_long", "n"),
                                  (r"more than (\d+) MB", "template_memory", "mb")):
        found = _match(pattern, text, name, convert=int)
        if found:
            return {**found, "reason": reason}
    found = _match(r"There is no variable (\S+?)\.", text, "name")
    if found:
        return {"reason": "template_undefined", **found}
    found = re.search(r"\{%% %%\}|\{% %\}", text) and re.search(r"(?: \(line (\d+)\))?: (.*)$", text)
    if found:
        return {"reason": "template_syntax", "line": int(found.group(1)) if found.group(1) else None,
                "detail": found.group(2)}
    return {"detail": text}


READERS = {
    "timeout": _timeout, "connection": _connection, "blocked": _blocked, "http_status": _http_status,
    "request": _request, "internal": lambda text, result: {"detail": text},
    "method_not_allowed": lambda text, result: _match(r"Method (\S+)", text, "method"),
    "unsupported": lambda text, result: _match(r"Target type (\S+)", text, "target_type"),
    "missed": _missed, "coalesced": _seconds, "overlap": lambda text, result: {},
    "cancelled": lambda text, result: {}, "worker_lost": lambda text, result: {},
    "superseded": _with_sent(lambda text, result: {}), "channel": lambda text, result: {},
    "not_on_whatsapp": lambda text, result: {},
    "unreachable": _with_sent(lambda text, result: _match(r"not reachable at (\S+?)\. ", text, "url")),
    "unauthorized": _with_sent(lambda text, result: {}),
    "session": _with_sent(lambda text, result: _match(r"session '(.*?)' does not exist", text, "session")),
    "session_not_ready": _with_sent(_session_not_ready),
    "daily_cap": _with_sent(lambda text, result: _match(r"session '(.*?)' sent its (\d+) messages", text,
                                                        "session", "cap")),
    "waha": _with_sent(_waha), "partial": _messages, "not_sent": _messages, "invalid": _invalid,
}
