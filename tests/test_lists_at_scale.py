"""Lists stay fast however much history there is: pages come from indexes, counts stop
at COUNT_CAP, the name search has an index of its own. (The figures at a million
runs: bench/README.md.)"""
from datetime import timedelta

import pytest
from sqlalchemy import text

from chronoflow.chronos import service
from chronoflow.extensions import db
from chronoflow.models import ChronoRun, RunStatus, Trigger, utcnow


def history(chrono, count):
    now = utcnow()
    db.session.add_all(ChronoRun(chrono_id=chrono.id, scheduled_for=now - timedelta(minutes=n), trigger=Trigger.SCHEDULE,
                                 status=RunStatus.FAILED if n % 3 == 0 else RunStatus.SUCCESS) for n in range(count))
    db.session.commit()


def test_a_deep_page_is_the_right_page_newest_first(make_chrono):
    chrono = make_chrono()
    history(chrono, 50)
    total, first = service.list_runs(chrono, 0, 10)
    _, deep = service.list_runs(chrono, 40, 10)
    everything = [run.id for run in service.list_runs(chrono, 0, 100)[1]]
    assert total == 50 and [r.id for r in first] == everything[:10] and [r.id for r in deep] == everything[40:]
    assert [r.scheduled_for for r in deep] == sorted((r.scheduled_for for r in deep), reverse=True)
    total, failed = service.list_runs(chrono, 0, 100, status=RunStatus.FAILED)
    assert total == 17 and {r.status for r in failed} == {"failed"}


def test_runs_dispatched_ahead_are_not_history(make_chrono):
    chrono = make_chrono()
    db.session.add(ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow() + timedelta(seconds=30),
                             trigger=Trigger.SCHEDULE, status=RunStatus.PENDING))
    history(chrono, 2)
    assert service.list_runs(chrono)[0] == 2


def test_counts_stop_at_the_cap(make_chrono, monkeypatch):
    monkeypatch.setattr(service, "COUNT_CAP", 7)
    chrono = make_chrono()
    history(chrono, 12)
    for n in range(9):
        make_chrono(name=f"more {n}")
    assert service.list_runs(chrono)[0] == 7
    assert service.list_chronos()[0] == 7
    assert len(service.list_runs(chrono, 0, 20)[1]) == 12  # the pages themselves are whole


def test_the_search_takes_percent_and_underscore_literally(make_chrono):
    make_chrono(name="100% uptime")
    make_chrono(name="1000 uptime")
    make_chrono(name="a_b")
    make_chrono(name="axb")
    assert [c.name for c in service.list_chronos(search="0%")[1]] == ["100% uptime"]
    assert [c.name for c in service.list_chronos(search="A_B")[1]] == ["a_b"]


def _plan(sql):
    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables: ask what it *can* use
    return " ".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))


def _sql(query):
    return str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_history_page_reads_its_ids_from_the_index_alone(app, backend, make_chrono):
    from sqlalchemy import select

    chrono = make_chrono()
    page = (select(ChronoRun.id)
            .where(ChronoRun.chrono_id == chrono.id, ChronoRun.scheduled_for <= utcnow())
            .order_by(ChronoRun.scheduled_for.desc(), ChronoRun.id.desc()).offset(90_000).limit(20))
    plan = _plan(_sql(page))
    assert "Index Only Scan Backward using ix_chrono_runs_history" in plan and "Sort" not in plan
    db.session.rollback()


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_name_search_uses_its_trigram_index(app, backend):
    from sqlalchemy import select

    from chronoflow.models import Chrono

    plan = _plan(_sql(select(Chrono.id).where(Chrono.name.icontains("relatório", autoescape=True))))
    assert "ix_chronos_name_search" in plan
    db.session.rollback()
