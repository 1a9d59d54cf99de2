"""What a channel may be: one validation path for the JSON API and the form."""
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, validates

from ..fields import Input, text, yes_no
from ..waha.service import name_problem


class ChannelInput(Input):
    class Meta:
        unknown = RAISE

    name = text(100, min_length=1, required=True, metadata={"description": "unique among channels (409 if taken)"})
    session = text(100, load_default="default",
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


class NameTaken(ValidationError):
    """A conflict with another channel rather than a bad value: the API answers 409."""


def name_taken_error():
    return NameTaken({"name": [_("Another channel already has this name.")]})
