"""End to end: gunicorn and a real Huey consumer as processes, a chrono created
through the API firing at a real HTTP server, its history read back."""
import json
import os
import time

import psycopg
import pytest

from chronoflow.queue import UTCRedisStorage

from .conftest import REDIS_URL
from .support.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["embedded", "postgres+redis"])
def stack(request, tmp_path):
    cleanups = []
    if request.param == "embedded":
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}", "HUEY_SQLITE_PATH": str(tmp_path / "huey.db"),
               "REDIS_URL": ""}
    else:
        name = f"chronoflow_e2e_{os.getpid()}"
        admin = request.getfixturevalue("postgres_url").rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        env = {"DATABASE_URL": admin.rsplit("/", 1)[0] + f"/{name}", "REDIS_URL": REDIS_URL,
               "QUEUE_NAME": name}  # its own keys: other runs may share this Redis

        def drop():
            UTCRedisStorage(name, url=REDIS_URL).flush_all()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        cleanups.append(drop)
    running = Stack(env, tmp_path)
    try:
        yield running.start()
    finally:
        running.stop()
        for cleanup in cleanups:
            cleanup()


def test_a_chrono_fires_on_time_and_its_history_shows_it(stack, target):
    target.respond("/e2e", body=b'{"received": true}')
    response = stack.http.post(
        stack.base + "/api/chronos",
        json={
            "name": "e2e",
            "schedule": "every 2 seconds",
            "method": "POST",
            "url": target.url("/e2e"),
            "headers": {"X-E2E": "yes"},
            "payload": {"hello": "world"},
        },
        timeout=5,
    )
    assert response.status_code == 201, response.text
    chrono = response.json()
    assert chrono["cron"] == "*/2 * * * * *"

    try:
        received = target.wait_for(3, "/e2e", timeout=20)
    except AssertionError:
        raise AssertionError("no requests arrived; worker log:\n" + stack.log("worker")) from None
    first = received[0]
    assert first.method == "POST"
    assert first.headers["X-E2E"] == "yes"
    assert json.loads(first.body) == {"hello": "world"}

    stack.http.post(f"{stack.base}/api/chronos/{chrono['id']}/pause", timeout=5).raise_for_status()
    time.sleep(0.5)  # let a run already under way finish
    history = stack.http.get(f"{stack.base}/api/chronos/{chrono['id']}/runs?take=100", timeout=5).json()
    done = [run for run in history["items"] if run["status"] == "success"]
    assert len(done) >= 3
    assert len(done) == len(target.received("/e2e"))  # one row per call, none lost, none doubled
    for run in done:
        assert run["http_status"] == 200
        assert run["response_snippet"] == '{"received": true}'
        assert run["duration_ms"] is not None and run["attempt"] == 1
        assert 0 <= run["lateness_ms"] < 1000, run  # starts within a second of its time
    assert all(run["status"] in ("success", "cancelled") for run in history["items"])

    calls = len(target.received("/e2e"))
    time.sleep(3)
    assert len(target.received("/e2e")) == calls  # paused: nothing fires any more


def test_run_now_goes_through_the_worker(stack, target):
    chrono = stack.http.post(
        stack.base + "/api/chronos",
        json={"name": "manual", "schedule": "@yearly", "url": target.url("/manual")},
        timeout=5,
    ).json()
    run = stack.http.post(f"{stack.base}/api/chronos/{chrono['id']}/trigger", timeout=5).json()
    target.wait_for(1, "/manual", timeout=15)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = stack.http.get(f"{stack.base}/api/runs/{run['id']}", timeout=5).json()
        if run["status"] == "success":
            break
        time.sleep(0.1)
    assert run["status"] == "success" and run["trigger"] == "manual" and run["http_status"] == 200
