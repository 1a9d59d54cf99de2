"""WhatsApp through WAHA: the client (client.py, the only module that talks to
WAHA), recipients (phones.py), message templates (template.py), the session
pages (views.py: list, pair by QR or code, start/stop/restart/logout/delete),
and what WAHA tells us back (events.py: its webhooks; receipts.py: delivered
and read per message; state.py: each session's state and its alerts;
pacing.py: per-session pacing and the daily cap)."""
from flask import Blueprint

bp = Blueprint("waha", __name__, url_prefix="/waha")

from . import tasks, views  # noqa: E402,F401 (routes register on bp, the alert task on huey)
