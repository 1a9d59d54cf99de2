"""Executes runs: one path for a run alone and for thousands due at the same moment.

A task names a moment and run ids. It waits for the moment, then claims its
runs with one conditional UPDATE ... RETURNING, makes the calls side by side
(webhooks on the process's call threads, WhatsApp messages in the task's own
thread: they pace themselves for minutes), and records the outcomes in one
transaction. The run rows decide, not the task: a run that is gone, final or
taken by another worker is left alone, and the rules of scheduling/rules.py
(paused chrono, misfire, overlap) are applied at the run's start. A task of a
burst then claims its moment's runs that nobody holds yet, so the worker
processes share a burst as their CPU allows, not as Huey handed out tasks.

Nothing here is kept only in memory: a task lost with its worker leaves its
runs "pending" or "running", and the recovery sweep finishes them.
"""
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, case, func, literal, or_, select, text, update
from sqlalchemy.exc import InterfaceError, OperationalError

from .. import executors, observe, outcomes
from ..extensions import db
from ..models import Chrono, ChronoRun, RunStatus, TargetType, Trigger, utcnow
from . import calls, rules, streaks
from .sql import among

# Tasks are dispatched this much before their time and wait for the exact
# moment here: Huey's schedule pops ETAs up to a second late.
EARLY = timedelta(seconds=1)
# How long the outcome of a call is held while the database cannot take it.
RECORD_PATIENCE_S = 60

WAITING = (RunStatus.PENDING, RunStatus.RETRYING)
RUNS = ChronoRun.__table__
CHRONOS = Chrono.__table__
# What the rules, the executors and the record read, as plain values: ORM objects
# for hundreds of rows cost more CPU than the calls they are for.
RUN_COLUMNS = ("id", "chrono_id", "scheduled_for", "trigger", "status", "attempt", "started_at", "next_attempt_at",
               "result")
CHRONO_COLUMNS = ("id", "target_type", "method", "url", "headers", "payload", "is_active", "config", "cron",
                  "timezone", "signing_secret", "secrets_origin", "consecutive_failures", "success", "templated")
# What the record reads again, under lock: no headers or payload to decode again.
RECORD_RUN_COLUMNS = ("id", "chrono_id", "scheduled_for", "trigger", "status", "attempt", "started_at",
                      "next_attempt_at", "result")
RECORD_CHRONO_COLUMNS = ("id", "name", "target_type", "is_active", "config", "cron", "timezone",
                         "consecutive_failures", "paused_reason", "next_run_at")
# What a record may change on a chrono (auto-pause included); a quiet one only the first two.
CHRONO_WRITES = ("last_run_at", "last_run_status", "consecutive_failures", "is_active", "paused_reason", "next_run_at")
QUIET_CHRONO_WRITES = CHRONO_WRITES[:2]


@dataclass
class Result:
    later: list = field(default_factory=list)  # (when, run ids) delivered ahead of time: again then
    retries: list = field(default_factory=list)  # (run id, seconds) to attempt again


@dataclass(frozen=True)
class Claimed:
    run_id: int
    attempt: int
    started: object  # datetime
    call: object  # the prepared attempt: a zero-argument callable returning an Outcome
    max_attempts: int
    inline: bool = False  # made in the task's own thread (a WhatsApp run), not on the call threads
    run: object = None  # as claimed (plain values, with .chrono): what a quiet record writes from


def execute(due, run_ids, share=False, sleep=time.sleep, fire=None):
    """Run `run_ids`, due at `due`; `share`: then claim the moment's other
    unclaimed webhook runs (a burst's tasks share it). `fire`: calls -> outcomes (tests).
    """
    result = Result()
    wait = (due - utcnow()).total_seconds()
    if wait > EARLY.total_seconds():
        result.later.append((due, list(run_ids)))  # a re-delivery ahead of time: come back on time
        return result
    if wait > 0:
        sleep(wait)  # nothing read yet: no transaction (SQLite: no write lock) held while waiting

    size = current_app.config["RUN_BATCH_SIZE"]
    own = list(run_ids)
    pool = calls.pool()
    while True:
        # One claim at a time per process, and only when the calls already
        # claimed nearly all have a thread: runs are not taken ahead of need.
        with pool.claiming:
            pool.wait_for_room()
            if own:
                chunk, own = own[:size], own[size:]
            else:
                chunk = _unclaimed(due, size) if share else []
                if not chunk:
                    db.session.rollback()
                    break
            claimed = claim(chunk, result)
            threaded = [c for c in claimed if not c.inline]
            pending = None if fire else pool.submit([c.call for c in threaded])
        if claimed:
            outcomes = fire([c.call for c in claimed]) if fire else _outcomes(claimed, pending)
            result.retries += patiently(lambda: record(claimed, outcomes), sleep)
    return result


def _outcomes(claimed, pending):
    """The outcomes in `claimed`'s order: inline calls made here while the threads make the others."""
    inline = {c.run_id: calls.outcome_of(c.call) for c in claimed if c.inline}
    threaded = iter(pending.wait())
    return [inline[c.run_id] if c.inline else next(threaded) for c in claimed]


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
    """Apply the rules, claim what may run; returns the Claimed runs, each with its
    call prepared. Runs not due yet go to `result.later`. Commits."""
    config = current_app.config
    runs = load(run_ids)
    now = utcnow()
    later = defaultdict(list)
    cancelled, ready = [], []
    for run in runs:
        if run.status not in WAITING:
            continue  # finished, or another worker has it
        if run.attempt == 0 and run.scheduled_for - now > EARLY:
            later[run.scheduled_for].append(run.id)
        elif run.trigger == Trigger.SCHEDULE and not run.chrono.is_active:
            cancelled.append(run)
        else:
            ready.append(run)
    result.later += later.items()

    first = [run for run in ready if run.trigger == Trigger.SCHEDULE and run.attempt == 0]
    missed = rules.missed(first, now, config)
    overlapping = rules.overlapping([run for run in first if run.id not in missed], now, config)
    skipped = dict(missed)
    skipped.update((run_id, ("overlap", {})) for run_id in overlapping)
    ready = [run for run in ready if run.id not in skipped]

    finish(cancelled, RunStatus.CANCELLED, lambda run: ("cancelled", {}), WAITING, now)
    finish([run for run in runs if run.id in skipped], RunStatus.SKIPPED, lambda run: skipped[run.id],
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
            .where(among(RUNS.c.id, [run.id for run in ready]), RUNS.c.status.in_(WAITING))
            .values(status=RunStatus.RUNNING, attempt=RUNS.c.attempt + 1,
                    started_at=func.coalesce(RUNS.c.started_at, started), attempt_started_at=started)
            .returning(RUNS.c.id, RUNS.c.attempt)
        ).all()
    )
    claimed = []
    for run in ready:
        if run.id in attempts:
            run.status, run.attempt, run.started_at = RunStatus.RUNNING, attempts[run.id], run.started_at or started
            claimed.append(Claimed(run.id, attempts[run.id], started, _prepare(run, config),
                                   rules.max_attempts(run.chrono, config),
                                   inline=run.chrono.target_type != TargetType.HTTP, run=run))
    db.session.commit()  # the calls run with no transaction open
    return claimed


def _prepare(run, config):
    if run.chrono.target_type == TargetType.HTTP:
        return executors.prepare(run.chrono, config, run)
    # A message needs the chrono's channel: the model, for the few runs that are messages.
    return executors.prepare(db.session.get(Chrono, run.chrono_id), config, run)


def load(run_ids, lock=False, run_columns=RUN_COLUMNS, chrono_columns=CHRONO_COLUMNS):
    """The runs with their chronos, as plain objects (attributes named as the models').

    Two queries by primary key, runs then chronos, rather than a join: each an
    index scan whatever the planner thinks of the tables' sizes. `lock`: both
    read FOR UPDATE, runs then chronos, in id order, the order every writer
    takes them in, so two tasks sharing chronos never deadlock.
    """
    query = select(*(RUNS.c[name] for name in run_columns)).where(among(RUNS.c.id, run_ids))
    if lock:
        query = query.order_by(RUNS.c.id).with_for_update()
    runs = [SimpleNamespace(**row._mapping) for row in db.session.execute(query)]
    if not runs:
        return []
    columns = [CHRONOS.c[name] for name in chrono_columns]
    if chrono_columns is CHRONO_COLUMNS:  # how long a WhatsApp run may take depends on its recipients
        columns.append(case((CHRONOS.c.target_type == TargetType.MESSAGE, CHRONOS.c.recipients)).label("recipients"))
        # A templated request may use the chrono's name; others need not read it.
        columns.append(case((CHRONOS.c.templated, CHRONOS.c.name)).label("name"))
    query = select(*columns).where(among(CHRONOS.c.id, {run.chrono_id for run in runs}))
    if lock:
        query = query.order_by(CHRONOS.c.id).with_for_update()
    chronos = {row.id: SimpleNamespace(**row._mapping) for row in db.session.execute(query)}
    for run in runs:
        run.chrono = chronos.get(run.chrono_id)
    return [run for run in runs if run.chrono is not None]


def finish(runs, status, reason, only_if, now):
    """Give `runs` a final status without calling anything; `reason(run)` ->
    (error code, its parameters). Conditional, like the claim."""
    if not runs:
        return
    params, counts = [], defaultdict(int)
    for run in runs:
        code, details = reason(run)
        counts[run.chrono.target_type, code] += 1
        params.append({"run_id": run.id, "new_message": outcomes.describe(code, details, locale="en"),
                       "new_result": {**(run.result or {}), "error_code": code, "error_params": details}})
    db.session.execute(
        update(RUNS)
        # Literal statuses: an IN list of bound values cannot go with executemany.
        .where(RUNS.c.id == bindparam("run_id"), or_(*(RUNS.c.status == literal(s) for s in only_if)))
        .values(status=status, finished_at=now, error_message=bindparam("new_message"),
                result=bindparam("new_result")),
        params,
    )
    for (target_type, code), count in counts.items():
        observe.runs_finished(target_type, status, code, count)


def patiently(record, sleep=time.sleep):
    """record(), tried again while the database is unreachable (up to RECORD_PATIENCE_S).

    The targets have been called: outcomes lost to a database restart would
    leave the runs "running", and the recovery sweep would call them again.
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


def record(claimed, outcomes):
    """Record every outcome in one transaction; returns [(run id, seconds)] to retry.

    apply_outcome decides each run's new values (and the chrono's failure
    streak, auto-pause included) on plain objects; two UPDATEs write them. On
    PostgreSQL a quiet run (a webhook's success, its chrono with no failures in
    a row: nothing to count, pause or announce) is written from what its claim
    read, on condition that its attempt still owns it; the others are read again
    under lock, their chronos' streaks with them.
    """
    now = utcnow()
    quiet, loud = [], {}
    postgres = db.session.get_bind().dialect.name == "postgresql"
    for c, outcome in zip(claimed, outcomes):
        if postgres and c.run is not None and outcome.ok and not c.inline and not c.run.chrono.consecutive_failures:
            quiet.append((_copy(c.run), c, outcome))  # a copy: a record tried again starts from the claim's
        else:
            loud[c.run_id] = (c, outcome)
    runs = load(list(loud), lock=True, run_columns=RECORD_RUN_COLUMNS,
                chrono_columns=RECORD_CHRONO_COLUMNS) if loud else []
    retries, alerts, recorded = [], [], []
    for run in runs:
        c, outcome = loud[run.id]
        if run.status != RunStatus.RUNNING or run.attempt != c.attempt:
            continue  # given up for dead by the sweep, and another attempt owns it now
        recorded.append((run, c, outcome))
    for run, c, outcome in recorded + quiet:
        delay, alert = apply_outcome(run, c.attempt, c.started, outcome, c.max_attempts, now)
        if delay is not None:
            retries.append((run.id, delay))
        if alert:
            alerts.append(alert)
    written = _write([run for run, _c, _o in recorded], [run for run, _c, _o in quiet], now)
    for run, c, outcome in recorded + quiet:
        if run.id in written:
            observe.run_recorded(run, c.attempt, c.started, outcome)
    retries = [(run_id, delay) for run_id, delay in retries if run_id in written]
    db.session.commit()
    for alert in alerts:
        streaks.send_alert(alert)
    return retries


def _copy(run):
    copy = SimpleNamespace(**vars(run))
    copy.chrono = SimpleNamespace(**vars(run.chrono))
    return copy


def apply_outcome(run, attempt_number, started, outcome, max_attempts, now):
    """Write one attempt's outcome on `run` and its chrono, both read FOR UPDATE.

    Returns (seconds before the next attempt or None, the alert to send after the commit).
    """
    retry_delay = None
    if outcome.ok:
        run.status = RunStatus.SUCCESS
    elif outcome.retryable and attempt_number < max_attempts and rules.may_retry(run):
        retry_delay = rules.backoff_seconds(run.chrono, attempt_number, outcome.retry_after_s)
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
            "error_params": outcome.params,
            "error": outcome.error,
        },
    ]
    # The run's own error: the words are chosen when it is shown (chronoflow/outcomes.py).
    result["error_code"] = None if outcome.ok else outcome.error_code
    result["error_params"] = None if outcome.ok else outcome.params
    run.result = result
    run.chrono.last_run_at = run.started_at
    run.chrono.last_run_status = run.status
    alert = streaks.record_final(run, now, chrono_locked=True) if retry_delay is None else None
    return retry_delay, alert


# The record, one statement per table whatever the number of runs: values travel
# as one array per column (PostgreSQL), so the statement is prepared once and the
# server does one join instead of an UPDATE per row.
# The results go as one JSON array, matched by position: quoting JSON documents
# inside a jsonb[] literal costs more than the rest of the record.
_WRITE_RUNS_PG = text("""
    UPDATE chrono_runs SET status = v.status, next_attempt_at = v.next_attempt_at, http_status = v.http_status,
           response_snippet = v.response_snippet, error_message = v.error_message, duration_ms = v.duration_ms,
           finished_at = v.finished_at, result = r.value
    FROM unnest(CAST(:id AS bigint[]), CAST(:status AS text[]), CAST(:next_attempt_at AS timestamptz[]),
                CAST(:http_status AS integer[]), CAST(:response_snippet AS text[]), CAST(:error_message AS text[]),
                CAST(:duration_ms AS integer[]), CAST(:finished_at AS timestamptz[]), CAST(:attempt AS integer[]))
         WITH ORDINALITY AS v(id, status, next_attempt_at, http_status, response_snippet, error_message,
                              duration_ms, finished_at, attempt, n)
    JOIN jsonb_array_elements(CAST(:result AS jsonb)) WITH ORDINALITY AS r(value, n) ON r.n = v.n
    WHERE chrono_runs.id = v.id AND chrono_runs.status = 'running' AND chrono_runs.attempt = v.attempt
    RETURNING chrono_runs.id
""")
_WRITE_CHRONOS_PG = text("""
    UPDATE chronos SET updated_at = :now, last_run_at = v.last_run_at, last_run_status = v.last_run_status,
           consecutive_failures = v.consecutive_failures, is_active = v.is_active, paused_reason = v.paused_reason,
           next_run_at = v.next_run_at
    FROM unnest(CAST(:id AS integer[]), CAST(:last_run_at AS timestamptz[]), CAST(:last_run_status AS text[]),
                CAST(:consecutive_failures AS integer[]), CAST(:is_active AS boolean[]),
                CAST(:paused_reason AS text[]), CAST(:next_run_at AS timestamptz[]))
         AS v(id, last_run_at, last_run_status, consecutive_failures, is_active, paused_reason, next_run_at)
    WHERE chronos.id = v.id
""")
# A quiet record's chronos: the last run only (what a person or the dispatcher changes is not touched).
_WRITE_QUIET_CHRONOS_PG = text("""
    UPDATE chronos SET updated_at = :now, last_run_at = v.last_run_at, last_run_status = v.last_run_status
    FROM unnest(CAST(:id AS integer[]), CAST(:last_run_at AS timestamptz[]), CAST(:last_run_status AS text[]))
         AS v(id, last_run_at, last_run_status)
    WHERE chronos.id = v.id
""")
RUN_WRITES = ("status", "next_attempt_at", "http_status", "response_snippet", "error_message", "duration_ms",
              "finished_at", "result")


def _write(runs, quiet, now):
    """The recorded runs, each only while its attempt owns it, and their chronos
    (`runs`' read under lock; `quiet` ones' last run only); returns the ids of the
    runs written."""
    if not runs and not quiet:
        return set()
    if db.session.get_bind().dialect.name == "postgresql":
        everything = runs + quiet
        columns = {"id": [run.id for run in everything], "attempt": [run.attempt for run in everything]}
        for name in RUN_WRITES:
            columns[name] = [getattr(run, name) for run in everything]
        columns["result"] = Jsonb(columns["result"])
        written = set(db.session.scalars(_WRITE_RUNS_PG, columns))
        # Quiet ones first: a chrono read under lock ends with what that read allows.
        for group, names in ((quiet, QUIET_CHRONO_WRITES), (runs, CHRONO_WRITES)):
            chronos = list({run.chrono.id: run.chrono for run in group if run.id in written}.values())
            if chronos:
                columns = {"now": now, "id": [chrono.id for chrono in chronos]}
                for name in CHRONO_WRITES:
                    columns[name] = [getattr(chrono, name, None) for chrono in chronos]
                db.session.execute(_WRITE_CHRONOS_PG if names is CHRONO_WRITES else _WRITE_QUIET_CHRONOS_PG, columns)
        return written
    # SQLite: every run was read under the write lock, and is still its attempt's.
    chronos = list({run.chrono.id: run.chrono for run in runs}.values())
    db.session.execute(
        update(RUNS).where(RUNS.c.id == bindparam("run_id"))
        .values(**{name: bindparam(f"new_{name}") for name in RUN_WRITES}),
        [{"run_id": run.id, **{f"new_{name}": getattr(run, name) for name in RUN_WRITES}} for run in runs],
    )
    db.session.execute(
        update(CHRONOS).where(CHRONOS.c.id == bindparam("chrono_id"))
        .values(updated_at=now, **{name: bindparam(f"new_{name}") for name in CHRONO_WRITES}),
        [{"chrono_id": chrono.id, **{f"new_{name}": getattr(chrono, name) for name in CHRONO_WRITES}}
         for chrono in chronos],
    )
    return {run.id for run in runs}
