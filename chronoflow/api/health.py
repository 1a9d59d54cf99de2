from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from ..extensions import db
from ..queue import huey

blp = Blueprint("Health", __name__, url_prefix="/api/health", description="Liveness of the service")


class HealthSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "degraded"]})
    database = fields.String()
    queue = fields.String()


def _check(probe):
    try:
        probe()
    except Exception as exc:  # a health check reports failures, it does not raise them
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _queue_probe():
    conn = getattr(huey.storage, "conn", None)
    if conn is not None and hasattr(conn, "ping"):
        conn.ping()  # Redis
    else:
        huey.storage.queue_size()


@blp.route("")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The service cannot do its job")
def health():
    report = {"database": _check(lambda: db.session.execute(text("SELECT 1"))), "queue": _check(_queue_probe)}
    healthy = all(value == "ok" for value in report.values())
    report["status"] = "ok" if healthy else "degraded"
    return report, (200 if healthy else 503)
