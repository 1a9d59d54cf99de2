"""WhatsApp through WAHA: the client (client.py, the only module that talks to
WAHA), recipients (phones.py), message templates (template.py), and the session
pages (views.py: list, pair by QR or code, start/stop/restart/logout/delete)."""
from flask import Blueprint

bp = Blueprint("waha", __name__, url_prefix="/waha")

from . import views  # noqa: E402,F401 (routes register on bp)
