"""Bad targets: one that times out, fails then recovers, rate-limits with
Retry-After, answers 1 GB, or closes the connection. Every occurrence ends as one
final row; no run calls its target more often than its attempts."""
import time
from datetime import timedelta

import pytest

from ..support.target import Reply
from .cluster import check_ledger, since_creation, utcnow, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

GIB = 1 << 30


def test_bad_targets_are_retried_or_failed_and_never_doubled(make_cluster, target):
    target.respond("/timeout", delay=3)
    target.respond("/flaky", [Reply(500), Reply(200, b"back")] * 10)
    target.respond("/limited", [Reply(429, headers={"Retry-After": "2"}), Reply(200)] * 10)
    target.respond("/huge", stream_bytes=GIB)
    target.respond("/hangup", close=True)
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker()
    cluster.wait_healthy()

    config = {"timeout_ms": 1500, "max_attempts": 2, "retry_backoff_s": 1, "overlap_policy": "allow"}
    chronos = {
        path: cluster.api(base, "POST", "/api/chronos", json={
            "name": path, "schedule": "every 5 seconds", "url": target.url(path), "config": config})
        for path in ("/timeout", "/flaky", "/limited", "/huge", "/hangup")
    }
    time.sleep(13)  # two finished occurrences of each, at least
    paused = utcnow()  # before the requests: the server pauses after this
    for chrono in chronos.values():
        cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")

    ledgers = {}
    for path, chrono in chronos.items():
        ledger = wait_until_final(cluster.database_url, chrono["id"], 30, cluster.logs_text)
        check_ledger(chrono, ledger, target.received(path), since_creation(chrono), paused)
        # Runs the pause caught mid-way stop retrying (by design): judge the settled ones.
        ledgers[path] = [run for run in ledger if run["scheduled_for"] < paused - timedelta(seconds=6)]
        assert len(ledgers[path]) >= 1, (path, ledger)

    def outcomes(path):
        return {(run["status"], run["attempt"]) for run in ledgers[path]}

    assert outcomes("/timeout") == {("failed", 2)}
    assert {a["error_code"] for run in ledgers["/timeout"] for a in run["result"]["attempts"]} == {"timeout"}
    assert outcomes("/flaky") == {("success", 2)}
    assert outcomes("/limited") == {("success", 2)}
    for run in ledgers["/limited"]:  # the second attempt waited for Retry-After
        first, second = run["result"]["attempts"]
        assert first["http_status"] == 429
    calls = target.received("/limited")
    gaps = [b.at - a.at for a, b in zip(calls, calls[1:])
            if a.headers["X-ChronoFlow-Run-Id"] == b.headers["X-ChronoFlow-Run-Id"]]
    assert gaps and min(gaps) >= 1.9, gaps
    assert outcomes("/huge") == {("success", 1)}
    assert all(run["result"]["attempts"][0]["duration_ms"] < 1500 for run in ledgers["/huge"])
    assert outcomes("/hangup") == {("failed", 2)}
    assert {a["error_code"] for run in ledgers["/hangup"] for a in run["result"]["attempts"]} == {"connection"}
    cluster.wait_healthy()
