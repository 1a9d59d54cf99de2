"""Issue 10: a chrono's headers cannot frame or route the request (no smuggling
through a kept-alive connection), nor forge ChronoFlow's own headers; names are
case-insensitive everywhere. Real targets on 127.0.0.1, the real HTTP client."""
import json

import pytest

from chronoflow import executors
from chronoflow.executors import headers as outgoing_headers
from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, utcnow


def create(client, headers, **fields):
    return client.post("/api/chronos", json={"name": "n", "schedule": "@daily", "url": "https://example.com/",
                                             "headers": headers, **fields})


@pytest.mark.parametrize("name", ["Content-Length", "transfer-encoding", "Host", "Connection", "Keep-Alive",
                                  "TE", "Trailer", "Upgrade", "Proxy-Connection", "Expect"])
def test_framing_and_hop_by_hop_headers_are_refused_at_save_naming_the_header(client, name):
    response = create(client, {name: "0"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["headers"][0].startswith(f"{name} is set by the HTTP client")
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0


@pytest.mark.parametrize("name", ["X-ChronoFlow-Signature", "x-chronoflow-signature", "X-CHRONOFLOW-RUN-ID",
                                  "x-chronoflow-timestamp", "x-chronoflow-scheduled-for"])
def test_chronoflow_s_own_headers_cannot_be_set(client, name):
    response = create(client, {name: "v1=forged"})
    assert response.status_code == 422
    assert "X-ChronoFlow-* headers are set by ChronoFlow" in response.get_json()["errors"]["json"]["headers"][0]


def test_the_same_name_twice_in_another_case_is_refused(client):
    response = create(client, {"X-Token": "a", "x-token": "b"})
    assert response.status_code == 422
    assert "same header (names ignore case)" in response.get_json()["errors"]["json"]["headers"][0]


def test_the_form_says_it_next_to_the_headers_box(client, post_form):
    html = post_form("/chronos/new", {"name": "n", "schedule": "@daily", "target_type": "HTTP", "method": "POST",
                                      "url": "https://example.com/", "payload_format": "json",
                                      "headers": json.dumps({"Transfer-Encoding": "chunked"})}).get_data(as_text=True)
    assert 'data-error-for="headers">' in html and "Transfer-Encoding is set by the HTTP client" in html


def stored(make_chrono, target, headers, **fields):
    """A chrono saved before these rules, holding headers they now refuse."""
    chrono = make_chrono(url=target.url("/hook"), method="POST", payload={"a": 1}, **fields)
    chrono.headers = headers
    db.session.commit()
    return chrono


def test_stored_framing_headers_are_never_sent_so_nothing_is_smuggled(app, make_chrono, target):
    smuggled = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    chrono = stored(make_chrono, target, {"Content-Length": "0", "Transfer-Encoding": "chunked",
                                          "Host": "evil.example", "Connection": "close", "X-Kept": "yes"})
    chrono.payload = smuggled
    db.session.commit()
    for _ in range(2):  # the second call reuses the kept-alive connection
        assert executors.prepare(chrono, app.config)().ok
    received = target.received()
    assert [r.path for r in received] == ["/hook", "/hook"]  # no /smuggled
    assert all(r.body == smuggled.encode() for r in received)
    headers = received[0].headers
    assert headers["Host"] == f"127.0.0.1:{target.port}" and headers["Content-Length"] == str(len(smuggled))
    assert "Transfer-Encoding" not in headers and headers["X-Kept"] == "yes"


def test_forged_lower_case_copies_of_our_headers_are_never_sent(app, make_chrono, target):
    chrono = stored(make_chrono, target, {"x-chronoflow-signature": "v1=forged", "x-chronoflow-run-id": "666",
                                          "x-chronoflow-timestamp": "1", "X-ChronoFlow-Scheduled-For": "never"})
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow(), status="running")
    db.session.add(run)
    db.session.commit()
    assert executors.prepare(chrono, app.config, run)().ok
    raw = target.received()[0].headers  # as the receiver's parser saw them
    names = [name.lower() for name in raw]
    for own in ("x-chronoflow-signature", "x-chronoflow-run-id", "x-chronoflow-timestamp",
                "x-chronoflow-scheduled-for"):
        assert names.count(own) == 1, own
    lowered = {name.lower(): value for name, value in raw.items()}
    assert lowered["x-chronoflow-run-id"] == str(run.id) and lowered["x-chronoflow-signature"] != "v1=forged"


def test_a_person_s_header_still_wins_over_a_default_whatever_its_case():
    sent = outgoing_headers.outgoing({"accept": "application/json", "user-agent": "mine"},
                                     defaults={"User-Agent": "ChronoFlow", "Accept": "*/*"},
                                     own={"X-ChronoFlow-Signature": "v1=real"})
    assert sent == {"accept": "application/json", "user-agent": "mine", "X-ChronoFlow-Signature": "v1=real"}
