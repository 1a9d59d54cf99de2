"""Moving chronos: a copy, several at once, export and import (JSON, crontab)."""

from flask import request
from flask_babel import gettext as _
from flask_smorest import abort
from marshmallow import Schema, fields

from .. import tasks
from ..chronos import bulk, transfer
from ..chronos.schemas import ChronoCreated
from ..extensions import db
from ..fields import Input, text, timezone_name
from .arguments import Blueprint
from .chronos import committed, get_chrono

blp = Blueprint("Moving chronos", __name__, url_prefix="/api/chronos",
                description="Copy, change several at once, export and import")


class Imported(Schema):
    imported = fields.Integer()
    refused = fields.Dict(metadata={"description": "crontab: line number -> why it was left out"})
    skipped = fields.Integer(metadata={"description": "crontab: comments, blank and environment lines"})


class CrontabInput(Input):
    class Meta:
        unknown = "raise"

    crontab = text(required=True, metadata={"description": "the crontab's text"})
    timezone = timezone_name()


def _with_secrets():
    value = request.args.get("secrets", "0")
    if value not in ("0", "1"):
        abort(422, message=_("Some fields are not valid."),
              errors={"query": {"secrets": [_("Must be 0 or 1.")]}})
    return value == "1"


@blp.route("/<int:chrono_id>/clone", methods=["POST"])
@blp.response(201, ChronoCreated)
def clone(chrono_id):
    """A copy of the chrono: everything but its signing secret (a new one) and its history."""
    return committed(bulk.clone_chrono(get_chrono(chrono_id)))


@blp.route("/bulk", methods=["POST"])
@blp.arguments(bulk.BulkInput)
@blp.response(200, bulk.BulkResult)
def bulk_action(values):
    """Pause, resume or delete several chronos; ids of no chrono come back in `missing`."""
    chronos, missing = bulk.apply(values["action"], values["ids"])
    done = [chrono.id for chrono in chronos]
    db.session.commit()
    if values["action"] == "resume" and chronos:
        _dispatch()
    return {"action": values["action"], "done": done, "missing": missing}


@blp.route("/export")
@blp.doc(parameters=[{"in": "query", "name": "secrets", "schema": {"type": "integer", "enum": [0, 1]},
                      "description": "1: with credential headers and signing secrets"}])
@blp.response(200)
def export():
    """Every chrono as one JSON document; secrets only with ?secrets=1."""
    return transfer.export(with_secrets=_with_secrets())


@blp.route("/import", methods=["POST"])
@blp.doc(parameters=[{"in": "query", "name": "secrets", "schema": {"type": "integer", "enum": [0, 1]},
                      "description": "1: keep the signing secrets in the document"}],
         requestBody={"required": True, "content": {"application/json": {"schema": {"oneOf": [
             {"type": "object", "required": ["chronos"],
              "properties": {"chronos": {"type": "array", "items": {"type": "object"}}}},
             {"type": "array", "items": {"type": "object"}}]}}}})
@blp.response(201, Imported)
def import_chronos():
    """An export document (or a list of chronos): all are imported, or none. A 422
    names each refused item by its position (from 0) and field."""
    with_secrets = _with_secrets()
    try:
        count = transfer.import_chronos(transfer.items_of(_json_body()), with_secrets)
    except transfer.ImportRefused as exc:
        db.session.rollback()
        abort(422, message=_("Nothing was imported: %(n)s chronos are not valid.", n=len(exc.errors)),
              errors={"json": {"chronos": exc.errors}})
    db.session.commit()
    _dispatch()
    return {"imported": count, "refused": {}, "skipped": 0}


@blp.route("/import-crontab", methods=["POST"])
@blp.arguments(CrontabInput)
@blp.response(201, Imported)
def import_crontab(values):
    """A crontab's `m h dom mon dow curl …` lines as webhook chronos. Lines that are not
    curl commands are left out and listed in `refused`; a curl line that is not a valid
    chrono refuses the import (422, by line number)."""
    timezone = values.get("timezone")
    try:
        count, reading = transfer.import_crontab(values["crontab"], timezone)
    except transfer.ImportRefused as exc:
        db.session.rollback()
        abort(422, message=_("Nothing was imported: %(n)s lines are not valid.", n=len(exc.errors)),
              errors={"json": {"crontab": exc.errors}})
    db.session.commit()
    _dispatch()
    return {"imported": count, "refused": reading.refused, "skipped": reading.skipped}


def _json_body():
    return blp.ARGUMENTS_PARSER._raw_load_json(request) if request.get_data(cache=True) else abort(
        400, message=_("Send the export document as the JSON body."))


def _dispatch():
    """The first runs of what was just written, the way the tick writes them."""
    try:
        tasks.dispatch_due()
    except tasks.QueueUnavailable:
        pass  # saved all the same: the tick dispatches them


