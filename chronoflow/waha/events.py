"""WAHA's webhook events (shared/waha-api.md §7) into ChronoFlow's record.

WAHA proves who it is in one of two ways, whichever its edition offers:
an HMAC-SHA512 of the raw body in X-Webhook-Hmac, keyed with WAHA_WEBHOOK_HMAC_KEY
(session webhooks of newer builds and WAHA Plus), or a secret token in the URL,
WAHA_WEBHOOK_TOKEN (every build: WAHA Core 2024.10 signs nothing). Anything else
is refused before its body is read as JSON.

A delivery is applied once: WAHA retries, and X-Webhook-Request-Id (or the
event's own id) is remembered for KEEP_IDS. What an event does is idempotent
anyway (receipts only move forward, statuses older than the last one are
stale), so a delivery without an id changes nothing twice either. Nothing here
calls WAHA or anyone else: alerts are returned, to be sent after the commit.
"""
import hashlib
import hmac
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import UnmatchedAck, WahaEvent, utcnow
from . import receipts, state

log = logging.getLogger(__name__)

PATH = "/api/waha/webhook"  # + "/<WAHA_WEBHOOK_TOKEN>" for WAHA builds that cannot sign
EVENTS = ("session.status", "message.ack")
MAX_BODY = 1024 * 1024
KEEP_IDS = timedelta(days=7)  # request ids remembered; events older than this are refused


def webhook_url(config):
    """The address WAHA posts events to, or None when ChronoFlow does not know how WAHA reaches it."""
    base = config.get("WAHA_WEBHOOK_BASE_URL")
    if not base:
        return None
    token = config.get("WAHA_WEBHOOK_TOKEN")
    return base.rstrip("/") + PATH + (f"/{token}" if token else "")


def webhook_config(config):
    """The entry of a WAHA session's config.webhooks that sends ChronoFlow its events, or None."""
    url = webhook_url(config)
    if url is None:
        return None
    hook = {"url": url, "events": list(EVENTS),
            # Newer builds retry a failed delivery; 2024.10 Core posts once.
            "retries": {"delaySeconds": 2, "attempts": 5}}
    if config.get("WAHA_WEBHOOK_HMAC_KEY"):
        hook["hmac"] = {"key": config["WAHA_WEBHOOK_HMAC_KEY"]}
    return hook


def ours(hook, config):
    """True for a webhook entry that points at ChronoFlow (an older token's included)."""
    base = config.get("WAHA_WEBHOOK_BASE_URL")
    url = hook.get("url") if isinstance(hook, dict) else None
    return bool(base and isinstance(url, str) and url.startswith(base.rstrip("/") + PATH))


def signature(key, body):
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def proven(config, body, headers, token=None):
    """Whether the request comes from WAHA: a valid X-Webhook-Hmac, or else the right
    token in the URL. A signature that does not match refuses the request whatever
    the URL says: the body was changed on its way."""
    key = config.get("WAHA_WEBHOOK_HMAC_KEY")
    sent = headers.get("X-Webhook-Hmac")
    if key and sent is not None:
        algorithm = headers.get("X-Webhook-Hmac-Algorithm", "sha512").strip().lower()
        return algorithm == "sha512" and hmac.compare_digest(signature(key, body), sent.strip().lower())
    expected = config.get("WAHA_WEBHOOK_TOKEN")
    return bool(expected and token) and hmac.compare_digest(expected.encode(), str(token).encode())


class Ignored(Exception):
    """The delivery is proven but says nothing we use: answered 200, logged, dropped.
    `unused`: a well-formed event ChronoFlow has no use for (WAHA may send any)."""

    def __init__(self, reason, unused=False):
        super().__init__(reason)
        self.unused = unused


@dataclass(frozen=True)
class Event:
    kind: str
    session: str
    payload: dict
    me: dict
    at: datetime | None  # WAHA's time for it, when the build says
    request_id: str | None


def parse(body, request_id=None, now=None):
    """An Event, or Ignored saying why (malformed, an event we do not use, too old)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        raise Ignored("not JSON") from None
    if not isinstance(envelope, dict):
        raise Ignored("not a JSON object")
    kind = envelope.get("event")
    if kind not in EVENTS:
        raise Ignored(f"event {str(kind)[:60]!r} is not one ChronoFlow uses", unused=True)
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise Ignored(f"{kind} without a payload object")
    session = envelope.get("session") or payload.get("name")
    if not isinstance(session, str) or not session:
        raise Ignored(f"{kind} without a session")
    at = _moment(envelope.get("timestamp"), now)
    if at is not None and at < (now or utcnow()) - KEEP_IDS:
        raise Ignored(f"{kind} from {at.isoformat()}: older than ChronoFlow remembers deliveries")
    request_id = request_id or envelope.get("id")
    me = envelope.get("me")
    return Event(kind=kind, session=session[:100], payload=payload, me=me if isinstance(me, dict) else {},
                 at=at, request_id=str(request_id)[:200] if request_id else None)


def receive(body, request_id=None, now=None):
    """Apply one proven delivery. Returns (result, alert): result is "applied",
    "duplicate" or "ignored"; alert is for the caller to send after its commit."""
    now = now or utcnow()
    try:
        event = parse(body, request_id, now)
        if event.request_id is not None and not _first_delivery(event.request_id, now):
            log.info("WAHA event %s delivered again: already applied", event.request_id)
            return "duplicate", None
        alert = APPLY[event.kind](event, now)
    except Ignored as reason:
        (log.info if reason.unused else log.warning)("WAHA webhook ignored: %s", reason)
        return "ignored", None
    _forget_old_ids(now)
    return "applied", alert


def _session_status(event, now):
    status = event.payload.get("status")
    if not isinstance(status, str) or not status:
        raise Ignored("session.status without a status")
    return state.record(event.session, status[:40], _text(event.me.get("id")), _text(event.me.get("pushName")),
                        at=event.at, event=True, now=now)


def _message_ack(event, now):
    payload = event.payload
    level = payload.get("ack")
    if isinstance(payload.get("ackName"), str) and payload["ackName"] in receipts.ACK_NAMES:
        level = receipts.ACK_NAMES[payload["ackName"]]
    if isinstance(level, bool) or not isinstance(level, int):
        raise Ignored("message.ack without an ack level")
    if payload.get("fromMe") is False:
        return None  # someone else's message that we read: nothing of ours
    key = receipts.message_key(payload.get("id"))
    if key is None:
        raise Ignored("message.ack without a message id")
    state.row(event.session, lock=True)  # receipts.py: the executor may be writing this message's row
    if not receipts.apply_ack(key, level, event.at or now):
        log.debug("ack for message %s, not one of ours", key)
    return None


APPLY = {"session.status": _session_status, "message.ack": _message_ack}


def _first_delivery(request_id, now):
    """Remember `request_id`; False when it was already there (a retry, or a replay)."""
    if db.session.get(WahaEvent, request_id) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(WahaEvent(request_id=request_id, received_at=now))
    except IntegrityError:  # the same delivery, in another request at the same moment
        return False
    return True


def _forget_old_ids(now):
    if random.random() < 0.02:  # now and then is enough: a few rows age out at a time
        for model in (WahaEvent, UnmatchedAck):
            db.session.execute(delete(model).where(model.received_at < now - KEEP_IDS)
                               .execution_options(synchronize_session=False))


def _moment(value, now=None):
    """An event's timestamp (milliseconds since the epoch) as aware UTC; never in the future."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return min(moment, now or utcnow())


def _text(value):
    return value[:200] if isinstance(value, str) and value else None
