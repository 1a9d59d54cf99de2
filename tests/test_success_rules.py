"""Success rules: which answers count as success, per webhook chrono (executors/success.py)."""
import json

import pytest

from chronoflow.executors import success
from chronoflow.extensions import db
from chronoflow.executors.http import HttpRequest, send
from chronoflow.models import RunStatus

from .conftest import run_now


def request(target, rules, path="/hook"):
    return HttpRequest(method="GET", url=target.url(path), allowed=("127.0.0.0/8",),
                       success=success.Rules.load(rules))


def test_it_reads_status_lists_and_ranges():
    assert success.parse_statuses("200-299, 404") == ((200, 299), (404, 404))
    for bad in ("2xx", "600", "299-200", "", "200,,201"):
        with pytest.raises(ValueError):
            success.parse_statuses(bad)


def test_it_reads_json_pointers():
    assert success.parse_pointer("/a/b~1c/0") == ["a", "b/c", "0"]
    assert success.resolve({"a": {"b/c": ["x"]}}, ["a", "b/c", "0"]) == "x"
    assert success.resolve({"a": [1]}, ["a", "01"]) is success.MISSING
    with pytest.raises(ValueError):
        success.parse_pointer("status")


def test_a_listed_4xx_counts_as_success_and_an_unlisted_2xx_does_not(target):
    target.respond("/hook", status=404, body=b"gone")
    assert send(request(target, {"statuses": "200-299,404"})).ok
    target.respond("/hook", status=204, body=b"")
    outcome = send(request(target, {"statuses": "200"}))
    assert not outcome.ok and not outcome.retryable
    assert outcome.error_code == "success_rule"
    assert outcome.params == {"rule": "status", "host": "127.0.0.1", "status": 204, "expected": "200"}


def test_an_unlisted_5xx_is_still_worth_another_attempt(target):
    target.respond("/hook", status=503)
    outcome = send(request(target, {"statuses": "200"}))
    assert not outcome.ok and outcome.retryable


def test_the_body_must_contain_the_text(target):
    target.respond("/hook", body=b'{"status": "busy"}')
    outcome = send(request(target, {"body_contains": '"ok"'}))
    assert not outcome.ok and outcome.params["rule"] == "body_contains"
    target.respond("/hook", body=b'{"status": "ok"}')
    assert send(request(target, {"body_contains": '"ok"'})).ok


def test_a_json_value_at_a_pointer_must_equal_the_expected_one(target):
    rules = {"json_pointer": "/data/status", "json_equals": "ok"}
    target.respond("/hook", body=json.dumps({"data": {"status": "ok"}}).encode())
    assert send(request(target, rules)).ok
    target.respond("/hook", body=json.dumps({"data": {"status": "late"}}).encode())
    outcome = send(request(target, rules))
    assert outcome.params == {"rule": "json", "host": "127.0.0.1", "pointer": "/data/status",
                              "expected": '"ok"', "actual": '"late"'}
    target.respond("/hook", body=b"<html>")
    assert send(request(target, rules)).params["found"] == "not_json"
    target.respond("/hook", body=b"{}")
    assert send(request(target, rules)).params["found"] == "missing"


def test_true_is_not_one():
    rules = success.Rules.load({"json_pointer": "/ok", "json_equals": True})
    assert rules.failure(200, b'{"ok": 1}', "utf-8") is not None
    assert rules.failure(200, b'{"ok": true}', "utf-8") is None


def test_body_rules_read_at_most_64_kib():
    rules = success.Rules.load({"body_contains": "needle"})
    body = b"x" * success.BODY_LIMIT + b"needle"
    assert rules.failure(200, body, "utf-8")[0] == "body_contains"


def test_a_chrono_without_rules_reads_no_body(monkeypatch, target):
    """The default path never judges: a chrono without rules pays nothing new."""
    called = []
    monkeypatch.setattr(success.Rules, "failure", lambda *a: called.append(a))
    target.respond("/hook", status=200)
    assert send(HttpRequest(method="GET", url=target.url("/hook"), allowed=("127.0.0.0/8",))).ok
    assert called == []


def test_the_run_records_which_rule_failed_in_words(app, make_chrono, target):
    target.respond("/hook", body=b'{"status": "busy"}')
    chrono = make_chrono(url=target.url("/hook"), success={"json_pointer": "/status", "json_equals": "ok"})
    run = run_now(chrono)
    assert run.status == RunStatus.FAILED
    assert run.result["error_code"] == "success_rule"
    with app.test_request_context(headers={"Accept-Language": "pt-BR"}):
        from chronoflow import outcomes

        words = str(outcomes.run_error(run))
    assert "/status" in words and "127.0.0.1" in words and "exige" in words


def test_the_api_saves_shows_and_refuses_rules(client):
    body = {"name": "r", "schedule": "@daily", "url": "https://example.com/h",
            "success": {"statuses": "200-299,404", "body_contains": "ok"}}
    created = client.post("/api/chronos", json=body)
    assert created.status_code == 201, created.json
    assert created.json["success"] == {"statuses": "200-299,404", "body_contains": "ok"}
    bad = client.post("/api/chronos", json={**body, "success": {"statuses": "2xx", "json_pointer": "status"}})
    assert bad.status_code == 422
    errors = bad.json["errors"]["json"]["success"]
    assert set(errors) == {"statuses", "json_pointer"}
    empty = client.post("/api/chronos", json={**body, "success": {"statuses": ""}})
    assert empty.json["success"] is None
    cleared = client.patch(f"/api/chronos/{created.json['id']}", json={"success": None})
    assert cleared.status_code == 200 and cleared.json["success"] is None


def test_the_form_saves_rules_shows_them_again_and_puts_errors_next_to_their_box(client, post_form):
    from chronoflow.models import Chrono

    form = {"name": "f", "schedule": "@daily", "timezone": "UTC", "target_type": "HTTP", "method": "GET",
            "url": "https://example.com/", "payload_format": "json", "statuses": "2xx", "json_equals": "ok"}
    page = post_form("/chronos/new", data=form, headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert 'id="statuses-error"' in page and "não é um status" in page
    assert "Diga onde está o valor" in page  # json_equals without json_pointer
    assert db.session.query(Chrono).count() == 0

    saved = post_form("/chronos/new", data={**form, "statuses": "200-299,404", "json_pointer": "/status"})
    assert saved.status_code == 302
    chrono = db.session.query(Chrono).one()
    assert chrono.success == {"statuses": "200-299,404", "json_pointer": "/status", "json_equals": "ok"}
    edit = client.get(f"/chronos/{chrono.id}/edit").get_data(as_text=True)
    assert 'value="200-299,404"' in edit and 'value="&#34;ok&#34;"' in edit
