"""The compose deployment's files, checked where no Docker runs (the stack itself is
run by ../shared/bin/compose-check): what an operator relies on stays true."""
import os
import re
import shutil
import stat
import subprocess

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from .support.stack import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LONG_RUNNING = [name for name in SERVICES if name != "migrate"]


def test_one_image_is_built_once_and_every_image_is_pinned():
    built = [name for name, service in SERVICES.items() if "build" in service]
    assert built == ["migrate"]
    ours = SERVICES["migrate"]["image"]
    for name, service in SERVICES.items():
        image = service["image"]
        if image == ours:
            continue
        tag = image.rsplit(":", 1)[1]
        assert re.search(r"\d+\.\d+", tag) and "latest" not in tag, f"{name}: {image} is not pinned to a release"
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base), base


def test_no_variable_is_required_at_load_so_compose_config_works_before_env_exists():
    text = (ROOT / "docker-compose.yml").read_text()
    assert ":?" not in text
    env_file = SERVICES["web"]["env_file"]
    assert env_file == [{"path": ".env", "required": False}]  # compose >= 2.24, as the README says
    assert "v2.24" in (ROOT / "README.md").read_text()


def test_every_service_checks_its_own_liveness_and_rotates_its_logs():
    for name in LONG_RUNNING:
        service = SERVICES[name]
        assert service["healthcheck"]["test"], name
        assert "start_period" in service["healthcheck"], name
        assert service["logging"]["options"]["max-size"], name
    assert "/api/health/live" in (ROOT / "scripts" / "healthcheck").read_text()
    assert SERVICES["web"]["healthcheck"]["test"][-1] == "web"
    assert SERVICES["worker-extra"]["healthcheck"]["test"][-1] == "worker"
    postgres = " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert "-h 127.0.0.1" in postgres and "PGPASSWORD" in postgres  # TCP, real credentials


def test_whatsapp_is_a_profile_and_both_sides_use_the_key_from_env():
    waha = SERVICES["waha"]
    assert waha["profiles"] == ["whatsapp"]
    assert waha["environment"]["WAHA_API_KEY"] == "${WAHA_API_KEY:-}"
    assert not any("profiles" in SERVICES[name] for name in SERVICES if name != "waha")
    # The pinned release (2025 on) keeps sessions under WAHA_LOCAL_STORE_BASE_DIR: on the volume.
    assert waha["environment"]["WAHA_LOCAL_STORE_BASE_DIR"] == "/app/.sessions"
    assert "waha-sessions:/app/.sessions" in waha["volumes"]
    assert int(re.search(r":\w+-(\d{4})\.", waha["image"]).group(1)) >= 2025
    assert "WAHA_API_KEY" not in SERVICES["web"]["environment"]  # from .env, the one value


def test_extra_workers_come_from_env_so_an_upgrade_keeps_them():
    assert SERVICES["worker-extra"]["deploy"]["replicas"] == "${EXTRA_WORKERS:-0}"
    assert SERVICES["worker-extra"]["command"][-1] == "--no-periodic"
    assert "EXTRA_WORKERS=0" in (ROOT / ".env.example").read_text()


def test_the_image_holds_the_app_and_compiled_translations_not_the_tests():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1:] and "!tests" not in ignore and "!docs" not in ignore
    assert "**/*.mo" in ignore  # compiled fresh in the image, not copied stale
    assert "pybabel compile" in (ROOT / "Dockerfile").read_text()
    assert "WEB_WORKERS" not in (ROOT / "Dockerfile").read_text().split("CMD")[0].replace("# WEB_WORKERS", "")


@pytest.fixture
def deploy_folder(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "make-env", tmp_path / "scripts" / "make-env")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    return tmp_path


def make_env(folder, *args):
    result = subprocess.run(["bash", str(folder / "scripts" / "make-env"), *args], capture_output=True, text=True,
                            timeout=30, env={**os.environ, "PATH": "/usr/bin:/bin"})  # no docker: no version check
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in (folder / ".env").read_text().splitlines()
                if line and not line.startswith("#"))


SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "WAHA_API_KEY", "METRICS_TOKEN")


def test_make_env_writes_every_secret_once_and_keeps_them(deploy_folder):
    first = make_env(deploy_folder)
    assert all(re.fullmatch(r"[0-9a-f]{64}", first[name]) for name in SECRETS)
    assert len({first[name] for name in SECRETS}) == 4
    assert first["COMPOSE_PROFILES"] == "whatsapp"
    assert stat.S_IMODE((deploy_folder / ".env").stat().st_mode) == 0o600

    again = make_env(deploy_folder, "EXTRA_WORKERS=3", "LOGIN_RATE_LIMIT=5 per minute;20 per hour")
    assert {name: again[name] for name in SECRETS} == {name: first[name] for name in SECRETS}
    assert (again["EXTRA_WORKERS"], again["LOGIN_RATE_LIMIT"]) == ("3", "5 per minute;20 per hour")


def test_make_env_never_gives_an_existing_database_a_new_password(deploy_folder):
    (deploy_folder / ".env").write_text("SECRET_KEY=kept\nPOSTGRES_PASSWORD=\n")
    values = make_env(deploy_folder)
    assert values["SECRET_KEY"] == "kept" and values["POSTGRES_PASSWORD"] == ""
    assert re.fullmatch(r"[0-9a-f]{64}", values["WAHA_API_KEY"])


def test_the_alert_rules_and_scrape_config_name_what_exists(app, anonymous, no_heartbeats):
    from chronoflow.extensions import db
    from chronoflow.scheduling import heartbeat

    app.config["METRICS_TOKEN"] = "x" * 20
    for kind in (heartbeat.WORKER, heartbeat.SCHEDULER):  # their ages are shown once there is a beat
        heartbeat.beat(kind, kind)
    db.session.commit()
    exposition = anonymous.get("/metrics", headers={"Authorization": "Bearer " + "x" * 20}).get_data(as_text=True)
    families = {family.name: family.type for family in text_string_to_metric_families(exposition)}
    known = set(families)
    for name, kind in families.items():
        known |= {f"{name}_total"} if kind == "counter" else set()
        known |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"} if kind == "histogram" else set()

    rules = yaml.safe_load((ROOT / "docs" / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert len(rules) == 4
    used = {name for rule in rules for name in re.findall(r"chronoflow_\w+", rule["expr"])}
    assert used and used <= known, used - known
    documented = set(re.findall(r"`(chronoflow_\w+)", (ROOT / "docs" / "monitoring.md").read_text()))
    assert documented <= known, documented - known

    scrape = yaml.safe_load((ROOT / "docs" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["chronoflow-web"]["static_configs"][0]["targets"] == ["web:8000"]
    assert jobs["chronoflow-worker"]["dns_sd_configs"][0]["port"] == 9100
    assert SERVICES["worker"]["environment"]["WORKER_METRICS_ADDRESS"].endswith(":9100")
