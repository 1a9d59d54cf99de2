import pytest

from chronoflow.extensions import db
from chronoflow.chronos import service


def test_chronos_list_shows_one_line_per_chrono(app, make_chrono):
    make_chrono(name="Morning report", schedule="dias úteis às 9", url="https://example.com/r")
    paused = make_chrono(name="Old one")
    service.pause(paused)
    result = app.test_cli_runner().invoke(args=["chronos", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "active" in lines[0] and "0 9 * * 1-5" in lines[0] and "Morning report  ->  https://example.com/r" in lines[0]
    assert "paused" in lines[1] and "Old one" in lines[1]
    assert lines[-1] == "2 chrono(s)"


def test_users_create_asks_twice_for_the_password_and_the_user_can_sign_in(app):
    from chronoflow.accounts import service

    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Maria"], input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "User 'maria' created" in result.output
    assert service.authenticate("maria", "s3cret-pass") is not None
    assert "s3cret-pass" not in service.find_user("maria").password_hash


@pytest.mark.parametrize("username, password, words", [
    ("has space", "long enough", "username: Use 1 to 80 letters"),
    ("ana", "short", "password: Use 8 to 256 characters."),
])
def test_users_create_refuses_bad_input_and_creates_nothing(app, username, password, words):
    from chronoflow.accounts import service

    result = app.test_cli_runner().invoke(args=["users", "create", username, "--password-stdin"], input=password + "\n")
    assert result.exit_code == 1 and words in result.output
    assert service.count_users() == 0


def test_users_create_refuses_a_taken_name(app, user):
    result = app.test_cli_runner().invoke(args=["users", "create", "TESTER", "--password-stdin"], input="long enough\n")
    assert result.exit_code == 1 and "This username is taken." in result.output


def test_users_token_set_password_disable_and_list(app, user):
    from chronoflow.accounts import service

    runner = app.test_cli_runner()
    token = runner.invoke(args=["users", "token", "tester", "--name", "deploy"]).output.strip()
    assert service.token_owner(token).username == "tester"

    assert runner.invoke(args=["users", "set-password", "tester", "--password-stdin"], input="another one\n").exit_code == 0
    assert service.authenticate("tester", "another one") is not None

    assert "tester" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "disable", "tester"]).exit_code == 0
    assert service.token_owner(token) is None and service.authenticate("tester", "another one") is None
    assert "disabled" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "enable", "tester"]).exit_code == 0
    assert service.token_owner(token) is not None
    assert runner.invoke(args=["users", "token", "nobody"]).exit_code == 1


def test_ensure_admin_without_a_terminal_says_how_and_with_users_says_nothing(app, password_hash):
    from chronoflow.models import User

    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "ensure-admin"])
    assert result.exit_code == 0 and "flask users create" in result.output
    db.session.add(User(username="someone", password_hash=password_hash))
    db.session.commit()
    assert runner.invoke(args=["users", "ensure-admin"]).output == ""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_fresh_install_asks_for_the_first_user_in_the_terminal(app, tmp_path):
    """What scripts/run does on its first start: `flask users ensure-admin` on a real terminal."""
    import os
    import pty
    import subprocess
    import sys
    import time

    from chronoflow.accounts import service
    from tests.support.stack import ROOT

    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "t",
           "HUEY_SQLITE_PATH": str(tmp_path / "huey.db")}
    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "users", "ensure-admin"],
                               cwd=ROOT, env=env, stdin=child, stdout=child, stderr=child)
    os.close(child)
    said = b""

    def answer(prompt, text):
        nonlocal said
        deadline = time.monotonic() + 30
        while prompt not in said:
            assert time.monotonic() < deadline, f"no {prompt!r} prompt; the terminal shows {said!r}"
            said += os.read(main, 1024)
        said = said.split(prompt, 1)[1]
        os.write(main, text.encode() + b"\n")

    try:
        answer(b"Username:", "bad name")
        answer(b"Password:", "long enough")
        answer(b"Repeat for confirmation:", "long enough")
        answer(b"Username:", "boss")  # asked again, after saying what was wrong
        answer(b"Password:", "long enough")
        answer(b"Repeat for confirmation:", "long enough")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        os.close(main)
    db.session.expire_all()
    assert service.authenticate("boss", "long enough") is not None
