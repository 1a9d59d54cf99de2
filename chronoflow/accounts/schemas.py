"""What a user, a password and a token name may be: one validation path for the
sign-in pages, the settings page and `flask users`."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..chronos.schemas import messages
from ..i18n import _m

MIN_PASSWORD = 8


def _text(*validators, **kwargs):
    return fields.String(required=True, error_messages=messages(invalid=_m("Must be text.")),
                         validate=list(validators), **kwargs)


USERNAME = validate.Regexp(
    r"^[a-z0-9][a-z0-9._@+-]{0,79}$",
    error=_m("Use 1 to 80 letters, digits or . _ @ + - (no spaces)."),
)
PASSWORD = validate.Length(min=MIN_PASSWORD, max=256, error=_m("Use 8 to 256 characters."))


class NewUserInput(Schema):
    username = _text(USERNAME)
    password = _text(PASSWORD)
    is_admin = fields.Boolean(load_default=False)


class PasswordChangeInput(Schema):
    current_password = _text()
    new_password = _text(PASSWORD)
    confirm_password = _text()

    @validates_schema
    def _confirmed(self, data, **_kwargs):
        if data.get("new_password") != data.get("confirm_password"):
            raise ValidationError({"confirm_password": [_m("The two passwords differ.")]})


class TokenInput(Schema):
    name = _text(validate.Length(min=1, max=100, error=_m("Use 1 to 100 characters.")))
