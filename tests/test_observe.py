"""What a recorded run reports, through the real runner and batches, on SQLite and
PostgreSQL: one log line with the run's fields, and the metrics moved; only once
the record is committed."""
import json
import logging
from datetime import timedelta

from prometheus_client import REGISTRY

from chronoflow import observe, tasks
from chronoflow.chronos import service
from chronoflow.executors.outcome import Outcome
from chronoflow.extensions import db
from chronoflow.logs import JsonLines
from chronoflow.models import Channel, ChronoRun, RunStatus, utcnow

from .conftest import drain, retry_delay, run_task
from .support.target import Reply


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Moved:
    """The change of some samples between two moments: Moved(...) before, .since() after."""

    def __init__(self, *samples):
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def since(self):
        return [value(name, **labels) - before for (name, labels), before in zip(self.samples, self.before)]


def run_lines(caplog):
    return [r for r in caplog.records if r.name == "chronoflow.runs"]


SUCCESS = ("chronoflow_runs_total", {"target": "webhook", "status": "success"})
FAILED = ("chronoflow_runs_total", {"target": "webhook", "status": "failed"})
RETRIES = ("chronoflow_run_retries_total", {"target": "webhook"})
LATENESS = ("chronoflow_run_lateness_seconds_count", {"target": "webhook"})
DURATION = ("chronoflow_run_duration_seconds_count", {"target": "webhook"})


def test_a_scheduled_run_logs_one_json_line_with_its_fields_and_counts(make_chrono, target, caplog):
    caplog.set_level(logging.INFO, "chronoflow.runs")
    chrono = make_chrono(url=target.url("/ok"), schedule="@yearly")
    chrono.next_run_at = utcnow() - timedelta(seconds=2)
    db.session.commit()
    moved = Moved(SUCCESS, LATENESS, DURATION)

    tasks.dispatch_due(chrono_id=chrono.id)
    drain()

    assert moved.since() == [1, 1, 1]
    (record,) = run_lines(caplog)
    run = db.session.query(ChronoRun).one()
    line = json.loads(JsonLines().format(record))
    assert {key: line[key] for key in ("chrono_id", "run_id", "attempt", "status", "target", "trigger",
                                       "http_status", "level", "logger")} == {
        "chrono_id": chrono.id, "run_id": run.id, "attempt": 1, "status": "success", "target": "webhook",
        "trigger": "schedule", "http_status": 200, "level": "INFO", "logger": "chronoflow.runs"}
    assert line["duration_ms"] == run.duration_ms
    assert line["lateness_ms"] == run.lateness_ms >= 1500  # it was due 2 s before the tick
    assert line["message"].startswith(f"run {run.id} of chrono {chrono.id} success: attempt 1,")
    assert line["time"].endswith("+00:00")


def test_a_retry_and_a_final_failure_each_say_so(make_chrono, target, caplog):
    caplog.set_level(logging.INFO, "chronoflow.runs")
    target.respond("/down", [Reply(503), Reply(503)])
    run = service.trigger_now(make_chrono(url=target.url("/down"), config={"max_attempts": 2}))
    db.session.commit()
    errors = ("chronoflow_run_attempt_errors_total", {"target": "webhook", "error_code": "http_status"})
    moved = Moved(RETRIES, FAILED, errors, LATENESS)

    delay = retry_delay(run_task(run.id))
    run_task(run.id)

    assert delay is not None
    assert moved.since() == [1, 1, 2, 0]  # a manual run has no lateness to speak of
    first, last = run_lines(caplog)
    assert (first.status, first.attempt, first.levelname, first.error_code) == ("retrying", 1, "INFO", "http_status")
    assert first.next_attempt_at is not None
    assert (last.status, last.attempt, last.levelname, last.http_status) == ("failed", 2, "WARNING", 503)


def test_runs_recorded_in_one_batch_are_each_reported(app, make_chrono, target, caplog):
    caplog.set_level(logging.INFO, "chronoflow.runs")
    app.config["RUN_BATCH_SIZE"] = 10
    at = (utcnow() - timedelta(seconds=2)).replace(microsecond=0)
    for n in range(3):
        make_chrono(url=target.url(f"/b/{n}"), schedule="@yearly").next_run_at = at
    db.session.commit()
    moved = Moved(SUCCESS, LATENESS)

    assert tasks.dispatch_due() == 3
    assert drain() == 1  # one task for the three

    assert moved.since() == [3, 3]
    assert sorted(r.run_id for r in run_lines(caplog)) == sorted(r.id for r in db.session.query(ChronoRun))


def test_a_record_rolled_back_reports_nothing_and_its_retry_reports_once(make_chrono, caplog):
    caplog.set_level(logging.INFO, "chronoflow.runs")
    run = service.trigger_now(make_chrono())
    run.status, run.started_at = RunStatus.SUCCESS, utcnow()
    outcome = Outcome(ok=True, duration_ms=5)
    moved = Moved(SUCCESS)

    observe.run_recorded(run, 1, utcnow(), outcome)
    db.session.rollback()
    assert moved.since() == [0] and run_lines(caplog) == []

    run = service.trigger_now(make_chrono(name="again"))
    run.status, run.started_at = RunStatus.SUCCESS, utcnow()
    observe.run_recorded(run, 1, utcnow(), outcome)
    db.session.commit()
    db.session.commit()  # a later, empty commit reports nothing more
    assert moved.since() == [1] and len(run_lines(caplog)) == 1


def test_whatsapp_messages_are_counted_by_outcome_once_each(app, fake_waha, make_chrono):
    app.config.update(fake_waha.settings(), MESSAGE_DELAY_MIN_SECONDS=0, MESSAGE_DELAY_MAX_SECONDS=0.01)
    fake_waha.add_session("default")
    fake_waha.pair("default")  # linked: WORKING
    fake_waha.missing.add("5521998765432")
    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.commit()
    chrono = make_chrono(target_type="MESSAGE", channel_id=channel.id, url=None, message_template="Oi",
                         recipients=["+55 11 98765-4321", "21998765432"], schedule="@daily")
    sent = ("chronoflow_whatsapp_messages_total", {"outcome": "sent"})
    missing = ("chronoflow_whatsapp_messages_total", {"outcome": "not_on_whatsapp"})
    runs = ("chronoflow_runs_total", {"target": "whatsapp", "status": "failed"})
    moved = Moved(sent, missing, runs)

    run = service.trigger_now(chrono)
    db.session.commit()
    run_task(run.id)

    assert moved.since() == [1, 1, 1]


SKIPPED = ("chronoflow_runs_total", {"target": "webhook", "status": "skipped"})
CANCELLED = ("chronoflow_runs_total", {"target": "webhook", "status": "cancelled"})


def test_runs_missed_while_down_are_counted_as_skipped_once_committed(make_chrono, caplog):
    caplog.set_level(logging.INFO, "chronoflow.runs")
    chrono = make_chrono(schedule="*/10 * * * *", timezone="UTC", config={"misfire_policy": "skip"})
    chrono.next_run_at = utcnow() - timedelta(minutes=35)  # 4 or 5 occurrences missed, as the clock falls
    db.session.commit()
    moved = Moved(SKIPPED)

    tasks.dispatch_due(chrono_id=chrono.id)
    db.session.rollback()

    skipped = db.session.query(ChronoRun).filter_by(status=RunStatus.SKIPPED).count()
    assert skipped >= 4 and moved.since() == [skipped]
    assert any(r.getMessage() == f"{skipped} webhook runs skipped: missed" for r in run_lines(caplog))


def test_late_and_cancelled_runs_are_counted_where_the_runner_finishes_them(make_chrono):
    late = make_chrono(name="late", schedule="@yearly", config={"misfire_policy": "skip"})
    paused = make_chrono(name="paused", schedule="@yearly")
    runs = []
    for chrono in (late, paused):
        run = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow() - timedelta(minutes=10), status=RunStatus.PENDING)
        db.session.add(run)
        runs.append(run)
    paused.is_active = False
    db.session.commit()
    moved = Moved(SKIPPED, CANCELLED, SUCCESS)

    for run in runs:
        run_task(run.id, due=utcnow())

    assert [db.session.get(ChronoRun, run.id).status for run in runs] == [RunStatus.SKIPPED, RunStatus.CANCELLED]
    assert moved.since() == [1, 1, 0]


def test_a_run_whose_worker_was_lost_on_its_last_attempt_is_counted_as_failed(make_chrono):
    from chronoflow.scheduling import recovery

    chrono = make_chrono(config={"max_attempts": 1})
    long_ago = utcnow() - timedelta(hours=1)
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=long_ago, status=RunStatus.RUNNING, attempt=1,
                    started_at=long_ago, attempt_started_at=long_ago)
    db.session.add(run)
    db.session.commit()
    moved = Moved(FAILED)

    recovery.recover_lost_runs()
    assert moved.since() == [0]  # not until the commit
    db.session.commit()

    assert db.session.get(ChronoRun, run.id).status == RunStatus.FAILED and moved.since() == [1]
