"""The dispatcher: turns due occurrences into run rows, ahead of time.

The tick comes every SCHEDULER_INTERVAL seconds, on the clock (queue.py), and
claims every occurrence due before the next tick (plus a margin); the caller
enqueues each run with an ETA. The run
row is written in the same transaction that advances next_run_at; the unique
(chrono_id, scheduled_for) index makes a second dispatch of an occurrence
impossible even if two dispatchers claim the same chrono.
"""
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from psycopg.types.json import Jsonb
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects import sqlite

from .. import observe, outcomes
from ..extensions import db
from ..models import Chrono, ChronoRun, RunStatus, TargetType, Trigger
from ..schedules import next_fire_time
from .rules import misfire_grace, misfire_policy
from .sql import among

# A tick may be late by a few seconds; the window overlaps the next one by this much.
LOOKAHEAD_MARGIN = timedelta(seconds=15)
# Rows one dispatch transaction writes, about: a backlog drains in several.
MAX_ROWS = 5000


# Missed occurrences past the per-occurrence rows are counted one by one up to
# this many more (a fire time costs about half a millisecond), then estimated
# from their spacing: the summary row always names the whole period.
COUNT_EXACTLY = 1000


@dataclass(frozen=True)
class Dispatched:
    run_id: int
    scheduled_for: datetime
    batchable: bool = False  # a webhook: may run in one task with others due at the same moment


@dataclass
class Plan:
    """What one chrono's dispatch writes."""

    fire: list  # occurrences to run
    skipped: list  # missed occurrences recorded one row each
    following: datetime  # the next next_run_at
    more: int = 0  # missed occurrences beyond `skipped`, summed up in one row...
    more_exact: bool = True
    more_from: datetime | None = None
    more_until: datetime | None = None  # ...scheduled at this, the last of them


def horizon(now, tick_seconds):
    return now + timedelta(seconds=tick_seconds) + LOOKAHEAD_MARGIN


def plan(chrono, now, until, max_skipped_rows=100, grace=timedelta(seconds=60)):
    """Fire times of `chrono` from its next_run_at up to `until`, and the one after.

    Occurrences missed by more than `grace` (the scheduler was down) follow
    the chrono's misfire policy: "coalesce" fires the first of them once, "skip"
    none; every other missed occurrence is recorded as skipped, never dropped in
    silence. Rows stop at `max_skipped_rows`, plus one that sums up the rest, so an
    every-second chrono down for a week writes ~100 rows, not 600,000.
    """
    cron, tz = chrono.cron, chrono.timezone
    moment = chrono.next_run_at
    resume_at = now - grace
    result = Plan(fire=[], skipped=[], following=moment)
    if moment < resume_at:
        if misfire_policy(chrono) == "coalesce":
            result.fire.append(moment)
            moment = next_fire_time(cron, tz, moment)
        while moment < resume_at and len(result.skipped) < max_skipped_rows:
            result.skipped.append(moment)
            moment = next_fire_time(cron, tz, moment)
        if moment < resume_at:
            _sum_up(result, cron, tz, moment, resume_at)
            moment = next_fire_time(cron, tz, resume_at - timedelta(microseconds=1))
    while moment <= until:
        result.fire.append(moment)
        moment = next_fire_time(cron, tz, moment)
    result.following = moment
    return result


def _sum_up(result, cron, tz, moment, resume_at):
    """Count the missed occurrences from `moment` (included) to `resume_at`."""
    result.more_from = moment
    last, count = moment, 0
    while moment < resume_at and count < COUNT_EXACTLY:
        last, count = moment, count + 1
        moment = next_fire_time(cron, tz, moment)
    if moment < resume_at:
        # Too many to count: estimate from the average spacing seen so far, and
        # find the last missed occurrence by stepping from just before resume_at.
        spacing = (last - result.more_from) / max(count - 1, 1)
        count += int((resume_at - moment) / spacing) if spacing else 0
        result.more_exact = False
        probe = next_fire_time(cron, tz, max(moment, resume_at - 3 * spacing))
        while probe < resume_at:
            last, probe = probe, next_fire_time(cron, tz, probe)
    result.more, result.more_until = count, last


def dispatch_batch(now, until, limit, chrono_id=None, max_skipped_rows=100, max_rows=MAX_ROWS, config=None):
    """Claim up to `limit` due chronos, write their run rows, advance next_run_at.

    Returns (dispatched runs, chronos claimed, chronos advanced). Rows stop at
    about `max_rows`: the chronos past that are left as they were (their locks go
    with the transaction) for the caller's next batch, so a backlog of any size
    drains in transactions of bounded size instead of one that can never succeed.
    Flushes, does not commit: the caller commits, then enqueues the returned runs.
    """
    config = config or current_app.config
    # Plain rows of the columns a plan needs: ORM objects for thousands of chronos
    # would cost more than everything else the tick does.
    query = (
        select(Chrono.id, Chrono.cron, Chrono.timezone, Chrono.next_run_at, Chrono.config, Chrono.target_type)
        .where(Chrono.is_active == True, Chrono.next_run_at <= until)  # noqa: E712 (index predicate)
        .order_by(Chrono.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if chrono_id is not None:
        query = query.where(Chrono.id == chrono_id)
    chronos = db.session.execute(query).all()
    if not chronos:
        return [], 0, 0

    rows, advances, webhooks = [], [], set()
    for chrono in chronos:
        if advances and len(rows) >= max_rows:
            break
        grace = misfire_grace(chrono, config)
        result = plan(chrono, now, until, max_skipped_rows, grace)
        rows.extend(_row(chrono, moment, now) for moment in result.fire)
        rows.extend(_skipped_row(chrono, moment, now) for moment in result.skipped)
        if result.more:
            rows.append(_summary_row(chrono, result, now))
        advances.append((chrono.id, result.following))
        if chrono.target_type == TargetType.HTTP:
            webhooks.add(chrono.id)

    dispatched = insert_runs(rows, webhooks)
    _advance(advances)
    return dispatched, len(chronos), len(advances)


def _row(chrono, moment, now, status=RunStatus.PENDING, finished_at=None, error_message=None, result=None):
    return (chrono.id, moment, status, now, finished_at, error_message, result)


def _skipped_row(chrono, moment, now):
    return _final_row(chrono, moment, now, {"while_down": True, "misfire_policy": misfire_policy(chrono)})


def _summary_row(chrono, result, now):
    return _final_row(chrono, result.more_until, now, {
        "misfire_policy": misfire_policy(chrono), "skipped_count": result.more,
        "skipped_count_exact": result.more_exact, "skipped_from": result.more_from.isoformat(),
        "skipped_until": result.more_until.isoformat()})


def _final_row(chrono, moment, now, params):
    """A missed occurrence, recorded as skipped: its code and parameters, and the English
    technical message (pages word it in the reader's language, chronoflow/outcomes.py)."""
    return _row(chrono, moment, now, RunStatus.SKIPPED, now, outcomes.describe("missed", params, locale="en"),
                {"error_code": "missed", "error_params": params, **params})


# Scheduled runs, one per occurrence. Every value travels in one array per
# column, so the statement is the same text whatever the number of rows: no
# bind-parameter limit (PostgreSQL's is 65,535), prepared once, planned once.
# Pending runs differ only in chrono and time: the other columns are constants.
# The ON CONFLICT predicate is literal: bound, PostgreSQL's generic plan for the
# prepared statement could not match it to the partial unique index.
_ON_CONFLICT = """
    ON CONFLICT (chrono_id, scheduled_for) WHERE trigger = 'schedule' DO NOTHING
    RETURNING id, scheduled_for, status, chrono_id
"""
_INSERT_PENDING_PG = text("""
    INSERT INTO chrono_runs (chrono_id, scheduled_for, status, created_at, trigger, attempt)
    SELECT r.chrono_id, r.scheduled_for, 'pending', :created_at, 'schedule', 0
    FROM unnest(CAST(:chrono_id AS integer[]), CAST(:scheduled_for AS timestamptz[])) AS r(chrono_id, scheduled_for)
""" + _ON_CONFLICT)
_INSERT_PG = text("""
    INSERT INTO chrono_runs (chrono_id, scheduled_for, status, created_at, finished_at, error_message, result,
                             trigger, attempt)
    SELECT r.*, 'schedule', 0
    FROM unnest(CAST(:chrono_id AS integer[]), CAST(:scheduled_for AS timestamptz[]), CAST(:status AS text[]),
                CAST(:created_at AS timestamptz[]), CAST(:finished_at AS timestamptz[]),
                CAST(:error_message AS text[]), CAST(:result AS jsonb[]))
         AS r(chrono_id, scheduled_for, status, created_at, finished_at, error_message, result)
""" + _ON_CONFLICT)
_ADVANCE_PG = text("""
    UPDATE chronos SET next_run_at = v.next_run_at
    FROM unnest(CAST(:id AS integer[]), CAST(:next_run_at AS timestamptz[])) AS v(id, next_run_at)
    WHERE chronos.id = v.id
""")
COLUMNS = ("chrono_id", "scheduled_for", "status", "created_at", "finished_at", "error_message", "result")
# SQLite binds at most 32,766 parameters a statement: rows go in slices well under it.
SQLITE_ROWS = 500


def insert_runs(rows, webhooks=frozenset()):
    """Write the rows (tuples in COLUMNS' order); an occurrence already written is left alone.

    Returns the pending runs written (the ones that need a task).
    """
    if not rows:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        written = []
        pending = [row for row in rows if row[2] == RunStatus.PENDING]
        if pending:
            written += db.session.execute(_INSERT_PENDING_PG, {
                "chrono_id": [row[0] for row in pending], "scheduled_for": [row[1] for row in pending],
                "created_at": pending[0][3]}).all()
        final = [row for row in rows if row[2] != RunStatus.PENDING]
        if final:
            params = dict(zip(COLUMNS, map(list, zip(*final))))
            params["result"] = [None if value is None else Jsonb(value) for value in params["result"]]
            written += db.session.execute(_INSERT_PG, params).all()
    else:
        written = []
        for start in range(0, len(rows), SQLITE_ROWS):
            statement = (
                sqlite.insert(ChronoRun)
                .values([dict(zip(COLUMNS, row), trigger=Trigger.SCHEDULE, attempt=0)
                         for row in rows[start:start + SQLITE_ROWS]])
                .on_conflict_do_nothing(index_elements=["chrono_id", "scheduled_for"],
                                        index_where=text("trigger = 'schedule'"))
                .returning(ChronoRun.id, ChronoRun.scheduled_for, ChronoRun.status, ChronoRun.chrono_id)
            )
            written += db.session.execute(statement).all()
    missed = Counter(chrono_id in webhooks for _id, _when, status, chrono_id in written if status != RunStatus.PENDING)
    for webhook, count in missed.items():
        observe.runs_finished(TargetType.HTTP if webhook else TargetType.MESSAGE, RunStatus.SKIPPED, "missed", count)
    # Only pending runs need a task; skipped ones are final as written.
    return [Dispatched(run_id, when, chrono_id in webhooks)
            for run_id, when, status, chrono_id in written
            if status == RunStatus.PENDING]


def _advance(advances):
    """Each chrono's next_run_at, one statement."""
    if db.session.get_bind().dialect.name == "postgresql":
        ids, times = zip(*advances)
        db.session.execute(_ADVANCE_PG, {"id": list(ids), "next_run_at": list(times)})
    else:
        db.session.execute(update(Chrono), [{"id": chrono_id, "next_run_at": moment} for chrono_id, moment in advances])


def withdraw(runs):
    """Undo a dispatch whose tasks could not be queued (the queue is down): the
    pending rows go and each chrono's cursor returns to its first one, so the
    next tick dispatches them again. Flushes, does not commit."""
    if not runs:
        return
    untouched = (among(ChronoRun.id, [run.run_id for run in runs]), ChronoRun.status == RunStatus.PENDING,
                 ChronoRun.attempt == 0)
    rows = db.session.execute(
        select(ChronoRun.chrono_id, func.min(ChronoRun.scheduled_for)).where(*untouched).group_by(ChronoRun.chrono_id)
    ).all()
    db.session.execute(delete(ChronoRun).where(*untouched).execution_options(synchronize_session=False))
    for chrono_id, first in rows:
        db.session.execute(
            update(Chrono)
            .where(Chrono.id == chrono_id, Chrono.is_active == True,  # noqa: E712
                   or_(Chrono.next_run_at == None, Chrono.next_run_at > first))  # noqa: E711
            .values(next_run_at=first)
            .execution_options(synchronize_session=False)
        )
