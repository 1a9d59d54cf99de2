"""Runs due at the same moment, executed together.

When thousands of chronos come due in one second, a task, a claim and a record
per run cost the worker far more than the HTTP calls themselves. So the
dispatcher hands each moment's webhook runs to tasks of up to RUN_BATCH_SIZE
runs; a task claims its runs with one UPDATE ... RETURNING, makes the calls side
by side (CONCURRENT_CALLS threads per worker process) and records the outcomes
in one transaction. Then it claims the moment's runs that no one holds yet, so
a burst is shared by the worker processes as their CPU allows, not as Huey
happened to hand out the tasks.

The rules are the runner's, applied to many rows at once: a run that is gone,
final or taken by someone else is left alone; a paused chrono's run is
cancelled; the overlap policy is checked; the claim numbers the attempt; an
outcome is kept only while its attempt still owns the run; retries go back as
single-run tasks. A batch lost with its worker leaves its runs "pending" or
"running", which the recovery sweep finishes as it finishes a lost single run.
"""
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from .. import executors
from ..executors.outcome import Outcome
from ..extensions import db
from ..models import Chrono, ChronoRun, RunStatus, TargetType, Trigger, utcnow
from . import runner, streaks

log = logging.getLogger(__name__)

WAITING = (RunStatus.PENDING, RunStatus.RETRYING)

RUNS = ChronoRun.__table__
CHRONOS = Chrono.__table__
# What the checks, the executor and the record read, as plain values: ORM objects
# for hundreds of rows cost more CPU than the calls they are for.
RUN_COLUMNS = ("id", "chrono_id", "scheduled_for", "trigger", "status", "attempt", "started_at", "next_attempt_at",
               "result")
CHRONO_COLUMNS = ("id", "name", "target_type", "method", "url", "headers", "payload", "is_active", "config", "cron",
                  "timezone", "signing_secret", "secrets_origin", "consecutive_failures", "paused_reason", "next_run_at")
# What a record may change on a chrono (service.pause included).
CHRONO_WRITES = ("last_run_at", "last_run_status", "consecutive_failures", "is_active", "paused_reason", "next_run_at")


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
    """Run the runs of `run_ids`, all due at `due`, then help with the moment's others.

    Huey hands tasks to whichever worker thread asks first, so one worker process
    may get twice the other's share of a burst. Each task therefore claims its
    own runs only when its process has room for more calls, and then claims
    runs of the same moment that no one has claimed yet (FOR UPDATE SKIP
    LOCKED): a busy process's runs go to the one with room. `fire`: calls ->
    outcomes (tests).
    """
    result = BatchResult()
    wait = (due - utcnow()).total_seconds()
    if wait > runner.EARLY.total_seconds():
        result.later = wait  # a re-delivery ahead of time: come back on time
        return result
    if wait > 0:
        sleep(wait)  # nothing read yet: no transaction (SQLite: no write lock) held while waiting

    size = current_app.config["RUN_BATCH_SIZE"]
    own = list(run_ids)
    pool = _calls_pool()
    while True:
        # One claim at a time per process, and only when the calls already
        # claimed nearly all have a thread: runs are not taken ahead of need.
        with pool.claiming:
            pool.wait_for_room()
            if own:
                chunk, own = own[:size], own[size:]
            else:
                chunk = _unclaimed(due, size)
                if not chunk:
                    db.session.rollback()
                    break
            claimed = claim(chunk, result)
            pending = None if fire else pool.submit([c.call for c in claimed])
        if claimed:
            outcomes = fire([c.call for c in claimed]) if fire else pending.wait()
            result.retries += runner.patiently(lambda: record(claimed, outcomes), sleep)
    return result


# Moments this process found nothing left to claim at: its other tasks of the
# same moment skip the look (most recent last; a few hundred kept).
_done_moments = {}
_done_lock = threading.Lock()


def _unclaimed(due, size):
    """Up to `size` ids of pending webhook runs due at `due`, locked (in the claim's
    transaction) and skipped by others who look at the same time."""
    if due in _done_moments:
        return []
    ids = db.session.scalars(
        select(RUNS.c.id)
        .join(CHRONOS, CHRONOS.c.id == RUNS.c.chrono_id)
        .where(
            RUNS.c.scheduled_for == due,
            # A literal, so that PostgreSQL's generic plan too can use ix_chrono_runs_open.
            RUNS.c.status == bindparam("pending", RunStatus.PENDING, literal_execute=True),
            RUNS.c.trigger == Trigger.SCHEDULE,
            CHRONOS.c.target_type == TargetType.HTTP,
        )
        .limit(size)
        .with_for_update(of=RUNS, skip_locked=True)
    ).all()
    if not ids:
        with _done_lock:
            if len(_done_moments) >= 256:
                del _done_moments[next(iter(_done_moments))]
            _done_moments[due] = True
    return ids


def claim(run_ids, result):
    """Check and claim the runs; returns the Claimed ones, each with its call prepared. Commits."""
    config = current_app.config
    runs = load(run_ids)
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
            update(RUNS)
            .where(_among(RUNS.c.id, [run.id for run in ready]), RUNS.c.status.in_(WAITING))
            .values(status=RunStatus.RUNNING, attempt=RUNS.c.attempt + 1,
                    started_at=func.coalesce(RUNS.c.started_at, started))
            .returning(RUNS.c.id, RUNS.c.attempt)
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


def load(run_ids, lock=False):
    """The runs with their chronos, as plain objects (attributes named as the models').

    Two queries by primary key, runs then chronos, rather than a join: each an
    index scan whatever the planner thinks of the tables' sizes. `lock`: both
    read FOR UPDATE, runs then chronos, in id order, the order every writer
    takes them in, so two batches sharing chronos never deadlock.
    """
    query = select(*(RUNS.c[name] for name in RUN_COLUMNS)).where(_among(RUNS.c.id, run_ids))
    if lock:
        query = query.order_by(RUNS.c.id).with_for_update()
    runs = [SimpleNamespace(**row._mapping) for row in db.session.execute(query)]
    if not runs:
        return []
    query = select(*(CHRONOS.c[name] for name in CHRONO_COLUMNS)).where(
        _among(CHRONOS.c.id, {run.chrono_id for run in runs}))
    if lock:
        query = query.order_by(CHRONOS.c.id).with_for_update()
    chronos = {row.id: SimpleNamespace(**row._mapping) for row in db.session.execute(query)}
    for run in runs:
        run.chrono = chronos.get(run.chrono_id)
    return [run for run in runs if run.chrono is not None]


def _among(column, ids):
    """`column IN ids`; on PostgreSQL `column = ANY(array)`: one parameter, so the
    statement's text is the same for every batch (psycopg prepares it once) and
    the plan an index scan whatever the number of ids."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(column.type)))
    return column.in_(list(ids))


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
            select(RUNS.c.id, RUNS.c.chrono_id, RUNS.c.started_at).where(
                _among(RUNS.c.chrono_id, alive_since),
                RUNS.c.status == RunStatus.RUNNING,
                RUNS.c.started_at > min(alive_since.values()),
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


class CallPool:
    """The worker process's threads for batched calls (CONCURRENT_CALLS of them),
    shared by its batches, and how many calls wait for a thread.

    Not concurrent.futures: a Future (and its Condition) per call cost a tenth
    of the worker's CPU in a burst. Here a batch waits on one Event.
    """

    def __init__(self, size):
        self.size = size
        self.queue = queue.SimpleQueue()
        self.waiting = 0
        self.changed = threading.Condition()
        self.claiming = threading.Lock()
        self.threads = [threading.Thread(target=self._work, name=f"call-{n}", daemon=True) for n in range(size)]
        for thread in self.threads:
            thread.start()

    def submit(self, calls):
        """Start the calls; returns a Pending whose wait() gives their outcomes, in order."""
        pending = Pending(len(calls))
        with self.changed:
            self.waiting += len(calls)
        for index, call in enumerate(calls):
            self.queue.put((call, pending, index))
        return pending

    def _work(self):
        while True:
            call, pending, index = self.queue.get()
            with self.changed:
                self.waiting -= 1
                if self.waiting < self.size:
                    self.changed.notify_all()
            pending.done(index, _outcome(call))

    def wait_for_room(self):
        """Until fewer calls wait than there are threads to make them."""
        with self.changed:
            while self.waiting >= self.size:
                self.changed.wait(0.1)


class Pending:
    def __init__(self, count):
        self.outcomes = [None] * count
        self.left = count
        self.lock = threading.Lock()
        self.finished = threading.Event()
        if not count:
            self.finished.set()

    def done(self, index, outcome):
        self.outcomes[index] = outcome
        with self.lock:
            self.left -= 1
            if not self.left:
                self.finished.set()

    def wait(self):
        self.finished.wait()
        return self.outcomes


_pool = None
_pool_lock = threading.Lock()


def _calls_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = CallPool(current_app.config["CONCURRENT_CALLS"])
        return _pool


def fire_calls(calls):
    """Each call's Outcome, the calls made side by side."""
    return _calls_pool().submit(calls).wait()


def _outcome(call):
    try:
        return call()
    except Exception as exc:  # a bug in one call must not cost the other runs their record
        log.exception("a batched call failed unexpectedly")
        return Outcome.failure("internal", f"{type(exc).__name__}: {exc}"[:300])
def record(claimed, outcomes):
    """Record every outcome in one transaction; returns [(run id, seconds)] to retry.

    The runner's apply_outcome decides each run's new values (and the chrono's
    failure streak, auto-pause included) on plain objects; two UPDATEs write them.
    """
    by_id = {c.run_id: (c, outcome) for c, outcome in zip(claimed, outcomes)}
    runs = load(list(by_id), lock=True)
    now = utcnow()
    retries, alerts, recorded = [], [], []
    for run in runs:
        c, outcome = by_id[run.id]
        if run.status != RunStatus.RUNNING or run.attempt != c.attempt:
            continue  # given up for dead by the sweep, and another attempt owns it now
        delay, alert = runner.apply_outcome(run, c.attempt, c.started, outcome, c.max_attempts, now)
        recorded.append(run)
        if delay is not None:
            retries.append((run.id, delay))
        if alert:
            alerts.append(alert)
    if recorded:
        _write(recorded, now)
    db.session.commit()
    for alert in alerts:
        streaks.send_alert(alert)
    return retries


def _write(runs, now):
    """The recorded runs and their chronos: one executemany UPDATE each."""
    db.session.execute(
        update(RUNS).where(RUNS.c.id == bindparam("run_id")).values(
            status=bindparam("new_status"), next_attempt_at=bindparam("new_next_attempt_at"),
            http_status=bindparam("new_http_status"), response_snippet=bindparam("new_response_snippet"),
            error_message=bindparam("new_error_message"), duration_ms=bindparam("new_duration_ms"),
            finished_at=bindparam("new_finished_at"), result=bindparam("new_result")),
        [{"run_id": run.id, "new_status": run.status, "new_next_attempt_at": run.next_attempt_at,
          "new_http_status": run.http_status, "new_response_snippet": run.response_snippet,
          "new_error_message": run.error_message, "new_duration_ms": run.duration_ms,
          "new_finished_at": run.finished_at, "new_result": run.result} for run in runs],
    )
    chronos = {run.chrono.id: run.chrono for run in runs}.values()
    db.session.execute(
        update(CHRONOS).where(CHRONOS.c.id == bindparam("chrono_id"))
        .values(updated_at=now, **{name: bindparam(f"new_{name}") for name in CHRONO_WRITES}),
        [{"chrono_id": chrono.id, **{f"new_{name}": getattr(chrono, name) for name in CHRONO_WRITES}}
         for chrono in chronos],
    )
