"""Several chronos at once: a copy of one, and pause, resume or delete for many.

Plain functions over model objects that flush and never commit (the request
commits once, then dispatches), through the same service functions a single
chrono's buttons use.
"""
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from ..extensions import db
from ..fields import MAX_ID, Input, messages, text, whole_number
from ..i18n import _m
from ..models import Chrono
from . import service
from .schemas import NAME_LENGTH, ChronoInput

ACTIONS = ("pause", "resume", "delete")
MAX_IDS = 500  # one request: what a page of checkboxes, or a script, sends at once


def copy_name(name):
    """"Relatório" -> "Relatório (cópia)" in the request's language, within NAME_LENGTH."""
    suffix = " " + _("(copy)")
    return name[: NAME_LENGTH - len(suffix)] + suffix


def clone_chrono(chrono, now=None):
    """A new chrono with everything `chrono` has but its signing secret (a new one)
    and its history; its headers' credentials too, for the same origin."""
    values = ChronoInput().load({**service.as_input(chrono), "name": copy_name(chrono.name)})
    return service.create_chrono(values, now)


def apply(action, ids, now=None):
    """`action` (ACTIONS) on the chronos of `ids`; returns (changed chronos, ids not found)."""
    if action not in ACTIONS:
        raise ValueError(action)
    wanted = list(dict.fromkeys(ids))
    chronos = db.session.scalars(select(Chrono).where(Chrono.id.in_(wanted)).order_by(Chrono.id)).all()
    found = {chrono.id for chrono in chronos}
    for chrono in chronos:
        if action == "pause":
            service.pause(chrono, now)
        elif action == "resume":
            service.resume(chrono, now)
        else:
            service.delete_chrono(chrono)
    db.session.flush()
    return chronos, [chrono_id for chrono_id in wanted if chrono_id not in found]


class BulkInput(Input):
    """Pause, resume or delete several chronos at once."""

    class Meta:
        unknown = RAISE

    action = text(required=True, validate=validate.OneOf(("pause", "resume", "delete"),
                                                         error=_m("Must be pause, resume or delete.")),
                  metadata={"enum": ["pause", "resume", "delete"]})
    ids = fields.List(whole_number(1, MAX_ID), required=True,
                      validate=validate.Length(1, MAX_IDS, error=_m("Send 1 to %(n)s ids.", n=MAX_IDS)),
                      error_messages=messages(invalid=_m("Must be a list of chrono ids.")))


class BulkResult(Schema):
    action = fields.String()
    done = fields.List(fields.Integer(), metadata={"description": "ids changed"})
    missing = fields.List(fields.Integer(), metadata={"description": "ids of no chrono"})
