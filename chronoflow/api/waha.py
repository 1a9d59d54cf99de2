"""WhatsApp sessions on the WAHA server, through ChronoFlow (WAHA's key stays here)."""
import base64

from flask_smorest import abort

from .arguments import Blueprint
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from ..fields import Input, text, yes_no
from ..errors import handle_http_exception
from ..waha import service
from ..waha.client import SessionNotFound, SessionNotReady, WahaError, WahaFailed, WahaUnreachable
from ..waha.phones import RecipientError, parse_recipient

blp = Blueprint("WhatsApp sessions", __name__, url_prefix="/api/waha/sessions",
                description="WhatsApp sessions (linked numbers) on the WAHA server")


class SessionSchema(Schema):
    name = fields.String()
    status = fields.String(metadata={"enum": ["STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED"]})
    phone = fields.String(allow_none=True, metadata={"description": "the linked number when WORKING"})
    push_name = fields.String(allow_none=True)
    engine = fields.String(allow_none=True)


class SessionCreate(Input):
    name = text(load_default="default")
    start = yes_no(load_default=True)


class PairingCodeInput(Input):
    phone_number = text(required=True)


class QrSchema(Schema):
    mimetype = fields.String()
    data = fields.String(metadata={"description": "base64 PNG"})


class CodeSchema(Schema):
    code = fields.String()


@blp.errorhandler(WahaError)
def waha_failed(exc):
    """WAHA's problem, from any endpoint here, in /api's error shape: 404 no such
    session, 409 not connected, 422 what this WAHA cannot do (WAHA Core serves only
    the session 'default'), 503 unreachable, 502 anything else WAHA (or its key) got wrong."""
    if isinstance(exc, SessionNotFound):
        code = 404
    elif isinstance(exc, SessionNotReady):
        code = 409
    elif isinstance(exc, WahaFailed) and exc.status_code in (400, 422):
        code = 422
    else:
        code = 503 if isinstance(exc, WahaUnreachable) else 502
    try:
        abort(code, message=str(exc))
    except HTTPException as error:
        return handle_http_exception(error)


def checked(name):
    problem = service.name_problem(name)
    if problem:
        abort(422, message=problem, errors={"json": {"name": [problem]}})
    return name


@blp.route("")
@blp.response(200, SessionSchema(many=True))
def list_sessions():
    return [session.as_json() for session in service.client().list_sessions()]


@blp.route("", methods=["POST"])
@blp.arguments(SessionCreate, required=False)
@blp.response(201, SessionSchema)
def create_session(values):
    return service.create(checked(values["name"]), start=values["start"]).as_json()


@blp.route("/<name>")
@blp.response(200, SessionSchema)
def get_session(name):
    return service.client().get_session(checked(name)).as_json()


@blp.route("/<name>", methods=["DELETE"])
@blp.response(204)
def delete_session(name):
    service.client().delete(checked(name))


@blp.route("/<name>/<any(start, stop, restart, logout):action>", methods=["POST"])
@blp.response(200, SessionSchema)
def session_action(name, action):
    return getattr(service.client(), action)(checked(name)).as_json()


@blp.route("/<name>/qr")
@blp.response(200, QrSchema)
def qr(name):
    """The QR code to scan while the session is SCAN_QR_CODE (409 otherwise)."""
    png = service.client().qr_png(checked(name))
    return {"mimetype": "image/png", "data": base64.b64encode(png).decode()}


@blp.route("/<name>/pairing-code", methods=["POST"])
@blp.arguments(PairingCodeInput)
@blp.response(200, CodeSchema)
def pairing_code(values, name):
    """A code to type in WhatsApp (Linked devices > Link with phone number) instead of scanning."""
    from flask import current_app

    try:
        recipient = parse_recipient(values["phone_number"], current_app.config["DEFAULT_PHONE_REGION"])
    except RecipientError as exc:
        abort(422, message=str(exc), errors={"json": {"phone_number": [str(exc)]}})
    return {"code": service.client().request_code(checked(name), recipient.phone)}
