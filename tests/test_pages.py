"""The dashboard's pages and forms through Flask's test client, on SQLite and PostgreSQL."""
import re
from types import SimpleNamespace

import pytest

from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, RunStatus, Trigger, utcnow

from .conftest import drain, run_task

FORM = {
    "name": "Morning report",
    "schedule": "dias úteis às 9",
    "timezone": "America/Sao_Paulo",
    "target_type": "HTTP",
    "method": "POST",
    "url": "https://example.com/report",
    "headers": '{"X-Key": "abc"}',
    "payload_format": "json",
    "payload": '{"kind": "daily"}',
    "is_active": "y",
    "action": "save",
}


@pytest.fixture
def browser(post_form):
    """The test client as a browser: it sends a form page's CSRF token with each POST."""
    return SimpleNamespace(post=post_form)


def errors_on_page(response):
    """{field: message} as shown next to each field."""
    html = response.get_data(as_text=True)
    return {name: message.strip() for name, message in
            re.findall(r'data-error-for="(\w+)">([^<]+)</p>', html) if message.strip()}


def only_chrono():
    return db.session.scalars(db.select(Chrono)).one()


def test_the_home_page_explains_what_a_chrono_is_when_there_is_none(client):
    html = client.get("/").get_data(as_text=True)
    assert "Nothing scheduled yet" in html and "Create your first chrono" in html


def test_creating_a_chrono_through_the_form(browser, client):
    response = browser.post("/chronos/new", FORM)

    chrono = only_chrono()
    assert response.status_code == 302 and response.headers["Location"] == f"/chronos/{chrono.id}"
    assert (chrono.cron, chrono.method, chrono.headers, chrono.payload) == (
        "0 9 * * 1-5", "POST", {"X-Key": "abc"}, {"kind": "daily"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Chrono created." in page and "Weekdays (Monday to Friday) at 09:00" in page


def test_a_text_body_is_kept_as_text(browser):
    browser.post("/chronos/new", {**FORM, "payload_format": "text", "payload": "hello"})
    assert only_chrono().payload == "hello"


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"name": ""}, "name", "1 to 200 characters"),
        ({"schedule": "toda hora as 25"}, "schedule", "25 is not a valid hour"),
        ({"timezone": "Mars/Base"}, "timezone", "is not a timezone"),
        ({"url": "ftp://example.com"}, "url", "http:// or https://"),
        ({"url": ""}, "url", "needs a URL"),
        ({"method": "FETCH"}, "method", "Must be one of"),
        ({"headers": "{not json"}, "headers", "JSON object"),
        ({"headers": '{"X-A": "a\\r\\nb"}'}, "headers", "line breaks"),
        ({"payload": "{not json"}, "payload", "not valid JSON"),
        ({"timeout_s": "soon"}, "timeout_s", "number of seconds"),
        ({"timeout_s": "0.05"}, "timeout_s", "between 0.1 and 600 seconds"),
        ({"max_attempts": "99"}, "max_attempts", "between 1 and 20"),
        ({"auto_pause_after": "-1"}, "auto_pause_after", "whole number"),
        ({"auto_pause_after": "20000"}, "auto_pause_after", "between 0 and 10000"),
        ({"misfire_policy": "replay"}, "misfire_policy", "coalesce or skip"),
        ({"overlap_policy": "queue"}, "overlap_policy", "allow or skip"),
        ({"target_type": "MESSAGE"}, "channel_id", "WhatsApp channel"),
    ],
)
def test_each_bad_field_gets_its_message_next_to_it_and_nothing_is_saved(browser, change, field, words):
    response = browser.post("/chronos/new", {**FORM, **change})
    assert response.status_code == 200
    errors = errors_on_page(response)
    assert field in errors and words in errors[field], errors
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0


def test_every_problem_is_shown_at_once(browser):
    errors = errors_on_page(browser.post("/chronos/new", {**FORM, "name": "", "headers": "{", "url": "x"}))
    assert {"name", "headers", "url"} <= set(errors)


def test_a_post_without_csrf_token_is_refused(client):
    response = client.post("/chronos/new", data=FORM)
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0


def test_every_button_needs_its_csrf_token(client, make_chrono):
    chrono = make_chrono()
    for action in ("pause", "resume", "run", "delete"):
        assert client.post(f"/chronos/{chrono.id}/{action}").status_code == 400


def test_editing_shows_what_was_typed_and_saves_changes(browser, client, make_chrono):
    chrono = make_chrono(name="Old", schedule="todo dia às 18", headers={"A": "1"}, payload="text body")
    html = client.get(f"/chronos/{chrono.id}/edit").get_data(as_text=True)
    assert 'value="todo dia às 18"' in html and "text body" in html and '&#34;A&#34;: &#34;1&#34;' in html

    response = browser.post(f"/chronos/{chrono.id}/edit", {**FORM, "name": "New", "schedule": "a cada 5 minutos"})
    assert response.status_code == 302
    chrono = only_chrono()
    assert (chrono.name, chrono.cron) == ("New", "*/5 * * * *")


def test_the_reliability_policies_are_set_and_shown_by_the_form(browser, client):
    policies = {"misfire_policy": "skip", "overlap_policy": "allow", "auto_pause_after": "5"}
    response = browser.post("/chronos/new", {**FORM, **policies})
    chrono = only_chrono()
    assert response.status_code == 302
    assert chrono.config == {"misfire_policy": "skip", "overlap_policy": "allow", "auto_pause_after": 5}

    html = client.get(f"/chronos/{chrono.id}/edit").get_data(as_text=True)
    assert re.search(r'<input checked id="misfire_policy-\d" name="misfire_policy" type="radio" value="skip">', html)
    assert re.search(r'<input checked id="overlap_policy-\d" name="overlap_policy" type="radio" value="allow">', html)
    assert re.search(r'id="auto_pause_after"[^>]*value="5"', html)

    # Back to the defaults: the policies leave the config, the numbers too.
    browser.post(f"/chronos/{chrono.id}/edit", {**FORM, "misfire_policy": "", "overlap_policy": "",
                                                "auto_pause_after": ""})
    db.session.expire_all()
    assert only_chrono().config == {}


def test_a_bad_edit_changes_nothing(browser, make_chrono):
    chrono = make_chrono(name="Keep me")
    response = browser.post(f"/chronos/{chrono.id}/edit", {**FORM, "name": "Changed", "url": "nope"})
    assert "url" in errors_on_page(response)
    db.session.expire_all()
    assert only_chrono().name == "Keep me"


def test_pause_resume_and_run_now_from_the_detail_page(browser, client, make_chrono, target):
    # Once a year: no scheduled run may join the manual one, whenever the test runs.
    chrono = make_chrono(url=target.url("/now"), schedule="0 0 1 1 *")
    detail = f"/chronos/{chrono.id}"

    assert browser.post(f"{detail}/pause", token_from=detail).status_code == 302
    db.session.expire_all()
    assert only_chrono().is_active is False
    assert "Paused" in client.get(detail).get_data(as_text=True)

    browser.post(f"{detail}/resume", token_from=detail)
    db.session.expire_all()
    assert only_chrono().is_active is True

    browser.post(f"{detail}/run", token_from=detail)
    drain()
    html = client.get(detail).get_data(as_text=True)
    assert "manual" in html and "badge-success" in html
    assert len(target.received("/now")) == 1


def test_delete_asks_first_then_deletes(browser, client, make_chrono):
    chrono = make_chrono(name="Doomed")
    assert "Delete “Doomed”?" in client.get(f"/chronos/{chrono.id}/delete").get_data(as_text=True)
    response = browser.post(f"/chronos/{chrono.id}/delete", token_from=f"/chronos/{chrono.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0


def test_the_list_filters_by_name_and_state_and_pages(client, make_chrono):
    for n in range(23):
        make_chrono(name=f"job {n:02d}")
    make_chrono(name="special report", is_active=False)

    html = client.get("/?q=special").get_data(as_text=True)
    assert "special report" in html and "job 01" not in html
    html = client.get("/?state=paused").get_data(as_text=True)
    assert "special report" in html and "job 01" not in html
    first = client.get("/").get_data(as_text=True)
    assert "job 00" in first and "job 20" not in first and "Page 1 of 2" in first
    second = client.get("/?page=2").get_data(as_text=True)
    assert "job 20" in second and "job 00" not in second
    assert "No chrono matches" in client.get("/?q=nothing").get_data(as_text=True)


def test_the_history_filters_by_status_and_links_to_each_run(client, make_chrono):
    chrono = make_chrono()
    for status in (RunStatus.SUCCESS, RunStatus.FAILED):
        db.session.add(ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow(), trigger=Trigger.MANUAL, status=status,
                                 http_status=500 if status == "failed" else 200, duration_ms=12,
                                 error_message="HTTP 500" if status == "failed" else None))
    db.session.commit()
    html = client.get(f"/chronos/{chrono.id}?status=failed").get_data(as_text=True)
    assert "badge-failed" in html and "badge-success\">success" not in html
    run_id = db.session.scalars(db.select(ChronoRun.id).where(ChronoRun.status == "failed")).one()
    assert f"/runs/{run_id}" in html
    assert "1 succeeded and 1 failed" in client.get(f"/chronos/{chrono.id}").get_data(as_text=True)


def test_a_run_page_shows_the_request_as_sent_and_every_attempt(client, make_chrono, target):
    from chronoflow.chronos import service
    
    target.respond("/r", status=500, body=b"broken")
    run = service.trigger_now(make_chrono(url=target.url("/r"), method="POST", payload={"x": 1},
                                          config={"max_attempts": 1}))
    db.session.commit()
    run_task(run.id)
    html = client.get(f"/runs/{run.id}").get_data(as_text=True)
    assert f"POST {target.url('/r')}" in html and "X-Chronoflow-Run-Id" in html.replace("X-ChronoFlow", "X-Chronoflow")
    assert "{&#34;x&#34;: 1}" in html and "broken" in html and "HTTP 500" in html


def test_the_preview_describes_the_schedule_and_lists_the_next_times(client):
    body = client.get("/chronos/preview?schedule=todo+dia+às+18&timezone=America/Sao_Paulo",
                      headers={"Accept-Language": "pt-BR"}).get_json()
    assert body["ok"] and body["cron"] == "0 18 * * *" and body["description"] == "Todo dia às 18:00"
    assert len(body["next"]) == 5 and all("18:00" in t["at"] for t in body["next"])
    bad = client.get("/chronos/preview?schedule=toda+hora+as+25").get_json()
    assert not bad["ok"] and "25" in bad["error"]


def test_the_test_button_sends_once_and_saves_nothing(browser, target):
    target.respond("/t", status=201, body=b"created")
    answer = browser.post("/chronos/test", {**FORM, "url": target.url("/t")}).get_json()
    assert answer["ok"] and answer["http_status"] == 201 and answer["snippet"] == "created"
    assert target.received("/t")[0].body == b'{"kind": "daily"}'
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0


def test_the_test_button_without_javascript_shows_the_answer_in_the_form(browser, target):
    target.respond("/t", status=404, body=b"no such thing")
    html = browser.post("/chronos/new", {**FORM, "url": target.url("/t"), "action": "test"}).get_data(as_text=True)
    assert "HTTP 404" in html and "no such thing" in html
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0


def test_the_test_button_reports_field_errors(browser):
    response = browser.post("/chronos/test", {**FORM, "url": "nope"})
    assert response.status_code == 422 and "url" in response.get_json()["errors"]


def test_pasting_curl_fills_the_form(browser):
    command = "curl -X PUT 'https://api.example.com/v1/items' -H 'Authorization: Bearer t' --data '{\"a\": 1}'"
    answer = browser.post("/chronos/parse-curl", {"curl": command}).get_json()
    assert answer["method"] == "PUT" and answer["url"] == "https://api.example.com/v1/items"
    assert '"Authorization": "Bearer t"' in answer["headers"] and answer["payload_format"] == "json"

    html = browser.post("/chronos/new", {**FORM, "url": "", "curl": command, "action": "curl"}).get_data(as_text=True)
    assert 'value="https://api.example.com/v1/items"' in html
    assert db.session.scalar(db.select(db.func.count()).select_from(Chrono)) == 0


def test_a_broken_curl_command_says_why(browser):
    assert browser.post("/chronos/parse-curl", {"curl": "curl 'unclosed"}).get_json()["error"]


def test_the_language_follows_the_browser_and_the_switch(client):
    assert "Nada agendado ainda" in client.get("/", headers={"Accept-Language": "pt-BR,pt;q=0.9"}).get_data(as_text=True)
    response = client.get("/language/pt_BR?next=/chronos/new")
    assert response.status_code == 302 and response.headers["Location"] == "/chronos/new"
    assert "Nova tarefa" in client.get("/chronos/new").get_data(as_text=True)
    client.get("/language/en?next=/")
    assert "New chrono" in client.get("/chronos/new", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)


def test_the_language_switch_never_redirects_elsewhere(client):
    assert client.get("/language/en?next=https://evil.example/").headers["Location"] == "/"
    assert client.get("/language/en?next=//evil.example/").headers["Location"] == "/"
    assert client.get("/language/en?next=/%5Cevil.example/").headers["Location"] == "/"
    assert client.get("/language/en?next=/%09/evil.example/").headers["Location"] == "/"


def test_missing_pages_and_errors_use_the_layout(app, client, monkeypatch):
    response = client.get("/chronos/999")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)

    from chronoflow.chronos import service

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(service, "list_chronos", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html and "internal detail" not in html


@pytest.mark.parametrize("path", ["/?page=abc", "/?page=-3", "/?state=weird", "/chronos/1?status=nope&page=0"])
def test_odd_query_strings_are_not_errors(client, make_chrono, path):
    make_chrono()
    assert client.get(path).status_code == 200


def test_static_assets_are_served_locally(client):
    html = client.get("/").get_data(as_text=True)
    assert "https://" not in re.sub(r'href="https://[^"]*"', "", html.split("<main")[0])  # no CDN in the head
    for asset in ("/static/css/app.css", "/static/js/app.js", "/static/favicon.svg"):
        response = client.get(asset)
        assert response.status_code == 200
        response.close()
