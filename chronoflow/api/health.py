from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from ..extensions import db
from ..queue import huey
from ..scheduling import heartbeat

blp = Blueprint("Health", __name__, url_prefix="/api/health", description="Liveness of the service")

BEAT_STATES = ["ok", "stale", "missing", "unknown"]


class HealthSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "degraded"]})
    database = fields.String(metadata={"description": "ok, or error: <kind>"})
    queue = fields.String(metadata={"description": "ok, or error: <kind> (Redis or the SQLite queue file)"})
    scheduler = fields.String(metadata={
        "enum": BEAT_STATES,
        "description": "the dispatcher tick: ok, stale (no tick for SCHEDULER_INTERVAL + HEALTH_STALE_SECONDS), "
                       "missing (never ticked), unknown (database down)"})
    last_tick_at = fields.AwareDateTime(allow_none=True)
    worker = fields.String(metadata={
        "enum": BEAT_STATES,
        "description": "the newest worker heartbeat: ok, stale (older than HEALTH_STALE_SECONDS), missing, unknown"})
    last_worker_heartbeat_at = fields.AwareDateTime(allow_none=True)
    dispatch = fields.String(metadata={
        "enum": ["ok", "behind", "unknown"],
        "description": "behind: active chronos whose occurrences should have been dispatched by now are not "
                       "(the tick runs but its dispatch fails, or cannot keep up)"})
    overdue_chronos = fields.Integer(allow_none=True, metadata={
        "description": "how many such chronos (counted up to 10,000)"})


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


def report():
    """What /api/health says; healthy only when every part can do its job."""
    result = {"database": _check(lambda: db.session.execute(text("SELECT 1"))), "queue": _check(_queue_probe)}
    beats = {"scheduler": ("unknown", None), "worker": ("unknown", None)}
    result["dispatch"], result["overdue_chronos"] = "unknown", None
    if result["database"] == "ok":
        try:
            beats = {kind: heartbeat.freshness(kind) for kind in beats}
            overdue = heartbeat.overdue_chronos()
            result["dispatch"], result["overdue_chronos"] = ("behind" if overdue else "ok"), overdue
        except Exception:  # the database went away between the queries
            db.session.rollback()
    else:
        db.session.rollback()
    result["scheduler"], result["last_tick_at"] = beats["scheduler"]
    result["worker"], result["last_worker_heartbeat_at"] = beats["worker"]
    healthy = all(result[part] == "ok" for part in ("database", "queue", "scheduler", "worker", "dispatch"))
    result["status"] = "ok" if healthy else "degraded"
    return result, healthy


@blp.route("")
@blp.doc(security=[])  # load balancers and compose poll it without a token
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The service cannot do its job")
def health():
    result, healthy = report()
    return result, (200 if healthy else 503)
