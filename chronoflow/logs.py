"""Log lines: readable text by default, one JSON object per line with LOG_FORMAT=json.

Each process sets logging up once, where it starts: the web server in
gunicorn.conf.py (gunicorn's own lines included), the worker in `flask worker`.
Fields passed as `extra=` (a run's chrono_id, run_id, attempt, status, duration_ms,
lateness_ms; a request's method, path, status, duration_ms) become keys of the
JSON object; the text line already says them in its message.
"""
import logging
import logging.config
import os

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(JsonFormatter):
    """{"time": ISO 8601 UTC, "level", "logger", "process", "message", ...extra fields}"""

    def __init__(self):
        super().__init__(
            ["levelname", "name", "process", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )


def from_environ(environ=None):
    """(LOG_FORMAT, LOG_LEVEL) checked by the settings' own parsers, for the entry
    points that set logging up before the app exists (gunicorn.conf.py)."""
    from .config import SETTINGS

    environ = os.environ if environ is None else environ
    values = []
    for name in ("LOG_FORMAT", "LOG_LEVEL"):
        default, parse = SETTINGS[name]
        values.append(parse(name, environ.get(name) or default))
    return tuple(values)


def dict_config(log_format, level):
    """A logging.config.dictConfig: every logger through one handler on stderr.

    gunicorn's loggers lose their own handlers and propagate here, so its lines
    have the same shape as ours.
    """
    formatter = {"()": JsonLines} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"chronoflow": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "chronoflow",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # ChronoFlow logs each request itself (chronoflow.requests), in this shape.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure(log_format, level):
    logging.config.dictConfig(dict_config(log_format, level))
    # Flask gives its app logger a handler of its own when none is above it yet;
    # the root handler now writes those lines, once.
    from flask.logging import default_handler

    logging.getLogger("chronoflow").removeHandler(default_handler)
