"""What a user, a password and a token name may be: one validation path for the
sign-in pages, the settings page and `flask users`."""
from marshmallow import ValidationError, validate, validates_schema

from ..fields import Input, text, yes_no
from ..i18n import _m

MIN_PASSWORD = 8


def _required(*validators):
    return text(required=True, validate=list(validators))


USERNAME = validate.Regexp(
    r"^[a-z0-9][a-z0-9._@+-]{0,79}$",
    error=_m("Use 1 to 80 letters, digits or . _ @ + - (no spaces)."),
)
PASSWORD = validate.Length(min=MIN_PASSWORD, max=256, error=_m("Use 8 to 256 characters."))


class NewUserInput(Input):
    username = _required(USERNAME)
    password = _required(PASSWORD)
    is_admin = yes_no(load_default=False)


class PasswordChangeInput(Input):
    current_password = _required()
    new_password = _required(PASSWORD)
    confirm_password = _required()

    @validates_schema
    def _confirmed(self, data, **_kwargs):
        if data.get("new_password") != data.get("confirm_password"):
            raise ValidationError({"confirm_password": [_m("The two passwords differ.")]})


class TokenInput(Input):
    name = _required(validate.Length(min=1, max=100, error=_m("Use 1 to 100 characters.")))
