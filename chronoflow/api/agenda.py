"""What will fire next, across all chronos."""
from flask import current_app
from marshmallow import fields, validate

from .. import schedules
from ..chronos import agenda
from ..fields import Input, timezone_name
from ..i18n import _m
from .arguments import Blueprint

blp = Blueprint("Agenda", __name__, url_prefix="/api/agenda", description="What will fire next")


class AgendaArgs(Input):
    class Meta:
        unknown = "exclude"

    hours = fields.Integer(load_default=24, validate=validate.OneOf(agenda.WINDOWS, error=_m("Must be 24 or 168.")),
                           error_messages={"invalid": _m("Must be 24 or 168.")},
                           metadata={"enum": list(agenda.WINDOWS)})
    timezone = timezone_name(description="the viewer's IANA zone; default DEFAULT_TIMEZONE")


@blp.route("")
@blp.arguments(AgendaArgs, location="query")
@blp.response(200)
def get_agenda(args):
    """Occurrences of the next 24 or 168 hours of every active chrono, grouped by hour in
    the viewer's timezone. Bounded: `capped` says when occurrences were left out."""
    zone = schedules.validate_timezone(args["timezone"] or current_app.config["DEFAULT_TIMEZONE"]).key
    return agenda.as_json(agenda.build(args["hours"], zone))


