"""Nothing is reachable without signing in, except what PUBLIC lists.

The guard runs before every request, so a new route is protected without anyone
remembering to decorate it. Pages send strangers to the sign-in page; the JSON API
answers 401 in its own shape, never a redirect to HTML. The API takes a personal
token (`Authorization: Bearer cf_...`) for every method, and a browser's session
for reading only: a session-authenticated write would need a CSRF token that
programs do not have. Every page's POST needs its form's CSRF token (Flask-WTF);
the API's does not, as a browser never adds a Bearer token by itself.
"""
from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import abort

from ..errors import wants_json
from ..extensions import csrf, login_manager
from . import service

# Endpoints anyone may reach: signing in, the language switch (the sign-in page has
# it), static files, the health checks that load balancers and compose poll, and
# the metrics (they check METRICS_TOKEN themselves).
PUBLIC = frozenset({"accounts.login", "main.set_language", "static", "Health.health", "Health.live", "metrics.scrape"})
# Endpoints that need no sign-in because they check a proof of their own: WAHA's
# webhooks (an HMAC of the body, or a secret token in the URL: api/waha_events.py).
OWN_PROOF = frozenset({"WhatsApp events.webhook", "WhatsApp events.webhook_with_token"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token():
    """The token of an `Authorization: Bearer ...` header; "" for another scheme or none."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _api_token_request():
    return wants_json() and "Authorization" in request.headers


@login_manager.user_loader
def _load_from_session(session_id):
    if _api_token_request():
        return None  # the header decides, even when the browser also sent its cookie
    return service.user_for_session(session_id)


@login_manager.request_loader
def _load_from_token(_request):
    if not _api_token_request():
        return None
    return service.token_owner(bearer_token())


def _unauthorized(message):
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="ChronoFlow"'})


def require_login():
    """Signed in (or a token for the API) first, then the CSRF token of a form: so a
    stranger's POST is sent to sign in rather than told that a form expired."""
    if wants_json():
        if request.endpoint in PUBLIC or request.endpoint in OWN_PROOF:
            return None
        if _api_token_request():
            if not current_user.is_authenticated:
                _unauthorized(_("The API token is missing, wrong or revoked."))
        elif not current_user.is_authenticated:
            _unauthorized(_("Sign in, or send an API token: Authorization: Bearer <token>."))
        elif request.method not in SAFE_METHODS:
            _unauthorized(_("Changes through the API need an API token: Authorization: Bearer <token>."))
        return None
    if request.endpoint not in PUBLIC and not current_user.is_authenticated:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("accounts.login", next=target))
    if request.method not in SAFE_METHODS:
        csrf.protect()
    return None
