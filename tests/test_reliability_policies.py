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
from chronoflow.scheduling.runner import execute_run, overlap_policy

from .conftest import utc
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
    runs, _ = dispatch_batch(now, horizon(now, 60), 1000, max_skipped_rows=max_skipped_rows)
    db.session.commit()
    return runs


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
                  started_at=utcnow() - timedelta(seconds=2))
    run_id = scheduled_run(chrono)

    assert execute_run(run_id) is None

    run = db.session.get(ChronoRun, run_id)
    assert run.status == RunStatus.SKIPPED and run.result["error_code"] == "overlap"
    assert target.received("/o") == []


def test_it_runs_anyway_when_overlap_is_allowed(make_chrono, target):
    chrono = make_chrono(url=target.url("/o"), schedule="* * * * *", config={"overlap_policy": "allow"})
    scheduled_run(chrono, at=utcnow() - timedelta(seconds=61), status=RunStatus.RUNNING, attempt=1,
                  started_at=utcnow() - timedelta(seconds=2))
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
                  started_at=utcnow() - timedelta(minutes=5))  # its worker died: recovery's job
    run_id = scheduled_run(chrono)
    execute_run(run_id)
    assert db.session.get(ChronoRun, run_id).status == RunStatus.SUCCESS


# Auto-pause and alerts


def fail_runs(chrono, count):
    for n in range(count):
        execute_run(scheduled_run(chrono, at=utcnow() - timedelta(seconds=100 + n)))


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
    assert texts[2].startswith("ChronoFlow: Relatório falhou 3 vezes seguidas e foi pausado.")


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
