"""What a person types -> canonical cron (see ``cron.py`` for the canonical form).

Accepted, in Portuguese and English, case- and accent-insensitive:

- cron expressions (5 fields, or 6 with seconds first) and ``@daily``-style macros;
- intervals: ``2 min``, ``30s``, ``a cada 15 minutos``, ``every hour``, ``de 5 em 5 minutos``,
  ``de hora em hora``; N must divide 60 (seconds, minutes) or 24 (hours), because cron
  restarts the count every minute/hour/day;
- a day phrase with an optional time of day (``18``, ``18h``, ``18:30``, ``18h30``,
  ``18.30``, ``6pm``, ``meio-dia``, ``midnight``...; default 00:00): ``todo dia``,
  ``toda segunda``, ``seg, qua e sex``, ``de segunda a sexta``, ``dias úteis``,
  ``fins de semana``, ``todo dia 5``, ``dia 1 e 15 de cada mês``,
  ``every month on the 1st``; a time alone means every day.

The time is found first (a bare number counts as a time only after ``às``/``at``), the
rest is read word by word, ignoring filler words ("todo", "de", "the", "on"...).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from .cron import bad_day_of_month, bad_hour, bad_minute, canonical_cron, looks_like_cron
from .errors import ScheduleError, cannot_schedule, not_understood

# --- intervals -----------------------------------------------------------------------

_UNITS = {  # word -> seconds
    **dict.fromkeys(("s", "seg", "segs", "sec", "secs", "second", "seconds",
                     "segundo", "segundos"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "minuto", "minutos"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "hora", "horas"), 3600),
}
_CALENDAR_UNITS = {"d", "dia", "dias", "day", "days", "semana", "semanas", "week", "weeks",
                   "mes", "meses", "month", "months"}
_FIXED_INTERVALS = {
    "hourly": 3600,
    "minutely": 60,
    "de hora em hora": 3600,
    "de minuto em minuto": 60,
    "de segundo em segundo": 1,
    "meia hora": 1800,
    "a cada meia hora": 1800,
    "cada meia hora": 1800,
    "de meia em meia hora": 1800,
    "every half hour": 1800,
    "every half an hour": 1800,
}
_INTERVAL = re.compile(
    r"(?:(?P<prefix>a cada|cada|every|each|toda|todo|todas as|todos os) )?"
    r"(?P<n>\d+)? ?(?P<unit>[a-z]+)"
)
_DE_N_EM_N = re.compile(r"de (?P<n>\d+) em (?P=n) ?(?P<unit>[a-z]+)")

# --- time of day ---------------------------------------------------------------------

_TIME = re.compile(
    r"""
    (?:(?<!\w)(?P<prep>as|a|ao|at|@)\ ?)?
    (?:
        (?P<h1>\d+)\ ?[:h.]\ ?(?P<m1>\d+)\ ?(?P<ap1>[ap]\.?m\.?)?(?:hs?|hrs)?
      | (?P<h2>\d+)\ ?(?P<ap2>[ap]\.?m\.?)
      | (?P<h3>\d+)\ ?(?:hs?|hrs|horas?)
      | (?P<word>meio[\ -]?dia|meia[\ -]?noite|noon|midnight)
      | (?P<h4>\d+)
    )
    (?:\ e\ (?P<half>meia))?  # "meio-dia e meia", "as 6 e meia"
    (?:\ (?P<period>(?:da|de|a)\ (?:manha|tarde|noite|madrugada)))?  # "as 6 da tarde"
    (?![\w:])
    """,
    re.VERBOSE,
)
_NOON = {"meio dia", "meio-dia", "meiodia", "noon"}

# --- day phrases ---------------------------------------------------------------------

_WEEKDAYS = {
    **dict.fromkeys(("domingo", "dom", "sunday", "sun"), 0),
    **dict.fromkeys(("segunda", "seg", "monday", "mon"), 1),
    **dict.fromkeys(("terca", "ter", "tuesday", "tue", "tues"), 2),
    **dict.fromkeys(("quarta", "qua", "wednesday", "wed", "weds"), 3),
    **dict.fromkeys(("quinta", "qui", "thursday", "thu", "thur", "thurs"), 4),
    **dict.fromkeys(("sexta", "sex", "friday", "fri"), 5),
    **dict.fromkeys(("sabado", "sab", "saturday", "sat"), 6),
}
_WORD_KINDS = {
    **dict.fromkeys(("todo", "toda", "todos", "todas", "o", "os", "as", "de", "do", "da",
                     "dos", "das", "no", "na", "nos", "nas", "aos", "em", "cada", "every",
                     "each", "on", "the", "of", "all", "from", "in", ",", "e", "and", "&"),
                    "filler"),
    **dict.fromkeys(("a", "ate", "to", "through", "thru", "until", "-"), "range"),
    **dict.fromkeys(("dia", "dias", "day", "days", "diariamente", "diario", "daily",
                     "everyday"), "day"),
    **dict.fromkeys(("util", "uteis", "weekday", "weekdays", "business", "working",
                     "workday", "workdays"), "workday"),
    **dict.fromkeys(("fim", "fins", "final", "finais", "weekend", "weekends"), "weekend"),
    **dict.fromkeys(("semana", "semanas", "week", "weekly", "semanal", "semanalmente"),
                    "week"),
    **dict.fromkeys(("mes", "meses", "month", "months", "monthly", "mensal", "mensalmente"),
                    "month"),
    **dict.fromkeys(("primeiro", "first"), "first"),
    **dict.fromkeys(_UNITS, "unit"),
}
_WEEKLY_PREFIXES = {"toda", "todas", "todo", "todos", "every", "each", "on", "nas", "aos", "as"}
_NUMBER_LEADS = {"dia", "dias", "day", "days", "the"}
_JOINERS = {",", "e", "and", "&"}
_TOKEN = re.compile(r"\d+[a-z]*|[a-z]+|[,&-]|\S")  # any other symbol is an unknown word
_DAY_NUMBER = re.compile(r"(\d+)(?:st|nd|rd|th|o|a)?")
_DASHES = re.compile("[\u2010-\u2015\u2212]")


def normalize(text: str) -> str:
    """What a person typed -> canonical cron. Raises ScheduleError saying what is wrong."""
    collapsed = " ".join((text or "").split())
    if not collapsed:
        raise ScheduleError(_l(
            "The schedule is empty. Type e.g. 'every 5 minutes', 'todo dia às 18:30' "
            "or a cron expression like '0 9 * * 1-5'."
        ))
    return _normalize(collapsed)


@functools.lru_cache(maxsize=2048)
def _normalize(text: str) -> str:
    if text.startswith("@") or looks_like_cron(text):
        return canonical_cron(text, text)
    folded = _refuse_vague(_fold(text), text)
    cron = _interval(folded, text) or _hours_between(folded, text) or _day_phrase(folded, text)
    return canonical_cron(cron, text)


# --- phrases that leave out what cron needs ----------------------------------------------

_NEEDS_A_TIME = {  # said alone, these used to mean midnight in silence
    **dict.fromkeys(("diariamente", "diario", "daily"), _l(
        "say at what time, e.g. 'todo dia às 9' or 'every day at 9am'.")),
    **dict.fromkeys(("mensalmente", "mensal", "monthly"), _l(
        "say which day of the month and at what time, e.g. 'todo dia 1 às 9' or 'every month on the 1st "
        "at 9am'.")),
}
_ONCE_A = re.compile(r"(?:uma|1) vez (?:por|ao|a|na|no|cada) (?P<unit>dia|semana|mes)"
                     r"|once (?:a|per|every|each) (?P<en_unit>day|week|month)")
_TIMES_A = re.compile(r"(?:duas|tres|quatro|\d+) vezes (?:por|ao|a|na|no|cada) (?:dia|semana|mes)"
                      r"|(?:twice|thrice|(?:two|three|four|\d+) times) (?:a|per|every|each) (?:day|week|month)"
                      r"|twice daily")


def _refuse_vague(folded: str, original: str) -> str:
    """"uma vez por semana", "twice a day": understood, but not a schedule yet. Returns the
    text to read on ("uma vez por dia às 9" is "às 9")."""
    once = _ONCE_A.search(folded)
    if once:
        unit = once["unit"] or {"day": "dia", "week": "semana", "month": "mes"}[once["en_unit"]]
        rest = " ".join((folded[:once.start()] + " " + folded[once.end():]).split())
        if unit == "dia" and rest:
            return rest
        if unit == "semana":
            raise not_understood(original, _l(
                "say which day of the week, e.g. 'toda segunda às 9' or 'every monday at 9'."))
        raise not_understood(original, _NEEDS_A_TIME["diariamente" if unit == "dia" else "mensalmente"])
    if _TIMES_A.search(folded):
        raise not_understood(original, _l(
            "give the times in a cron expression, e.g. '0 9,18 * * *' (every day at 09:00 and 18:00) or "
            "'0 9 * * 1,4' (Mondays and Thursdays at 09:00)."))
    return folded


# --- "de hora em hora das 8 às 18", "every hour from 8 to 18 on weekdays" ------------------

_BETWEEN = re.compile(
    r"(?P<every>.+?) (?:das|de|from|between) (?P<first>\d{1,2})(?:h|:00|h00)? ?(?P<ap1>[ap])?\.?(?:m\.?)?"
    r" (?:as|a|ate|to|and|until|till|-) (?P<last>\d{1,2})(?:h|:00|h00)? ?(?P<ap2>[ap])?\.?(?:m\.?)?"
    r"(?: (?P<days>.+))?"
)


def _hours_between(folded: str, original: str) -> str | None:
    """Cron for an interval limited to some hours of the day, or None."""
    match = _BETWEEN.fullmatch(folded)
    if match is None:
        return None
    interval = _interval(match["every"], original)
    if interval is None:
        return None
    first = _hour_of(int(match["first"]), match["ap1"], original)
    last = _hour_of(int(match["last"]), match["ap2"], original)
    if first >= last:
        raise not_understood(original, _l(
            "the hours go from the earlier to the later one, e.g. 'das 8 às 18' or 'from 8 to 18'."))
    day_of_month, day_of_week = _days(match["days"] or "", original, has_time=True)
    minute, hour = interval.split()[:2]
    if len(interval.split()) == 6 or minute.startswith("*") and hour != "*":
        return None  # seconds, or minutes within hours: not a shape this phrase makes
    if minute.startswith("*"):  # every N minutes: until the last hour starts
        hours = f"{first}-{last - 1}" if last - 1 > first else str(first)
    elif hour == "*":
        hours = f"{first}-{last}"
    else:
        hours = f"{first}-{last}/{hour.removeprefix('*/')}"
    return f"{minute} {hours} {day_of_month} * {day_of_week}"


def _hour_of(hour: int, am_pm: str | None, original: str) -> int:
    if am_pm:
        if not 1 <= hour <= 12:
            raise not_understood(original, _l(
                "%(value)s is not a valid hour on a 12-hour clock (1-12).", value=hour))
        return hour % 12 + (12 if am_pm == "p" else 0)
    if not 0 <= hour <= 23:
        raise not_understood(original, bad_hour(hour))
    return hour


def _fold(text: str) -> str:
    """Lower case, no accents, one kind of dash, single spaces, no end punctuation."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char)).lower()
    text = " ".join(_DASHES.sub("-", text).split())
    return text.strip(".!;'\"` ")


def _interval(folded: str, original: str) -> str | None:
    """Cron for an interval phrase, or None when the text is not one."""
    seconds = _FIXED_INTERVALS.get(folded)
    if seconds is None:
        match = _DE_N_EM_N.fullmatch(folded) or _INTERVAL.fullmatch(folded)
        if match is None:
            return None
        number, unit = match["n"], match["unit"]
        if unit in _CALENDAR_UNITS and number is not None:
            raise cannot_schedule(original, _l(
                "intervals of days, weeks or months cannot be expressed in cron, which "
                "restarts the count every month. Try e.g. 'todo dia às 9', "
                "'toda segunda às 9' or 'todo dia 1 às 9'."
            ))
        if unit not in _UNITS:
            return None
        if number is None and match.groupdict().get("prefix") is None:
            return None
        seconds = int(number or 1) * _UNITS[unit]
    return _interval_cron(seconds, original)


def _interval_cron(seconds: int, original: str) -> str:
    if seconds == 0:
        raise not_understood(original, _l("the interval must be greater than zero."))
    if seconds == 24 * 3600:
        return "0 0 * * *"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        if 24 % hours:
            reason = _l(
                "an interval of %(n)s hours does not divide a day evenly, and cron restarts "
                "the count every day. Use one of: %(allowed)s hours.",
                n=hours, allowed=_divisors(24),
            )
            if hours < 24:  # "18h" may have been meant as a time of day
                reason = _l("%(reason)s For a time of day, write e.g. 'todo dia às %(n)sh'.",
                            reason=reason, n=hours)
            raise cannot_schedule(original, reason)
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if seconds % 60 == 0:
        minutes = seconds // 60
        if 60 % minutes:
            raise cannot_schedule(original, _l(
                "an interval of %(n)s minutes does not divide an hour evenly, and cron restarts "
                "the count every hour. Use one of: %(allowed)s minutes.",
                n=minutes, allowed=_divisors(60),
            ))
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if 60 % seconds:
        raise cannot_schedule(original, _l(
            "an interval of %(n)s seconds does not divide a minute evenly, and cron restarts "
            "the count every minute. Use one of: %(allowed)s seconds.",
            n=seconds, allowed=_divisors(60),
        ))
    return "* * * * * *" if seconds == 1 else f"*/{seconds} * * * * *"


def _divisors(number: int) -> str:
    return ", ".join(str(d) for d in range(1, number + 1) if number % d == 0)


def _day_phrase(folded: str, original: str) -> str:
    """Cron for '<day phrase> [at] <time>' in either order; raises ScheduleError."""
    times = [match for match in _TIME.finditer(folded)
             if match["prep"] or not match["h4"] or match["period"]]
    if not times and folded in _NEEDS_A_TIME:
        raise not_understood(original, _NEEDS_A_TIME[folded])
    if len(times) > 1:
        raise not_understood(original, _l(
            "give one time of day per schedule; for several, use a cron expression "
            "like '0 9,18 * * *'."
        ))
    hour = minute = 0
    rest = folded
    if times:
        hour, minute = _clock(times[0], original)
        rest = folded[:times[0].start()] + " " + folded[times[0].end():]
    day_of_month, day_of_week = _days(rest, original, has_time=bool(times))
    return f"{minute} {hour} {day_of_month} * {day_of_week}"


def _clock(match: re.Match, original: str) -> tuple[int, int]:
    half = 30 if match["half"] else 0
    if match["word"]:
        return (12, half) if match["word"] in _NOON else (0, half)
    hour = int(match["h1"] or match["h2"] or match["h3"] or match["h4"])
    minute = int(match["m1"] or 0) + half
    am_pm = match["ap1"] or match["ap2"]
    if match["period"] and not am_pm:
        hour = _in_period(hour, match["period"].split()[-1], original)
    if am_pm:
        if not 1 <= hour <= 12:
            raise not_understood(original, _l(
                "%(value)s is not a valid hour on a 12-hour clock (1-12).", value=hour,
            ))
        hour = hour % 12 + (12 if am_pm.startswith("p") else 0)
    elif not 0 <= hour <= 23:
        raise not_understood(original, bad_hour(hour))
    if not 0 <= minute <= 59:
        raise not_understood(original, bad_minute(minute))
    return hour, minute


def _in_period(hour: int, period: str, original: str) -> int:
    """24-hour clock for "6 da tarde", "9 da noite", "8 da manhã", "2 da madrugada"."""
    if period == "madrugada" and hour > 6:
        raise not_understood(original, _l(
            "%(value)s da madrugada is not a time: write e.g. '2 da madrugada' or '02:00'.", value=hour))
    if period == "manha" and hour > 12:
        raise not_understood(original, _l(
            "%(value)s da manhã is not a time: write e.g. '8 da manhã' or '08:00'.", value=hour))
    if period == "tarde" and 1 <= hour <= 11:
        return hour + 12
    if period == "noite":
        if hour == 12:
            return 0
        if 6 <= hour <= 11:
            return hour + 12
    return hour


@dataclass
class _Words:
    """What the words around the time of day say."""

    first: str = ""
    weekdays: set[int] = field(default_factory=set)
    days_of_month: list[int] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)  # the values of _WORD_KINDS seen
    unknown: list[str] = field(default_factory=list)


def _read_words(rest: str) -> _Words:
    rest = re.sub(r"[ -]feiras?\b", "", rest)  # "segunda-feira" -> "segunda"
    tokens = _TOKEN.findall(rest)
    words = _Words(first=tokens[0] if tokens else "")
    last_weekday, in_range = None, False  # "segunda a sexta"
    number_may_follow = last_was_number = False  # "dia 5", "dia 1 e 15"
    for token in tokens:
        number = _DAY_NUMBER.fullmatch(token)
        number_allowed, number_may_follow = number_may_follow, False
        if number:
            # A day of the month comes after "dia"/"day"/"the", or is an ordinal ("1st", "1º");
            # any other number (as in "todo dia às 9 e 18") is not understood.
            last_was_number = number_allowed or number[0] != number[1]
            if last_was_number:
                words.days_of_month.append(int(number[1]))
                words.kinds.add("day")
            else:
                words.unknown.append(token)
            continue
        number_may_follow = token in _NUMBER_LEADS or (token in _JOINERS and last_was_number)
        last_was_number = False

        weekday = _WEEKDAYS.get(token, _WEEKDAYS.get(token.removesuffix("s")))
        kind = _WORD_KINDS.get(token)
        if weekday is not None:
            if in_range:
                span = (weekday - last_weekday) % 7
                words.weekdays.update((last_weekday + step) % 7 for step in range(span))
            words.weekdays.add(weekday)
            last_weekday, in_range = weekday, False
        elif kind == "range":
            in_range = last_weekday is not None
        elif kind == "first":  # "todo dia primeiro", "on the first"
            words.days_of_month.append(1)
            words.kinds.add("day")
        elif kind is not None:
            words.kinds.add(kind)
        else:
            words.unknown.append(token)
    words.kinds -= {"filler", "range"}
    return words


_LAST_DAY = re.compile(
    r"(?:(?:todo|o|no|every|on|the) )*(?:ultimo|last) (?:dia|day) (?:do|de cada|of the|of every|of each|of) "
    r"(?:mes|month)")
_ORDINALS = {
    **dict.fromkeys(("primeira", "primeiro", "1a", "1o", "first", "1st"), 1),
    **dict.fromkeys(("segunda", "segundo", "2a", "2o", "second", "2nd"), 2),
    **dict.fromkeys(("terceira", "terceiro", "3a", "3o", "third", "3rd"), 3),
    **dict.fromkeys(("quarta", "quarto", "4a", "4o", "fourth", "4th"), 4),
    **dict.fromkeys(("quinta", "quinto", "5a", "5o", "fifth", "5th"), 5),
    **dict.fromkeys(("ultima", "ultimo", "last"), "L"),
}
_NTH_WEEKDAY = re.compile(
    r"(?:(?:toda|todo|na|no|a|o|every|each|on|the) )*(?P<nth>[a-z0-9]+) (?P<day>[a-z]+?)s?(?:[ -]feiras?)? "
    r"(?:do|de cada|of the|of every|of each|of|every|each|in the|in each) (?:mes|month)")


def _days(rest: str, original: str, has_time: bool) -> tuple[str, str]:
    """(day-of-month field, day-of-week field) for the words around the time."""
    phrase = " ".join(rest.split())
    if _LAST_DAY.fullmatch(phrase):  # croniter's L
        return "L", "*"
    nth = _NTH_WEEKDAY.fullmatch(phrase)
    if nth and nth["nth"] in _ORDINALS and nth["day"] in _WEEKDAYS:  # croniter's 1#1, and L5 for the last
        day, ordinal = _WEEKDAYS[nth["day"]], _ORDINALS[nth["nth"]]
        return "*", f"L{day}" if ordinal == "L" else f"{day}#{ordinal}"
    words = _read_words(rest)
    kinds = words.kinds
    if words.unknown:
        weekly = words.weekdays or words.first in _WEEKLY_PREFIXES
        if len(words.unknown) == 1 and words.unknown[0].isalpha() and weekly and not kinds:
            raise not_understood(original, _l(
                "'%(value)s' is not a day of the week I know. Use e.g. 'segunda', 'ter', "
                "'monday' or 'fri'.",
                value=words.unknown[0],
            ))
        raise not_understood(original)
    if "weekend" in kinds:
        kinds.discard("week")  # "fim de semana"
    if "unit" in kinds:  # "toda hora às 15"
        raise not_understood(original)

    if words.weekdays:
        if words.days_of_month or kinds & {"workday", "weekend", "month", "week"}:
            raise not_understood(original)
        return "*", _day_of_week_field(words.weekdays)
    if kinds & {"workday", "weekend"}:
        if words.days_of_month or "month" in kinds or {"workday", "weekend"} <= kinds:
            raise not_understood(original)
        return "*", "1-5" if "workday" in kinds else "0,6"
    if words.days_of_month:
        for number in words.days_of_month:
            if not 1 <= number <= 31:
                raise not_understood(original, bad_day_of_month(number))
        return ",".join(str(n) for n in sorted(set(words.days_of_month))), "*"
    if "month" in kinds:
        return "1", "*"
    if "week" in kinds:
        raise not_understood(original, _l(
            "say which day of the week, e.g. 'toda segunda às 9' or 'every monday at 9'."
        ))
    if "day" in kinds or (has_time and not words.first):
        return "*", "*"
    raise not_understood(original)


def _day_of_week_field(days: set[int]) -> str:
    if len(days) == 7:
        return "*"
    if days == {1, 2, 3, 4, 5}:
        return "1-5"
    return ",".join(str(day) for day in sorted(days))
