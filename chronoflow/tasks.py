"""Huey tasks: thin wrappers that push an app context and call plain functions.

Tasks receive ids, never ORM objects, and are enqueued only after the commit
that wrote the rows they will look for.
"""
import functools
import logging
import math
import time
from collections import defaultdict
from datetime import timedelta, timezone

from .extensions import db
from sqlalchemy import delete

from .models import ChronoRun, RunStatus, utcnow
from .queue import huey
from .scheduling import dispatch, heartbeat, recovery, retention, runner, streaks

log = logging.getLogger(__name__)


def in_app_context(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with huey.flask_app.app_context():
            return fn(*args, **kwargs)

    return wrapper


def _every_tick(_now):
    # The consumer calls this on the clock, every SCHEDULER_INTERVAL seconds (see queue.py).
    return True


@huey.periodic_task(_every_tick, name="dispatch_tick")
@in_app_context
def dispatch_tick():
    """Each step on its own: one that fails (and is logged) never stops the others,
    and the next tick starts each of them afresh."""
    for step in (dispatch_due, recover_lost, retention.prune_tick):
        _step(step)
    # The tick ran: /api/health reads this, and tells a failing dispatch apart
    # by the occurrences it leaves behind.
    _step(lambda: heartbeat.beat(heartbeat.SCHEDULER, heartbeat.SCHEDULER))


def _step(step):
    started = time.monotonic()
    try:
        step()
        db.session.commit()
    except Exception:
        log.exception("tick step %s failed after %.1f s", getattr(step, "__name__", step), time.monotonic() - started)
        db.session.rollback()


@huey.task(name="execute_runs")
@in_app_context
def execute_runs(due, run_ids, share=False):
    """Runs due at `due` (scheduling/runner.py); `share`: one of a burst's tasks."""
    result = runner.execute(due, run_ids, share=share)
    for when, ids in result.later:
        _enqueue_at([(when - runner.EARLY, execute_runs.s(when, ids))])
    schedule_retries(result.retries)


# The task names of earlier versions, for tasks still queued when a new version starts.
@huey.task(name="execute_run")
def execute_run(run_id):
    execute_runs.call_local(utcnow(), [run_id])


@huey.task(name="execute_batch")
def execute_batch(due, run_ids):
    execute_runs.call_local(due, run_ids, True)


class QueueUnavailable(Exception):
    """The queue did not take a task."""


def dispatch_chrono(chrono):
    """Commit the request's changes to `chrono` together with its runs due before
    the next tick (a chrono whose first occurrence is seconds away must not wait for
    the tick): one transaction. Then queue them; without a queue the chrono is saved
    all the same, and the tick dispatches it later."""
    now = utcnow()
    horizon = dispatch.horizon(now, huey.flask_app.config["SCHEDULER_INTERVAL"])
    if not chrono.is_active or chrono.next_run_at is None or chrono.next_run_at > horizon:
        # Nothing due before the next tick (it dispatches them). What was written is
        # what the answer shows: kept, not read back in another round trip.
        session = db.session()
        session.expire_on_commit = False
        try:
            session.commit()
        finally:
            session.expire_on_commit = True
        return
    db.session.flush()
    try:
        dispatch_due(chrono_id=chrono.id, now=now)
    except QueueUnavailable:
        log.warning("chrono %s saved; its first runs wait for the next tick (the queue did not take them)",
                    chrono.id, exc_info=True)


def dispatch_due(chrono_id=None, now=None):
    """Claim and enqueue everything due before the next tick, batch by batch.

    Each batch is committed before its tasks are queued (a task never looks for a
    row that is not there yet). Runs the queue refuses are withdrawn (their
    chronos' cursors go back, so the next tick dispatches them again) and
    QueueUnavailable goes up.
    """
    now = now or utcnow()
    config = huey.flask_app.config
    until = dispatch.horizon(now, config["SCHEDULER_INTERVAL"])
    limit = config["SCHEDULER_BATCH_SIZE"]
    total = 0
    while True:
        runs, claimed, advanced = dispatch.dispatch_batch(
            now, until, limit, chrono_id=chrono_id, max_skipped_rows=config["MISFIRE_MAX_SKIPPED_ROWS"]
        )
        db.session.commit()
        try:
            enqueue_runs(runs)
        except Exception as exc:
            dispatch.withdraw(runs)
            db.session.commit()
            raise QueueUnavailable() from exc
        total += len(runs)
        if claimed < limit and advanced == claimed:
            break
    if total:
        log.info("dispatched %d runs due before %s", total, until.isoformat())
    return total


def recover_lost():
    """The recovery sweep, chunk by chunk until every stale run is moved on."""
    after, total = None, 0
    while True:
        alerts = []
        again, after = recovery.recover_lost_runs(after=after, alerts=alerts)
        db.session.commit()
        enqueue_now(again)
        for alert in alerts:
            streaks.send_alert(alert)
        total += len(again)
        if after is None:
            break
    if total:
        log.warning("recovered %d runs whose tasks were lost", total)
    return total


def enqueue_runs(runs):
    """The dispatcher's runs, timed to start a moment early; the runner waits for the second.

    Webhook runs due at the same moment share tasks of up to RUN_BATCH_SIZE runs:
    a burst of thousands costs tens of tasks, not thousands. A WhatsApp run has
    a task of its own: it paces its messages for minutes.
    """
    tasks = []
    for moment, run_ids, share in _grouped(((run.scheduled_for, run.run_id, run.batchable) for run in runs)):
        tasks.append((moment - runner.EARLY, execute_runs.s(moment, run_ids, share)))
    _enqueue_at(tasks)


def _grouped(runs):
    """(moment, run ids, share) task arguments for (moment, run id, is a webhook) triples."""
    size = huey.flask_app.config["RUN_BATCH_SIZE"]
    moments = defaultdict(list)
    for moment, run_id, webhook in runs:
        if webhook:
            moments[moment].append(run_id)
        else:
            yield moment, [run_id], False
    for moment, run_ids in moments.items():
        count = -(-len(run_ids) // size)  # as many tasks as needed, the runs spread evenly
        for n in range(count):
            yield moment, run_ids[n::count], count > 1


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
    """(run id, seconds) pairs: the next attempts, those due in the same second in one task."""
    now = utcnow()
    seconds = defaultdict(list)
    for run_id, delay in retries:
        seconds[math.ceil(delay)].append(run_id)  # never before the delay (a target's Retry-After)
    _enqueue_at([(now + timedelta(seconds=delay), execute_runs.s(now + timedelta(seconds=delay), run_ids))
                 for delay, run_ids in seconds.items()])


def run_now(run, webhook):
    """After the commit that wrote the manual `run`: its task, at once. Without a
    queue the run is taken back and QueueUnavailable raised: a "run now" that
    would only happen minutes later, by the recovery sweep, is not what was asked."""
    try:
        enqueue_now([(run.id, webhook)])
    except Exception as exc:
        db.session.rollback()
        db.session.execute(delete(ChronoRun).where(ChronoRun.id == run.id, ChronoRun.status == RunStatus.PENDING))
        db.session.commit()
        raise QueueUnavailable() from exc


def enqueue_now(runs):
    """(run id, is a webhook) pairs to run at once: manual runs, recovered runs."""
    now = utcnow()
    _enqueue_at([(now, execute_runs.s(now, run_ids)) for _moment, run_ids, _share
                 in _grouped((now, run_id, webhook) for run_id, webhook in runs)])
