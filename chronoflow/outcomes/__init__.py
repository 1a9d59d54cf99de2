"""What happened to a run, in the reader's words.

The worker stores facts: an error code (stable, for the API, filters and metrics)
and its parameters (`{"reason": "refused", "host": "shop.example"}`), on the
attempt, the run's result and each WhatsApp recipient. The words are chosen here,
when a page, an API answer or an alert shows them, in the reader's language
(habit 16). Runs stored before codes had parameters, as English sentences, are
read through legacy.py: their code and what their sentence says, or, when
nothing is known, "the server said: …".

Everything here reads plain values (a run's `result`, `error_message`, target
type): no query, so a page of runs costs what it did.
"""
from ..models import RunStatus, TargetType
from . import legacy
from .words import N_, Speaker

STATUS_LABELS = {
    RunStatus.PENDING: N_("waiting"),
    RunStatus.RUNNING: N_("running"),
    RunStatus.RETRYING: N_("will try again"),
    RunStatus.SUCCESS: N_("success"),
    RunStatus.FAILED: N_("failed"),
    RunStatus.CANCELLED: N_("cancelled"),
    RunStatus.SKIPPED: N_("skipped"),
}


def status_label(status, locale=None):
    """A run status ("success", "failed"...) in the reader's words."""
    if status not in STATUS_LABELS:
        return status or ""
    return Speaker(locale).say(STATUS_LABELS[status])


def describe(code, params=None, locale=None, html=False):
    """(code, params) in words; `locale` None: the request's. `html`: Markup whose
    names, hosts and quoted server text are marked translate="no"."""
    return Speaker(locale, html).outcome(code, params or {})


def problem(run):
    """(code, params) of the run's error, or None when it has none."""
    result = run.result if isinstance(run.result, dict) else {}
    if "error_params" in result:  # written by this version
        return None if result.get("error_code") is None else (result["error_code"], result["error_params"] or {})
    if not run.error_message:
        return None
    return legacy.problem(run.error_message, result, _target_type(run))


def run_error(run, locale=None, html=False):
    """The run's error in words, or None."""
    found = problem(run)
    if found is None:
        return None
    code, params = found
    speaker = Speaker(locale, html)
    return speaker.outcome(code, _with_context(code, params, run, speaker))


def run_note(run, locale=None, html=False):
    """One line for a run in a history list: its error, what a WhatsApp run did, or
    the start of the target's answer."""
    error = run_error(run, locale, html)
    if error is not None:
        return error
    recipients = _recipients(run)
    if recipients:
        sent = sum(1 for record in recipients if record.get("status") == "sent")
        return Speaker(locale, html).say(N_("Sent to %(sent)s of %(total)s recipients."), sent=sent,
                                         total=len(recipients))
    return run.response_snippet or ""


def record_error(record, locale=None, html=False, target_type=None):
    """An attempt's or a WhatsApp recipient's error (a dict with error_code and
    error_params, or the English `error` of older runs) in words, or None."""
    if not isinstance(record, dict):
        return None
    if "error_params" in record:
        code, params = record.get("error_code"), record.get("error_params") or {}
        if code is None:
            return None
    elif record.get("error"):
        code, params = legacy.problem(record["error"], {"error_code": record.get("error_code")}, target_type)
    else:
        return None
    return Speaker(locale, html).outcome(code, params)


def in_words(result, locale=None):
    """A run's result as the API shows it: each `error` next to an `error_code`
    (attempts, recipients) in the request's language."""
    if not isinstance(result, dict):
        return result
    shown = dict(result)
    for key in ("attempts", "recipients"):
        items = result.get(key)
        if isinstance(items, list):
            shown[key] = [{**item, "error": record_error(item, locale)} if isinstance(item, dict) and
                          (item.get("error") or item.get("error_code")) else item for item in items]
    return shown


def _target_type(run):
    chrono = getattr(run, "chrono", None)
    return getattr(chrono, "target_type", None)


def _recipients(run):
    result = run.result if isinstance(run.result, dict) else {}
    records = result.get("recipients")
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _with_context(code, params, run, speaker):
    """What the words of some codes take from the run itself: who did not get a
    message, the chrono's timezone for dates, the host of an older run's request."""
    extra = {}
    if code in ("partial", "not_sent"):
        problems = [(record.get("label") or record.get("to") or "?",
                     record_error(record, speaker.locale, speaker.html, TargetType.MESSAGE)
                     or speaker.say(N_("not sent")))
                    for record in _recipients(run) if record.get("status") != "sent"]
        extra["problems"] = speaker.join([speaker.pair(label, why) for label, why in problems])
    chrono = getattr(run, "chrono", None)
    if getattr(chrono, "timezone", None):
        extra["timezone"] = chrono.timezone
    return {**params, **extra} if extra else params


__all__ = ["STATUS_LABELS", "describe", "in_words", "problem", "record_error", "run_error", "run_note",
           "status_label"]
