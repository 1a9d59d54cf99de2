"""Issue 6 (part): the outbound request policy, signed webhooks, masked secrets and
security headers, against real servers on 127.0.0.1."""
import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from chronoflow import executors
from chronoflow.config import ConfigError, load
from chronoflow.executors.http import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HttpRequest,
    send,
)
from chronoflow.extensions import db
from chronoflow.models import ChronoRun, RunStatus, Trigger, utcnow
from chronoflow.security import MASK

from .conftest import csrf_token_in, run_task

README = Path(__file__).resolve().parent.parent / "README.md"

REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://[::1]:9/hook", "loopback"),
    ("http://10.0.0.1/hook", "private"),
    ("http://localhost:9/hook", "loopback"),
]


@pytest.fixture
def strict(app):
    """The default policy: no private network allowed."""
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()
    return app


def new_chrono(client, **fields):
    # Paused: these tests are about the target, not the schedule.
    return client.post("/api/chronos", json={"name": "n", "schedule": "* * * * *", "is_active": False, **fields})


# --- the outbound policy, at save time --------------------------------------------------

@pytest.mark.parametrize("url, reason", REFUSED)
def test_it_refuses_private_and_metadata_destinations_when_saving(strict, client, url, reason):
    response = new_chrono(client, url=url)
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["json"]["url"]
    if reason == "metadata":
        assert "cloud metadata or link-local" in message
    else:
        assert "OUTBOUND_ALLOWED_NETWORKS" in message and reason.replace("_", " ") in message


def test_it_refuses_metadata_even_inside_an_allowed_network(app, client):
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ("169.254.0.0/16", "metadata.google.internal")
    for url in ("http://169.254.169.254/", "http://metadata.google.internal/computeMetadata/v1/"):
        assert new_chrono(client, url=url).status_code == 422


def test_an_allowed_network_or_host_name_is_accepted(app, client):
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ("10.0.0.0/8", "localhost")
    assert new_chrono(client, url="http://10.0.0.1/hook").status_code == 201
    assert new_chrono(client, url="http://localhost:8080/hook").status_code == 201
    assert new_chrono(client, url="http://192.168.1.1/hook").status_code == 422


def test_the_save_time_error_follows_the_request_language(strict, client):
    response = client.post("/api/chronos", json={"name": "n", "schedule": "* * * * *", "url": "http://127.0.0.1/"},
                           headers={"Accept-Language": "pt-BR"})
    assert response.status_code == 422 and response.get_json()["errors"]["json"]["url"]


def test_the_form_shows_the_refusal_next_to_the_url(strict, post_form):
    html = post_form("/chronos/new", {"name": "n", "schedule": "* * * * *", "target_type": "HTTP",
                                      "method": "GET", "url": "http://127.0.0.1/x"}).get_data(as_text=True)
    assert "OUTBOUND_ALLOWED_NETWORKS" in html


# --- the outbound policy, at send time --------------------------------------------------

@pytest.mark.parametrize("url, reason", REFUSED)
def test_it_refuses_private_and_metadata_destinations_when_sending(url, reason):
    outcome = send(HttpRequest(method="GET", url=url, timeout_s=2, allowed=()))
    assert not outcome.ok and outcome.error_code == "blocked" and not outcome.retryable
    assert "refused by the outbound request policy" in outcome.error


def test_it_checks_again_at_send_time_and_calls_nothing(make_chrono, app, target):
    chrono = make_chrono(url=target.url("/hook"))  # allowed when saved
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()  # ... not any more (or DNS changed)
    run = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow() - timedelta(seconds=1),
                    trigger=Trigger.SCHEDULE, status=RunStatus.PENDING)
    db.session.add(run)
    db.session.commit()
    run_task(run.id)
    db.session.expire_all()
    run = db.session.get(ChronoRun, run.id)
    assert run.status == RunStatus.FAILED and run.attempt == 1
    assert "outbound request policy" in run.error_message
    assert target.received() == []


def test_an_allowed_network_is_called(target):
    outcome = send(HttpRequest(method="GET", url=target.url("/hook"), allowed=("127.0.0.0/8",)))
    assert outcome.ok and len(target.received("/hook")) == 1


def test_an_allowed_host_name_is_called(target):
    outcome = send(HttpRequest(method="GET", url=f"http://localhost:{target.port}/hook", allowed=("localhost",)))
    assert outcome.ok and len(target.received("/hook")) == 1


def test_a_redirect_to_loopback_is_not_followed(target):
    target.respond("/hook", status=302, headers={"Location": f"http://localhost:{target.port}/internal"})
    outcome = send(HttpRequest(method="GET", url=target.url("/hook"), allowed=("127.0.0.1",)))
    assert outcome.ok and outcome.http_status == 302
    assert target.received("/internal") == []


def test_the_setting_is_parsed_strictly(tmp_path):
    config = load(tmp_path, environ={"OUTBOUND_ALLOWED_NETWORKS": " 10.0.0.0/8, 192.168.1.20 ,::1, NAS.local "})
    assert config["OUTBOUND_ALLOWED_NETWORKS"] == ("10.0.0.0/8", "192.168.1.20/32", "::1/128", "nas.local")
    assert load(tmp_path, environ={})["OUTBOUND_ALLOWED_NETWORKS"] == ()
    for bad in ("10.0.0.1/8", "10.0.0.0/33", "http://x", "a b"):
        with pytest.raises(ConfigError, match="OUTBOUND_ALLOWED_NETWORKS"):
            load(tmp_path, environ={"OUTBOUND_ALLOWED_NETWORKS": bad})


# --- signed webhooks ---------------------------------------------------------------------

def readme_verifier():
    """The receiver snippet of the README, run as it is written: docs and code cannot drift."""
    section = README.read_text().split("### Signed webhooks", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    return namespace["verify_chronoflow"]


def test_a_real_request_is_verified_by_the_readme_snippet(client, target):
    created = new_chrono(client, url=target.url("/hook"), method="POST", payload={"hello": "world"})
    assert created.status_code == 201
    body = created.get_json()
    secret = body["signing_secret"]
    assert secret.startswith("whsec_")
    client.post(f"/api/chronos/{body['id']}/trigger")
    from .conftest import drain

    drain()
    got = target.wait_for(1, "/hook")[0]
    verify = readme_verifier()
    assert verify(secret, got.headers, got.body)
    assert got.headers[SIGNATURE_HEADER].startswith("v1=") and got.headers[TIMESTAMP_HEADER].isdigit()
    assert not verify(secret, got.headers, got.body + b" ")
    assert not verify("whsec_other", got.headers, got.body)
    stale = {**got.headers, TIMESTAMP_HEADER: str(int(got.headers[TIMESTAMP_HEADER]) - 3600)}
    assert not verify(secret, stale, got.body)


def test_rotating_the_secret_shows_the_new_one_once(client, make_chrono):
    chrono = make_chrono()
    old = chrono.signing_secret
    rotated = client.post(f"/api/chronos/{chrono.id}/rotate-secret").get_json()
    assert rotated["signing_secret"] not in (old, MASK)
    assert client.get(f"/api/chronos/{chrono.id}").get_json()["signing_secret"] == MASK


def test_the_rotate_button_flashes_the_new_secret(post_form, make_chrono):
    chrono = make_chrono()
    html = post_form(f"/chronos/{chrono.id}/rotate-secret", token_from=f"/chronos/{chrono.id}",
                     follow_redirects=True).get_data(as_text=True)
    db.session.expire_all()
    assert chrono.signing_secret in html


# --- secrets masked ------------------------------------------------------------------------

SECRET_HEADERS = {"Authorization": "Bearer s3cr3t-auth", "X-Api-Key": "s3cr3t-key",
                  "X-Custom-Token": "s3cr3t-token", "Accept": "text/plain"}


def test_secrets_never_appear_in_html_json_or_logs(client, make_chrono, target, caplog):
    caplog.set_level(logging.DEBUG)
    chrono = make_chrono(url=target.url("/hook"), headers=SECRET_HEADERS, is_active=False)
    secrets = [v for k, v in SECRET_HEADERS.items() if k != "Accept"] + [chrono.signing_secret]
    client.post(f"/api/chronos/{chrono.id}/trigger")
    from .conftest import drain

    drain()
    got = target.wait_for(1, "/hook")[0]
    assert got.headers["Authorization"] == "Bearer s3cr3t-auth"  # the target gets the real value
    run_id = client.get(f"/api/chronos/{chrono.id}/runs").get_json()["items"][0]["id"]
    seen = "".join(
        client.get(path).get_data(as_text=True)
        for path in (f"/api/chronos/{chrono.id}", "/api/chronos", f"/api/chronos/{chrono.id}/runs",
                     f"/api/runs/{run_id}", f"/chronos/{chrono.id}", f"/chronos/{chrono.id}/edit",
                     f"/runs/{run_id}", "/")
    )
    for secret in secrets:
        assert secret not in seen and secret not in caplog.text
    api = client.get(f"/api/chronos/{chrono.id}").get_json()
    assert api["headers"] == {**{k: MASK for k in SECRET_HEADERS if k != "Accept"}, "Accept": "text/plain"}
    assert client.get(f"/api/runs/{run_id}").get_json()["result"]["request"]["headers"]["Authorization"] == MASK


def test_sending_the_mask_back_keeps_the_stored_value(client, make_chrono):
    chrono = make_chrono(headers=SECRET_HEADERS)
    shown = client.get(f"/api/chronos/{chrono.id}").get_json()["headers"]
    response = client.patch(f"/api/chronos/{chrono.id}", json={"headers": {**shown, "X-Api-Key": "new"}})
    assert response.status_code == 200
    db.session.expire_all()
    assert chrono.headers["Authorization"] == "Bearer s3cr3t-auth"
    assert chrono.headers["X-Api-Key"] == "new"


def test_the_edit_form_keeps_masked_values(post_form, make_chrono):
    chrono = make_chrono(headers={"Authorization": "Bearer s3cr3t-auth"})
    edit = f"/chronos/{chrono.id}/edit"
    response = post_form(edit, {"name": "renamed", "schedule": "* * * * *", "target_type": "HTTP", "method": "GET",
                                "url": chrono.url, "headers": json.dumps({"Authorization": MASK})}, token_from=edit)
    assert response.status_code == 302
    db.session.expire_all()
    assert chrono.name == "renamed" and chrono.headers == {"Authorization": "Bearer s3cr3t-auth"}


# --- response headers ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/chronos/new", "/api/chronos", "/static/js/app.js", "/nope"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    headers = response.headers
    response.close()
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_the_executor_signs_with_the_chrono_secret(make_chrono, app):
    chrono = make_chrono()
    request = executors.prepare(chrono, app.config).args[0]
    assert request.signing_secret == chrono.signing_secret


def test_the_test_button_of_an_edit_sends_the_stored_values_signed(client, make_chrono, target):
    chrono = make_chrono(url=target.url("/hook"), headers={"Authorization": "Bearer s3cr3t-auth"}, is_active=False)
    edit = f"/chronos/{chrono.id}/edit"
    html = client.get(edit).get_data(as_text=True)
    token = csrf_token_in(html)
    test_url = re.search(r'data-test-url="([^"]+)"', html).group(1).replace("&amp;", "&")
    response = client.post(test_url, data={"csrf_token": token, "name": "n", "schedule": "* * * * *",
                                           "target_type": "HTTP", "method": "GET", "url": chrono.url,
                                           "headers": json.dumps({"Authorization": MASK})})
    assert response.get_json()["ok"]
    got = target.received("/hook")[0]
    assert got.headers["Authorization"] == "Bearer s3cr3t-auth"
    assert readme_verifier()(chrono.signing_secret, got.headers, got.body)


def test_the_secret_is_flashed_once_after_creating(client, post_form):
    response = post_form("/chronos/new", {"name": "n", "schedule": "* * * * *", "target_type": "HTTP",
                                          "method": "GET", "url": "http://127.0.0.1:9/", "is_active": ""})
    assert response.status_code == 302
    from chronoflow.models import Chrono

    secret = db.session.scalars(db.select(Chrono.signing_secret)).one()
    assert secret in client.get(response.headers["Location"]).get_data(as_text=True)
    assert secret not in client.get(response.headers["Location"]).get_data(as_text=True)


def test_alerts_and_other_calls_follow_the_current_app_policy(strict, target):
    # The alert webhook (scheduling/streaks.py) sends an HttpRequest without `allowed`.
    outcome = send(HttpRequest(method="POST", url=target.url("/alert"), payload={"event": "failing"}))
    assert outcome.error_code == "blocked" and target.received() == []
