"""The WhatsApp settings' parsers: a bad value stops start-up with the setting's name."""
import pytest

from chronoflow.config import ConfigError, load


def test_the_whatsapp_defaults(tmp_path):
    config = load(tmp_path, environ={})
    assert (config["WAHA_BASE_URL"], config["WAHA_API_KEY"], config["WAHA_TIMEOUT_MS"]) == (
        "http://127.0.0.1:3000", None, 15000)
    assert config["DEFAULT_PHONE_REGION"] == "BR"
    assert (config["MESSAGE_DELAY_MIN_SECONDS"], config["MESSAGE_DELAY_MAX_SECONDS"]) == (30.0, 60.0)


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
])
def test_a_bad_value_names_the_setting(tmp_path, name, value, words):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, environ={name: value})
    assert name in str(caught.value) and words in str(caught.value)
