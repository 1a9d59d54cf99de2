"""The channel pages. Thin: validate through ChannelInput, call service, commit."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from ..extensions import db
from ..models import Channel
from ..waha import service as waha
from ..waha.client import WahaError
from . import bp, service
from .forms import ChannelForm
from .schemas import ChannelInput


@bp.route("/")
def index():
    channels = service.list_channels()
    sessions, error = {}, None
    if channels:
        try:
            sessions = {session.name: session for session in waha.client().list_sessions()}
        except WahaError as exc:
            error = exc
    return render_template("channels/list.html", channels=channels, sessions=sessions, error=error)


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = ChannelForm()
    if not form.is_submitted() and request.args.get("session"):
        form.session.data = request.args["session"]
    return _form_page(form, None)


@bp.route("/<int:channel_id>/edit", methods=["GET", "POST"])
def edit(channel_id):
    channel = db.get_or_404(Channel, channel_id)
    return _form_page(ChannelForm(obj=channel), channel)


def _form_page(form, channel):
    if form.is_submitted():  # CSRFProtect has checked the token
        try:
            if channel is None:
                channel = service.create_channel(ChannelInput().load(form.to_input()))
                message = _("Channel created: choose it in a chrono to send WhatsApp messages.")
            else:
                service.update_channel(channel, form.to_input())
                message = _("Changes saved.")
        except ValidationError as exc:
            db.session.rollback()
            form.attach_errors(exc.messages)
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("channels.index"))
    return render_template("channels/form.html", form=form, channel=channel)


@bp.route("/<int:channel_id>/delete", methods=["GET", "POST"])
def delete(channel_id):
    channel = db.get_or_404(Channel, channel_id)
    if request.method == "POST":
        try:
            service.delete_channel(channel)
        except ValidationError as exc:
            flash(" ".join(exc.messages["channel"]), "error")
            return redirect(url_for("channels.index"))
        db.session.commit()
        flash(_("Channel “%(name)s” deleted.", name=channel.name), "success")
        return redirect(url_for("channels.index"))
    return render_template("channels/delete.html", channel=channel, using=service.chronos_using(channel))
