from flask_babel import gettext as _
from flask_smorest import abort
from marshmallow import ValidationError


def validation_failed(exc: ValidationError):
    """A marshmallow error from a domain function, shaped like webargs' own 422."""
    abort(422, message=_("Some fields are not valid."), errors={"json": exc.messages})
