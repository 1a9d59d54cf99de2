"""Protecting the number (waha/pacing.py), on SQLite and PostgreSQL: one pace per
session whichever chronos share it, a daily cap that refuses a chrono at save
time and stops a run that reaches it, and the estimate the form shows."""
from datetime import timedelta

import pytest

from chronoflow import executors
from chronoflow.extensions import db
from chronoflow.models import RunStatus, SentMessage, utcnow
from chronoflow.waha import pacing

from .conftest import run_now, utc


@pytest.fixture
def waha(app, fake_waha):
    app.config.update(fake_waha.settings(), MESSAGE_DELAY_MIN_SECONDS=0.2, MESSAGE_DELAY_MAX_SECONDS=0.25)
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default")
    return fake_waha


def message_chrono(make_chrono, channel, recipients, name="Lembrete", schedule="@daily"):
    return make_chrono(name=name, target_type="MESSAGE", channel_id=channel.id, url=None, message_template="Oi",
                       recipients=list(recipients), schedule=schedule)


@pytest.mark.parametrize("cron, tz, limit, expected", [
    ("0 9 * * *", "America/Sao_Paulo", 10, 1),
    ("*/30 * * * *", "UTC", 100, 48),
    ("0 9 * * 1", "UTC", 10, 1),  # weekly: the busiest day of the week counts
    ("* * * * *", "UTC", 500, 501),  # counting stops past the limit
    ("*/10 * * * * *", "UTC", 3, 4),  # seconds first
])
def test_busiest_day_counts_runs_in_any_24_hours(app, cron, tz, limit, expected):
    assert pacing.busiest_day(cron, tz, limit, now=utc(2026, 3, 2, 12)) == expected


def test_a_chrono_that_alone_would_pass_the_daily_cap_is_refused_naming_the_field(client, channel):
    data = {"name": "Blast", "schedule": "a cada 5 minutos", "target_type": "MESSAGE", "channel_id": channel.id,
            "message_template": "Oi", "recipients": ["11987654321", "21998765432"]}
    response = client.post("/api/chronos", json=data)
    assert response.status_code == 422
    message, = response.get_json()["errors"]["json"]["recipients"]
    assert "more than 500 messages a day" in message and "MESSAGE_DAILY_CAP" in message
    assert "Com 251 ou mais execuções por dia" in client.post(
        "/api/chronos", json=data, headers={"Accept-Language": "pt-BR"}).get_json()["errors"]["json"]["recipients"][0]
    assert client.post("/api/chronos", json={**data, "schedule": "de hora em hora"}).status_code == 201  # 48 a day


def test_the_cap_is_per_whatsapp_number_and_setting(app, client, channel):
    app.config["MESSAGE_DAILY_CAP"] = 0  # no cap
    data = {"name": "Blast", "schedule": "a cada 5 minutos", "target_type": "MESSAGE", "channel_id": channel.id,
            "message_template": "Oi", "recipients": ["11987654321"]}
    assert client.post("/api/chronos", json=data).status_code == 201


def test_a_run_that_reaches_the_daily_cap_stops_and_says_why(app, waha, make_chrono, channel):
    app.config.update(MESSAGE_DAILY_CAP=3, MESSAGE_DELAY_MIN_SECONDS=0, MESSAGE_DELAY_MAX_SECONDS=0)
    first = run_now(message_chrono(make_chrono, channel, ["11987654321", "11987654322"], name="A"))
    assert first.status == RunStatus.SUCCESS
    second = run_now(message_chrono(make_chrono, channel, ["21998765431", "21998765432", "21998765433"], name="B"))
    assert second.status == RunStatus.FAILED and second.result["attempts"][-1]["error_code"] == "daily_cap"
    assert "sent its 3 messages of the last 24 hours (MESSAGE_DAILY_CAP)" in second.error_message
    assert [(r["status"], r["error_code"]) for r in second.result["recipients"]] == [
        ("sent", None), ("failed", "daily_cap"), ("failed", "daily_cap")]
    assert len(waha.sent) == 3
    # A day later the number may send again.
    db.session.execute(db.update(SentMessage).values(sent_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    assert pacing.sent_in_last_day("default") == 0


def test_chronos_sharing_a_number_take_turns(app, waha, make_chrono, channel):
    """Two chronos on one session: the second one's first message waits for the
    session's pause after the first one's last, as if one run sent them all."""
    run_now(message_chrono(make_chrono, channel, ["11987654321", "11987654322"], name="A"))
    run_now(message_chrono(make_chrono, channel, ["21998765431"], name="B"))
    gaps = [later.at - earlier.at for earlier, later in zip(waha.sent, waha.sent[1:])]
    assert len(gaps) == 2 and all(gap >= 0.19 for gap in gaps), gaps


def test_a_run_waiting_long_for_its_turn_is_not_taken_for_dead(app, waha, make_chrono, channel, monkeypatch):
    """Other runs' messages fill the number's next seconds: the run waits longer than one
    run of its own may take (what the recovery sweep allows it), renewing its lease, so
    the sweep, running meanwhile as on another worker, leaves it alone."""
    import time

    from sqlalchemy import update

    from chronoflow.chronos import service
    from chronoflow.executors import message
    from chronoflow.models import ChronoRun
    from chronoflow.scheduling import recovery
    from chronoflow.waha import state
    from chronoflow.waha.client import WahaClient

    monkeypatch.setattr(message, "LEASE_S", 0.25)
    app.config.update(RECOVERY_AFTER_SECONDS=0, WAHA_TIMEOUT_MS=1000, HTTP_REQUEST_TIMEOUT_MS=1000)
    chrono = message_chrono(make_chrono, channel, ["11987654321"])
    allowed = executors.longest_attempt(chrono, app.config).total_seconds()
    assert allowed < 5
    run = service.trigger_now(chrono)
    db.session.execute(update(ChronoRun).where(ChronoRun.id == run.id).values(  # as the runner claims it
        status=RunStatus.RUNNING, attempt=1, scheduled_for=utcnow() - timedelta(hours=1), started_at=utcnow(),
        attempt_started_at=utcnow()))
    state.row("default", lock=True).next_send_at = utcnow() + timedelta(seconds=allowed + 2)
    db.session.commit()
    job = message.job_for(chrono, app.config, run)
    swept = []

    def sleep(seconds):
        time.sleep(seconds)
        again, _end = recovery.recover_lost_runs()
        db.session.commit()
        swept.extend(again)

    started = time.monotonic()
    outcome = message.send(job, WahaClient(**job.waha), message.RunProgress(run.id, "default"), sleep=sleep)
    assert time.monotonic() - started > allowed
    assert outcome.ok and len(waha.sent) == 1 and swept == []


def test_a_waiting_run_taken_over_by_another_worker_stops_waiting(app, waha, make_chrono, channel):
    from sqlalchemy import update

    from chronoflow.chronos import service
    from chronoflow.executors import message
    from chronoflow.models import ChronoRun
    from chronoflow.waha import state
    from chronoflow.waha.client import WahaClient

    chrono = message_chrono(make_chrono, channel, ["11987654321"])
    run = service.trigger_now(chrono)
    db.session.execute(update(ChronoRun).where(ChronoRun.id == run.id).values(status=RunStatus.RUNNING, attempt=1))
    state.row("default", lock=True).next_send_at = utcnow() + timedelta(minutes=3)
    db.session.commit()
    job = message.job_for(chrono, app.config, run)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        db.session.execute(update(ChronoRun).where(ChronoRun.id == run.id).values(attempt=2))  # the sweep's retry
        db.session.commit()

    outcome = message.send(job, WahaClient(**job.waha), message.RunProgress(run.id, "default"), sleep=sleep)
    assert outcome.error_code == "superseded" and waha.sent == [] and len(slept) == 1


def test_the_pause_counts_from_when_the_message_went_out(app):
    slot = pacing.reserve("default", (1, 1), cap=0, now=utc(2026, 1, 1, 12))
    assert slot.at == utc(2026, 1, 1, 12) and slot.pause == timedelta(seconds=1)
    pacing.sent("default", slot, now=utc(2026, 1, 1, 12, 0, 5))  # WAHA took 5 s to answer
    db.session.commit()
    assert pacing.reserve("default", (1, 1), cap=0, now=utc(2026, 1, 1, 12, 0, 5)).at == utc(2026, 1, 1, 12, 0, 6)


def test_the_estimate_says_how_long_a_run_takes_and_how_much_of_the_cap_it_uses(app, client):
    app.config.update(MESSAGE_DELAY_MIN_SECONDS=30, MESSAGE_DELAY_MAX_SECONDS=60)
    answer = client.get("/waha/estimate?recipients=40&schedule=todo+dia+às+18&timezone=America/Sao_Paulo")
    assert answer.get_json() == {
        "text": "40 recipients: each run takes about 20 minutes to 39 minutes, one message every 30 to 60 seconds "
                "(WhatsApp bans numbers that send faster). Up to 40 messages a day, of the 500 one WhatsApp number "
                "may send (MESSAGE_DAILY_CAP).", "problem": None}
    too_many = client.get("/waha/estimate?recipients=40&schedule=de+hora+em+hora").get_json()
    assert "more than 500 messages a day" in too_many["problem"]
    assert client.get("/waha/estimate?recipients=abc").get_json() == {"text": "", "problem": None}
    pt = client.get("/waha/estimate?recipients=3&schedule=nonsense", headers={"Accept-Language": "pt-BR"})
    assert pt.get_json()["text"].startswith("3 destinatários: cada execução leva cerca de 60 segundos a 2 minutos")
