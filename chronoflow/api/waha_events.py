"""The inbound endpoint for WAHA's webhooks: message receipts and session states.

Outside the sign-in (WAHA has no token of ours) but never open: a request
proves it comes from WAHA (waha/events.py) or gets 401 and changes nothing.
"""
from flask import current_app, request
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields

from ..extensions import db
from ..waha import events, tasks

blp = Blueprint("WhatsApp events", __name__, url_prefix=events.PATH,
                description="Events that WAHA posts to ChronoFlow (its webhooks): message.ack and session.status")

DOC = {
    "security": [],
    "description": "Called by WAHA, not by people. Proof: `X-Webhook-Hmac` (hex HMAC-SHA512 of the raw body, "
                   "keyed with WAHA_WEBHOOK_HMAC_KEY) or the URL's token (WAHA_WEBHOOK_TOKEN); anything else "
                   "is 401. A delivery is applied once (`X-Webhook-Request-Id`); events ChronoFlow does not use, "
                   "and malformed ones, are answered 200 and ignored.",
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
}


class DeliverySchema(Schema):
    result = fields.String(metadata={"enum": ["applied", "duplicate", "ignored"]})


def _receive(token=None):
    if request.content_length is not None and request.content_length > events.MAX_BODY:
        abort(413, message=_("The event is too large."))
    body = request.stream.read(events.MAX_BODY + 1)
    if len(body) > events.MAX_BODY:
        abort(413, message=_("The event is too large."))
    if not events.proven(current_app.config, body, request.headers, token):
        current_app.logger.warning("WAHA webhook refused: no valid signature or token (from %s)",
                                   request.remote_addr)
        abort(401, message=_("Not signed by WAHA: send X-Webhook-Hmac, or use the URL with the token."))
    result, alert = events.receive(body, request.headers.get("X-Webhook-Request-Id"))
    db.session.commit()
    tasks.send_alert_later(alert)
    return {"result": result}


@blp.route("", methods=["POST"])
@blp.doc(**DOC)
@blp.response(200, DeliverySchema)
def webhook():
    """An event, signed with WAHA_WEBHOOK_HMAC_KEY"""
    return _receive()


@blp.route("/<token>", methods=["POST"])
@blp.doc(**DOC)
@blp.response(200, DeliverySchema)
def webhook_with_token(token):
    """An event, with WAHA_WEBHOOK_TOKEN in the URL (WAHA builds that cannot sign)"""
    return _receive(token)
