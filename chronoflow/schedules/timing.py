"""When a schedule fires, in its own timezone, with Debian cron's DST rules.

croniter computes in the tzinfo of the start datetime, so ``after`` is converted to the
chrono's ZoneInfo first and every result goes back to UTC. On top of croniter:

- fall back (a wall time happens twice): a *fixed-time* job fires only at the first
  occurrence; a *wildcard* job (minute, hour or seconds field starting with ``*``, e.g.
  ``0 * * * *`` or ``*/15 1 * * *``) fires in both real hours. Debian's cron uses the
  same split (its MIN_STAR/HR_STAR flags);
- spring forward (a wall time does not exist): croniter moves such a time to the first
  instant after the gap (02:30 -> 03:00). Debian cron does that for fixed-time jobs
  only; a wildcard job skips the missing times, so we drop the moved occurrence.

``next_fire_time`` is on the scheduler's hot path: results are cached on
(cron, tz, after-in-UTC), and zones are looked up once.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import zoneinfo
from datetime import datetime, timedelta, timezone

from croniter import croniter
from croniter.croniter import CroniterError
from flask_babel import lazy_gettext as _l

from .cron import has_seconds
from .errors import ScheduleError

UTC = timezone.utc
_MAX_SKIPPED = 10_000  # a fixed job skips at most one repeated hour's worth of matches


@functools.lru_cache(maxsize=1024)
def validate_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The ZoneInfo for an IANA name (case-insensitive); ScheduleError if unknown.

    ``zone.key`` is the canonical spelling, e.g. "America/Sao_Paulo" for
    "america/sao_paulo": store that.
    """
    key = _zone_keys().get(str(name or "").strip().lower())
    if key is None:
        raise ScheduleError(_l(
            "'%(name)s' is not a timezone I know. Use a name like 'America/Sao_Paulo' or 'UTC'.",
            name=name,
        ))
    return zoneinfo.ZoneInfo(key)


@functools.lru_cache(maxsize=1)
def _zone_keys() -> dict[str, str]:
    return {key.lower(): key for key in zoneinfo.available_timezones()}


def next_fire_time(cron: str, tz: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (aware, any zone), as aware UTC."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be an aware datetime")
    return _next_fire_time(cron, tz, after.astimezone(UTC))


def fire_times(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``, as aware UTC."""
    if count < 0:
        raise ValueError("count must not be negative")
    times = []
    for _ in range(count):
        after = next_fire_time(cron, tz, after)
        times.append(after)
    return times


@functools.lru_cache(maxsize=16384)
def _next_fire_time(cron: str, tz: str, after: datetime) -> datetime:
    zone = validate_timezone(tz)
    six = len(_fields(cron)) == 6
    wildcard = _is_wildcard(cron)
    try:
        candidates = _iterator(cron, six)
        candidates.set_current(after.astimezone(zone), force=True)
        for _ in range(_MAX_SKIPPED):
            fire = candidates.get_next(datetime).astimezone(UTC)
            local = fire.astimezone(zone)  # sets fold right for a repeated wall time
            if fire <= after:
                continue
            if wildcard:
                if not _matches_wall_time(local, cron):
                    continue  # moved out of a spring-forward gap
            elif _is_repeated_wall_time(local):
                continue  # already fired at the first occurrence of this wall time
            return fire
    except CroniterError as error:
        raise ScheduleError(_l("'%(cron)s' is not a valid cron expression.", cron=cron)) from error
    raise RuntimeError(f"no fire time found for {cron!r} in {tz} after {after}")


_iterators = threading.local()


def _iterator(cron: str, six: bool) -> croniter:
    """A croniter for `cron`, made once per thread and moved to each new start: parsing
    and expanding the expression costs more than finding the next time."""
    made = getattr(_iterators, "made", None)
    if made is None:
        made = _iterators.made = {}
    found = made.get(cron)
    if found is None:
        if len(made) >= 4096:
            made.clear()
        found = made[cron] = croniter(cron, 0, second_at_beginning=six)
    return found


@functools.lru_cache(maxsize=4096)
def _fields(cron: str) -> tuple[str, ...]:
    fields = tuple(cron.split())
    if len(fields) not in (5, 6):
        raise ScheduleError(_l("'%(cron)s' is not a valid cron expression.", cron=cron))
    return fields


@functools.lru_cache(maxsize=4096)
def _is_wildcard(cron: str) -> bool:
    """Debian cron's 'wildcard job': the seconds, minute or hour field starts with '*'."""
    time_fields = _fields(cron)[:3] if has_seconds(cron) else _fields(cron)[:2]
    return any(field.startswith("*") for field in time_fields)


def _is_repeated_wall_time(local: datetime) -> bool:
    """True for the second occurrence of an ambiguous wall time (fall back)."""
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _matches_wall_time(local: datetime, cron: str) -> bool:
    """Whether the local wall clock matches the second, minute and hour fields."""
    seconds, minutes, hours = _expanded_time_fields(cron)
    return (
        (seconds is None or local.second in seconds)
        and (minutes is None or local.minute in minutes)
        and (hours is None or local.hour in hours)
    )


@functools.lru_cache(maxsize=4096)
def _expanded_time_fields(cron: str):
    """(seconds, minutes, hours) as sets of values; None stands for '*'."""
    six = has_seconds(cron)
    expanded = croniter.expand(cron, second_at_beginning=six)[0]
    # croniter's order: minute, hour, day, month, weekday[, second]
    seconds = expanded[5] if six else [0]
    return tuple(None if values == ["*"] else frozenset(values)
                 for values in (seconds, expanded[0], expanded[1]))


# --- the whole timing of a chrono ----------------------------------------------------

SPREAD_SALT = b"chronoflow-spread-v1:"
MAX_SPREAD_SECONDS = 3600


def spread_offset(chrono_id: int | None, spread_s: int | None) -> int:
    """The chrono's fixed delay, in whole seconds, within its spread window [0, spread_s).

    A hash of the id with a fixed salt (not Python's hash(), which changes with every
    process): the same chrono fires at the same moment in every process and after every
    restart, and many chronos on the same cron fire spread over the window, as Jenkins' H.
    """
    if not spread_s or chrono_id is None:
        return 0
    digest = hashlib.sha256(SPREAD_SALT + str(chrono_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % spread_s


def next_run_time(cron: str, tz: str, after: datetime, *, offset_s: int = 0, starts_at: datetime | None = None,
                  ends_at: datetime | None = None, run_at: datetime | None = None) -> datetime | None:
    """When a chrono fires next, strictly after ``after``: aware UTC, or None when it never
    will again (a one-time run that came, or past its end: the chrono is finished).

    The one answer the whole app uses (dispatcher, preview, lists, agenda):
    - ``run_at``: a one-time chrono fires then, once, and ``cron`` is ignored;
    - ``offset_s``: the spread offset (``spread_offset``), added to every cron time, so
      what is returned is the real moment (the run's scheduled_for);
    - ``starts_at`` / ``ends_at`` (aware): no run before / after them, the offset included.
    """
    if run_at is not None:
        return run_at if run_at > after else None
    if starts_at is not None and after < starts_at:
        after = starts_at - timedelta(microseconds=1)  # a run exactly at the start counts
    shift = timedelta(seconds=offset_s)
    fire = next_fire_time(cron, tz, after - shift) + shift
    if ends_at is not None and fire > ends_at:
        return None
    return fire


def timing_of(chrono) -> dict:
    """``next_run_time``'s keyword arguments for a chrono (a model, or a row with its columns)."""
    return {
        "offset_s": spread_offset(getattr(chrono, "id", None), getattr(chrono, "spread_s", 0)),
        "starts_at": getattr(chrono, "starts_at", None),
        "ends_at": getattr(chrono, "ends_at", None),
        "run_at": getattr(chrono, "run_at", None),
    }


def chrono_run_times(chrono, after: datetime, count: int, until: datetime | None = None) -> list[datetime]:
    """The chrono's next run times after ``after``, aware UTC: at most ``count``, none later
    than ``until`` (e.g. an agenda's next 24 hours), fewer when it finishes before."""
    timing, times = timing_of(chrono), []
    while len(times) < count:
        after = next_run_time(chrono.cron, chrono.timezone, after, **timing)
        if after is None or (until is not None and after > until):
            break
        times.append(after)
    return times
