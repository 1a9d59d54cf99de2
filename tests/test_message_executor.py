"""The MESSAGE executor end to end through the runner, against the fake WAHA, on
SQLite and PostgreSQL: per-recipient outcomes, pacing, retries that never resend,
and a clear error for each way WhatsApp can be unavailable."""
import pytest

from chronoflow.chronos import service
from chronoflow.extensions import db
from chronoflow.models import Channel, ChronoRun, RunStatus

from .conftest import run_now, run_task

ANA, BRUNO, GROUP = "+55 (11) 98765-4321", "21998765432", "120363012345678901@g.us"


@pytest.fixture
def waha(app, fake_waha):
    app.config.update(fake_waha.settings(), MESSAGE_DELAY_MIN_SECONDS=0.1, MESSAGE_DELAY_MAX_SECONDS=0.15)
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default", "5511900000000")
    return fake_waha


@pytest.fixture
def message_chrono(app, make_chrono):
    def make(recipients=(ANA, BRUNO), template="Olá {{ recipient }}! {{ chrono }} de {{ date }}", **fields):
        channel = Channel(name=f"Loja {len(recipients)}", session="default")
        db.session.add(channel)
        db.session.commit()
        return make_chrono(name="Lembrete", target_type="MESSAGE", channel_id=channel.id, url=None,
                           message_template=template, recipients=list(recipients), schedule="@daily", **fields)

    return make


def statuses(run):
    return [(r["to"], r["status"]) for r in run.result["recipients"]]


def test_it_sends_each_recipient_its_text_paced_and_records_each(waha, message_chrono):
    waha.chat_ids["5521998765432"] = "552198765432@c.us"  # WhatsApp knows him without the 9th digit
    run = run_now(message_chrono(recipients=(ANA, BRUNO, GROUP)))

    assert run.status == RunStatus.SUCCESS and run.error_message is None
    assert run.response_snippet == "Sent to 3 of 3 recipients."
    date = run.scheduled_for.astimezone(__import__("zoneinfo").ZoneInfo("America/Sao_Paulo")).strftime("%d/%m/%Y")
    assert [(m.chat_id, m.text) for m in waha.sent] == [
        ("5511987654321@c.us", f"Olá +55 11 98765-4321! Lembrete de {date}"),
        ("552198765432@c.us", f"Olá +55 21 99876-5432! Lembrete de {date}"),
        (GROUP, f"Olá {GROUP}! Lembrete de {date}"),
    ]
    gaps = [later.at - earlier.at for earlier, later in zip(waha.sent, waha.sent[1:])]
    assert all(0.09 <= gap < 1 for gap in gaps), gaps
    assert statuses(run) == [(ANA, "sent"), (BRUNO, "sent"), (GROUP, "sent")]
    assert run.result["recipients"][1]["chat_id"] == "552198765432@c.us"
    assert all(r["message_id"] for r in run.result["recipients"])


def test_a_number_not_on_whatsapp_fails_alone_and_is_named(waha, message_chrono):
    waha.missing.add("5521998765432")
    run = run_now(message_chrono())
    assert run.status == RunStatus.FAILED and run.result["attempts"][-1]["error_code"] == "partial"
    assert "Sent to 1 of 2 recipients; not sent to +55 21 99876-5432: This number is not on WhatsApp." \
        == run.error_message
    assert statuses(run) == [(ANA, "sent"), (BRUNO, "failed")]
    assert [m.chat_id for m in waha.sent] == ["5511987654321@c.us"]


def test_a_retry_sends_only_to_those_who_did_not_get_it(waha, message_chrono):
    waha.send_errors["5521998765432@c.us"] = 500
    chrono = message_chrono()
    run = run_now(chrono)
    assert run.status == RunStatus.RETRYING and "No LID for user" in run.error_message
    assert statuses(run) == [(ANA, "sent"), (BRUNO, "failed")]

    del waha.send_errors["5521998765432@c.us"]
    run_task(run.id)
    db.session.expire_all()
    run = db.session.get(ChronoRun, run.id)
    assert run.status == RunStatus.SUCCESS and run.attempt == 2
    assert [m.chat_id for m in waha.sent] == ["5511987654321@c.us", "5521998765432@c.us"]
    assert [r["attempt"] for r in run.result["recipients"]] == [1, 2]


def test_a_session_not_connected_fails_with_what_to_do(waha, message_chrono):
    waha.sessions["default"].status = "SCAN_QR_CODE"
    run = run_now(message_chrono(config={"max_attempts": 1}))
    assert run.status == RunStatus.FAILED
    assert run.error_message == ("WhatsApp session 'default' is not connected: scan the QR code under WhatsApp > "
                                 "Sessions.")
    assert waha.sent == [] and statuses(run) == [(ANA, "not_sent"), (BRUNO, "not_sent")]


def test_whatsapp_server_down_is_retried_with_where_it_looked(app, waha, message_chrono):
    chrono = message_chrono()
    url = waha.url
    waha.close()
    run = run_now(chrono)
    assert run.status == RunStatus.RETRYING
    assert f"not reachable at {url}" in run.error_message and "WAHA_BASE_URL" in run.error_message


def test_a_wrong_api_key_fails_without_retrying(app, waha, message_chrono):
    app.config["WAHA_API_KEY"] = "wrong"
    run = run_now(message_chrono())
    assert run.status == RunStatus.FAILED and "WAHA_API_KEY" in run.error_message


def test_a_disabled_channel_sends_nothing(waha, message_chrono):
    chrono = message_chrono()
    chrono.channel.is_active = False
    db.session.commit()
    run = run_now(chrono)
    assert run.status == RunStatus.FAILED and "channel" in run.error_message and waha.sent == []


def test_a_message_chrono_is_validated_at_save_time(app, client, waha):
    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.commit()
    response = client.post("/api/chronos", json={
        "name": "x", "schedule": "@daily", "target_type": "MESSAGE", "channel_id": channel.id,
        "message_template": "Oi {{ cliente }}", "recipients": ["11987654321", "12345", "abc@g.us"]})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert "There is no variable 'cliente'" in errors["message_template"][0]
    assert [m for m in errors["recipients"] if "“12345”" in m] and [m for m in errors["recipients"] if "abc@g.us" in m]


def test_it_stops_when_another_worker_takes_the_run_over(app, waha, message_chrono):
    """The recovery sweep may hand a long run to another worker: the first one must
    not send after that, and what it sent stays recorded for the new owner."""
    from chronoflow.executors import message
    from chronoflow.waha.client import WahaClient

    chrono = message_chrono(recipients=(ANA, BRUNO, GROUP))
    run = service.trigger_now(chrono)
    run.status, run.attempt = RunStatus.RUNNING, 1
    db.session.commit()
    job = message.job_for(chrono, app.config, run)

    def taken_over_during_the_pause(_seconds):
        db.session.execute(db.update(ChronoRun).where(ChronoRun.id == job.run_id)
                           .values(status=RunStatus.RUNNING, attempt=2))
        db.session.commit()

    outcome = message.send(job, WahaClient(**job.waha), message.RunProgress(job.run_id),
                           sleep=taken_over_during_the_pause)
    assert outcome.error_code == "superseded" and [m.chat_id for m in waha.sent] == ["5511987654321@c.us"]
    stored = db.session.get(ChronoRun, job.run_id).result["recipients"]
    assert [r["status"] for r in stored] == ["sent", "not_sent", "not_sent"]
