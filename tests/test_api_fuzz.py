"""Issue 10: schemathesis against /api/openapi.json, all phases (examples, coverage,
fuzzing, stateful), with a token, finds no server error and no schema violation.

A real server (werkzeug, on 127.0.0.1) in front of the test app on PostgreSQL,
the fake WAHA behind it, and schemathesis' own CLI in a subprocess: the run a
person would type. Bounded: a fixed seed, an example
count per operation (a couple of minutes here) and a hard timeout.

One check is left out: positive_data_acceptance, which expects every request
the schema allows to be accepted. Some rules cannot be written in JSON Schema:
a schedule phrase must mean a time, a URL must pass the outbound policy, a
phone number must exist, a channel name must be free (that one is a 409, which
the check accepts). The schema states every rule it can (lengths, ranges,
enums, unknown fields), and negative_data_rejection holds the server to them.
"""
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from chronoflow.chronos import service
from chronoflow.chronos.schemas import ChronoInput
from chronoflow.extensions import db
from chronoflow.models import Channel
from chronoflow.scheduling import heartbeat

pytestmark = pytest.mark.parametrize("backend", ["postgres"])

SEED = 20261126
EXAMPLES = 250  # per operation and phase
TIMEOUT_S = 420  # a hung run fails instead of holding CI


@pytest.fixture
def live_api(app, fake_waha):
    """The app served on a free port, healthy (heartbeats), WhatsApp answering."""
    app.config.update(fake_waha.settings(), HEALTH_STALE_SECONDS=86_400)
    fake_waha.add_session("default", "WORKING", phone="5511900000000")
    seed_rows()
    heartbeat.beat("scheduler", "scheduler")
    heartbeat.beat(heartbeat.worker_name(), "worker")
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def seed_rows():
    """Rows at the small ids the coverage phase tries first, so operations on one
    chrono, run or channel reach their logic and not only their 404."""
    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.flush()
    for values in ({"name": "Webhook", "schedule": "every 5 minutes", "url": "https://example.com/hook",
                    "method": "POST", "headers": {"Authorization": "Bearer s3cr3t", "X-Trace": "1"},
                    "payload": {"kind": "daily"}},
                   {"name": "Lembrete", "schedule": "todo dia às 18", "target_type": "MESSAGE",
                    "channel_id": channel.id, "message_template": "Bom dia, {{ recipient }}!",
                    "recipients": ["+55 11 98765-4321"]}):
        chrono = service.create_chrono(ChronoInput().load(values))
        service.trigger_now(chrono)
    db.session.commit()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_api, api_token, tmp_path):
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{live_api}/api/openapi.json",
        "--header", f"Authorization: Bearer {api_token}",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--seed", str(SEED), "--generation-database", "none", "--max-examples", str(EXAMPLES),
        "--workers", "1", "--request-timeout", "30",
        "--no-color", "--output-truncate", "false",
    ]
    try:
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"schemathesis ran past {TIMEOUT_S} s:\n{(exc.stdout or b'')[-5000:]}")
    report = result.stdout + result.stderr
    print(report[-3000:])  # (shown with -s, and on failure)
    assert result.returncode == 0, report[-20000:]
    assert "Stateful" in report and "Coverage" in report and "Fuzzing" in report, report[-5000:]
