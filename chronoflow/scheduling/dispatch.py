"""The dispatcher: turns due occurrences into run rows, ahead of time.

Huey's periodic tick comes once every SCHEDULER_INTERVAL seconds and is not
aligned to the wall clock, so each tick claims every occurrence due before the
next tick (plus a margin) and the caller enqueues each run with an ETA. The run
row is written in the same transaction that advances next_run_at; the unique
(chrono_id, scheduled_for) index makes a second dispatch of an occurrence
impossible even if two dispatchers claim the same chrono.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Chrono, ChronoRun, RunStatus, Trigger
from ..schedules import next_fire_time

# A tick may be late by a few seconds; the window overlaps the next one by this much.
LOOKAHEAD_MARGIN = timedelta(seconds=15)
# An occurrence this far in the past was missed (scheduler down): it fires once,
# late, and the ones after it are not replayed: never a storm of catch-up calls.
MISSED_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Dispatched:
    run_id: int
    scheduled_for: datetime


def horizon(now, tick_seconds):
    return now + timedelta(seconds=tick_seconds) + LOOKAHEAD_MARGIN


def occurrences(chrono, now, until):
    """Fire times of `chrono` from its next_run_at up to `until`, and the one after."""
    times = []
    moment = chrono.next_run_at
    if moment < now - MISSED_AFTER:
        times.append(moment)
        moment = next_fire_time(chrono.cron, chrono.timezone, max(moment, now - MISSED_AFTER))
    while moment <= until:
        times.append(moment)
        moment = next_fire_time(chrono.cron, chrono.timezone, moment)
    return times, moment


def dispatch_batch(now, until, limit, chrono_id=None):
    """Claim up to `limit` due chronos, write their run rows, advance next_run_at.

    Flushes, does not commit: the caller commits, then enqueues the returned runs.
    """
    query = (
        select(Chrono)
        .where(Chrono.is_active == True, Chrono.next_run_at <= until)  # noqa: E712 (index predicate)
        .order_by(Chrono.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if chrono_id is not None:
        query = query.where(Chrono.id == chrono_id)
    chronos = db.session.scalars(query).all()
    if not chronos:
        return [], 0

    rows, advances = [], []
    for chrono in chronos:
        times, following = occurrences(chrono, now, until)
        rows.extend(
            {
                "chrono_id": chrono.id,
                "scheduled_for": moment,
                "trigger": Trigger.SCHEDULE,
                "status": RunStatus.PENDING,
                "attempt": 0,
                "created_at": now,
            }
            for moment in times
        )
        advances.append({"id": chrono.id, "next_run_at": following})

    dispatched = _insert_runs(rows)
    db.session.execute(update(Chrono), advances)
    return dispatched, len(chronos)


def _insert_runs(rows):
    if not rows:
        return []
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(ChronoRun)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=["chrono_id", "scheduled_for"],
            index_where=ChronoRun.trigger == Trigger.SCHEDULE,
        )
        .returning(ChronoRun.id, ChronoRun.scheduled_for)
    )
    return [Dispatched(run_id, when) for run_id, when in db.session.execute(statement)]
