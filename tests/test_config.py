import pytest

from chronoflow.config import ConfigError, database_url, load


def test_it_fills_defaults(tmp_path):
    config = load(tmp_path, environ={})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'chronoflow.db'}"
    assert config["REDIS_URL"] is None
    assert config["SCHEDULER_INTERVAL"] == 60
    assert config["ALLOWED_METHODS"] == ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    assert config["DEFAULT_TIMEZONE"] == "America/Sao_Paulo"


def test_it_keeps_a_generated_secret_key_across_starts(tmp_path):
    first = load(tmp_path, environ={})["SECRET_KEY"]
    assert len(first) == 64
    assert load(tmp_path, environ={})["SECRET_KEY"] == first
    assert load(tmp_path, environ={"SECRET_KEY": "set"})["SECRET_KEY"] == "set"


def test_it_parses_the_environment(tmp_path):
    config = load(
        tmp_path,
        environ={"ALLOWED_METHODS": "get, post", "HTTP_REQUEST_TIMEOUT_MS": "2500", "SQLALCHEMY_ECHO": "false"},
    )
    assert config["ALLOWED_METHODS"] == ("GET", "POST")
    assert config["HTTP_REQUEST_TIMEOUT_MS"] == 2500


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("SCHEDULER_INTERVAL", "soon", "whole number"),
        ("SCHEDULER_INTERVAL", "0", "between 1 and 3600"),
        ("ALLOWED_METHODS", "GET,FETCH", "subset"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "unknown IANA timezone"),
        ("SQLALCHEMY_ECHO", "maybe", "true or false"),
    ],
)
def test_it_refuses_bad_values_naming_the_setting(tmp_path, name, value, words):
    with pytest.raises(ConfigError, match=name) as info:
        load(tmp_path, environ={name: value})
    assert words in str(info.value)


def test_it_names_the_postgres_driver():
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
