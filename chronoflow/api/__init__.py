"""The JSON API under /api, documented as OpenAPI 3 at /api/openapi.json."""
from ..extensions import api
from . import channels, chronos, health, runs, waha


def init_app(app):
    app.config.setdefault("API_TITLE", "ChronoFlow")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api.init_app(app)
    for blueprint in (chronos.blp, runs.blp, health.blp, channels.blp, waha.blp):
        api.register_blueprint(blueprint)
