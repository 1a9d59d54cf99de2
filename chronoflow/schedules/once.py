"""One-time schedules: "em 24/12 às 18h", "25/12/2026 10:00", "amanhã às 9", "daqui a 2 horas",
"tomorrow at 9am", "in 2 hours", or an ISO timestamp.

Numeric dates are read day-first, as Brazil writes them (``03/04`` is 3 April); a date
without a year is its next occurrence. A wall time is in the chrono's timezone: one that
does not exist (spring forward) moves to the first minute after the gap, as a daily cron
job would; one that happens twice (fall back) is its first occurrence.

``read_once`` answers None for text that is not a one-time phrase, so the recurring
grammar gets its turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from flask_babel import lazy_gettext as _l

from .cron import looks_like_cron
from .errors import ScheduleError, not_understood
from .grammar import _TIME, _clock, _fold
from .timing import validate_timezone

UTC = timezone.utc

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[tT ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[zZ]|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"(?<![\d/])(?P<day>\d{1,2})/(?P<month>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?(?![\d/])")
_MONTH_NAMES = {
    **{name: n for n, name in enumerate(("janeiro", "fevereiro", "marco", "abril", "maio", "junho", "julho",
                                         "agosto", "setembro", "outubro", "novembro", "dezembro"), 1)},
    **{name: n for n, name in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                         "august", "september", "october", "november", "december"), 1)},
    **{name: n for n, name in enumerate(("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out",
                                         "nov", "dez"), 1)},
    **{name: n for n, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                         "nov", "dec"), 1)},
}
_MONTH = "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))
# "24 de dezembro (de 2026)", "24 december (2026)", "december 24(th)(, 2026)"
_NAMED_DATE = re.compile(
    rf"\b(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th|o)? (?:de )?(?P<month>{_MONTH})\.?(?:,? (?:de )?(?P<year>\d{{4}}))?"
    rf"|(?P<month2>{_MONTH})\.? (?P<day2>\d{{1,2}})(?:st|nd|rd|th)?(?:,? (?P<year2>\d{{4}}))?)\b")
_ISO_DATE = re.compile(r"(?<![\d-])(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?![\d-])")
_RELATIVE_DAY = re.compile(r"\b(?P<word>hoje|today|amanha|tomorrow|depois de amanha)\b")
_FROM_NOW = re.compile(
    r"(?:daqui a|daqui|em|dentro de|in) (?P<n>\d{1,7}|um|uma|an|a|one) (?P<unit>minutos?|mins?|minutes?|horas?|hours?|"
    r"hrs?|dias?|days?)(?: (?:a partir de agora|from now))?")
_DATE_FILLER = {"em", "no", "na", "dia", "on", "the", "de", "do", "da", "at", "as", "a", "o", ",", "-", "para",
                "for", "of"}
_WORD_NUMBERS = {"um": 1, "uma": 1, "an": 1, "a": 1, "one": 1}
_UNIT_SECONDS = {"min": 60, "hor": 3600, "hou": 3600, "hr": 3600, "dia": 86400, "day": 86400}


@dataclass(frozen=True)
class Once:
    run_at: datetime  # aware UTC
    text: str  # the canonical text to keep: what "amanhã às 9" meant, in the chrono's zone


# croniter computes up to 2099: no date in its last year (a next run may fall past it).
FIRST_YEAR, LAST_YEAR = 1970, 2098


def read_once(text: str, tz: str, now: datetime, past_ok: bool = False) -> Once | None:
    """The moment a one-time phrase means, or None when ``text`` is not one.

    Raises ScheduleError for a date that does not exist, is out of FIRST_YEAR..LAST_YEAR or
    (unless ``past_ok``: a saved chrono's date read back) has passed.
    """
    collapsed = " ".join((text or "").split())
    try:
        once = _read_once(collapsed, tz, now, past_ok)
    except (OverflowError, ValueError) as error:
        if isinstance(error, ScheduleError):
            raise
        raise _out_of_range(collapsed) from None
    if once is not None and not FIRST_YEAR <= once.run_at.year <= LAST_YEAR:
        raise _out_of_range(collapsed)
    return once


def _out_of_range(text: str) -> ScheduleError:
    return not_understood(text, _l("give a date between %(first)s and %(last)s.",
                                   first=FIRST_YEAR, last=LAST_YEAR))


def _read_once(collapsed: str, tz: str, now: datetime, past_ok: bool) -> Once | None:
    zone = validate_timezone(tz)
    if collapsed.startswith("@") or looks_like_cron(collapsed):
        return None  # "0 9 1/2 * *" has a slash, not a date
    if _ISO.fullmatch(collapsed):
        try:
            moment = datetime.fromisoformat(collapsed.replace("z", "Z"))
        except ValueError:
            raise not_understood(collapsed, _l("it is not a valid date and time.")) from None
        if moment.tzinfo is None:
            moment = _at_wall_time(moment, zone)
        return _future(moment.astimezone(UTC), zone, now, collapsed, past_ok)
    folded = _fold(collapsed)
    from_now = _FROM_NOW.fullmatch(folded)
    if from_now:
        number = _WORD_NUMBERS.get(from_now["n"]) or int(from_now["n"])
        unit = from_now["unit"]
        seconds = number * next(size for start, size in _UNIT_SECONDS.items() if unit.startswith(start))
        if number == 0:
            raise not_understood(collapsed, _l("the time from now must be greater than zero."))
        moment = now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
        return _future(moment, zone, now, collapsed, past_ok)

    day = _DATE.search(folded) or _ISO_DATE.search(folded) or _NAMED_DATE.search(folded)
    relative = _RELATIVE_DAY.search(folded)
    if not day and not relative:
        return None
    rest = folded
    for found in (day, relative):
        if found:
            rest = rest[:found.start()] + " " + rest[found.end():]
    times = [match for match in _TIME.finditer(rest) if match["prep"] or not match["h4"] or match["period"]]
    if not times and day and not relative:
        # "25/12/2026 10:00": a bare number after a date is its time.
        times = list(_TIME.finditer(rest))
    if len(times) != 1:
        raise not_understood(collapsed, _l(
            "say one time for that day, e.g. 'amanhã às 9', 'em 24/12 às 18h' or 'tomorrow at 9am'."))
    hour, minute = _clock(times[0], collapsed)
    left = (rest[:times[0].start()] + " " + rest[times[0].end():]).replace(",", " ").split()
    if any(word not in _DATE_FILLER for word in left):
        return None  # "todo dia 24/12"? not a one-time phrase: the grammar says what is wrong

    today = now.astimezone(zone).date()
    if relative:
        if day:
            raise not_understood(collapsed, _l("give either a date or a word like 'amanhã', not both."))
        offset = {"hoje": 0, "today": 0, "amanha": 1, "tomorrow": 1, "depois de amanha": 2}[relative["word"]]
        on = today + timedelta(days=offset)
    else:
        on = _date(day, today, collapsed)
    moment = _at_wall_time(datetime(on.year, on.month, on.day, hour, minute), zone)
    if day and not (day.groupdict().get("year") or day.groupdict().get("year2")) and moment <= now \
            and on == today and not past_ok:
        raise passed(collapsed, moment, zone)
    return _future(moment, zone, now, collapsed, past_ok)


def _date(match: re.Match, today: date, original: str) -> date:
    found = match.groupdict()
    year = found.get("year") or found.get("year2")
    day = int(found.get("day") or found["day2"])
    month_text = found.get("month") or found["month2"]
    month = int(month_text) if month_text.isdigit() else _MONTH_NAMES[month_text]
    try:
        if year:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        on = date(today.year, month, day)
        # Without a year: its next occurrence ("em 05/01" in December is next January).
        return on if on >= today else date(today.year + 1, month, day)
    except ValueError:
        raise not_understood(original, _l(
            "%(day)s/%(month)s is not a date (dates are day/month, e.g. 24/12 for 24 December).",
            day=day, month=month)) from None


def _at_wall_time(naive: datetime, zone) -> datetime:
    """``naive`` as a wall time in ``zone``: the first occurrence when it happens twice,
    the first minute after the gap when it does not happen at all."""
    for _ in range(24 * 60):
        moment = naive.replace(tzinfo=zone, fold=0)
        if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
            return moment.astimezone(UTC)
        naive = (naive + timedelta(minutes=1)).replace(second=0, microsecond=0)
    raise ValueError("no such wall time")  # no zone has a day-long gap


def _future(moment: datetime, zone, now: datetime, original: str, past_ok: bool = False) -> Once:
    if moment <= now and not past_ok:
        raise passed(original, moment, zone)
    return Once(moment, canonical(moment, zone.key))


def passed(original: str, moment: datetime, zone) -> ScheduleError:
    return not_understood(original, _l(
        "%(when)s has already passed. Give a time in the future.", when=canonical(moment, zone.key)))


def canonical(moment: datetime, tz: str) -> str:
    """How a one-time schedule is kept: its wall time in the chrono's zone, "2026-12-24 18:00",
    which reads back to the same moment (what "amanhã" meant does not move)."""
    local = moment.astimezone(validate_timezone(tz))
    text = f"{local:%Y-%m-%d %H:%M}" + (f":{local.second:02d}" if local.second else "")
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        text += f"{local:%z}"[:3] + ":" + f"{local:%z}"[3:]  # the second of a repeated hour
    return text


def wall_cron(moment: datetime, tz: str) -> str:
    """The cron of a one-time schedule's wall time (what the API shows as ``cron``)."""
    local = moment.astimezone(validate_timezone(tz))
    fields = f"{local.minute} {local.hour} {local.day} {local.month} *"
    return f"{local.second} {fields}" if local.second else fields


_BOUND = re.compile(
    r"(?:(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})|(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4}))"
    r"(?:[tT ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?")


def read_bound(text: str, tz: str, end: bool = False) -> datetime:
    """A start or end date as aware UTC: an ISO timestamp with an offset is that instant;
    "2026-12-01 08:00", "2026-12-01T08:00" (a browser's datetime-local) or "01/12/2026 08:00"
    are wall times in ``tz``; a date alone is the start of that day, or for an end its
    last second (an end on 31/12 includes 31/12). Raises ScheduleError."""
    collapsed = " ".join((text or "").split())
    try:
        moment = _read_bound(collapsed, tz, end)
    except (OverflowError, ValueError) as error:
        if isinstance(error, ScheduleError):
            raise
        moment = None
    if moment is None or not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ScheduleError(_l(
            "Not a date I can read: write e.g. 31/12/2026, 31/12/2026 18:00 or 2026-12-31 18:00."))
    return moment


def _read_bound(collapsed: str, tz: str, end: bool) -> datetime:
    zone = validate_timezone(tz)
    if _ISO.fullmatch(collapsed) and re.search(r"(?:[zZ]|[+-]\d{2}:?\d{2})$", collapsed):
        try:
            return datetime.fromisoformat(collapsed).astimezone(UTC)
        except ValueError:
            pass
    match = _BOUND.fullmatch(collapsed)
    try:
        if match is None:
            raise ValueError
        year, month, day = (match["year"], match["month"], match["day"]) if match["year"] else (
            match["y"], match["m"], match["d"])
        if match["hour"] is None:
            wall = datetime(int(year), int(month), int(day), *((23, 59, 59) if end else ()))
        else:
            wall = datetime(int(year), int(month), int(day), int(match["hour"]), int(match["minute"]),
                            int(match["second"] or 0))
    except ValueError:
        raise ScheduleError(_l(
            "Not a date I can read: write e.g. 31/12/2026, 31/12/2026 18:00 or 2026-12-31 18:00.")) from None
    return _at_wall_time(wall, zone)
