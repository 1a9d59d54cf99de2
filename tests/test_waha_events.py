"""The whole loop against the fake WAHA, on SQLite and PostgreSQL: ChronoFlow is
served over HTTP and the fake sends it signed message.ack and session.status
webhooks, as WAHA does; receipts reach the run page and the API, the QR page
follows a pushed event without asking WAHA, a dropped session alerts once, and
forged, unsigned or replayed events change nothing."""
import hashlib
import hmac
import json
import time

import pytest
import requests

from chronoflow.chronos import service
from chronoflow.extensions import db
from chronoflow.models import SentMessage, UnmatchedAck, WahaEvent, WahaSession

from . import conftest
from .conftest import csrf_token_in, drain
from .support.server import serving

TOKEN = "t0ken-for-the-url-0123456789"
KEY = "hmac-key-0123456789abcdef"
ANA, BRUNO = "+55 (11) 98765-4321", "21998765432"


def settle():
    """End the test's transaction: the served app writes while the test waits."""
    db.session.commit()
    db.session.expire_all()


@pytest.fixture
def served(app, fake_waha):
    """ChronoFlow on a real port, the fake WAHA pointed at it and it at the fake."""
    with serving(app) as base:
        app.config.update(fake_waha.settings(), WAHA_WEBHOOK_BASE_URL=base, WAHA_WEBHOOK_TOKEN=TOKEN,
                          WAHA_WEBHOOK_HMAC_KEY=KEY, MESSAGE_DELAY_MIN_SECONDS=0.05,
                          MESSAGE_DELAY_MAX_SECONDS=0.1)
        fake_waha.start_delay = 0.05
        yield base


def delivered(fake, predicate, count=1):
    """Wait for the fake's webhooks to be answered, the test's transaction ended first
    (on SQLite it would hold the lock the served app needs)."""
    settle()
    return fake.wait_for_deliveries(predicate, count=count)


def status_event(fake, status):
    return lambda d: d.event == "session.status" and d.envelope["payload"]["status"] == status


def link(client, fake, phone="5511900000000"):
    """Create the session through ChronoFlow (which gives WAHA its webhook), scan, connected."""
    assert client.post("/api/waha/sessions", json={"name": "default"}).status_code == 201
    settle()
    delivered(fake, status_event(fake, "SCAN_QR_CODE"))
    fake.pair("default", phone)
    delivered(fake, status_event(fake, "WORKING"))
    settle()


@pytest.fixture
def message_chrono(make_chrono, channel):
    def make(recipients=(ANA, BRUNO)):
        return make_chrono(name="Lembrete", target_type="MESSAGE", channel_id=channel.id, url=None,
                           message_template="Oi {{ recipient }}", recipients=list(recipients), schedule="@daily")

    return make


def run_now(chrono):
    run = conftest.run_now(chrono)
    settle()
    return run


def post_event(base, event, payload, session="default", path="", headers=None, timestamp=None):
    settle()
    body = json.dumps({"event": event, "session": session, "payload": payload, "me": None,
                       **({"timestamp": timestamp} if timestamp else {})}).encode()
    return requests.post(f"{base}/api/waha/webhook{path}", data=body, timeout=10,
                         headers={"Content-Type": "application/json", **(headers or {})})


def signed(body_fields, key=KEY):
    body = json.dumps(body_fields).encode()
    return body, {"Content-Type": "application/json", "X-Webhook-Hmac": hmac.new(key.encode(), body,
                                                                                  hashlib.sha512).hexdigest(),
                  "X-Webhook-Hmac-Algorithm": "sha512"}


def test_sessions_chronoflow_creates_send_it_their_events(client, fake_waha, served):
    assert client.post("/api/waha/sessions", json={"name": "default"}).status_code == 201
    settle()
    hook, = fake_waha.sessions["default"].config["webhooks"]
    assert hook["url"] == f"{served}/api/waha/webhook/{TOKEN}" and hook["hmac"] == {"key": KEY}
    assert set(hook["events"]) == {"session.status", "message.ack"}
    delivery, = delivered(fake_waha, status_event(fake_waha, "SCAN_QR_CODE"))
    assert delivery.status == 200 and delivery.headers["X-Webhook-Hmac"]
    settle()
    assert db.session.get(WahaSession, "default").status == "SCAN_QR_CODE"


def test_waha_cores_existing_session_gets_the_webhook_and_keeps_its_own(client, fake_waha, served):
    # WAHA Core has "default" from boot: ChronoFlow PUTs its webhook next to the others.
    theirs = {"url": "https://example.com/their-hook", "events": ["message"]}
    stale = {"url": f"{served}/api/waha/webhook/old-token-0000000000", "events": ["session.status"]}
    fake_waha.add_session("default", "STOPPED", config={"webhooks": [theirs, stale], "metadata": {"a": "b"}})
    assert client.post("/api/waha/sessions", json={"name": "default"}).status_code == 201
    config = fake_waha.sessions["default"].config
    assert [hook["url"] for hook in config["webhooks"]] == [theirs["url"], f"{served}/api/waha/webhook/{TOKEN}"]
    assert config["metadata"] == {"a": "b"} and fake_waha.status() in ("STARTING", "SCAN_QR_CODE")


def test_receipts_reach_the_run_page_the_chrono_page_and_the_api(client, fake_waha, served, message_chrono):
    link(client, fake_waha)
    chrono = message_chrono()
    run = run_now(chrono)
    assert run.status == "success"
    # The fake acks each message SERVER then DEVICE by itself; then Ana reads hers.
    delivered(fake_waha, lambda d: d.event == "message.ack", count=4)
    fake_waha.ack(fake_waha.sent[0], 3)
    read, = delivered(fake_waha, lambda d: d.ack == 3)
    assert read.status == 200
    settle()

    recipients = client.get(f"/api/runs/{run.id}").get_json()["result"]["recipients"]
    assert [(r["to"], r["status"], r["delivery"]) for r in recipients] == [(ANA, "sent", "read"),
                                                                            (BRUNO, "sent", "delivered")]
    assert recipients[0]["delivered_at"] <= recipients[0]["read_at"] and recipients[1]["read_at"] is None
    assert recipients[0]["message_id"].endswith(fake_waha.sent[0].message_id)
    listed = client.get(f"/api/chronos/{chrono.id}/runs").get_json()["items"][0]["result"]["recipients"]
    assert [r["delivery"] for r in listed] == ["read", "delivered"]

    page = client.get(f"/runs/{run.id}").get_data(as_text=True)
    assert "2 of 2 delivered, 1 read" in page
    assert page.count('class="receipt receipt-read"') == 1 and page.count('class="receipt receipt-delivered"') == 1
    assert "2 of 2 delivered, 1 read" in client.get(f"/chronos/{chrono.id}").get_data(as_text=True)
    client.set_cookie("lang", "pt_BR")
    assert "2 de 2 entregues, 1 lidas" in client.get(f"/runs/{run.id}").get_data(as_text=True)


def test_acks_are_matched_whatever_the_engine_answered_and_land_days_later(client, fake_waha, served,
                                                                           message_chrono):
    fake_waha.engine = "NOWEB"  # sendText answers key.id; acks carry true_<chat>_<id>
    fake_waha.auto_acks = ()
    link(client, fake_waha)
    run = run_now(message_chrono(recipients=(ANA,)))
    assert run.result["recipients"][0]["message_id"] == fake_waha.sent[0].message_id
    assert client.get(f"/api/runs/{run.id}").get_json()["result"]["recipients"][0]["delivery"] == "sent"

    later = int((time.time() + 3 * 86400) * 1000)  # three days on (our clock caps it at now)
    payload = {"id": fake_waha.sent[0].serialized, "fromMe": True, "ack": 4, "ackName": "PLAYED"}
    body, headers = signed({"event": "message.ack", "session": "default", "payload": payload, "timestamp": later})
    settle()
    assert requests.post(f"{served}/api/waha/webhook", data=body, headers=headers, timeout=10).json() == {
        "result": "applied"}
    settle()
    message = db.session.scalars(db.select(SentMessage)).one()
    assert (message.ack, message.delivered_at, message.read_at) == (4, message.played_at, message.played_at)


def test_forged_or_unsigned_events_change_nothing(client, fake_waha, served, message_chrono):
    fake_waha.auto_acks = ()
    link(client, fake_waha)
    run_now(message_chrono(recipients=(ANA,)))
    events_before = db.session.scalar(db.select(db.func.count()).select_from(WahaEvent))
    settle()
    failed = {"event": "session.status", "session": "default", "payload": {"name": "default", "status": "FAILED"}}
    read = {"event": "message.ack", "session": "default",
            "payload": {"id": fake_waha.sent[0].serialized, "fromMe": True, "ack": 3}}
    for fields in (failed, read):
        body, good = signed(fields)
        forged_body, _ = signed({**fields, "session": "default "})  # signed, then changed on its way
        attempts = [
            ("", {}),  # unsigned, no token
            ("", signed(fields, key="another-key-0123456789")[1]),  # signed with the wrong key
            ("", {**good, "X-Webhook-Hmac-Algorithm": "sha256"}),
            ("/wrong-token-0123456789", {}),
            (f"/{TOKEN}", {**good, "X-Webhook-Hmac": signed(fields, key="another-key-0123456789")[1]
                           ["X-Webhook-Hmac"]}),  # the right token does not excuse a bad signature
        ]
        for path, headers in attempts:
            response = requests.post(f"{served}/api/waha/webhook{path}", data=body, timeout=10,
                                     headers={"Content-Type": "application/json", **headers})
            assert response.status_code == 401 and response.json()["code"] == 401, (path, headers)
        response = requests.post(f"{served}/api/waha/webhook", data=forged_body, headers=good, timeout=10)
        assert response.status_code == 401
    settle()
    assert db.session.get(WahaSession, "default").status == "WORKING"
    assert db.session.scalars(db.select(SentMessage)).one().ack is None
    assert db.session.scalar(db.select(db.func.count()).select_from(WahaEvent)) == events_before

    # The same events with their proof are applied: by signature, or by the URL's token alone.
    settle()
    body, good = signed(read)
    assert requests.post(f"{served}/api/waha/webhook", data=body, headers=good, timeout=10).json()["result"] \
        == "applied"
    assert post_event(served, "session.status", failed["payload"], path=f"/{TOKEN}").json()["result"] == "applied"
    settle()
    assert db.session.get(WahaSession, "default").status == "FAILED"
    assert db.session.scalars(db.select(SentMessage)).one().ack == 3


def test_a_replayed_event_changes_nothing_twice(app, client, fake_waha, served, target):
    app.config.update(ALERT_WEBHOOK_URL=target.url("/alerts"))
    link(client, fake_waha)
    fake_waha.fail("default")
    delivery, = delivered(fake_waha, status_event(fake_waha, "FAILED"))
    settle()
    before = db.session.get(WahaSession, "default")
    seen = (before.status, before.status_at, before.changed_at, before.alert_open)
    settle()

    again = fake_waha.replay(delivery)
    assert again.status_code == 200 and again.json() == {"result": "duplicate"}
    # The same event under a new request id (a second hook, WAHA's own retry id...): no second alert.
    headers = {**delivery.headers, "X-Webhook-Request-Id": "another-id"}
    assert requests.post(delivery.url, data=delivery.body, headers=headers, timeout=10).json()["result"] == "applied"
    settle()
    after = db.session.get(WahaSession, "default")
    assert (after.status, after.status_at, after.alert_open) == seen[:2] + (True,)
    drain()
    assert [json.loads(r.body)["event"] for r in target.received("/alerts")] == ["whatsapp_disconnected"]


def test_the_qr_page_turns_connected_from_a_pushed_event_without_asking_waha(client, fake_waha, served):
    token = csrf_token_in(client.get("/waha/sessions").get_data(as_text=True))
    settle()  # the page's read ends with it, as with a request of its own (the test client shares our session)
    assert client.post("/waha/sessions", data={"name": "default", "csrf_token": token}).status_code == 302
    settle()
    delivered(fake_waha, status_event(fake_waha, "SCAN_QR_CODE"))
    settle()
    first = client.get("/waha/sessions/default/status").get_json()
    assert (first["status"], first["live"]) == ("SCAN_QR_CODE", True)
    settle()

    fake_waha.reads_down = True  # WAHA's polling endpoints are gone: only pushed events can tell
    asked = len(fake_waha.requests)
    fake_waha.rotate_qr("default")
    delivered(fake_waha, status_event(fake_waha, "SCAN_QR_CODE"), count=2)
    rotated = client.get("/waha/sessions/default/status").get_json()
    settle()
    assert rotated["status"] == "SCAN_QR_CODE" and rotated["changed_at"] > first["changed_at"]  # a new code

    fake_waha.pair("default", "5511987654321", push_name="Padaria")
    delivered(fake_waha, status_event(fake_waha, "WORKING"))
    state = client.get("/waha/sessions/default/status").get_json()
    assert state["working"] and state["headline"] == "Connected as +55 11 98765-4321"
    assert [request for request in fake_waha.requests[asked:] if request[0] == "GET"] == []
    states = client.get("/waha/states").get_json()
    assert [(s["name"], s["status"], s["phone"]) for s in states] == [("default", "WORKING", "+55 11 98765-4321")]


def test_without_events_the_status_comes_from_waha(client, fake_waha, app):
    """A WAHA that sends no events (webhooks not set up): the page asks WAHA, as before."""
    app.config.update(fake_waha.settings())
    fake_waha.add_session("default", "SCAN_QR_CODE")
    assert client.get("/waha/sessions/default/status").get_json()["live"] is False
    fake_waha.pair("default", "5511987654321")
    assert client.get("/waha/sessions/default/status").get_json()["working"] is True


def test_a_dropped_session_alerts_once_and_says_when_it_is_back(app, client, post_form, fake_waha, served, target):
    app.config.update(ALERT_WEBHOOK_URL=target.url("/alerts"), ALERT_LANGUAGE="pt_BR")
    link(client, fake_waha, phone="5511987654321")
    fake_waha.sessions["default"].paired_phone = None  # the phone unlinked it: a restart asks for the QR
    fake_waha.fail("default")
    delivered(fake_waha, status_event(fake_waha, "FAILED"))
    fake_waha.restart("default")  # WAHA restarting it by itself
    delivered(fake_waha, status_event(fake_waha, "SCAN_QR_CODE"))
    fake_waha.rotate_qr("default")
    delivered(fake_waha, status_event(fake_waha, "SCAN_QR_CODE"), count=2)
    settle()
    drain()
    alerts = [json.loads(r.body) for r in target.received("/alerts")]
    assert [(a["event"], a["session"]["status"]) for a in alerts] == [("whatsapp_disconnected", "FAILED")]
    assert alerts[0]["message"].startswith("WhatsApp desconectado")

    fake_waha.pair("default", "5511987654321")
    delivered(fake_waha, status_event(fake_waha, "WORKING"), count=2)
    settle()
    drain()
    alerts = [json.loads(r.body) for r in target.received("/alerts")]
    assert [a["event"] for a in alerts] == ["whatsapp_disconnected", "whatsapp_connected"]
    assert "+55 11 98765-4321" in alerts[1]["message"]

    # Stopped by a person, here: expected, no alert.
    post_form("/waha/sessions/default/stop", token_from="/waha/sessions")
    settle()
    delivered(fake_waha, status_event(fake_waha, "STOPPED"))
    settle()
    drain()
    assert len(target.received("/alerts")) == 2


def test_unknown_and_malformed_events_are_ignored_never_a_500(client, fake_waha, served, caplog):
    settle()
    bodies = [b"{not json", b"[1, 2]", b'"text"', json.dumps({"event": "message", "payload": {}}).encode(),
              json.dumps({"event": "session.status", "payload": "x"}).encode(),
              json.dumps({"event": "session.status", "session": "default", "payload": {"status": 7}}).encode(),
              json.dumps({"event": "message.ack", "session": "default", "payload": {"id": "x", "ack": "lots"}}).encode(),
              json.dumps({"event": "message.ack", "session": "default",
                          "payload": {"id": "true_1@c.us_NOBODY", "fromMe": True, "ack": 3}}).encode(),
              json.dumps({"event": "session.status", "session": "default", "timestamp": 1000,
                          "payload": {"status": "WORKING"}}).encode()]
    for body in bodies:
        response = requests.post(f"{served}/api/waha/webhook/{TOKEN}", data=body, timeout=10,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == 200, body
    assert "WAHA webhook ignored" in caplog.text
    settle()
    assert db.session.get(WahaSession, "default") is None or db.session.get(WahaSession, "default").status is None
    # The unknown message's ack waits a while, in case its message is being written.
    assert [ack.message_key for ack in db.session.scalars(db.select(UnmatchedAck))] == ["NOBODY"]
    too_big = requests.post(f"{served}/api/waha/webhook/{TOKEN}", data=b"x" * (1024 * 1024 + 1), timeout=10)
    assert too_big.status_code == 413


def test_an_ack_that_comes_before_its_message_is_recorded_still_lands(app, client, fake_waha, served,
                                                                        message_chrono):
    fake_waha.auto_acks = ()
    link(client, fake_waha)
    from chronoflow.waha import receipts

    # The ack reaches ChronoFlow first...
    assert post_event(served, "message.ack", {"id": "true_5511987654321@c.us_EARLY1", "fromMe": True, "ack": 2},
                      path=f"/{TOKEN}").json()["result"] == "applied"
    settle()
    run = service.trigger_now(message_chrono(recipients=(ANA,)))
    db.session.commit()
    # ...then the executor writes the message's row.
    receipts.record_sent(run.id, "default", {"to": ANA, "chat_id": "5511987654321@c.us",
                                             "message_id": "true_5511987654321@c.us_EARLY1"}, run.scheduled_for)
    settle()
    message = db.session.scalars(db.select(SentMessage)).one()
    assert message.ack == 2 and message.delivered_at is not None
    assert db.session.scalars(db.select(UnmatchedAck)).all() == []

