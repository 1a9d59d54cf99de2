"""Chronos in and out as JSON, and a crontab's curl lines in.

An export is one document: {"chronoflow": 1, "with_secrets": bool, "chronos": [...]}
with each chrono's editable fields. Secrets leave only when asked for
(`with_secrets`): credential headers (security.is_sensitive) are otherwise left
out and named in the item's "omitted_headers", and the signing secret is not
written.

An import is all or nothing: every item goes through ChronoInput (the one
validation path) first; if any is refused, nothing is written and every
refusal comes back with its item's position. Then the chronos are written with
one set-based INSERT, and their first runs dispatched the way the tick does it
(tasks.dispatch_due: one statement per batch), so thousands import in a second.
"""
import json
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import insert, select, text

from .. import schedules
from ..executors import outbound
from ..extensions import db
from ..models import Chrono, new_signing_secret, utcnow
from ..security import is_sensitive
from . import credentials, service
from .curl import CurlError, parse_curl
from .schemas import NAME_LENGTH, ChronoInput

FORMAT = 1
MAX_ITEMS = 50_000  # one import: bounded, so its validation stays in one request's time
SIGNING_SECRET = re.compile(r"^whsec_[A-Za-z0-9_-]{20,70}$")
# What an export item may carry beyond ChronoInput's fields.
EXTRA_KEYS = ("signing_secret", "omitted_headers", "id")


class ImportRefused(ValueError):
    """`errors`: {position: {field: [why]}} (positions from 0; lines for a crontab)."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__(f"{len(errors)} item(s) refused")


def export(with_secrets=False, chronos=None):
    """The export document of `chronos` (default: all, by id)."""
    if chronos is None:
        chronos = db.session.scalars(select(Chrono).order_by(Chrono.id)).all()
    return {"chronoflow": FORMAT, "with_secrets": bool(with_secrets),
            "chronos": [_item(chrono, with_secrets) for chrono in chronos]}


def _item(chrono, with_secrets):
    item = {"id": chrono.id, **service.as_input(chrono)}
    if with_secrets:
        item["signing_secret"] = chrono.signing_secret
    else:
        omitted = [name for name, value in (chrono.headers or {}).items() if is_sensitive(name) and value]
        if omitted:
            item["headers"] = {name: value for name, value in chrono.headers.items() if name not in omitted}
            item["omitted_headers"] = omitted
    return item


def items_of(document):
    """The list of items of an export document (or a bare list). Raises ImportRefused."""
    if isinstance(document, dict) and isinstance(document.get("chronos"), list):
        items = document["chronos"]
    elif isinstance(document, list):
        items = document
    else:
        raise ImportRefused({"_": {"chronos": [_("Send an export of ChronoFlow: an object with a list "
                                                 "“chronos”, or a list of chronos.")]}})
    if len(items) > MAX_ITEMS:
        raise ImportRefused({"_": {"chronos": [_("At most %(n)s chronos in one import.", n=MAX_ITEMS)]}})
    return items


def validate(items, with_secrets=False):
    """[(values, signing secret or None)] for `items`. Raises ImportRefused with every refusal."""
    with outbound.remembering():  # thousands of items, a few hosts: each resolved once
        return _validate(items, with_secrets)


def _validate(items, with_secrets):
    loaded, errors = [], {}
    schema = ChronoInput()
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            errors[position] = {"_schema": [_("Must be a JSON object.")]}
            continue
        item = dict(item)
        secret = item.pop("signing_secret", None)
        for key in EXTRA_KEYS:
            item.pop(key, None)
        problems = {}
        if with_secrets and secret is not None and not (isinstance(secret, str) and SIGNING_SECRET.match(secret)):
            problems["signing_secret"] = [_("Not a signing secret of ChronoFlow (whsec_…).")]
        try:
            values = schema.load(item)
        except ValidationError as exc:
            problems.update(exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages})
            values = None
        if problems:
            errors[position] = problems
        else:
            loaded.append((values, secret if with_secrets else None))
    if errors:
        raise ImportRefused(errors)
    return loaded


def import_chronos(items, with_secrets=False, now=None):
    """Validate every item, then write them all; returns how many. Raises ImportRefused
    (nothing written). Flushes; the caller commits, then dispatches (tasks.dispatch_due)."""
    return insert_all(validate(items, with_secrets), now)


def insert_all(loaded, now=None):
    """One INSERT for every (values, secret) of `loaded`."""
    if not loaded:
        return 0
    now = now or utcnow()
    rows, names = [], list(ChronoInput().fields)
    for values, secret in loaded:
        row = {name: values.get(name) for name in names}
        row.update(
            cron=values["cron"], templated=values.get("templated", False),
            signing_secret=secret or new_signing_secret(),
            secrets_origin=credentials.origin(values.get("url")),
            next_run_at=schedules.next_fire_time(values["cron"], values["timezone"], now)
            if values["is_active"] else None,
            consecutive_failures=0, created_at=now, updated_at=now,
        )
        rows.append(row)
    if db.session.get_bind().dialect.name == "postgresql":
        _insert_pg(rows)
    else:
        db.session.execute(insert(Chrono.__table__), rows)
    return len(rows)


# PostgreSQL: one statement whatever the number of rows; the rows travel as one
# JSON document (json.dumps is C, where arrays of text would be escaped value by value).
JSON_COLUMNS = ("headers", "payload", "config", "recipients", "success")
PG_TYPES = {"name": "text", "description": "text", "schedule": "text", "cron": "text", "timezone": "text",
            "target_type": "text", "method": "text", "url": "text", "is_active": "boolean", "channel_id": "integer",
            "message_template": "text", "templated": "boolean", "signing_secret": "text", "secrets_origin": "text",
            "next_run_at": "timestamptz", "consecutive_failures": "integer", "created_at": "timestamptz",
            "updated_at": "timestamptz", **{name: "jsonb" for name in JSON_COLUMNS}}
_INSERT_PG = text(
    f"INSERT INTO chronos ({', '.join(PG_TYPES)}) SELECT {', '.join(PG_TYPES)} "
    f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
    f"AS v({', '.join(f'{name} {kind}' for name, kind in PG_TYPES.items())})")


def _insert_pg(rows):
    for row in rows:
        for name in ("next_run_at", "created_at", "updated_at"):
            if row[name] is not None:
                row[name] = row[name].isoformat()
    db.session.execute(_INSERT_PG, {"rows": json.dumps([{name: row[name] for name in PG_TYPES} for row in rows])})


# --- crontab ------------------------------------------------------------------

ENVIRONMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
# Where a cron line's output goes: nothing a webhook needs.
REDIRECTION = re.compile(r"\s+(?:\d?>>?|&>>?)\s*(?:&\d|\S+)\s*$")
SPECIAL = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


@dataclass
class CrontabReading:
    items: list = field(default_factory=list)  # (line number, ChronoInput's data)
    refused: dict = field(default_factory=dict)  # line number -> why (words)
    skipped: int = 0  # comments, blank and environment lines


def read_crontab(text, timezone=None):
    """The chronos of a crontab's `m h dom mon dow curl …` lines, named after their URL.
    Lines that are not curl commands are reported in `refused`, by line number."""
    reading = CrontabReading()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or ENVIRONMENT.match(line):
            reading.skipped += 1
            continue
        parts = line.split(None, 1 if line.startswith("@") else 5)
        if line.startswith("@") and parts[0] not in SPECIAL:
            reading.refused[number] = _("%(entry)s is not a schedule ChronoFlow can run.", entry=parts[0])
            continue
        fields_count = 1 if line.startswith("@") else 5
        if len(parts) <= fields_count:
            reading.refused[number] = _("A line needs five time fields and then a curl command.")
            continue
        schedule, command = " ".join(parts[:fields_count]), parts[fields_count]
        while REDIRECTION.search(command):
            command = REDIRECTION.sub("", command)
        program = command.split(None, 1)[0]
        if program.rsplit("/", 1)[-1] != "curl":
            reading.refused[number] = _("Not a curl command (%(entry)s): only webhooks can be imported.",
                                        entry=program[:80])
            continue
        try:
            parsed = parse_curl("curl " + command.split(None, 1)[1] if " " in command else "curl")
        except CurlError as exc:
            reading.refused[number] = str(exc)
            continue
        data = {"name": _name(parsed["url"]), "schedule": schedule, "method": parsed["method"],
                "url": parsed["url"], "headers": parsed["headers"], "payload": parsed["payload"],
                "timezone": timezone}
        if "timeout_ms" in parsed:
            data["config"] = {"timeout_ms": parsed["timeout_ms"]}
        reading.items.append((number, data))
    return reading


def _name(url):
    return url.split("://", 1)[-1][:NAME_LENGTH]


def import_crontab(text, timezone=None, now=None):
    """(chronos written, the reading). All or nothing on the curl lines: one that
    ChronoInput refuses refuses the import (ImportRefused, by line number); lines
    that are not curl commands are reported in the reading and left out."""
    reading = read_crontab(text, timezone)
    try:
        loaded = validate([data for _number, data in reading.items])
    except ImportRefused as exc:
        raise ImportRefused({reading.items[position][0]: problems
                             for position, problems in exc.errors.items()}) from None
    return insert_all(loaded, now), reading
