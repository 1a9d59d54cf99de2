"""ChronoFlow: schedules webhooks and WhatsApp messages, and keeps the history of every run."""
import sqlite3

from dotenv import load_dotenv
from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter

from . import config as settings
from . import reads
from .extensions import babel, csrf, db, migrate
from .fields import MAX_BIG_ID, MAX_ID
from .i18n import LOCALES, compile_catalogs, normalize_locale


def create_app(overrides=None):
    """`overrides` (a mapping) wins over the environment; tests pass one."""
    load_dotenv(settings.ROOT / ".env")
    app = Flask(
        __name__,
        template_folder=str(settings.ROOT / "templates"),
        static_folder=str(settings.ROOT / "static"),
        instance_path=str(settings.ROOT / "instance"),
    )
    app.url_map.converters.update(int=IdConverter, bigint=BigIdConverter)
    app.config.update(settings.load(app.instance_path, overrides=overrides))
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_REQUEST_BYTES"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(app.config))
    app.jinja_env.add_extension("jinja2.ext.do")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings.ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    compile_catalogs()  # .mo files are build output: a fresh clone has only .po

    from . import accounts, api, channels, chronos, cli, errors, main, observe, runs, security, tasks, waha  # noqa: F401 (tasks register with huey)
    from .queue import huey

    huey.init_app(app)
    accounts.init_app(app)
    api.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    observe.init_app(app)
    for blueprint in (main.bp, chronos.bp, runs.bp, waha.bp, channels.bp):
        app.register_blueprint(blueprint)
    cli.register(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.wsgi_app = reads.RetryStaleReads(app.wsgi_app)
    return app


class IdConverter(IntegerConverter):
    """`<int:id>` up to the largest INTEGER (`<bigint:id>`: BIGINT): a longer number
    matches no route (404) instead of reaching the database, which refuses it."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class BigIdConverter(IdConverter):
    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, *args, max=MAX_BIG_ID, **kwargs)


def select_locale():
    if not has_request_context():
        return None  # the worker (a run's messages): the default locale, English
    chosen = request.cookies.get("lang")  # set by the language switch
    if chosen in LOCALES:
        return chosen
    return normalize_locale(request.accept_languages.best_match(LOCALES + ("pt", "pt-BR")))


def _engine_options(config):
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return {}
    # Every worker thread may hold a connection during a run.
    # A thread holds a connection only between its claim and its record, never
    # during the call. The overflow lets `flask worker --threads N` go past
    # WORKER_THREADS without threads waiting for a connection.
    threads = config["WORKER_THREADS"]
    return {"pool_size": threads, "max_overflow": threads, "pool_pre_ping": True}


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, _record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # SQLAlchemy emits BEGIN below; WAL lets the web read while the worker writes.
    dbapi_connection.isolation_level = None
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    # See reads.py: readers take no lock; writers take the write lock up front (a
    # deferred transaction that reads, then writes, fails at once with "database is
    # locked" when another process wrote in between, instead of waiting its turn).
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN" if reads.only_reading() else "BEGIN IMMEDIATE")
