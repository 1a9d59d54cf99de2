"""A WhatsApp chrono in the dashboard, against the fake WAHA: Test sends the
message once to the one number typed (never to the recipients, nothing saved),
Run now says how many it will message, and the form estimates a run's length."""
import re

import pytest

from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, SentMessage

from .conftest import csrf_token_in

ANA, BRUNO = "+55 (11) 98765-4321", "21 99876-5432"


@pytest.fixture
def waha(app, fake_waha):
    app.config.update(fake_waha.settings(), MESSAGE_DELAY_MIN_SECONDS=30, MESSAGE_DELAY_MAX_SECONDS=60)
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default", "5511900000000")
    return fake_waha


@pytest.fixture
def form(client, channel):
    token = csrf_token_in(client.get("/chronos/new").get_data(as_text=True))
    return {"csrf_token": token, "name": "Lembrete", "schedule": "todo dia às 18", "timezone": "America/Sao_Paulo",
            "target_type": "MESSAGE", "channel_id": str(channel.id), "message_template": "Oi {{ recipient }}!",
            "recipients": f"{ANA}\n{BRUNO}", "is_active": "y", "method": "GET", "payload_format": "json"}


def nothing_saved():
    return [db.session.scalar(db.select(db.func.count()).select_from(model)) for model in (Chrono, ChronoRun,
                                                                                            SentMessage)] == [0, 0, 0]


def test_test_sends_the_message_to_the_typed_number_only(client, waha, form):
    answer = client.post("/chronos/test", data={**form, "test_to": "(21) 97777-6666"})
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["ok"] and data["summary"] == "Sent to +55 21 97777-6666:" and data["snippet"] == \
        "Oi +55 21 97777-6666!"
    assert [(m.chat_id, m.text) for m in waha.sent] == [("5521977776666@c.us", "Oi +55 21 97777-6666!")]
    assert nothing_saved()


def test_test_without_a_number_goes_to_the_linked_phone(client, waha, form):
    data = client.post("/chronos/test", data=form).get_json()
    assert data["ok"] and [m.chat_id for m in waha.sent] == ["5511900000000@c.us"]


def test_test_explains_what_went_wrong(client, waha, form):
    bad = client.post("/chronos/test", data={**form, "test_to": "12"})
    assert bad.status_code == 422 and "“12” is not a valid phone number" in bad.get_json()["errors"]["test_to"][0]
    waha.missing.add("5521977776666")
    missing = client.post("/chronos/test", data={**form, "test_to": "21977776666"}).get_json()
    assert missing == {"ok": False, "duration_ms": missing["duration_ms"], "duration": missing["duration"],
                       "snippet": None, "summary": None, "error": "This number is not on WhatsApp."}
    waha.sessions["default"].status = "SCAN_QR_CODE"
    client.set_cookie("lang", "pt_BR")
    down = client.post("/chronos/test", data={**form, "test_to": "21977776666"}).get_json()
    assert not down["ok"] and "não está conectada" in down["error"]
    assert waha.sent == [] and nothing_saved()


def test_test_without_javascript_answers_in_the_form(client, waha, form):
    html = client.post("/chronos/new", data={**form, "test_to": "21977776666", "action": "test"}).get_data(
        as_text=True)
    assert "Sent to +55 21 97777-6666:" in html and "Oi +55 21 97777-6666!" in html
    assert len(waha.sent) == 1 and nothing_saved()


def test_run_now_says_how_many_it_will_message(client, waha, form):
    assert client.post("/chronos/new", data={**form, "action": "save"}).status_code == 302
    chrono = db.session.scalars(db.select(Chrono)).one()
    page = client.get(f"/chronos/{chrono.id}").get_data(as_text=True)
    assert re.search(r"<button[^>]*>Run now: 2 messages</button>", page)
    token = csrf_token_in(page)
    done = client.post(f"/chronos/{chrono.id}/run", data={"csrf_token": token}, follow_redirects=True)
    assert "Started: messaging 2 recipients, one every 30 to 60 seconds" in done.get_data(as_text=True)


def test_the_form_estimates_a_run_and_refuses_a_blast(client, waha, form):
    page = client.get("/chronos/new").get_data(as_text=True)
    assert 'data-estimate-url="/waha/estimate"' in page
    many = "\n".join(f"+55 11 98765-{n:04d}" for n in range(40))
    html = client.post("/chronos/new", data={**form, "recipients": many, "schedule": "de hora em hora",
                                             "action": "save"}).get_data(as_text=True)
    assert "40 recipients: each run takes about 20 minutes to 39 minutes" in html
    assert "more than 500 messages a day" in html  # next to the field, and in the estimate
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0
