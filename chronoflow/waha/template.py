"""The message a chrono sends: a Jinja template rendered in a sandbox, per recipient.

A person writes `Bom dia! Relatório de {{ data }}`; the sandbox keeps a template
from reaching Python objects, and StrictUndefined turns a misspelt variable into
an error when the chrono is saved instead of a blank in a message already sent.
"""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask_babel import gettext as _
from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

# The names a template may use, in the README and the form's hint.
VARIABLES = ("chrono", "date", "time", "weekday", "date_en", "time_en", "weekday_en", "recipient", "phone")

SAMPLE_MOMENT = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


class MessageTemplateError(ValueError):
    pass


def variables(chrono_name, moment, tz, recipient_label="+55 11 98765-4321", phone="+5511987654321"):
    """What a template sees: the run's time in the chrono's timezone, in pt-BR and English."""
    local = moment.astimezone(ZoneInfo(tz))
    return {
        "chrono": chrono_name,
        "date": format_date(local, "dd/MM/yyyy", locale="pt_BR"),
        "time": format_time(local, "HH:mm", locale="pt_BR"),
        "weekday": format_date(local, "EEEE", locale="pt_BR"),
        "date_en": format_date(local, "MM/dd/yyyy", locale="en"),
        "time_en": format_time(local, "h:mm a", locale="en"),
        "weekday_en": format_date(local, "EEEE", locale="en"),
        "recipient": recipient_label,
        "phone": phone or "",
    }


def render(source, values):
    try:
        return _env.from_string(source).render(values)
    except UndefinedError as exc:
        raise MessageTemplateError(_("%(problem)s. You can use: %(names)s.", problem=_undefined(exc),
                                     names=", ".join("{{ %s }}" % name for name in VARIABLES))) from None
    except TemplateError as exc:  # syntax errors, and the sandbox's SecurityError
        line = getattr(exc, "lineno", None)
        where = _(" (line %(line)s)", line=line) if line else ""
        raise MessageTemplateError(_("The message has a mistake in its {{ }} or {%% %%}%(where)s: %(problem)s",
                                     where=where, problem=exc.message or exc.__class__.__name__)) from None


def check(source, timezone_name="UTC"):
    """Raises MessageTemplateError when `source` would fail at run time."""
    render(source, variables("Chrono", SAMPLE_MOMENT, timezone_name))


def _undefined(exc):
    text = str(exc.message or "")
    # "'nome' is undefined" -> a sentence a person understands
    if text.endswith(" is undefined"):
        return _("There is no variable %(name)s", name=text[: -len(" is undefined")])
    return text
