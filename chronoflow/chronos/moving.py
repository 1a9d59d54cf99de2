"""The dashboard's pages for moving chronos: copy, several at once, export and
import (JSON and crontab), and the agenda. Thin: load, call bulk/transfer/agenda,
commit, then dispatch."""
import json
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import schedules, tasks
from ..extensions import db
from ..main.formatting import locale
from ..models import Chrono, utcnow
from . import agenda, bp, bulk, transfer


@bp.route("/chronos/<int:chrono_id>/clone", methods=["POST"])
def clone(chrono_id):
    copy = bulk.clone_chrono(db.get_or_404(Chrono, chrono_id))
    tasks.dispatch_chrono(copy)  # commits
    flash(_("Copy created: change what should differ."), "success")
    return redirect(url_for("chronos.edit", chrono_id=copy.id))


@bp.route("/chronos/bulk", methods=["POST"])
def bulk_action():
    action = request.form.get("action", "")
    ids = [int(value) for value in request.form.getlist("ids") if value.isdecimal() and len(value) < 10]
    if action not in bulk.ACTIONS or not ids or len(ids) > bulk.MAX_IDS:
        flash(_("Choose chronos with their boxes, and what to do with them."), "error")
        return redirect(url_for("chronos.index"))
    if action == "delete" and request.form.get("confirm") != "1":  # a second step, as for one chrono
        chronos = db.session.scalars(select(Chrono).where(Chrono.id.in_(ids)).order_by(Chrono.id)).all()
        return render_template("chronos/bulk_delete.html", chronos=chronos)
    chronos, _missing = bulk.apply(action, ids)
    db.session.commit()
    if action == "resume" and chronos:
        _dispatch()
    words = {"pause": _("Chronos paused: %(n)s.", n=len(chronos)),
             "resume": _("Chronos resumed: %(n)s.", n=len(chronos)),
             "delete": _("Chronos deleted: %(n)s.", n=len(chronos))}
    flash(words[action], "success")
    return redirect(url_for("chronos.index"))


@bp.route("/chronos/export")
def export():
    """A download of every chrono; secrets only with ?secrets=1."""
    document = transfer.export(with_secrets=request.args.get("secrets") == "1")
    return Response(json.dumps(document, ensure_ascii=False, indent=1), mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="chronos.json"'})


@bp.route("/chronos/import", methods=["GET", "POST"])
def import_page():
    """Upload an export (JSON) or a crontab; errors listed by item or line, nothing half done."""
    result = {"errors": None, "refused": None, "kind": request.form.get("kind", "")}
    timezone = (request.form.get("timezone") or "").strip() or current_app.config["DEFAULT_TIMEZONE"]
    if request.method == "POST":
        upload = request.files.get("file")
        text = (upload.read() if upload else b"") or request.form.get("text", "").encode()
        if not text.strip():
            result["errors"] = {"_": {"file": [_("Choose a file (or paste its text).")]}}
        elif result["kind"] == "crontab":
            done = _import_crontab(text, timezone, result)
            if done is not None:
                return done
        else:
            done = _import_json(text, request.form.get("secrets") == "1", result)
            if done is not None:
                return done
    return render_template("chronos/import.html", result=result, timezone=timezone)


def _import_json(text, with_secrets, result):
    try:
        document = json.loads(text)
        count = transfer.import_chronos(transfer.items_of(document), with_secrets)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, transfer.ImportRefused):
            db.session.rollback()
            result["errors"] = exc.errors
        else:
            result["errors"] = {"_": {"file": [_("This file is not JSON: export it from ChronoFlow again.")]}}
        return None
    db.session.commit()
    _dispatch()
    flash(_("Chronos imported: %(n)s.", n=count), "success")
    return redirect(url_for("chronos.index"))


def _import_crontab(text, timezone, result):
    try:
        schedules.validate_timezone(timezone)
        count, reading = transfer.import_crontab(text.decode("utf-8", errors="replace"), timezone)
    except schedules.ScheduleError as exc:
        result["errors"] = {"_": {"timezone": [str(exc)]}}
        return None
    except transfer.ImportRefused as exc:
        db.session.rollback()
        result["errors"] = exc.errors
        return None
    db.session.commit()
    _dispatch()
    if not reading.refused:
        flash(_("Chronos imported: %(n)s.", n=count), "success")
        return redirect(url_for("chronos.index"))
    flash(_("Chronos imported: %(n)s.", n=count), "success")
    result["refused"] = reading.refused
    return None


@bp.route("/agenda")
def agenda_page():
    hours = 168 if request.args.get("hours") == "168" else 24
    timezone = (request.args.get("timezone") or "").strip()[:64] or current_app.config["DEFAULT_TIMEZONE"]
    problem = None
    try:
        zone = schedules.validate_timezone(timezone).key
    except schedules.ScheduleError as exc:
        problem, zone = str(exc), current_app.config["DEFAULT_TIMEZONE"]
    built = agenda.build(hours, zone)
    return render_template("chronos/agenda.html", agenda=built, hours=hours, zone=zone, typed=timezone,
                           problem=problem, per_chrono=agenda.PER_CHRONO, total_cap=agenda.TOTAL,
                           hour_label=lambda start: hour_label(start, built.start),
                           clock=lambda moment: format_time(moment, "HH:mm", tzinfo=ZoneInfo(zone), locale=locale()))


def hour_label(start, now):
    """"today at 09:00", "amanhã às 09:00", "sexta-feira, 4 de dez. às 09:00": the viewer's words."""
    today = now.astimezone(start.tzinfo).date()
    days = (start.date() - today).days
    if days == 0:
        day = _("today")
    elif days == 1:
        day = _("tomorrow")
    else:
        day = format_date(start, "EEEE, d MMM", locale=locale())
    return _("%(day)s at %(time)s", day=day, time=format_time(start, "HH:mm", locale=locale()))


@bp.app_template_filter("filled_request")
def filled_request(chrono):
    """A templated chrono's request as its next run will send it (run 0, attempt 1
    stand in for what is not known yet): {"url", "body"} or {"error"}."""
    from types import SimpleNamespace

    from .. import executors, outcomes
    from ..executors import request_template

    moment = chrono.next_occurrence or utcnow()
    try:
        url, _headers, payload = executors.filled(chrono, SimpleNamespace(id=0, scheduled_for=moment, attempt=1))
    except request_template.RequestTemplateError as exc:
        return {"error": str(outcomes.describe("request_template", exc.params))}
    body = payload if isinstance(payload, str) or payload is None else json.dumps(payload, ensure_ascii=False)
    return {"url": url, "body": body, "at": moment}


def _dispatch():
    try:
        tasks.dispatch_due()
    except tasks.QueueUnavailable:
        pass  # saved all the same: the tick dispatches them
