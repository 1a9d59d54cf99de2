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
                               "last_worker_heartbeat_at"}
