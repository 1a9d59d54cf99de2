"""The marshmallow pieces every input schema shares (chronos, channels, accounts,
WhatsApp sessions): fields whose error messages are translatable, and the base
class that words marshmallow's own schema-level errors.

Text is refused here when it could not be stored or sent: a lone surrogate
("\\ud800" in JSON) has no UTF-8 form, and PostgreSQL keeps no NUL character.
"""
import json
import math

from marshmallow import Schema, ValidationError, fields, validate

from .i18n import _m

# The largest id a URL or a field may name: beyond it no row can exist, and the
# database refuses to compare (INTEGER ids; runs have BIGINT ones).
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
# How deep a JSON value (a payload, a header box) may nest.
MAX_JSON_DEPTH = 32


def messages(**extra):
    """Translatable versions of marshmallow's generic messages."""
    return {
        "required": _m("This field is required."),
        "null": _m("This field cannot be empty."),
        "invalid": _m("Not a valid value."),
        **extra,
    }


def storable(value):
    """Refuses text that has no UTF-8 form (a lone surrogate) or holds a NUL character."""
    if "\0" in value:
        raise ValidationError(_m("Must not contain the NUL character."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(_m("Must be valid Unicode text (it holds a lone surrogate).")) from None


def length(low, high):
    if low:
        return validate.Length(low, high, error=_m("Use %(low)s to %(high)s characters.", low=low, high=high))
    return validate.Length(max=high, error=_m("At most %(high)s characters.", high=high))


def text(max_length=None, min_length=0, validate=(), error_messages=None, **kwargs):
    """A string field; `max_length` bounds it, and the OpenAPI document says so."""
    checks = [storable, *([length(min_length, max_length)] if max_length else []),
              *(validate if isinstance(validate, (list, tuple)) else [validate])]
    return fields.String(error_messages=error_messages or messages(invalid=_m("Must be text.")),
                         validate=checks, **kwargs)


def timezone_name(**metadata):
    """An IANA timezone name (any case), or null for the app's DEFAULT_TIMEZONE."""
    return text(64, load_default=None, allow_none=True, validate=_known_zone,
                metadata={"description": "IANA name; default DEFAULT_TIMEZONE", "example": "America/Sao_Paulo",
                          **metadata})


def _known_zone(value):
    from . import schedules  # it words its errors with the app's translations

    try:
        schedules.validate_timezone(value)
    except schedules.ScheduleError as exc:
        raise ValidationError(str(exc)) from None


class YesNo(fields.Boolean):
    """Only JSON's true and false: 0, 1, "yes" or "off" are not booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def yes_no(**kwargs):
    return YesNo(error_messages=messages(invalid=_m("Must be true or false.")), **kwargs)


def whole_number(low, high, strict=True, **kwargs):
    """A bounded whole number: a JSON integer, or (strict=False) also "20" from a query string."""
    return fields.Integer(
        strict=strict,
        error_messages=messages(invalid=_m("Must be a whole number.")),
        validate=validate.Range(
            low, high, error=_m("Must be between %(low)s and %(high)s.", low=low, high=high)
        ),
        **kwargs,
    )


class Input(Schema):
    error_messages = {"unknown": _m("Unknown field."), "type": _m("Must be a JSON object.")}


def json_problem(value, max_bytes):
    """Why `value` (already parsed) cannot be stored and sent as JSON, or None:
    too deep, NaN or Infinity (not JSON), text with no UTF-8 form, or more than
    `max_bytes` once encoded. Walks the value without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _m("Nested more than %(n)s levels deep.", n=MAX_JSON_DEPTH)
        if isinstance(item, float) and not math.isfinite(item):
            return _m("NaN and Infinity are not JSON numbers.")
        if isinstance(item, str):
            try:
                storable(item)
            except ValidationError as exc:
                return exc.messages[0]
        elif isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((nested, depth + 1) for nested in item.values())
        elif isinstance(item, list):
            stack.extend((nested, depth + 1) for nested in item)
    # Measured as executors.http sends it: a string as UTF-8, anything else as ASCII JSON.
    size = len(value.encode("utf-8")) if isinstance(value, str) else len(json.dumps(value))
    if size > max_bytes:
        return _m("At most %(n)s bytes (this is %(size)s).", n=max_bytes, size=size)
    return None
