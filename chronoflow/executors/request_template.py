"""Templated webhook requests: URL, headers and payload filled in per occurrence.

The engine is the messages' (waha/template.py): sandboxed, bounded in time,
output and memory. Whether a chrono is templated is decided when it is saved
(Chrono.templated), so a run of any other chrono renders nothing.

The server a URL names cannot come from a template: the scheme, host and port
are written as they are, so credentials saved for that origin
(chronos/credentials.py) cannot be sent elsewhere by what a template renders;
the rendered URL's origin is compared again before sending.

All the templated pieces of one request are rendered in one bounded render
(one child process per run, not one per header), joined by a separator.
"""
import re
from datetime import timezone
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from ..waha import template

MARK = re.compile(r"\{\{|\{%")
MARKED = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)  # the template parts of a text
SEPARATOR = "\x1e"  # ASCII record separator: never in what a person types
# The names a request template may use; each has a Portuguese name too.
VARIABLES = ("scheduled_for", "scheduled_for_local", "date", "date_local", "run_id", "attempt", "chrono")
PORTUGUESE = {"agendado_para": "scheduled_for", "agendado_para_local": "scheduled_for_local", "data": "date",
              "data_local": "date_local", "execucao": "run_id", "execução": "run_id", "tentativa": "attempt",
              "nome": "chrono", "tarefa": "chrono"}


class RequestTemplateError(ValueError):
    """Which field failed (`field`: url, headers, payload, or a header's name) and why
    (the "request_template" outcome's params)."""

    def __init__(self, field, **params):
        self.field = field
        self.params = {"field": field, **params}
        super().__init__(f"{field}: {params}")


def has_template(text):
    return isinstance(text, str) and MARK.search(text) is not None


def is_templated(url, headers, payload):
    """Whether any piece of the request holds a template (decided at save)."""
    return any(source for _field, source in _pieces(url, headers, payload))


def origin_is_templated(url):
    """Whether the scheme, host or port part of `url` holds a template (refused)."""
    if not isinstance(url, str):
        return False
    head, sep, _rest = url.partition("://")
    if not sep:
        return has_template(url)
    netloc = re.split(r"[/?#]", _rest, maxsplit=1)[0]
    return has_template(head) or has_template(netloc)


def variables(chrono_name, scheduled_for, tz, run_id, attempt):
    """What a request template sees, in English and Portuguese names."""
    utc = scheduled_for.astimezone(timezone.utc)
    local = utc.astimezone(ZoneInfo(tz))
    values = {
        "scheduled_for": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scheduled_for_local": local.replace(microsecond=0).isoformat(),
        "date": utc.date().isoformat(),
        "date_local": local.date().isoformat(),
        "run_id": run_id,
        "attempt": attempt,
        "chrono": chrono_name or "",
    }
    values.update((alias, values[name]) for alias, name in PORTUGUESE.items())
    return values


def check(url, headers, payload, tz="UTC"):
    """Raises RequestTemplateError when the request would fail at run time (one render
    for all its pieces, with sample values)."""
    render(url, headers, payload, variables("Chrono", template.SAMPLE_MOMENT, tz, 1, 1))


def render(url, headers, payload, values):
    """(url, headers, payload) filled in with `values`. Raises RequestTemplateError."""
    pieces = list(_pieces(url, headers, payload))
    sources = [source for _field, source in pieces if source]
    if not sources:
        return url, headers, payload
    try:
        output = template.render(SEPARATOR.join(sources), values)
    except template.MessageTemplateError as exc:
        field = next(field for field, source in pieces if source)
        if len(sources) > 1:  # which one: each alone (the error path only)
            for field, source in pieces:
                if source:
                    try:
                        template.render(source, values)
                    except template.MessageTemplateError:
                        break
        raise RequestTemplateError(field, **exc.params) from None
    rendered = output.split(SEPARATOR)
    if len(rendered) != len(sources):
        raise RequestTemplateError(pieces[0][0], reason="template_syntax", detail="separator in output")
    filled = iter(rendered)
    new_url = _url_safe(next(filled)) if has_template(url) else url
    new_headers = {}
    for name, value in (headers or {}).items():
        if has_template(value):
            value = next(filled)
            if "\r" in value or "\n" in value or not _latin1(value):
                raise RequestTemplateError(name, reason="header_value")
        new_headers[name] = value
    new_payload = _fill_payload(payload, filled)
    return new_url, new_headers, new_payload


# What a filled-in URL keeps as it is: the reserved characters, and escapes already made.
URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


def _url_safe(url):
    """Spaces and other characters a URL cannot hold (accents...) percent-encoded; a value
    meant to hold & or = is the template's to encode ({{ chrono|urlencode }})."""
    return quote(url, safe=URL_SAFE)


def _latin1(value):
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _pieces(url, headers, payload):
    """(field, source or None) in a fixed order: the URL, each header value, each payload string."""
    yield "url", url if has_template(url) else None
    for name, value in (headers or {}).items():
        yield name, value if has_template(value) else None
    for source in _payload_strings(payload):
        yield "payload", source if has_template(source) else None


def _payload_strings(payload):
    if isinstance(payload, str):
        yield payload
    elif isinstance(payload, dict):
        for value in payload.values():
            yield from _payload_strings(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _payload_strings(value)


def _fill_payload(payload, filled):
    if isinstance(payload, str):
        return next(filled) if has_template(payload) else payload
    if isinstance(payload, dict):
        return {key: _fill_payload(value, filled) for key, value in payload.items()}
    if isinstance(payload, list):
        return [_fill_payload(value, filled) for value in payload]
    return payload


def same_origin(template_url, rendered_url):
    """Whether the rendered URL still names the template's server (scheme, host, port)."""
    from ..chronos.credentials import origin

    return origin(template_url) == origin(rendered_url) and urlsplit(rendered_url).hostname is not None
