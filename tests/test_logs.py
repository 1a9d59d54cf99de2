"""Log lines: JSON objects with LOG_FORMAT=json, readable text by default; every
request logged with its method, path, status and duration, and no secret."""
import json
import logging

import pytest

from chronoflow import logs
from chronoflow.config import ConfigError


def record(message="hello", level=logging.INFO, **extra):
    entry = logging.LogRecord("chronoflow.test", level, __file__, 1, message, (), None)
    entry.__dict__.update(extra)
    return entry


def test_a_json_line_is_one_object_with_time_level_logger_process_message_and_the_extra_fields():
    line = logs.JsonLines().format(record("run 7 of chrono 3 success", run_id=7, chrono_id=3))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "run 7 of chrono 3 success"
    assert (parsed["level"], parsed["logger"]) == ("INFO", "chronoflow.test")
    assert (parsed["run_id"], parsed["chrono_id"]) == (7, 3)
    assert isinstance(parsed["process"], int) and parsed["time"].endswith("+00:00")


def test_an_exception_stays_inside_its_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        entry = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    parsed = json.loads(logs.JsonLines().format(entry))
    assert "ValueError: boom" in parsed["exc_info"]


def test_text_at_info_is_the_default_and_a_wrong_value_names_its_setting():
    assert logs.from_environ({}) == ("text", "INFO")
    assert logs.from_environ({"LOG_FORMAT": "JSON", "LOG_LEVEL": "debug"}) == ("json", "DEBUG")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        logs.from_environ({"LOG_FORMAT": "xml"})
    text = logs.dict_config("text", "INFO")
    assert text["formatters"]["chronoflow"] == {"format": logs.TEXT_FORMAT}
    assert logs.dict_config("json", "INFO")["formatters"]["chronoflow"] == {"()": logs.JsonLines}


def test_every_logger_goes_through_the_one_handler_gunicorn_included():
    config = logs.dict_config("json", "WARNING")
    assert config["root"] == {"level": "WARNING", "handlers": ["stderr"]}
    assert all(logger["handlers"] == [] and logger["propagate"] for logger in config["loggers"].values())
    # gunicorn's own access line would repeat chronoflow.requests' line
    assert config["loggers"]["gunicorn.access"]["level"] == "WARNING"


def requests_logged(caplog):
    return [r for r in caplog.records if r.name == "chronoflow.requests"]


def test_a_request_is_logged_with_method_path_status_and_duration_and_no_secret(client, api_token, caplog):
    caplog.set_level(logging.INFO, "chronoflow.requests")
    response = client.get("/api/chronos?take=5&token=hush-hush")
    assert response.status_code == 200

    (entry,) = requests_logged(caplog)
    line = json.loads(logs.JsonLines().format(entry))
    assert {key: line[key] for key in ("method", "path", "route", "status")} == {
        "method": "GET", "path": "/api/chronos", "route": "/api/chronos", "status": 200}
    assert line["duration_ms"] >= 0
    assert line["message"].startswith("GET /api/chronos 200 ")
    assert "hush-hush" not in json.dumps(line) and api_token not in json.dumps(line)


def test_refusals_are_logged_and_the_polled_routes_only_at_debug(anonymous, caplog):
    caplog.set_level(logging.INFO, "chronoflow.requests")
    anonymous.get("/api/health/live")
    anonymous.get("/no/such/page")
    anonymous.post("/api/chronos", json={})
    anonymous.open("/api/x%0Aforged", method="BREW")

    assert [(r.method, r.path, r.status, r.route) for r in requests_logged(caplog)] == [
        ("GET", "/no/such/page", 302, "unmatched"),  # to the sign-in page
        ("POST", "/api/chronos", 401, "/api/chronos"),
        ("OTHER", "/api/x?forged", 401, "unmatched"),  # what a client invents stays out of lines and labels
    ]
