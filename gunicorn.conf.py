"""gunicorn reads this from the working directory, whoever starts it (scripts/run,
docker compose, the tests); command-line flags still win."""
import os
import shutil
import tempfile
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path(__file__).resolve().parent / ".env")  # as the app does: the environment wins

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_WORKERS") or 2)
# ChronoFlow logs every request itself (chronoflow/observe.py), in LOG_FORMAT.
accesslog = None
# gunicorn's control socket has one default path per user: several servers on a
# machine (a deploy and its tests, say) would take it from each other.
control_socket_disable = True


_made_folder = None


def on_starting(server):
    # The web workers count metrics into files that /metrics sums (prometheus_client's
    # multiprocess mode): the folder is set before a worker imports the client, and
    # starts empty, since a previous server's counts are not this one's.
    global _made_folder
    if not os.environ.get("METRICS_TOKEN"):
        return
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        folder = _made_folder = tempfile.mkdtemp(prefix="chronoflow-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_folder:
        shutil.rmtree(_made_folder, ignore_errors=True)


def _logconfig():
    from chronoflow import logs

    return logs.dict_config(*logs.from_environ())


logconfig_dict = _logconfig()
