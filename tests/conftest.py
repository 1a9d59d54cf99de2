"""Fixtures: a real database per test (SQLite file, or PostgreSQL), a real queue
(an SQLite file, or Redis), a real HTTP target on 127.0.0.1.

PostgreSQL and Redis must be up (see README): a missing service fails the run,
it never skips tests.
"""
import os
import re
import shutil
import uuid
from datetime import datetime, timezone

import flask_babel
import psycopg
import pytest
import redis

from flask import g, request_started

from chronoflow import create_app
from chronoflow.extensions import db
from chronoflow.queue import UTCRedisStorage, UTCSqliteStorage, huey

from .support.fake_waha import FakeWaha
from .support.target import TargetServer

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RUN_ID = uuid.uuid4().hex[:8]


def pytest_sessionstart(session):
    problems = []
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL at {PG_ADMIN_URL}: {exc}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis at {REDIS_URL}: {exc}")
    if problems:
        raise pytest.UsageError(
            "The test suite needs real services (the README's test command starts them):\n  "
            + "\n  ".join(problems)
        )


def _pg_url(name):
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _migrate(overrides):
    from flask_migrate import upgrade

    app = create_app(overrides)
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    name = f"chronoflow_test_{RUN_ID}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    _migrate({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://"), "SECRET_KEY": "t"})
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "chronoflow.db"
    _migrate({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "t"})
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


def app_overrides(backend, tmp_path, request):
    """Settings for one app on `backend`: its database and its queue."""
    if backend == "sqlite":
        path = tmp_path / "chronoflow.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = f"sqlite:///{path}"
        storage = UTCSqliteStorage(huey.name, filename=str(tmp_path / "huey.db"))
    else:
        database = request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://")
        storage = UTCRedisStorage(f"test-{RUN_ID}-{uuid.uuid4().hex[:6]}", url=REDIS_URL)
    return {
        "SQLALCHEMY_DATABASE_URI": database,
        "DATABASE_URL": database,
        "HUEY_STORAGE": storage,
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": True,
        "DEFAULT_TIMEZONE": "America/Sao_Paulo",
        "RETRY_BACKOFF_SECONDS": 1,
        # The test targets listen on 127.0.0.1, which the default policy refuses;
        # tests of the policy itself set this back to ().
        "OUTBOUND_ALLOWED_NETWORKS": ("127.0.0.0/8", "::1/128"),
    }


def _fresh_g(sender, **extra):
    flask_babel.refresh()
    for cached in ("_login_user", "csrf_token"):  # Flask-Login's user, Flask-WTF's token
        g.pop(cached, None)


@pytest.fixture
def app(backend, tmp_path, request):
    app = create_app(app_overrides(backend, tmp_path, request))
    # Tests hold one app context, so requests share its `g`, where Flask-Babel
    # caches the locale, Flask-Login the user and Flask-WTF the CSRF token:
    # forget them at each request, as a fresh context would.
    request_started.connect(_fresh_g, app, weak=False)
    with app.app_context():
        yield app
        db.session.remove()
        if backend == "postgres":
            db.session.execute(db.text(
                "TRUNCATE chrono_runs, chronos, channels, api_tokens, users, waha_sessions, waha_events, unmatched_acks RESTART IDENTITY CASCADE"))
            db.session.commit()
        db.engine.dispose()
    huey.storage.flush_all()


@pytest.fixture
def no_heartbeats(app):
    """No worker or tick heartbeat at the start or after (the PostgreSQL tables are
    not emptied between tests, and heartbeats are recent for a minute)."""
    from chronoflow.models import Heartbeat

    db.session.execute(db.delete(Heartbeat))
    db.session.commit()
    yield
    db.session.rollback()
    db.session.execute(db.delete(Heartbeat))
    db.session.commit()


PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def password_hash():
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD)  # scrypt is slow on purpose: hash once


@pytest.fixture
def user(app, password_hash):
    """A committed user, "tester", whose password is PASSWORD."""
    from chronoflow.models import User

    user = User(username="tester", password_hash=password_hash)
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def api_token(user):
    """A live API token of `user`, in clear."""
    from chronoflow.accounts import service

    _row, token = service.create_token(user, {"name": "tests"})
    db.session.commit()
    return token


@pytest.fixture
def client(app, user, api_token):
    """A browser signed in as `user` that also sends `api_token` to the API (the
    token is ignored outside /api, where the session cookie counts)."""
    client = sign_in(app.test_client(), user)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token}"
    return client


def sign_in(browser, user):
    """`browser` with a live session of `user`, as signing in on the page gives it."""
    from chronoflow.accounts import service

    login_id = service.start_session(user)
    db.session.commit()
    with browser.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
    return browser


@pytest.fixture
def anonymous(app):
    """A browser that has not signed in."""
    return app.test_client()


def csrf_token_in(html):
    """The CSRF token of the (first) form of a page."""
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


@pytest.fixture
def post_form(client):
    """POST as a browser does: with the CSRF token of a form page (`token_from`)."""

    def post(path, data=None, token_from="/chronos/new", **kwargs):
        token = csrf_token_in(client.get(token_from).get_data(as_text=True))
        return client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)

    return post


@pytest.fixture
def target():
    server = TargetServer()
    yield server
    server.close()


@pytest.fixture
def fake_waha():
    """A fake WAHA on 127.0.0.1 (tests/support/fake_waha.py); core mode, key "test-key".
    Point an app at it with app.config.update(fake_waha.settings())."""
    server = FakeWaha()
    yield server
    server.close()


@pytest.fixture
def make_chrono(app):
    """make_chrono(**fields) -> a committed Chrono, through the same path as the API."""
    from chronoflow.chronos import service
    from chronoflow.chronos.schemas import ChronoInput

    def make(**fields):
        data = {"name": "test chrono", "schedule": "* * * * *", "url": "http://127.0.0.1:9/", **fields}
        chrono = service.create_chrono(ChronoInput().load(data))
        db.session.commit()
        return chrono

    return make


@pytest.fixture
def channel(app):
    """A committed WhatsApp channel, "Loja", that sends from WAHA's session "default"."""
    from chronoflow.models import Channel

    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.commit()
    return channel


def run_now(chrono):
    """A manual run of `chrono`, executed in this thread; the run as recorded."""
    from chronoflow.chronos import service
    from chronoflow.models import ChronoRun

    run = service.trigger_now(chrono)
    db.session.commit()
    run_task(run.id)
    return db.session.get(ChronoRun, run.id)


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def run_task(run_id, due=None, **kwargs):
    """What the task of this one run does (scheduling/runner.py); returns its Result.
    `due`: the task's moment; by default the run's time (a first attempt) or now (a retry)."""
    from chronoflow.models import ChronoRun
    from chronoflow.scheduling import runner

    if due is None:
        run = db.session.get(ChronoRun, run_id)
        due = run.scheduled_for if run is not None and run.attempt == 0 else datetime.now(timezone.utc)
    db.session.commit()
    result = runner.execute(due, [run_id], **kwargs)
    db.session.expire_all()
    return result


def retry_delay(result):
    """The seconds before the next attempt a task's Result asks for, or None."""
    (delay,) = [seconds for _run_id, seconds in result.retries] or [None]
    return delay


def drain(until=None, limit=1000):
    """Run queued tasks in this thread, and scheduled ones due by `until` (aware).

    Returns how many ran. Stands in for a consumer in tests that check one step
    at a time; the end-to-end tests run a real one.
    """
    until = (until or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    # Tasks use sessions of their own, as a consumer would: end the test's
    # transaction so they see its writes (and SQLite's lock is free).
    db.session.commit()
    ran = 0
    while ran < limit:
        for task in huey.read_schedule(until):
            huey.enqueue(task)
        task = huey.dequeue()
        if task is None:
            db.session.expire_all()
            return ran
        huey.execute(task, until)
        ran += 1
    raise AssertionError(f"more than {limit} tasks: a task keeps re-enqueueing itself")
