"""Chronos: the pages (views.py, forms.py), the operations (service.py) and the
one validation path shared with the JSON API (schemas.py)."""
from flask import Blueprint

bp = Blueprint("chronos", __name__)

from . import moving, views  # noqa: E402,F401 (routes register on bp)
