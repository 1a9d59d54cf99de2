"""The database is the record: chronos, their runs, and WhatsApp channels."""
import secrets
from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Integer, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import DateTime, TypeDecorator

from .extensions import db

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# SQLite reuses the highest id after a delete unless the table says AUTOINCREMENT:
# an API client holding a deleted chrono's id would then change someone else's.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def new_signing_secret():
    return "whsec_" + secrets.token_urlsafe(32)


def utcnow():
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on PostgreSQL and on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class TargetType:
    HTTP = "HTTP"
    MESSAGE = "MESSAGE"
    ALL = (HTTP, MESSAGE)


class RunStatus:
    PENDING = "pending"  # row written, task dispatched, not started
    RUNNING = "running"
    RETRYING = "retrying"  # an attempt failed; another is scheduled
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"  # chrono paused or deleted before the run started
    SKIPPED = "skipped"  # not run, by policy

    OPEN = (PENDING, RUNNING, RETRYING)
    FINAL = (SUCCESS, FAILED, CANCELLED, SKIPPED)
    ALL = OPEN + FINAL


class Trigger:
    SCHEDULE = "schedule"
    MANUAL = "manual"


class ChronoState:
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"  # nothing more to run: its one time came, or its end passed
    ALL = (ACTIVE, PAUSED, FINISHED)


class PausedReason:
    FAILURES = "failures"  # AUTO_PAUSE_AFTER_FAILURES failed runs in a row


class Chrono(db.Model):
    __tablename__ = "chronos"

    id = db.Column(Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    schedule = db.Column(db.String(200), nullable=False)  # as the person typed it
    cron = db.Column(db.String(120), nullable=False)  # normalized
    timezone = db.Column(db.String(64), nullable=False)
    target_type = db.Column(db.String(16), nullable=False, default=TargetType.HTTP)
    method = db.Column(db.String(10), nullable=False, default="GET")
    url = db.Column(db.Text)
    headers = db.Column(JSONType, nullable=False, default=dict)
    payload = db.Column(JSONType)  # a JSON value, or a string sent as the body as is
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    config = db.Column(JSONType, nullable=False, default=dict)  # timeout_ms, max_attempts...
    channel_id = db.Column(db.Integer, db.ForeignKey("channels.id", ondelete="RESTRICT"))
    message_template = db.Column(db.Text)
    recipients = db.Column(JSONType, nullable=False, default=list)
    last_run_at = db.Column(UTCDateTime)
    last_run_status = db.Column(db.String(16))
    # The dispatcher's cursor: the first occurrence not dispatched yet. Runs are
    # dispatched up to a tick ahead, so the next time it fires is next_occurrence.
    next_run_at = db.Column(UTCDateTime)
    # A one-time chrono fires at run_at only (cron then holds its wall time, for show).
    run_at = db.Column(UTCDateTime)
    # A recurring chrono's bounds: no run before starts_at, none after ends_at.
    starts_at = db.Column(UTCDateTime)
    ends_at = db.Column(UTCDateTime)
    # Spread window (seconds): every run is late by a fixed offset within it
    # (schedules.spread_offset), so chronos on one cron do not all fire at once.
    spread_s = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    # Failed runs in a row (a success resets it): drives auto-pause and alerts.
    consecutive_failures = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    # Why it is paused when ChronoFlow paused it (PausedReason); null when a person did.
    paused_reason = db.Column(db.String(32))
    # Signs every request (README "Signed webhooks"); write-only on screen.
    signing_secret = db.Column(db.String(80), nullable=False, default=lambda: new_signing_secret())
    # The origin ("https://host:443") the credential headers were saved for: they are
    # never sent elsewhere (chronos/credentials.py).
    secrets_origin = db.Column(db.String(300))
    # Success rules (executors/success.py); null: 2xx/3xx, and the body is never read.
    success = db.Column(JSONType)
    # Whether URL, headers or payload hold a template (decided at save): only those render per run.
    templated = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    channel = db.relationship("Channel")

    __table_args__ = (
        # The scheduler's only query: active chronos due before a horizon.
        db.Index(
            "ix_chronos_due",
            "next_run_at",
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active = 1"),
        ),
        # The list's search by name (a substring): trigrams on PostgreSQL (pg_trgm),
        # a plain index elsewhere (SQLite scans: its lists are small).
        db.Index("ix_chronos_name_search", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        NEVER_REUSE_IDS,
    )

    @property
    def next_occurrence(self):
        """When it fires next (None while paused, and once finished)."""
        if not self.is_active:
            return None
        from .schedules import next_run_time, timing_of

        coming = next_run_time(self.cron, self.timezone, utcnow(), **timing_of(self))
        if self.next_run_at is None or coming is None:
            return coming  # (dispatched ahead: its run is written, not yet due)
        return min(self.next_run_at, coming)

    @property
    def state(self):
        """"active", "paused", or "finished": a one-time chrono that ran, or one past its
        end (kept with its history; editing its date or end arms it again)."""
        if not self.is_active:
            return ChronoState.PAUSED
        if self.next_run_at is None and self.next_occurrence is None:
            return ChronoState.FINISHED
        return ChronoState.ACTIVE

    @property
    def spread_offset_s(self):
        from .schedules import spread_offset

        return spread_offset(self.id, self.spread_s)

    def __repr__(self):
        return f"<Chrono {self.id} {self.name!r} {self.cron!r}>"


class ChronoRun(db.Model):
    __tablename__ = "chrono_runs"

    id = db.Column(BigId, primary_key=True)
    chrono_id = db.Column(
        db.Integer, db.ForeignKey("chronos.id", ondelete="CASCADE"), nullable=False
    )
    scheduled_for = db.Column(UTCDateTime, nullable=False)
    trigger = db.Column(db.String(16), nullable=False, default=Trigger.SCHEDULE)
    status = db.Column(db.String(16), nullable=False, default=RunStatus.PENDING)
    attempt = db.Column(db.Integer, nullable=False, default=0)
    started_at = db.Column(UTCDateTime)  # the first attempt's start: lateness is measured on it
    # The current attempt's start, or when it last said it was alive (a message run
    # renews it while it waits for its turn): whether a "running" attempt may still be alive.
    attempt_started_at = db.Column(UTCDateTime)
    finished_at = db.Column(UTCDateTime)
    next_attempt_at = db.Column(UTCDateTime)
    http_status = db.Column(db.Integer)
    response_snippet = db.Column(db.Text)
    error_message = db.Column(db.Text)
    result = db.Column(JSONType)
    duration_ms = db.Column(db.Integer)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    chrono = db.relationship("Chrono")
    # A WhatsApp run's messages and their receipts (SentMessage); rows go with the run.
    sent_messages = db.relationship("SentMessage", viewonly=True, order_by="SentMessage.id")

    __table_args__ = (
        # One row per scheduled occurrence: a double dispatch fails here.
        db.Index(
            "uq_chrono_runs_occurrence",
            "chrono_id",
            "scheduled_for",
            unique=True,
            postgresql_where=text("trigger = 'schedule'"),
            sqlite_where=text("trigger = 'schedule'"),
        ),
        # History pages: a chrono's runs, newest first (id breaks ties, so a page of
        # ids is read from the index alone, in order).
        db.Index("ix_chrono_runs_history", "chrono_id", "scheduled_for", "id"),
        # Recovery sweep: the few runs that are not final yet.
        db.Index(
            "ix_chrono_runs_open",
            "scheduled_for",
            postgresql_where=text("status IN ('pending', 'running', 'retrying')"),
            sqlite_where=text("status IN ('pending', 'running', 'retrying')"),
        ),
        NEVER_REUSE_IDS,
    )

    @property
    def lateness_ms(self):
        if self.started_at is None:
            return None
        return int((self.started_at - self.scheduled_for).total_seconds() * 1000)

    def __repr__(self):
        return f"<ChronoRun {self.id} chrono={self.chrono_id} {self.status}>"


class Channel(db.Model):
    __tablename__ = "channels"
    __table_args__ = (NEVER_REUSE_IDS,)

    id = db.Column(Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False, unique=True)
    type = db.Column(db.String(16), nullable=False, default="WHATSAPP")
    session = db.Column(db.String(100), nullable=False, default="default")  # WAHA session
    config = db.Column(JSONType, nullable=False, default=dict)
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    def __repr__(self):
        return f"<Channel {self.id} {self.name!r}>"


class Heartbeat(db.Model):
    """The last time a scheduler tick or a worker process was alive: /api/health reads it."""

    __tablename__ = "heartbeats"

    name = db.Column(db.String(200), primary_key=True)  # "scheduler", or "worker:<host>:<pid>"
    kind = db.Column(db.String(16), nullable=False)  # scheduler | worker
    beat_at = db.Column(UTCDateTime, nullable=False)

    __table_args__ = (db.Index("ix_heartbeats_kind", "kind", "beat_at"),)


class User(db.Model):
    """Someone who may sign in. Every user sees and manages every chrono: ChronoFlow
    is one team's scheduler, not a multi-tenant service."""

    __tablename__ = "users"
    __table_args__ = (NEVER_REUSE_IDS,)

    id = db.Column(Integer, primary_key=True)
    username = db.Column(db.String(80), nullable=False, unique=True)  # stored lower-case
    password_hash = db.Column(db.String(255), nullable=False)
    is_active = db.Column(db.Boolean, nullable=False, default=True)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)  # may add and disable users
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(UTCDateTime)

    tokens = db.relationship("ApiToken", back_populates="user", cascade="all, delete-orphan",
                             order_by="ApiToken.id.desc()")

    # Flask-Login's user interface
    is_authenticated = True
    is_anonymous = False
    # "<user id>:<session key>" of the browser session this user was loaded for
    # (accounts.service.start_session / user_for_session); what Flask-Login stores.
    login_id = None

    def get_id(self):
        return self.login_id

    def __repr__(self):
        return f"<User {self.id} {self.username!r}>"


class ApiToken(db.Model):
    """A personal token for the JSON API. Only its SHA-256 is kept: the token itself
    is shown once, when it is created."""

    __tablename__ = "api_tokens"
    __table_args__ = (NEVER_REUSE_IDS,)

    id = db.Column(Integer, primary_key=True)
    user_id = db.Column(Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name = db.Column(db.String(100), nullable=False)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    prefix = db.Column(db.String(16), nullable=False)  # the first characters, to tell tokens apart
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(UTCDateTime)
    revoked_at = db.Column(UTCDateTime)

    user = db.relationship("User", back_populates="tokens")

    def __repr__(self):
        return f"<ApiToken {self.id} {self.prefix}… user={self.user_id}>"


class LoginSession(db.Model):
    """One signed-in browser. The cookie holds its key; only the key's SHA-256 is
    kept here, and deleting the row (sign out) ends the session on the server, so
    a copied cookie stops working too."""

    __tablename__ = "login_sessions"

    id = db.Column(Integer, primary_key=True)
    user_id = db.Column(Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    # What the next page shows this browser once (a new signing secret): a flash
    # message kept here, because Flask's session cookie is signed, not encrypted.
    shown_once = db.Column(JSONType)

    user = db.relationship("User")

    def __repr__(self):
        return f"<LoginSession {self.id} user={self.user_id}>"


class SentMessage(db.Model):
    """One WhatsApp message a run sent, and what WhatsApp said of it since (WAHA's
    message.ack events): delivered, read, played or an error, each with its time.

    Written by the MESSAGE executor with the recipient's outcome; the run's
    `result["recipients"]` is the executor's record, this row is WhatsApp's, so a
    receipt arriving mid-run never races the executor's writes.
    """

    __tablename__ = "sent_messages"

    id = db.Column(BigId, primary_key=True)
    run_id = db.Column(BigId, db.ForeignKey("chrono_runs.id", ondelete="CASCADE"), nullable=False, index=True)
    session = db.Column(db.String(100), nullable=False)  # the WAHA session that sent it
    recipient = db.Column(db.String(200), nullable=False)  # the entry as typed: result.recipients[].to
    chat_id = db.Column(db.String(200))
    message_id = db.Column(db.String(300))  # as WAHA answered (engine-specific)
    # The bare WhatsApp id ("3EB0…") acks are matched by, whatever the engine's wrapping.
    message_key = db.Column(db.String(200), unique=True)
    sent_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    ack = db.Column(db.Integer)  # the highest level heard: 1 server, 2 device, 3 read, 4 played; -1 error
    delivered_at = db.Column(UTCDateTime)
    read_at = db.Column(UTCDateTime)
    played_at = db.Column(UTCDateTime)
    failed_at = db.Column(UTCDateTime)

    __table_args__ = (
        # The daily cap: messages a session sent in the last 24 hours.
        db.Index("ix_sent_messages_session_sent_at", "session", "sent_at"),
    )

    def __repr__(self):
        return f"<SentMessage {self.id} run={self.run_id} {self.message_key}>"


class WahaSession(db.Model):
    """A WhatsApp session as ChronoFlow last heard of it: from WAHA's session.status
    events, or from its own calls to WAHA. The sessions and QR pages follow this row
    (not WAHA); it also holds the alert state and the session's pacing."""

    __tablename__ = "waha_sessions"

    name = db.Column(db.String(100), primary_key=True)
    status = db.Column(db.String(40))
    me_id = db.Column(db.String(100))  # "5511987654321@c.us" while WORKING
    push_name = db.Column(db.String(200))
    status_at = db.Column(UTCDateTime)  # WAHA's time of the last event applied: older ones are stale
    changed_at = db.Column(UTCDateTime)  # every event, QR rotations included: the QR page fetches a new code
    event_at = db.Column(UTCDateTime)  # the last event received; None: never, pages ask WAHA instead
    linked = db.Column(db.Boolean, nullable=False, default=False)  # last settled state was WORKING
    alert_open = db.Column(db.Boolean, nullable=False, default=False)  # "disconnected" sent, no recovery yet
    quiet_until = db.Column(UTCDateTime)  # a person stopped or logged it out here: that drop is no alert
    next_send_at = db.Column(UTCDateTime)  # pacing: the earliest moment its next message may go

    def __repr__(self):
        return f"<WahaSession {self.name!r} {self.status}>"


class WahaEvent(db.Model):
    """Webhook deliveries already applied, by X-Webhook-Request-Id (or the event's
    id): WAHA retries, and a replay must change nothing a second time."""

    __tablename__ = "waha_events"

    request_id = db.Column(db.String(200), primary_key=True)
    received_at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class UnmatchedAck(db.Model):
    """An ack for a message id no SentMessage has (yet). WhatsApp's first acks can
    arrive while the executor is still writing the message's row; they wait here
    and are folded in when it appears. The rest (messages sent from the phone by
    hand, pruned runs) age out with the webhook ids."""

    __tablename__ = "unmatched_acks"

    message_key = db.Column(db.String(200), primary_key=True)
    ack = db.Column(db.Integer, primary_key=True)
    at = db.Column(UTCDateTime, nullable=False)
    received_at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
