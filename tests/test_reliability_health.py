"""/api/health: database, queue, the scheduler's last tick and the workers' heartbeats."""
from datetime import timedelta

from chronoflow import tasks
from chronoflow.extensions import db
from chronoflow.models import Heartbeat, utcnow
from chronoflow.queue import UTCRedisStorage, huey
from chronoflow.scheduling import heartbeat


def forget_beats():
    db.session.execute(db.delete(Heartbeat))
    db.session.commit()


def test_it_is_ok_when_the_scheduler_ticked_and_a_worker_beat_recently(client):
    forget_beats()
    tasks.dispatch_tick.call_local()  # a tick records itself
    huey.beat()  # what a consumer's scheduler loop does every few seconds

    response = client.get("/api/health")

    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["status"], body["scheduler"], body["worker"]) == ("ok", "ok", "ok")
    assert body["last_tick_at"] and body["last_worker_heartbeat_at"]


def test_it_is_503_when_no_worker_ever_started(client):
    forget_beats()
    heartbeat.beat(heartbeat.SCHEDULER, heartbeat.SCHEDULER)
    db.session.commit()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["worker"] == "missing"


def test_it_is_503_when_the_scheduler_stopped_ticking(app, client):
    forget_beats()
    long_ago = utcnow() - timedelta(seconds=app.config["SCHEDULER_INTERVAL"] + app.config["HEALTH_STALE_SECONDS"] + 5)
    heartbeat.beat(heartbeat.SCHEDULER, heartbeat.SCHEDULER, now=long_ago)
    heartbeat.beat("worker:a", heartbeat.WORKER)
    db.session.commit()
    body = client.get("/api/health").get_json()
    assert (body["status"], body["scheduler"], body["worker"]) == ("degraded", "stale", "ok")


def test_the_newest_worker_counts(app, client):
    forget_beats()
    heartbeat.beat(heartbeat.SCHEDULER, heartbeat.SCHEDULER)
    heartbeat.beat("worker:old", heartbeat.WORKER, now=utcnow() - timedelta(hours=1))
    heartbeat.beat("worker:new", heartbeat.WORKER)
    db.session.commit()
    assert client.get("/api/health").status_code == 200


def test_the_queue_being_down_is_a_503(client, monkeypatch):
    monkeypatch.setattr(huey, "storage", UTCRedisStorage("down", url="redis://127.0.0.1:9/0"))
    body = client.get("/api/health").get_json()
    assert body["queue"].startswith("error") and body["status"] == "degraded"


def test_the_openapi_schema_documents_every_field(client):
    spec = client.get("/api/openapi.json").get_json()
    properties = spec["components"]["schemas"]["Health"]["properties"]
    assert set(properties) == {"status", "database", "queue", "scheduler", "last_tick_at", "worker",
                               "last_worker_heartbeat_at", "dispatch", "overdue_chronos"}


def test_a_tick_whose_dispatch_fails_still_sweeps_and_beats_and_health_says_so(app, client, make_chrono,
                                                                              monkeypatch, caplog):
    from sqlalchemy import select

    from chronoflow.models import ChronoRun, RunStatus, Trigger
    from chronoflow.scheduling import dispatch

    forget_beats()
    chrono = make_chrono(schedule="@yearly")
    overdue = utcnow() - timedelta(seconds=app.config["SCHEDULER_INTERVAL"] + app.config["HEALTH_STALE_SECONDS"] + 5)
    chrono.next_run_at = overdue
    lost = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow() - timedelta(minutes=30),
                     trigger=Trigger.SCHEDULE, status=RunStatus.PENDING)
    db.session.add(lost)
    db.session.commit()

    def broken(*args, **kwargs):
        raise RuntimeError("the dispatcher is broken")

    monkeypatch.setattr(dispatch, "dispatch_batch", broken)
    tasks.dispatch_tick.call_local()
    huey.beat()

    assert "the dispatcher is broken" in caplog.text
    assert huey.pending_count() == 1  # the sweep ran all the same: the lost run is queued again
    body = client.get("/api/health").get_json()
    assert (body["scheduler"], body["worker"], body["dispatch"], body["overdue_chronos"]) == ("ok", "ok", "behind", 1)
    assert body["status"] == "degraded"
    db.session.rollback()  # the request's transaction (the test holds the app context)

    monkeypatch.undo()
    tasks.dispatch_tick.call_local()  # the next tick starts afresh
    body = client.get("/api/health").get_json()
    assert (body["status"], body["dispatch"], body["overdue_chronos"]) == ("ok", "ok", 0)
    assert db.session.scalars(select(ChronoRun.scheduled_for).where(ChronoRun.id != lost.id)).all()


def test_a_dead_worker_shows_within_seconds(app, client):
    forget_beats()
    heartbeat.beat(heartbeat.SCHEDULER, heartbeat.SCHEDULER)
    # The last beat of a worker that then died: beats come every WORKER_BEAT_SECONDS.
    heartbeat.beat("worker:dead", heartbeat.WORKER, now=utcnow() - timedelta(seconds=app.config["HEALTH_STALE_SECONDS"] + 1))
    db.session.commit()
    assert client.get("/api/health").get_json()["worker"] == "stale"
    assert app.config["HEALTH_STALE_SECONDS"] <= 4 * heartbeat.WORKER_BEAT_SECONDS < app.config["SCHEDULER_INTERVAL"]
