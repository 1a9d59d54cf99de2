"""The agenda: what every active chrono will fire in the next hours, grouped by hour
in the viewer's timezone ("amanhã às 9h: 3 lembretes").

Bounded whatever the schedules: a chrono every second would make 604,800 rows in
a week. Occurrences stop at PER_CHRONO per chrono and TOTAL in all, chronos at
MAX_CHRONOS (those firing soonest, read from the scheduler's due index), and the
answer says which caps were reached.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import Chrono, utcnow
from ..schedules import timing

WINDOWS = (24, 168)  # hours: the next day, the next week
PER_CHRONO = 200
TOTAL = 5000
MAX_CHRONOS = 2000


@dataclass
class Agenda:
    start: object
    end: object
    timezone: str
    hours: list = field(default_factory=list)  # Hour, in time order
    total: int = 0  # occurrences listed
    capped_chronos: list = field(default_factory=list)  # (id, name) of chronos cut at PER_CHRONO
    capped_total: bool = False  # TOTAL or MAX_CHRONOS reached: more would follow


@dataclass
class Hour:
    start: object  # aware, in the viewer's zone
    count: int = 0
    chronos: dict = field(default_factory=dict)  # chrono id -> Entry, in first-fire order


@dataclass
class Entry:
    chrono_id: int
    name: str
    target_type: str
    first: object  # aware UTC
    count: int = 0


def occurrences(chrono, after, until, limit):
    """The chrono's run times in (after, until], at most `limit`: one-time date, start,
    end and spread included, as the dispatcher will fire them (schedules/timing.py)."""
    return timing.chrono_run_times(chrono, after, limit, until)


def build(hours=24, timezone="UTC", now=None):
    """The agenda for the next `hours` (WINDOWS), in `timezone` (a checked IANA name)."""
    now = now or utcnow()
    zone = timing.validate_timezone(timezone)
    end = now + timedelta(hours=hours)
    chronos = db.session.execute(
        select(Chrono.id, Chrono.name, Chrono.cron, Chrono.timezone, Chrono.target_type, Chrono.run_at,
               Chrono.starts_at, Chrono.ends_at, Chrono.spread_s)
        .where(Chrono.is_active == True, Chrono.next_run_at <= end)  # noqa: E712 (the due index's predicate)
        .order_by(Chrono.next_run_at, Chrono.id)
        .limit(MAX_CHRONOS + 1)
    ).all()
    agenda = Agenda(start=now, end=end, timezone=zone.key)
    if len(chronos) > MAX_CHRONOS:
        chronos, agenda.capped_total = chronos[:MAX_CHRONOS], True
    moments = []
    for chrono in chronos:
        room = min(PER_CHRONO, TOTAL - len(moments))
        if room <= 0:
            agenda.capped_total = True
            break
        times = occurrences(chrono, now, end, room + 1)  # one more: whether it was cut
        if len(times) > room:
            times = times[:room]
            if room == PER_CHRONO:
                agenda.capped_chronos.append((chrono.id, chrono.name))
            else:
                agenda.capped_total = True
        moments.extend((moment, chrono) for moment in times)
    moments.sort(key=lambda pair: (pair[0], pair[1].id))
    by_hour = {}
    for moment, chrono in moments:
        local = moment.astimezone(zone)
        # The hour as the viewer's clock shows it; fold keeps a repeated hour (DST) apart.
        key = local.replace(minute=0, second=0, microsecond=0)
        hour = by_hour.get((key, key.utcoffset()))
        if hour is None:
            hour = by_hour[(key, key.utcoffset())] = Hour(start=key)
            agenda.hours.append(hour)
        entry = hour.chronos.get(chrono.id)
        if entry is None:
            entry = hour.chronos[chrono.id] = Entry(chrono.id, chrono.name, chrono.target_type, moment)
        entry.count += 1
        hour.count += 1
    agenda.total = len(moments)
    return agenda


def as_json(agenda):
    """The API's shape of an agenda."""
    return {
        "start": agenda.start.isoformat(),
        "end": agenda.end.isoformat(),
        "timezone": agenda.timezone,
        "total": agenda.total,
        "capped": {"total": agenda.capped_total, "per_chrono": PER_CHRONO, "max_total": TOTAL,
                   "chronos": [{"id": chrono_id, "name": name} for chrono_id, name in agenda.capped_chronos]},
        "hours": [{
            "hour": hour.start.isoformat(),
            "count": hour.count,
            "chronos": [{"id": entry.chrono_id, "name": entry.name, "target_type": entry.target_type,
                         "count": entry.count, "first": entry.first.isoformat()} for entry in hour.chronos.values()],
        } for hour in agenda.hours],
    }
