"""Issue 10: bad input is a 4xx naming the field, in the request's language, and
changes nothing; what is accepted can be sent; every size has a documented limit."""
import json

import pytest

from chronoflow.extensions import db
from chronoflow.models import Chrono

from .conftest import csrf_token_in

VALID = {"name": "Ping", "schedule": "every 5 minutes", "url": "https://example.com/hook"}
HUGE = 2**70
PT = {"Accept-Language": "pt-BR"}


def count():
    return db.session.scalar(db.select(db.func.count()).select_from(Chrono))


def post_raw(client, body, **kwargs):
    return client.post("/api/chronos", data=body, content_type="application/json", **kwargs)


def errors(response):
    return response.get_json()["errors"]["json"]


# --- what cannot be sent is refused at save -------------------------------------------------

@pytest.mark.parametrize("payload, words", [
    ('"\\ud800"', "lone surrogate"),
    ('{"a": "x\\udfff"}', "lone surrogate"),
    ('{"\\ud800": 1}', "lone surrogate"),
    ("NaN", "NaN and Infinity"),
    ('{"a": [Infinity]}', "NaN and Infinity"),
    ("[" * 40 + "]" * 40, "Nested more than 32 levels"),
])
def test_a_payload_that_cannot_be_sent_as_json_is_refused(client, payload, words):
    body = '{"name": "n", "schedule": "@daily", "url": "https://example.com/", "payload": %s}' % payload
    response = post_raw(client, body)
    assert response.status_code == 422 and words in errors(response)["payload"][0]
    assert count() == 0


@pytest.mark.parametrize("field", ["name", "description", "schedule", "url", "timezone"])
def test_text_with_a_lone_surrogate_or_a_nul_is_refused_naming_the_field(client, field):
    for bad in ("a\\ud800", "a\\u0000"):
        body = json.dumps(VALID)[:-1] + ', "%s": "%s"}' % (field, bad)
        response = post_raw(client, body)
        assert response.status_code == 422 and field in errors(response), (field, bad)
    assert count() == 0


def test_header_values_and_recipients_must_be_sendable(client):
    response = client.post("/api/chronos", json={**VALID, "headers": {"X-Name": "José ☃"}})
    assert "Latin-1" in str(errors(response)["headers"])
    response = post_raw(client, json.dumps(VALID)[:-1] + ', "headers": {"X-A\\ud800": "1"}}')
    assert response.status_code == 422 and "headers" in errors(response)


def test_the_form_s_boxes_refuse_deep_nesting_and_huge_numbers(client, post_form):
    form = {"name": "n", "schedule": "@daily", "target_type": "HTTP", "method": "POST", "url": "https://example.com/",
            "payload_format": "json"}
    for box, text in [("headers", "[" * 100_000), ("payload", "[" * 100_000), ("payload", "1" * 5000),
                      ("payload", '"\\ud800"')]:
        response = post_form("/chronos/new", {**form, box: text})
        assert response.status_code == 200, box
        assert f'data-error-for="{box}">' in response.get_data(as_text=True)
    assert count() == 0


# --- no server errors ------------------------------------------------------------------------

@pytest.mark.parametrize("path", [f"/api/chronos/{HUGE}", f"/api/runs/{HUGE}", f"/api/channels/{HUGE}",
                                  f"/api/chronos/{HUGE}/runs", f"/chronos/{HUGE}", f"/chronos/{HUGE}/edit",
                                  f"/runs/{HUGE}", f"/channels/{HUGE}/edit", f"/api/chronos/{2**31}", f"/api/runs/{2**63}"])
def test_ids_beyond_64_bits_are_not_found(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("query", [f"skip={HUGE}", "take=101", "take=0", "skip=-1", "skip=²", "take=1e3"])
def test_page_arguments_out_of_range_are_a_422_naming_them(client, query):
    response = client.get(f"/api/chronos?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["errors"]["query"]


def test_dashboard_pages_take_any_page_number(client, make_chrono):
    chrono = make_chrono()
    for page in (str(HUGE), "²", "-1", "1" * 5000):
        assert client.get(f"/?page={page}").status_code == 200
        assert client.get(f"/chronos/{chrono.id}?page={page}").status_code == 200


def test_nul_characters_in_a_search_or_a_sign_in_find_nothing(client, anonymous, make_chrono):
    make_chrono(name="Ping")
    assert client.get("/?q=Pi%00ng").status_code == 200
    assert client.get("/?q=" + "P" * 10_000).status_code == 200
    page = anonymous.get("/login").get_data(as_text=True)
    response = anonymous.post("/login", data={"username": "tester\0", "password": "x",
                                              "csrf_token": csrf_token_in(page)})
    assert response.status_code == 401
    assert client.get("/chronos/preview?schedule=daily&timezone=America/Sao%00Paulo").status_code == 200


def test_a_channel_that_does_not_exist_is_named(client):
    for channel_id in (999, HUGE):
        response = client.post("/api/chronos", json={**VALID, "channel_id": channel_id})
        assert response.status_code == 422 and "channel_id" in errors(response)
    assert count() == 0


@pytest.mark.parametrize("body, status", [
    ('{"name": "n", "schedule": "@daily", "config": {"timeout_ms": 1%s}}' % ("0" * 5000), 400),
    ("[" * 100_000 + "]" * 100_000, 400),
    ('{"name": "n", "schedule": "@daily", "config": {"timeout_ms": 1e400}}', 422),
])
def test_bodies_json_cannot_read_are_a_400_and_never_a_500(client, body, status):
    response = post_raw(client, body)
    assert response.status_code == status and response.get_json()["code"] == status


def test_unicode_digits_that_int_refuses_are_a_field_error_in_the_form(client, post_form):
    html = post_form("/chronos/new", {"name": "n", "schedule": "@daily", "target_type": "HTTP", "method": "GET",
                                      "url": "https://example.com/", "timeout_s": "²",
                                      "channel_id": "²"}).get_data(as_text=True)
    assert 'data-error-for="timeout_s">Write a number of seconds' in html
    assert count() == 0


def test_curl_options_that_are_not_numbers_are_ignored(client, post_form):
    response = post_form("/chronos/parse-curl", {"curl": "curl -m 1e400 https://example.com/"})
    assert response.status_code == 200 and response.get_json()["timeout_s"] == ""
    response = post_form("/chronos/parse-curl", {"curl": "curl -d '" + "[" * 100_000 + "' https://example.com/"})
    assert response.status_code == 200


def test_errors_speak_the_request_s_language(client):
    response = post_raw(client, '{"name": "a\\ud800", "schedule": "x", "is_active": 0}', headers=PT)
    body = errors(response)
    assert body["is_active"] == ["Deve ser true ou false."]
    assert "surrogate" in body["name"][0] and body["name"][0] != "Must be valid Unicode text (it holds a lone surrogate)."
    response = client.post("/api/chronos", data="{}", content_type="text/plain", headers=PT)
    assert response.status_code == 400 and "Content-Type: application/json" in response.get_json()["message"]
    assert response.get_json()["message"].startswith("O corpo")


# --- limits ----------------------------------------------------------------------------------

def test_a_request_body_over_max_request_bytes_is_a_413(client):
    response = client.post("/api/chronos", json={**VALID, "payload": "x" * 1_100_000})
    assert response.status_code == 413 and "MAX_REQUEST_BYTES" in response.get_json()["message"]
    assert count() == 0


@pytest.mark.parametrize("change, field, words", [
    ({"payload": "x" * 70_000}, "payload", "At most 65536 bytes"),
    ({"payload": {"k": ["x" * 1000] * 70}}, "payload", "At most 65536 bytes"),
    ({"headers": {"X-Big": "x" * 20_000}}, "headers", "HEADERS_MAX_BYTES"),
    ({"headers": {"X" * 101: "1"}}, "headers", ""),
    ({"headers": {f"X-{n}": "1" for n in range(51)}}, "headers", "At most 50 headers"),
    ({"schedule": "every 5 minutes " + "x" * 200}, "schedule", "Use 1 to 200 characters"),
    ({"name": "n" * 201}, "name", "Use 1 to 200 characters"),
    ({"recipients": [f"+5511987654{n:03d}" for n in range(101)]}, "recipients", "At most 100 recipients"),
    ({"url": "https://example.com/" + "a" * 2048}, "url", "At most 2048 characters"),
])
def test_every_field_has_a_limit_and_the_error_says_it(client, change, field, words):
    response = client.post("/api/chronos", json={**VALID, **change})
    assert response.status_code == 422 and words in str(errors(response)[field])
    assert len(response.data) < 5000  # the answer names the problem, it does not echo the input
    assert count() == 0


def test_an_unknown_field_with_a_huge_name_is_not_echoed_whole(client):
    response = client.post("/api/chronos", json={**VALID, "k" * 100_000: 1})
    assert response.status_code == 422 and len(response.data) < 2000


def test_the_preview_refuses_a_long_schedule_before_parsing_it(client):
    body = client.get("/chronos/preview", query_string={"schedule": "every 5 minutes " * 1000}).get_json()
    assert body == {"ok": False, "error": "At most 200 characters."}


# --- the smaller ones ------------------------------------------------------------------------

def test_a_405_says_which_methods_the_url_takes(client, make_chrono):
    chrono = make_chrono()
    response = client.put(f"/api/chronos/{chrono.id}", json={})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}
    assert "POST" in client.get(f"/chronos/{chrono.id}/pause").headers["Allow"]


def test_a_patch_whose_body_is_not_json_is_a_400_and_changes_nothing(client, make_chrono):
    chrono = make_chrono(name="Keep")
    for body, content_type in [("name=x", "application/x-www-form-urlencoded"), ('{"name": "x"}', "text/plain"),
                               ("{not json", "application/json")]:
        response = client.patch(f"/api/chronos/{chrono.id}", data=body, content_type=content_type)
        assert response.status_code == 400, content_type
    db.session.expire_all()
    assert chrono.name == "Keep"


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_is_active_takes_only_true_or_false(client, value):
    response = client.post("/api/chronos", json={**VALID, "is_active": value})
    assert response.status_code == 422 and "is_active" in errors(response)


def test_the_openapi_document_states_the_rules_the_server_checks(client):
    spec = client.get("/api/openapi.json").get_json()
    chrono = spec["components"]["schemas"]["ChronoInput"]["properties"]
    assert (chrono["name"]["minLength"], chrono["name"]["maxLength"]) == (1, 200)
    assert (chrono["schedule"]["minLength"], chrono["schedule"]["maxLength"]) == (1, 200)
    assert chrono["url"]["maxLength"] == 2048 and chrono["message_template"]["maxLength"] == 4096
    assert chrono["headers"]["maxProperties"] == 50 and "X-ChronoFlow-*" in chrono["headers"]["description"]
    assert chrono["channel_id"]["minimum"] == 1
    assert spec["components"]["schemas"]["ChronoInput"]["required"] == ["name", "schedule"]
    take = next(p for p in spec["paths"]["/api/chronos"]["get"]["parameters"] if p["name"] == "take")
    assert take["schema"]["maximum"] == 100
    chrono_id = spec["paths"]["/api/chronos/{chrono_id}"]["parameters"][0]["schema"]
    assert chrono_id["maximum"] == 2**31 - 1
    channel = spec["components"]["schemas"]["ChannelInput"]["properties"]["name"]
    assert "unique" in channel["description"] and channel["maxLength"] == 100
