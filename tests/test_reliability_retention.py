"""Bounded growth: run history is pruned per chrono, in small batches."""
from datetime import timedelta

from sqlalchemy import func, select

from chronoflow.extensions import db
from chronoflow.models import ChronoRun, RunStatus, Trigger, utcnow
from chronoflow.scheduling import retention


def add_runs(chrono, count, status=RunStatus.SUCCESS, age=timedelta(0)):
    now = utcnow()
    db.session.add_all(
        ChronoRun(chrono_id=chrono.id, scheduled_for=now - age - timedelta(seconds=n), trigger=Trigger.SCHEDULE,
                  status=status)
        for n in range(count)
    )
    db.session.commit()


def count(chrono, *where):
    return db.session.scalar(select(func.count()).select_from(ChronoRun).where(ChronoRun.chrono_id == chrono.id, *where))


def prune_all(app):
    """Prune until two calls in a row find nothing (the cursor has gone round)."""
    total, idle = 0, 0
    for _ in range(100):
        deleted = retention.prune_runs()
        db.session.commit()
        total += deleted
        idle = 0 if deleted else idle + 1
        if idle == 2:
            return total
    raise AssertionError("prune never finished")


def test_it_keeps_the_last_n_runs_of_each_chrono(app, make_chrono):
    app.config.update(RUN_RETENTION_COUNT=5, RUN_RETENTION_DAYS=0, PRUNE_BATCH_SIZE=3)
    busy, quiet = make_chrono(), make_chrono()
    add_runs(busy, 12)
    add_runs(quiet, 4)

    assert prune_all(app) == 7

    assert count(busy) == 5 and count(quiet) == 4
    newest = db.session.scalars(select(ChronoRun.scheduled_for).where(ChronoRun.chrono_id == busy.id)).all()
    assert min(newest) > utcnow() - timedelta(seconds=6)  # the five newest stayed


def test_it_deletes_runs_older_than_d_days(app, make_chrono):
    app.config.update(RUN_RETENTION_COUNT=0, RUN_RETENTION_DAYS=30)
    chrono = make_chrono()
    add_runs(chrono, 3, age=timedelta(days=31))
    add_runs(chrono, 2)
    prune_all(app)
    assert count(chrono) == 2


def test_it_never_deletes_a_run_that_is_not_final(app, make_chrono):
    app.config.update(RUN_RETENTION_COUNT=1, RUN_RETENTION_DAYS=1)
    chrono = make_chrono()
    add_runs(chrono, 3, status=RunStatus.RETRYING, age=timedelta(days=5))
    add_runs(chrono, 3, age=timedelta(days=5))
    prune_all(app)
    assert count(chrono, ChronoRun.status == RunStatus.RETRYING) == 3
    assert count(chrono, ChronoRun.status == RunStatus.SUCCESS) == 0


def test_zero_keeps_everything(app, make_chrono):
    app.config.update(RUN_RETENTION_COUNT=0, RUN_RETENTION_DAYS=0)
    chrono = make_chrono()
    add_runs(chrono, 10, age=timedelta(days=4000))
    assert prune_all(app) == 0 and count(chrono) == 10


def test_one_tick_prunes_every_chrono_in_slices_of_their_own(app, make_chrono, monkeypatch):
    """A tick goes round all chronos (time allowing), a slice per transaction, and the
    next tick starts afresh: pruning keeps up with what the dispatcher writes."""
    monkeypatch.setattr(retention, "CHRONOS_PER_CALL", 2)
    monkeypatch.setattr(retention, "ROUND_SECONDS", 0)
    monkeypatch.setattr(retention, "_cursor", {"after": 0, "round_started": None, "backlog": False})
    app.config.update(RUN_RETENTION_COUNT=2, RUN_RETENTION_DAYS=0, PRUNE_BATCH_SIZE=100)
    chronos = [make_chrono(name=f"c{n}") for n in range(7)]
    for chrono in chronos:
        add_runs(chrono, 5)

    assert retention.prune_tick() == 7 * 3
    assert [count(chrono) for chrono in chronos] == [2] * 7
    add_runs(chronos[0], 3, age=timedelta(seconds=-60))  # newer ones come in
    assert retention.prune_tick() == 3 and count(chronos[0]) == 2


def test_a_round_starts_at_most_every_round_seconds_unless_it_left_a_backlog(app, make_chrono, monkeypatch):
    """Finding each chrono's boundary walks its newest runs: a round every tick would
    pay that for every chrono to delete a row or two."""
    monkeypatch.setattr(retention, "_cursor", {"after": 0, "round_started": None, "backlog": False})
    app.config.update(RUN_RETENTION_COUNT=2, RUN_RETENTION_DAYS=0, PRUNE_BATCH_SIZE=3)
    chronos = [make_chrono(name=f"c{n}") for n in range(2)]
    for chrono in chronos:
        add_runs(chrono, 5)

    assert retention.prune_tick() == 3  # the batch is full: a backlog
    assert retention.prune_tick() == 3  # so the next tick goes on, though the round is young
    assert [count(chrono) for chrono in chronos] == [2, 2]
    assert retention.prune_tick() == 0  # round done, nothing left over

    add_runs(chronos[0], 3, age=timedelta(seconds=-60))
    assert retention.prune_tick() == 0 and count(chronos[0]) == 5  # too soon for a new round
    monkeypatch.setitem(retention._cursor, "round_started", retention._cursor["round_started"] - retention.ROUND_SECONDS)
    assert retention.prune_tick() == 3 and count(chronos[0]) == 2
