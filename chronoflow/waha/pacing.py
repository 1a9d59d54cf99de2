"""Protecting the number: WhatsApp bans numbers that blast messages, and WAHA
sends at once whatever it is given (shared/waha-api.md §9). Two rules, per
session (one linked number), whichever chronos share it:

- pacing: each message waits for its slot, a random MESSAGE_DELAY_MIN_SECONDS to
  MESSAGE_DELAY_MAX_SECONDS after the session's previous one, so two chronos
  firing together take turns instead of doubling the rate;
- a daily cap: at most MESSAGE_DAILY_CAP messages in any 24 hours. A chrono that
  alone would go past it cannot be saved; a run that reaches it stops there.
"""
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.dates import format_timedelta
from croniter import croniter
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from .. import schedules
from ..extensions import db
from ..main.formatting import locale
from ..models import SentMessage, WahaSession, utcnow
from . import state

DAY = timedelta(hours=24)
MOST_RUNS_A_DAY = 86_400  # a cron fires at most once a second
COUNT_BUDGET = 50_000  # occurrences counted at most, whatever the schedule


class DailyCapReached(Exception):
    code = "daily_cap"

    def __init__(self, session, cap):
        self.session, self.cap = session, cap
        self.params = {"session": session, "cap": cap}
        super().__init__(f"WhatsApp session '{session}' sent its {cap} messages of the last 24 hours "
                         "(MESSAGE_DAILY_CAP): the rest were not sent, to protect the number from a ban.")


def sent_in_last_day(session, now=None):
    since = (now or utcnow()) - DAY
    return db.session.scalar(
        select(func.count()).select_from(SentMessage).where(SentMessage.session == session,
                                                            SentMessage.sent_at > since))


@dataclass(frozen=True)
class Slot:
    at: datetime  # when the message may go
    pause: timedelta  # how long the session then waits before its next one


def reserve(session, delay_s, cap, now=None):
    """The slot of the session's next message (now, or later), reserved for the
    caller, who calls sent() once the message is out. Raises DailyCapReached.
    Commits: every other worker sending from this session must see it at once."""
    now = now or utcnow()
    row = state.row(session, lock=True)  # one reservation at a time per session
    if cap and sent_in_last_day(session, now) >= cap:
        db.session.commit()
        raise DailyCapReached(session, cap)
    low, high = sorted(delay_s)
    slot = Slot(at=max(now, row.next_send_at or now), pause=timedelta(seconds=random.uniform(low, high)))
    row.next_send_at = slot.at + slot.pause  # never a fixed interval
    db.session.commit()
    return slot


def sent(session, slot, now=None):
    """The message of `slot` is out (WAHA took a moment): the pause counts from now.
    Flushes; the caller commits with the message's record."""
    after = (now or utcnow()) + slot.pause
    db.session.execute(
        update(WahaSession).where(WahaSession.name == session,
                                  or_(WahaSession.next_send_at.is_(None), WahaSession.next_send_at < after))
        .values(next_send_at=after).execution_options(synchronize_session=False))


def busiest_day(cron, tz, limit, now=None, days=8):
    """The most occurrences in any 24 hours over the next `days` days (a week, so
    weekly schedules count too), counting no further than limit + 1 (nor past
    COUNT_BUDGET occurrences: the form asks this as people type).

    Close enough around DST changes for a cap: croniter without our DST rules.
    """
    zone = schedules.validate_timezone(tz)
    start = (now or utcnow()).astimezone(zone)
    horizon = start + timedelta(days=days)
    window, busiest = deque(), 0
    times = croniter(cron, start, second_at_beginning=schedules.has_seconds(cron))
    for _counted in range(COUNT_BUDGET):
        if busiest > limit:
            break
        moment = times.get_next(datetime)
        if moment > horizon:
            break
        window.append(moment)
        while window[0] <= moment - DAY:
            window.popleft()
        busiest = max(busiest, len(window))
    return busiest


def cap_problem(cron, tz, recipients, cap):
    """Why a chrono sending to `recipients` on this schedule cannot be saved, or None."""
    if not cap or not recipients:
        return None
    limit = cap // recipients  # the most runs a day that stay within the cap
    if limit >= MOST_RUNS_A_DAY:
        return None
    runs = busiest_day(cron, tz, limit)
    if runs <= limit:
        return None
    return _("At %(runs)s or more runs a day to %(recipients)s recipients, this chrono would send more than "
             "%(cap)s messages a day: the most one WhatsApp number may send (MESSAGE_DAILY_CAP). Send less "
             "often, or to fewer recipients.", runs=runs, recipients=recipients, cap=cap)


def run_seconds(recipients, delay_s):
    """(shortest, longest) seconds a run to `recipients` takes, paced, when its
    session sends nothing else meanwhile."""
    low, high = sorted(delay_s)
    gaps = max(recipients - 1, 0)
    return gaps * low, gaps * high


def estimate(recipients, schedule, timezone, config):
    """What the chrono form says under the recipients, before saving: how long one
    run takes, paced, and how much of the session's daily cap the chrono uses.
    {"text", "problem"}: `problem` when saving would be refused for the cap."""
    if recipients < 1:
        return {"text": "", "problem": None}
    delay = (config["MESSAGE_DELAY_MIN_SECONDS"], config["MESSAGE_DELAY_MAX_SECONDS"])
    low, high = run_seconds(recipients, delay)
    if recipients == 1:
        text = _("1 recipient: each run sends one message.")
    else:
        pause_low, pause_high = sorted(delay)
        shortest, longest = _duration(low), _duration(high)
        took = shortest if shortest == longest else _("%(low)s to %(high)s", low=shortest, high=longest)
        text = _("%(n)s recipients: each run takes about %(time)s, one message every %(pause_low)s to "
                 "%(pause_high)s seconds (WhatsApp bans numbers that send faster).", n=recipients, time=took,
                 pause_low=f"{pause_low:g}", pause_high=f"{pause_high:g}")
    cap = config["MESSAGE_DAILY_CAP"]
    try:
        cron = schedules.normalize(schedule or "")
        zone = schedules.validate_timezone(timezone or config["DEFAULT_TIMEZONE"]).key
    except schedules.ScheduleError:
        return {"text": text, "problem": None}  # the schedule's own preview says what is wrong
    problem = cap_problem(cron, zone, recipients, cap)
    if problem:
        return {"text": text, "problem": problem}
    if cap and cap // recipients < MOST_RUNS_A_DAY:
        runs = busiest_day(cron, zone, cap // recipients)
        text += " " + _("Up to %(messages)s messages a day, of the %(cap)s one WhatsApp number may send "
                        "(MESSAGE_DAILY_CAP).", messages=runs * recipients, cap=cap)
    return {"text": text, "problem": None}


def _duration(seconds):
    return format_timedelta(timedelta(seconds=max(seconds, 1)), threshold=1.5, locale=locale())
