"""The WhatsApp session pages. Thin: call WAHA through the client, show what it
said; a WAHA that is down or refuses our key is a message on the page, never a crash."""
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from . import bp, pacing, receipts, service, state, tasks
from .client import SessionNotFound, SessionNotReady, WahaError
from .forms import PairingCodeForm, SessionForm
from .phones import RecipientError, parse_recipient


def _name_or_404(name):
    if service.name_problem(name):
        abort(404)
    return name


def _observed(*infos):
    """Record what WAHA just told us about sessions, commit, then send the alerts it raised."""
    alerts = [state.observed(info) for info in infos if info is not None]
    db.session.commit()
    for alert in alerts:
        tasks.send_alert_later(alert)


@bp.route("/sessions")
def sessions():
    items, error = [], None
    try:
        items = service.client().list_sessions()
    except WahaError as exc:
        error = exc
    _observed(*items)
    return render_template("waha/sessions.html", sessions=items, error=error, form=SessionForm(),
                           waha_url=current_app.config["WAHA_BASE_URL"])


@bp.route("/states")
def states():
    """Every session as ChronoFlow last heard of it: the sessions page's script polls
    this (our database, never WAHA) and updates the cards as events arrive."""
    return jsonify([service.describe(service.from_record(row), row) for row in state.known().values()])


@bp.route("/sessions", methods=["POST"])
def create_session():
    form = SessionForm()
    name = (form.name.data or "").strip() or "default"
    problem = service.name_problem(name)
    if problem:
        flash(problem, "error")
        return redirect(url_for("waha.sessions"))
    try:
        _observed(service.create(name, start=True))
    except WahaError as exc:
        flash(str(exc), "error")
        return redirect(url_for("waha.sessions"))
    return redirect(url_for("waha.pair", name=name))


@bp.route("/sessions/<name>/<any(start, stop, restart, logout):action>", methods=["POST"])
def session_action(name, action):
    _name_or_404(name)
    if action in ("stop", "logout"):
        state.expect_drop(name)  # asked for here: not an outage to alert about
        db.session.commit()
    try:
        _observed(getattr(service.client(), action)(name))
    except WahaError as exc:
        flash(str(exc), "error")
    else:
        done = {"start": _("Session “%(name)s” is starting.", name=name),
                "stop": _("Session “%(name)s” stopped. Its link to the phone is kept.", name=name),
                "restart": _("Session “%(name)s” is restarting.", name=name),
                "logout": _("Session “%(name)s” logged out: link a phone again to use it.", name=name)}
        flash(done[action], "success")
    if action in ("start", "restart", "logout") or request.form.get("next") == "pair":
        return redirect(url_for("waha.pair", name=name))
    return redirect(url_for("waha.sessions"))


@bp.route("/sessions/<name>/delete", methods=["GET", "POST"])
def delete_session(name):
    _name_or_404(name)
    if request.method == "POST":
        state.expect_drop(name)
        db.session.commit()
        try:
            service.client().delete(name)
        except WahaError as exc:
            flash(str(exc), "error")
        else:
            state.forget(name)
            db.session.commit()
            flash(_("Session “%(name)s” deleted.", name=name), "success")
        return redirect(url_for("waha.sessions"))
    return render_template("waha/delete.html", name=name)


@bp.route("/sessions/<name>")
def pair(name, code=None, code_form=None):
    """Link a phone: the QR code (served by us), or a pairing code; the page's
    script follows the status and says "Connected as …" when it is done."""
    _name_or_404(name)
    shown, error = None, None
    try:
        info = service.client().get_session(name)
        _observed(info)
        shown = service.describe(info, state.known([name]).get(name))
    except WahaError as exc:
        error = exc
    return render_template("waha/pair.html", name=name, state=shown, error=error,
                           missing=isinstance(error, SessionNotFound), code=code,
                           code_form=code_form or PairingCodeForm())


@bp.route("/sessions/<name>/status")
def status(name):
    """The pairing page's script polls this (small, no secrets): our own record,
    which WAHA's events keep current (service.current)."""
    _name_or_404(name)
    try:
        shown, alert = service.current(name)
    except WahaError as exc:
        return jsonify(error=str(exc), status=None), 503 if exc.retryable else 502
    db.session.commit()
    tasks.send_alert_later(alert)
    return jsonify(shown)


@bp.route("/sessions/<name>/qr.png")
def qr(name):
    """WAHA's QR image, fetched with our API key: the browser never sees the key."""
    _name_or_404(name)
    try:
        png = service.client().qr_png(name)
    except (SessionNotReady, SessionNotFound):
        abort(404)  # no QR right now (connected, starting, stopped): the page says why
    except WahaError:
        abort(503)
    return png, 200, {"Content-Type": "image/png", "Cache-Control": "no-store"}


@bp.route("/sessions/<name>/pairing-code", methods=["GET", "POST"])
def pairing_code(name):
    _name_or_404(name)
    if request.method == "GET":  # the language switch of a page shown after a POST
        return redirect(url_for("waha.pair", name=name))
    form = PairingCodeForm()
    form.phone.errors = []
    code = None
    try:
        recipient = parse_recipient(form.phone.data or "", current_app.config["DEFAULT_PHONE_REGION"])
        if recipient.is_group:
            form.phone.errors.append(_("Type your own phone number, not a group."))
        else:
            code = service.client().request_code(name, recipient.phone)
    except (RecipientError, WahaError) as exc:
        form.phone.errors.append(str(exc))
    return pair(name, code=code, code_form=form)


@bp.app_template_filter("waha_status")
def waha_status(status):
    return service.status_label(status)


@bp.app_template_filter("waha_badge")
def waha_badge(status):
    return service.status_badge(status)


@bp.app_template_filter("with_receipts")
def with_receipts(run):
    """A WhatsApp run's recipients, each with what WhatsApp said since (receipts.py)."""
    return receipts.recipients_of(run)


@bp.app_template_filter("receipt_tally")
def receipt_tally(recipients):
    return receipts.tally(recipients)


@bp.app_template_filter("last_receipts")
def last_receipts(chrono):
    """receipts.tally() of the chrono's newest run that sent something, or None."""
    run = receipts.last_message_run(chrono)
    recipients = receipts.recipients_of(run) if run is not None else []
    return receipts.tally(recipients) if recipients else None


@bp.app_template_global("send_estimate")
def send_estimate(recipients, schedule, timezone):
    """pacing.estimate() for the chrono form: `recipients` is the box's text, one per line."""
    count = len([line for line in (recipients or "").splitlines() if line.strip()])
    return pacing.estimate(count, schedule, timezone, current_app.config)


@bp.route("/estimate")
def estimate():
    """The chrono form's script asks this as the recipients or the schedule change."""
    count = request.args.get("recipients", "0")
    return jsonify(pacing.estimate(min(int(count), 100_000) if count.isdigit() and len(count) < 7 else 0,
                                   request.args.get("schedule", ""), request.args.get("timezone", ""),
                                   current_app.config))
