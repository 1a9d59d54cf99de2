"""Templated webhook requests: URL, headers and payload filled in per occurrence."""
import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from chronoflow import executors
from chronoflow.executors import request_template
from chronoflow.extensions import db
from chronoflow.models import ChronoRun, RunStatus, Trigger

from .conftest import run_task, utc


def test_variables_in_utc_and_in_the_chronos_zone_with_portuguese_names():
    values = request_template.variables("Relatório", utc(2026, 1, 5, 2, 30), "America/Sao_Paulo", 42, 2)
    assert values["scheduled_for"] == "2026-01-05T02:30:00Z"
    assert values["scheduled_for_local"] == "2026-01-04T23:30:00-03:00"
    assert values["date"] == "2026-01-05" and values["date_local"] == "2026-01-04"
    assert values["run_id"] == 42 and values["attempt"] == 2 and values["chrono"] == "Relatório"
    assert values["data_local"] == "2026-01-04" and values["tentativa"] == 2 and values["nome"] == "Relatório"


def test_a_scheduled_run_sends_the_filled_in_request(app, make_chrono, target):
    chrono = make_chrono(
        name="Vendas", timezone="America/Sao_Paulo", method="POST",
        url=target.url("/report") + "?day={{ date_local }}",
        headers={"X-Attempt": "{{ tentativa }}", "X-Plain": "as is"},
        payload={"run": "{{ run_id }}", "at": "{{ scheduled_for }}", "who": "{{ nome }}", "n": 1})
    assert chrono.templated
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=utc(2026, 3, 1, 2, 0), trigger=Trigger.SCHEDULE)
    db.session.add(run)
    db.session.commit()
    run_task(run.id, due=datetime.now(timezone.utc))

    got = target.received()[0]
    assert got.path == "/report?day=2026-02-28"
    assert got.headers["X-Attempt"] == "1" and got.headers["X-Plain"] == "as is"
    assert json.loads(got.body) == {"run": str(run.id), "at": "2026-03-01T02:00:00Z", "who": "Vendas", "n": 1}
    recorded = db.session.get(ChronoRun, run.id)
    assert recorded.result["request"]["url"].endswith("?day=2026-02-28")


def test_a_chrono_without_templates_renders_nothing(app, make_chrono, monkeypatch):
    chrono = make_chrono(url="https://example.com/a", payload={"x": "{ not a template }"})
    assert not chrono.templated
    monkeypatch.setattr(request_template, "render", lambda *a: (_ for _ in ()).throw(AssertionError("rendered")))
    call = executors.prepare(chrono, app.config)
    assert call.request.url == "https://example.com/a"


def test_the_server_of_a_url_cannot_be_templated(client):
    for url in ("https://{{ nome }}.example.com/", "https://example.com:{{ attempt }}/", "{{ x }}://example.com"):
        answer = client.post("/api/chronos", json={"name": "t", "schedule": "@daily", "url": url})
        assert answer.status_code == 422, url
        assert "url" in answer.json["errors"]["json"]


def test_a_bad_template_is_refused_at_save_naming_its_field(client):
    base = {"name": "t", "schedule": "@daily", "url": "https://example.com/"}
    answer = client.post("/api/chronos", json={**base, "payload": {"a": "{{ nope }}"}},
                         headers={"Accept-Language": "pt-BR"})
    assert answer.status_code == 422
    assert "nope" in answer.json["errors"]["json"]["payload"][0]
    answer = client.post("/api/chronos", json={**base, "headers": {"X-A": "{% for %}"}})
    assert list(answer.json["errors"]["json"]) == ["headers"]
    answer = client.post("/api/chronos", json={**base, "url": "https://example.com/{{ date }"})
    assert list(answer.json["errors"]["json"]) == ["url"]
    ok = client.post("/api/chronos", json={**base, "url": "https://example.com/{{ date }}"})
    assert ok.status_code == 201 and ok.json["templated"] is True


def test_a_template_that_fails_at_run_time_fails_the_run_in_words(app, make_chrono, target):
    chrono = make_chrono(url=target.url("/x") + "/{{ run_id }}", payload="{{ 1 // (date == '2026-01-05') }}")
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=datetime.now(timezone.utc), trigger=Trigger.MANUAL)
    db.session.add(run)
    db.session.commit()
    run_task(run.id)
    recorded = db.session.get(ChronoRun, run.id)
    assert recorded.status == RunStatus.FAILED and recorded.result["error_code"] == "request_template"
    assert target.received() == []


def test_a_rendered_header_with_a_line_break_is_not_sent(app, make_chrono, client):
    refused = client.post("/api/chronos", json={"name": "t", "schedule": "@daily", "url": "https://example.com/",
                                                "headers": {"X-A": "{{ 'a\\r\\nX-Evil: 1' }}"}})
    assert refused.status_code == 422 and "X-A" in refused.json["errors"]["json"]["headers"][0]
    # One that only breaks on another day than the sample's: caught when it is filled in.
    chrono = make_chrono(url="https://example.com/",
                         headers={"X-A": "{{ 'ok' if date == '2026-01-05' else 'a\\r\\nX-Evil: 1' }}"})
    outcome = executors.prepare(chrono, app.config)()
    assert outcome.error_code == "request_template" and outcome.params["reason"] == "header_value"


def test_stored_credentials_still_go_only_to_their_origin(app, make_chrono, target):
    """The origin is not templated, so a templated path keeps the credential on its server."""
    chrono = make_chrono(url=target.url("/a/{{ run_id }}"), headers={"Authorization": "Bearer s3cret"})
    call = executors.prepare(chrono, app.config)
    assert call.request.headers["Authorization"] == "Bearer s3cret"
    assert call.request.url == target.url("/a/0")


def test_the_form_test_shows_the_rendered_request(client, post_form, target):
    answer = post_form("/chronos/test", data={
        "name": "t", "schedule": "@daily", "timezone": "UTC", "target_type": "HTTP", "method": "GET",
        "url": target.url("/t") + "?d={{ date }}", "payload_format": "json"})
    assert answer.status_code == 200, answer.json
    today = datetime.now(timezone.utc).date().isoformat()
    assert answer.json["request"]["url"].endswith(f"/t?d={today}")
    assert target.received()[0].path == f"/t?d={today}"


def test_a_filled_in_url_is_percent_encoded_where_it_must_be(app, make_chrono):
    chrono = make_chrono(name="Vendas do mês", url="https://example.com/r/{{ nome }}?q={{ nome|urlencode }}&d=1")
    call = executors.prepare(chrono, app.config)
    assert call.request.url == "https://example.com/r/Vendas%20do%20m%C3%AAs?q=Vendas%20do%20m%C3%AAs&d=1"


def test_each_attempt_fills_in_its_own_number(app, make_chrono, target):
    from .support.target import Reply

    target.respond("/hook", [Reply(500, b"oops"), Reply(200, b"fine")])
    chrono = make_chrono(url=target.url("/hook"), headers={"X-Attempt": "{{ attempt }}", "X-Run": "{{ run_id }}"})
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=datetime.now(timezone.utc), trigger=Trigger.MANUAL)
    db.session.add(run)
    db.session.commit()
    run_task(run.id)
    run_task(run.id)
    first, second = target.received("/hook")
    assert (first.headers["X-Attempt"], second.headers["X-Attempt"]) == ("1", "2")
    assert first.headers["X-Run"] == second.headers["X-Run"] == str(run.id)


def test_the_chronos_page_shows_its_next_request_filled_in(client, make_chrono):
    chrono = make_chrono(schedule="0 9 * * *", timezone="America/Sao_Paulo", method="POST",
                         url="https://example.com/d/{{ date_local }}", payload={"at": "{{ scheduled_for }}"})
    page = client.get(f"/chronos/{chrono.id}", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    local = chrono.next_occurrence.astimezone(ZoneInfo("America/Sao_Paulo")).date().isoformat()
    assert f"POST https://example.com/d/{local}" in page
    assert chrono.next_occurrence.strftime("%Y-%m-%dT%H:%M:%SZ") in page
    plain = make_chrono(url="https://example.com/plain")
    assert 'id="filled-request"' not in client.get(f"/chronos/{plain.id}").get_data(as_text=True)
