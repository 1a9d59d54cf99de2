"""chronoflow.waha.client against the fake WAHA (a real HTTP server): the contract's
quirks, and every failure turned into an exception that says how to fix it."""
import pytest

from chronoflow.waha.client import (
    SessionNotFound,
    SessionNotReady,
    WahaClient,
    WahaFailed,
    WahaUnauthorized,
    WahaUnreachable,
    message_id,
)


@pytest.fixture
def client(fake_waha):
    return WahaClient(fake_waha.url, fake_waha.api_key, timeout_s=5)


def test_it_creates_and_starts_a_session_sending_start_explicitly(client, fake_waha):
    session = client.create_session("default")
    assert session.status == "STARTING"
    assert fake_waha.requests[-1][0:2] == ("POST", "/api/sessions")
    fake_waha.start_delay = 0
    assert client.get_session("default").status == "SCAN_QR_CODE"
    assert [s.name for s in client.list_sessions()] == ["default"]


def test_it_starts_core_default_session_that_already_exists(client, fake_waha):
    fake_waha.add_session("default", "STOPPED")  # WAHA Core has it from boot
    assert client.create_session("default").status == "STARTING"


def test_it_explains_core_allows_only_default(client):
    with pytest.raises(WahaFailed) as caught:
        client.create_session("sales")
    assert caught.value.status_code == 422 and "only 'default'" in caught.value.detail
    assert str(caught.value).startswith("The free WAHA (Core) has one session only, named default")


def test_a_wrong_api_key_is_unauthorized_with_the_fix(fake_waha):
    with pytest.raises(WahaUnauthorized) as caught:
        WahaClient(fake_waha.url, "wrong").list_sessions()
    assert "WAHA_API_KEY" in str(caught.value) and not caught.value.retryable


def test_an_unreachable_server_says_where_it_looked(fake_waha):
    url = fake_waha.url
    fake_waha.close()
    with pytest.raises(WahaUnreachable) as caught:
        WahaClient(url, "k", timeout_s=2).list_sessions()
    assert url in str(caught.value) and "WAHA_BASE_URL" in str(caught.value) and caught.value.retryable


def test_an_unknown_session_is_not_found(client):
    with pytest.raises(SessionNotFound) as caught:
        client.get_session("default")
    assert "'default'" in str(caught.value)


def test_the_qr_is_png_bytes_and_changes_when_rotated(client, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    first = client.qr_png("default")
    assert first.startswith(b"\x89PNG")
    fake_waha.rotate_qr()
    assert client.qr_png("default") != first
    assert fake_waha.requests[-1][2]["Accept"] == "image/png"


def test_no_qr_once_connected(client, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default", "5511900000000")
    with pytest.raises(SessionNotReady) as caught:
        client.qr_png("default")
    assert caught.value.status == "WORKING"


def test_a_working_session_knows_its_number(client, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default", "5511987654321", push_name="Padaria")
    session = client.get_session("default")
    assert session.working and session.phone == "+55 11 98765-4321" and session.push_name == "Padaria"


def test_session_actions(client, fake_waha):
    fake_waha.start_delay = 0
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default")
    assert client.stop("default").status == "STOPPED"
    assert client.start("default").status == "STARTING"
    assert client.get_session("default").status == "WORKING"  # the link was kept
    assert client.start("default").status == "WORKING"  # 2024.10 Core's "already started" is fine
    client.logout("default")
    assert client.get_session("default").status == "SCAN_QR_CODE"
    client.delete("default")
    with pytest.raises(SessionNotFound):
        client.get_session("default")


def test_pairing_code(client, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    assert client.request_code("default", "5511987654321") == "4321-WXYZ"


@pytest.mark.parametrize("engine", ["WEBJS", "NOWEB"])
def test_it_sends_text_and_reads_the_engine_specific_id(client, fake_waha, engine):
    fake_waha.engine = engine
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair()
    assert client.send_text("default", "5511987654321@c.us", "Oi") is not None
    assert [(s.chat_id, s.text) for s in fake_waha.sent] == [("5511987654321@c.us", "Oi")]


def test_sending_needs_a_working_session(client, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    with pytest.raises(SessionNotReady) as caught:
        client.send_text("default", "5511987654321@c.us", "Oi")
    assert "scan the QR code" in str(caught.value) and caught.value.retryable
    fake_waha.sessions["default"].status = "STOPPED"
    with pytest.raises(SessionNotFound):
        client.send_text("default", "5511987654321@c.us", "Oi")


def test_an_engine_error_is_kept_and_retryable(client, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair()
    fake_waha.send_errors["5511987654321@c.us"] = 500
    with pytest.raises(WahaFailed) as caught:
        client.send_text("default", "5511987654321@c.us", "Oi")
    assert "No LID for user" in str(caught.value) and caught.value.retryable


def test_check_exists_returns_the_chat_id_whatsapp_uses(client, fake_waha):
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair()
    fake_waha.chat_ids["5511987654321"] = "551187654321@c.us"
    fake_waha.missing.add("5511911112222")
    assert client.check_exists("default", "5511987654321") == "551187654321@c.us"
    assert client.check_exists("default", "5511911112222") is None


@pytest.mark.parametrize("body, expected", [
    ({"id": {"_serialized": "true_1@c.us_AAA", "id": "AAA"}}, "true_1@c.us_AAA"),
    ({"id": "true_1@c.us_BBB"}, "true_1@c.us_BBB"),
    ({"key": {"id": "CCC"}}, "CCC"),
    ({}, None),
    (None, None),  # WEBJS 2025.6.5 answered 201 with an empty body
])
def test_message_id_from_any_engine(body, expected):
    assert message_id(body) == expected
