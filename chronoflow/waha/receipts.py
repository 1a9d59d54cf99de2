"""What happened to each WhatsApp message after it was sent: WAHA's message.ack
events (shared/waha-api.md §7) land on the SentMessage the executor wrote.

Acks only move a message forward (delivered, then read, then played) and each
time is kept from the first ack that implied it, so a retried or replayed ack,
or one that arrives days late or out of order, changes nothing it should not.

WhatsApp's first ack can come before the executor has written the message's
row: it waits as an UnmatchedAck, folded in when the row is written. Both sides
hold the session's row lock (state.row) meanwhile, so one always sees the other.
"""
import re

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ChronoRun, RunStatus, SentMessage, UnmatchedAck

ERROR, PENDING, SERVER, DEVICE, READ, PLAYED = -1, 0, 1, 2, 3, 4
ACK_NAMES = {"ERROR": ERROR, "PENDING": PENDING, "SERVER": SERVER, "DEVICE": DEVICE, "READ": READ,
             "PLAYED": PLAYED}

# Per recipient, from worst to best news; "error": WhatsApp could not deliver it.
DELIVERY_STATES = ("error", "sent", "delivered", "read", "played")

# {fromMe}_{chatId}_{id}[_{participant}]: chat ids hold no "_" (digits@c.us, …@g.us, …@lid).
SERIALIZED = re.compile(r"^(?:true|false)_[^_]+_([^_]+)")


def message_key(message_id):
    """The bare WhatsApp id ("3EB0…") in any of WAHA's wrappings: the engines answer
    sendText with the serialized form or the bare id, and acks carry the serialized form."""
    if isinstance(message_id, dict):
        message_id = message_id.get("_serialized") or message_id.get("id")
    if not isinstance(message_id, str) or not message_id.strip():
        return None
    found = SERIALIZED.match(message_id.strip())
    return (found.group(1) if found else message_id.strip())[:200]


def record_sent(run_id, session, record, at):
    """A SentMessage for an executor record that was just sent, with the acks that
    came before it. The caller holds the session's row lock and commits."""
    message = SentMessage(run_id=run_id, session=session, recipient=record["to"], chat_id=record.get("chat_id"),
                          message_id=record.get("message_id"), message_key=message_key(record.get("message_id")),
                          sent_at=at)
    db.session.add(message)
    if message.message_key is not None:
        db.session.flush()
        _fold(message.message_key)
    return message


def apply_ack(key, level, at):
    """Record an ack on the message whose bare id is `key` (the caller holds its
    session's row lock). False when no message of ours has that id: it is kept
    as an UnmatchedAck, in case the executor is writing it right now."""
    if key is None:
        return False
    if _update(key, level, at):
        _fold(key)
        return True
    if db.session.get(UnmatchedAck, (key, level)) is None:
        try:
            with db.session.begin_nested():
                db.session.add(UnmatchedAck(message_key=key, ack=level, at=at))
        except IntegrityError:  # the same ack, delivered twice at once
            pass
    return False


def _fold(key):
    """Apply, then drop, the acks that arrived before the message's row."""
    waiting = db.session.scalars(select(UnmatchedAck).where(UnmatchedAck.message_key == key)).all()
    for ack in waiting:
        _update(key, ack.ack, ack.at)
    if waiting:
        db.session.execute(delete(UnmatchedAck).where(UnmatchedAck.message_key == key)
                           .execution_options(synchronize_session=False))


def _update(key, level, at):
    """One conditional UPDATE, so two acks of one message arriving together cannot
    undo each other. True when a message has the id."""
    values = {}
    if level == ERROR:
        # An error only counts while WhatsApp had not delivered it.
        not_delivered = or_(SentMessage.ack.is_(None), SentMessage.ack < DEVICE)
        values = {"ack": case((not_delivered, ERROR), else_=SentMessage.ack),
                  "failed_at": case((not_delivered, func.coalesce(SentMessage.failed_at, at)),
                                    else_=SentMessage.failed_at)}
    elif level >= SERVER:
        values["ack"] = case((or_(SentMessage.ack.is_(None), SentMessage.ack < level), level), else_=SentMessage.ack)
        # Read implies delivered: a missed DEVICE ack still gets a time.
        for threshold, column in ((DEVICE, "delivered_at"), (READ, "read_at"), (PLAYED, "played_at")):
            if level >= threshold:
                values[column] = func.coalesce(getattr(SentMessage, column), at)
    else:
        values["ack"] = func.coalesce(SentMessage.ack, level)
    matched = db.session.execute(
        update(SentMessage).where(SentMessage.message_key == key).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return matched > 0


def delivery(message):
    """The recipient's state as a WhatsApp user reads the ticks."""
    if message.played_at:
        return "played"
    if message.read_at:
        return "read"
    if message.delivered_at:
        return "delivered"
    if message.failed_at and message.ack == ERROR:
        return "error"
    return "sent"


def _iso(moment):
    return moment.isoformat() if moment else None


def recipients_of(run):
    """The run's `result["recipients"]`, each sent one with WhatsApp's news: `delivery`
    (DELIVERY_STATES; null when it was not sent) and `delivered_at`, `read_at`,
    `played_at`, `failed_at` (ISO 8601, UTC)."""
    records = (run.result or {}).get("recipients") or []
    if not records:
        return []
    sent = {message.recipient: message for message in run.sent_messages}
    merged = []
    for record in records:
        message = sent.get(record.get("to")) if record.get("status") == "sent" else None
        news = {"delivery": delivery(message) if message else None}
        for column in ("delivered_at", "read_at", "played_at", "failed_at"):
            news[column] = _iso(getattr(message, column)) if message else None
        merged.append({**record, **news})
    return merged


def run_result(run):
    """A run's result as the API shows it: recipients carry their receipts."""
    if not run.result or not run.result.get("recipients"):
        return run.result
    return {**run.result, "recipients": recipients_of(run)}


def tally(recipients):
    """{"total", "sent", "delivered", "read", "played", "error"} over recipients_of()."""
    counts = {"total": len(recipients), "sent": 0, "delivered": 0, "read": 0, "played": 0, "error": 0}
    rank = {state: n for n, state in enumerate(DELIVERY_STATES)}
    for record in recipients:
        if record.get("status") != "sent":
            continue
        counts["sent"] += 1
        state = record.get("delivery") or "sent"  # no receipt row: a run from before receipts
        if state == "error":
            counts["error"] += 1
            continue
        for reached in ("delivered", "read", "played"):
            if rank[state] >= rank[reached]:
                counts[reached] += 1
    return counts


def last_message_run(chrono):
    """The chrono's newest run that has sent (or tried to send) something."""
    return db.session.scalar(
        select(ChronoRun)
        .where(ChronoRun.chrono_id == chrono.id,
               ChronoRun.status.in_((RunStatus.RUNNING, RunStatus.RETRYING, RunStatus.SUCCESS, RunStatus.FAILED)))
        .order_by(ChronoRun.scheduled_for.desc(), ChronoRun.id.desc())
        .limit(1)
    )
