"""On SQLite (the embedded default), pages that only look take no lock: a worker
holding the write lock does not hold them up, and a read that meets a newer write
is made again rather than failing."""
import sqlite3
import time

import pytest

from chronoflow.chronos import views as chrono_views

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def test_a_page_loads_while_another_process_holds_the_write_lock(app, client, make_chrono):
    chrono = make_chrono(name="Relatório")
    writer = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # what a worker recording runs holds
    try:
        started = time.monotonic()
        listing = client.get("/", headers={"Accept-Language": "en"})
        detail = client.get(f"/chronos/{chrono.id}", headers={"Accept-Language": "en"})
        waited = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert listing.status_code == detail.status_code == 200 and "Relatório" in listing.get_data(as_text=True)
    assert waited < 5  # the write lock's busy timeout is 30 s: nothing waited for it


def test_a_read_that_meets_a_newer_write_is_made_again(app, client, make_chrono, monkeypatch):
    make_chrono(name="Relatório")
    real, calls = chrono_views.service.list_chronos, []

    def stale_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = 517  # SQLITE_BUSY_SNAPSHOT
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(chrono_views.service, "list_chronos", stale_once)
    response = client.get("/")
    assert response.status_code == 200 and "Relatório" in response.get_data(as_text=True) and len(calls) == 2
