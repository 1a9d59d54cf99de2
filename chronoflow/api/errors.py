from flask_babel import gettext as _
from flask_smorest import abort
from marshmallow import ValidationError

from ..extensions import db


def validation_failed(exc: ValidationError):
    """A marshmallow error from a domain function, shaped like webargs' own 422."""
    abort(422, message=_("Some fields are not valid."), errors={"json": exc.messages})


def get_or_404(model, ident, message):
    """The row, or a 404 in the API's shape; `message` is already translated."""
    row = db.session.get(model, ident)
    if row is None:
        abort(404, message=message)
    return row
