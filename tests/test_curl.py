"""Reading curl commands as API docs print them."""
import base64

import pytest

from chronoflow.chronos.curl import CurlError, parse_curl


def test_a_plain_get():
    assert parse_curl("curl https://api.example.com/items") == {
        "method": "GET", "url": "https://api.example.com/items", "headers": {}, "payload": None}


def test_a_multiline_post_with_json_headers_and_flags():
    parsed = parse_curl("""curl -sS -L --compressed \\
      -X POST 'https://api.example.com/v1/messages' \\
      -H 'Content-Type: application/json' \\
      -H "Authorization: Bearer abc:def" \\
      --data-raw '{"text": "olá", "n": 2}' \\
      --max-time 7.5""")
    assert parsed == {
        "method": "POST",
        "url": "https://api.example.com/v1/messages",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer abc:def"},
        "payload": {"text": "olá", "n": 2},
        "timeout_ms": 7500,
    }


def test_data_means_post_and_non_json_stays_text():
    parsed = parse_curl("curl example.com/form -d a=1 -d b=2")
    assert parsed["method"] == "POST" and parsed["payload"] == "a=1&b=2"
    assert parsed["url"] == "http://example.com/form"


def test_long_options_with_equals_user_and_json():
    parsed = parse_curl("curl --request=PATCH --url=https://x.io/a --user me:secret --json '{\"a\":1}'")
    assert parsed["method"] == "PATCH" and parsed["url"] == "https://x.io/a"
    assert parsed["headers"]["Authorization"] == "Basic " + base64.b64encode(b"me:secret").decode()
    assert parsed["headers"]["Content-Type"] == "application/json" and parsed["payload"] == {"a": 1}


@pytest.mark.parametrize("command, words", [
    ("curl 'https://x.io", "unclosed quote"),
    ("curl -X POST", "no URL"),
    ("", "starts with curl"),
    ("curl https://x.io -H", "needs a value"),
    ("curl https://x.io -d @body.json", "from a file"),
])
def test_it_says_what_is_wrong(command, words):
    with pytest.raises(CurlError, match=words):
        parse_curl(command)
