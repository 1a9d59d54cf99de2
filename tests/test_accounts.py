"""Accounts: signing in and out, sessions, the sign-in limit, API tokens, `flask users`."""
import re
import uuid

import pytest
import redis

from chronoflow.accounts import service
from chronoflow.accounts.throttle import LoginThrottle
from chronoflow.extensions import db
from chronoflow.models import ApiToken, Chrono, User

from .conftest import PASSWORD, REDIS_URL, csrf_token_in


def csrf_from(client, path):
    return csrf_token_in(client.get(path).get_data(as_text=True))


def sign_in(client, username="tester", password=PASSWORD, next_path=None):
    token = csrf_from(client, "/login")
    path = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(path, data={"csrf_token": token, "username": username, "password": password})


def test_signing_in_leads_where_the_person_was_going(anonymous, user):
    assert anonymous.get("/chronos/new").headers["Location"] == "/login?next=/chronos/new"
    response = sign_in(anonymous, username="  TESTER ", next_path="/chronos/new")
    assert response.status_code == 302 and response.headers["Location"] == "/chronos/new"
    assert anonymous.get("/chronos/new").status_code == 200
    assert db.session.get(User, user.id).last_login_at is not None


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "/%09/evil.example", "/\t/evil.example", "\\\\evil.example"])
def test_next_never_leaves_chronoflow(anonymous, user, target):
    response = sign_in(anonymous, next_path=target)
    assert response.headers["Location"] == "/"


def test_a_wrong_password_or_unknown_user_is_one_message_and_no_session(anonymous, user):
    for username, password in (("tester", "wrong password"), ("nobody", PASSWORD)):
        response = sign_in(anonymous, username=username, password=password)
        assert response.status_code == 401
        assert "Wrong username or password." in response.get_data(as_text=True)
        assert anonymous.get("/").headers["Location"].startswith("/login")


def test_the_login_page_speaks_portuguese(anonymous, user):
    html = anonymous.get("/login", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert "Entrar no ChronoFlow" in html and "Usuário" in html and "Senha" in html


def test_with_no_user_the_login_page_says_how_to_create_one(anonymous):
    html = anonymous.get("/login").get_data(as_text=True)
    assert "flask users create admin" in html


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(app, user):
    plain = sign_in(app.test_client(), next_path="/")
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    secure_client = app.test_client()
    token = csrf_from(secure_client, "https://localhost/login")
    # Over HTTPS, Flask-WTF also wants the Referer of a page of ours, as browsers send it.
    response = secure_client.post("https://localhost/login", headers={"Referer": "https://localhost/login"}, data={
        "csrf_token": token, "username": "tester", "password": PASSWORD})
    assert "Secure" in response.headers["Set-Cookie"]


def test_behind_a_trusted_proxy_https_is_believed(app, backend, tmp_path, request, user):
    from chronoflow import create_app

    from .conftest import app_overrides

    proxied = create_app({**app_overrides(backend, tmp_path, request), "TRUSTED_PROXIES": 1})
    client = proxied.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Referer": "https://localhost/login"}
    token = csrf_token_in(client.get("/login", headers=headers).get_data(as_text=True))
    response = client.post("/login", headers=headers,
                           data={"csrf_token": token, "username": "tester", "password": PASSWORD})
    with proxied.app_context():
        db.engine.dispose()
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_signing_out_ends_the_session(client, post_form):
    response = post_form("/logout", token_from="/settings")
    assert response.headers["Location"] == "/login"
    assert client.get("/").headers["Location"].startswith("/login")


def test_failed_sign_ins_are_limited_and_successes_do_not_count(app, user):
    app.extensions["login_throttle"] = LoginThrottle({**app.config, "LOGIN_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    assert sign_in(client).status_code == 302  # a success costs nothing
    client = app.test_client()
    for _ in range(3):
        assert sign_in(client, password="wrong password").status_code == 401
    limited = sign_in(client)  # even the right password waits now
    assert limited.status_code == 429
    assert "Too many failed attempts" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/").headers["Location"].startswith("/login")


def test_with_redis_the_sign_in_count_is_kept_there_for_every_web_process(backend, tmp_path, request,
                                                                          password_hash):
    from chronoflow import create_app

    from .conftest import app_overrides

    prefix = f"test-limits-{uuid.uuid4().hex}"
    app = create_app({**app_overrides(backend, tmp_path, request), "REDIS_URL": REDIS_URL,
                      "LOGIN_RATE_LIMIT": "2 per minute", "QUEUE_NAME": prefix})
    with app.app_context():
        db.session.add(User(username="tester", password_hash=password_hash))
        db.session.commit()
    store = redis.Redis.from_url(REDIS_URL)
    try:
        # No app context held: each request gets its own, as in a web process.
        for expected in (401, 401, 429):
            assert sign_in(app.test_client(), password="wrong password").status_code == expected
        assert store.keys(f"*{prefix}*"), "the count is not in Redis"
    finally:
        store.delete(*store.keys(f"*{prefix}*") or ["-"])
        with app.app_context():
            db.session.execute(db.delete(User))
            db.session.commit()
            db.engine.dispose()


def test_changing_the_password_signs_out_every_other_browser(app, client, user, post_form):
    other = app.test_client()
    sign_in(other)
    assert other.get("/").status_code == 200

    response = post_form("/settings/password", token_from="/settings", data={
        "current_password": PASSWORD, "new_password": "a brand new one", "confirm_password": "a brand new one"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert other.get("/").headers["Location"].startswith("/login")
    assert sign_in(app.test_client(), password="a brand new one").status_code == 302


@pytest.mark.parametrize("change, field, words", [
    ({"current_password": "not it"}, "current_password", "This is not your current password."),
    ({"new_password": "short", "confirm_password": "short"}, "new_password", "Use 8 to 256 characters."),
    ({"confirm_password": "something else"}, "confirm_password", "The two passwords differ."),
])
def test_a_bad_password_change_says_why_next_to_the_field_and_changes_nothing(client, user, post_form,
                                                                               change, field, words):
    before = user.password_hash
    data = {"current_password": PASSWORD, "new_password": "a brand new one", "confirm_password": "a brand new one",
            **change}
    response = post_form("/settings/password", token_from="/settings", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error"[^>]*>{re.escape(words)}', html), html
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == before


def test_a_token_is_shown_once_stored_hashed_and_works_until_revoked(app, client, user, post_form):
    response = post_form("/settings/tokens", token_from="/settings", data={"name": "n8n"})
    html = response.get_data(as_text=True)
    token = re.search(r'id="new-token">(cf_[\w-]+)<', html).group(1)

    row = db.session.execute(db.select(ApiToken).filter_by(name="n8n")).scalar_one()
    assert token not in (row.token_hash, row.prefix) and token.startswith(row.prefix)
    assert token not in client.get("/settings").get_data(as_text=True)  # only that once

    program = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert program.get("/api/chronos", headers=bearer).status_code == 200
    created = program.post("/api/chronos", headers=bearer, json={
        "name": "by token", "schedule": "every day at 9", "url": "https://example.com/hook"})
    assert created.status_code == 201  # no CSRF token needed with a Bearer token
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None

    assert post_form(f"/settings/tokens/{row.id}/revoke", token_from="/settings").status_code == 302
    refused = program.get("/api/chronos", headers=bearer)
    assert refused.status_code == 401
    assert refused.json["message"] == "The API token is missing, wrong or revoked."
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_name_is_checked_next_to_its_field(client, post_form):
    response = post_form("/settings/tokens", token_from="/settings", data={"name": ""})
    assert response.status_code == 422
    assert re.search(r'id="name-error"[^>]*>Use 1 to 100 characters.', response.get_data(as_text=True))
    assert db.session.query(ApiToken).filter_by(name="").count() == 0


def test_nobody_revokes_someone_else_s_token(app, user, api_token, password_hash, post_form):
    other = User(username="other", password_hash=password_hash)
    db.session.add(other)
    db.session.commit()
    mine = db.session.execute(db.select(ApiToken).filter_by(user_id=user.id)).scalar_one()
    assert service.revoke_token(other, mine.id) is False
    assert app.test_client().get("/api/chronos", headers={"Authorization": f"Bearer {api_token}"}).status_code == 200


def test_a_disabled_user_loses_sessions_and_tokens_at_once(app, client, user, api_token):
    user.is_active = False
    db.session.commit()
    assert client.get("/").headers["Location"].startswith("/login")
    assert app.test_client().get("/api/chronos", headers={"Authorization": f"Bearer {api_token}"}).status_code == 401
    assert sign_in(app.test_client()).status_code == 401


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer cf_wrong", "Bearer not-even-ours",
                                           "Basic dGVzdGVyOmNvcnJlY3Q=", "Bearer " + "x" * 5000])
def test_the_api_without_a_good_token_is_401_json_never_a_redirect(anonymous, user, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = anonymous.post("/api/chronos", headers=headers, json={"name": "x"})
    assert response.status_code == 401
    assert response.is_json and response.json["code"] == 401 and response.json["message"]
    assert db.session.query(Chrono).count() == 0
    assert "Location" not in response.headers


def test_a_401_speaks_the_caller_s_language(anonymous):
    response = anonymous.get("/api/chronos", headers={"Accept-Language": "pt-BR"})
    assert response.json["message"] == "Entre, ou envie um token da API: Authorization: Bearer <token>."


def test_a_signed_in_browser_may_read_the_api_but_not_write_through_it(app, user):
    browser = app.test_client()
    sign_in(browser)
    assert browser.get("/api/openapi.json").status_code == 200
    assert browser.get("/api/chronos").status_code == 200
    refused = browser.post("/api/chronos", json={"name": "x", "schedule": "every day at 9",
                                                 "url": "https://example.com/"})
    assert refused.status_code == 401 and "API token" in refused.json["message"]


def test_a_wrong_token_wins_over_a_good_session(app, user):
    browser = app.test_client()
    sign_in(browser)
    assert browser.get("/api/chronos", headers={"Authorization": "Bearer cf_wrong"}).status_code == 401


def test_the_health_check_needs_no_sign_in(anonymous):
    assert anonymous.get("/api/health").status_code in (200, 503)
    assert anonymous.get("/api/health").is_json


def test_an_admin_adds_a_user_who_can_then_sign_in(app, client, user, post_form):
    user.is_admin = True
    db.session.commit()
    response = post_form("/settings/users", token_from="/settings",
                         data={"username": "Joana", "password": "her own pass"})
    assert response.status_code == 302
    joana = service.find_user("joana")
    assert joana is not None and not joana.is_admin
    assert sign_in(app.test_client(), username="joana", password="her own pass").status_code == 302

    response = post_form(f"/settings/users/{joana.id}/disable", token_from="/settings")
    assert response.status_code == 302
    assert sign_in(app.test_client(), username="joana", password="her own pass").status_code == 401
    assert post_form(f"/settings/users/{joana.id}/enable", token_from="/settings").status_code == 302
    assert sign_in(app.test_client(), username="joana", password="her own pass").status_code == 302


def test_a_bad_new_user_is_explained_next_to_its_fields(client, user, post_form):
    user.is_admin = True
    db.session.commit()
    response = post_form("/settings/users", token_from="/settings", data={"username": "tester", "password": "x"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="username-error"[^>]*>This username is taken.', html)
    assert re.search(r'id="password-error"[^>]*>Use 8 to 256 characters.', html)
    assert len(service.list_users()) == 1


def test_an_admin_cannot_disable_themselves(client, user, post_form):
    user.is_admin = True
    db.session.commit()
    response = post_form(f"/settings/users/{user.id}/disable", token_from="/settings", follow_redirects=True)
    assert "You cannot disable yourself." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).is_active


def test_only_admins_see_and_manage_users(client, user, password_hash, post_form):
    other = User(username="other", password_hash=password_hash)
    db.session.add(other)
    db.session.commit()
    assert 'id="users"' not in client.get("/settings").get_data(as_text=True)
    assert post_form("/settings/users", token_from="/settings",
                     data={"username": "sneaky", "password": "long enough"}).status_code == 403
    assert post_form(f"/settings/users/{other.id}/disable", token_from="/settings").status_code == 403
    assert service.find_user("sneaky") is None and db.session.get(User, other.id).is_active


def test_the_first_user_is_an_admin_and_the_next_ones_are_not(app):
    first = service.create_user({"username": "first", "password": "long enough"})
    second = service.create_user({"username": "second", "password": "long enough"})
    third = service.create_user({"username": "third", "password": "long enough", "is_admin": True})
    assert (first.is_admin, second.is_admin, third.is_admin) == (True, False, True)


def test_signing_out_everywhere_ends_every_session_but_not_the_tokens(app, client, user, api_token, post_form):
    phone = app.test_client()
    sign_in(phone)
    response = post_form("/logout", token_from="/settings", data={"everywhere": "1"})
    assert response.headers["Location"] == "/login"
    assert phone.get("/").headers["Location"].startswith("/login")
    assert app.test_client().get("/api/chronos", headers={"Authorization": f"Bearer {api_token}"}).status_code == 200
