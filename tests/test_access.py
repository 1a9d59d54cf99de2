"""Nothing is reachable without signing in: walks over every route of the URL map, so
a route added tomorrow is checked without anyone remembering to add a test."""
import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from chronoflow.accounts import guard, service
from chronoflow.extensions import db

from .conftest import sign_in

# The URL map is the same on both databases: walk it once.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def every_route(app):
    """(endpoint, method, path) for each method of each rule, with made-up arguments."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        values = {name: made_up(converter) for name, converter in rule._converters.items()}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, adapter.build(rule.endpoint, values, method=method)


def made_up(converter):
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return "x"


def is_api(path):
    return path == "/api" or path.startswith("/api/")


def test_the_walk_sees_every_area(app):
    endpoints = {endpoint for endpoint, _method, _path in every_route(app)}
    blueprints = {endpoint.split(".")[0] for endpoint in endpoints}
    assert {"chronos", "runs", "waha", "channels", "accounts", "main", "Chronos", "Runs", "api-docs"} <= blueprints
    assert len(endpoints) > 50


def test_only_sign_in_static_files_language_and_health_are_public(app, anonymous):
    public = set()
    for endpoint, method, path in every_route(app):
        response = anonymous.open(path, method=method, json={} if is_api(path) else None)
        if is_api(path):
            if response.status_code == 401:
                assert response.is_json and response.json["code"] == 401, path
                assert "Location" not in response.headers
                continue
        elif response.status_code == 302 and response.headers["Location"].startswith("/login"):
            continue
        public.add(endpoint)
    # /metrics checks METRICS_TOKEN itself (tests/test_metrics.py)
    assert public == {"accounts.login", "main.set_language", "static", "Health.health", "Health.live",
                      "metrics.scrape"}
    assert public == guard.PUBLIC


def test_the_endpoints_with_a_proof_of_their_own_refuse_everyone_without_it(app, user, api_token, anonymous):
    """WAHA's webhook needs no sign-in, but a session or an API token is no proof either."""
    signed_in = app.test_client()
    with signed_in.session_transaction() as session:
        session["_user_id"] = user.get_id()
    routes = [(method, path) for endpoint, method, path in every_route(app) if endpoint in guard.OWN_PROOF]
    assert len(routes) == 2
    for method, path in routes:
        for client, headers in ((anonymous, {}), (signed_in, {}), (anonymous, {"Authorization": f"Bearer {api_token}"})):
            response = client.open(path, method=method, headers=headers, json={"event": "session.status"})
            assert response.status_code == 401 and response.json["code"] == 401, (path, headers)


def test_a_revoked_token_opens_nothing(app, user, api_token, anonymous):
    row = user.tokens[0]
    assert service.revoke_token(user, row.id)
    db.session.commit()
    headers = {"Authorization": f"Bearer {api_token}"}
    for endpoint, method, path in every_route(app):
        if is_api(path) and endpoint not in guard.PUBLIC | guard.OWN_PROOF:
            response = anonymous.open(path, method=method, headers=headers, json={})
            assert response.status_code == 401, (method, path)
            assert response.json["message"] == "The API token is missing, wrong or revoked."


def test_every_form_post_without_its_csrf_token_is_refused(app, user):
    browser = sign_in(app.test_client(), user)  # no Bearer token
    checked = 0
    for endpoint, method, path in every_route(app):
        if method in UNSAFE and not is_api(path):
            response = browser.open(path, method=method, data={"name": "x"})
            assert response.status_code == 400, (method, path)
            checked += 1
    assert checked > 10
    assert browser.get("/chronos/new").status_code == 200  # still signed in: it was the CSRF check


def test_a_signed_in_browser_cannot_change_anything_through_the_api(app, user):
    browser = sign_in(app.test_client(), user)
    for endpoint, method, path in every_route(app):
        if method in UNSAFE and is_api(path):
            response = browser.open(path, method=method, json={})
            assert response.status_code == 401, (method, path)
