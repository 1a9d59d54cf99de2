"""Bounded growth: old runs are pruned, a slice of the chronos at a time.

A chrono keeps its last RUN_RETENTION_COUNT runs and those younger than
RUN_RETENTION_DAYS (0 turns either limit off); a run is deleted once it is past
either limit. Runs not final yet are never deleted. Every query walks the
(chrono_id, scheduled_for, id) history index. A call looks at CHRONOS_PER_CALL
chronos (on PostgreSQL with one statement per limit for all of them) and deletes
at most PRUNE_BATCH_SIZE rows; a tick makes calls, each its own transaction,
for up to TICK_BUDGET_S, so pruning keeps up with what the dispatcher writes
(thousands of runs a tick at 100,000 chronos) without holding long locks.

A round over all chronos starts at most every ROUND_SECONDS, unless the last
one left a backlog: finding a chrono's boundary walks its newest runs, so a
round every minute would cost that walk for every chrono to delete one row each.
"""
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, text

from ..extensions import db
from ..models import Chrono, ChronoRun, Heartbeat, RunStatus, utcnow

# Chronos looked at per call; the cursor walks all of them over successive calls.
CHRONOS_PER_CALL = 500
# How long a tick's pruning may go on, in calls of their own.
TICK_BUDGET_S = 2.0
# A chrono keeps at most this much more history than its limits say.
ROUND_SECONDS = 600
FINAL = ", ".join(f"'{status}'" for status in RunStatus.FINAL)
# The newest RUN_RETENTION_COUNT runs of each chrono stay; older final ones go.
_PAST_COUNT_PG = text(f"""
    DELETE FROM chrono_runs WHERE id IN (
        SELECT r.id FROM unnest(CAST(:ids AS integer[])) AS c(id)
        CROSS JOIN LATERAL (SELECT b.scheduled_for AS boundary FROM chrono_runs b WHERE b.chrono_id = c.id
                            ORDER BY b.scheduled_for DESC OFFSET :keep LIMIT 1) AS k
        JOIN chrono_runs r ON r.chrono_id = c.id AND r.scheduled_for <= k.boundary
        WHERE r.status IN ({FINAL})
        LIMIT :batch)
""")
_PAST_AGE_PG = text(f"""
    DELETE FROM chrono_runs WHERE id IN (
        SELECT r.id FROM unnest(CAST(:ids AS integer[])) AS c(id)
        JOIN chrono_runs r ON r.chrono_id = c.id AND r.scheduled_for < :cutoff
        WHERE r.status IN ({FINAL})
        LIMIT :batch)
""")
# A worker silent this long is gone (restarted under another pid): forget it.
FORGET_WORKERS_AFTER = timedelta(days=1)

# Where the round is (the last chrono id looked at; 0: between rounds), when it
# started (monotonic seconds) and whether a call of it hit PRUNE_BATCH_SIZE.
_cursor = {"after": 0, "round_started": None, "backlog": False}


def prune_tick(now=None):
    """The tick's pruning: calls of prune_runs, each committed, for up to
    TICK_BUDGET_S or the rest of the round. Returns how many runs went."""
    started = time.monotonic()
    if _cursor["after"] == 0:
        last = _cursor["round_started"]
        if last is not None and not _cursor["backlog"] and started - last < ROUND_SECONDS:
            return 0
        _cursor.update(round_started=started, backlog=False)
    total, first = 0, _cursor["after"]
    batch = current_app.config["PRUNE_BATCH_SIZE"]
    while time.monotonic() - started < TICK_BUDGET_S:
        deleted = prune_runs(now, batch)
        total += deleted
        db.session.commit()
        if deleted >= batch:
            _cursor["backlog"] = True
        if _cursor["after"] == 0 or _cursor["after"] == first:
            break
    return total


def prune_runs(now=None, batch=None):
    """Delete up to `batch` runs past retention, of the next CHRONOS_PER_CALL
    chronos; returns how many went. Flushes."""
    now = now or utcnow()
    config = current_app.config
    batch = batch or config["PRUNE_BATCH_SIZE"]
    keep_count, keep_days = config["RUN_RETENTION_COUNT"], config["RUN_RETENTION_DAYS"]
    if not keep_count and not keep_days:
        return 0
    chrono_ids = db.session.scalars(
        select(Chrono.id).where(Chrono.id > _cursor["after"]).order_by(Chrono.id).limit(CHRONOS_PER_CALL)
    ).all()
    _cursor["after"] = chrono_ids[-1] if len(chrono_ids) == CHRONOS_PER_CALL else 0
    if not chrono_ids:
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        return _prune_together(chrono_ids, now, batch, keep_count, keep_days)
    deleted = 0
    for chrono_id in chrono_ids:
        deleted += prune_chrono(chrono_id, now, batch - deleted, keep_count, keep_days)
        if deleted >= batch:
            _cursor["after"] = chrono_id - 1  # this chrono may have more: resume with it
            break
    _forget_workers(now)
    return deleted


def _forget_workers(now):
    db.session.execute(
        delete(Heartbeat).where(Heartbeat.kind == "worker", Heartbeat.beat_at < now - FORGET_WORKERS_AFTER)
    )
    db.session.flush()


def _prune_together(chrono_ids, now, batch, keep_count, keep_days):
    deleted = 0
    if keep_count:
        deleted += db.session.execute(_PAST_COUNT_PG, {"ids": chrono_ids, "keep": keep_count, "batch": batch}).rowcount
    if keep_days and deleted < batch:
        deleted += db.session.execute(_PAST_AGE_PG, {"ids": chrono_ids, "cutoff": now - timedelta(days=keep_days),
                                                     "batch": batch - deleted}).rowcount
    if deleted >= batch:
        _cursor["after"] = chrono_ids[0] - 1  # these chronos may have more: start with them again
    _forget_workers(now)
    return deleted


def prune_chrono(chrono_id, now, limit, keep_count, keep_days):
    """Delete up to `limit` final runs of one chrono past its retention."""
    past = []
    if keep_days:
        past.append(ChronoRun.scheduled_for < now - timedelta(days=keep_days))
    if keep_count:
        # The newest run beyond the ones kept: it and everything older may go.
        boundary = db.session.scalar(
            select(ChronoRun.scheduled_for)
            .where(ChronoRun.chrono_id == chrono_id)
            .order_by(ChronoRun.scheduled_for.desc())
            .offset(keep_count)
            .limit(1)
        )
        if boundary is not None:
            past.append(ChronoRun.scheduled_for <= boundary)
    if not past:
        return 0
    doomed = (
        select(ChronoRun.id)
        .where(ChronoRun.chrono_id == chrono_id, ChronoRun.status.in_(RunStatus.FINAL), or_(*past))
        .order_by(ChronoRun.scheduled_for)
        .limit(limit)
    )
    # One statement whatever `limit` is: no list of ids bound (PostgreSQL takes
    # at most 65,535 parameters a statement, SQLite 32,766).
    return db.session.execute(
        delete(ChronoRun).where(ChronoRun.id.in_(doomed.scalar_subquery())).execution_options(synchronize_session=False)
    ).rowcount
