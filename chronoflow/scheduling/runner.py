"""Executes one run: check, claim, call the target, record, decide on a retry.

Called by the Huey task with a run id. The run row decides what happens, not
the task: a task for a run that is gone, finished, taken by another worker, or
whose chrono was paused does nothing (or records the cancellation).
"""
import random
import time
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import joinedload

from .. import executors, observe
from ..extensions import db
from ..models import ChronoRun, RunStatus, Trigger, utcnow
from ..schedules import next_fire_time
from . import streaks

# Tasks are dispatched this much before their time and wait for the exact
# moment here: Huey's schedule pops ETAs up to a second late.
EARLY = timedelta(seconds=1)
# How long the outcome of a call is held while the database cannot take it.
RECORD_PATIENCE_S = 60


def execute_run(run_id, sleep=time.sleep):
    """Returns the delay in seconds before the next attempt, or None when done."""
    run = _load(run_id)  # the run and its chrono, in one query
    if run is None or run.status not in (RunStatus.PENDING, RunStatus.RETRYING):
        db.session.rollback()
        return None
    chrono = run.chrono
    if run.trigger == Trigger.SCHEDULE and not chrono.is_active:
        _finish_without_running(run, "The chrono was paused before this run started.")
        return None

    if run.trigger == Trigger.SCHEDULE and run.attempt == 0 and overlaps(run):
        _skip_overlapping(run)
        return None

    wait = (run.scheduled_for - utcnow()).total_seconds()
    if run.attempt == 0 and wait > EARLY.total_seconds():
        db.session.rollback()
        return wait  # delivered too early (a re-dispatch): come back on time
    slept = run.attempt == 0 and wait > 0
    if slept:
        db.session.rollback()  # no transaction (SQLite: no write lock) held while waiting
        sleep(wait)

    started = utcnow()
    # The claim says which attempt this is: the row, not a copy that may be stale.
    attempt_number = db.session.execute(
        update(ChronoRun)
        .where(ChronoRun.id == run_id, ChronoRun.status.in_((RunStatus.PENDING, RunStatus.RETRYING)))
        .values(
            status=RunStatus.RUNNING,
            attempt=ChronoRun.attempt + 1,
            started_at=func.coalesce(ChronoRun.started_at, started),
        )
        .returning(ChronoRun.attempt)
        .execution_options(synchronize_session=False)
    ).scalar()
    if attempt_number is None:  # another worker has it, or it finished meanwhile
        db.session.rollback()
        return None
    if slept:  # the rollback expired both: read them again as they are now, in one query
        run = _load(run_id)
        chrono = run.chrono
    config = current_app.config
    attempt = executors.prepare(chrono, config, run)
    max_attempts = (chrono.config or {}).get("max_attempts", config["DEFAULT_MAX_ATTEMPTS"])
    db.session.commit()  # the call below runs with no transaction open

    outcome = attempt()
    return record_patiently(run_id, attempt_number, started, outcome, max_attempts, sleep)


def record_patiently(run_id, attempt_number, started, outcome, max_attempts, sleep=time.sleep):
    """record_outcome, tried again while the database is unreachable."""
    return patiently(lambda: record_outcome(run_id, attempt_number, started, outcome, max_attempts), sleep)


def patiently(record, sleep=time.sleep):
    """record(), tried again while the database is unreachable (up to RECORD_PATIENCE_S).

    The target has been called: an outcome lost to a database restart would
    leave the run "running", and the recovery sweep would call the target again.
    """
    delay, waited = 0.5, 0.0
    while True:
        try:
            return record()
        except (OperationalError, InterfaceError):
            try:
                db.session.rollback()
            except (OperationalError, InterfaceError):
                pass  # the connection is gone; the pool opens a new one
            if waited >= RECORD_PATIENCE_S:
                raise
            sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


def _load(run_id, lock=False):
    """The run with its chrono, in one SELECT; `lock`: both rows FOR UPDATE.

    The locks are taken in the order every writer takes them, run then chrono
    (the outcome's UPDATE of the chrono used to take the second one at commit).
    """
    query = (
        select(ChronoRun)
        .options(joinedload(ChronoRun.chrono, innerjoin=True))
        .where(ChronoRun.id == run_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return db.session.scalars(query).one_or_none()


def record_outcome(run_id, attempt_number, started, outcome, max_attempts):
    run = _load(run_id, lock=True)
    if run is None:  # the chrono was deleted while its target was being called
        db.session.rollback()
        return None
    if run.status != RunStatus.RUNNING or run.attempt != attempt_number:
        # The recovery sweep gave this run up for dead and another attempt took
        # it: that attempt's outcome is the one to keep.
        db.session.rollback()
        return None
    retry_delay, alert = apply_outcome(run, attempt_number, started, outcome, max_attempts, utcnow())
    observe.run_recorded(run, attempt_number, started, outcome)
    db.session.commit()
    streaks.send_alert(alert)
    return retry_delay


def apply_outcome(run, attempt_number, started, outcome, max_attempts, now):
    """Write one attempt's outcome on `run` and its chrono, both read FOR UPDATE.

    Returns (seconds before the next attempt or None, the alert to send after the commit).
    """
    retry_delay = None
    if outcome.ok:
        run.status = RunStatus.SUCCESS
    elif outcome.retryable and attempt_number < max_attempts and may_retry(run):
        retry_delay = backoff_seconds(run.chrono, attempt_number, outcome.retry_after_s)
        run.status = RunStatus.RETRYING
        run.next_attempt_at = now + timedelta(seconds=retry_delay)
    else:
        run.status = RunStatus.FAILED

    run.http_status = outcome.http_status
    run.response_snippet = outcome.snippet
    run.error_message = outcome.error
    run.duration_ms = outcome.duration_ms
    run.finished_at = None if retry_delay is not None else now
    result = dict(run.result or {})
    result.update(outcome.result)
    result["attempts"] = [
        *result.get("attempts", []),
        {
            "attempt": attempt_number,
            "started_at": started.isoformat(),
            "duration_ms": outcome.duration_ms,
            "http_status": outcome.http_status,
            "error_code": outcome.error_code,
            "error": outcome.error,
        },
    ]
    run.result = result
    run.chrono.last_run_at = run.started_at
    run.chrono.last_run_status = run.status
    alert = streaks.record_final(run, now, chrono_locked=True) if retry_delay is None else None
    return retry_delay, alert


def may_retry(run):
    """A paused chrono's scheduled runs stop retrying; a manual run finishes what it began."""
    return run.trigger == Trigger.MANUAL or run.chrono.is_active


def backoff_seconds(chrono, attempt_number, retry_after_s=None):
    """Exponential backoff with jitter, capped; a target's Retry-After wins if longer."""
    config = current_app.config
    settings = chrono.config or {}
    base = settings.get("retry_backoff_s", config["RETRY_BACKOFF_SECONDS"])
    cap = settings.get("max_backoff_s", config["RETRY_MAX_BACKOFF_SECONDS"])
    delay = min(cap, base * 2 ** (attempt_number - 1))
    delay = random.uniform(delay / 2, delay)  # jitter: retries of many chronos spread out
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap))
    return delay


def overlap_policy(chrono, config=None):
    """"allow" or "skip"; unset: skip when occurrences come faster than the timeout,
    since then one slow target would otherwise pile up calls."""
    chosen = (chrono.config or {}).get("overlap_policy")
    if chosen:
        return chosen
    config = config or current_app.config
    timeout = executors.longest_attempt(chrono, config)
    return "skip" if _interval(chrono.cron, chrono.timezone, utcnow()) < timeout else "allow"


# (cron, timezone) -> (computed at, next fire time, the interval after it). The
# next fire time after `now` stays the same from `computed at` until it comes, so
# the entry answers exactly as a fresh computation would until then.
_intervals = {}


def _interval(cron, tz, now):
    """Time between the next two occurrences after `now`."""
    key = (cron, tz)
    cached = _intervals.get(key)
    if cached is not None and cached[0] <= now < cached[1]:
        return cached[2]
    first = next_fire_time(cron, tz, now)
    interval = next_fire_time(cron, tz, first) - first
    if len(_intervals) >= 4096:
        _intervals.clear()
    _intervals[key] = (now, first, interval)
    return interval


def overlaps(run):
    """True when the chrono's policy says skip and another of its runs is mid-call."""
    if overlap_policy(run.chrono) != "skip":
        return False
    config = current_app.config
    timeout = executors.longest_attempt(run.chrono, config)
    # A run "running" for longer than its timeout lost its worker: the recovery
    # sweep deals with it, and it must not block the chrono meanwhile.
    alive_since = utcnow() - timeout - timedelta(seconds=5)
    other = db.session.scalar(
        select(ChronoRun.id)
        .where(ChronoRun.chrono_id == run.chrono_id, ChronoRun.id != run.id,
               ChronoRun.status == RunStatus.RUNNING, ChronoRun.started_at > alive_since)
        .limit(1)
    )
    return other is not None


def _skip_overlapping(run):
    # Conditional, like the claim: a run another worker took meanwhile is not touched.
    db.session.execute(
        update(ChronoRun)
        .where(ChronoRun.id == run.id, ChronoRun.status == RunStatus.PENDING)
        .values(
            status=RunStatus.SKIPPED,
            finished_at=utcnow(),
            error_message=_("Skipped: the previous run was still running (overlap policy: skip)."),
            result={**(run.result or {}), "error_code": "overlap"},
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _finish_without_running(run, reason):
    run.status = RunStatus.CANCELLED
    run.error_message = reason
    run.finished_at = utcnow()
    run.result = {**(run.result or {}), "error_code": "cancelled"}
    db.session.commit()
