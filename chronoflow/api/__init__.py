"""The JSON API under /api, documented as OpenAPI 3 at /api/openapi.json."""
from ..extensions import api
from . import agenda, channels, chronos, health, moves, runs, waha, waha_events


def init_app(app):
    app.config.setdefault("API_TITLE", "ChronoFlow")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    # Every operation needs a token (accounts/guard.py) unless it says `security: []`.
    app.config.setdefault("API_SPEC_OPTIONS", {"security": [{"bearerAuth": []}]})
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A personal API token (cf_...), made on the Settings page or with `flask users token`."})
    for blueprint in (chronos.blp, moves.blp, agenda.blp, runs.blp, health.blp, channels.blp, waha.blp, waha_events.blp):
        api.register_blueprint(blueprint)
