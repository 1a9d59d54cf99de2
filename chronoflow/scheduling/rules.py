"""The rules that decide, when a run is about to start, whether it runs at all.

Applied at the run's own start time, whatever brought it there (the queue on
time, a re-delivery, the recovery sweep), to one run or to thousands at once:
- a paused chrono's scheduled run is cancelled;
- a first attempt later than its chrono's misfire grace follows the misfire
  policy: "skip" skips it; "coalesce" lets one late run of the chrono call
  for all of them, the others are skipped as covered by it;
- with the overlap policy "skip", a first attempt is skipped while another run
  of its chrono is mid-call.
"""
import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from .. import executors
from ..extensions import db
from ..models import ChronoRun, RunStatus, Trigger, utcnow
from ..schedules import next_fire_time
from .sql import among

RUNS = ChronoRun.__table__


def misfire_policy(chrono):
    return (chrono.config or {}).get("misfire_policy", "coalesce")


def misfire_grace(chrono, config=None):
    """How late a first attempt may start before the misfire policy decides for it."""
    seconds = (chrono.config or {}).get("misfire_grace_s")
    if seconds is None:
        seconds = (config or current_app.config)["MISFIRE_GRACE_SECONDS"]
    return timedelta(seconds=seconds)


def missed(runs, now, config):
    """{run id: (error code, its parameters)} for the first attempts of `runs` that are too late to call."""
    decided = {}
    for run in runs:
        late = now - run.scheduled_for
        grace = misfire_grace(run.chrono, config)
        if late <= grace:
            continue
        seconds = int(late.total_seconds())
        if misfire_policy(run.chrono) == "skip":
            decided[run.id] = ("missed", {"seconds": seconds})
        elif _covered(run, now - grace):
            decided[run.id] = ("coalesced", {"seconds": seconds})
    return decided


RAN = (RunStatus.SKIPPED, RunStatus.CANCELLED)


def _covered(run, late_before):
    """Whether another late run of the chrono stands for this one: a newer late
    occurrence that will run or ran (the newest late one calls), or the one before
    it, if that one started after this one's time (runs queued before a stop,
    delivered at once when the worker came back, and then the tick's catch-up run)."""
    other = aliased(ChronoRun)
    newer_late = select(exists().where(
        other.chrono_id == run.chrono_id, other.trigger == Trigger.SCHEDULE,
        other.scheduled_for > run.scheduled_for, other.scheduled_for < late_before, other.status.notin_(RAN),
    ))
    if db.session.scalar(newer_late):
        return True
    previous_start = db.session.scalar(
        select(other.started_at)
        .where(other.chrono_id == run.chrono_id, other.trigger == Trigger.SCHEDULE,
               other.scheduled_for < run.scheduled_for, other.status.notin_(RAN))
        .order_by(other.scheduled_for.desc())
        .limit(1)
    )
    return previous_start is not None and previous_start >= run.scheduled_for


def overlap_policy(chrono, config=None):
    """"allow" or "skip"; unset: skip when occurrences come faster than the timeout,
    since then one slow target would otherwise pile up calls."""
    chosen = (chrono.config or {}).get("overlap_policy")
    if chosen:
        return chosen
    config = config or current_app.config
    timeout = executors.longest_attempt(chrono, config)
    return "skip" if _interval(chrono.cron, chrono.timezone, utcnow()) < timeout else "allow"


# (cron, timezone) -> (computed at, next fire time, the interval after it). The
# next fire time after `now` stays the same from `computed at` until it comes, so
# the entry answers exactly as a fresh computation would until then.
_intervals = {}


def _interval(cron, tz, now):
    """Time between the next two occurrences after `now`."""
    key = (cron, tz)
    cached = _intervals.get(key)
    if cached is not None and cached[0] <= now < cached[1]:
        return cached[2]
    first = next_fire_time(cron, tz, now)
    interval = next_fire_time(cron, tz, first) - first
    if len(_intervals) >= 4096:
        _intervals.clear()
    _intervals[key] = (now, first, interval)
    return interval


def overlapping(runs, now, config):
    """Ids of `runs` whose chrono says skip on overlap and has another run mid-call: one query."""
    alive_since = {}
    for run in runs:
        if overlap_policy(run.chrono, config) == "skip":
            # An attempt "running" past its timeout lost its worker: the sweep's
            # business, and it must not block the chrono meanwhile.
            timeout = executors.longest_attempt(run.chrono, config)
            alive_since[run.chrono_id] = now - timeout - timedelta(seconds=5)
    if not alive_since:
        return set()
    mine = {run.id for run in runs}
    busy = {
        chrono_id
        for run_id, chrono_id, started_at in db.session.execute(
            select(RUNS.c.id, RUNS.c.chrono_id, RUNS.c.attempt_started_at).where(
                among(RUNS.c.chrono_id, alive_since),
                RUNS.c.status == RunStatus.RUNNING,
                RUNS.c.attempt_started_at > min(alive_since.values()),
            )
        )
        if run_id not in mine and started_at > alive_since[chrono_id]
    }
    return {run.id for run in runs if run.chrono_id in busy}


def may_retry(run):
    """A paused chrono's scheduled runs stop retrying; a manual run finishes what it began."""
    return run.trigger == Trigger.MANUAL or run.chrono.is_active


def max_attempts(chrono, config):
    return (chrono.config or {}).get("max_attempts", config["DEFAULT_MAX_ATTEMPTS"])


def backoff_seconds(chrono, attempt_number, retry_after_s=None):
    """Exponential backoff with jitter, capped; a target's Retry-After wins if longer."""
    config = current_app.config
    settings = chrono.config or {}
    base = settings.get("retry_backoff_s", config["RETRY_BACKOFF_SECONDS"])
    cap = settings.get("max_backoff_s", config["RETRY_MAX_BACKOFF_SECONDS"])
    delay = min(cap, base * 2 ** (attempt_number - 1))
    delay = random.uniform(delay / 2, delay)  # jitter: retries of many chronos spread out
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap))
    return delay
