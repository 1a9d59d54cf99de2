"""Schedules: what people type -> cron, when it fires, and how to say it back.

- ``normalize(text)``: "todo dia às 18:30", "every 15 minutes", "0 9 * * 1-5"... -> cron
  (5 fields, or 6 with seconds first); ``ScheduleError`` says what is wrong.
- ``next_fire_time`` / ``fire_times``: in the chrono's timezone, Debian cron DST rules,
  results in aware UTC.
- ``describe(cron, locale)``: a short description in English or Brazilian Portuguese.
"""

from .cron import has_seconds
from .describe import describe
from .errors import ScheduleError
from .grammar import normalize
from .timing import fire_times, next_fire_time, validate_timezone

__all__ = [
    "ScheduleError",
    "describe",
    "fire_times",
    "has_seconds",
    "next_fire_time",
    "normalize",
    "validate_timezone",
]
