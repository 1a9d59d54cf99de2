"""Every error, one way: JSON in the API's shape under /api, a page in the layout elsewhere.

No request, however malformed, gets a traceback: an unexpected exception is
logged and answered as a 500 in the same two shapes.
"""
from flask import current_app, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import api, db


def wants_json():
    return request.path == "/api" or request.path.startswith("/api/")


def translated(messages):
    """marshmallow's messages as plain strings in the request's language
    (str() translates an i18n.FieldMessage and leaves other strings as they are)."""
    if isinstance(messages, dict):
        return {key: translated(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [translated(value) for value in messages]
    return str(messages)


def handle_http_exception(error):
    if wants_json():
        # flask-smorest's shape: {"code", "status", "message"?, "errors"?}
        payload, code, headers = api.handle_http_exception(error)
        if "errors" in payload:
            payload["errors"] = translated(payload["errors"])
        return payload, code, headers
    return render_template("errors/error.html", error=error), error.code


def handle_unexpected(exc):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    return handle_http_exception(InternalServerError())


def init_app(app):
    # Registered after flask-smorest's own HTTPException handler, so this one wins.
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
