"""What the session pages and the JSON API share: the client from the settings,
session names, and a session's state in words."""
import re

from flask import current_app
from flask_babel import gettext as _

from ..outcomes.words import SESSION_LABELS
from . import events, state
from .client import SessionInfo, WahaClient

# WAHA's generated names are session_<id>, at most 54 characters; keep names URL-safe.
SESSION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,54}$")

# The run badges' colours: green connected, amber on its way, red failed, grey stopped.
STATUS_BADGES = {"STOPPED": "paused", "STARTING": "pending", "SCAN_QR_CODE": "pending", "WORKING": "success",
                 "FAILED": "failed"}
ACTIONS = ("start", "stop", "restart", "logout")


def client():
    return WahaClient.from_config(current_app.config)


def create(name, start=True):
    """A new session (or the existing one started), sending ChronoFlow its events
    when WAHA_WEBHOOK_BASE_URL says where ChronoFlow is."""
    config = current_app.config
    return client().create_session(name, start=start, webhook=events.webhook_config(config),
                                   replaces=lambda hook: events.ours(hook, config))


def from_record(row):
    """A SessionInfo from what ChronoFlow last heard (state.py's row)."""
    return SessionInfo(name=row.name, status=row.status or "STOPPED", me_id=row.me_id, push_name=row.push_name)


def current(name):
    """(state as describe() gives it, alert to send after the commit) for the pairing
    page's script. From our own record once WAHA's events arrive for the session;
    until then (webhooks not set up) from WAHA, and recorded. Raises WahaError."""
    row = state.known([name]).get(name)
    if row is not None and row.event_at is not None:
        return describe(from_record(row), row), None
    info = client().get_session(name)
    alert = state.observed(info)
    return describe(info, state.known([name]).get(name)), alert


def name_problem(name):
    """None when `name` can be a session's name, else what is wrong with it."""
    if not SESSION_NAME.match(name or ""):
        return _("Use 1 to 54 letters, digits, - or _ (no spaces), e.g. default.")
    return None


def status_label(status):
    return _(SESSION_LABELS[status]) if status in SESSION_LABELS else str(status)


def status_badge(status):
    return STATUS_BADGES.get(status, "pending")


def describe(session, row=None):
    """The session's state as the pairing page shows it (and its script refreshes it).
    `row` (state.py's record): `changed_at` changes with every event, a new QR code
    included; `live` says that WAHA's events reach ChronoFlow."""
    advice = {
        "STOPPED": _("This session is stopped. Start it to link a phone."),
        "STARTING": _("Starting… the QR code appears in a few seconds."),
        "SCAN_QR_CODE": _("Scan the code below with your phone, or link with your phone number."),
        "FAILED": _("The session failed (the phone may have been unlinked). Restart it; if that does not help, "
                    "log out and link the phone again."),
    }
    return {
        "name": session.name,
        "status": session.status,
        "label": status_label(session.status),
        "badge": status_badge(session.status),
        "working": session.working,
        "phone": session.phone,
        "push_name": session.push_name,
        "headline": (_("Connected as %(phone)s", phone=session.phone or session.push_name or "?")
                     if session.working else status_label(session.status)),
        "advice": advice.get(session.status, _("Waiting for WhatsApp (status %(status)s).", status=session.status)),
        "changed_at": row.changed_at.isoformat() if row is not None and row.changed_at else None,
        "live": row is not None and row.event_at is not None,
    }
