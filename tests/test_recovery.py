"""The recovery sweep finds runs whose task the transport lost."""
from datetime import timedelta

from sqlalchemy import func, select

from chronoflow import tasks
from chronoflow.extensions import db
from chronoflow.models import ChronoRun, RunStatus, Trigger, utcnow
from chronoflow.queue import huey
from chronoflow.scheduling import recovery

from .conftest import drain


def recover_lost_runs(**kwargs):
    """The ids one chunk of the sweep sends back to the queue."""
    again, _end = recovery.recover_lost_runs(**kwargs)
    return [run_id for run_id, _webhook in again]


def run_row(chrono, status, age, **fields):
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow() - age, trigger=Trigger.SCHEDULE,
                    status=status, **fields)
    db.session.add(run)
    db.session.commit()
    return run.id


def test_a_pending_run_whose_task_vanished_is_dispatched_again_and_runs(make_chrono, target):
    lost = run_row(make_chrono(url=target.url("/hook")), RunStatus.PENDING, timedelta(minutes=10))

    again, _end = recovery.recover_lost_runs()
    db.session.commit()
    tasks.enqueue_now(again)
    drain()

    assert again == [(lost, True)]
    assert db.session.get(ChronoRun, lost).status == "success"
    assert len(target.received("/hook")) == 1


def test_recent_and_finished_runs_are_left_alone(make_chrono):
    chrono = make_chrono()
    run_row(chrono, RunStatus.PENDING, timedelta(seconds=5))
    run_row(chrono, RunStatus.SUCCESS, timedelta(minutes=10))
    run_row(chrono, RunStatus.RETRYING, timedelta(minutes=10), next_attempt_at=utcnow() + timedelta(minutes=1))
    assert recover_lost_runs() == []


def test_a_run_whose_worker_died_mid_call_is_retried(make_chrono):
    chrono = make_chrono(config={"timeout_ms": 1000, "max_attempts": 3})
    stuck = run_row(chrono, RunStatus.RUNNING, timedelta(minutes=10), attempt=1,
                    started_at=utcnow() - timedelta(minutes=10), attempt_started_at=utcnow() - timedelta(minutes=10))

    assert recover_lost_runs() == [stuck]
    run = db.session.get(ChronoRun, stuck)
    assert run.status == "retrying" and run.result["error_code"] == "worker_lost"


def test_a_run_whose_worker_died_on_its_last_attempt_fails(make_chrono):
    chrono = make_chrono(config={"timeout_ms": 1000, "max_attempts": 1})
    stuck = run_row(chrono, RunStatus.RUNNING, timedelta(minutes=10), attempt=1,
                    started_at=utcnow() - timedelta(minutes=10), attempt_started_at=utcnow() - timedelta(minutes=10))

    assert recover_lost_runs() == []
    run = db.session.get(ChronoRun, stuck)
    assert run.status == "failed" and run.finished_at is not None
    assert run.chrono.last_run_status == "failed"


def test_a_running_run_within_its_timeout_is_left_alone(make_chrono):
    chrono = make_chrono(config={"timeout_ms": 600_000})
    run_row(chrono, RunStatus.RUNNING, timedelta(minutes=5), attempt=1, started_at=utcnow() - timedelta(minutes=5),
            attempt_started_at=utcnow() - timedelta(minutes=5))
    assert recover_lost_runs() == []


def test_a_retry_in_flight_is_judged_by_its_own_start_not_the_first_attempt_s(make_chrono):
    chrono = make_chrono(config={"timeout_ms": 10_000, "max_attempts": 3, "retry_backoff_s": 30})
    # The first attempt began ten minutes ago; the second began two seconds ago and is calling.
    retry = run_row(chrono, RunStatus.RUNNING, timedelta(minutes=10), attempt=2,
                    started_at=utcnow() - timedelta(minutes=10), attempt_started_at=utcnow() - timedelta(seconds=2))
    assert recover_lost_runs() == []
    run = db.session.get(ChronoRun, retry)
    assert (run.status, run.attempt, run.result) == ("running", 2, None)


def test_one_tick_moves_on_every_lost_run_in_a_few_tasks(app, make_chrono):
    app.config["RUN_BATCH_SIZE"] = 500
    chronos = [make_chrono() for _ in range(3)]
    moment = utcnow() - timedelta(minutes=10)
    db.session.add_all(ChronoRun(chrono_id=chronos[n % 3].id, scheduled_for=moment - timedelta(seconds=n),
                                 trigger=Trigger.SCHEDULE, status=RunStatus.PENDING) for n in range(2500))
    db.session.commit()

    assert tasks.recover_lost() == 2500  # more than one chunk (1,000), all in one tick
    assert huey.pending_count() == 5  # in tasks of RUN_BATCH_SIZE, not one task a run
    assert db.session.scalar(select(func.count()).select_from(ChronoRun)) == 2500


def test_a_paced_message_run_is_not_taken_for_dead(app, make_chrono):
    from chronoflow.models import Channel

    channel = Channel(name="loja", session="default")
    db.session.add(channel)
    db.session.commit()
    chrono = make_chrono(target_type="MESSAGE", url=None, channel_id=channel.id, message_template="Oi",
                         recipients=[f"+55 11 98765-43{n:02d}" for n in range(5)], config={"timeout_ms": 1000},
                         schedule="@daily")
    # Five messages 30-60 s apart take minutes: five minutes in, it is still at work.
    run_row(chrono, RunStatus.RUNNING, timedelta(minutes=5), attempt=1, started_at=utcnow() - timedelta(minutes=5),
            attempt_started_at=utcnow() - timedelta(minutes=5))
    assert recover_lost_runs() == []
