"""The rules behind receipts and session states, one function at a time, without
HTTP: acks only move forward, statuses older than the last are stale, a drop
alerts once (and not when a person asked for it), and WAHA's proof."""
import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from chronoflow.chronos import service
from chronoflow.extensions import db
from chronoflow.models import Channel, WahaSession
from chronoflow.scheduling import streaks
from chronoflow.waha import events, receipts, state

from .conftest import utc

T0 = utc(2026, 3, 2, 12)


@pytest.fixture
def message(app, make_chrono):
    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.commit()
    chrono = make_chrono(target_type="MESSAGE", channel_id=channel.id, url=None, message_template="Oi",
                         recipients=["11987654321"], schedule="@daily")
    run = service.trigger_now(chrono)
    row = receipts.record_sent(run.id, "default", {"to": "11987654321", "chat_id": "5511987654321@c.us",
                                                   "message_id": "true_5511987654321@c.us_3EB0AAA"}, T0)
    db.session.commit()
    return row


def ack(level, minutes):
    assert receipts.apply_ack("3EB0AAA", level, T0 + timedelta(minutes=minutes))
    db.session.commit()


@pytest.mark.parametrize("value, key", [
    ("true_5511987654321@c.us_3EB0AAA", "3EB0AAA"),  # WEBJS, and every ack
    ("3EB0AAA", "3EB0AAA"),  # NOWEB's key.id
    ("false_120363012345678901@g.us_3EB0BBB_5511987654321@c.us", "3EB0BBB"),  # a group, with its participant
    ({"_serialized": "true_1@c.us_3EB0CCC", "id": "3EB0CCC"}, "3EB0CCC"),
    ("", None), (None, None), (12, None),
])
def test_message_keys_match_whatever_the_wrapping(value, key):
    assert receipts.message_key(value) == key


def test_acks_only_move_forward_and_keep_their_first_times(message):
    ack(3, 5)  # READ arrives first: delivered is implied, at the same time
    ack(2, 2)  # the late DEVICE ack changes nothing
    ack(3, 9)  # a retry of READ neither
    db.session.refresh(message)
    assert (message.ack, message.delivered_at, message.read_at) == (3, T0 + timedelta(minutes=5),
                                                                    T0 + timedelta(minutes=5))
    assert receipts.delivery(message) == "read"
    ack(-1, 10)  # an error after delivery does not undo it
    db.session.refresh(message)
    assert receipts.delivery(message) == "read" and message.failed_at is None


def test_an_error_before_delivery_shows_and_a_later_delivery_wins(message):
    ack(1, 1)
    ack(-1, 2)
    db.session.refresh(message)
    assert receipts.delivery(message) == "error" and message.failed_at == T0 + timedelta(minutes=2)
    ack(2, 3)
    db.session.refresh(message)
    assert receipts.delivery(message) == "delivered"


def test_an_ack_for_no_message_of_ours_is_kept_a_while_and_changes_nothing(message):
    assert receipts.apply_ack("NOT-OURS", 3, T0) is False
    db.session.commit()
    db.session.refresh(message)
    assert message.ack is None


def test_the_tally_counts_each_stage_reached():
    recipients = [{"status": "sent", "delivery": state} for state in ("played", "read", "delivered", "sent", "error")]
    recipients += [{"status": "sent", "delivery": None}, {"status": "failed", "delivery": None}]
    assert receipts.tally(recipients) == {"total": 7, "sent": 6, "delivered": 3, "read": 2, "played": 1, "error": 1}


# --- session states ---------------------------------------------------------------

@pytest.fixture
def alerts_on(app):
    app.config["ALERT_WEBHOOK_URL"] = "http://127.0.0.1:9/alerts"


def record(status, minutes=0, **kwargs):
    alert = state.record("default", status, at=T0 + timedelta(minutes=minutes), event=True,
                         now=T0 + timedelta(minutes=minutes), **kwargs)
    db.session.commit()
    return alert


def test_a_session_that_never_worked_does_not_alert(app, alerts_on):
    assert record("STARTING") is None and record("SCAN_QR_CODE", 1) is None and record("FAILED", 2) is None


def test_a_drop_alerts_once_and_the_recovery_once(app, alerts_on):
    assert record("WORKING", 0, me_id="5511987654321@c.us") is None
    down = record("SCAN_QR_CODE", 1)
    assert down["event"] == "whatsapp_disconnected" and down["session"] == {
        "name": "default", "status": "SCAN_QR_CODE", "phone": None}
    assert set(down) == {"event", "session", "message"}  # no chrono or run to speak of
    assert down["message"] == ("WhatsApp disconnected: scan the QR code again (session default, under WhatsApp > "
                               "Sessions).")
    assert record("SCAN_QR_CODE", 2) is None and record("FAILED", 3) is None  # the same outage
    back = record("WORKING", 4, me_id="5511987654321@c.us")
    assert back["event"] == "whatsapp_connected" and "+55 11 98765-4321" in back["message"]
    assert record("WORKING", 5) is None


def test_an_older_event_arriving_late_is_stale(app, alerts_on):
    record("WORKING", 10)
    assert record("FAILED", 5) is None
    assert db.session.get(WahaSession, "default").status == "WORKING"


def test_a_drop_a_person_asked_for_is_no_outage(app, alerts_on):
    record("WORKING", 0)
    state.expect_drop("default", now=T0)
    db.session.commit()
    assert record("STOPPED", 1) is None
    assert record("WORKING", 2) is None  # nothing to recover from
    assert record("FAILED", 30)["event"] == "whatsapp_disconnected"  # long after: a real outage


def test_without_an_alert_receiver_the_state_is_still_followed(app):
    record("WORKING", 0)
    assert record("FAILED", 1) is None
    assert db.session.get(WahaSession, "default").alert_open is True


def test_the_alert_goes_through_the_chronos_alert_senders(app, alerts_on, target, fake_waha):
    """streaks.send_alert, both ways: the webhook and WhatsApp (ALERT_WHATSAPP_TO)."""
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default")
    app.config.update(fake_waha.settings(), ALERT_WEBHOOK_URL=target.url("/alerts"),
                      ALERT_WHATSAPP_TO=("11 98765-4321",), ALERT_LANGUAGE="pt_BR")
    record("WORKING")
    streaks.send_alert(record("FAILED", 1))
    alert = json.loads(target.received("/alerts")[0].body)
    assert alert["event"] == "whatsapp_disconnected"
    assert target.received("/alerts")[0].headers["X-ChronoFlow-Event"] == "whatsapp_disconnected"
    assert [m.text for m in fake_waha.sent] == [
        "ChronoFlow: WhatsApp desconectado: a sessão default falhou. Reinicie-a ou escaneie o QR de novo em "
        "WhatsApp > Sessões."]


# --- WAHA's proof -------------------------------------------------------------------

CONFIG = {"WAHA_WEBHOOK_HMAC_KEY": "k" * 20, "WAHA_WEBHOOK_TOKEN": "t" * 20}
BODY = b'{"event": "session.status"}'


def sign(body, key="k" * 20):
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


@pytest.mark.parametrize("config, headers, token, proven", [
    (CONFIG, {"X-Webhook-Hmac": sign(BODY)}, None, True),
    (CONFIG, {"X-Webhook-Hmac": sign(BODY).upper(), "X-Webhook-Hmac-Algorithm": "SHA512"}, None, True),
    (CONFIG, {"X-Webhook-Hmac": sign(BODY, "x" * 20)}, "t" * 20, False),  # a bad signature beats a good token
    (CONFIG, {"X-Webhook-Hmac": sign(BODY), "X-Webhook-Hmac-Algorithm": "sha256"}, None, False),
    (CONFIG, {}, "t" * 20, True),
    (CONFIG, {}, "t" * 19, False),
    (CONFIG, {}, None, False),
    ({"WAHA_WEBHOOK_TOKEN": "t" * 20}, {"X-Webhook-Hmac": "whatever"}, "t" * 20, True),  # a key we were not given
    ({}, {}, None, False),  # nothing set up: nobody gets in
    ({}, {"X-Webhook-Hmac": sign(BODY)}, "", False),
])
def test_proof(config, headers, token, proven):
    assert events.proven(config, BODY, headers, token) is proven


def test_the_webhook_config_for_sessions(app):
    app.config.update(WAHA_WEBHOOK_BASE_URL="http://web:8000/", WAHA_WEBHOOK_TOKEN="t" * 20)
    hook = events.webhook_config(app.config)
    assert hook["url"] == "http://web:8000/api/waha/webhook/" + "t" * 20 and "hmac" not in hook
    assert events.ours({"url": "http://web:8000/api/waha/webhook/old"}, app.config)
    assert not events.ours({"url": "http://web:8000/other"}, app.config)
    app.config["WAHA_WEBHOOK_BASE_URL"] = None
    assert events.webhook_config(app.config) is None


def test_a_session_alert_that_cannot_be_delivered_is_logged_naming_the_session(app, alerts_on, target, caplog):
    target.respond("/alerts", status=500)
    app.config.update(ALERT_WEBHOOK_URL=target.url("/alerts"), ALERT_WHATSAPP_TO=())
    record("WORKING")
    streaks.send_alert(record("FAILED", 1))
    assert "alert whatsapp_disconnected (WhatsApp session default) not delivered: HTTP 500" in caplog.text
