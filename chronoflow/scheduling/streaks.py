"""Failed runs in a row: auto-pause after too many, alerts when a chrono starts
failing and when it recovers.

record_final() runs in the transaction that gives a run its final status, and
returns the alert to send, if any; the caller sends it after the commit, so a
slow alert receiver never holds a database lock.
"""
import logging

from flask import current_app

from .. import outcomes
from ..executors import http
from ..extensions import db
from ..i18n import translations
from ..models import PausedReason, RunStatus
from ..waha.client import WahaClient, WahaError
from ..waha.phones import parse_recipients

log = logging.getLogger(__name__)


def auto_pause_limit(chrono):
    """Failed runs in a row that pause the chrono; 0 means never."""
    return (chrono.config or {}).get("auto_pause_after", current_app.config["AUTO_PAUSE_AFTER_FAILURES"])


def record_final(run, now=None, chrono_locked=False):
    """Update the chrono's failure streak for a run that just became final.

    Returns an alert payload (a dict) to send after the commit, or None.
    Skipped and cancelled runs leave the streak as it is: nothing was learned.
    `chrono_locked`: the caller read the chrono FOR UPDATE in this transaction
    (the runner does, with the run), so it is current and nobody else counts.
    """
    if run.status not in (RunStatus.SUCCESS, RunStatus.FAILED):
        return None
    chrono = run.chrono
    if not chrono_locked:
        # Two runs of one chrono may finish at once: count under the chrono's row lock
        # (flushed first: the refresh would forget changes the caller made).
        db.session.flush()
        db.session.refresh(chrono, with_for_update=True)
    threshold = current_app.config["ALERT_AFTER_FAILURES"]
    previous = chrono.consecutive_failures or 0
    if run.status == RunStatus.SUCCESS:
        chrono.consecutive_failures = 0
        return _alert("recovered", chrono, run, previous) if previous >= threshold else None

    failures = chrono.consecutive_failures = previous + 1
    limit = auto_pause_limit(chrono)
    if limit and failures >= limit and chrono.is_active:
        from ..chronos import service  # the package's views import the tasks, which import us

        service.pause(chrono, now)
        chrono.paused_reason = PausedReason.FAILURES
        return _alert("paused", chrono, run, failures)
    if failures == threshold:
        return _alert("failing", chrono, run, failures)
    return None


def _alert(event, chrono, run, failures):
    config = current_app.config
    if not (config.get("ALERT_WEBHOOK_URL") or config.get("ALERT_WHATSAPP_TO")):
        return None
    return {
        "event": event,  # failing | paused | recovered
        "chrono": {"id": chrono.id, "name": chrono.name, "is_active": chrono.is_active},
        "consecutive_failures": failures,
        "run": {"id": run.id, "status": run.status, "scheduled_for": run.scheduled_for.isoformat(),
                "http_status": run.http_status, "error_code": (outcomes.problem(run) or (None,))[0],
                "error": outcomes.run_error(run, locale=config["ALERT_LANGUAGE"])},
        "message": describe(event, chrono.name, failures, config["ALERT_LANGUAGE"]),
    }


def describe(event, name, failures, locale="en"):
    """The alert in words, in ALERT_LANGUAGE: it is read on a phone, away from any page."""
    gettext = translations(locale).gettext
    if event == "failing":
        text = gettext("%(name)s has failed %(n)s times in a row.")
    elif event == "paused":
        text = gettext("%(name)s failed %(n)s times in a row and was paused.")
    else:
        text = gettext("%(name)s works again after %(n)s failed runs.")
    return text % {"name": name, "n": failures}


def send_alert(alert):
    """Tell ALERT_WEBHOOK_URL and ALERT_WHATSAPP_TO.

    Best effort and never retried: the chrono's page and API show the same facts.
    """
    if not alert:
        return
    if current_app.config.get("ALERT_WEBHOOK_URL"):
        _post(alert)
    if current_app.config.get("ALERT_WHATSAPP_TO"):
        _whatsapp(alert)


def _whatsapp(alert):
    """One message per recipient through WAHA; one that fails does not stop the others."""
    config = current_app.config
    client = WahaClient.from_config(config)
    recipients, _problems = parse_recipients(config["ALERT_WHATSAPP_TO"], config["DEFAULT_PHONE_REGION"])
    text = f"ChronoFlow: {alert['message']}"
    error = alert.get("run", {}).get("error")
    if error:
        text += f"\n{error}"
    for recipient in recipients:
        try:
            chat_id, _message_id = client.send_to(config["ALERT_WHATSAPP_SESSION"], recipient, text)
            problem = None if chat_id else "this number is not on WhatsApp"
        except WahaError as exc:
            problem = exc
        if problem:
            log.warning("alert %s (%s) not sent to %s: %s", alert["event"], _about(alert), recipient.label, problem)


def _post(alert):
    """Through the one module for outbound HTTP, so the outbound policy applies."""
    request = http.HttpRequest(
        method="POST",
        url=current_app.config["ALERT_WEBHOOK_URL"],
        headers={"X-ChronoFlow-Event": alert["event"]},
        payload=alert,
        timeout_s=10,
        max_bytes=4096,
    )
    outcome = http.send(request)
    if not outcome.ok:
        log.warning("alert %s (%s) not delivered: %s", alert["event"], _about(alert), outcome.error)
    return outcome


def _about(alert):
    if "chrono" in alert:
        return f"chrono {alert['chrono']['id']}"
    return f"WhatsApp session {alert['session']['name']}"
