"""The marshmallow pieces every input schema shares (chronos, channels, accounts,
WhatsApp sessions): fields whose error messages are translatable, and the base
class that words marshmallow's own schema-level errors."""
from marshmallow import Schema, fields, validate

from .i18n import _m


def messages(**extra):
    """Translatable versions of marshmallow's generic messages."""
    return {
        "required": _m("This field is required."),
        "null": _m("This field cannot be empty."),
        "invalid": _m("Not a valid value."),
        **extra,
    }


def text(**kwargs):
    return fields.String(error_messages=messages(invalid=_m("Must be text.")), **kwargs)


def yes_no(**kwargs):
    return fields.Boolean(error_messages=messages(invalid=_m("Must be true or false.")), **kwargs)


def whole_number(low, high, **kwargs):
    return fields.Integer(
        strict=True,
        error_messages=messages(invalid=_m("Must be a whole number.")),
        validate=validate.Range(
            low, high, error=_m("Must be between %(low)s and %(high)s.", low=low, high=high)
        ),
        **kwargs,
    )


class Input(Schema):
    error_messages = {"unknown": _m("Unknown field."), "type": _m("Must be a JSON object.")}
