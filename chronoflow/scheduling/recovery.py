"""The recovery sweep: finds runs whose task the transport lost and moves them on.

Huey delivers at most once: a SIGKILLed worker, an emptied Redis or a crash
between commit and enqueue leaves a run row that no task will ever touch. The
row is the record, so a periodic sweep finds such rows and re-dispatches them;
the runner's claim makes a duplicate task harmless, and its rules (misfire,
overlap) apply to a recovered run as to any other.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, or_, select, tuple_
from sqlalchemy.orm import joinedload

from .. import executors, observe, outcomes
from ..extensions import db
from ..models import ChronoRun, RunStatus, TargetType, utcnow
from . import rules, streaks

# The status list is written into the SQL, not bound: psycopg prepares a statement
# after 5 executions, and PostgreSQL's generic plan for `status = ANY($1, $2, $3)`
# cannot prove the partial index ix_chrono_runs_open's predicate, so it scanned the
# whole table. Literals keep the index in every plan.
OPEN_STATUSES = bindparam("open_statuses", list(RunStatus.OPEN), expanding=True, literal_execute=True)
CHUNK = 1000


def stale_runs_query(before, limit, after=None):
    """Open runs due before `before` that no task may be working on, oldest first,
    locked; `after`: the (scheduled_for, id) the previous chunk ended at."""
    query = (
        select(ChronoRun)
        .options(joinedload(ChronoRun.chrono, innerjoin=True))
        .where(
            ChronoRun.status.in_(OPEN_STATUSES),
            ChronoRun.scheduled_for < before,
            or_(ChronoRun.status != RunStatus.RETRYING, ChronoRun.next_attempt_at < before),
        )
        .order_by(ChronoRun.scheduled_for, ChronoRun.id)
        .limit(limit)
        .with_for_update(of=ChronoRun, skip_locked=True)
    )
    if after is not None:
        query = query.where(tuple_(ChronoRun.scheduled_for, ChronoRun.id) > tuple_(*after))
    return query


def recover_lost_runs(now=None, limit=CHUNK, after=None, alerts=None):
    """One chunk of the sweep: ([(run id, is a webhook)] to enqueue again, where the
    chunk ended or None when the sweep is done). Flushes, does not commit.

    Alerts for runs this sweep fails are appended to `alerts`, to send after the commit.
    """
    now = now or utcnow()
    config = current_app.config
    grace = timedelta(seconds=config["RECOVERY_AFTER_SECONDS"])
    stale = db.session.scalars(stale_runs_query(now - grace, limit, after)).unique().all()

    again = []
    for run in stale:
        webhook = run.chrono.target_type == TargetType.HTTP
        if run.status != RunStatus.RUNNING:
            again.append((run.id, webhook))  # its task vanished before it started
            continue
        # Judged by this attempt's own start: a retry still calling is alive
        # however long ago the first attempt began.
        attempt_started = run.attempt_started_at or run.started_at
        if attempt_started > now - executors.longest_attempt(run.chrono, config) - grace:
            continue
        # The worker died mid-call. That attempt counts; retry if any are left.
        run.error_message = outcomes.describe("worker_lost", {}, locale="en")
        run.result = {**(run.result or {}), "error_code": "worker_lost", "error_params": {}}
        if run.attempt < rules.max_attempts(run.chrono, config) and rules.may_retry(run):
            run.status = RunStatus.RETRYING
            run.next_attempt_at = now
            again.append((run.id, webhook))
        else:
            run.status = RunStatus.FAILED
            run.finished_at = now
            observe.runs_finished(run.chrono.target_type, RunStatus.FAILED, "worker_lost")
            run.chrono.last_run_status = RunStatus.FAILED
            alert = streaks.record_final(run, now)
            if alert and alerts is not None:
                alerts.append(alert)
    db.session.flush()
    end = (stale[-1].scheduled_for, stale[-1].id) if len(stale) == limit else None
    return again, end
