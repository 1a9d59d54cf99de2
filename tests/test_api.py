"""The JSON API, on SQLite and on PostgreSQL + Redis."""
from datetime import datetime, timezone

import pytest

from chronoflow.extensions import db
from chronoflow.models import Channel, Chrono, ChronoRun
from chronoflow.queue import UTCRedisStorage, huey

VALID = {"name": "Ping", "schedule": "todo dia às 18:30", "url": "https://example.com/hook"}


def post(client, body, **kwargs):
    return client.post("/api/chronos", json=body, **kwargs)


def field_errors(response):
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    return body["errors"]["json"]


def chrono_count():
    return db.session.scalar(db.select(db.func.count()).select_from(Chrono))


def test_it_creates_a_chrono_filling_defaults(client):
    response = post(client, VALID)

    assert response.status_code == 201
    body = response.get_json()
    assert body["cron"] == "30 18 * * *"
    assert body["schedule"] == "todo dia às 18:30"
    assert body["timezone"] == "America/Sao_Paulo"
    assert body["method"] == "GET" and body["target_type"] == "HTTP" and body["is_active"] is True
    next_run = datetime.fromisoformat(body["next_run_at"])
    assert next_run > datetime.now(timezone.utc)
    assert (next_run.hour, next_run.minute) == (21, 30)  # 18:30 in São Paulo, UTC-3
    assert body["schedule_description"]


def test_it_describes_the_schedule_in_the_request_language(client):
    chrono_id = post(client, VALID).get_json()["id"]
    pt = client.get(f"/api/chronos/{chrono_id}", headers={"Accept-Language": "pt-BR"}).get_json()
    en = client.get(f"/api/chronos/{chrono_id}", headers={"Accept-Language": "en"}).get_json()
    assert "18:30" in pt["schedule_description"] and "18:30" in en["schedule_description"]
    assert pt["schedule_description"] != en["schedule_description"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"schedule": "toda hora as 25"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"method": "FETCH"}, "method"),
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": None}, "url"),
        ({"headers": {"X-A": 1}}, "headers"),
        ({"headers": ["X-A"]}, "headers"),
        ({"headers": {"X-A": "a\r\nX-Injected: 1"}}, "headers"),
        ({"headers": {"Bad Name": "x"}}, "headers"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"config": {"timeout_ms": 5}}, "config"),
        ({"config": {"surprise": 1}}, "config"),
        ({"is_active": "perhaps"}, "is_active"),
        ({"target_type": "SMS"}, "target_type"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_it_names_each_bad_field_and_saves_nothing(client, change, field):
    errors = field_errors(post(client, {**VALID, **change}))
    assert field in errors and errors[field]
    assert chrono_count() == 0


def test_it_explains_what_is_wrong_with_a_schedule(client):
    errors = field_errors(post(client, {**VALID, "schedule": "toda hora as 25"}))
    assert "25" in errors["schedule"][0]


def test_it_refuses_a_method_outside_allowed_methods(app, client):
    app.config["ALLOWED_METHODS"] = ("GET", "POST")
    errors = field_errors(post(client, {**VALID, "method": "DELETE"}))
    assert "GET, POST" in errors["method"][0]


def test_a_message_chrono_needs_channel_template_and_recipients(client):
    errors = field_errors(post(client, {**VALID, "target_type": "MESSAGE", "url": None}))
    assert set(errors) == {"channel_id", "message_template", "recipients"}
    errors = field_errors(post(client, {**VALID, "target_type": "message", "channel_id": 999,
                                         "message_template": "Oi", "recipients": ["5511987654321"]}))
    assert set(errors) == {"channel_id"}


def test_a_message_chrono_with_a_channel_is_accepted(client):
    channel = Channel(name="loja", session="default")
    db.session.add(channel)
    db.session.commit()
    response = post(client, {"name": "Lembrete", "schedule": "todo dia às 18", "target_type": "MESSAGE",
                             "channel_id": channel.id, "message_template": "Oi", "recipients": ["5511987654321"]})
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "data, content_type, status",
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b'"text"', "application/json", 422),
        (b"name=x", "application/x-www-form-urlencoded", 422),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_it_answers_malformed_bodies_with_a_4xx_json_error(client, data, content_type, status):
    response = client.post("/api/chronos", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["code"] == status
    assert chrono_count() == 0


def test_it_lists_chronos_with_paging(client):
    for n in range(3):
        post(client, {**VALID, "name": f"c{n}"})
    body = client.get("/api/chronos?skip=1&take=1").get_json()
    assert body["total"] == 3 and body["skip"] == 1 and body["take"] == 1
    assert [c["name"] for c in body["items"]] == ["c1"]
    assert client.get("/api/chronos?take=0").status_code == 422
    assert client.get("/api/chronos?skip=x").status_code == 422


def test_unknown_ids_are_404_json(client):
    for path in ("/api/chronos/99", "/api/runs/99", "/api/chronos/99/runs"):
        response = client.get(path)
        assert response.status_code == 404 and response.get_json()["code"] == 404
    assert client.post("/api/chronos/99/trigger").status_code == 404
    assert client.get("/api/nothing-here").get_json()["code"] == 404


def test_a_schedule_change_recomputes_next_run(client):
    created = post(client, VALID).get_json()
    response = client.patch(f"/api/chronos/{created['id']}", json={"schedule": "0 9 * * 1", "timezone": "UTC"})
    body = response.get_json()
    assert response.status_code == 200
    assert body["cron"] == "0 9 * * 1" and body["name"] == "Ping"
    next_run = datetime.fromisoformat(body["next_run_at"])
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 9, 0)


def test_a_bad_patch_changes_nothing(client):
    created = post(client, VALID).get_json()
    errors = field_errors(client.patch(f"/api/chronos/{created['id']}", json={"name": "New", "url": "mailto:x"}))
    assert set(errors) == {"url"}
    assert client.get(f"/api/chronos/{created['id']}").get_json()["name"] == "Ping"


def test_a_patch_is_validated_as_a_whole(client):
    created = post(client, VALID).get_json()
    errors = field_errors(client.patch(f"/api/chronos/{created['id']}", json={"target_type": "MESSAGE"}))
    assert "channel_id" in errors


def test_pause_clears_next_run_and_resume_recomputes_it(client):
    created = post(client, VALID).get_json()
    paused = client.post(f"/api/chronos/{created['id']}/pause").get_json()
    assert paused["is_active"] is False and paused["next_run_at"] is None
    resumed = client.post(f"/api/chronos/{created['id']}/resume").get_json()
    assert resumed["is_active"] is True and resumed["next_run_at"] == created["next_run_at"]


def test_creating_a_paused_chrono_schedules_nothing(client):
    body = post(client, {**VALID, "is_active": False}).get_json()
    assert body["next_run_at"] is None


def test_trigger_creates_a_manual_run_and_enqueues_it(client):
    created = post(client, VALID).get_json()
    queued = huey.pending_count()
    response = client.post(f"/api/chronos/{created['id']}/trigger")
    assert response.status_code == 202
    run = response.get_json()
    assert run["trigger"] == "manual" and run["status"] == "pending"
    assert huey.pending_count() == queued + 1
    assert client.get(f"/api/runs/{run['id']}").get_json()["id"] == run["id"]


def test_runs_are_listed_newest_first_with_a_total(client):
    created = post(client, VALID).get_json()
    ids = [client.post(f"/api/chronos/{created['id']}/trigger").get_json()["id"] for _ in range(3)]
    body = client.get(f"/api/chronos/{created['id']}/runs?take=2").get_json()
    assert body["total"] == 3
    assert [r["id"] for r in body["items"]] == ids[::-1][:2]


def test_delete_removes_the_chrono_and_its_runs(client):
    created = post(client, VALID).get_json()
    client.post(f"/api/chronos/{created['id']}/trigger")
    assert client.delete(f"/api/chronos/{created['id']}").status_code == 204
    assert client.get(f"/api/chronos/{created['id']}").status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(ChronoRun)) == 0


def test_health_reports_database_and_queue(client):
    # The scheduler and worker parts: tests/test_reliability_health.py
    from chronoflow.scheduling import heartbeat

    heartbeat.beat("scheduler", "scheduler")
    heartbeat.beat("worker:test", "worker")
    db.session.commit()
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["database"], body["queue"]) == ("ok", "ok", "ok")


def test_health_is_503_when_the_queue_is_down(client, monkeypatch):
    # A Redis nobody listens on.
    monkeypatch.setattr(huey, "storage", UTCRedisStorage("down", url="redis://127.0.0.1:9/0"))
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["queue"].startswith("error")


def test_the_openapi_document_describes_the_api(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/chronos", "/api/chronos/{chrono_id}", "/api/chronos/{chrono_id}/runs",
                 "/api/chronos/{chrono_id}/trigger", "/api/runs/{run_id}", "/api/health"):
        assert path in spec["paths"], path
    assert "ChronoInput" in spec["components"]["schemas"]
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/api/health"]["get"]["security"] == []  # the one operation open to all


def test_an_unexpected_error_is_a_json_500_without_traceback(app, client, monkeypatch):
    from chronoflow.chronos import service

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "list_chronos", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/api/chronos")
    assert response.status_code == 500
    assert response.get_json() == {"code": 500, "status": "Internal Server Error"}
    assert b"secret internals" not in response.data


def test_errors_speak_the_request_language(client):
    pt = {"Accept-Language": "pt-BR"}
    errors = field_errors(post(client, {**VALID, "url": "ftp://x", "surprise": 1, "name": ""}, headers=pt))
    assert errors["surprise"] == ["Campo desconhecido."]
    assert errors["url"] == ["Deve ser uma URL http:// ou https:// com um host."]
    assert errors["name"] == ["Use de 1 a 200 caracteres."]
    errors = field_errors(post(client, {**VALID, "schedule": "toda hora as 25"}, headers=pt))
    assert "25 não é uma hora válida" in errors["schedule"][0]
    errors = field_errors(post(client, {**VALID, "url": "ftp://x"}, headers={"Accept-Language": "en"}))
    assert errors["url"] == ["Must be an http:// or https:// URL with a host."]


def test_the_history_leaves_out_occurrences_not_due_yet(client):
    created = post(client, {**VALID, "schedule": "*/5 * * * * *"}).get_json()
    future = db.session.scalar(db.select(db.func.count()).select_from(ChronoRun))
    assert future >= 10  # dispatched ahead of time, on creation
    manual = client.post(f"/api/chronos/{created['id']}/trigger").get_json()
    body = client.get(f"/api/chronos/{created['id']}/runs").get_json()
    assert body["total"] == 1 and [r["id"] for r in body["items"]] == [manual["id"]]


def queue_down(monkeypatch):
    monkeypatch.setattr(huey, "storage", UTCRedisStorage("down", url="redis://127.0.0.1:9/0"))


def test_a_create_with_the_queue_down_is_saved_and_answered_as_saved(client, monkeypatch):
    """The database is the record: the chrono and its one-time secret reach the
    client, and the runs the queue would not take wait for the next tick."""
    from chronoflow import tasks

    queue_down(monkeypatch)
    response = post(client, {**VALID, "schedule": "every 10 seconds"})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["signing_secret"].startswith("whsec_")
    chrono = db.session.get(Chrono, body["id"])
    assert chrono.next_run_at is not None
    assert db.session.scalar(db.select(db.func.count()).select_from(ChronoRun)) == 0  # taken back

    monkeypatch.undo()  # the queue is back: the next tick dispatches what was withdrawn
    assert tasks.dispatch_due() >= 7
    assert huey.scheduled_count() + huey.pending_count() >= 1


def test_run_now_with_the_queue_down_is_a_503_that_leaves_nothing_behind(client, monkeypatch):
    created = post(client, VALID).get_json()
    queue_down(monkeypatch)
    response = client.post(f"/api/chronos/{created['id']}/trigger")
    assert response.status_code == 503
    assert "queue" in response.get_json()["message"]
    assert db.session.scalar(db.select(db.func.count()).select_from(ChronoRun)) == 0


def test_a_payload_without_a_method_is_posted(client):
    assert post(client, {**VALID, "payload": {"kind": "daily"}}).get_json()["method"] == "POST"
    assert post(client, VALID).get_json()["method"] == "GET"
    assert post(client, {**VALID, "payload": "x", "method": "PUT"}).get_json()["method"] == "PUT"


def test_ids_of_deleted_rows_are_never_given_again(client, api_token):
    """An API client that kept a deleted chrono's id must not change another one with it."""
    from chronoflow.accounts import service as accounts
    from chronoflow.models import ApiToken, User

    first = post(client, VALID).get_json()["id"]
    last = post(client, VALID).get_json()["id"]
    assert client.delete(f"/api/chronos/{last}").status_code == 204
    assert post(client, VALID).get_json()["id"] > last

    run = client.post(f"/api/chronos/{first}/trigger").get_json()["id"]
    db.session.execute(db.delete(ChronoRun).where(ChronoRun.id == run))
    db.session.commit()
    assert client.post(f"/api/chronos/{first}/trigger").get_json()["id"] > run

    channel = client.post("/api/channels", json={"name": "a", "session": "default"}).get_json()["id"]
    assert client.delete(f"/api/channels/{channel}").status_code == 204
    assert client.post("/api/channels", json={"name": "b", "session": "default"}).get_json()["id"] > channel

    user = User(username="gone", password_hash="x")
    db.session.add(user)
    db.session.commit()
    gone, token = user.id, accounts.create_token(user, {"name": "t"})[0].id
    db.session.delete(user)
    db.session.commit()
    again = User(username="again", password_hash="x")
    db.session.add(again)
    db.session.commit()
    assert again.id > gone and accounts.create_token(again, {"name": "t"})[0].id > token
    assert db.session.get(ApiToken, token) is None
