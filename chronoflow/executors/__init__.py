"""Picks the executor for a chrono's target type and snapshots what it needs."""
from datetime import datetime, timedelta, timezone

from ..models import TargetType
from . import http, message, request_template
from .success import Rules
from .headers import from_person, outgoing
from .outcome import Outcome

# The same on every attempt of one occurrence, so receivers can deduplicate.
RUN_ID_HEADER = "X-ChronoFlow-Run-Id"
SCHEDULED_FOR_HEADER = "X-ChronoFlow-Scheduled-For"


class HttpCall:
    """A prepared webhook call: callable on its own (it waits), or made with others
    side by side on the process's loop (scheduling/calls.py)."""

    __slots__ = ("request",)

    def __init__(self, request):
        self.request = request

    def __call__(self):
        return http.send(self.request)


def scheduled_for_header(moment):
    """One format, to the second, for scheduled and manual runs alike: 2026-11-26T12:00:00Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def longest_attempt(chrono, config):
    """How long one attempt may take at most: past it, whoever runs it is gone.

    A webhook is bounded by its timeout; a message run by its pacing, message
    after message, which can take minutes.
    """
    timeout_s = (chrono.config or {}).get("timeout_ms", config["HTTP_REQUEST_TIMEOUT_MS"]) / 1000
    if chrono.target_type == TargetType.MESSAGE:
        return timedelta(seconds=max(timeout_s, message.expected_duration_s(chrono, config)))
    return timedelta(seconds=timeout_s)


def prepare(chrono, config, run=None):
    """A zero-argument callable that performs one attempt and returns an Outcome.

    It holds plain values only, so it runs after the transaction is closed.
    Without a run (the form's Test button) nothing identifies an occurrence.
    """
    if chrono.target_type == TargetType.HTTP:
        if chrono.method not in config["ALLOWED_METHODS"]:
            outcome = Outcome.failure(
                "method_not_allowed", f"Method {chrono.method} is not in ALLOWED_METHODS", retryable=False,
                params={"method": chrono.method})
            return lambda: outcome
        from ..chronos.credentials import for_origin  # (the chronos package imports this one)

        own = {}
        if run is not None:
            own = {RUN_ID_HEADER: str(run.id),
                   SCHEDULED_FOR_HEADER: scheduled_for_header(run.scheduled_for)}
        url, person, payload = chrono.url, chrono.headers, chrono.payload
        if getattr(chrono, "templated", False):  # decided at save: other chronos render nothing
            try:
                url, person, payload = filled(chrono, run)
            except request_template.RequestTemplateError as exc:
                outcome = Outcome.failure("request_template", str(exc), retryable=False, params=exc.params)
                return lambda: outcome
        person = for_origin(person, chrono.secrets_origin, url)
        headers = outgoing(from_person(person), own=own)
        request = http.HttpRequest(
            method=chrono.method,
            url=url,
            headers=headers,
            payload=payload,
            success=Rules.load(getattr(chrono, "success", None)),
            timeout_s=(chrono.config or {}).get("timeout_ms", config["HTTP_REQUEST_TIMEOUT_MS"]) / 1000,
            max_bytes=config["RESPONSE_MAX_BYTES"],
            signing_secret=chrono.signing_secret,  # None for the form's Test of an unsaved chrono
            allowed=tuple(config.get("OUTBOUND_ALLOWED_NETWORKS") or ()),
        )
        return HttpCall(request)
    if chrono.target_type == TargetType.MESSAGE:
        return message.prepare(chrono, config, run)
    outcome = Outcome.failure(
        "unsupported", f"Target type {chrono.target_type} cannot be delivered by this version", retryable=False,
        params={"target_type": chrono.target_type})
    return lambda: outcome


def filled(chrono, run):
    """(url, headers, payload) of a templated chrono for this attempt (the run's, as
    claimed); without a run (Test), for now, as run 0's first attempt. Raises RequestTemplateError."""
    moment = run.scheduled_for if run is not None else datetime.now(timezone.utc)
    values = request_template.variables(getattr(chrono, "name", None), moment, chrono.timezone,
                                        run.id if run is not None else 0,
                                        max(getattr(run, "attempt", 1) or 1, 1))
    url, headers, payload = request_template.render(chrono.url, chrono.headers, chrono.payload, values)
    if not request_template.same_origin(chrono.url, url):
        from urllib.parse import urlsplit

        raise request_template.RequestTemplateError("url", reason="origin", host=urlsplit(url).hostname or "?")
    return url, headers, payload
