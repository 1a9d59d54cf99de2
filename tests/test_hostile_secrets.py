"""Issue 10: stored credentials go only to the origin they were saved for, the
signing secret never travels in a cookie, and signing out ends the session on
the server. Targets are real servers on 127.0.0.1 (two ports: two origins)."""
import json

import pytest

from chronoflow import executors
from chronoflow.chronos import credentials
from chronoflow.extensions import db
from chronoflow.security import MASK

from .conftest import PASSWORD, csrf_token_in
from .support.target import TargetServer

SECRETS = {"Authorization": "Bearer s3cr3t", "X-Api-Key": "k3y", "Accept": "text/plain"}


@pytest.fixture
def elsewhere():
    """Another origin: the host a person who may edit chronos would like the secrets sent to."""
    server = TargetServer()
    yield server
    server.close()


def form_data(chrono, **changes):
    return {"name": chrono.name, "schedule": chrono.schedule, "target_type": "HTTP", "method": "GET",
            "url": chrono.url, "headers": json.dumps({name: MASK for name in SECRETS} | {"Accept": "text/plain"}),
            "payload_format": "json", **changes}


def test_the_test_button_never_sends_stored_credentials_to_a_new_origin(client, post_form, make_chrono, target,
                                                                         elsewhere):
    chrono = make_chrono(url=target.url("/hook"), headers=SECRETS)
    response = post_form(f"/chronos/test?chrono={chrono.id}", form_data(chrono, url=elsewhere.url("/steal")),
                         token_from=f"/chronos/{chrono.id}/edit")
    assert response.status_code == 422
    problem = " ".join(response.get_json()["errors"]["headers"])
    assert "Authorization, X-Api-Key was saved for http://127.0.0.1:" in problem and "type it again" in problem
    assert elsewhere.received() == []

    # Typed again, they go; the same origin (another path) keeps the stored values.
    retyped = json.dumps({"Authorization": "Bearer mine", "X-Api-Key": "mine"})
    assert post_form(f"/chronos/test?chrono={chrono.id}", form_data(chrono, url=elsewhere.url("/x"), headers=retyped),
                     token_from=f"/chronos/{chrono.id}/edit").get_json()["ok"]
    assert elsewhere.received()[0].headers["Authorization"] == "Bearer mine"
    assert post_form(f"/chronos/test?chrono={chrono.id}", form_data(chrono, url=target.url("/other")),
                     token_from=f"/chronos/{chrono.id}/edit").get_json()["ok"]
    assert target.received()[0].headers["Authorization"] == "Bearer s3cr3t"


def test_the_edit_form_says_so_next_to_the_headers_and_saves_nothing(client, post_form, make_chrono, target, elsewhere):
    chrono = make_chrono(url=target.url("/hook"), headers=SECRETS)
    html = post_form(f"/chronos/{chrono.id}/edit", form_data(chrono, url=elsewhere.url("/")),
                     token_from=f"/chronos/{chrono.id}/edit").get_data(as_text=True)
    assert 'data-error-for="headers">' in html and "type it again" in html
    db.session.expire_all()
    assert chrono.url == target.url("/hook") and chrono.headers == SECRETS


@pytest.mark.parametrize("changes", [
    {"url": "OTHER"},  # the stored headers would follow the URL
    {"url": "OTHER", "headers": {"Authorization": MASK, "X-Api-Key": MASK}},
])
def test_a_patch_to_another_origin_needs_the_credentials_typed_again(client, make_chrono, target, elsewhere, changes):
    chrono = make_chrono(url=target.url("/hook"), headers=SECRETS)
    changes = {**changes, "url": elsewhere.url("/steal")}
    response = client.patch(f"/api/chronos/{chrono.id}", json=changes)
    assert response.status_code == 422
    assert "type it again" in response.get_json()["errors"]["json"]["headers"][0]
    assert client.post(f"/api/chronos/{chrono.id}/trigger").status_code == 202
    db.session.expire_all()
    assert chrono.url == target.url("/hook")


def test_a_patch_that_types_them_again_or_keeps_the_origin_is_saved(client, make_chrono, target, elsewhere):
    chrono = make_chrono(url=target.url("/hook"), headers=SECRETS)
    same_origin = client.patch(f"/api/chronos/{chrono.id}", json={"url": target.url("/v2")})
    assert same_origin.status_code == 200
    moved = client.patch(f"/api/chronos/{chrono.id}", json={"url": elsewhere.url("/"),
                                                            "headers": {"Authorization": "Bearer new"}})
    assert moved.status_code == 200
    db.session.expire_all()
    assert chrono.headers == {"Authorization": "Bearer new"}
    assert chrono.secrets_origin == credentials.origin(elsewhere.url("/"))


def test_a_run_never_carries_credentials_to_an_origin_they_were_not_saved_for(app, make_chrono, target, elsewhere):
    chrono = make_chrono(url=target.url("/hook"), headers=SECRETS)
    chrono.url = elsewhere.url("/moved")  # whatever path changed it (a later template, an old row)
    db.session.commit()
    assert executors.prepare(chrono, app.config)().ok
    received = elsewhere.received()[0].headers
    assert "Authorization" not in received and "X-Api-Key" not in received
    assert received["Accept"] == "text/plain"


def test_origins_are_compared_with_default_ports_and_any_case():
    assert credentials.origin("HTTPS://Example.COM/a") == credentials.origin("https://example.com:443/b")
    assert credentials.origin("http://example.com") != credentials.origin("https://example.com")
    assert credentials.origin("http://example.com:8080") != credentials.origin("http://example.com")
    assert credentials.origin("http://[::1]:80/") == "http://[::1]:80"
    assert credentials.origin("not a url") is None


def test_a_mask_with_nothing_saved_behind_it_is_refused(client, make_chrono):
    response = client.post("/api/chronos", json={"name": "n", "schedule": "@daily", "url": "https://example.com/",
                                                 "headers": {"Authorization": MASK}})
    assert response.status_code == 422
    assert "no saved value behind the mask" in response.get_json()["errors"]["json"]["headers"][0]


# --- sessions --------------------------------------------------------------------------------

def signed_in_browser(app, user):
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    response = browser.post("/login", data={"username": user.username, "password": PASSWORD,
                                            "csrf_token": csrf_token_in(page)})
    assert response.status_code == 302
    return browser


def copy_of(app, browser):
    thief = app.test_client()
    thief.set_cookie("session", browser.get_cookie("session").value)
    return thief


def test_signing_out_ends_the_session_on_the_server_a_copied_cookie_stops_working(app, user):
    browser = signed_in_browser(app, user)
    thief = copy_of(app, browser)
    assert thief.get("/").status_code == 200
    token = csrf_token_in(browser.get("/settings").get_data(as_text=True))
    assert browser.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"
    assert thief.get("/").headers["Location"].startswith("/login")


def test_signing_out_one_browser_leaves_the_others_signed_in(app, user):
    phone, laptop = signed_in_browser(app, user), signed_in_browser(app, user)
    token = csrf_token_in(phone.get("/settings").get_data(as_text=True))
    phone.post("/logout", data={"csrf_token": token})
    assert phone.get("/").status_code == 302 and laptop.get("/").status_code == 200


def test_a_session_older_than_its_lifetime_is_refused(app, user):
    from datetime import timedelta

    from chronoflow.models import LoginSession

    browser = signed_in_browser(app, user)
    row = db.session.scalars(db.select(LoginSession)).one()
    row.created_at -= timedelta(days=app.config["SESSION_LIFETIME_DAYS"], seconds=1)
    db.session.commit()
    assert browser.get("/").headers["Location"].startswith("/login")


def test_the_database_keeps_only_a_digest_of_the_session_key(app, user):
    import hashlib

    from flask.sessions import SecureCookieSessionInterface

    from chronoflow.models import LoginSession

    browser = signed_in_browser(app, user)
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    key = serializer.loads(browser.get_cookie("session").value)["_user_id"].split(":")[1]
    row = db.session.scalars(db.select(LoginSession)).one()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() != key
