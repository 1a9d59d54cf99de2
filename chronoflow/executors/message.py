"""The MESSAGE executor: one WhatsApp text per recipient, through WAHA, paced.

Each recipient's outcome is written to the run's `result["recipients"]` as soon
as it is known (not only at the end), so a retry, or a worker that takes over
after a crash, never sends again to someone who already got the message.
Every message waits for its session's slot (waha/pacing.py): a random delay
(MESSAGE_DELAY_MIN/MAX_SECONDS) after the previous message of that session,
whichever chrono sent it, and never more than MESSAGE_DAILY_CAP in 24 hours:
WAHA sends at once whatever it is given, and WhatsApp bans numbers that send at
machine-regular intervals (shared/waha-api.md §9). Each message sent is also
recorded as a SentMessage, where WhatsApp's receipts (delivered, read) land.

A run may wait long for its session's turn when other runs share the number.
Meanwhile it renews its lease (the run's attempt_started_at) every LEASE_S, so
the recovery sweep never takes a waiting run for one whose worker died.
"""
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from ..extensions import db
from ..models import ChronoRun, RunStatus, utcnow
from ..waha import pacing, receipts, state, template
from ..waha.client import SessionNotReady, WahaClient, WahaError
from ..waha.phones import RecipientError, digits_only, parse_recipient
from .outcome import Outcome

SENT, FAILED, NOT_SENT = "sent", "failed", "not_sent"
# What the run record keeps as `error`: English, for logs and the API's technical detail;
# pages and the API's messages word the code and its parameters (chronoflow/outcomes.py).
NOT_ON_WHATSAPP = "This number is not on WhatsApp."
# How long a run waits without showing it is alive; well under the sweep's
# RECOVERY_AFTER_SECONDS (10 s at least).
LEASE_S = 5.0


@dataclass(frozen=True)
class MessageJob:
    """Plain values, taken before the call: no transaction stays open while we wait."""

    chrono_name: str
    timezone: str
    scheduled_for: datetime
    session: str | None  # None: the chrono's channel is gone or disabled
    template: str
    entries: tuple
    region: str
    delay_s: tuple  # (min, max)
    waha: dict  # base_url, api_key, timeout_s
    run_id: int | None = None
    daily_cap: int = 0  # per session, in any 24 hours; 0: none


def prepare(chrono, config, run=None):
    job = job_for(chrono, config, run)
    return lambda: send(job, WahaClient(**job.waha), RunProgress(job.run_id, job.session))


def job_for(chrono, config, run=None):
    channel = chrono.channel
    return MessageJob(
        chrono_name=chrono.name,
        timezone=chrono.timezone,
        scheduled_for=run.scheduled_for if run is not None else utcnow(),
        session=channel.session if channel is not None and channel.is_active else None,
        template=chrono.message_template or "",
        entries=tuple(chrono.recipients or ()),
        region=config["DEFAULT_PHONE_REGION"],
        delay_s=(config["MESSAGE_DELAY_MIN_SECONDS"], config["MESSAGE_DELAY_MAX_SECONDS"]),
        waha={"base_url": config["WAHA_BASE_URL"], "api_key": config.get("WAHA_API_KEY"),
              "timeout_s": config["WAHA_TIMEOUT_MS"] / 1000},
        run_id=run.id if run is not None else None,
        daily_cap=config.get("MESSAGE_DAILY_CAP") or 0,
    )


def expected_duration_s(chrono, config):
    """How long a run of this chrono may take at most, pacing included (for whoever
    decides that a running run's worker died)."""
    per_message = config["MESSAGE_DELAY_MAX_SECONDS"] + 3 * config["WAHA_TIMEOUT_MS"] / 1000
    return len(chrono.recipients or ()) * per_message


class RunProgress:
    """Per-recipient outcomes kept on the run row, written after every recipient.

    A write only lands while this attempt still owns the run (same attempt
    number, still running): if another worker took the run over, we stop.
    Each message sent becomes a SentMessage of `session` in the same commit,
    whoever owns the run: it was sent, it counts against the daily cap.
    """

    def __init__(self, run_id, session=None):
        self.run_id = run_id
        self.session = session
        self.attempt = None
        self.recorded = set()  # entries whose SentMessage exists

    def load(self):
        """{entry: record} from earlier attempts."""
        if self.run_id is None:
            return {}
        row = db.session.execute(
            select(ChronoRun.attempt, ChronoRun.result).where(ChronoRun.id == self.run_id)
        ).one_or_none()
        db.session.commit()
        if row is None:
            return {}
        self.attempt = row.attempt
        earlier = {item.get("to"): item for item in (row.result or {}).get("recipients", []) if isinstance(item, dict)}
        self.recorded = {entry for entry, item in earlier.items() if item.get("status") == SENT}
        return earlier

    def save(self, records):
        if self.run_id is None:
            return True
        new = [r for r in records if r["status"] == SENT and r["to"] not in self.recorded]
        if self.session is not None and new:
            state.row(self.session, lock=True)  # receipts.py: acks of these messages wait for this commit
            for record in new:
                receipts.record_sent(self.run_id, self.session, record, datetime.fromisoformat(record["at"]))
                self.recorded.add(record["to"])
        current = db.session.scalar(select(ChronoRun.result).where(ChronoRun.id == self.run_id))
        changed = db.session.execute(
            update(ChronoRun)
            .where(ChronoRun.id == self.run_id, ChronoRun.attempt == self.attempt,
                   ChronoRun.status == RunStatus.RUNNING)
            .values(result={**(current or {}), "recipients": records}, attempt_started_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        return changed == 1

    def wait(self, seconds, sleep):
        """Sleep `seconds`, renewing the lease every LEASE_S; False when another worker took the run over."""
        while seconds > 0:
            if not self.renew():
                return False
            chunk = min(seconds, LEASE_S)
            sleep(chunk)
            seconds -= chunk
        return True

    def renew(self):
        if self.run_id is None:
            return True
        changed = db.session.execute(
            update(ChronoRun)
            .where(ChronoRun.id == self.run_id, ChronoRun.attempt == self.attempt,
                   ChronoRun.status == RunStatus.RUNNING)
            .values(attempt_started_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        return changed == 1


def pace(job):
    """The moment this job's next message may go (its session's slot)."""
    return pacing.reserve(job.session, job.delay_s, job.daily_cap)


def send(job, client, progress, sleep=time.sleep):
    started = time.monotonic()
    previous = progress.load()
    records = [_carry_over(entry, previous.get(entry)) for entry in job.entries]

    def finish(outcome_error=None, code=None, retryable=False, params=None):
        return _outcome(records, started, outcome_error, code, retryable, params)

    def failed(exc):
        return finish(exc.english(), exc.code, exc.retryable, exc.params)

    if job.session is None:
        return finish("The chrono's WhatsApp channel was deleted or disabled: choose another channel.",
                      "channel", retryable=False)
    try:
        session = client.get_session(job.session)
        if not session.working:
            raise SessionNotReady(job.session, session.status)
    except WahaError as exc:
        return failed(exc)

    attempt = progress.attempt
    sent_now = 0
    for index, entry in enumerate(job.entries):
        record = records[index]
        if record["status"] == SENT:
            continue  # an earlier attempt delivered it
        try:
            recipient = parse_recipient(entry, job.region)
            text = _render(job, recipient, job.scheduled_for)
        except (RecipientError, template.MessageTemplateError) as exc:
            records[index] = _record(entry, FAILED, attempt, error=exc.args[0], code=exc.code, params=exc.params)
            if not progress.save(records):
                return finish("Another worker took over this run.", "superseded")
            continue
        try:
            slot = pace(job)
        except pacing.DailyCapReached as exc:
            for later in range(index, len(records)):
                if records[later]["status"] != SENT:
                    records[later] = _record(job.entries[later], FAILED, attempt, error=str(exc), code=exc.code,
                                             params=exc.params)
            progress.save(records)
            return finish(str(exc), exc.code, params=exc.params)
        wait = max((slot.at - utcnow()).total_seconds(), 0)
        if wait or sent_now:
            # the session's turn: see the module's docstring
            if not progress.wait(wait, sleep) or not progress.save(records):  # still ours after the pause? else the new owner sends
                return finish("Another worker took over this run.", "superseded")
        try:
            chat_id, message_id = client.send_to(job.session, recipient, text)
            if chat_id is None:
                records[index] = _record(entry, FAILED, attempt, label=recipient.label,
                                         error=NOT_ON_WHATSAPP, code="not_on_whatsapp")
            else:
                records[index] = _record(entry, SENT, attempt, label=recipient.label, chat_id=chat_id,
                                         message_id=message_id)
                pacing.sent(job.session, slot)
                sent_now += 1
        except WahaError as exc:
            records[index] = _record(entry, FAILED, attempt, label=recipient.label, error=exc.english(),
                                     code=exc.code, params=exc.params, retryable=exc.retryable)
            if exc.code in ("session_not_ready", "unreachable", "unauthorized", "session"):
                # The session itself is down: the others would fail the same way.
                progress.save(records)
                return failed(exc)
        if not progress.save(records):
            return finish("Another worker took over this run.", "superseded")
    return finish()


def _render(job, recipient, moment):
    values = template.variables(job.chrono_name, moment, job.timezone, recipient.label,
                                "+" + recipient.phone if recipient.phone else "")
    return template.render(job.template, values)


def _carry_over(entry, earlier):
    if earlier and earlier.get("status") == SENT:
        return earlier
    if not earlier:
        return _record(entry, NOT_SENT, None)
    return _record(entry, NOT_SENT, earlier.get("attempt"), error=earlier.get("error"),
                   code=earlier.get("error_code"), params=earlier.get("error_params"))


def _record(entry, status, attempt, label=None, chat_id=None, message_id=None, error=None, code=None,
            retryable=False, params=None):
    return {"to": entry, "label": label or entry, "status": status, "chat_id": chat_id, "message_id": message_id,
            "error": error, "error_code": code, "error_params": params or {}, "retryable": retryable,
            "attempt": attempt, "at": utcnow().isoformat()}


def _outcome(records, started, error=None, code=None, retryable=False, params=None):
    duration = _elapsed_ms(started)
    total = len(records)
    sent = [r for r in records if r["status"] == SENT]
    result = {"recipients": records}
    summary = f"Sent to {len(sent)} of {total} recipients."
    if error is None and len(sent) == total:
        return Outcome(ok=True, duration_ms=duration, snippet=summary, result=result)
    params = {**(params or {}), "total": total, "sent": len(sent)}
    if error is None:
        problems = [f"{r['label']}: {r['error'] or 'not sent'}" for r in records if r["status"] != SENT]
        retryable = any(r["retryable"] for r in records if r["status"] == FAILED)
        code = "partial" if sent else "not_sent"
        error = (f"Sent to {len(sent)} of {total} recipients; not sent to " if sent
                 else f"Not sent to any of the {total} recipients: ") + "; ".join(problems)
    elif sent:
        error = f"{error} (sent to {len(sent)} of {total} recipients before that)"
    return Outcome(ok=False, duration_ms=duration, snippet=summary, error=error[:2000], error_code=code,
                   params=params, retryable=retryable, result=result)


def send_test(chrono, config, to=None):
    """The form's Test: the chrono's message rendered for one recipient, `to` as a
    person typed it (None: the linked phone itself), sent once through the chrono's
    channel. Nothing is saved, and the chrono's recipients get nothing.

    Raises RecipientError when `to` is not a phone number or group id.
    """
    started = time.monotonic()
    job = job_for(chrono, config)
    if job.session is None:
        return Outcome.failure("channel", "Choose an active WhatsApp channel.", retryable=False)
    client = WahaClient(**job.waha)
    try:
        session = client.get_session(job.session)
        if not session.working:
            raise SessionNotReady(job.session, session.status)
        recipient = parse_recipient(to or "+" + digits_only(session.me_id), job.region)
        text = _render(job, recipient, utcnow())
        chat_id, _message_id = client.send_to(job.session, recipient, text)
    except (WahaError, template.MessageTemplateError) as exc:
        return Outcome.failure(exc.code, exc.args[0], _elapsed_ms(started), retryable=False, params=exc.params)
    if chat_id is None:
        return Outcome.failure("not_on_whatsapp", NOT_ON_WHATSAPP, _elapsed_ms(started), retryable=False,
                               result={"to": recipient.label})
    return Outcome(ok=True, duration_ms=_elapsed_ms(started), snippet=text,
                   result={"to": recipient.label, "chat_id": chat_id})


def _elapsed_ms(started):
    return int((time.monotonic() - started) * 1000)
