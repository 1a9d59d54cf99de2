"""Every error, one way: JSON in the API's shape under /api, a page in the layout elsewhere.

No request, however malformed, gets a traceback: an unexpected exception is
logged and answered as a 500 in the same two shapes.
"""
from flask import current_app, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from . import reads
from .extensions import api, db


def wants_json():
    return request.path == "/api" or request.path.startswith("/api/")


# An error names what was wrong without echoing it whole: a 1 MB field name or value
# would otherwise come back in the answer.
ECHO_CHARS = 300


def _short(text):
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"


def translated(messages):
    """marshmallow's messages as plain strings in the request's language
    (str() translates an i18n.FieldMessage and leaves other strings as they are)."""
    if isinstance(messages, dict):
        return {_short(str(key)): translated(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [translated(value) for value in messages]
    return _short(str(messages))


def _headers(error):
    """A 405 says which methods the URL takes (RFC 9110 requires it)."""
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        return {"Allow": ", ".join(sorted(error.valid_methods))}
    return {}


def handle_http_exception(error):
    if wants_json():
        # flask-smorest's shape: {"code", "status", "message"?, "errors"?}
        payload, code, headers = api.handle_http_exception(error)
        if "errors" in payload:
            payload["errors"] = translated(payload["errors"])
        if error.code == 413 and "message" not in payload:
            payload["message"] = _("The request is larger than %(n)s bytes (MAX_REQUEST_BYTES).",
                                   n=current_app.config["MAX_CONTENT_LENGTH"])
        return payload, code, {**_headers(error), **(headers or {})}
    return render_template("errors/error.html", error=error), error.code, _headers(error)


def handle_unexpected(exc):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if reads.read_again(exc):  # a stale SQLite snapshot: the request is made again (reads.py)
        db.session.rollback()
        return "", 503
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return handle_http_exception(InternalServerError())


def init_app(app):
    # Registered after flask-smorest's own HTTPException handler, so this one wins.
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
