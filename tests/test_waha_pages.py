"""The WhatsApp session pages and /api/waha/sessions through Flask's test client,
against the fake WAHA: every page and form, WAHA down, a wrong key."""
import functools
import re

import pytest

from chronoflow.extensions import db
from chronoflow.models import Channel

from .conftest import run_task


@pytest.fixture
def waha(app, fake_waha):
    app.config.update(fake_waha.settings())
    fake_waha.start_delay = 0
    return fake_waha


@pytest.fixture
def post(post_form):
    return functools.partial(post_form, token_from="/channels/new")


def text(response):
    return response.get_data(as_text=True)


def test_the_list_shows_status_and_the_linked_number(client, waha):
    waha.add_session("default", "SCAN_QR_CODE")
    waha.pair("default", "5511987654321")
    html = text(client.get("/waha/sessions"))
    assert "connected" in html and "+55 11 98765-4321" in html
    assert waha.api_key not in html


def test_the_list_says_when_waha_is_down_and_how_to_fix_it(app, client, waha):
    url = waha.url
    waha.close()
    response = client.get("/waha/sessions")
    assert response.status_code == 200
    assert "Cannot talk to the WhatsApp server" in text(response) and f"not reachable at {url}" in text(response)


def test_the_list_says_when_the_key_is_wrong(app, client, waha):
    app.config["WAHA_API_KEY"] = "wrong"
    html = text(client.get("/waha/sessions"))
    assert "refused our API key" in html and "WAHA_API_KEY" in html


def test_creating_a_session_leads_to_the_pairing_page(client, waha, post):
    response = post("/waha/sessions", {"name": "default"})
    assert response.status_code == 302 and response.headers["Location"] == "/waha/sessions/default"
    html = text(client.get("/waha/sessions/default"))
    assert 'src="/waha/sessions/default/qr.png"' in html
    assert "Linked devices" in html and "Link a device" in html
    assert 'src="/static/js/waha.js"' in html and "<script>" not in html


def test_a_bad_session_name_is_refused(client, waha, post):
    response = post("/waha/sessions", {"name": "no spaces please"}, follow_redirects=True)
    assert "letters, digits" in text(response) and waha.sessions == {}


def test_waha_core_refusing_a_second_session_is_explained(client, waha, post):
    response = post("/waha/sessions", {"name": "sales"}, follow_redirects=True)
    assert "has one session only, named default" in text(response)


def test_the_qr_image_comes_from_our_server(client, waha):
    waha.add_session("default", "SCAN_QR_CODE")
    response = client.get("/waha/sessions/default/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store" and response.data.startswith(b"\x89PNG")
    waha.pair()
    assert client.get("/waha/sessions/default/qr.png").status_code == 404


def test_the_status_endpoint_follows_the_pairing(client, waha):
    waha.add_session("default", "SCAN_QR_CODE")
    state = client.get("/waha/sessions/default/status").get_json()
    assert (state["status"], state["working"]) == ("SCAN_QR_CODE", False) and "Scan the code below" in state["advice"]
    waha.pair("default", "5511987654321")
    state = client.get("/waha/sessions/default/status").get_json()
    assert state["working"] and state["headline"] == "Connected as +55 11 98765-4321"
    waha.close()
    response = client.get("/waha/sessions/default/status")
    assert response.status_code == 503 and "not reachable" in response.get_json()["error"]


def test_a_connected_session_page_says_so(client, waha):
    waha.add_session("default", "SCAN_QR_CODE")
    waha.pair("default", "5511987654321")
    html = text(client.get("/waha/sessions/default"))
    assert "Connected as +55 11 98765-4321" in html and "Create a channel for this number" in html


def test_a_missing_session_offers_to_create_it(client, waha):
    html = text(client.get("/waha/sessions/default"))
    assert "does not exist" in html and "Create session “default”" in html


def test_the_pairing_page_when_waha_is_down(client, waha):
    waha.close()
    response = client.get("/waha/sessions/default")
    assert response.status_code == 200 and "Cannot talk to the WhatsApp server" in text(response)


def test_a_pairing_code_is_shown_large(client, waha, post):
    waha.add_session("default", "SCAN_QR_CODE")
    html = text(post("/waha/sessions/default/pairing-code", {"phone": "+55 (11) 98765-4321"}))
    assert re.search(r'class="pairing-code"[^>]*>4321-WXYZ<', html)
    html = text(post("/waha/sessions/default/pairing-code", {"phone": "123"}))
    assert "“123” is not a valid phone number" in html and 'class="pairing-code"' not in html
    # The page's language links point at this address: a GET leads back to the page.
    assert client.get("/waha/sessions/default/pairing-code").headers["Location"] == "/waha/sessions/default"


def test_session_actions_and_delete_with_confirmation(client, waha, post):
    waha.add_session("default", "SCAN_QR_CODE")
    waha.pair()
    response = post("/waha/sessions/default/stop", follow_redirects=True)
    assert "stopped" in text(response) and waha.status() == "STOPPED"
    post("/waha/sessions/default/start")
    assert waha.status() == "WORKING"
    post("/waha/sessions/default/logout")
    assert waha.status() == "SCAN_QR_CODE"
    post("/waha/sessions/default/restart")
    assert "Delete session “default”?" in text(client.get("/waha/sessions/default/delete"))
    response = post("/waha/sessions/default/delete", follow_redirects=True)
    assert "Session “default” deleted." in text(response) and waha.sessions == {}


def test_actions_need_their_csrf_token(client, waha):
    waha.add_session("default", "WORKING")
    for action in ("start", "stop", "restart", "logout", "delete"):
        assert client.post(f"/waha/sessions/default/{action}").status_code == 400
    assert waha.status() == "WORKING"


def test_an_action_on_waha_down_is_a_message(client, waha, post):
    waha.close()
    response = post("/waha/sessions/default/stop", follow_redirects=True)
    assert response.status_code == 200 and "not reachable" in text(response)


def test_the_run_page_shows_each_recipient(client, app, waha, make_chrono):
    from chronoflow.chronos import service

    app.config.update(MESSAGE_DELAY_MIN_SECONDS=0, MESSAGE_DELAY_MAX_SECONDS=0)
    waha.add_session("default", "SCAN_QR_CODE")
    waha.pair()
    waha.missing.add("5521998765432")
    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.commit()
    chrono = make_chrono(target_type="MESSAGE", channel_id=channel.id, message_template="Oi",
                         recipients=["11987654321", "21 99876-5432"], schedule="@daily")
    run = service.trigger_now(chrono)
    db.session.commit()
    run_task(run.id)
    html = text(client.get(f"/runs/{run.id}"))
    assert "1 of 2 sent" in html and "+55 11 98765-4321" in html and "5511987654321@c.us" in html
    assert "This number is not on WhatsApp." in html


# --- /api/waha/sessions ----------------------------------------------------------

def test_the_api_manages_sessions(client, waha):
    created = client.post("/api/waha/sessions", json={"name": "default"})
    assert created.status_code == 201 and created.get_json()["status"] == "STARTING"
    assert client.get("/api/waha/sessions").get_json()[0]["status"] == "SCAN_QR_CODE"
    qr = client.get("/api/waha/sessions/default/qr").get_json()
    assert qr["mimetype"] == "image/png" and qr["data"]
    code = client.post("/api/waha/sessions/default/pairing-code", json={"phone_number": "11987654321"})
    assert code.get_json() == {"code": "4321-WXYZ"}
    waha.pair("default", "5511987654321")
    assert client.get("/api/waha/sessions/default").get_json()["phone"] == "+55 11 98765-4321"
    assert client.post("/api/waha/sessions/default/stop").get_json()["status"] == "STOPPED"
    assert client.delete("/api/waha/sessions/default").status_code == 204


def test_the_api_errors_have_the_usual_shape(app, client, waha):
    missing = client.get("/api/waha/sessions/default")
    assert missing.status_code == 404 and "does not exist" in missing.get_json()["message"]
    waha.add_session("default", "WORKING")
    assert client.get("/api/waha/sessions/default/qr").status_code == 409
    assert client.get("/api/waha/sessions/bad%20name").status_code == 422
    bad = client.post("/api/waha/sessions/default/pairing-code", json={"phone_number": "12"})
    assert bad.status_code == 422 and "phone_number" in bad.get_json()["errors"]["json"]
    app.config["WAHA_API_KEY"] = "wrong"
    assert client.get("/api/waha/sessions").status_code == 502
    waha.close()
    down = client.get("/api/waha/sessions")
    assert down.status_code == 503 and down.get_json()["code"] == 503 and "WAHA_BASE_URL" in down.get_json()["message"]
