"""Alerts about a session, sent by a worker: a webhook request or a page must not
wait for an alert receiver (or for WAHA) to answer."""
import logging

from ..queue import huey

log = logging.getLogger(__name__)


@huey.task(name="send_whatsapp_session_alert")
def send_session_alert(alert):
    from ..scheduling import streaks  # it imports the executors, which import this package

    with huey.flask_app.app_context():
        streaks.send_alert(alert)


def send_alert_later(alert):
    """Queue the alert, after the commit that decided it; the queue being down loses
    only the alert (best effort, like every alert): the pages show the same state."""
    if not alert:
        return
    try:
        send_session_alert(alert)
    except Exception:  # noqa: BLE001 (Redis down must not fail the request that recorded the state)
        log.exception("could not queue the %s alert of session %s", alert["event"], alert["session"]["name"])
