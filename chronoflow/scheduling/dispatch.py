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

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Chrono, ChronoRun, RunStatus, TargetType, Trigger
from ..schedules import next_fire_time

# A tick may be late by a few seconds; the window overlaps the next one by this much.
LOOKAHEAD_MARGIN = timedelta(seconds=15)
# An occurrence this far in the past was missed (scheduler down): it fires once,
# late, and the ones after it are not replayed: never a storm of catch-up calls.
MISSED_AFTER = timedelta(seconds=60)


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


def misfire_policy(chrono):
    return (chrono.config or {}).get("misfire_policy", "coalesce")


def plan(chrono, now, until, max_skipped_rows=100):
    """Fire times of `chrono` from its next_run_at up to `until`, and the one after.

    Occurrences missed by more than MISSED_AFTER (the scheduler was down) follow
    the chrono's misfire policy: "coalesce" fires the first of them once, "skip"
    none; every other missed occurrence is recorded as skipped, never dropped in
    silence. Rows stop at `max_skipped_rows`, plus one that sums up the rest, so an
    every-second chrono down for a week writes ~100 rows, not 600,000.
    """
    cron, tz = chrono.cron, chrono.timezone
    moment = chrono.next_run_at
    resume_at = now - MISSED_AFTER
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


def occurrences(chrono, now, until):
    """Fire times up to `until` and the next next_run_at (the coalescing default)."""
    result = plan(chrono, now, until)
    return result.fire, result.following


def dispatch_batch(now, until, limit, chrono_id=None, max_skipped_rows=100):
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
        result = plan(chrono, now, until, max_skipped_rows)
        rows.extend(_row(chrono, moment, now) for moment in result.fire)
        rows.extend(_skipped_row(chrono, moment, now) for moment in result.skipped)
        if result.more:
            rows.append(_summary_row(chrono, result, now))
        advances.append({"id": chrono.id, "next_run_at": result.following})

    webhooks = {chrono.id for chrono in chronos if chrono.target_type == TargetType.HTTP}
    dispatched = _insert_runs(rows, webhooks)
    db.session.execute(update(Chrono), advances)
    return dispatched, len(chronos)


def _row(chrono, moment, now, **fields):
    return {
        "chrono_id": chrono.id,
        "scheduled_for": moment,
        "trigger": Trigger.SCHEDULE,
        "status": RunStatus.PENDING,
        "attempt": 0,
        "created_at": now,
        "finished_at": None,
        "error_message": None,
        "result": None,
        **fields,
    }


def _skipped_row(chrono, moment, now):
    if misfire_policy(chrono) == "coalesce":
        reason = _("Missed while the scheduler was down; the first missed occurrence ran instead.")
    else:
        reason = _("Missed while the scheduler was down; skipped by the chrono's misfire policy.")
    return _row(chrono, moment, now, status=RunStatus.SKIPPED, finished_at=now, error_message=reason,
                result={"error_code": "missed", "misfire_policy": misfire_policy(chrono)})


def _summary_row(chrono, result, now):
    until = result.more_until.isoformat(timespec="seconds")
    start = result.more_from.isoformat(timespec="seconds")
    if result.more_exact:
        reason = _("%(count)s more occurrences from %(start)s to %(end)s were missed while the scheduler "
                   "was down, and skipped.", count=result.more, start=start, end=until)
    else:
        reason = _("About %(count)s more occurrences from %(start)s to %(end)s were missed while the "
                   "scheduler was down, and skipped.", count=result.more, start=start, end=until)
    return _row(chrono, result.more_until, now, status=RunStatus.SKIPPED, finished_at=now, error_message=reason,
                result={"error_code": "missed", "misfire_policy": misfire_policy(chrono),
                        "skipped_count": result.more, "skipped_count_exact": result.more_exact,
                        "skipped_from": result.more_from.isoformat(), "skipped_until": result.more_until.isoformat()})


def _insert_runs(rows, webhooks=frozenset()):
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
        .returning(ChronoRun.id, ChronoRun.scheduled_for, ChronoRun.status, ChronoRun.chrono_id)
    )
    # Only pending runs need a task; skipped ones are final as written.
    return [Dispatched(run_id, when, chrono_id in webhooks)
            for run_id, when, status, chrono_id in db.session.execute(statement)
            if status == RunStatus.PENDING]
