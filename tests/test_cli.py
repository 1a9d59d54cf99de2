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
    """What scripts/run does on its first start: `flask users ensure-admin` on a real terminal.

    The child gets the pty as its controlling terminal (a session of its own), so the
    password prompt, which opens /dev/tty, talks to the test and never to the
    terminal the suite itself runs in."""
    import fcntl
    import os
    import pty
    import select
    import subprocess
    import sys
    import termios
    import time

    from chronoflow.accounts import service
    from tests.support.stack import ROOT

    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "t",
           "HUEY_SQLITE_PATH": str(tmp_path / "huey.db")}
    main, child = pty.openpty()

    def own_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "users", "ensure-admin"],
                               cwd=ROOT, env=env, stdin=child, stdout=child, stderr=child,
                               preexec_fn=own_terminal)
    os.close(child)
    said = b""

    def answer(prompt, text):
        nonlocal said
        deadline = time.monotonic() + 30
        while prompt not in said:
            left = deadline - time.monotonic()
            assert left > 0, f"no {prompt!r} prompt; the terminal shows {said!r}"
            if select.select([main], [], [], left)[0]:
                try:
                    said += os.read(main, 1024)
                except OSError:  # the child is gone and closed its side
                    assert False, f"no {prompt!r} prompt; the terminal showed {said!r}"
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
        process.wait(10)
        os.close(main)
    db.session.expire_all()
    assert service.authenticate("boss", "long enough") is not None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_terminal_test_passes_when_the_suite_itself_runs_in_a_terminal(app):
    """As a person runs scripts/test: pytest inside a real terminal (util-linux
    `script` gives it one), where a prompt that opened the wrong tty would hang."""
    import shutil
    import subprocess
    import sys

    from tests.support.stack import ROOT

    assert shutil.which("script"), "util-linux's script is needed (Debian: bsdutils)"
    command = (f"{sys.executable} -m pytest -q -p no:cacheprovider "
               "tests/test_cli.py -k test_a_fresh_install_asks_for_the_first_user_in_the_terminal")
    finished = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=ROOT, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=180)
    output = finished.stdout.decode(errors="replace")
    assert finished.returncode == 0 and "1 passed" in output, output[-2000:]
