"""Users and their API tokens, as plain functions: the pages, the request guard and
`flask users` all go through here. Callers commit."""
import hashlib
import secrets
from datetime import timedelta
from functools import cache

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..i18n import _m
from ..models import ApiToken, LoginSession, User, utcnow
from .schemas import NewUserInput, PasswordChangeInput, TokenInput

TOKEN_PREFIX = "cf_"
# A token's last use is written at most this often: not one UPDATE per API call.
LAST_USED_PRECISION = timedelta(minutes=1)


def normalize_username(username):
    return (username or "").strip().lower()


def count_users():
    return db.session.query(User.id).count()


def find_user(username):
    if "\0" in (username or ""):  # no username holds one, and PostgreSQL refuses to compare it
        return None
    return db.session.execute(db.select(User).filter_by(username=normalize_username(username))).scalar_one_or_none()


def create_user(data):
    """A new user from {"username", "password", "is_admin"}; the first user is always an admin."""
    username = normalize_username(data.get("username"))
    problems = {}
    try:
        values = NewUserInput().load({**data, "username": username})
    except ValidationError as exc:
        problems = exc.messages
    if username and find_user(username) is not None:
        problems.setdefault("username", []).append(_m("This username is taken."))
    if problems:  # every problem at once
        raise ValidationError(problems)
    user = User(username=values["username"], password_hash=generate_password_hash(values["password"]),
                is_admin=values["is_admin"] or count_users() == 0)
    db.session.add(user)
    db.session.flush()
    return user


@cache
def _decoy_hash():
    return generate_password_hash(secrets.token_hex(16))


def authenticate(username, password):
    """The active user with this username and password, or None. An unknown username
    costs as much time as a wrong password, so timing does not tell which one exists."""
    user = find_user(username)
    if user is None or not user.is_active:
        check_password_hash(_decoy_hash(), password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_at = utcnow()
    return user


def set_password(user, password, keep_session=None):
    """A new password signs the user out of every browser but `keep_session`'s."""
    NewUserInput(only=("password",)).load({"password": password})
    user.password_hash = generate_password_hash(password)
    end_sessions(user, keep=keep_session)


def start_session(user, now=None):
    """A new signed-in browser session of `user`: sets and returns user.login_id,
    the "<user id>:<key>" that Flask-Login keeps in the cookie. Only the key's
    SHA-256 is stored. Expired sessions of the user are deleted on the way."""
    now = now or utcnow()
    db.session.execute(db.delete(LoginSession).where(LoginSession.user_id == user.id,
                                                     LoginSession.created_at < now - _lifetime()))
    key = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, key_hash=_digest(key), created_at=now))
    db.session.flush()
    user.login_id = f"{user.id}:{key}"
    return user.login_id


def end_session(login_id):
    """Sign out one browser: its session stops working, wherever its cookie was copied to."""
    _user_id, _sep, key = (login_id or "").partition(":")
    if key:
        db.session.execute(db.delete(LoginSession).where(LoginSession.key_hash == _digest(key)))


def show_once(login_id, value):
    """Keep `value` (JSON) for the next page this browser's session shows: a flash
    message that stays on the server, for what a cookie must not carry."""
    row = _session_row(login_id)
    if row is not None:
        row.shown_once = value


def take_shown_once(login_id):
    """What show_once kept for this browser, now forgotten; None when nothing."""
    row = _session_row(login_id)
    if row is None or row.shown_once is None:
        return None
    value, row.shown_once = row.shown_once, None
    return value


def _session_row(login_id):
    _user_id, _sep, key = (login_id or "").partition(":")
    if not key:
        return None
    return db.session.execute(db.select(LoginSession).filter_by(key_hash=_digest(key))).scalar_one_or_none()


def end_sessions(user, keep=None):
    """Every browser signed in as `user` (but the one of login id `keep`) is signed
    out at its next request."""
    _user_id, _sep, key = (keep or "").partition(":")
    where = [LoginSession.user_id == user.id]
    if key:
        where.append(LoginSession.key_hash != _digest(key))
    db.session.execute(db.delete(LoginSession).where(*where))


def _lifetime():
    return current_app.config["PERMANENT_SESSION_LIFETIME"]


def list_users():
    return db.session.scalars(db.select(User).order_by(User.username)).all()


def set_active(actor, user, active):
    """Disabling ends the user's sessions and tokens at once. Nobody disables themselves:
    the last admin would lock everyone out of managing users."""
    if user.id == actor.id and not active:
        raise ValidationError({"user": [_m("You cannot disable yourself.")]})
    user.is_active = active


def change_password(user, data):
    """Signs out every other browser of the user; this one (user.login_id) stays in."""
    problems, values = {}, None
    try:
        values = PasswordChangeInput().load(data)
    except ValidationError as exc:
        problems = exc.messages
    current = data.get("current_password")
    if isinstance(current, str) and current and not check_password_hash(user.password_hash, current):
        problems.setdefault("current_password", []).append(_m("This is not your current password."))
    if problems:  # every problem at once: a wrong password is not hidden behind a typo in the new one
        raise ValidationError(problems)
    set_password(user, values["new_password"], keep_session=user.login_id)
    return user


def user_for_session(login_id, now=None):
    """The active user of a live session: Flask-Login's user id is "<user id>:<key>".
    A session signed out, ended everywhere or older than SESSION_LIFETIME_DAYS is none."""
    user_id, _sep, key = (login_id or "").partition(":")
    if not key or not user_id.isascii() or not user_id.isdigit():
        return None
    row = _session_row(login_id)
    if row is None or str(row.user_id) != user_id or row.created_at < (now or utcnow()) - _lifetime():
        return None
    user = row.user
    if not user.is_active:
        return None
    user.login_id = login_id
    return user


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, data):
    """(ApiToken, the token itself): the only moment the token is known in clear."""
    values = TokenInput().load(data)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, name=values["name"].strip(), token_hash=_digest(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    return row, token


def revoke_token(user, token_id):
    """True when the user's token was live and is now revoked."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def live_tokens(user):
    return [token for token in user.tokens if token.revoked_at is None]


def token_owner(token):
    """The active user a live token belongs to, or None. The token is looked up by its
    SHA-256: tokens are long and random, so a fast hash is enough, and an index finds it."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    query = db.select(ApiToken).filter_by(token_hash=_digest(token)).options(joinedload(ApiToken.user))
    row = db.session.execute(query).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
        db.session.commit()
    return row.user
