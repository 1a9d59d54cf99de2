"""Prometheus metrics: the protected /metrics, the state read from the database at
scrape time, and, with real processes (two gunicorn workers, two queue workers),
counts that add up to what the database recorded."""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from chronoflow.chronos import service
from chronoflow.extensions import db
from chronoflow.models import ChronoRun, RunStatus, Trigger, utcnow
from chronoflow.queue import UTCRedisStorage
from chronoflow.scheduling import heartbeat

from .conftest import REDIS_URL
from .faults.cluster import wait_for
from .support.stack import ROOT, Stack, free_port

TOKEN = "metrics-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())))


def test_there_are_no_metrics_without_a_token(anonymous):
    assert anonymous.get("/metrics").status_code == 404


def test_metrics_need_the_token_and_no_sign_in(app, anonymous):
    app.config["METRICS_TOKEN"] = TOKEN
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = anonymous.get("/metrics", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    response = anonymous.get("/metrics", headers=AUTH)
    assert response.status_code == 200 and response.mimetype == "text/plain"


def test_the_database_state_is_read_when_scraped(app, anonymous, make_chrono, no_heartbeats):
    app.config["METRICS_TOKEN"] = TOKEN
    late = make_chrono(name="late", schedule="@yearly")
    late.next_run_at = utcnow() - timedelta(seconds=30)  # the dispatcher is behind
    make_chrono(name="fine", schedule="@yearly")
    make_chrono(name="paused", is_active=False)
    db.session.add(ChronoRun(chrono_id=late.id, scheduled_for=utcnow() - timedelta(seconds=20),
                             trigger=Trigger.SCHEDULE, status=RunStatus.PENDING))
    service.trigger_now(late).status = RunStatus.RUNNING
    heartbeat.beat(heartbeat.worker_name(), heartbeat.WORKER, now=utcnow() - timedelta(seconds=3))
    heartbeat.beat("worker:gone:1", heartbeat.WORKER, now=utcnow() - timedelta(hours=1))
    db.session.commit()

    text = anonymous.get("/metrics", headers=AUTH).get_data(as_text=True)

    assert sample(text, "chronoflow_database_up") == 1
    assert sample(text, "chronoflow_chronos_active") == 2
    assert sample(text, "chronoflow_due_not_dispatched") == 1
    assert [sample(text, "chronoflow_runs_open", status=s) for s in ("pending", "running", "retrying")] == [1, 1, 0]
    assert 19 <= sample(text, "chronoflow_run_oldest_waiting_seconds") < 120
    assert sample(text, "chronoflow_workers_alive") == 1
    assert 2 <= sample(text, "chronoflow_worker_heartbeat_age_seconds") < 60
    assert sample(text, "chronoflow_scheduler_last_tick_age_seconds") is None  # never ticked
    assert sample(text, "chronoflow_queue_tasks", state="ready") == 0


def test_liveness_answers_while_the_aggregate_health_is_degraded(anonymous, no_heartbeats):
    assert anonymous.get("/api/health").status_code == 503  # no worker, no tick
    response = anonymous.get("/api/health/live")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


# Real processes ------------------------------------------------------------------


@pytest.fixture
def stack(postgres_url, tmp_path):
    name = f"chronoflow_metrics_{os.getpid()}"
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    database = admin.rsplit("/", 1)[0] + f"/{name}"
    ports = [free_port(), free_port()]
    running = Stack({
        "DATABASE_URL": database, "REDIS_URL": REDIS_URL, "QUEUE_NAME": name,
        "METRICS_TOKEN": TOKEN, "LOG_FORMAT": "json", "WORKER_METRICS_ADDRESS": f"127.0.0.1:{ports[0]}",
        "RUN_BATCH_SIZE": "1",  # a task per run: the runs spread over both workers
        "SCHEDULER_INTERVAL": "2",
    }, tmp_path)
    running.database, running.worker_ports = database, ports
    try:
        running.start()
        running._spawn("worker2", [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "4",
                                   "--no-periodic", "--metrics-address", f"127.0.0.1:{ports[1]}"])
        yield running
    finally:
        running.stop()
        UTCRedisStorage(name, url=REDIS_URL).flush_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scrape(url, **headers):
    try:
        return requests.get(url, headers={**AUTH, **headers}, timeout=5)
    except requests.RequestException:
        return None


def count(database, sql):
    with psycopg.connect(database) as conn:
        return conn.execute(sql).fetchone()[0]


def json_lines(log):
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.mark.e2e
def test_counts_add_up_over_two_web_processes_and_two_workers(stack, target):
    workers = [f"http://127.0.0.1:{port}/metrics" for port in stack.worker_ports]
    web = stack.base + "/metrics"
    wait_for(lambda: all(scrape(url) for url in workers), 30, lambda: stack.log("worker2"))
    wait_for(lambda: sample(scrape(web).text, "chronoflow_workers_alive") == 2, 30, "the second worker never beat")
    assert scrape(workers[0], Authorization="Bearer wrong").status_code == 401

    chronos = [stack.http.post(stack.base + "/api/chronos", timeout=10, json={
        "name": f"m{n}", "schedule": "* * * * * *", "url": target.url(f"/m{n}")}).json() for n in range(2)]
    wait_for(lambda: count(stack.database, "SELECT count(*) FROM chrono_runs WHERE status = 'success'") >= 16, 60,
             lambda: stack.log("worker") + stack.log("worker2"))
    for chrono in chronos:
        stack.http.post(f"{stack.base}/api/chronos/{chrono['id']}/pause", timeout=10).raise_for_status()
    wait_for(lambda: count(stack.database, "SELECT count(*) FROM chrono_runs WHERE status IN "
                           "('pending', 'running', 'retrying')") == 0, 60, "runs still open after the pause")
    succeeded = count(stack.database, "SELECT count(*) FROM chrono_runs WHERE status = 'success'")

    def per_worker(name, **labels):
        return [sample(scrape(url).text, name, **labels) or 0 for url in workers]

    # Each worker counts what it ran; together, every run the database recorded.
    wait_for(lambda: sum(per_worker("chronoflow_runs_total", target="webhook", status="success")) == succeeded, 10,
             lambda: f"{per_worker('chronoflow_runs_total', target='webhook', status='success')} != {succeeded}")
    by_worker = per_worker("chronoflow_runs_total", target="webhook", status="success")
    assert all(n > 0 for n in by_worker), by_worker
    assert sum(per_worker("chronoflow_run_lateness_seconds_count", target="webhook")) == succeeded
    assert sum(per_worker("chronoflow_run_lateness_seconds_bucket", target="webhook", le="+Inf")) == succeeded
    # The tick is enqueued by the first worker and run by whichever takes it.
    assert sum(per_worker("chronoflow_scheduler_tick_duration_seconds_count")) > 0

    # Their logs are JSON lines; each run has its line with its fields.
    lines = json_lines(stack.logs / "worker.log") + json_lines(stack.logs / "worker2.log")
    runs = [line for line in lines if line["logger"] == "chronoflow.runs"]
    assert len(runs) == succeeded
    assert {key for line in runs for key in line} >= {
        "time", "level", "message", "chrono_id", "run_id", "attempt", "status", "duration_ms", "lateness_ms"}
    assert {line["chrono_id"] for line in runs} == {chrono["id"] for chrono in chronos}

    # Either gunicorn worker answers /metrics with both workers' counts.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: stack.http.get(stack.base + "/api/chronos?take=1", timeout=10), range(40)))
    assert {answer.status_code for answer in answers} == {200}
    served_by = {line["process"] for line in json_lines(stack.logs / "web.log")
                 if line["logger"] == "chronoflow.requests" and line["path"] == "/api/chronos"
                 and line["method"] == "GET"}
    assert len(served_by) == 2
    for _ in range(4):
        text = scrape(web).text
        assert sample(text, "chronoflow_http_requests_total", method="GET", route="/api/chronos", status="200") == 40
        assert sample(text, "chronoflow_chronos_active") == 0 and sample(text, "chronoflow_database_up") == 1

    # The container health checks, run as compose runs them.
    for check, env in (("web", {"PORT": str(stack.port)}), ("worker", {"DATABASE_URL": stack.database})):
        result = subprocess.run([sys.executable, "scripts/healthcheck", check], cwd=ROOT, env={**os.environ, **env},
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
