"""The dispatcher, one step at a time, on SQLite and on PostgreSQL."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text, update

from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, RunStatus, utcnow
from chronoflow.scheduling.dispatch import dispatch_batch, horizon

from .conftest import utc

NOON = utc(2026, 3, 2, 12, 0, 0)


def runs_of(chrono):
    return db.session.scalars(
        select(ChronoRun).where(ChronoRun.chrono_id == chrono.id).order_by(ChronoRun.scheduled_for)
    ).all()


def due_at(make_chrono, moment, **fields):
    chrono = make_chrono(**{"timezone": "UTC", "schedule": "0 * * * *", **fields})
    chrono.next_run_at = moment
    db.session.commit()
    return chrono


def dispatch(now, limit=1000):
    runs, _claimed, _advanced = dispatch_batch(now, horizon(now, 60), limit)
    db.session.commit()
    return runs


def test_it_writes_a_run_for_an_occurrence_due_before_the_next_tick(make_chrono):
    chrono = due_at(make_chrono, NOON)

    dispatched = dispatch(NOON - timedelta(seconds=30))

    assert [d.scheduled_for for d in dispatched] == [NOON]
    (run,) = runs_of(chrono)
    assert (run.status, run.trigger, run.attempt, run.scheduled_for) == ("pending", "schedule", 0, NOON)
    assert db.session.get(Chrono, chrono.id).next_run_at == NOON + timedelta(hours=1)


def test_it_leaves_an_occurrence_after_the_window_for_a_later_tick(make_chrono):
    chrono = due_at(make_chrono, NOON)
    assert dispatch(NOON - timedelta(minutes=5)) == []
    assert runs_of(chrono) == []


def test_it_writes_every_occurrence_of_a_seconds_schedule_in_the_window(make_chrono):
    chrono = due_at(make_chrono, NOON, schedule="*/10 * * * * *")

    dispatch(NOON)

    times = [run.scheduled_for for run in runs_of(chrono)]
    assert times == [NOON + timedelta(seconds=s) for s in range(0, 71, 10)]  # window: 60 s + 15 s margin
    assert db.session.get(Chrono, chrono.id).next_run_at == NOON + timedelta(seconds=80)


def test_a_second_tick_does_not_dispatch_again(make_chrono):
    chrono = due_at(make_chrono, NOON)
    dispatch(NOON)
    assert dispatch(NOON + timedelta(seconds=5)) == []
    assert len(runs_of(chrono)) == 1


def test_paused_chronos_are_not_dispatched(make_chrono):
    chrono = due_at(make_chrono, NOON, is_active=False)
    chrono.next_run_at = NOON  # even with a stale next_run_at
    db.session.commit()
    assert dispatch(NOON) == []


def test_missed_occurrences_fire_once_not_as_a_storm(make_chrono):
    chrono = due_at(make_chrono, NOON - timedelta(hours=2), schedule="* * * * *")  # the scheduler was down 2 h

    dispatch(NOON + timedelta(seconds=30))

    times = [run.scheduled_for for run in runs_of(chrono) if run.status == RunStatus.PENDING]
    # The first missed occurrence once, then the schedule from now on; not 120 calls
    # (the other missed ones are recorded as skipped: see test_reliability_policies.py).
    assert times == [NOON - timedelta(hours=2), NOON, NOON + timedelta(minutes=1)]


def test_the_unique_occurrence_index_refuses_a_double_dispatch(make_chrono):
    chrono = due_at(make_chrono, NOON)
    dispatch(NOON)
    chrono = db.session.get(Chrono, chrono.id)
    chrono.next_run_at = NOON  # as if a second dispatcher worked from a stale read
    db.session.commit()

    assert dispatch(NOON) == []  # nothing new to enqueue
    assert len(runs_of(chrono)) == 1


def test_it_works_in_batches(make_chrono):
    for _ in range(5):
        due_at(make_chrono, NOON)
    first, claimed, _advanced = dispatch_batch(NOON, horizon(NOON, 60), limit=3)
    db.session.commit()
    assert claimed == 3 and len(first) == 3
    assert len(dispatch(NOON)) == 2


def test_two_dispatchers_at_once_write_each_occurrence_once(app, make_chrono):
    chronos = [due_at(make_chrono, NOON) for _ in range(60)]
    db.session.commit()  # no transaction of ours left open while the threads work
    counts = []

    def dispatcher():
        with app.app_context():
            total = 0
            while True:
                runs, claimed, _advanced = dispatch_batch(NOON, horizon(NOON, 60), limit=7)
                db.session.commit()
                total += len(runs)
                if claimed == 0:
                    break
            counts.append(total)
            db.session.remove()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(counts) == len(chronos)
    rows = db.session.execute(text("SELECT chrono_id, scheduled_for FROM chrono_runs")).all()
    assert len(rows) == len(set(rows)) == len(chronos)


def _plan(sql, backend):
    if backend == "postgres":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables: ask what it *can* use
        return " ".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))
    return " ".join(str(row[-1]) for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))


def _compiled(query):
    return str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("index", ["ix_chronos_due", "ix_chrono_runs_open"])
def test_the_scheduler_queries_use_their_index(app, backend, index):
    if index == "ix_chronos_due":
        query = select(Chrono.id).where(Chrono.is_active == True, Chrono.next_run_at <= NOON)  # noqa: E712
    else:
        query = select(ChronoRun.id).where(ChronoRun.status.in_(RunStatus.OPEN), ChronoRun.scheduled_for < NOON)
    assert index in _plan(_compiled(query), backend)
    db.session.rollback()


@pytest.mark.parametrize("backend", ["postgres"])  # prepared statements and generic plans are PostgreSQL's
def test_the_recovery_sweep_uses_its_partial_index_in_a_generic_plan(app, backend):
    """psycopg prepares a statement after 5 executions; PostgreSQL may then use a
    generic plan, which must still be able to prove ix_chrono_runs_open's predicate."""
    import re

    from chronoflow.scheduling.recovery import stale_runs_query

    compiled = stale_runs_query(NOON, 1000).compile(db.engine, compile_kwargs={"render_postcompile": True})
    names = []

    def number(match):
        names.append(match.group(1))
        return f"${len(names)}"

    sql = re.sub(r"%\((\w+)\)s", number, str(compiled))
    assert "'pending'" in sql and "'retrying'" in sql  # the status list is literal
    values = ", ".join(f"'{compiled.params[name].isoformat()}'" if hasattr(compiled.params[name], "isoformat")
                       else repr(compiled.params[name]) for name in names)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    db.session.execute(text(f"PREPARE sweep AS {sql}"))
    try:
        plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN EXECUTE sweep({values})")))
    finally:
        db.session.rollback()
    assert "ix_chrono_runs_open" in plan


def _clone_chronos(chrono, count, next_run_at):
    """`count` more chronos like `chrono`, written at once (creating them one by one
    through the service would take most of the test's time)."""
    columns = [c.name for c in Chrono.__table__.columns if c.name not in ("id", "next_run_at", "name")]
    listed = ", ".join(columns)
    db.session.execute(text(
        f"INSERT INTO chronos (name, next_run_at, {listed}) "
        f"SELECT 'clone ' || n, :next_run_at, {listed} FROM chronos, generate_series(1, :count) AS n "
        f"WHERE chronos.id = :id"), {"id": chrono.id, "count": count, "next_run_at": next_run_at})
    db.session.execute(update(Chrono).where(Chrono.id == chrono.id).values(next_run_at=next_run_at))
    db.session.commit()


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_backlog_of_100000_occurrences_drains_in_transactions_of_bounded_size(app, backend, make_chrono):
    """A thousand every-second chronos 100 s behind: 175,000 rows to write (each
    missed one recorded, one catch-up run, then the schedule up to the horizon).
    In one statement that is past PostgreSQL's 65,535 bind parameters; the
    dispatcher writes it in bounded transactions and every chrono moves on."""
    from chronoflow import tasks
    from chronoflow.scheduling import dispatch

    now = utcnow().replace(microsecond=0)
    _clone_chronos(make_chrono(schedule="* * * * * *", timezone="UTC"), 999, now - timedelta(seconds=100))
    sizes = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count_rows(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("INSERT INTO chrono_runs") and isinstance(parameters, dict):
            sizes.append(len(parameters["chrono_id"]))

    try:
        dispatched = tasks.dispatch_due(now=now)
    finally:
        event.remove(db.engine, "before_cursor_execute", count_rows)

    written = db.session.execute(text("SELECT status, count(*) FROM chrono_runs GROUP BY status")).all()
    # 40 missed (over a minute late): the first runs, 39 are recorded skipped;
    # then every second from a minute ago to the horizon (now + 75 s) runs.
    assert dict(written) == {"pending": 1000 * (1 + 136), "skipped": 1000 * 39}
    assert dispatched == 137_000
    assert len(sizes) > 1 and max(sizes) <= dispatch.MAX_ROWS + 175
    horizon_end = dispatch.horizon(now, app.config["SCHEDULER_INTERVAL"])
    assert db.session.scalar(text("SELECT count(*) FROM chronos WHERE next_run_at <= :end"),
                             {"end": horizon_end}) == 0


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_tick_works_on_one_connection_however_often_its_statements_are_prepared(app, backend, make_chrono):
    """psycopg prepares a statement after a few executions, and PostgreSQL may then
    plan it generically: the dispatcher's ON CONFLICT must still find its partial
    index. Forced here from the first execution, on one connection, twelve ticks."""
    from chronoflow import tasks

    engine = db.engine
    engine.dispose()

    @event.listens_for(engine, "connect")
    def prepare_everything_generically(dbapi_connection, _record):
        dbapi_connection.prepare_threshold = 0
        dbapi_connection.execute("SET plan_cache_mode = force_generic_plan")
        dbapi_connection.commit()

    connections = set()
    try:
        for tick in range(12):
            chrono = make_chrono(schedule="@yearly", name=f"tick {tick}")
            db.session.execute(update(Chrono).where(Chrono.id == chrono.id).values(next_run_at=utcnow()))
            db.session.commit()
            connections.add(id(db.session.connection().connection.dbapi_connection))
            assert tasks.dispatch_due() == 1, f"tick {tick}"
    finally:
        event.remove(engine, "connect", prepare_everything_generically)
        engine.dispose()
    assert len(connections) == 1
    assert db.session.scalar(text("SELECT count(*) FROM chrono_runs")) == 12
