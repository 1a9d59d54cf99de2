"""`flask users ...`: the first admin, and what an operator does without a browser."""
import sys
from contextlib import contextmanager

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from ..extensions import db
from ..models import User
from . import service

users_cli = AppGroup("users", help="Create users, set passwords, make API tokens.")


def _problems(exc):
    return "; ".join(f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in exc.messages.items())


password_stdin = click.option("--password-stdin", is_flag=True,
                              help="Read the password from the first line of standard input.")


@contextmanager
def _saved():
    """A change: validation errors become the command's error, anything else is committed."""
    try:
        yield
    except ValidationError as exc:
        db.session.rollback()
        raise click.ClickException(_problems(exc)) from None
    db.session.commit()


def _password(from_stdin):
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user(username):
    user = service.find_user(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


def _create(username, password, admin=False):
    with _saved():
        user = service.create_user({"username": username, "password": password, "is_admin": admin})
    role = "an admin" if user.is_admin else "a user"
    click.echo(f"User {user.username!r} created, {role}: sign in at /login.")


@users_cli.command("create")
@click.argument("username")
@password_stdin
@click.option("--admin", is_flag=True, help="May add and disable users (the first user always is).")
def create_command(username, password_stdin, admin):
    """Create a user. Asks for the password."""
    _create(username, _password(password_stdin), admin)


@users_cli.command("ensure-admin")
def ensure_admin_command():
    """Ask for a first user when there is none (scripts/run calls this)."""
    if service.count_users():
        return
    if not sys.stdin.isatty():
        click.echo("No user yet: create one with `flask users create <username>` "
                   "(docker compose: `docker compose exec web flask users create <username>`).")
        return
    click.echo("ChronoFlow has no user yet. Create the first one (the admin):")
    while True:
        username = click.prompt("Username")
        try:
            _create(username, _password(False))
            return
        except click.ClickException as exc:
            click.echo(f"  {exc.message}")


@users_cli.command("list")
def list_command():
    """One line per user: name, state, last sign-in, live API tokens."""
    for user in db.session.scalars(db.select(User).order_by(User.username)):
        state = ("admin" if user.is_admin else "active") if user.is_active else "disabled"
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
        click.echo(f"{user.username:<30} {state:<8}  last sign-in {last:<25}  {len(service.live_tokens(user))} token(s)")


@users_cli.command("set-password")
@click.argument("username")
@password_stdin
def set_password_command(username, password_stdin):
    """Set a user's password (signs them out everywhere)."""
    user = _user(username)
    with _saved():
        service.set_password(user, _password(password_stdin))
    click.echo(f"Password of {user.username!r} changed.")


def _set_active(username, active):
    with _saved():
        _user(username).is_active = active
    click.echo(f"{username!r} {'enabled' if active else 'disabled'}.")


@users_cli.command("disable")
@click.argument("username")
def disable_command(username):
    """Stop a user from signing in; their sessions and API tokens stop working at once."""
    _set_active(username, False)


@users_cli.command("enable")
@click.argument("username")
def enable_command(username):
    _set_active(username, True)


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
def token_command(username, name):
    """Create an API token for a user and print it (only this once)."""
    with _saved():
        _row, token = service.create_token(_user(username), {"name": name})
    click.echo(token)
