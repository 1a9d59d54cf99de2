"""What can be done to a chrono, as plain functions over model objects.

They flush and never commit: the request (or CLI command) commits once, then
enqueues. Every write goes through ChronoInput, so the API and the forms accept
and refuse exactly the same things.
"""
from datetime import datetime

from sqlalchemy import delete, select, update

from .. import outcomes
from ..extensions import db
from ..models import Chrono, ChronoRun, ChronoState, RunStatus, Trigger, new_signing_secret, utcnow
from ..schedules import next_run_time, timing_of
from . import credentials
from .schemas import ChronoInput

# Fields a person edits; what they typed (schedule), not what we derived (cron).
EDITABLE = tuple(name for name in ChronoInput().fields)
# What decides when it fires: a change to any of them reschedules it.
TIMING = ("cron", "timezone", "is_active", "run_at", "starts_at", "ends_at", "spread_s")
BOUNDS = ("starts_at", "ends_at")


def as_input(chrono):
    return _bounds_as_text({name: getattr(chrono, name) for name in EDITABLE})


def _bounds_as_text(values):
    """Start and end as the API shows them (ISO, with offset): an exact instant reads back to itself."""
    for name in BOUNDS:
        if isinstance(values.get(name), datetime):
            values[name] = values[name].isoformat()
    return values


def create_chrono(values, now=None):
    """`values` come from ChronoInput().load(), as the API and the forms both do."""
    chrono = Chrono(**values, secrets_origin=credentials.origin(values.get("url")))
    db.session.add(chrono)
    db.session.flush()  # its id decides its spread offset
    chrono.next_run_at = _next_run(chrono, now) if chrono.is_active else None
    db.session.flush()
    return chrono


def update_chrono(chrono, changes, now=None):
    """Apply a partial change (raw, or loaded with partial=True); the result is
    validated whole, as a create would be. Raises marshmallow.ValidationError."""
    changes = _bounds_as_text({name: value for name, value in changes.items() if name in EDITABLE})  # not derived ones
    changes.update(resolve_masks(chrono, changes))
    values = ChronoInput(saved=chrono).load({**as_input(chrono), **changes})
    chrono.secrets_origin = credentials.origin(values.get("url"))
    timing = [getattr(chrono, name) for name in TIMING]
    for name, value in values.items():
        setattr(chrono, name, value)
    if [getattr(chrono, name) for name in TIMING] != timing:
        _reschedule(chrono, now)
    db.session.flush()
    return chrono


def resolve_masks(chrono, changes):
    """{"headers": ...} to save or test `changes` (raw) with: masked values sent back
    (the edit form, a PATCH of a GET) keep the stored ones, for the origin they were
    saved for only (see credentials.py). Raises marshmallow.ValidationError."""
    headers = changes.get("headers")
    if "headers" in changes and not isinstance(headers, dict):
        return {}  # not headers at all: ChronoInput says so
    url = changes.get("url", chrono.url)
    if not isinstance(url, str):
        url = None
    return {"headers": credentials.carry_over(headers, url, chrono.headers, chrono.url)}


def rotate_secret(chrono):
    """A new signing secret; the old one stops working at once."""
    chrono.signing_secret = new_signing_secret()
    db.session.flush()
    return chrono


def pause(chrono, now=None):
    if chrono.is_active:
        chrono.is_active = False
        _reschedule(chrono, now)
    return chrono


def resume(chrono, now=None):
    """Continue from now: occurrences missed while paused are not replayed."""
    if not chrono.is_active:
        chrono.is_active = True
        # A fresh start: an auto-paused chrono gets its full failure allowance again.
        chrono.paused_reason = None
        chrono.consecutive_failures = 0
        _reschedule(chrono, now)
    return chrono


def trigger_now(chrono, now=None):
    """A manual run, through the same executor path as a scheduled one."""
    run = ChronoRun(
        chrono_id=chrono.id,
        scheduled_for=now or utcnow(),
        trigger=Trigger.MANUAL,
        status=RunStatus.PENDING,
    )
    db.session.add(run)
    db.session.flush()
    return run


def delete_chrono(chrono):
    # Runs go with it (ON DELETE CASCADE): a task still queued finds no row.
    db.session.delete(chrono)
    db.session.flush()


STATES = ("active", "paused", "finished", "failing")


# Counts stop here: past it an exact count would read the whole history (or
# list) for every page shown. Pages and the API say "100,000" then.
COUNT_CAP = 100_000


def _count(query):
    """Rows of `query` (a select of one column), counted up to COUNT_CAP."""
    return db.session.scalar(select(db.func.count()).select_from(query.limit(COUNT_CAP).subquery()))


def list_chronos(skip=0, take=20, search=None, state=None):
    """(total, page) of chronos, optionally by name and by state (see STATES)."""
    where = []
    if search:
        # A substring, % and _ taken literally; PostgreSQL answers from a trigram index.
        where.append(Chrono.name.icontains(search, autoescape=True))
    if state == "active":
        where.append(Chrono.is_active == True)  # noqa: E712
        where.append(Chrono.next_run_at != None)  # noqa: E711
    elif state == ChronoState.FINISHED:
        where.append(Chrono.is_active == True)  # noqa: E712
        where.append(Chrono.next_run_at == None)  # noqa: E711
    elif state == "paused":
        where.append(Chrono.is_active == False)  # noqa: E712
    elif state == "failing":
        where.append(Chrono.last_run_status == RunStatus.FAILED)
    total = _count(select(Chrono.id).where(*where))
    page = select(Chrono.id).where(*where).order_by(Chrono.id).offset(skip).limit(take)
    items = db.session.scalars(select(Chrono).where(Chrono.id.in_(page.scalar_subquery())).order_by(Chrono.id)).all()
    return total, items


def list_runs(chrono, skip=0, take=20, status=None, now=None):
    """The history: runs that came due, newest first (not those dispatched ahead).

    The page's ids come from the (chrono_id, scheduled_for, id) index alone, so a
    deep page skips index entries, not rows; then only its rows are read.
    """
    where = (ChronoRun.chrono_id == chrono.id, ChronoRun.scheduled_for <= (now or utcnow()),
             *([ChronoRun.status == status] if status else []))
    newest_first = (ChronoRun.scheduled_for.desc(), ChronoRun.id.desc())
    total = _count(select(ChronoRun.id).where(*where))
    page = select(ChronoRun.id).where(*where).order_by(*newest_first).offset(skip).limit(take)
    items = db.session.scalars(
        select(ChronoRun).where(ChronoRun.id.in_(page.scalar_subquery())).order_by(*newest_first)
    ).all()
    return total, items


def _next_run(chrono, now=None):
    """The first run time from now (None: nothing left to run, the chrono is finished)."""
    return next_run_time(chrono.cron, chrono.timezone, now or utcnow(), **timing_of(chrono))


def _reschedule(chrono, now=None):
    """Recompute next_run_at, and withdraw runs dispatched ahead for the old timing.

    Runs due in the future that have not started never happened: their rows go,
    and their queued tasks will find nothing. Runs already due but not started
    when a chrono is paused are recorded as cancelled.
    """
    now = now or utcnow()
    waiting = (
        ChronoRun.chrono_id == chrono.id,
        ChronoRun.trigger == Trigger.SCHEDULE,
        ChronoRun.status == RunStatus.PENDING,
    )
    db.session.execute(
        delete(ChronoRun).where(*waiting, ChronoRun.scheduled_for > now).execution_options(synchronize_session=False)
    )
    if not chrono.is_active:
        db.session.execute(
            update(ChronoRun)
            .where(*waiting)
            .values(
                status=RunStatus.CANCELLED,
                finished_at=now,
                error_message=outcomes.describe("cancelled", {}, locale="en"),
                # Runs waiting for their first attempt have no result yet.
                result={"error_code": "cancelled", "error_params": {}},
            )
            .execution_options(synchronize_session=False)
        )
    chrono.next_run_at = _next_run(chrono, now) if chrono.is_active else None


def recent_outcomes(chrono, limit=30):
    """The last finished runs, oldest first: what the detail page's chart draws."""
    runs = db.session.scalars(
        select(ChronoRun)
        .where(ChronoRun.chrono_id == chrono.id, ChronoRun.status.in_((RunStatus.SUCCESS, RunStatus.FAILED)))
        .order_by(ChronoRun.scheduled_for.desc())
        .limit(limit)
    ).all()
    return runs[::-1]
