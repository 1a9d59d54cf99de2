"""End to end: gunicorn and a real Huey consumer as processes, a chrono created
through the API firing at a real HTTP server, its history read back."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from .conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """The web server and the worker, started as a person would, with `env`."""

    def __init__(self, env, tmp_path):
        self.env = {**os.environ, **env, "SECRET_KEY": "e2e", "PYTHONUNBUFFERED": "1"}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = tmp_path
        self.processes = []
        self.files = []

    def start(self):
        self._run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"])
        self._spawn("web", [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "app:app"])
        self._spawn("worker", [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "8"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/api/health", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass  # still booting
            time.sleep(0.2)
        raise AssertionError("the web server did not come up:\n" + self.log("web"))

    def _run(self, command):
        subprocess.run(command, cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=60)

    def _spawn(self, name, command):
        log = open(self.logs / f"{name}.log", "wb")
        self.files.append(log)
        self.processes.append(
            subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        )

    def log(self, name):
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.files:
            log.close()


@pytest.fixture(params=["embedded", "postgres+redis"])
def stack(request, tmp_path):
    if request.param == "embedded":
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}", "HUEY_SQLITE_PATH": str(tmp_path / "huey.db"),
               "REDIS_URL": ""}
    else:
        name = f"chronoflow_e2e_{os.getpid()}"
        admin = request.getfixturevalue("postgres_url").rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        queue_db = REDIS_URL.rsplit("/", 1)[0] + "/14"
        redis.Redis.from_url(queue_db).flushdb()
        env = {"DATABASE_URL": admin.rsplit("/", 1)[0] + f"/{name}", "REDIS_URL": queue_db}
    running = Stack(env, tmp_path)
    try:
        yield running.start()
    finally:
        running.stop()


def test_a_chrono_fires_on_time_and_its_history_shows_it(stack, target):
    target.respond("/e2e", body=b'{"received": true}')
    response = requests.post(
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

    requests.post(f"{stack.base}/api/chronos/{chrono['id']}/pause", timeout=5).raise_for_status()
    time.sleep(0.5)  # let a run already under way finish
    history = requests.get(f"{stack.base}/api/chronos/{chrono['id']}/runs?take=200", timeout=5).json()
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
    chrono = requests.post(
        stack.base + "/api/chronos",
        json={"name": "manual", "schedule": "@yearly", "url": target.url("/manual")},
        timeout=5,
    ).json()
    run = requests.post(f"{stack.base}/api/chronos/{chrono['id']}/trigger", timeout=5).json()
    target.wait_for(1, "/manual", timeout=15)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = requests.get(f"{stack.base}/api/runs/{run['id']}", timeout=5).json()
        if run["status"] == "success":
            break
        time.sleep(0.1)
    assert run["status"] == "success" and run["trigger"] == "manual" and run["http_status"] == 200
