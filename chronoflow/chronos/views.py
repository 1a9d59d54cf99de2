"""The dashboard's chrono pages. Thin: load, call service, commit, then dispatch."""
import functools
import zoneinfo

from flask import current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from .. import executors, outcomes, schedules, tasks
from ..accounts import service as accounts
from ..executors import message
from ..extensions import db
from ..main.formatting import duration, locale, relative, when
from ..models import Channel, Chrono, RunStatus, TargetType, utcnow
from ..waha.phones import RecipientError
from . import bp, credentials, service
from .curl import CurlError, parse_curl
from .forms import ChronoForm, payload_text
from .schemas import NAME_LENGTH, SCHEDULE_LENGTH, ChronoInput

PAGE_SIZE = 20
MAX_PAGE = 10**6


def _page():
    page = request.args.get("page", "1")
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    return min(max(1, int(page)), MAX_PAGE) if page.isdecimal() and len(page) < 8 else 1


def _channels():
    return db.session.scalars(select(Channel).order_by(Channel.name)).all()


@bp.route("/")
def index():
    search = request.args.get("q", "").replace("\0", "").strip()[:NAME_LENGTH]  # (no name holds more)
    state = request.args.get("state") if request.args.get("state") in service.STATES else None
    page = _page()
    total, chronos = service.list_chronos((page - 1) * PAGE_SIZE, PAGE_SIZE, search=search, state=state)
    return render_template("chronos/list.html", chronos=chronos, total=total, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), search=search, state=state,
                           filtered=bool(search or state))


@bp.route("/chronos/new", methods=["GET", "POST"])
def create():
    form = ChronoForm(channels=_channels())
    return _form_page(form, chrono=None)


@bp.route("/chronos/<int:chrono_id>/edit", methods=["GET", "POST"])
def edit(chrono_id):
    chrono = db.get_or_404(Chrono, chrono_id)
    form = ChronoForm.for_chrono(chrono, channels=_channels())
    return _form_page(form, chrono=chrono)


def _form_page(form, chrono):
    """Save, Test (send once, save nothing) or Paste curl (fill the form): one form, three
    buttons, so each works without JavaScript; with it, Test and curl answer in place."""
    action = request.form.get("action", "save")
    test_outcome = None
    # CSRFProtect has checked the token of every POST; what is valid is
    # ChronoInput's to say, not WTForms validators.
    if form.is_submitted():
        if action == "curl":
            form.curl.errors = []
            try:
                form.fill_from_curl(parse_curl(form.curl.data or ""))
            except CurlError as exc:
                form.curl.errors.append(str(exc))
        elif action == "test":
            test_outcome = _test(form, chrono)
        else:
            saved = _save(form, chrono)
            if saved is not None:
                return redirect(url_for("chronos.detail", chrono_id=saved.id))
    return render_template("chronos/form.html", form=form, chrono=chrono, test_outcome=test_outcome,
                           preview=_preview(form.schedule.data, form.timezone.data, form.starts_at.data,
                                            form.ends_at.data, form.spread_s.data, chrono),
                           timezones=timezones())


# What Test does not use (it sends the request, or the message to one number):
# stand-ins for those fields when they are wrong, so Test works before they are
# fixed, and their errors wait for Save.
TEST_STAND_INS = {"name": "Test", "description": "", "schedule": "@daily", "timezone": None, "is_active": True,
                  "recipients": ["+55 11 98765-4321"], "starts_at": None, "ends_at": None, "spread_s": 0}


def _validated(form, chrono=None, test=False):
    """ChronoInput's values, or None with every problem next to its field at once.

    Editing `chrono`: masked header values are its stored ones, for the origin they
    were saved for only (credentials.py). `test`: only what Test uses must be right."""
    data = form.to_input()
    problems = {}
    if chrono is not None:
        try:
            data.update(service.resolve_masks(chrono, data))
        except ValidationError as exc:
            problems = exc.messages
    values, errors = _load(data, chrono)
    if test:
        stand_ins = {name: TEST_STAND_INS[name] for name in errors if name in TEST_STAND_INS}
        if stand_ins:
            values, errors = _load({**data, **stand_ins}, chrono)
    form.attach_errors(errors)
    form.attach_errors(problems)
    return None if form.errors_found() else values


def _load(data, chrono=None):
    try:
        return ChronoInput(saved=chrono).load(data), {}
    except ValidationError as exc:
        return None, exc.messages


def _save(form, chrono):
    values = _validated(form, chrono)
    if values is None:
        return None
    if chrono is None:
        chrono = service.create_chrono(values)
        if chrono.target_type == TargetType.HTTP:  # a WhatsApp message is not signed: nothing to keep
            _show_secret_once(chrono)
        flash(_("Chrono created."), "success")
    else:
        service.update_chrono(chrono, values)
        flash(_("Changes saved."), "success")
    tasks.dispatch_chrono(chrono)  # commits
    return chrono


def _test(form, chrono=None):
    """Sends the request once, as the chrono would, without saving anything.
    Editing a chrono, it is signed with its secret."""
    values = _validated(form, chrono, test=True)
    if values is None:
        return None
    if values["target_type"] == TargetType.MESSAGE:
        return _test_message(form, values)
    extra = {"secrets_origin": credentials.origin(values["url"])}
    if chrono is not None:
        extra["signing_secret"] = chrono.signing_secret
    outcome = executors.prepare(Chrono(**values, **extra), current_app.config)()
    sent = outcome.result.get("request")
    return {"ok": outcome.ok, "http_status": outcome.http_status, "duration_ms": outcome.duration_ms,
            "duration": duration(outcome.duration_ms), "snippet": outcome.snippet, "error": _error_words(outcome),
            # A templated request as filled in (for now, as run 0): what the person wrote became this.
            "request": sent, "sent_label": _("Sent (filled in):") if sent and values.get("templated") else None}


def _error_words(outcome):
    return None if outcome.ok else str(outcomes.describe(outcome.error_code, outcome.params))


def _test_message(form, values):
    """The message once, to the one number typed in `test_to` (default: the linked
    phone), never to the recipients; nothing saved."""
    draft = Chrono(**values, channel=db.session.get(Channel, values["channel_id"]))
    try:
        outcome = message.send_test(draft, current_app.config, (form.test_to.data or "").strip() or None)
    except RecipientError as exc:
        form.test_to.errors = [str(exc)]
        return None
    to = outcome.result.get("to")
    return {"ok": outcome.ok, "duration_ms": outcome.duration_ms, "duration": duration(outcome.duration_ms),
            "snippet": outcome.snippet, "error": _error_words(outcome),
            "summary": _("Sent to %(to)s:", to=to) if outcome.ok else None}


@bp.route("/chronos/test", methods=["POST"])
def test_send():
    """The Test button, with JavaScript: the outcome as JSON, or the fields' errors."""
    form = ChronoForm(channels=_channels())
    chrono_id = request.args.get("chrono", "")
    chrono = db.get_or_404(Chrono, int(chrono_id)) if chrono_id.isdecimal() and len(chrono_id) < 19 else None
    outcome = _test(form, chrono)
    if outcome is None:
        return jsonify(errors={field.name: field.errors for field in form if field.errors}), 422
    return jsonify(outcome)


@bp.route("/chronos/parse-curl", methods=["POST"])
def curl_fields():
    """Paste a curl command, with JavaScript: the fields to fill in, as the form would."""
    try:
        parsed = parse_curl(request.form.get("curl", ""))
    except CurlError as exc:
        return jsonify(error=str(exc)), 422
    payload_format, payload = payload_text(parsed["payload"])
    form = ChronoForm(channels=())
    form.fill_from_curl(parsed)
    return jsonify(method=form.method.data, url=parsed["url"], headers=form.headers.data,
                   payload_format=payload_format, payload=payload, timeout_s=form.timeout_s.data or "")


def _preview(schedule, timezone, starts_at=None, ends_at=None, spread_s=None, chrono=None, count=5):
    """The schedule in words and its next run times (start, end and spread included),
    or what is wrong with it. The times are the real ones: next_run_time's, as the
    dispatcher's; a new chrono's spread offset is only known once saved (it comes from
    its id), so the preview then says the window instead."""
    if not (schedule or "").strip():
        return None
    if len(schedule) > SCHEDULE_LENGTH:  # as ChronoInput refuses it, before parsing it
        return {"ok": False, "error": _("At most %(high)s characters.", high=SCHEDULE_LENGTH)}
    try:
        zone = schedules.validate_timezone(timezone or current_app.config["DEFAULT_TIMEZONE"]).key
    except schedules.ScheduleError as exc:
        return {"ok": False, "error": str(exc)}
    spread = _whole_number(spread_s)
    data = {"schedule": schedule, "timezone": zone, "starts_at": (starts_at or "").strip() or None,
            "ends_at": (ends_at or "").strip() or None, "spread_s": spread or 0}
    try:
        timing = ChronoInput(saved=chrono).timing(data)
    except ValidationError as exc:
        return {"ok": False, "error": " ".join(str(message) for messages in exc.messages.values()
                                               for message in messages)}
    now = utcnow()
    draft = Chrono(id=chrono.id if chrono else None, cron=timing["cron"], timezone=zone, run_at=timing["run_at"],
                   starts_at=timing["starts_at"], ends_at=timing["ends_at"], spread_s=spread or 0)
    times = schedules.chrono_run_times(draft, now, count)
    if timing["run_at"] is not None:
        description = schedules.describe_once(timing["run_at"], zone, locale())
    else:
        description = schedules.describe(timing["cron"], locale())
    notes = []
    if timing["starts_at"]:
        notes.append(_("From %(when)s", when=when(timing["starts_at"], zone, "short")))
    if timing["ends_at"]:
        notes.append(_("until %(when)s", when=when(timing["ends_at"], zone, "short")) if notes
                     else _("Until %(when)s", when=when(timing["ends_at"], zone, "short")))
    if spread and chrono is None:
        notes.append(_("each run up to %(n)s s later, the same delay every time (fixed when saved)", n=spread))
    elif spread:
        notes.append(_("each run %(n)s s after the schedule's time (its spread)", n=draft.spread_offset_s))
    return {
        "ok": True,
        "cron": timing["cron"],
        "description": description + (" — " + ", ".join(notes) if notes else ""),
        "timezone": zone,
        "next_label": _("Next runs (%(timezone)s):", timezone=zone) if times
        else _("No run left: it would be finished."),
        "next": [{"at": when(moment, zone), "relative": relative(moment), "iso": moment.isoformat()}
                 for moment in times],
    }


def _whole_number(text):
    text = str(text or "").strip()
    return int(text) if text.isdecimal() and len(text) <= 6 else None


@functools.cache
def timezones():
    return sorted(zoneinfo.available_timezones())


@bp.route("/chronos/preview")
def preview():
    """The live preview under the schedule field (JSON)."""
    chrono_id = request.args.get("chrono", "")
    chrono = db.session.get(Chrono, int(chrono_id)) if chrono_id.isdecimal() and len(chrono_id) < 10 else None
    result = _preview(request.args.get("schedule", ""), request.args.get("timezone", ""),
                      request.args.get("starts_at"), request.args.get("ends_at"), request.args.get("spread_s"),
                      chrono)
    return jsonify(result or {"ok": False, "error": ""})


@bp.route("/chronos/<int:chrono_id>")
def detail(chrono_id):
    chrono = db.get_or_404(Chrono, chrono_id)
    new_secret = _secret_shown_once(chrono)
    status = request.args.get("status") if request.args.get("status") in RunStatus.ALL else None
    page = _page()
    total, runs = service.list_runs(chrono, (page - 1) * PAGE_SIZE, PAGE_SIZE, status=status)
    return render_template("chronos/detail.html", chrono=chrono, runs=runs, total=total, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), status=status, statuses=RunStatus.ALL,
                           chart=service.recent_outcomes(chrono), new_secret=new_secret)


def _show_secret_once(chrono):
    """The new signing secret, for the chrono's page to show once. Kept with the
    session on the server, not flashed: a flash travels in the (readable) cookie."""
    accounts.show_once(session.get("_user_id"), {"chrono_id": chrono.id, "signing_secret": chrono.signing_secret})


def _secret_shown_once(chrono):
    kept = accounts.take_shown_once(session.get("_user_id"))
    if kept is None:
        return None
    db.session.commit()
    return kept["signing_secret"] if kept.get("chrono_id") == chrono.id else None


@bp.route("/chronos/<int:chrono_id>/pause", methods=["POST"])
def pause(chrono_id):
    service.pause(db.get_or_404(Chrono, chrono_id))
    db.session.commit()
    flash(_("Paused: it will not run until you resume it."), "success")
    return redirect(url_for("chronos.detail", chrono_id=chrono_id))


@bp.route("/chronos/<int:chrono_id>/resume", methods=["POST"])
def resume(chrono_id):
    chrono = service.resume(db.get_or_404(Chrono, chrono_id))
    tasks.dispatch_chrono(chrono)  # commits
    flash(_("Resumed: it runs again from now on."), "success")
    return redirect(url_for("chronos.detail", chrono_id=chrono_id))


@bp.route("/chronos/<int:chrono_id>/rotate-secret", methods=["POST"])
def rotate_secret(chrono_id):
    chrono = service.rotate_secret(db.get_or_404(Chrono, chrono_id))
    _show_secret_once(chrono)
    db.session.commit()
    flash(_("New signing secret: the old one no longer works."), "success")
    return redirect(url_for("chronos.detail", chrono_id=chrono_id))


@bp.route("/chronos/<int:chrono_id>/run", methods=["POST"])
def run_now(chrono_id):
    chrono = db.get_or_404(Chrono, chrono_id)
    run = service.trigger_now(chrono)
    db.session.commit()
    try:
        tasks.run_now(run, chrono.target_type == TargetType.HTTP)
    except tasks.QueueUnavailable:
        flash(_("The queue is not reachable, so nothing was started. Try again in a moment."), "error")
    else:
        flash(_started(chrono), "success")
    return redirect(url_for("chronos.detail", chrono_id=chrono_id))


def _started(chrono):
    if chrono.target_type != TargetType.MESSAGE:
        return _("Started: the run appears in the history below in a moment.")
    config = current_app.config
    low, high = sorted((config["MESSAGE_DELAY_MIN_SECONDS"], config["MESSAGE_DELAY_MAX_SECONDS"]))
    return _("Started: messaging %(n)s recipients, one every %(low)s to %(high)s seconds; the run appears in the "
             "history below in a moment.", n=len(chrono.recipients or ()), low=f"{low:g}", high=f"{high:g}")


@bp.route("/chronos/<int:chrono_id>/delete", methods=["GET", "POST"])
def delete(chrono_id):
    chrono = db.get_or_404(Chrono, chrono_id)
    if request.method == "POST":
        service.delete_chrono(chrono)
        db.session.commit()
        flash(_("Chrono “%(name)s” deleted.", name=chrono.name), "success")
        return redirect(url_for("chronos.index"))
    return render_template("chronos/delete.html", chrono=chrono)
