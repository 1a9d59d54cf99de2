"""The one error type of the schedules package, with messages people can act on."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class ScheduleError(ValueError):
    """A schedule or timezone the user typed cannot be used.

    ``message`` is a lazy, translatable string: ``str(err)`` renders it in the
    current Flask-Babel locale (English outside an app context).
    """

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def not_understood(text: str, reason=None) -> ScheduleError:
    """The text could not be read as a schedule; ``reason`` says what is wrong, if known."""
    if reason is None:
        return ScheduleError(_l(
            "Could not understand '%(text)s'. Try e.g. 'every 5 minutes', "
            "'todo dia às 18:30', or a cron expression like '0 9 * * 1-5'.",
            text=text,
        ))
    return ScheduleError(_l("Could not understand '%(text)s': %(reason)s",
                            text=text, reason=reason))


def cannot_schedule(text: str, reason) -> ScheduleError:
    """The text was understood, but cron cannot express it (or it would never run)."""
    return ScheduleError(_l("'%(text)s' cannot be used as a schedule: %(reason)s",
                            text=text, reason=reason))
