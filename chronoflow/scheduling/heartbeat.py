"""Heartbeats in the database: when the scheduler last ticked and a worker was last alive.

The database is the record here too: /api/health runs in the web processes and
must see the workers, which may live on other machines.
"""
import os
import socket
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Chrono, Heartbeat, utcnow

SCHEDULER = "scheduler"
WORKER = "worker"
# How often a worker process writes its heartbeat.
WORKER_BEAT_SECONDS = 5


def worker_name():
    return f"{WORKER}:{socket.gethostname()}:{os.getpid()}"


def beat(name, kind, now=None):
    """Record that `name` is alive now. Flushes, does not commit."""
    now = now or utcnow()
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Heartbeat).values(name=name, kind=kind, beat_at=now)
    db.session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_={"beat_at": statement.excluded.beat_at})
    )


def last_beat(kind):
    return db.session.scalar(select(func.max(Heartbeat.beat_at)).where(Heartbeat.kind == kind))


def freshness(kind, now=None):
    """(state, last beat): state is "ok", "stale" or "missing" (never seen)."""
    now = now or utcnow()
    last = last_beat(kind)
    if last is None:
        return "missing", None
    allowed = timedelta(seconds=current_app.config["HEALTH_STALE_SECONDS"])
    if kind == SCHEDULER:
        allowed += timedelta(seconds=current_app.config["SCHEDULER_INTERVAL"])
    return ("ok" if now - last <= allowed else "stale"), last


def overdue_chronos(now=None, cap=10_000):
    """Active chronos whose next occurrence is past due by more than a tick plus
    HEALTH_STALE_SECONDS: a tick should have dispatched it (ix_chronos_due; counted up to `cap`)."""
    now = now or utcnow()
    config = current_app.config
    before = now - timedelta(seconds=config["SCHEDULER_INTERVAL"] + config["HEALTH_STALE_SECONDS"])
    due = (select(Chrono.id).where(Chrono.is_active == True, Chrono.next_run_at < before)  # noqa: E712
           .limit(cap).subquery())
    return db.session.scalar(select(func.count()).select_from(due))
