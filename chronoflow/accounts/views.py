"""Sign in, sign out, and the settings page. Thin: the forms go through service."""
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError

from ..extensions import db
from ..models import User
from ..security import is_local
from . import bp, service
from .forms import LoginForm, NewUserForm, PasswordForm, TokenForm


def _local(target):
    return target if is_local(target) else url_for("chronos.index")


def _sign_in(user):
    session.clear()  # nothing from before signing in survives it
    session.permanent = True  # PERMANENT_SESSION_LIFETIME: phones should not sign in every day
    service.start_session(user)
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_local(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form)
    throttle = current_app.extensions["login_throttle"]
    wait = throttle.wait_seconds(request.remote_addr)
    if wait:  # before the password: while limited, even the right one is refused, so guessing learns nothing
        form.form_errors.append(_("Too many failed attempts. Wait a few minutes and try again."))
        return _login_page(form, 429, {"Retry-After": str(wait)})
    user = service.authenticate(form.username.data, form.password.data)
    if user is None:
        throttle.failed(request.remote_addr)
        form.form_errors.append(_("Wrong username or password."))
        return _login_page(form, 401)
    _sign_in(user)
    db.session.commit()
    return redirect(_local(request.args.get("next")))


def _login_page(form, status=200, headers=None):
    page = render_template("accounts/login.html", form=form, no_users=service.count_users() == 0)
    return page, status, headers or {}


@bp.route("/logout", methods=["POST"])
def logout():
    if request.form.get("everywhere"):
        service.end_sessions(current_user)
    else:
        service.end_session(session.get("_user_id"))
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "success")
    return redirect(url_for("accounts.login"))


def _settings_page(password_form=None, token_form=None, user_form=None, new_token=None, status=200):
    admin = current_user.is_admin
    return render_template(
        "accounts/settings.html",
        password_form=password_form or PasswordForm(formdata=None),
        token_form=token_form or TokenForm(formdata=None),
        user_form=(user_form or NewUserForm(formdata=None)) if admin else None,
        users=service.list_users() if admin else [],
        tokens=service.live_tokens(current_user),
        new_token=new_token,
    ), status


@bp.route("/settings")
def settings():
    return _settings_page()


def _saved(form, change):
    """What `change(values)` returns, committed; or None, with its errors next to the
    form's fields. (The guard has checked the form's CSRF token.)"""
    try:
        result = change(form.values())
    except ValidationError as exc:
        db.session.rollback()
        form.attach_errors(exc.messages)
        return None
    db.session.commit()
    return result


@bp.route("/settings/password", methods=["POST"])
def change_password():
    form = PasswordForm()
    user = _saved(form, lambda values: service.change_password(current_user._get_current_object(), values))
    if user is None:
        return _settings_page(password_form=form, status=422)
    flash(_("Password changed. Other browsers were signed out."), "success")
    return redirect(url_for("accounts.settings"))


@bp.route("/settings/tokens", methods=["POST"])
def create_token():
    form = TokenForm()
    created = _saved(form, lambda values: service.create_token(current_user, values))
    if created is None:
        return _settings_page(token_form=form, status=422)
    token_row, token = created
    # Shown in this response only, never flashed: a flash would sit in the cookie.
    return _settings_page(new_token={"name": token_row.name, "token": token})


@bp.route("/settings/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id):
    if service.revoke_token(current_user, token_id):
        db.session.commit()
        flash(_("Token revoked: programs using it are refused from now on."), "success")
    return redirect(url_for("accounts.settings"))


def _admin_only():
    if not current_user.is_admin:
        abort(403)


@bp.route("/settings/users", methods=["POST"])
def create_user():
    _admin_only()
    form = NewUserForm()
    user = _saved(form, service.create_user)
    if user is None:
        return _settings_page(user_form=form, status=422)
    flash(_("User %(name)s added: give them their password; they can change it in Settings.",
            name=user.username), "success")
    return redirect(url_for("accounts.settings") + "#users")


@bp.route("/settings/users/<int:user_id>/<any(enable, disable):action>", methods=["POST"])
def set_user_active(user_id, action):
    _admin_only()
    user = db.get_or_404(User, user_id)
    try:
        service.set_active(current_user, user, action == "enable")
    except ValidationError as exc:
        flash(" ".join(str(message) for message in exc.messages["user"]), "error")
        return redirect(url_for("accounts.settings") + "#users")
    db.session.commit()
    if action == "enable":
        flash(_("%(name)s can sign in again.", name=user.username), "success")
    else:
        flash(_("%(name)s is disabled: their sessions and API tokens stopped working.", name=user.username), "success")
    return redirect(url_for("accounts.settings") + "#users")
