"""What every page shares: the language switch and the template helpers."""
from flask import Blueprint

bp = Blueprint("main", __name__)

from . import formatting, views  # noqa: E402,F401 (routes and filters register on bp)
