"""Short human descriptions of a schedule, in English or Brazilian Portuguese.

The shapes the grammar produces get our own wording ("Todo dia às 18:00",
"Weekdays (Monday to Friday) at 08:00"); any other cron goes through cron-descriptor,
24-hour clock, en_US for English and pt_PT for Portuguese, with its gaps filled:
its pt_PT catalog lacks some messages (they would come out empty) and uses some
Portugal-only wording, and it takes day and month names from the process locale
(English here). Those are fixed below, so a pt_BR description never has English in it.
"""

from __future__ import annotations

import calendar
import functools
import logging
import re

from cron_descriptor import ExpressionDescriptor, Options

from .. import i18n
from .grammar import normalize

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is used."""
    return message


_EVERY_WEEKDAY = (  # cron numbering: 0 is Sunday
    N_("Every Sunday"), N_("Every Monday"), N_("Every Tuesday"), N_("Every Wednesday"),
    N_("Every Thursday"), N_("Every Friday"), N_("Every Saturday"),
)
_WEEKDAY = (
    N_("Sunday"), N_("Monday"), N_("Tuesday"), N_("Wednesday"),
    N_("Thursday"), N_("Friday"), N_("Saturday"),
)
_NTH = (N_("first"), N_("second"), N_("third"), N_("fourth"), N_("fifth"))
_NTH_WEEKDAY = re.compile(r"([0-7])#([1-5])|L([0-7])")
_LAST = N_("last")
_HOUR_RANGE = re.compile(r"(\d+)-(\d+)(?:/(\d+))?")
_STEP = re.compile(r"\*/(\d+)")
_DAY_LIST = re.compile(r"\d+(?:,\d+)*")
_WEEKDAY_FIELD = re.compile(r"\d(?:-\d)?(?:,\d(?:-\d)?)*")


def describe(cron: str, locale) -> str:
    """A short description of ``cron`` in ``locale`` ("en", "pt_BR", "pt-BR", "en-US"...)."""
    return _describe(normalize(cron), i18n.normalize_locale(locale))


@functools.lru_cache(maxsize=4096)
def _describe(cron: str, locale: str) -> str:
    trans = i18n.translations(locale)
    return _describe_shape(cron.split(), trans) or _describe_other(cron, locale)


def _describe_shape(fields: list[str], trans) -> str | None:
    """Our wording for the shapes the grammar produces; None for anything else."""
    _ = trans.gettext
    if len(fields) == 6:
        if fields[1:] != ["*"] * 5:
            return None
        if fields[0] == "*":
            return _("Every second")
        step = _step(fields[0], 60)
        return _("Every %(n)s seconds") % {"n": step} if step else None

    minute, hour, day, month, weekday = fields
    if month != "*":
        return None
    if (hour, day, weekday) == ("*", "*", "*"):
        if minute == "*":
            return _("Every minute")
        if minute == "0":
            return _("Every hour")
        step = _step(minute, 60)
        return _("Every %(n)s minutes") % {"n": step} if step else None
    if (minute, day, weekday) == ("0", "*", "*") and _step(hour, 24):
        return _("Every %(n)s hours") % {"n": _step(hour, 24)}
    if _HOUR_RANGE.fullmatch(hour) and day == "*":
        return _between_hours(minute, hour, weekday, trans)
    if not (minute.isdigit() and hour.isdigit()):
        return None
    at_time = _at(int(hour), int(minute), trans)
    if (day, weekday) == ("L", "*"):
        return _("On the last day of the month %(at_time)s") % {"at_time": at_time}
    nth = _NTH_WEEKDAY.fullmatch(weekday)
    if day == "*" and nth:
        weekday = int(nth[1] or nth[3]) % 7
        return _nth_weekday(weekday, int(nth[2]) if nth[2] else None, trans) + " " + at_time

    if day == "*" and weekday == "*":
        when = _("Every day")
    elif day == "*" and _WEEKDAY_FIELD.fullmatch(weekday) and _weekday_set(weekday):
        when = _weekdays(_weekday_set(weekday), trans)
    elif weekday == "*" and _DAY_LIST.fullmatch(day):
        days = sorted({int(number) for number in day.split(",")})
        if len(days) == 1:
            when = _("On day %(day)s of every month") % {"day": days[0]}
        else:
            when = _("On days %(days)s of every month") % {
                "days": _join([str(number) for number in days], trans)}
    else:
        return None
    return _("%(when)s %(at_time)s") % {"when": when, "at_time": _at(int(hour), int(minute), trans)}


def _between_hours(minute: str, hour: str, weekday: str, trans) -> str | None:
    """"Every hour from 08:00 to 18:00", what "de hora em hora das 8 às 18" makes."""
    _ = trans.gettext
    first, last, step = _HOUR_RANGE.fullmatch(hour).groups()
    first, last = int(first), int(last)
    if minute == "0":
        end = f"{last:02d}:00"
        what = (_("Every %(n)s hours") % {"n": step}) if step and step != "1" else _("Every hour")
    else:
        return None  # every N minutes within hours: cron-descriptor says it well
    what = _("%(every)s from %(start)s to %(end)s") % {"every": what, "start": f"{first:02d}:00", "end": end}
    if weekday == "*":
        return what
    days = _weekday_set(weekday) if _WEEKDAY_FIELD.fullmatch(weekday) else None
    if not days:
        return None
    return _weekdays(days, trans) + ", " + what[:1].lower() + what[1:]


def _nth_weekday(day: int, nth: int | None, trans) -> str:
    """"On the first (None: last) Monday of the month"; Portuguese says "No primeiro sábado"."""
    text = trans.gettext("On the %(nth)s %(weekday)s of the month") % {
        "nth": trans.gettext(_NTH[nth - 1] if nth else _LAST), "weekday": trans.gettext(_WEEKDAY[day])}
    if day in (0, 6) and text.startswith("Na "):  # sábado and domingo are masculine
        first, word, rest = text.split(" ", 2)
        text = f"No {_PT_MASCULINE.get(word, word)} {rest}"
    return text


def describe_once(run_at, tz: str, locale) -> str:
    """"Once, on 24/12/2026 at 18:00" for a one-time chrono, in its timezone."""
    from babel.dates import format_date
    from zoneinfo import ZoneInfo

    locale = i18n.normalize_locale(locale)
    trans = i18n.translations(locale)
    local = run_at.astimezone(ZoneInfo(tz))
    time = f"{local:%H:%M}" + (f":{local.second:02d}" if local.second else "")
    return trans.gettext("Once, on %(date)s at %(time)s") % {
        "date": format_date(local.date(), "short" if locale == "pt_BR" else "medium", locale=locale),
        "time": time}


def _step(field: str, period: int) -> int | None:
    """N for '*/N' when N divides the period (so it really is 'every N')."""
    match = _STEP.fullmatch(field)
    if match and 1 < int(match[1]) < period and period % int(match[1]) == 0:
        return int(match[1])
    return None


def _weekday_set(field: str) -> set[int] | None:
    """The days of a list of days and ranges; None for a wrapping range like 5-1."""
    days = set()
    for part in field.split(","):
        first, _, last = part.partition("-")
        if int(last or first) < int(first):
            return None
        days.update(range(int(first), int(last or first) + 1))
    return {day % 7 for day in days}  # 7 is Sunday too


def _weekdays(days: set[int], trans) -> str:
    _ = trans.gettext
    if days == {1, 2, 3, 4, 5}:
        return _("Weekdays (Monday to Friday)")
    if days == {0, 6}:
        return _("Weekends (Saturday and Sunday)")
    if len(days) == 7:
        return _("Every day")
    monday_first = sorted(days, key=lambda day: (day - 1) % 7)
    names = [_(_EVERY_WEEKDAY[monday_first[0]])]
    names += [_(_WEEKDAY[day]) for day in monday_first[1:]]
    return _join(names, trans)


def _join(items: list[str], trans) -> str:
    if len(items) == 1:
        return items[0]
    return trans.gettext("%(items)s and %(last)s") % {
        "items": ", ".join(items[:-1]), "last": items[-1]}


def _at(hour: int, minute: int, trans) -> str:
    time = f"{hour:02d}:{minute:02d}"
    if hour < 2:  # Portuguese says "à 01:00" but "às 02:00"
        return trans.pgettext("time from 00:00 to 01:59", "at %(time)s") % {"time": time}
    return trans.gettext("at %(time)s") % {"time": time}


# --- anything else: cron-descriptor ---------------------------------------------------

_ENGLISH_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ENGLISH_MONTHS = ("January", "February", "March", "April", "May", "June", "July",
                   "August", "September", "October", "November", "December")
_PT_DAYS = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
            "sábado", "domingo")
_PT_MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
              "setembro", "outubro", "novembro", "dezembro")
_PT_MASCULINE = {"primeira": "primeiro", "segunda": "segundo", "terceira": "terceiro",
                 "quarta": "quarto", "quinta": "quinto", "última": "último"}

_FIXES = {  # by cron-descriptor locale: message -> what to say instead
    "en_US": {"starting {0}": "starting {0}"},  # missing from its en_US catalog too
    "pt_PT": {
        # missing from its pt_PT catalog
        "starting {0}": "começando {0}",
        ", starting {0}": ", começando {0}",
        ", every {0} weeks": ", a cada {0} semanas",
        ", {0} days before the last day of the month": ", {0} dias antes do último dia do mês",
        # Portugal-only or wrong wording
        ", only on {0}": ", somente {0}",
        ", or on {0}": ", ou {0}",
        ", every day": ", todos os dias",
        ", every {0} days of the week": ", a cada {0} dias da semana",
        ", on the last weekday of the month": ", no último dia útil do mês",
        "first weekday": "primeiro dia útil",
        "weekday nearest day {0}": "dia útil mais próximo do dia {0}",
        "at {0}": "às {0}",
        "seconds {0} through {1} past the minute": "do segundo {0} ao {1} de cada minuto",
        "minutes {0} through {1} past the hour": "do minuto {0} ao {1} de cada hora",
    },
}


class _Descriptor(ExpressionDescriptor):
    def translate(self, message: str) -> str:
        return _FIXES[self._options.locale_code].get(message) or super().translate(message)


def _describe_other(cron: str, locale: str) -> str:
    portuguese = locale == "pt_BR"
    options = Options(locale_code="pt_PT" if portuguese else "en_US", use_24hour_time_format=True)
    try:
        text = _Descriptor(cron, options).get_description()
    except Exception:  # a description must never break the page that shows it
        log.warning("cron-descriptor failed on %r", cron, exc_info=True)
        return cron
    if not portuguese:
        return _rename(text, _ENGLISH_DAYS, _ENGLISH_MONTHS)
    text = _rename(text, _PT_DAYS, _PT_MONTHS)
    text = re.sub(r"\bna (primeira|segunda|terceira|quarta|quinta|última) (sábado|domingo)\b",
                  lambda match: f"no {_PT_MASCULINE[match[1]]} {match[2]}", text)
    text = re.sub(r",\s+e ", " e ", text)  # no serial comma in Portuguese
    return re.sub(r"\s{2,}", " ", text)


def _rename(text: str, days: tuple[str, ...], months: tuple[str, ...]) -> str:
    """Replace the process locale's day and month names (cron-descriptor's) with ours."""
    names = dict(zip(calendar.day_name, days)) | dict(zip(calendar.month_name[1:], months))
    pattern = _names_pattern(tuple(names))
    return pattern.sub(lambda match: names[match[0]], text)


@functools.lru_cache(maxsize=4)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")
