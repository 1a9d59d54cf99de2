"""Downtime as operators meet it: workers killed with a thousand chronos firing,
stops across several occurrences under each misfire policy, a retry still calling
while the recovery sweep looks, a create while Redis is down. Real processes."""
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
import requests

from chronoflow.schedules import next_fire_time

from ..support.target import Reply
from .cluster import FINAL, check_ledger, runs, since_creation, utcnow, wait_for, wait_until_final

pytestmark = [pytest.mark.faults, pytest.mark.e2e]


def scheduled_for(call):
    return datetime.fromisoformat(call.headers["X-ChronoFlow-Scheduled-For"].replace("Z", "+00:00"))


def test_both_workers_killed_for_30_s_with_1000_chronos_every_10_s(make_cluster, target):
    """Every occurrence ends as one final row; the dispatcher never wedges on the
    backlog; the scheduler's heartbeat and the service's health come back."""
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker("worker-a")
    cluster.worker("worker-b", "--no-periodic")
    cluster.wait_healthy()

    first = cluster.api(base, "POST", "/api/chronos", json={
        "name": "many", "schedule": "every 10 seconds", "url": target.url("/many"), "is_active": False})
    start = next_fire_time(first["cron"], first["timezone"], utcnow() + timedelta(seconds=5))
    with psycopg.connect(cluster.database_url) as conn:
        columns = [row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'chronos'"
            " AND column_name NOT IN ('id', 'name')")]
        listed = ", ".join(columns)
        conn.execute(f"INSERT INTO chronos (name, {listed}) SELECT 'many ' || n, {listed}"
                     f" FROM chronos, generate_series(1, 999) AS n WHERE id = %s", (first["id"],))
        conn.execute("UPDATE chronos SET is_active = true, next_run_at = %s", (start,))

    wait_for(lambda: len(target.received("/many")) >= 2000, 60,
             "the thousand chronos did not fire twice:\n" + cluster.logs_text())
    cluster.kill("worker-a")
    cluster.kill("worker-b")
    killed = utcnow()
    cluster.wait_exit("worker-a", 10)
    cluster.wait_exit("worker-b", 10)
    time.sleep(30)
    cluster.worker("worker-c")
    cluster.worker("worker-d", "--no-periodic")
    until = utcnow() + timedelta(seconds=20)  # the checked period ends 20 s after the restart

    def ledger():
        with psycopg.connect(cluster.database_url) as conn:
            rows = conn.execute(
                "SELECT chrono_id, scheduled_for, status, attempt, id FROM chrono_runs"
                " WHERE trigger = 'schedule' AND scheduled_for <= %s", (until,)).fetchall()
        return rows if len(rows) >= 1000 and all(row[2] in FINAL for row in rows) else None

    rows = wait_for(ledger, 150, "runs due around the kill did not all end:\n" + cluster.logs_text())
    expected, moment = [], start
    while moment <= until:
        expected.append(moment)
        moment += timedelta(seconds=10)
    per_chrono = Counter(row[0] for row in rows)
    occurrences = Counter((row[0], row[1]) for row in rows)
    assert max(occurrences.values()) == 1, "an occurrence has two rows"
    assert set(per_chrono.values()) == {len(expected)}, "an occurrence has no row"
    assert len(per_chrono) == 1000
    statuses = Counter(row[2] for row in rows)
    assert statuses["success"] >= 1000 * (len(expected) - 5), statuses  # a few missed by policy, at most
    calls = Counter(int(call.headers["X-ChronoFlow-Run-Id"]) for call in target.received("/many"))
    attempts = {row[4]: row[3] for row in rows}
    assert all(count <= attempts.get(run_id, count) for run_id, count in calls.items()), "called beyond attempts"
    assert killed < until
    cluster.wait_healthy(timeout=60)  # the scheduler's heartbeat is back


@pytest.mark.parametrize("policy", ["coalesce", "skip"])
def test_a_stop_across_several_occurrences_follows_the_misfire_policy(make_cluster, target, policy):
    """A worker down 25 s under a chrono every 5 s: the runs already queued come out
    at once when it is back, and the tick finds the occurrences nobody dispatched.
    Later than the chrono's grace (4 s) when they would start: coalesce calls once
    for all of them, skip calls none; every occurrence has one final row."""
    grace = 4
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker("worker-1")
    cluster.wait_healthy()
    chrono = cluster.api(base, "POST", "/api/chronos", json={
        "name": policy, "schedule": "every 5 seconds", "url": target.url("/m"),
        "config": {"misfire_policy": policy, "misfire_grace_s": grace}})
    target.wait_for(2, "/m", timeout=20)

    cluster.kill("worker-1")
    cluster.wait_exit("worker-1", 10)
    time.sleep(25)
    cluster.worker("worker-2")
    restarted = utcnow()
    time.sleep(12)  # the queue empties, the first ticks run, a few on-time runs follow

    paused = utcnow()
    cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")
    ledger = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
    calls = target.received("/m")
    check_ledger(chrono, ledger, calls, since_creation(chrono), paused)

    with psycopg.connect(cluster.database_url) as conn:
        late_calls = conn.execute(
            "SELECT count(*) FROM chrono_runs WHERE chrono_id = %s AND status = 'success'"
            " AND started_at > scheduled_for + make_interval(secs => %s)", (chrono["id"], grace + 0.5)).fetchone()[0]
    # A late first attempt calls only as the one run that stands for the outage (a run
    # cut by the kill and retried later is not a late start: its first attempt was on time).
    assert late_calls == (1 if policy == "coalesce" else 0), [(r["scheduled_for"], r["status"]) for r in ledger]
    missed = [run for run in ledger if (run["result"] or {}).get("error_code") in ("missed", "coalesced")]
    assert len(missed) >= 3  # the other late occurrences are recorded as skipped, with why
    assert all(run["status"] == "skipped" for run in missed)
    assert any(scheduled_for(call) > restarted for call in calls)  # and the schedule goes on
    cluster.wait_healthy()


def test_a_retry_still_calling_is_not_taken_for_dead_by_the_sweep(make_cluster, target):
    """The first attempt fails at once; the retry comes 12-24 s later and calls for
    4.5 s. By then the first attempt began longer ago than the timeout plus
    RECOVERY_AFTER_SECONDS (5 s + 10 s): the sweep must judge the retry by its own start."""
    target.respond("/retry", [Reply(500), Reply(delay=4.5, body=b"late but fine")])
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker()
    cluster.wait_healthy()
    chrono = cluster.api(base, "POST", "/api/chronos", json={
        "name": "retry", "schedule": "@yearly", "url": target.url("/retry"),
        "config": {"timeout_ms": 5000, "max_attempts": 3, "retry_backoff_s": 24, "max_backoff_s": 30}})
    run = cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/trigger")

    def final():
        row = next(r for r in runs(cluster.database_url, chrono["id"]) if r["id"] == run["id"])
        return row if row["status"] in FINAL else None

    row = wait_for(final, 60, "the retried run did not finish:\n" + cluster.logs_text())
    time.sleep(2)  # anything the sweep might have queued again would call by now
    calls = target.received("/retry")
    assert (row["status"], row["attempt"], len(calls)) == ("success", 2, 2)
    assert [a["error_code"] for a in row["result"]["attempts"]] == ["http_status", None]
    assert calls[1].at - calls[0].at > 15 - 5  # the retry did start after timeout + grace had passed


def test_a_create_while_redis_is_down_is_saved_answered_and_fires_when_it_is_back(make_cluster, private_redis,
                                                                                 target):
    cluster = make_cluster(redis_url=private_redis.url)
    base = cluster.web()
    cluster.worker()
    cluster.wait_healthy()
    private_redis.stop()

    created = []
    for n in range(4):
        response = cluster.http.post(base + "/api/chronos", timeout=10, json={
            "name": f"while down {n}", "schedule": "every 2 seconds", "url": target.url(f"/down/{n}")})
        assert response.status_code == 201, response.text  # what was stored is what is answered
        created.append(response.json())
    assert all(body["signing_secret"].startswith("whsec_") for body in created)
    with psycopg.connect(cluster.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM chronos").fetchone()[0] == 4
    assert requests.get(base + "/api/health", timeout=5).status_code == 503

    private_redis.start()
    for n in range(4):
        target.wait_for(2, f"/down/{n}", timeout=60)
    paused = utcnow()
    for chrono in created:
        cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")
    for n, chrono in enumerate(created):
        ledger = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
        check_ledger(chrono, ledger, target.received(f"/down/{n}"), since_creation(chrono), paused)
    cluster.wait_healthy()


def test_every_second_chronos_skip_nothing_for_overlap_over_a_minute(make_cluster, target):
    """Chronos every 1 s and every 2 s whose target answers in 45 ms: a run comes a
    moment early and waits for its second; the previous run is done by then."""
    target.respond("/each-second", delay=0.045)
    target.respond("/every-two", delay=0.045)
    cluster = make_cluster()
    base = cluster.web()
    cluster.worker()
    cluster.wait_healthy()
    chronos = [cluster.api(base, "POST", "/api/chronos", json={
        "name": path, "schedule": schedule, "url": target.url(path)})
        for path, schedule in (("/each-second", "* * * * * *"), ("/every-two", "*/2 * * * * *"))]
    time.sleep(60)
    paused = utcnow()
    for chrono in chronos:
        cluster.api(base, "POST", f"/api/chronos/{chrono['id']}/pause")
    for chrono, path in zip(chronos, ("/each-second", "/every-two")):
        ledger = wait_until_final(cluster.database_url, chrono["id"], 20, cluster.logs_text)
        counts = check_ledger(chrono, ledger, target.received(path), since_creation(chrono), paused)
        overlaps = [run for run in ledger if (run["result"] or {}).get("error_code") == "overlap"]
        assert overlaps == [], f"{path}: {len(overlaps)} of {len(ledger)} skipped as overlapping"
        assert counts["success"] >= (55 if path == "/each-second" else 27)
