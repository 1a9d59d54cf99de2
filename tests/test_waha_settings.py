"""The WhatsApp settings' parsers: a bad value stops start-up with the setting's name."""
import pytest

from chronoflow.config import ConfigError, load


def test_the_whatsapp_defaults(tmp_path):
    config = load(tmp_path, environ={})
    assert (config["WAHA_BASE_URL"], config["WAHA_API_KEY"], config["WAHA_TIMEOUT_MS"]) == (
        "http://127.0.0.1:3000", None, 15000)
    assert config["DEFAULT_PHONE_REGION"] == "BR"
    assert (config["MESSAGE_DELAY_MIN_SECONDS"], config["MESSAGE_DELAY_MAX_SECONDS"]) == (30.0, 60.0)
    assert config["MESSAGE_DAILY_CAP"] == 500
    assert (config["WAHA_WEBHOOK_BASE_URL"], config["WAHA_WEBHOOK_TOKEN"], config["WAHA_WEBHOOK_HMAC_KEY"]) == (
        None, None, None)


def test_it_parses_them(tmp_path):
    config = load(tmp_path, environ={"WAHA_BASE_URL": "http://waha:3000/", "DEFAULT_PHONE_REGION": "pt",
                                     "MESSAGE_DELAY_MIN_SECONDS": "0.5"})
    assert (config["WAHA_BASE_URL"], config["DEFAULT_PHONE_REGION"], config["MESSAGE_DELAY_MIN_SECONDS"]) == (
        "http://waha:3000", "PT", 0.5)


@pytest.mark.parametrize("name, value, words", [
    ("WAHA_BASE_URL", "waha:3000", "http:// or https://"),
    ("WAHA_TIMEOUT_MS", "10", "between 1000 and 120000"),
    ("DEFAULT_PHONE_REGION", "Brasil", "two-letter country code"),
    ("MESSAGE_DELAY_MIN_SECONDS", "soon", "number of seconds"),
    ("MESSAGE_DELAY_MAX_SECONDS", "-1", "between 0 and 3600"),
    ("MESSAGE_DAILY_CAP", "lots", "whole number"),
    ("WAHA_WEBHOOK_BASE_URL", "web:8000", "http:// or https://"),
    ("WAHA_WEBHOOK_TOKEN", "short", "16 to 200"),
    ("WAHA_WEBHOOK_HMAC_KEY", "has spaces in it, see", "16 to 200"),
])
def test_a_bad_value_names_the_setting(tmp_path, name, value, words):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, environ={name: value})
    assert name in str(caught.value) and words in str(caught.value)


def test_the_webhook_address_needs_a_secret(tmp_path):
    with pytest.raises(ConfigError, match="WAHA_WEBHOOK_BASE_URL needs WAHA_WEBHOOK_TOKEN or WAHA_WEBHOOK_HMAC_KEY"):
        load(tmp_path, environ={"WAHA_WEBHOOK_BASE_URL": "http://web:8000"})
    config = load(tmp_path, environ={"WAHA_WEBHOOK_BASE_URL": "http://web:8000/", "WAHA_WEBHOOK_TOKEN": "a" * 48})
    assert (config["WAHA_WEBHOOK_BASE_URL"], config["WAHA_WEBHOOK_TOKEN"]) == ("http://web:8000", "a" * 48)
