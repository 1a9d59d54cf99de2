"""Bounded growth: old runs are pruned, a few chronos and rows at a time.

A chrono keeps its last RUN_RETENTION_COUNT runs and those younger than
RUN_RETENTION_DAYS (0 turns either limit off); a run is deleted once it is past
either limit. Runs not final yet are never deleted. Every query walks the
(chrono_id, scheduled_for) history index, and each call deletes at most
PRUNE_BATCH_SIZE rows, so a prune never holds long locks: a backlog shrinks
over successive ticks.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select

from ..extensions import db
from ..models import Chrono, ChronoRun, Heartbeat, RunStatus, utcnow

# Chronos looked at per call; the cursor walks all of them over successive calls.
CHRONOS_PER_CALL = 200
# A worker silent this long is gone (restarted under another pid): forget it.
FORGET_WORKERS_AFTER = timedelta(days=1)

_cursor = {"after": 0}


def prune_runs(now=None, batch=None):
    """Delete up to `batch` runs past retention; returns how many went. Flushes."""
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
    deleted = 0
    for chrono_id in chrono_ids:
        deleted += prune_chrono(chrono_id, now, batch - deleted, keep_count, keep_days)
        if deleted >= batch:
            _cursor["after"] = chrono_id - 1  # this chrono may have more: resume with it
            break
    db.session.execute(
        delete(Heartbeat).where(Heartbeat.kind == "worker", Heartbeat.beat_at < now - FORGET_WORKERS_AFTER)
    )
    db.session.flush()
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
