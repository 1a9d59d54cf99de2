"""Redis restarted empty while runs are queued, PostgreSQL restarted while the
scheduler runs: the database is the record, so every occurrence still ends as one
final row, and the service recovers by itself. Private servers only."""
import time
from datetime import timedelta

import pytest
import redis
import requests

from .cluster import check_ledger, runs, since_creation, utcnow, wait_for, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

# Runs are dispatched up to SCHEDULER_INTERVAL + 15 s ahead: that much was in the
# queue when it went away.
AHEAD = timedelta(seconds=17)


def settled_by(cluster, chrono, moment):
    """Every run scheduled before `moment` succeeded (recovered runs included)."""
    def check():
        ledger = [r for r in runs(cluster.database_url, chrono["id"]) if r["scheduled_for"] < moment]
        return ledger if ledger and all(r["status"] == "success" for r in ledger) else None
    return check


def finish(cluster, base, chrono, target, path):
    paused = utcnow()  # before the request: the server pauses after this
    cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")
    ledger = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
    return check_ledger(chrono, ledger, target.received(path), since_creation(chrono), paused)


def test_runs_queued_in_a_redis_that_restarts_empty_still_run_once(make_cluster, private_redis, target):
    cluster = make_cluster(redis_url=private_redis.url)
    base = cluster.web()
    cluster.worker()
    cluster.wait_healthy()
    chrono = cluster.api(base, "POST", "/api/chronos", json={
        "name": "redis", "schedule": "every 2 seconds", "url": target.url("/r")})
    target.wait_for(2, "/r", timeout=10)

    private_redis.stop()  # SIGKILL: every queued and scheduled task is gone
    assert requests.get(base + "/api/health", timeout=5).status_code == 503
    time.sleep(2)
    private_redis.start()
    redis.Redis.from_url(private_redis.url).flushall()  # and make sure it is empty
    restarted = utcnow()

    # Lost runs are found RECOVERY_AFTER_SECONDS after their time and run, late.
    wait_for(settled_by(cluster, chrono, restarted + AHEAD), 45,
             "runs lost with Redis were not recovered:\n" + cluster.logs_text())
    counts = finish(cluster, base, chrono, target, "/r")
    assert counts["success"] >= 10
    cluster.wait_healthy()


def test_a_postgres_restart_under_the_scheduler_loses_and_doubles_nothing(make_cluster, second_postgres, target):
    cluster = make_cluster(postgres=second_postgres)
    base = cluster.web()
    cluster.worker()
    cluster.wait_healthy()
    chrono = cluster.api(base, "POST", "/api/chronos", json={
        "name": "postgres", "schedule": "every 2 seconds", "url": target.url("/p"),
        "config": {"timeout_ms": 2000, "max_attempts": 3}})
    target.wait_for(2, "/p", timeout=10)

    second_postgres.stop("fast")  # every connection is cut
    stopped = utcnow()
    body = requests.get(base + "/api/health", timeout=10).json()
    assert body["database"].startswith("error") and body["status"] == "degraded"
    time.sleep(4)
    second_postgres.start()

    cluster.wait_healthy(timeout=30)  # recovered by itself
    wait_for(settled_by(cluster, chrono, stopped + AHEAD), 45,
             "runs were not recovered after the restart:\n" + cluster.logs_text())
    counts = finish(cluster, base, chrono, target, "/p")
    assert counts["success"] >= 10
