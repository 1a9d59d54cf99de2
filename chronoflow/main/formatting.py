"""Template filters: times in the chrono's zone and the reader's language."""
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from flask import request
from flask_babel import get_locale

from flask_babel import gettext as _

from .. import outcomes, schedules
from ..i18n import LOCALES, normalize_locale
from ..models import utcnow
from . import bp

LANGUAGE_NAMES = {"en": "English", "pt_BR": "Português"}


def locale():
    return normalize_locale(str(get_locale() or "en"))


@bp.app_template_filter("when")
def when(moment: datetime | None, tz: str = "UTC", style: str = "medium"):
    """A UTC instant as the wall-clock time in `tz`, in the reader's format."""
    if moment is None:
        return "—"
    if isinstance(moment, str):  # as kept in a run's JSON result
        moment = datetime.fromisoformat(moment)
    return format_datetime(moment, style, tzinfo=ZoneInfo(tz), locale=locale())


@bp.app_template_filter("relative")
def relative(moment: datetime | None):
    """'in 3 hours', 'há 5 minutos'; 'now' within a second ("in 0 seconds" says nothing)."""
    if moment is None:
        return ""
    delta = moment - utcnow()
    if abs(delta.total_seconds()) < 1:
        return _("now")
    return format_timedelta(delta, add_direction=True, threshold=1.1, locale=locale())


@bp.app_template_filter("duration")
def duration(milliseconds: int | None):
    if milliseconds is None:
        return "—"
    if abs(milliseconds) < 1000:
        return f"{milliseconds} ms"
    return f"{milliseconds / 1000:.2f} s".replace(".", "," if locale() == "pt_BR" else ".")


@bp.app_template_filter("describe")
def describe(cron: str):
    return schedules.describe(cron, locale())


@bp.app_template_filter("schedule_words")
def schedule_words(chrono):
    """A chrono's schedule in words: its cron's, or a one-time chrono's date."""
    if chrono.run_at is not None:
        return schedules.describe_once(chrono.run_at, chrono.timezone, locale())
    return schedules.describe(chrono.cron, locale())


@bp.app_template_filter("bounds")
def bounds(chrono, style="medium"):
    """"From … until …" for a chrono with a start or an end date, else ""."""
    starts, ends = chrono.starts_at, chrono.ends_at
    if starts and ends:
        return _("From %(start)s until %(end)s", start=when(starts, chrono.timezone, style),
                 end=when(ends, chrono.timezone, style))
    if starts:
        return _("From %(when)s", when=when(starts, chrono.timezone, style))
    if ends:
        return _("Until %(when)s", when=when(ends, chrono.timezone, style))
    return ""


@bp.app_template_filter("status_label")
def status_label(status):
    return outcomes.status_label(status)


@bp.app_template_filter("run_error")
def run_error(run):
    """The run's error in the reader's words (HTML: quoted names marked translate="no")."""
    return outcomes.run_error(run, html=True)


@bp.app_template_filter("run_note")
def run_note(run):
    return outcomes.run_note(run, html=True)


@bp.app_template_filter("record_error")
def record_error(record, target_type=None):
    """An attempt's or a WhatsApp recipient's error in the reader's words."""
    return outcomes.record_error(record, html=True, target_type=target_type)


@bp.app_template_filter("host")
def host(url: str | None):
    return urlsplit(url).netloc if url else ""


@bp.app_context_processor
def languages():
    return {
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LOCALES],
        "current_language": locale(),
        "current_path": request.full_path.rstrip("?") if request else "/",
    }
