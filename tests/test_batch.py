"""Runs due at the same moment, executed in one task (the runner's one path, with
many runs): on SQLite and on PostgreSQL."""
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from chronoflow import tasks
from chronoflow.executors import RUN_ID_HEADER, SCHEDULED_FOR_HEADER
from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, RunStatus, Trigger, utcnow
from chronoflow.queue import huey
from chronoflow.scheduling import runner
from chronoflow.scheduling.calls import fire_calls
from chronoflow.scheduling.recovery import recover_lost_runs

from .conftest import drain
from .support.target import Reply


def execute_batch(due, run_ids, **kwargs):
    """What one of a burst's tasks does."""
    return runner.execute(due, run_ids, share=True, **kwargs)


def due_runs(chronos, at):
    """One pending scheduled run per chrono, all due at `at`; their ids."""
    runs = [ChronoRun(chrono_id=c.id, scheduled_for=at, trigger=Trigger.SCHEDULE, status=RunStatus.PENDING)
            for c in chronos]
    db.session.add_all(runs)
    db.session.commit()
    return [run.id for run in runs]


def rows(run_ids):
    db.session.expire_all()
    return {run.id: run for run in db.session.scalars(select(ChronoRun).where(ChronoRun.id.in_(run_ids)))}


def test_the_dispatcher_gives_runs_due_together_to_few_tasks_that_fire_and_record_them_all(app, make_chrono, target):
    app.config["RUN_BATCH_SIZE"] = 4
    at = (utcnow() - timedelta(seconds=3)).replace(microsecond=0)
    for n in range(10):
        chrono = make_chrono(url=target.url(f"/hook/{n}"), schedule="@yearly")
        chrono.next_run_at = at
    db.session.commit()

    assert tasks.dispatch_due() == 10
    assert huey.pending_count() == 3  # 10 runs in tasks of at most 4: 4, 3, 3
    assert drain() == 3

    runs = db.session.scalars(select(ChronoRun)).all()
    assert len(runs) == 10
    assert {(run.status, run.attempt, run.http_status) for run in runs} == {("success", 1, 200)}
    assert all(run.started_at >= run.scheduled_for and run.finished_at >= run.started_at for run in runs)
    calls = target.received()
    assert sorted(int(call.headers[RUN_ID_HEADER]) for call in calls) == sorted(run.id for run in runs)
    assert {call.headers[SCHEDULED_FOR_HEADER] for call in calls} == {at.isoformat().replace("+00:00", "Z")}
    assert all(chrono.last_run_status == "success" for chrono in db.session.scalars(select(Chrono)))


def test_a_lone_run_and_message_runs_get_a_task_each(app, make_chrono):
    from chronoflow.models import Channel

    channel = Channel(name="loja", session="default")
    db.session.add(channel)
    db.session.commit()
    at = utcnow() + timedelta(seconds=30)
    lone = make_chrono(schedule="@yearly")
    messages = [make_chrono(target_type="MESSAGE", url=None, channel_id=channel.id, message_template="Oi",
                            recipients=["+55 11 98765-4321"], schedule="@yearly") for _ in range(2)]
    lone.next_run_at = at
    for chrono in messages:
        chrono.next_run_at = at + timedelta(seconds=1)  # due together, but they pace themselves for minutes
    db.session.commit()
    tasks.dispatch_due()
    scheduled = huey.scheduled()
    assert [task.name for task in scheduled] == ["execute_runs"] * 3
    assert sorted(len(task.args[1]) for task in scheduled) == [1, 1, 1]
    assert not any(task.args[2] for task in scheduled)  # nothing of their moments to share


def test_success_failure_and_retry_in_one_batch(make_chrono, target):
    target.respond("/ok", body=b"fine")
    target.respond("/missing", status=404)
    target.respond("/flaky", [Reply(503), Reply(200, b"back")])
    target.respond("/down", status=500)
    chronos = [make_chrono(url=target.url("/ok")), make_chrono(url=target.url("/missing")),
               make_chrono(url=target.url("/flaky")), make_chrono(url=target.url("/down"), config={"max_attempts": 1})]
    ok, missing, flaky, down = ids = due_runs(chronos, utcnow() - timedelta(seconds=1))

    result = execute_batch(utcnow() - timedelta(seconds=1), ids)

    runs = rows(ids)
    assert [(runs[i].status, runs[i].attempt, runs[i].http_status) for i in ids] == [
        ("success", 1, 200), ("failed", 1, 404), ("retrying", 1, 503), ("failed", 1, 500)]
    assert runs[ok].response_snippet == "fine" and runs[flaky].finished_at is None
    assert runs[down].error_message == "HTTP 500 Internal Server Error"
    assert [run_id for run_id, _ in result.retries] == [flaky] and result.retries[0][1] > 0
    assert [a["http_status"] for a in runs[missing].result["attempts"]] == [404]
    assert runs[ok].result["request"]["headers"][RUN_ID_HEADER] == str(ok)

    tasks.schedule_retries(result.retries)
    drain(until=utcnow() + timedelta(seconds=30))
    run = rows([flaky])[flaky]
    assert (run.status, run.attempt, run.response_snippet) == ("success", 2, "back")
    assert Counter(call.path for call in target.received()) == {"/ok": 1, "/missing": 1, "/flaky": 2, "/down": 1}


def test_runs_taken_finished_or_paused_are_left_alone_or_cancelled(make_chrono, target):
    chronos = [make_chrono(url=target.url(f"/hook/{n}")) for n in range(4)]
    taken, finished, paused, fresh = ids = due_runs(chronos, utcnow() - timedelta(seconds=1))
    db.session.execute(update(ChronoRun).where(ChronoRun.id == taken).values(status=RunStatus.RUNNING, attempt=1))
    db.session.execute(update(ChronoRun).where(ChronoRun.id == finished).values(status=RunStatus.SUCCESS))
    db.session.execute(update(Chrono).where(Chrono.id == chronos[2].id).values(is_active=False))
    db.session.commit()

    assert execute_batch(utcnow(), ids).retries == []

    runs = rows(ids)
    assert [(runs[i].status, runs[i].attempt) for i in ids] == [
        ("running", 1), ("success", 0), ("cancelled", 0), ("success", 1)]
    assert runs[paused].result["error_code"] == "cancelled"
    assert [call.path for call in target.received()] == ["/hook/3"]


def test_the_overlap_policy_skips_a_run_whose_previous_one_is_still_running(make_chrono, target):
    busy = make_chrono(url=target.url("/busy"), schedule="* * * * *", config={"overlap_policy": "skip"})
    calm = make_chrono(url=target.url("/calm"), schedule="* * * * *", config={"overlap_policy": "skip"})
    allowed = make_chrono(url=target.url("/allowed"), schedule="* * * * *", config={"overlap_policy": "allow"})
    now = utcnow()
    for chrono in (busy, allowed):  # a run of each is mid-call
        db.session.add(ChronoRun(chrono_id=chrono.id, scheduled_for=now - timedelta(seconds=61), trigger="schedule",
                                 status=RunStatus.RUNNING, attempt=1, started_at=now - timedelta(seconds=2),
                                 attempt_started_at=now - timedelta(seconds=2)))
    ids = due_runs([busy, calm, allowed], now - timedelta(seconds=1))

    execute_batch(now, ids)

    runs = rows(ids)
    assert [runs[i].status for i in ids] == ["skipped", "success", "success"]
    assert runs[ids[0]].result["error_code"] == "overlap"
    assert sorted(call.path for call in target.received()) == ["/allowed", "/calm"]


def test_the_misfire_policy_decides_what_a_batch_of_missed_chronos_fires(make_chrono, target):
    missed = (utcnow() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    coalesce = [make_chrono(url=target.url("/coalesce"), schedule="* * * * *") for _ in range(3)]
    skip = [make_chrono(url=target.url("/skip"), schedule="* * * * *", config={"misfire_policy": "skip"})
            for _ in range(2)]
    for chrono in coalesce + skip:
        chrono.next_run_at = missed
    db.session.commit()

    dispatched = utcnow()
    tasks.dispatch_due()
    drain()

    # Of the occurrences missed (more than the grace, a minute, late when they were
    # dispatched; the oldest ten minutes), a coalesce chrono calls once, a skip chrono
    # never. (The last minute's occurrence is not missed: it runs as usual.)
    late = db.session.scalars(select(ChronoRun).where(ChronoRun.scheduled_for < dispatched - timedelta(minutes=2)))
    outcomes = Counter((run.chrono.config.get("misfire_policy", "coalesce"), run.status) for run in late)
    assert outcomes[("coalesce", "success")] == 3 and outcomes[("skip", "success")] == 0
    assert outcomes[("skip", "skipped")] >= 2 * 8
    late_calls = [call for call in target.received() if call.at - datetime.fromisoformat(
        call.headers[SCHEDULED_FOR_HEADER].replace("Z", "+00:00")).timestamp() > 120]
    assert sorted(call.path for call in late_calls) == ["/coalesce"] * 3


def test_a_batch_delivered_early_comes_back_on_time_without_touching_a_row(make_chrono, target):
    due = utcnow() + timedelta(seconds=30)
    ids = due_runs([make_chrono(url=target.url("/hook")) for _ in range(2)], due)
    result = execute_batch(due, ids)  # delivered half a minute early
    assert result.later == [(due, ids)]
    assert {run.status for run in rows(ids).values()} == {"pending"} and target.received() == []


def test_a_batch_waits_for_its_second(make_chrono, target):
    due = utcnow() + timedelta(milliseconds=400)
    ids = due_runs([make_chrono(url=target.url("/hook")) for _ in range(2)], due)
    execute_batch(due, ids)
    assert all(call.at >= due.timestamp() for call in target.received())
    assert all(0 <= run.lateness_ms < 900 for run in rows(ids).values())  # not a re-delivery a second later


def test_an_outcome_of_an_attempt_given_up_for_dead_is_not_kept(make_chrono, target):
    ids = due_runs([make_chrono(url=target.url("/hook")) for _ in range(2)], utcnow() - timedelta(seconds=1))

    def sweep_retakes_the_first_meanwhile(calls):
        outcomes = fire_calls(calls)
        db.session.execute(update(ChronoRun).where(ChronoRun.id == ids[0]).values(attempt=2))
        db.session.commit()
        return outcomes

    execute_batch(utcnow(), ids, fire=sweep_retakes_the_first_meanwhile)
    runs = rows(ids)
    assert (runs[ids[0]].status, runs[ids[0]].attempt, runs[ids[0]].result) == ("running", 2, None)
    assert runs[ids[1]].status == "success"


class WorkerKilled(BaseException):
    """What a kill -9 looks like from inside: nothing after this point happens."""


@pytest.mark.parametrize("calls_made", [False, True], ids=["before-the-calls", "after-the-calls"])
def test_a_batch_lost_between_claim_and_record_is_finished_by_recovery_exactly_once(
        app, make_chrono, target, calls_made):
    app.config.update(HTTP_REQUEST_TIMEOUT_MS=1000)
    ids = due_runs([make_chrono(url=target.url(f"/hook/{n}")) for n in range(5)], utcnow() - timedelta(seconds=1))

    def killed(calls):
        if calls_made:
            fire_calls(calls)
        raise WorkerKilled()

    with pytest.raises(WorkerKilled):
        execute_batch(utcnow(), ids, fire=killed)
    db.session.rollback()
    assert {(run.status, run.attempt) for run in rows(ids).values()} == {("running", 1)}

    later = utcnow() + timedelta(minutes=10)  # past the timeout and RECOVERY_AFTER_SECONDS
    again, _end = recover_lost_runs(now=later)
    db.session.commit()
    assert sorted(again) == sorted((run_id, True) for run_id in ids)
    assert recover_lost_runs(now=later) == ([], None)  # retrying, with its task: not found twice
    tasks.enqueue_now(again)
    drain()

    runs = rows(ids)
    assert {(run.status, run.attempt) for run in runs.values()} == {("success", 2)}
    assert [a["attempt"] for a in runs[ids[0]].result["attempts"]] == [2]
    per_run = Counter(int(call.headers[RUN_ID_HEADER]) for call in target.received())
    assert per_run == {run_id: 2 if calls_made else 1 for run_id in ids}  # never more than the attempts
    tasks.enqueue_now([(run_id, True) for run_id in ids])  # a stray duplicate task: the rows say they are done
    drain()
    assert len(target.received()) == sum(per_run.values())


def test_an_unexpected_error_in_one_call_costs_only_that_run(make_chrono, target, monkeypatch):
    ids = due_runs([make_chrono(url=target.url(f"/hook/{n}")) for n in range(3)], utcnow() - timedelta(seconds=1))
    real = runner.executors.prepare

    def prepare(chrono, config, run=None):
        call = real(chrono, config, run)
        if run.id != ids[1]:
            return call

        def broken():
            raise RuntimeError("bug")

        return broken

    monkeypatch.setattr(runner.executors, "prepare", prepare)
    execute_batch(utcnow(), ids)
    runs = rows(ids)
    assert [runs[i].status for i in ids] == ["success", "retrying", "success"]
    assert runs[ids[1]].result["attempts"][0]["error_code"] == "internal"


def test_a_batch_keeps_failure_streaks_pauses_and_alerts_as_single_runs_do(app, make_chrono, target):
    import json

    app.config.update(ALERT_WEBHOOK_URL=target.url("/alerts"), ALERT_AFTER_FAILURES=2)
    target.respond("/down", status=500)
    target.respond("/up", body=b"ok")
    dying = make_chrono(url=target.url("/down"), config={"max_attempts": 1, "auto_pause_after": 2})
    healing = make_chrono(url=target.url("/up"), config={"max_attempts": 1})
    db.session.execute(update(Chrono).where(Chrono.id == dying.id).values(consecutive_failures=1))
    db.session.execute(update(Chrono).where(Chrono.id == healing.id).values(consecutive_failures=4))
    db.session.commit()
    upcoming = due_runs([dying], utcnow() + timedelta(minutes=5))  # dispatched ahead: withdrawn by the pause
    ids = due_runs([dying, healing], utcnow() - timedelta(seconds=1))

    execute_batch(utcnow(), ids)

    db.session.expire_all()
    dying, healing = db.session.get(Chrono, dying.id), db.session.get(Chrono, healing.id)
    assert (dying.is_active, dying.paused_reason, dying.consecutive_failures, dying.next_run_at) == (
        False, "failures", 2, None)
    assert (dying.last_run_status, healing.last_run_status, healing.consecutive_failures) == ("failed", "success", 0)
    assert healing.is_active and healing.next_run_at is not None
    assert rows(upcoming) == {}
    alerts = sorted((a["event"], a["chrono"]["id"]) for a in (json.loads(r.body) for r in target.received("/alerts")))
    assert alerts == [("paused", dying.id), ("recovered", healing.id)]


def test_a_batch_also_takes_runs_of_its_moment_that_no_one_has_claimed(make_chrono, target):
    at = utcnow() - timedelta(seconds=1)
    mine = due_runs([make_chrono(url=target.url("/mine"))], at)
    others = due_runs([make_chrono(url=target.url("/other")) for _ in range(3)], at)  # another task's, not started
    later = due_runs([make_chrono(url=target.url("/later"))], at + timedelta(seconds=1))  # another moment
    manual = ChronoRun(chrono_id=make_chrono(url=target.url("/manual")).id, scheduled_for=at,
                       trigger=Trigger.MANUAL, status=RunStatus.PENDING)
    db.session.add(manual)
    db.session.commit()

    execute_batch(at, mine)

    runs = rows(mine + others + later + [manual.id])
    assert [runs[i].status for i in mine + others] == ["success"] * 4
    assert (runs[later[0]].status, runs[manual.id].status) == ("pending", "pending")
    assert sorted(call.path for call in target.received()) == ["/mine"] + ["/other"] * 3


def test_runs_due_together_later_go_on_the_schedule_as_one_task_a_moment_early(make_chrono):
    at = (utcnow() + timedelta(seconds=20)).replace(microsecond=0)
    chronos = [make_chrono(schedule="@yearly") for _ in range(3)]
    for chrono in chronos:
        chrono.next_run_at = at
    db.session.commit()

    tasks.dispatch_due()

    (task,) = huey.scheduled()
    assert task.name == "execute_runs" and task.eta == (at - timedelta(seconds=1)).replace(tzinfo=None)
    due, run_ids, _share = task.args
    assert due == at and sorted(run_ids) == sorted(db.session.scalars(select(ChronoRun.id)).all())
