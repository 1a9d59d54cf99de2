"""The recovery sweep: finds runs whose task the transport lost and moves them on.

Huey delivers at most once: a SIGKILLed worker, an emptied Redis or a crash
between commit and enqueue leaves a run row that no task will ever touch. The
row is the record, so a periodic sweep finds such rows and re-dispatches them;
the executor's claim makes a duplicate task harmless.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, or_, select

from .. import executors
from ..extensions import db
from ..models import ChronoRun, RunStatus, utcnow
from . import streaks
from .runner import may_retry

# The status list is written into the SQL, not bound: psycopg prepares a statement
# after 5 executions, and PostgreSQL's generic plan for `status = ANY($1, $2, $3)`
# cannot prove the partial index ix_chrono_runs_open's predicate, so it scanned the
# whole table. Literals keep the index in every plan.
OPEN_STATUSES = bindparam("open_statuses", list(RunStatus.OPEN), expanding=True, literal_execute=True)


def stale_runs_query(before, limit):
    """Open runs due before `before` that no task may be working on, oldest first, locked."""
    return (
        select(ChronoRun)
        .where(
            ChronoRun.status.in_(OPEN_STATUSES),
            ChronoRun.scheduled_for < before,
            or_(ChronoRun.status != RunStatus.RETRYING, ChronoRun.next_attempt_at < before),
        )
        .order_by(ChronoRun.scheduled_for)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def recover_lost_runs(now=None, limit=1000, alerts=None):
    """Run ids to enqueue again. Flushes, does not commit.

    Alerts for runs this sweep fails are appended to `alerts`, to send after the commit.
    """
    now = now or utcnow()
    config = current_app.config
    grace = timedelta(seconds=config["RECOVERY_AFTER_SECONDS"])
    stale = db.session.scalars(stale_runs_query(now - grace, limit)).all()

    again = []
    for run in stale:
        if run.status != RunStatus.RUNNING:
            again.append(run.id)  # its task vanished before it started
            continue
        timeout = executors.longest_attempt(run.chrono, config)
        if run.started_at > now - timeout - grace:
            continue  # may still be running
        # The worker died mid-call. That attempt counts; retry if any are left.
        max_attempts = (run.chrono.config or {}).get("max_attempts", config["DEFAULT_MAX_ATTEMPTS"])
        run.error_message = "The worker stopped during this attempt."
        run.result = {**(run.result or {}), "error_code": "worker_lost"}
        if run.attempt < max_attempts and may_retry(run):
            run.status = RunStatus.RETRYING
            run.next_attempt_at = now
            again.append(run.id)
        else:
            run.status = RunStatus.FAILED
            run.finished_at = now
            run.chrono.last_run_status = RunStatus.FAILED
            alert = streaks.record_final(run, now)
            if alert and alerts is not None:
                alerts.append(alert)
    db.session.flush()
    return again
