"""Users and their API tokens, as plain functions: the pages, the request guard and
`flask users` all go through here. Callers commit."""
import hashlib
import secrets
from datetime import timedelta
from functools import cache

from marshmallow import ValidationError
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..i18n import _m
from ..models import ApiToken, User, utcnow
from .schemas import NewUserInput, PasswordChangeInput, TokenInput

TOKEN_PREFIX = "cf_"
# A token's last use is written at most this often: not one UPDATE per API call.
LAST_USED_PRECISION = timedelta(minutes=1)


def normalize_username(username):
    return (username or "").strip().lower()


def count_users():
    return db.session.query(User.id).count()


def find_user(username):
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


def set_password(user, password):
    """A new password signs the user out of every other browser."""
    NewUserInput(only=("password",)).load({"password": password})
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def end_sessions(user):
    """Every browser signed in as `user` is signed out at its next request."""
    user.session_key = secrets.token_hex(16)


def list_users():
    return db.session.scalars(db.select(User).order_by(User.username)).all()


def set_active(actor, user, active):
    """Disabling ends the user's sessions and tokens at once. Nobody disables themselves:
    the last admin would lock everyone out of managing users."""
    if user.id == actor.id and not active:
        raise ValidationError({"user": [_m("You cannot disable yourself.")]})
    user.is_active = active


def change_password(user, data):
    values = PasswordChangeInput().load(data)
    if not check_password_hash(user.password_hash, values["current_password"]):
        raise ValidationError({"current_password": [_m("This is not your current password.")]})
    set_password(user, values["new_password"])
    return user


def user_for_session(session_id):
    """Flask-Login's user id is "<id>:<session key>"; a stale key means signed out."""
    user_id, _sep, key = (session_id or "").partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or not secrets.compare_digest(user.session_key, key):
        return None
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
