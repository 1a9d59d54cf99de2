"""Executing a run against a real HTTP target, on SQLite and on PostgreSQL."""
import threading
import time
from datetime import timedelta

from chronoflow.chronos import service
from chronoflow.executors import RUN_ID_HEADER, SCHEDULED_FOR_HEADER
from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, RunStatus, Trigger, utcnow
from .conftest import retry_delay, run_task
from .support.target import Reply


def execute_run(run_id, **kwargs):
    """The retry delay the run's task asks for, or None."""
    return retry_delay(run_task(run_id, **kwargs))


def scheduled_run(chrono, at=None):
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=at or utcnow() - timedelta(seconds=1),
                    trigger=Trigger.SCHEDULE, status=RunStatus.PENDING)
    db.session.add(run)
    db.session.flush()
    run_id = run.id
    db.session.commit()
    return run_id


def reload(run_id):
    db.session.expire_all()
    return db.session.get(ChronoRun, run_id)


def test_a_successful_run_is_recorded_on_the_run_and_the_chrono(make_chrono, target):
    target.respond("/hook", body=b'{"ok": true}')
    chrono = make_chrono(url=target.url("/hook"), method="POST", headers={"X-Key": "k"}, payload={"n": 1})
    run_id = scheduled_run(chrono)

    assert execute_run(run_id) is None

    run = reload(run_id)
    assert (run.status, run.attempt, run.http_status, run.response_snippet) == ("success", 1, 200, '{"ok": true}')
    assert run.error_message is None and run.duration_ms is not None and run.finished_at >= run.started_at
    assert run.started_at >= run.scheduled_for
    assert run.chrono.last_run_status == "success" and run.chrono.last_run_at == run.started_at
    got = target.received("/hook")[0]
    assert got.method == "POST" and got.body == b'{"n": 1}' and got.headers["X-Key"] == "k"
    assert got.headers[RUN_ID_HEADER] == str(run_id)
    assert got.headers[SCHEDULED_FOR_HEADER] == run.scheduled_for.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_failure_is_retried_with_the_same_idempotency_headers(make_chrono, target):
    target.respond("/hook", [Reply(500, b"oops"), Reply(200, b"fine")])
    run_id = scheduled_run(make_chrono(url=target.url("/hook")))

    delay = execute_run(run_id)

    run = reload(run_id)
    assert delay > 0
    assert (run.status, run.attempt, run.http_status, run.error_message) == ("retrying", 1, 500, "HTTP 500 Internal Server Error")
    assert run.next_attempt_at > run.started_at and run.finished_at is None

    assert execute_run(run_id) is None
    run = reload(run_id)
    assert (run.status, run.attempt, run.http_status, run.error_message) == ("success", 2, 200, None)
    assert [a["http_status"] for a in run.result["attempts"]] == [500, 200]
    first, second = target.received("/hook")
    assert first.headers[RUN_ID_HEADER] == second.headers[RUN_ID_HEADER]
    assert first.headers[SCHEDULED_FOR_HEADER] == second.headers[SCHEDULED_FOR_HEADER]


def test_a_client_error_is_not_retried(make_chrono, target):
    target.respond("/hook", status=404, body=b"no such hook")
    run_id = scheduled_run(make_chrono(url=target.url("/hook")))

    assert execute_run(run_id) is None
    run = reload(run_id)
    assert (run.status, run.attempt, run.http_status, run.response_snippet) == ("failed", 1, 404, "no such hook")
    assert run.chrono.last_run_status == "failed"


def test_it_fails_when_attempts_run_out(make_chrono, target):
    target.respond("/hook", status=503)
    run_id = scheduled_run(make_chrono(url=target.url("/hook"), config={"max_attempts": 2}))

    assert execute_run(run_id) is not None
    assert execute_run(run_id) is None
    run = reload(run_id)
    assert (run.status, run.attempt) == ("failed", 2)
    assert len(target.received("/hook")) == 2


def test_a_timeout_is_recorded_as_an_error(make_chrono, target):
    target.respond("/hook", delay=1.5)
    run_id = scheduled_run(make_chrono(url=target.url("/hook"), config={"timeout_ms": 300, "max_attempts": 1}))
    execute_run(run_id)
    run = reload(run_id)
    assert run.status == "failed" and run.http_status is None
    assert "0.3 s" in run.error_message and run.result["attempts"][0]["error_code"] == "timeout"


def test_a_paused_chrono_never_fires_even_with_a_task_queued(make_chrono, target):
    chrono = make_chrono(url=target.url("/hook"))
    run_id = scheduled_run(chrono)
    db.session.get(Chrono, chrono.id).is_active = False  # paused behind the dispatcher's back
    db.session.commit()

    assert execute_run(run_id) is None
    assert reload(run_id).status == "cancelled"
    assert target.received() == []


def test_pausing_cancels_due_runs_and_withdraws_future_ones(make_chrono, target):
    chrono = make_chrono(url=target.url("/hook"))
    due = scheduled_run(chrono)
    future = scheduled_run(chrono, at=utcnow() + timedelta(seconds=30))

    service.pause(db.session.get(Chrono, chrono.id))
    db.session.commit()

    assert reload(due).status == "cancelled"
    assert reload(future) is None
    assert execute_run(due) is None and execute_run(future) is None
    assert target.received() == []


def test_a_deleted_chrono_never_fires(make_chrono, target):
    chrono = make_chrono(url=target.url("/hook"))
    run_id = scheduled_run(chrono)
    service.delete_chrono(db.session.get(Chrono, chrono.id))
    db.session.commit()

    assert execute_run(run_id) is None
    assert target.received() == []


def test_a_manual_run_of_a_paused_chrono_does_run(make_chrono, target):
    chrono = make_chrono(url=target.url("/hook"), is_active=False)
    run = service.trigger_now(chrono)
    db.session.commit()
    execute_run(run.id)
    assert reload(run.id).status == "success"
    assert len(target.received()) == 1


def test_a_finished_run_delivered_again_is_not_resent(make_chrono, target):
    run_id = scheduled_run(make_chrono(url=target.url("/hook")))
    execute_run(run_id)
    execute_run(run_id)
    assert len(target.received()) == 1


def test_two_workers_with_the_same_run_call_the_target_once(app, make_chrono, target):
    target.respond("/hook", delay=0.3)
    run_id = scheduled_run(make_chrono(url=target.url("/hook")))

    def work():
        with app.app_context():
            execute_run(run_id)
            db.session.remove()

    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert len(target.received()) == 1
    assert reload(run_id).attempt == 1


def test_a_task_that_arrives_early_waits_for_the_exact_moment(make_chrono, target):
    run_id = scheduled_run(make_chrono(url=target.url("/hook")), at=utcnow() + timedelta(milliseconds=400))
    execute_run(run_id)
    run = reload(run_id)
    assert 0 <= run.lateness_ms < 900  # waited for its second, and no re-delivery a second later
    assert target.received()[0].at >= run.scheduled_for.timestamp()
    assert run.attempt == 1 and [a["attempt"] for a in run.result["attempts"]] == [1]


def test_a_task_that_arrives_far_too_early_comes_back_later(make_chrono, target):
    run_id = scheduled_run(make_chrono(url=target.url("/hook")), at=utcnow() + timedelta(seconds=30))
    started = time.monotonic()
    result = run_task(run_id, due=utcnow())  # a re-delivery, long before the run's time
    assert time.monotonic() - started < 1
    assert result.later == [(reload(run_id).scheduled_for, [run_id])] and result.retries == []
    assert reload(run_id).status == "pending" and target.received() == []


def test_the_outcome_of_an_attempt_given_up_for_dead_is_not_kept(make_chrono):
    from chronoflow.executors.outcome import Outcome
    from chronoflow.scheduling.runner import Claimed, record

    run_id = scheduled_run(make_chrono())
    run = reload(run_id)
    run.status, run.attempt = RunStatus.RUNNING, 2  # the sweep retried it: attempt 2 owns it now
    db.session.commit()

    late = Outcome(ok=False, error="from the worker that was thought dead", retryable=True)
    assert record([Claimed(run_id, 1, utcnow(), None, 3)], [late]) == []
    run = reload(run_id)
    assert (run.status, run.attempt, run.error_message) == ("running", 2, None)


def test_an_outcome_waits_for_the_database_rather_than_calling_the_target_twice(make_chrono, target, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from chronoflow.scheduling import runner

    real = runner.record
    failures = iter([OperationalError("UPDATE", {}, Exception("server closed the connection"))] * 2)

    def database_down_twice(*args):
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args)

    monkeypatch.setattr(runner, "record", database_down_twice)
    pauses = []
    run_id = scheduled_run(make_chrono(url=target.url("/once")))

    assert execute_run(run_id, sleep=pauses.append) is None
    assert reload(run_id).status == "success" and len(target.received("/once")) == 1
    assert pauses == [0.5, 1.0]


# What happens to the rows while a call is out: a successful run of a chrono with no
# failures in a row is recorded from what its claim read (PostgreSQL), so whatever
# changed meanwhile must survive the record. On SQLite the record reads again under
# the write lock; the same must hold.

def _succeeding_after(meanwhile):
    from chronoflow.executors.outcome import Outcome

    def fire(calls):
        meanwhile()
        return [Outcome(ok=True, http_status=200, snippet="ok", duration_ms=1, result={}) for _call in calls]
    return fire


def test_a_success_taken_over_while_its_call_was_out_is_not_recorded(make_chrono):
    from prometheus_client import REGISTRY

    run_id = scheduled_run(make_chrono())
    chrono_id = reload(run_id).chrono_id

    def swept():  # the sweep took the attempt for dead and started attempt 2
        db.session.execute(db.update(ChronoRun).where(ChronoRun.id == run_id).values(attempt=2))
        db.session.commit()

    successes = REGISTRY.get_sample_value("chronoflow_runs_total", {"target": "webhook", "status": "success"}) or 0
    result = run_task(run_id, fire=_succeeding_after(swept))

    run = reload(run_id)
    assert (run.status, run.attempt, run.result) == ("running", 2, None) and result.retries == []
    assert db.session.get(Chrono, chrono_id).last_run_status is None
    assert (REGISTRY.get_sample_value("chronoflow_runs_total", {"target": "webhook", "status": "success"}) or 0) \
        == successes


def test_a_pause_and_the_dispatcher_s_cursor_set_during_the_call_survive_its_record(make_chrono):
    chrono = make_chrono()
    run_id = scheduled_run(chrono)
    later = utcnow() + timedelta(days=3)

    def meanwhile():
        db.session.execute(db.update(Chrono).where(Chrono.id == chrono.id).values(
            is_active=False, next_run_at=later))
        db.session.commit()

    run_task(run_id, fire=_succeeding_after(meanwhile))

    db.session.expire_all()
    chrono = db.session.get(Chrono, chrono.id)
    assert (chrono.is_active, chrono.next_run_at, chrono.last_run_status) == (False, later, "success")
    assert reload(run_id).status == "success"


def test_a_record_made_again_after_a_database_error_keeps_one_entry_per_attempt(make_chrono, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from chronoflow.scheduling import runner

    run_id = scheduled_run(make_chrono())
    real, failures = runner._write, [OperationalError("UPDATE", {}, Exception("server closed the connection"))]

    def down_once(*args):
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(runner, "_write", down_once)
    run_task(run_id, fire=_succeeding_after(lambda: None), sleep=lambda _s: None)

    run = reload(run_id)
    assert run.status == "success" and [a["attempt"] for a in run.result["attempts"]] == [1]
