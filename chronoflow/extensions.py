"""Extensions are created unbound here and attached in create_app()."""
from flask import request
from flask_babel import Babel
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class ChronoFlowApi(Api):
    """flask-smorest answers every error in the app as JSON; pages outside /api
    keep Flask's own error handling."""

    def handle_http_exception(self, error):
        if not wants_json():
            return error
        payload, code, headers = super().handle_http_exception(error)
        if "errors" in payload:
            payload["errors"] = translated(payload["errors"])
        return payload, code, headers


def translated(messages):
    """marshmallow's messages as plain strings in the request's language
    (str() translates an i18n.FieldMessage and leaves other strings as they are)."""
    if isinstance(messages, dict):
        return {key: translated(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [translated(value) for value in messages]
    return str(messages)


def wants_json():
    return request.path == "/api" or request.path.startswith("/api/")


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
api = ChronoFlowApi()
