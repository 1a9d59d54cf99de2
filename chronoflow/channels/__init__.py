"""Channels: a named WhatsApp sender (a WAHA session) that message chronos pick.
The pages (views.py, forms.py), the operations (service.py) and the one
validation path shared with the JSON API (schemas.py)."""
from flask import Blueprint

bp = Blueprint("channels", __name__, url_prefix="/channels")

from . import views  # noqa: E402,F401 (routes register on bp)
