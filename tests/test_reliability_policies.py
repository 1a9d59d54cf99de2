"""Per-chrono reliability policies, one step at a time: downtime (misfire),
overlap, auto-pause and alerts. On SQLite and on PostgreSQL, with a real target."""
from datetime import timedelta

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from chronoflow.chronos import service
from chronoflow.chronos.schemas import ChronoInput
from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, RunStatus, Trigger, utcnow
from chronoflow.scheduling.dispatch import dispatch_batch, horizon, plan
from chronoflow.scheduling.rules import overlap_policy

from .conftest import retry_delay, run_task, utc
from .support.target import Reply
from .test_pages import FORM

NOON = utc(2026, 3, 2, 12, 0, 0)


def runs_of(chrono_id):
    db.session.expire_all()
    return db.session.scalars(
        select(ChronoRun).where(ChronoRun.chrono_id == chrono_id).order_by(ChronoRun.scheduled_for)
    ).all()


def down_since(make_chrono, moment, **fields):
    chrono = make_chrono(**{"timezone": "UTC", **fields})
    chrono.next_run_at = moment
    db.session.commit()
    return chrono


def dispatch(now, max_skipped_rows=100):
    runs, _claimed, _advanced = dispatch_batch(now, horizon(now, 60), 1000, max_skipped_rows=max_skipped_rows)
    db.session.commit()
    return runs


def execute_run(run_id):
    return retry_delay(run_task(run_id))


def scheduled_run(chrono, at=None, status=RunStatus.PENDING, **fields):
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=at or utcnow() - timedelta(seconds=1),
                    trigger=Trigger.SCHEDULE, status=status, **fields)
    db.session.add(run)
    db.session.commit()
    return run.id


# Downtime (misfire) policy


def test_it_coalesces_missed_occurrences_and_records_the_others_as_skipped(make_chrono):
    chrono = down_since(make_chrono, NOON - timedelta(minutes=10), schedule="* * * * *")

    dispatched = dispatch(NOON + timedelta(seconds=30))

    runs = runs_of(chrono.id)
    fired = [r.scheduled_for for r in runs if r.status == RunStatus.PENDING]
    skipped = [r.scheduled_for for r in runs if r.status == RunStatus.SKIPPED]
    assert fired == [NOON - timedelta(minutes=10), NOON, NOON + timedelta(minutes=1)]
    assert [d.scheduled_for for d in dispatched] == fired  # only pending runs get a task
    # Every missed occurrence has its row: nothing silently dropped.
    assert skipped == [NOON - timedelta(minutes=m) for m in range(9, 0, -1)]
    assert all(r.finished_at is not None and r.result["error_code"] == "missed" for r in runs if r.status == "skipped")


def test_it_skips_every_missed_occurrence_when_the_policy_says_skip(make_chrono):
    chrono = down_since(make_chrono, NOON - timedelta(minutes=5), schedule="* * * * *",
                        config={"misfire_policy": "skip"})

    dispatch(NOON + timedelta(seconds=30))

    runs = runs_of(chrono.id)
    assert [r.scheduled_for for r in runs if r.status == RunStatus.PENDING] == [NOON, NOON + timedelta(minutes=1)]
    assert [r.scheduled_for for r in runs if r.status == RunStatus.SKIPPED] == [
        NOON - timedelta(minutes=m) for m in range(5, 0, -1)]


def test_a_long_outage_writes_a_bounded_number_of_rows_and_says_how_many_more(make_chrono):
    # Every second, down for 20 minutes: 1,200 missed occurrences.
    chrono = down_since(make_chrono, NOON - timedelta(minutes=20), schedule="* * * * * *",
                        config={"misfire_policy": "skip"})

    dispatch(NOON, max_skipped_rows=10)

    skipped = [r for r in runs_of(chrono.id) if r.status == RunStatus.SKIPPED]
    assert len(skipped) == 11  # ten rows, then one that sums up the rest
    summary = skipped[-1]
    resume = NOON - timedelta(seconds=60)
    assert summary.result["skipped_count"] + 10 == (resume - (NOON - timedelta(minutes=20))).total_seconds()
    assert summary.result["skipped_count_exact"] is False  # beyond COUNT_EXACTLY: estimated
    assert "1190" in summary.error_message or str(summary.result["skipped_count"]) in summary.error_message
    assert summary.scheduled_for < resume


def test_the_summary_count_is_exact_for_a_moderate_outage(make_chrono):
    chrono = down_since(make_chrono, NOON - timedelta(hours=3), schedule="* * * * *")
    result = plan(db.session.get(Chrono, chrono.id), NOON, horizon(NOON, 60), max_skipped_rows=100)
    # Missed (more than a minute late): 09:00 to 11:58. The first fires (coalesce),
    # 100 get a row each, the other 78 one summary row at the last of them.
    assert result.fire[0] == NOON - timedelta(hours=3) and len(result.skipped) == 100
    assert (result.more, result.more_exact) == (78, True)
    assert result.more_until == NOON - timedelta(minutes=2)


def test_the_misfire_and_overlap_policies_are_validated(app):
    with pytest.raises(ValidationError) as error:
        ChronoInput().load({"name": "x", "schedule": "@daily", "url": "http://127.0.0.1/",
                            "config": {"misfire_policy": "replay", "overlap_policy": "queue", "auto_pause_after": -1}})
    assert set(error.value.messages["config"]) == {"misfire_policy", "overlap_policy", "auto_pause_after"}


# Overlap policy


def test_it_skips_and_records_a_run_while_the_previous_one_is_still_running(make_chrono, target):
    chrono = make_chrono(url=target.url("/o"), schedule="* * * * *", config={"overlap_policy": "skip"})
    scheduled_run(chrono, at=utcnow() - timedelta(seconds=61), status=RunStatus.RUNNING, attempt=1,
                  started_at=utcnow() - timedelta(seconds=2), attempt_started_at=utcnow() - timedelta(seconds=2))
    run_id = scheduled_run(chrono)

    assert execute_run(run_id) is None

    run = db.session.get(ChronoRun, run_id)
    assert run.status == RunStatus.SKIPPED and run.result["error_code"] == "overlap"
    assert target.received("/o") == []


def test_it_runs_anyway_when_overlap_is_allowed(make_chrono, target):
    chrono = make_chrono(url=target.url("/o"), schedule="* * * * *", config={"overlap_policy": "allow"})
    scheduled_run(chrono, at=utcnow() - timedelta(seconds=61), status=RunStatus.RUNNING, attempt=1,
                  started_at=utcnow() - timedelta(seconds=2), attempt_started_at=utcnow() - timedelta(seconds=2))
    run_id = scheduled_run(chrono)

    execute_run(run_id)

    assert db.session.get(ChronoRun, run_id).status == RunStatus.SUCCESS
    assert len(target.received("/o")) == 1


def test_overlap_defaults_to_skip_only_for_chronos_faster_than_their_timeout(make_chrono):
    assert overlap_policy(make_chrono(schedule="every 5 seconds", config={"timeout_ms": 10_000})) == "skip"
    assert overlap_policy(make_chrono(schedule="every 30 seconds", config={"timeout_ms": 10_000})) == "allow"


def test_a_run_stuck_past_its_timeout_does_not_block_the_next(make_chrono, target):
    chrono = make_chrono(url=target.url("/o"), schedule="every 5 seconds", config={"timeout_ms": 1000})
    scheduled_run(chrono, at=utcnow() - timedelta(minutes=5), status=RunStatus.RUNNING, attempt=1,
                  started_at=utcnow() - timedelta(minutes=5),
                  attempt_started_at=utcnow() - timedelta(minutes=5))  # its worker died: recovery's job
    run_id = scheduled_run(chrono)
    execute_run(run_id)
    assert db.session.get(ChronoRun, run_id).status == RunStatus.SUCCESS


# Auto-pause and alerts


def fail_runs(chrono, count):
    for n in range(count):
        execute_run(scheduled_run(chrono, at=utcnow() - timedelta(seconds=10 + n)))


def test_it_pauses_a_chrono_after_n_failed_runs_in_a_row_and_says_why(make_chrono, target, client):
    target.respond("/down", status=500)
    chrono = make_chrono(url=target.url("/down"), config={"max_attempts": 1, "auto_pause_after": 3})

    fail_runs(chrono, 2)
    assert db.session.get(Chrono, chrono.id).is_active
    fail_runs(chrono, 1)

    chrono = db.session.get(Chrono, chrono.id)
    assert (chrono.is_active, chrono.paused_reason, chrono.consecutive_failures) == (False, "failures", 3)
    assert chrono.next_run_at is None
    body = client.get(f"/api/chronos/{chrono.id}").get_json()
    assert (body["paused_reason"], body["consecutive_failures"], body["is_active"]) == ("failures", 3, False)
    page = client.get(f"/chronos/{chrono.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "paused this chrono after 3 failed runs in a row" in page


def test_a_success_resets_the_count_and_resume_clears_the_reason(make_chrono, target):
    target.respond("/flaky", [Reply(500), Reply(500), Reply(200), Reply(500)])
    chrono = make_chrono(url=target.url("/flaky"), config={"max_attempts": 1, "auto_pause_after": 3})
    fail_runs(chrono, 3)  # 500, 500, 200
    assert db.session.get(Chrono, chrono.id).consecutive_failures == 0

    chrono = db.session.get(Chrono, chrono.id)
    chrono.is_active, chrono.paused_reason, chrono.consecutive_failures = False, "failures", 3
    service.resume(chrono)
    db.session.commit()
    assert (chrono.is_active, chrono.paused_reason, chrono.consecutive_failures) == (True, None, 0)


def test_auto_pause_follows_the_setting_and_zero_turns_it_off(app, make_chrono, target):
    target.respond("/down", status=500)
    app.config["AUTO_PAUSE_AFTER_FAILURES"] = 2
    paused = make_chrono(url=target.url("/down"), config={"max_attempts": 1})
    never = make_chrono(url=target.url("/down"), config={"max_attempts": 1, "auto_pause_after": 0})
    fail_runs(paused, 2)
    fail_runs(never, 4)
    assert db.session.get(Chrono, paused.id).is_active is False
    assert db.session.get(Chrono, never.id).is_active is True


def test_it_alerts_a_webhook_when_a_chrono_starts_failing_and_when_it_recovers(app, make_chrono, target):
    app.config.update(ALERT_WEBHOOK_URL=target.url("/alerts"), ALERT_AFTER_FAILURES=2)
    target.respond("/hook", [Reply(500), Reply(500), Reply(500), Reply(200)])
    chrono = make_chrono(url=target.url("/hook"), config={"max_attempts": 1, "auto_pause_after": 0})

    fail_runs(chrono, 4)  # fail, fail (alert), fail, succeed (alert)

    import json
    alerts = [json.loads(r.body) for r in target.received("/alerts")]
    assert [(a["event"], a["consecutive_failures"]) for a in alerts] == [("failing", 2), ("recovered", 3)]
    assert alerts[0]["chrono"]["id"] == chrono.id and alerts[0]["run"]["http_status"] == 500
    assert target.received("/alerts")[0].headers["X-ChronoFlow-Event"] == "failing"


def test_no_alert_is_sent_without_a_webhook_url(make_chrono, target):
    target.respond("/hook", status=500)
    chrono = make_chrono(url=target.url("/hook"), config={"max_attempts": 1, "auto_pause_after": 0})
    fail_runs(chrono, 4)
    assert [r.path for r in target.received()] == ["/hook"] * 4


def test_an_edit_through_the_form_keeps_the_settings_it_has_no_field_for(post_form, make_chrono):
    chrono = make_chrono(config={"misfire_policy": "skip", "overlap_policy": "allow", "retry_backoff_s": 7})
    shown = {"misfire_policy": "skip", "overlap_policy": "allow"}  # as the edit page fills them in
    response = post_form(f"/chronos/{chrono.id}/edit", {**FORM, **shown, "name": "Renamed", "max_attempts": "2"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Chrono, chrono.id).config == {
        "misfire_policy": "skip", "overlap_policy": "allow", "retry_backoff_s": 7, "max_attempts": 2}


def test_it_alerts_whatsapp_numbers_in_the_alert_language(app, make_chrono, target, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default")
    app.config.update(fake_waha.settings(), ALERT_WHATSAPP_TO=("11 98765-4321", "120363041234567890@g.us"),
                      ALERT_AFTER_FAILURES=2, ALERT_LANGUAGE="pt_BR")
    target.respond("/hook", status=500)
    chrono = make_chrono(name="Relatório", url=target.url("/hook"),
                         config={"max_attempts": 1, "auto_pause_after": 3})

    fail_runs(chrono, 3)  # fail, fail (failing), fail (paused)

    sent = fake_waha.wait_for_sent(4)
    assert {message.chat_id for message in sent} == {"5511987654321@c.us", "120363041234567890@g.us"}
    texts = [message.text for message in sent]
    assert texts[0].startswith("ChronoFlow: Relatório falhou 2 vezes seguidas.")
    assert "HTTP 500" in texts[0]
    assert texts[2].startswith("ChronoFlow: Relatório falhou 3 vezes seguidas e foi pausada.")


def test_a_whatsapp_alert_that_cannot_be_sent_does_not_stop_the_run(app, make_chrono, target, fake_waha, caplog):
    app.config.update(fake_waha.settings(), ALERT_WHATSAPP_TO=("11 98765-4321",), ALERT_AFTER_FAILURES=1)
    target.respond("/hook", status=500)  # the WAHA session does not exist: every send fails
    chrono = make_chrono(url=target.url("/hook"), config={"max_attempts": 1, "auto_pause_after": 0})
    fail_runs(chrono, 1)
    assert db.session.get(Chrono, chrono.id).consecutive_failures == 1
    assert "not sent to" in caplog.text


def test_a_bad_alert_number_stops_start_up_with_the_setting_s_name():
    from chronoflow.config import ConfigError, load

    with pytest.raises(ConfigError, match="ALERT_WHATSAPP_TO: “12” is not a valid phone number"):
        load("/tmp", environ={"ALERT_WHATSAPP_TO": "+55 11 98765-4321, 12", "SECRET_KEY": "x"})


# Late runs: the misfire policy applied when a run is about to start


def late_runs(chrono, *ages):
    """Pending first attempts of `chrono` as a queue hands them out after a stop, oldest first."""
    return [scheduled_run(chrono, at=utcnow() - timedelta(seconds=age)) for age in ages]


def test_runs_queued_before_a_stop_call_once_for_the_outage_with_coalesce(make_chrono, target):
    chrono = make_chrono(url=target.url("/c"), schedule="every 30 seconds")
    ids = late_runs(chrono, 300, 270, 240, 210, 180)

    for run_id in ids:  # delivered at once when the worker comes back
        execute_run(run_id)

    runs = {run.id: run for run in runs_of(chrono.id)}
    assert [runs[i].status for i in ids] == ["skipped"] * 4 + ["success"]  # the newest late one calls
    assert {runs[i].result["error_code"] for i in ids[:4]} == {"coalesced"}
    assert "misfire policy: coalesce" in runs[ids[0]].error_message
    assert len(target.received("/c")) == 1


def test_a_late_run_is_covered_by_an_older_one_that_already_ran_after_its_time(make_chrono, target):
    chrono = make_chrono(url=target.url("/c"), schedule="@hourly")
    (older,) = late_runs(chrono, 7200)  # queued before a two-hour stop
    execute_run(older)  # runs (late) now, after the next occurrence's time
    (newer,) = late_runs(chrono, 3600)  # the first missed one, written by the first tick after the stop

    execute_run(newer)

    assert db.session.get(ChronoRun, newer).result["error_code"] == "coalesced"
    assert len(target.received("/c")) == 1


def test_late_runs_call_nothing_with_skip(make_chrono, target):
    chrono = make_chrono(url=target.url("/s"), schedule="every 30 seconds", config={"misfire_policy": "skip"})
    ids = late_runs(chrono, 300, 100)
    for run_id in ids:
        execute_run(run_id)
    assert [run.result["error_code"] for run in runs_of(chrono.id)] == ["missed", "missed"]
    assert target.received("/s") == []


def test_the_grace_is_the_chrono_s_own_or_the_setting(app, make_chrono, target):
    app.config["MISFIRE_GRACE_SECONDS"] = 30
    patient = make_chrono(url=target.url("/p"), config={"misfire_policy": "skip", "misfire_grace_s": 600})
    strict = make_chrono(url=target.url("/s"), config={"misfire_policy": "skip"})
    execute_run(late_runs(patient, 120)[0])
    execute_run(late_runs(strict, 120)[0])
    assert (len(target.received("/p")), len(target.received("/s"))) == (1, 0)


def test_retries_and_manual_runs_are_never_too_late(make_chrono, target):
    chrono = make_chrono(url=target.url("/r"), config={"misfire_policy": "skip"})
    retry = scheduled_run(chrono, at=utcnow() - timedelta(minutes=10), status=RunStatus.RETRYING, attempt=1,
                          next_attempt_at=utcnow())
    manual = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow() - timedelta(minutes=10), trigger=Trigger.MANUAL,
                       status=RunStatus.PENDING)
    db.session.add(manual)
    db.session.commit()
    execute_run(retry)
    execute_run(manual.id)
    assert len(target.received("/r")) == 2


def test_the_overlap_check_happens_at_the_run_s_own_second(app, make_chrono, target):
    """A run is delivered up to a second early and waits for its time: the previous
    run, mid-call when the task arrived, has finished by then, so this one runs."""
    import threading

    chrono = make_chrono(url=target.url("/o"), schedule="* * * * * *", config={"overlap_policy": "skip"})
    previous = scheduled_run(chrono, at=utcnow() - timedelta(seconds=1), status=RunStatus.RUNNING, attempt=1,
                             started_at=utcnow(), attempt_started_at=utcnow())
    run_id = scheduled_run(chrono, at=utcnow() + timedelta(milliseconds=700))

    def previous_finishes():
        with app.app_context():
            db.session.execute(db.update(ChronoRun).where(ChronoRun.id == previous).values(status="success"))
            db.session.commit()
            db.session.remove()

    finisher = threading.Timer(0.2, previous_finishes)
    finisher.start()
    execute_run(run_id)
    finisher.join()

    assert db.session.get(ChronoRun, run_id).status == RunStatus.SUCCESS
    assert len(target.received("/o")) == 1
