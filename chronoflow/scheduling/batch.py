"""Runs due at the same moment, executed together.

When thousands of chronos come due in one second, a task, a claim and a record
per run cost the worker far more than the HTTP calls themselves. So the
dispatcher hands each moment's webhook runs to tasks of up to RUN_BATCH_SIZE
runs; a task claims its runs with one UPDATE ... RETURNING, makes the calls side
by side (CONCURRENT_CALLS threads per worker process) and records the outcomes
in one transaction.

The rules are the runner's, applied to many rows at once: a run that is gone,
final or taken by someone else is left alone; a paused chrono's run is
cancelled; the overlap policy is checked; the claim numbers the attempt; an
outcome is kept only while its attempt still owns the run; retries go back as
single-run tasks. A batch lost with its worker leaves its runs "pending" or
"running", which the recovery sweep finishes as it finishes a lost single run.
"""
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import joinedload

from .. import executors
from ..executors.outcome import Outcome
from ..extensions import db
from ..models import ChronoRun, RunStatus, TargetType, Trigger, utcnow
from . import runner, streaks

log = logging.getLogger(__name__)

WAITING = (RunStatus.PENDING, RunStatus.RETRYING)


@dataclass
class BatchResult:
    later: float | None = None  # delivered too early: the whole batch again in this many seconds
    retries: list = field(default_factory=list)  # (run id, seconds) of runs to attempt again
    single: list = field(default_factory=list)  # run ids for the one-run path (not HTTP, not due yet)


@dataclass(frozen=True)
class Claimed:
    run_id: int
    attempt: int
    started: object  # datetime
    call: object  # the prepared attempt: a zero-argument callable returning an Outcome
    max_attempts: int


def execute_batch(due, run_ids, sleep=time.sleep, fire=None):
    """Run the runs of `run_ids`, all due at `due`. `fire`: calls -> outcomes (tests)."""
    result = BatchResult()
    wait = (due - utcnow()).total_seconds()
    if wait > runner.EARLY.total_seconds():
        result.later = wait  # a re-delivery ahead of time: come back on time
        return result
    if wait > 0:
        sleep(wait)  # nothing read yet: no transaction (SQLite: no write lock) held while waiting

    claimed = claim(run_ids, result)
    if claimed:
        outcomes = (fire or fire_calls)([c.call for c in claimed])
        result.retries = runner.patiently(lambda: record(claimed, outcomes), sleep)
    return result


def claim(run_ids, result):
    """Check and claim the runs; returns the Claimed ones, each with its call prepared. Commits."""
    config = current_app.config
    runs = db.session.scalars(
        select(ChronoRun)
        .options(joinedload(ChronoRun.chrono, innerjoin=True))
        .where(ChronoRun.id.in_(run_ids))
        .execution_options(populate_existing=True)
    ).all()
    now = utcnow()
    cancelled, ready = [], []
    for run in runs:
        if run.status not in WAITING:
            continue  # finished, or another worker has it
        if run.chrono.target_type != TargetType.HTTP or run.scheduled_for - now > runner.EARLY:
            result.single.append(run.id)
        elif run.trigger == Trigger.SCHEDULE and not run.chrono.is_active:
            cancelled.append(run)
        else:
            ready.append(run)
    overlapping = _overlapping([r for r in ready if r.trigger == Trigger.SCHEDULE and r.attempt == 0], now, config)
    ready = [run for run in ready if run.id not in overlapping]

    _finish(cancelled, RunStatus.CANCELLED, "The chrono was paused before this run started.", "cancelled", WAITING, now)
    _finish([run for run in runs if run.id in overlapping], RunStatus.SKIPPED,
            _("Skipped: the previous run was still running (overlap policy: skip)."), "overlap",
            (RunStatus.PENDING,), now)
    if not ready:
        db.session.commit()
        return []

    started = utcnow()
    # One conditional UPDATE claims them all and says which attempt each is: a
    # run another worker took meanwhile is simply not returned.
    attempts = dict(
        db.session.execute(
            update(ChronoRun)
            .where(ChronoRun.id.in_([run.id for run in ready]), ChronoRun.status.in_(WAITING))
            .values(status=RunStatus.RUNNING, attempt=ChronoRun.attempt + 1,
                    started_at=func.coalesce(ChronoRun.started_at, started))
            .returning(ChronoRun.id, ChronoRun.attempt)
            .execution_options(synchronize_session=False)
        ).all()
    )
    claimed = [
        Claimed(run.id, attempts[run.id], started, executors.prepare(run.chrono, config, run),
                (run.chrono.config or {}).get("max_attempts", config["DEFAULT_MAX_ATTEMPTS"]))
        for run in ready
        if run.id in attempts
    ]
    db.session.commit()  # the calls run with no transaction open
    return claimed


def _overlapping(runs, now, config):
    """Ids of `runs` whose chrono says skip on overlap and has another run mid-call: one query."""
    alive_since = {}
    for run in runs:
        if runner.overlap_policy(run.chrono, config) == "skip":
            # A run "running" past its timeout lost its worker: recovery's job, no block.
            timeout = executors.longest_attempt(run.chrono, config)
            alive_since[run.chrono_id] = now - timeout - timedelta(seconds=5)
    if not alive_since:
        return set()
    mine = {run.id for run in runs}
    busy = {
        chrono_id
        for run_id, chrono_id, started_at in db.session.execute(
            select(ChronoRun.id, ChronoRun.chrono_id, ChronoRun.started_at).where(
                ChronoRun.chrono_id.in_(list(alive_since)),
                ChronoRun.status == RunStatus.RUNNING,
                ChronoRun.started_at > min(alive_since.values()),
            )
        )
        if run_id not in mine and started_at > alive_since[chrono_id]
    }
    return {run.id for run in runs if run.chrono_id in busy}


def _finish(runs, status, message, error_code, only_if, now):
    """Give `runs` a final status without running them; conditional, like the claim."""
    if not runs:
        return
    table = ChronoRun.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("run_id"), table.c.status.in_(only_if))
        .values(status=status, finished_at=now, error_message=message, result=bindparam("new_result")),
        [{"run_id": run.id, "new_result": {**(run.result or {}), "error_code": error_code}} for run in runs],
    )


_pool = None
_pool_lock = threading.Lock()


def _calls_pool():
    # One pool per worker process, shared by its batches: CONCURRENT_CALLS bounds
    # the calls in flight however many batches run at once.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(current_app.config["CONCURRENT_CALLS"], thread_name_prefix="call")
        return _pool


def fire_calls(calls):
    """Each call's Outcome, the calls made side by side."""
    futures = [_calls_pool().submit(call) for call in calls]
    return [_outcome(future) for future in futures]


def _outcome(future):
    try:
        return future.result()
    except Exception as exc:  # a bug in one call must not cost the other runs their record
        log.exception("a batched call failed unexpectedly")
        return Outcome.failure("internal", f"{type(exc).__name__}: {exc}"[:300])


def record(claimed, outcomes):
    """Record every outcome in one transaction; returns [(run id, seconds)] to retry.

    The runs and their chronos are read FOR UPDATE in one query, in chrono order,
    so two batches sharing chronos take the locks in the same order.
    """
    by_id = {c.run_id: (c, outcome) for c, outcome in zip(claimed, outcomes)}
    runs = db.session.scalars(
        select(ChronoRun)
        .options(joinedload(ChronoRun.chrono, innerjoin=True))
        .where(ChronoRun.id.in_(list(by_id)))
        .order_by(ChronoRun.chrono_id, ChronoRun.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    now = utcnow()
    retries, alerts = [], []
    for run in runs:
        c, outcome = by_id[run.id]
        if run.status != RunStatus.RUNNING or run.attempt != c.attempt:
            continue  # given up for dead by the sweep, and another attempt owns it now
        delay, alert = runner.apply_outcome(run, c.attempt, c.started, outcome, c.max_attempts, now)
        if delay is not None:
            retries.append((run.id, delay))
        if alert:
            alerts.append(alert)
    db.session.commit()
    for alert in alerts:
        streaks.send_alert(alert)
    return retries
