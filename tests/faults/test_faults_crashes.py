"""A consumer killed with -9 in the middle of a slow request, and one stopped with
SIGTERM: the run is finished (retried) or finished gracefully, never lost or doubled."""
import signal
import time
from datetime import timedelta

import psycopg
import pytest

from chronoflow.schedules import next_fire_time

from ..support.target import Reply
from .cluster import check_ledger, runs, since_creation, utcnow, wait_for, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.e2e]


def test_it_retries_the_run_of_a_consumer_killed_mid_request(make_cluster, target):
    target.respond("/slow", [Reply(delay=2.5), Reply()])  # the first call is slow, then quick
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker("worker-1")
    cluster.wait_healthy()

    chrono = cluster.api(base, "POST", "/api/chronos", json={
        "name": "slow", "schedule": "every 10 seconds", "url": target.url("/slow"),
        "config": {"timeout_ms": 3000, "max_attempts": 3}})
    (first,) = target.wait_for(1, "/slow", timeout=15)
    time.sleep(0.5)
    cluster.kill("worker-1")  # SIGKILL: no signal handler, no cleanup
    cluster.worker("worker-2")

    killed = int(first.headers["X-ChronoFlow-Run-Id"])

    def retried():
        run = next(r for r in runs(cluster.database_url, chrono["id"]) if r["id"] == killed)
        return run if run["status"] in ("success", "failed") else None

    # Recovery waits for the call's timeout plus RECOVERY_AFTER_SECONDS, then retries.
    run = wait_for(retried, 40, "the killed run was not recovered:\n" + cluster.logs_text())
    assert (run["status"], run["attempt"], run["result"]["attempts"][-1]["attempt"]) == ("success", 2, 2)


    paused = utcnow()  # before the request: the server pauses after this
    cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")
    ledger = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
    calls = target.received("/slow")
    check_ledger(chrono, ledger, calls, since_creation(chrono), paused)
    assert sum(1 for call in calls if int(call.headers["X-ChronoFlow-Run-Id"]) == killed) == 2
    cluster.wait_healthy()  # the new worker's heartbeat: recovered by itself


def test_a_consumer_stopped_with_sigterm_finishes_its_call_first(make_cluster, target):
    target.respond("/slow", [Reply(delay=3), Reply()])
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker("worker-1")
    cluster.wait_healthy()

    chrono = cluster.api(base, "POST", "/api/chronos", json={
        "name": "graceful", "schedule": "every 20 seconds", "url": target.url("/slow"),
        "config": {"timeout_ms": 10_000, "max_attempts": 3}})
    (first,) = target.wait_for(1, "/slow", timeout=25)
    cluster.kill("worker-1", signal.SIGTERM)  # what docker stop sends
    stopped = time.monotonic()
    assert cluster.wait_exit("worker-1", timeout=20) == 0
    assert time.monotonic() - stopped > 1.5  # it waited for the 3 s call

    run_id = int(first.headers["X-ChronoFlow-Run-Id"])
    run = next(r for r in runs(cluster.database_url, chrono["id"]) if r["id"] == run_id)
    assert (run["status"], run["attempt"]) == ("success", 1)  # finished, not left running

    cluster.worker("worker-2")  # work goes on with the next consumer
    paused = utcnow()  # before the request: the server pauses after this
    cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")
    ledger = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
    check_ledger(chrono, ledger, target.received("/slow"), since_creation(chrono), paused)
    assert len(target.received("/slow")) == sum(1 for r in ledger if r["status"] == "success")


def test_a_batch_of_a_consumer_killed_mid_request_is_finished_by_the_next_one(make_cluster, target):
    """Runs due together run in one batch task; a kill -9 between its claim and its
    record leaves them "running", and the recovery sweep retries each exactly once."""
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker("worker-1")
    cluster.wait_healthy()

    paths = ["/batch-a", "/batch-b", "/batch-c"]
    chronos = []
    for path in paths:
        target.respond(path, [Reply(delay=2.5), Reply()])  # the first call is slow, then quick
        chronos.append(cluster.api(base, "POST", "/api/chronos", json={
            "name": path, "schedule": "every 10 seconds", "url": target.url(path), "is_active": False,
            "config": {"timeout_ms": 3000, "max_attempts": 3, "overlap_policy": "allow"}}))
    # All three due at the same moment, and dispatched by the same tick: one batch.
    due = next_fire_time(chronos[0]["cron"], chronos[0]["timezone"], utcnow() + timedelta(seconds=4))
    with psycopg.connect(cluster.database_url) as conn:
        conn.execute("UPDATE chronos SET is_active = true, next_run_at = %s WHERE id = ANY(%s)",
                     (due, [c["id"] for c in chronos]))

    for path in paths:
        target.wait_for(1, path, timeout=20)
    time.sleep(0.5)
    cluster.kill("worker-1")  # SIGKILL mid-call: the batch's record never happens
    assert "execute_runs" in (cluster.logs / "worker-1.log").read_text(errors="replace")
    cluster.worker("worker-2")

    def recovered():
        ledger = [run for c in chronos for run in runs(cluster.database_url, c["id"]) if run["scheduled_for"] == due]
        return ledger if len(ledger) == 3 and all(r["status"] in ("success", "failed") for r in ledger) else None

    ledger = wait_for(recovered, 40, "the killed batch was not recovered:\n" + cluster.logs_text())
    assert {(run["status"], run["attempt"]) for run in ledger} == {("success", 2)}

    paused = utcnow()
    for chrono in chronos:
        cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")
    for chrono, path in zip(chronos, paths):
        final = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
        calls = target.received(path)
        check_ledger(chrono, final, calls, due - timedelta(milliseconds=1), paused)
        assert sum(1 for call in calls if call.headers["X-ChronoFlow-Scheduled-For"]
                   == due.isoformat().replace("+00:00", "Z")) == 2
    cluster.wait_healthy()
