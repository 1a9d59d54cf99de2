"""Several of everything: two web processes, two consumers that both run the
dispatcher tick, one PostgreSQL and one Redis. No occurrence is doubled or missed."""
import time

import pytest

from .cluster import check_ledger, since_creation, utcnow, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.e2e]


def test_two_webs_two_consumers_two_ticks_fire_each_occurrence_once(make_cluster, target):
    cluster = make_cluster()
    bases = [cluster.web("web-1"), cluster.web("web-2")]
    cluster.worker("worker-1")
    cluster.worker("worker-2")  # no --no-periodic: two dispatcher ticks, by mistake
    cluster.wait_healthy("web-1")
    cluster.wait_healthy("web-2")

    config = {"overlap_policy": "allow"}
    chronos = [
        cluster.api(bases[n % 2], "POST", "/api/chronos", json={
            "name": f"many {n}", "schedule": schedule, "url": target.url(f"/c{n}"), "config": config})
        for n, schedule in enumerate(["every second", "* * * * * *", "every 2 seconds", "every 3 seconds"])
    ]
    time.sleep(10)
    paused = utcnow()  # before the requests: the server pauses after this
    for n, chrono in enumerate(chronos):
        cluster.api(bases[(n + 1) % 2], "POST", f"/api/chronos/{chrono['id']}/pause")

    for n, chrono in enumerate(chronos):
        ledger = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
        calls = target.received(f"/c{n}")
        counts = check_ledger(chrono, ledger, calls, since_creation(chrono), paused)
        assert counts["success"] >= 10 // (1 + n // 2) - 2, counts
        assert len(calls) == counts["success"]  # one call per run: nothing doubled
        assert set(counts) <= {"success", "cancelled"}, counts
