"""A run's page: the request as sent, the answer or the error, every attempt."""
from flask import Blueprint

bp = Blueprint("runs", __name__)

from . import views  # noqa: E402,F401
