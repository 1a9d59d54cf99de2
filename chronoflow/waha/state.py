"""Each WhatsApp session as ChronoFlow last heard of it (models.WahaSession).

WAHA pushes session.status on every change (shared/waha-api.md §7), QR rotations
included; ChronoFlow's own calls to WAHA (the session pages) report what they saw
too. The pages follow this record, not WAHA. A session that was connected and
drops (FAILED, STOPPED, SCAN_QR_CODE) raises one alert, and one recovery notice
when it is connected again; a drop a person asked for here (stop, log out) does not.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..i18n import translations
from ..models import WahaSession, utcnow
from .phones import display_phone

WORKING = "WORKING"
DOWN = ("FAILED", "STOPPED", "SCAN_QR_CODE")
# How long after a person's stop or logout the drop it causes is expected.
QUIET = timedelta(minutes=2)


def row(name, lock=False):
    """The session's row, created on first use; `lock`: FOR UPDATE (PostgreSQL)."""
    query = select(WahaSession).where(WahaSession.name == name)
    if lock:
        query = query.with_for_update()
    found = db.session.scalars(query).one_or_none()
    if found is not None:
        return found
    try:
        with db.session.begin_nested():
            db.session.add(WahaSession(name=name, linked=False, alert_open=False))
    except IntegrityError:  # another request created it meanwhile
        pass
    return db.session.scalars(query).one()


def record(name, status, me_id=None, push_name=None, at=None, event=False, now=None):
    """Apply a status WAHA reported for session `name` (`at`: when, by WAHA's clock).

    `event`: it came as a webhook event (the pages then trust this record and stop
    asking WAHA). Returns the alert to send after the commit, or None. Flushes.
    """
    now = now or utcnow()
    session = row(name, lock=True)
    if event:
        at = at or now
        session.event_at = now
        # Event times are WAHA's clock: compared with each other only, never with ours.
        if session.status_at is not None and at < session.status_at:
            return None  # older than an event already applied: a late retry
        session.status_at = at
    if event or status != session.status:
        session.changed_at = now  # a repeated SCAN_QR_CODE is a new QR code
    session.status = status
    if status == WORKING:
        session.me_id = (me_id or session.me_id or "")[:100] or None
        session.push_name = (push_name or session.push_name or "")[:200] or None
    else:
        session.me_id = session.push_name = None
    alert = None
    if status == WORKING:
        if session.alert_open:
            alert = _alert("whatsapp_connected", session)
        session.linked, session.alert_open = True, False
    elif status in DOWN:
        expected = session.quiet_until is not None and now < session.quiet_until
        if session.linked and not session.alert_open and not expected:
            alert = _alert("whatsapp_disconnected", session)
            session.alert_open = True
        session.linked = False
    db.session.flush()
    return alert if _alerts_configured() else None


def observed(info, now=None):
    """What one of our calls to WAHA saw (a client.SessionInfo): the same rules as an event."""
    return record(info.name, info.status, info.me_id, info.push_name, event=False, now=now)


def expect_drop(name, now=None):
    """A person stops, logs out or deletes the session here: what follows is no outage."""
    session = row(name, lock=True)
    session.quiet_until = (now or utcnow()) + QUIET
    db.session.flush()


def forget(name):
    """The session was deleted: nothing left to follow or to alert about."""
    found = db.session.get(WahaSession, name)
    if found is not None:
        db.session.delete(found)
        db.session.flush()


def known(names=None):
    """{name: WahaSession} for `names` (all when None)."""
    query = select(WahaSession)
    if names is not None:
        query = query.where(WahaSession.name.in_(list(names)))
    return {session.name: session for session in db.session.scalars(query)}


def _alerts_configured():
    config = current_app.config
    return bool(config.get("ALERT_WEBHOOK_URL") or config.get("ALERT_WHATSAPP_TO"))


def _alert(event, session):
    """Sent by the chronos' alert senders (scheduling/streaks.py), with a session
    where theirs have a chrono and a run."""
    phone = display_phone(session.me_id) if session.me_id else None
    return {
        "event": event,  # whatsapp_disconnected | whatsapp_connected
        "session": {"name": session.name, "status": session.status, "phone": phone},
        "message": describe(event, session.name, session.status, phone, current_app.config["ALERT_LANGUAGE"]),
    }


def describe(event, name, status, phone=None, locale="en"):
    """The alert in words, in ALERT_LANGUAGE: it is read on a phone, away from any page."""
    gettext = translations(locale).gettext
    if event == "whatsapp_connected":
        text = gettext("WhatsApp connected again: session %(session)s (%(phone)s).")
    elif status == "FAILED":
        text = gettext("WhatsApp disconnected: session %(session)s failed. Restart it, or scan the QR code again "
                       "under WhatsApp > Sessions.")
    elif status == "STOPPED":
        text = gettext("WhatsApp disconnected: session %(session)s stopped. Start it, or scan the QR code again "
                       "under WhatsApp > Sessions.")
    else:
        text = gettext("WhatsApp disconnected: scan the QR code again (session %(session)s, under WhatsApp > "
                       "Sessions).")
    return text % {"session": name, "phone": phone or "?"}
