"""Schedules: what people type -> cron, when it fires, and how to say it back.

- ``normalize(text)``: "todo dia às 18:30", "every 15 minutes", "0 9 * * 1-5"... -> cron
  (5 fields, or 6 with seconds first); ``ScheduleError`` says what is wrong.
- ``next_fire_time`` / ``fire_times``: in the chrono's timezone, Debian cron DST rules,
  results in aware UTC.
- ``describe(cron, locale)``: a short description in English or Brazilian Portuguese.
- ``read_once(text, tz, now)``: a one-time phrase ("amanhã às 9") -> its moment, or None.
- ``next_run_time(cron, tz, after, offset_s=, starts_at=, ends_at=, run_at=)``: when a
  chrono fires next, all of its timing included (None: finished); ``chrono_run_times``
  and ``timing_of`` apply it to a chrono.
"""

from .cron import has_seconds
from .describe import describe, describe_once
from .errors import ScheduleError
from .grammar import normalize
from .once import Once, passed, read_bound, read_once, wall_cron
from .timing import (
    MAX_SPREAD_SECONDS,
    chrono_run_times,
    fire_times,
    next_fire_time,
    next_run_time,
    spread_offset,
    timing_of,
    validate_timezone,
)

__all__ = [
    "MAX_SPREAD_SECONDS",
    "Once",
    "ScheduleError",
    "chrono_run_times",
    "next_run_time",
    "read_once",
    "spread_offset",
    "timing_of",
    "describe",
    "describe_once",
    "passed",
    "read_bound",
    "wall_cron",
    "fire_times",
    "has_seconds",
    "next_fire_time",
    "normalize",
    "validate_timezone",
]
