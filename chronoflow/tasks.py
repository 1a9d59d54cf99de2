"""Huey tasks: thin wrappers that push an app context and call plain functions.

Tasks receive ids, never ORM objects, and are enqueued only after the commit
that wrote the rows they will look for.
"""
import functools
import logging
from collections import defaultdict
from datetime import timedelta, timezone

from .extensions import db
from .models import utcnow
from .queue import huey
from .scheduling import batch, dispatch, heartbeat, recovery, retention, runner, streaks

log = logging.getLogger(__name__)


def in_app_context(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with huey.flask_app.app_context():
            return fn(*args, **kwargs)

    return wrapper


def _every_tick(_now):
    # The consumer calls this every SCHEDULER_INTERVAL seconds (see queue.py).
    return True


@huey.periodic_task(_every_tick, name="dispatch_tick")
@in_app_context
def dispatch_tick():
    dispatch_due()
    alerts = []
    lost = recovery.recover_lost_runs(alerts=alerts)
    retention.prune_runs()
    # The last successful tick is what /api/health reports.
    heartbeat.beat(heartbeat.SCHEDULER, heartbeat.SCHEDULER)
    db.session.commit()
    enqueue_runs_now(lost)
    for alert in alerts:
        streaks.send_alert(alert)


@huey.task(name="execute_run")
@in_app_context
def execute_run(run_id):
    delay = runner.execute_run(run_id)
    if delay is not None:
        execute_run.schedule(args=(run_id,), delay=delay)


@huey.task(name="execute_batch")
@in_app_context
def execute_batch(due, run_ids):
    """Runs due at the same moment `due` (scheduling/batch.py)."""
    result = batch.execute_batch(due, run_ids)
    if result.later is not None:
        execute_batch.schedule(args=(due, run_ids), delay=result.later)
    enqueue_runs_now(result.single)
    schedule_retries(result.retries)


def dispatch_chrono(chrono):
    """After the commit that created or changed `chrono`: a chrono whose first
    occurrence is a few seconds away must not wait for the next tick."""
    if chrono.is_active:
        dispatch_due(chrono_id=chrono.id)


def dispatch_due(chrono_id=None, now=None):
    """Claim and enqueue everything due before the next tick, batch by batch."""
    now = now or utcnow()
    config = huey.flask_app.config
    until = dispatch.horizon(now, config["SCHEDULER_INTERVAL"])
    limit = config["SCHEDULER_BATCH_SIZE"]
    total = 0
    while True:
        runs, claimed = dispatch.dispatch_batch(
            now, until, limit, chrono_id=chrono_id, max_skipped_rows=config["MISFIRE_MAX_SKIPPED_ROWS"]
        )
        db.session.commit()
        enqueue_runs(runs)
        total += len(runs)
        if claimed < limit:
            break
    if total:
        log.info("dispatched %d runs due before %s", total, until.isoformat())
    return total


def enqueue_runs(runs):
    """The runs' tasks, timed to start a moment early; the runners wait for the second.

    Webhook runs due at the same moment share tasks of up to RUN_BATCH_SIZE runs:
    a burst of thousands costs tens of tasks, not thousands.
    """
    size = huey.flask_app.config["RUN_BATCH_SIZE"]
    moments = defaultdict(list)
    tasks = []
    for run in runs:
        if run.batchable and size > 1:
            moments[run.scheduled_for].append(run.run_id)
        else:
            tasks.append((run.scheduled_for, execute_run.s(run.run_id)))
    for moment, run_ids in moments.items():
        if len(run_ids) == 1:
            tasks.append((moment, execute_run.s(run_ids[0])))
            continue
        count = -(-len(run_ids) // size)  # as many tasks as needed, the runs spread evenly
        tasks.extend((moment, execute_batch.s(moment, run_ids[n::count])) for n in range(count))
    _enqueue_at([(moment - runner.EARLY, task) for moment, task in tasks])


def _enqueue_at(timed):
    """(eta, task) pairs: due ones onto the queue, the others onto the schedule."""
    now = utcnow()
    ready, later = [], []
    for eta, task in timed:
        if eta <= now:
            ready.append(task)
        else:
            # Straight onto the schedule: .schedule() would first pass the task
            # through the queue and a worker just to put it there.
            task.eta = eta.astimezone(timezone.utc).replace(tzinfo=None)
            later.append(task)
    # On Redis one command each for the whole batch, not one per run.
    huey.enqueue_many(ready)
    huey.add_schedule_many(later)


def schedule_retries(retries):
    """(run id, seconds) pairs: each run's next attempt, on its own."""
    now = utcnow()
    _enqueue_at([(now + timedelta(seconds=delay), execute_run.s(run_id)) for run_id, delay in retries])


def enqueue_runs_now(run_ids):
    huey.enqueue_many([execute_run.s(run_id) for run_id in run_ids])
