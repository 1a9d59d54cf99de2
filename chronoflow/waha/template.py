"""The message a chrono sends: a Jinja template rendered in a sandbox, per recipient.

A person writes `Bom dia! Relatório de {{ data }}`; the sandbox keeps a template
from reaching Python objects, and StrictUndefined turns a misspelt variable into
an error when the chrono is saved instead of a blank in a message already sent.

The sandbox does not bound what a template costs: `range(10**5)` nested twice
runs for hours, `'x' * 10**10` asks for 10 GB. So render_bounded() renders in a
child process, forked from a small server process that has this module loaded
(multiprocessing's forkserver: a few milliseconds per render), with an address
space limit, a wall-clock deadline after which it is killed, and a cap on the
output. It serves any template that people write (messages today, webhook
requests later), at save time and at send time alike.
"""
import multiprocessing
import os
import resource
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import current_app, has_app_context
from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from .. import outcomes

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

# The names a template may use, in the README and the form's hint; each English name
# has a Portuguese one too, so a shop owner writes {{ nome }} or {{ data }}.
VARIABLES = ("chrono", "date", "time", "weekday", "date_en", "time_en", "weekday_en", "recipient", "phone")
PORTUGUESE = {"tarefa": "chrono", "nome": "chrono", "data": "date", "hora": "time", "dia_da_semana": "weekday",
              "destinatario": "recipient", "destinatário": "recipient", "telefone": "phone"}
# What an error suggests, in the reader's language.
SUGGESTED = {"en": ("chrono", "date", "time", "weekday", "recipient", "phone"),
             "pt": ("nome", "data", "hora", "dia_da_semana", "destinatario", "telefone")}

SAMPLE_MOMENT = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)


class MessageTemplateError(ValueError):
    """`reason` and `params`: the "invalid" outcome's (chronoflow/outcomes.py words it)."""

    code = "invalid"

    def __init__(self, reason, **params):
        self.params = {"reason": reason, **params}
        super().__init__(str(outcomes.describe(self.code, self.params, locale="en")))

    def __str__(self):
        return str(outcomes.describe(self.code, self.params))


def variables(chrono_name, moment, tz, recipient_label="+55 11 98765-4321", phone="+5511987654321"):
    """What a template sees: the run's time in the chrono's timezone, in pt-BR and English."""
    local = moment.astimezone(ZoneInfo(tz))
    values = {
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
    values.update((alias, values[name]) for alias, name in PORTUGUESE.items())
    return values


@dataclass(frozen=True)
class Limits:
    """What one render may cost (TEMPLATE_* settings)."""

    timeout_s: float = 1.0
    max_chars: int = 20_000
    max_memory_mb: int = 64

    @classmethod
    def from_config(cls, config):
        return cls(timeout_s=config["TEMPLATE_TIMEOUT_MS"] / 1000, max_chars=config["TEMPLATE_MAX_OUTPUT_CHARS"],
                   max_memory_mb=config["TEMPLATE_MAX_MEMORY_MB"])


def render(source, values):
    """The message for `values`, bounded by the app's TEMPLATE_* settings.
    Raises MessageTemplateError, in words a person understands."""
    limits = Limits.from_config(current_app.config) if has_app_context() else Limits()
    return render_bounded(source, values, limits)


def render_bounded(source, values, limits=Limits()):
    """`source` rendered with `values` in the sandbox, in a child process that may use
    `limits.max_memory_mb` more memory and `limits.timeout_s` of time, and write
    `limits.max_chars` characters. Raises MessageTemplateError."""
    receiver, sender = _context().Pipe(duplex=False)
    child = _context().Process(target=_render_child, args=(sender, source, values, limits), daemon=True)
    child.start()
    sender.close()
    try:
        outcome = receiver.recv() if receiver.poll(limits.timeout_s) else ("timeout",)
    except EOFError:  # the child died without a word: the memory limit, most likely
        outcome = ("memory",)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    return _result(outcome, limits)


def _result(outcome, limits):
    kind, *details = outcome
    if kind == "ok":
        return details[0]
    if kind == "timeout":
        raise MessageTemplateError("template_timeout", ms=int(limits.timeout_s * 1000))
    if kind == "too_long":
        raise MessageTemplateError("template_too_long", n=limits.max_chars)
    if kind == "memory":
        raise MessageTemplateError("template_memory", mb=limits.max_memory_mb)
    if kind == "undefined":
        raise MessageTemplateError("template_undefined", name=_undefined(details[0]))
    problem, line = details
    raise MessageTemplateError("template_syntax", line=line, detail=problem)


_lock = threading.Lock()
_mp_context = None


def _context():
    """multiprocessing's forkserver, with this module loaded once in the server."""
    global _mp_context
    with _lock:
        if _mp_context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["__main__", __name__])
            _mp_context = context
    return _mp_context


def _render_child(sender, source, values, limits):
    """In the child: render and send back ("ok", text) or what went wrong. Never raises."""
    try:
        _limit_memory(limits.max_memory_mb)
        chunks, size = [], 0
        for chunk in _env.from_string(source).generate(values):
            size += len(chunk)
            if size > limits.max_chars:
                sender.send(("too_long",))
                return
            chunks.append(chunk)
        sender.send(("ok", "".join(chunks)))
    except MemoryError:
        sender.send(("memory",))
    except UndefinedError as exc:
        sender.send(("undefined", str(exc.message or "")))
    except TemplateError as exc:  # syntax errors, and the sandbox's SecurityError
        sender.send(("error", str(exc.message or exc.__class__.__name__)[:300], getattr(exc, "lineno", None)))
    except Exception as exc:  # noqa: BLE001 (e.g. a number past 4300 digits, a division by zero)
        sender.send(("error", (str(exc) or exc.__class__.__name__)[:300], None))
    finally:
        sender.close()


def _limit_memory(megabytes):
    """Cap the address space at what the child has now plus `megabytes`."""
    try:
        with open("/proc/self/statm") as statm:
            now = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the deadline still bounds it
        return
    limit = now + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def check(source, timezone_name="UTC"):
    """Raises MessageTemplateError when `source` would fail at run time."""
    render(source, variables("Chrono", SAMPLE_MOMENT, timezone_name))


def _undefined(text):
    """"'nome' is undefined" -> 'nome'."""
    return text[: -len(" is undefined")] if text.endswith(" is undefined") else text
