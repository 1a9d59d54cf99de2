"""Clone, bulk actions, export and import (JSON and crontab)."""
import json

from sqlalchemy import func, select

from chronoflow.chronos import bulk, transfer
from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, RunStatus

from .conftest import run_now

CRONTAB = """\
# backups
SHELL=/bin/bash
MAILTO=""

*/5 * * * * curl -fsS -X POST https://example.com/ping -H 'X-Token: abc' > /dev/null 2>&1
0 9 * * 1-5 /usr/bin/curl "https://example.com/report?d=1" --max-time 20
@daily curl -d '{"a": 1}' https://example.com/daily
30 2 * * * /usr/local/bin/backup.sh
@reboot curl https://example.com/boot
"""


def test_a_clone_copies_everything_but_the_secret_and_the_history(app, make_chrono, target):
    original = make_chrono(name="Relatório", url=target.url("/r"), headers={"Authorization": "Bearer s"},
                           payload={"a": 1}, success={"statuses": "200"}, config={"max_attempts": 3})
    run_now(original)
    copy = bulk.clone_chrono(original)
    db.session.commit()
    assert copy.id != original.id and copy.name == "Relatório (copy)"
    for name in ("schedule", "cron", "timezone", "url", "headers", "payload", "success", "config", "method"):
        assert getattr(copy, name) == getattr(original, name), name
    assert copy.signing_secret != original.signing_secret
    assert db.session.scalar(select(func.count()).where(ChronoRun.chrono_id == copy.id)) == 0


def test_the_clone_api_names_the_copy_in_the_request_language(client, make_chrono):
    chrono = make_chrono(name="x" * 200)
    answer = client.post(f"/api/chronos/{chrono.id}/clone", headers={"Accept-Language": "pt-BR"})
    assert answer.status_code == 201
    assert answer.json["name"].endswith(" (cópia)") and len(answer.json["name"]) == 200
    assert answer.json["signing_secret"].startswith("whsec_")
    assert client.post("/api/chronos/999999/clone").status_code == 404


def test_bulk_pause_resume_and_delete(client, make_chrono):
    a, b, c = (make_chrono(name=n) for n in "abc")
    answer = client.post("/api/chronos/bulk", json={"action": "pause", "ids": [a.id, b.id, 424242]})
    assert answer.status_code == 200
    assert answer.json == {"action": "pause", "done": [a.id, b.id], "missing": [424242]}
    db.session.expire_all()
    assert not a.is_active and not b.is_active and c.is_active
    client.post("/api/chronos/bulk", json={"action": "resume", "ids": [a.id]})
    db.session.expire_all()
    assert a.is_active and a.next_run_at is not None
    client.post("/api/chronos/bulk", json={"action": "delete", "ids": [b.id, c.id]})
    assert db.session.scalars(select(Chrono.id)).all() == [a.id]


def test_bulk_refuses_bad_input_and_changes_nothing(client, make_chrono):
    chrono = make_chrono()
    for body in ({"action": "explode", "ids": [chrono.id]}, {"action": "pause", "ids": []},
                 {"action": "pause", "ids": ["x"]}, {"action": "pause", "ids": list(range(1, 502))},
                 {"action": "pause"}):
        answer = client.post("/api/chronos/bulk", json=body)
        assert answer.status_code == 422, body
    db.session.expire_all()
    assert chrono.is_active


def test_bulk_from_the_list_page(client, post_form, make_chrono):
    a, b = make_chrono(name="a"), make_chrono(name="b")
    page = post_form("/chronos/bulk", data={"action": "pause", "ids": [str(a.id), str(b.id)]}, token_from="/")
    assert page.status_code == 302
    db.session.expire_all()
    assert not a.is_active and not b.is_active
    asked = post_form("/chronos/bulk", data={"action": "delete", "ids": [str(a.id)]}, token_from="/",
                      headers={"Accept-Language": "pt-BR"})
    assert asked.status_code == 200 and "Excluir 1 tarefa?" in asked.get_data(as_text=True)
    assert db.session.get(Chrono, a.id) is not None
    gone = post_form("/chronos/bulk", data={"action": "delete", "ids": [str(a.id)], "confirm": "1"}, token_from="/")
    assert gone.status_code == 302 and db.session.get(Chrono, a.id) is None
    nothing = post_form("/chronos/bulk", data={"action": "pause"}, token_from="/", follow_redirects=True)
    assert "Choose" in nothing.get_data(as_text=True)


def test_export_leaves_secrets_out_unless_asked(client, make_chrono):
    chrono = make_chrono(name="e", headers={"Authorization": "Bearer s3", "X-Plain": "p"})
    plain = client.get("/api/chronos/export").json
    (item,) = plain["chronos"]
    assert plain["with_secrets"] is False and "signing_secret" not in item
    assert item["headers"] == {"X-Plain": "p"} and item["omitted_headers"] == ["Authorization"]
    assert "s3" not in json.dumps(plain)
    full = client.get("/api/chronos/export?secrets=1").json
    assert full["chronos"][0]["headers"]["Authorization"] == "Bearer s3"
    assert full["chronos"][0]["signing_secret"] == chrono.signing_secret
    assert client.get("/api/chronos/export?secrets=yes").status_code == 422


def test_an_export_imports_back_with_or_without_secrets(client, make_chrono):
    original = make_chrono(name="e", headers={"Authorization": "Bearer s3"}, success={"body_contains": "ok"},
                           url="https://example.com/{{ date }}")
    full = client.get("/api/chronos/export?secrets=1").json
    assert client.post("/api/chronos/import", json=full).status_code == 201
    assert client.post("/api/chronos/import?secrets=1", json=full).status_code == 201
    copies = db.session.scalars(select(Chrono).where(Chrono.id != original.id).order_by(Chrono.id)).all()
    assert [c.signing_secret == original.signing_secret for c in copies] == [False, True]
    for copy in copies:
        assert copy.headers == original.headers and copy.success == original.success and copy.templated
        assert copy.next_run_at is not None and copy.secrets_origin == original.secrets_origin


def test_an_import_is_all_or_nothing_and_names_each_refused_item(client):
    good = {"name": "ok", "schedule": "@daily", "url": "https://example.com/"}
    answer = client.post("/api/chronos/import", json={"chronos": [
        good, {"name": "", "schedule": "todo santo dia", "url": "https://example.com/"}, "x",
        {**good, "signing_secret": "nope"}]}, query_string={"secrets": 1})
    assert answer.status_code == 422
    errors = answer.json["errors"]["json"]["chronos"]
    assert set(errors) == {"1", "2", "3"}
    assert set(errors["1"]) == {"name", "schedule"} and "signing_secret" in errors["3"]
    assert db.session.scalar(select(func.count()).select_from(Chrono)) == 0
    assert client.post("/api/chronos/import", json={"nope": 1}).status_code == 422
    assert client.post("/api/chronos/import", data="{", content_type="application/json").status_code == 400


def test_imported_chronos_get_their_first_runs_dispatched(app, client):
    app.config["SCHEDULER_INTERVAL"] = 60
    answer = client.post("/api/chronos/import", json=[
        {"name": f"n{i}", "schedule": "* * * * * *", "url": "https://example.com/"} for i in range(3)])
    assert answer.status_code == 201 and answer.json["imported"] == 3
    pending = db.session.scalars(select(ChronoRun.chrono_id).where(ChronoRun.status == RunStatus.PENDING)).all()
    assert set(pending) == set(db.session.scalars(select(Chrono.id)).all())


def test_a_crontab_reads_curl_lines_and_reports_the_others(app):
    reading = transfer.read_crontab(CRONTAB, "America/Sao_Paulo")
    assert reading.skipped == 4
    assert sorted(reading.refused) == [8, 9]
    items = dict(reading.items)
    assert items[5]["schedule"] == "*/5 * * * *" and items[5]["method"] == "POST"
    assert items[5]["headers"] == {"X-Token": "abc"} and items[5]["url"] == "https://example.com/ping"
    assert items[6]["url"] == "https://example.com/report?d=1" and items[6]["config"] == {"timeout_ms": 20000}
    assert items[7]["schedule"] == "@daily" and items[7]["payload"] == {"a": 1}


def test_the_crontab_api_imports_and_reports(client):
    answer = client.post("/api/chronos/import-crontab", json={"crontab": CRONTAB, "timezone": "UTC"})
    assert answer.status_code == 201, answer.json
    assert answer.json["imported"] == 3 and set(answer.json["refused"]) == {"8", "9"}
    chronos = db.session.scalars(select(Chrono).order_by(Chrono.id)).all()
    assert [c.cron for c in chronos] == ["*/5 * * * *", "0 9 * * 1-5", "0 0 * * *"]
    assert all(c.timezone == "UTC" for c in chronos)
    bad = client.post("/api/chronos/import-crontab", json={"crontab": "61 * * * * curl https://example.com/"})
    assert bad.status_code == 422 and "1" in bad.json["errors"]["json"]["crontab"]


def test_the_cli_exports_and_imports(app, make_chrono, tmp_path):
    make_chrono(name="cli", headers={"Authorization": "Bearer s3"})
    runner = app.test_cli_runner()
    out = runner.invoke(args=["chronos", "export"])
    assert out.exit_code == 0 and "s3" not in out.output
    path = tmp_path / "chronos.json"
    path.write_text(runner.invoke(args=["chronos", "export", "--with-secrets"]).output)
    done = runner.invoke(args=["chronos", "import", str(path)])
    assert done.exit_code == 0, done.output
    assert db.session.scalar(select(func.count()).select_from(Chrono)) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x"}]))
    refused = runner.invoke(args=["chronos", "import", str(bad)])
    assert refused.exit_code != 0 and "0" in refused.output and "schedule" in refused.output
    cron = tmp_path / "crontab"
    cron.write_text(CRONTAB)
    done = runner.invoke(args=["chronos", "import-crontab", str(cron)])
    assert done.exit_code == 0 and "3" in done.output and "line 8" in done.output


def test_the_crontab_api_refuses_a_bad_timezone_or_body(client):
    for body in ({"crontab": "* * * * * curl https://example.com/", "timezone": "Mars/Base"}, {"crontab": 5},
                 {}, {"crontab": "x", "other": 1}):
        answer = client.post("/api/chronos/import-crontab", json=body)
        assert answer.status_code == 422, body
    assert db.session.scalar(select(func.count()).select_from(Chrono)) == 0


def test_imported_values_read_back_as_the_api_saved_them(client):
    base = {"schedule": "@daily", "url": "https://example.com/", "timezone": "UTC"}
    for n, payload in enumerate(("text as is", None, {"a": [1, None, "é"]}, [True], 0)):
        assert client.post("/api/chronos", json={**base, "name": f"p{n}", "payload": payload}).status_code == 201
    client.post("/api/chronos", json={**base, "name": "paused", "is_active": False, "description": "d"})
    exported = client.get("/api/chronos/export?secrets=1").json
    assert client.post("/api/chronos/import?secrets=1", json=exported).status_code == 201
    db.session.expire_all()
    chronos = db.session.scalars(select(Chrono).order_by(Chrono.id)).all()
    originals, copies = chronos[:6], chronos[6:]
    fields = ("name", "description", "schedule", "cron", "timezone", "method", "url", "headers", "payload",
              "is_active", "config", "recipients", "success", "templated", "signing_secret", "secrets_origin")
    for original, copy in zip(originals, copies, strict=True):
        assert {f: getattr(copy, f) for f in fields} == {f: getattr(original, f) for f in fields}
        assert (copy.next_run_at is None) == (original.next_run_at is None)
