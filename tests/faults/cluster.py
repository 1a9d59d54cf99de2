"""ChronoFlow as processes (web servers and workers) against given databases, and
the ledger check every fault test ends with.

    cluster = Cluster(env, tmp_path).migrate()
    cluster.web(); cluster.worker()
    ...
    cluster.close()
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import psycopg
import requests

from chronoflow.schedules import next_fire_time

from ..support.stack import ROOT, create_admin, free_port

FINAL = {"success", "failed", "cancelled", "skipped"}

# Settings that make faults show within seconds: a tick every second, lost runs
# recovered after 10 s (the lowest RECOVERY_AFTER_SECONDS allows), quick retries.
FAST = {
    "SCHEDULER_INTERVAL": "1",
    "RECOVERY_AFTER_SECONDS": "10",
    "RETRY_BACKOFF_SECONDS": "1",
    "RETRY_MAX_BACKOFF_SECONDS": "5",
    "WORKER_THREADS": "4",
    "HEALTH_STALE_SECONDS": "15",
    "AUTO_PAUSE_AFTER_FAILURES": "0",
    "SECRET_KEY": "faults",
    "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8,::1",  # the targets are on 127.0.0.1
    "PYTHONUNBUFFERED": "1",
}


class Cluster:
    def __init__(self, env, tmp_path):
        self.env = {**os.environ, **FAST, "QUEUE_NAME": f"faults-{uuid.uuid4().hex[:8]}", **env}
        self.logs = tmp_path
        self.processes = {}
        self.files = []
        self.ports = {}
        self.http = None  # a requests.Session with the admin's API token, after migrate()

    @property
    def database_url(self):
        return self.env["DATABASE_URL"]

    def migrate(self):
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True, timeout=60)
        self.http = create_admin(self.env)
        return self

    def api(self, base, method, path, **kwargs):
        """A JSON API call with the admin's token; any error status fails the test."""
        response = self.http.request(method, base + path, timeout=10, **kwargs)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def web(self, name="web"):
        port = free_port()
        self.ports[name] = port
        self._spawn(name, [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "app:app"])
        return self.base(name)

    def base(self, name="web"):
        return f"http://127.0.0.1:{self.ports[name]}"

    def worker(self, name="worker", *extra):
        self._spawn(name, [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "4", *extra])

    def _spawn(self, name, command):
        log = open(self.logs / f"{name}.log", "ab")
        self.files.append(log)
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name):
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def logs_text(self):
        return "\n".join(f"--- {name}\n{self.log(name)}" for name in self.processes)

    def kill(self, name, sig=signal.SIGKILL):
        self.processes[name].send_signal(sig)

    def wait_exit(self, name, timeout):
        return self.processes[name].wait(timeout)

    def wait_healthy(self, name="web", timeout=30):
        deadline = time.monotonic() + timeout
        body = None
        while time.monotonic() < deadline:
            try:
                response = requests.get(self.base(name) + "/api/health", timeout=3)
                body = response.json()
                if response.status_code == 200:
                    return body
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"not healthy after {timeout} s: {body}\n{self.logs_text()}")

    def close(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
        for process in self.processes.values():
            process.wait(10)
        for log in self.files:
            log.close()


def utcnow():
    return datetime.now(timezone.utc)


def runs(database_url, chrono_id):
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, scheduled_for, status, attempt, trigger, result FROM chrono_runs"
            " WHERE chrono_id = %s ORDER BY scheduled_for", (chrono_id,)
        ).fetchall()
    return [dict(zip(("id", "scheduled_for", "status", "attempt", "trigger", "result"), row)) for row in rows]


def wait_until_final(database_url, chrono_id, timeout, logs=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = runs(database_url, chrono_id)
        if current and all(run["status"] in FINAL for run in current):
            return current
        time.sleep(0.25)
    raise AssertionError(f"runs not final after {timeout} s: {[(r['id'], r['status']) for r in current]}\n{logs()}")


def wait_for(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message() if callable(message) else message)  # a callable: read late (logs)


def check_ledger(chrono, ledger, calls, since, until, statuses=FINAL):
    """The promise: every occurrence between `since` and `until` has exactly one row
    with a final status, and no run called its target more often than its attempts.

    `calls` are the target's requests for this chrono. Returns {status: count}.
    """
    scheduled = [run for run in ledger if run["trigger"] == "schedule"]
    times = Counter(run["scheduled_for"] for run in scheduled)
    assert max(times.values()) == 1, "an occurrence has two rows"
    # The pause withdraws runs not yet due when the server handled it, a moment
    # before the test noted the time: occurrences from then on need no row.
    until = until - timedelta(seconds=1)
    expected, moment = [], next_fire_time(chrono["cron"], chrono["timezone"], since)
    while moment <= until:
        expected.append(moment)
        moment = next_fire_time(chrono["cron"], chrono["timezone"], moment)
    missing = [moment for moment in expected if moment not in times]
    assert not missing, f"occurrences without a row: {missing}"
    not_final = [run for run in ledger if run["status"] not in statuses]
    assert not not_final, f"runs not in {statuses}: {not_final}"

    per_run = Counter(int(call.headers["X-ChronoFlow-Run-Id"]) for call in calls)
    by_id = {run["id"]: run for run in ledger}
    assert set(per_run) <= set(by_id), "a call for a run that has no row"
    over = {run_id: (count, by_id[run_id]["attempt"]) for run_id, count in per_run.items()
            if count > by_id[run_id]["attempt"]}
    assert not over, f"called more often than attempts (calls, attempts): {over}"
    for call in calls:  # the idempotency headers agree with the row
        run = by_id[int(call.headers["X-ChronoFlow-Run-Id"])]
        sent = call.headers["X-ChronoFlow-Scheduled-For"]
        assert sent == run["scheduled_for"].astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    silent = [run for run in ledger if run["status"] == "success" and per_run[run["id"]] == 0]
    assert not silent, f"success without a call: {silent}"
    return Counter(run["status"] for run in ledger)


def since_creation(chrono):
    """From when occurrences must have rows: the server computes the first one a
    moment after it stamps created_at (the test's own clock may be seconds earlier
    on a loaded machine)."""
    return datetime.fromisoformat(chrono["created_at"]) + timedelta(milliseconds=500)
