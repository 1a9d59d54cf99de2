"""One JSON error shape for the whole API: {"code", "status", "message"?, "errors"?}."""
from flask import request
from flask_babel import gettext as _
from flask_smorest import abort
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import api, db, wants_json


def validation_failed(exc: ValidationError):
    """A marshmallow error from a domain function, shaped like webargs' own 422."""
    abort(422, message=_("Some fields are not valid."), errors={"json": exc.messages})


def register(app):
    @app.errorhandler(Exception)
    def unexpected(exc):
        # Flask calls this for anything not an HTTPException: log it, answer 500
        # in the API's shape and never with a traceback.
        if isinstance(exc, HTTPException):
            return exc
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        error = InternalServerError()
        if wants_json():
            return api.handle_http_exception(error)
        return error
