"""Accounts: signing in and out, the settings page (password, API tokens), the
guard that keeps everything else behind a login, and `flask users`."""
from datetime import timedelta

from flask import Blueprint, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from ..extensions import login_manager
from .throttle import LoginThrottle

bp = Blueprint("accounts", __name__)

from . import cli, guard, views  # noqa: E402 (routes register on bp)


class SessionInterface(SecureCookieSessionInterface):
    """Cookies are Secure whenever the request came over HTTPS (directly, or through
    TRUSTED_PROXIES that say so), so one setup serves http://localhost and a TLS proxy."""

    def get_cookie_secure(self, app):
        return super().get_cookie_secure(app) or request.is_secure


def init_app(app):
    config = app.config
    if config["TRUSTED_PROXIES"]:
        proxies = config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies)
    config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=config["SESSION_LIFETIME_DAYS"]),
        WTF_CSRF_CHECK_DEFAULT=False,  # guard.require_login checks it, after the login
    )
    app.session_interface = SessionInterface()
    login_manager.init_app(app)

    app.extensions["login_throttle"] = LoginThrottle(config)
    app.before_request(guard.require_login)
    app.cli.add_command(cli.users_cli)
    app.register_blueprint(bp)
