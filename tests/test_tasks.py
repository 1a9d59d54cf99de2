"""The Huey side: what goes on the queue and the schedule, on an SQLite file and on Redis."""
from datetime import timedelta, timezone

from sqlalchemy import select

from chronoflow import tasks
from chronoflow.chronos import service
from chronoflow.extensions import db
from chronoflow.models import ChronoRun, RunStatus, Trigger, utcnow
from chronoflow.queue import huey

from .conftest import drain
from .support.target import Reply


def all_runs():
    db.session.expire_all()
    return db.session.scalars(select(ChronoRun).order_by(ChronoRun.scheduled_for)).all()


def test_future_runs_go_on_the_schedule_a_moment_early(make_chrono):
    chrono = make_chrono(schedule="*/10 * * * * *")
    chrono.next_run_at = utcnow() + timedelta(seconds=5)
    db.session.commit()

    count = tasks.dispatch_due()

    runs = all_runs()
    assert count == len(runs) >= 7
    etas = sorted(task.eta for task in huey.scheduled())
    assert etas == [(run.scheduled_for - timedelta(seconds=1)).astimezone(timezone.utc).replace(tzinfo=None)
                    for run in runs]
    assert huey.pending_count() == 0


def test_a_due_occurrence_goes_straight_to_the_queue_and_runs(make_chrono, target):
    chrono = make_chrono(url=target.url("/due"), schedule="@yearly")
    chrono.next_run_at = utcnow() - timedelta(seconds=5)
    db.session.commit()

    tasks.dispatch_due(chrono_id=chrono.id)
    assert huey.pending_count() == 1
    drain()

    (run,) = [r for r in all_runs() if r.status == RunStatus.SUCCESS]
    assert run.http_status == 200 and run.trigger == Trigger.SCHEDULE
    assert len(target.received("/due")) == 1


def test_a_retry_goes_back_on_the_schedule_and_succeeds(make_chrono, target):
    target.respond("/flaky", [Reply(502), Reply(200, b"back")])
    run = service.trigger_now(make_chrono(url=target.url("/flaky"), is_active=False))
    db.session.commit()
    tasks.enqueue_now([(run.id, True)])

    drain()  # first attempt: 502, retry scheduled a second or so later
    assert huey.scheduled_count() == 1
    assert db.session.get(ChronoRun, run.id).status == RunStatus.RETRYING

    drain(until=utcnow() + timedelta(seconds=30))
    db.session.expire_all()
    done = db.session.get(ChronoRun, run.id)
    assert (done.status, done.attempt, done.response_snippet) == ("success", 2, "back")


def test_the_tick_dispatches_due_chronos_and_recovers_lost_runs(make_chrono, target):
    chrono = make_chrono(url=target.url("/tick"), schedule="@yearly")
    chrono.next_run_at = utcnow() - timedelta(seconds=2)
    lost = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow() - timedelta(minutes=30),
                     trigger=Trigger.SCHEDULE, status=RunStatus.PENDING)
    db.session.add(lost)
    db.session.commit()
    huey.storage.flush_all()

    tasks.dispatch_tick.call_local()
    drain()

    statuses = [run.status for run in all_runs()]
    assert statuses.count(RunStatus.SUCCESS) == 2
    assert len(target.received("/tick")) == 2
