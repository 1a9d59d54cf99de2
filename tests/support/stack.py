"""The web server (gunicorn) and a worker (`flask worker`) as real processes, started
as a person would; used by the end-to-end tests and the browser tests.

    stack = Stack({"DATABASE_URL": "sqlite:///...", "REDIS_URL": ""}, log_folder).start()
    stack.http.post(stack.base + "/api/chronos", json={...})  # with the admin's API token
    stack.log("worker")  # the last 4000 characters a process wrote
    stack.stop()

An empty value in `env` means the setting's default (the app reads "" as unset).
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent.parent


USERNAME, PASSWORD = "admin", "correct horse battery"


def create_admin(env):
    """The first user, as an operator makes it (`flask users create`), and a requests
    session carrying an API token of theirs (`flask users token`)."""
    flask = [sys.executable, "-m", "flask", "--app", "app", "users"]
    options = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "text": True, "timeout": 60}
    subprocess.run([*flask, "create", USERNAME, "--password-stdin"], input=PASSWORD + "\n", **options)
    token = subprocess.run([*flask, "token", USERNAME, "--name", "tests"], **options).stdout.strip()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """The web server and the worker, started as a person would, with `env`."""

    def __init__(self, env, tmp_path):
        # The targets are servers on 127.0.0.1, which the default outbound policy refuses.
        self.env = {**os.environ, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8,::1", **env,
                    "SECRET_KEY": "e2e", "PYTHONUNBUFFERED": "1"}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = tmp_path
        self.processes = []
        self.files = []
        self.http = None  # a requests.Session with the admin's API token, once started

    def start(self):
        self._run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"])
        self.http = create_admin(self.env)
        self._spawn("web", [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "app:app"])
        self._spawn("worker", [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "8"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/api/health", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass  # still booting
            time.sleep(0.2)
        raise AssertionError("the web server did not come up:\n" + self.log("web"))

    def _run(self, command):
        subprocess.run(command, cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=60)

    def _spawn(self, name, command):
        log = open(self.logs / f"{name}.log", "wb")
        self.files.append(log)
        self.processes.append(
            subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        )

    def log(self, name):
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.files:
            log.close()
