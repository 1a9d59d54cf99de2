"""What a channel may be: one validation path for the JSON API and the form."""
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from ..fields import Input, text, yes_no
from ..i18n import _m
from ..waha.service import name_problem


class ChannelInput(Input):
    class Meta:
        unknown = RAISE

    name = text(required=True, validate=validate.Length(1, 100, error=_m("Use 1 to 100 characters.")))
    session = text(load_default="default",
                   metadata={"description": "the WAHA session that sends (Core: 'default')"})
    is_active = yes_no(load_default=True)

    @validates("session")
    def _session(self, value, **kwargs):
        problem = name_problem(value)
        if problem:
            raise ValidationError(problem)

    def load(self, data, **kwargs):
        if isinstance(data, dict):
            data = {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}
        return super().load(data, **kwargs)


class ChannelChanges(ChannelInput):
    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class ChannelSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    type = fields.String()
    session = fields.String()
    is_active = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


def name_taken_error():
    return ValidationError({"name": [_("Another channel already has this name.")]})
