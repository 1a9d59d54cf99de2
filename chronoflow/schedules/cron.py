"""Cron expressions: recognise them, validate them, put them in canonical form.

Canonical form: fields separated by one space; 5 fields, or 6 with SECONDS FIRST
(Quartz/Spring/node-cron). A seconds field of ``0`` is dropped (``0 */5 * * * *`` is
``*/5 * * * *``), ``?`` becomes ``*``, month and day names become numbers
(``MON-FRI`` is ``1-5``), macros become their 5-field form.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from croniter import croniter
from croniter.croniter import CroniterError
from flask_babel import lazy_gettext as _l

from .errors import cannot_schedule, not_understood

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = {name: str(number) for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_WEEKDAYS = {name: str(number) for number, name in enumerate(
    ("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_MONTH_NAME = re.compile("|".join(_MONTHS), re.IGNORECASE)
_WEEKDAY_NAME = re.compile("|".join(_WEEKDAYS), re.IGNORECASE)
_NAMES = "|".join([*_MONTHS, *_WEEKDAYS])
# A token a cron field can be made of; natural-language words never are.
_FIELD_TOKEN = re.compile(rf"(?:[\d*?/,#\-lw]|{_NAMES})+", re.IGNORECASE)
_MINUTE_TOKEN = re.compile(r"[\d*?/,\-]+")
_HASH_OR_RANDOM = re.compile(r"(?<![a-z])[hr](?![a-z])", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"(?<![/#\d])\d+")

_PROBE_START = datetime(2000, 1, 1, tzinfo=timezone.utc)


def bad_second(value):
    return _l("%(value)s is not a valid second (0-59).", value=value)


def bad_minute(value):
    return _l("%(value)s is not a valid minute (0-59).", value=value)


def bad_hour(value):
    return _l("%(value)s is not a valid hour (0-23).", value=value)


def bad_day_of_month(value):
    return _l("%(value)s is not a valid day of the month (1-31).", value=value)


def bad_month(value):
    return _l("%(value)s is not a valid month (1-12).", value=value)


def bad_day_of_week(value):
    return _l("%(value)s is not a valid day of the week (0-7; 0 and 7 are Sunday).", value=value)


# Per field, seconds first: lowest, highest, what to say about a number out of range.
_LIMITS = (
    (0, 59, bad_second),
    (0, 59, bad_minute),
    (0, 23, bad_hour),
    (1, 31, bad_day_of_month),
    (1, 12, bad_month),
    (0, 7, bad_day_of_week),
)


def looks_like_cron(text: str) -> bool:
    """True if ``text`` (whitespace-collapsed) is meant as a cron expression."""
    tokens = text.split(" ")
    if "*" in text:
        return True
    return (
        len(tokens) >= 3
        and _MINUTE_TOKEN.fullmatch(tokens[0]) is not None
        and all(_FIELD_TOKEN.fullmatch(token) for token in tokens)
    )


def has_seconds(cron: str) -> bool:
    """True for a 6-field (seconds-first) expression."""
    return len(cron.split()) == 6


def canonical_cron(text: str, original: str) -> str:
    """Validate a cron expression or macro and return its canonical form.

    ``original`` is what the person typed, quoted in error messages.
    """
    if text.startswith("@"):
        macro = MACROS.get(text.lower())
        if macro is None:
            raise not_understood(original, _l(
                "'%(value)s' is not a shortcut I know. Use one of: %(allowed)s.",
                value=text, allowed=", ".join(MACROS),
            ))
        return macro

    fields = text.split()
    if len(fields) == 7:
        raise not_understood(original, _l(
            "a cron expression has 5 fields, or 6 with seconds first; "
            "a 7th field (year) is not supported."
        ))
    if len(fields) not in (5, 6):
        raise not_understood(original, _l(
            "a cron expression has 5 fields, or 6 with seconds first, not %(count)s.",
            count=len(fields),
        ))
    if _HASH_OR_RANDOM.search(text):
        raise not_understood(original, _l(
            "hashed (H) and random (R) values are not supported; use plain numbers."
        ))
    for index in (-3, -1):  # day of the month, day of the week
        if fields[index] == "?":
            fields[index] = "*"
    fields[-2] = _MONTH_NAME.sub(lambda match: _MONTHS[match[0].lower()], fields[-2])
    fields[-1] = _WEEKDAY_NAME.sub(lambda match: _WEEKDAYS[match[0].lower()], fields[-1])
    if len(fields) == 6 and fields[0] in ("0", "00"):
        fields = fields[1:]
    _check_numbers(fields, original)
    cron = " ".join(fields)

    six = len(fields) == 6
    if not croniter.is_valid(cron, second_at_beginning=six):
        raise not_understood(original, _l("it is not a valid cron expression."))
    if not croniter.is_valid(cron, second_at_beginning=six, strict=True) or not _fires(cron):
        raise cannot_schedule(original, _l(
            "the day of the month never occurs in the chosen month(s) (e.g. 30 February)."
        ))
    return cron


def _check_numbers(fields: list[str], original: str) -> None:
    """Name the first out-of-range number, e.g. '25 is not a valid hour (0-23)'."""
    limits = _LIMITS if len(fields) == 6 else _LIMITS[1:]
    for field, (low, high, complaint) in zip(fields, limits):
        for number in _PLAIN_NUMBER.findall(field):
            if not low <= int(number) <= high:
                raise not_understood(original, complaint(number))


def _fires(cron: str) -> bool:
    try:
        croniter(cron, _PROBE_START, second_at_beginning=has_seconds(cron)).get_next(datetime)
    except CroniterError:
        return False
    return True

