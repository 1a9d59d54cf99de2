"""The HTTP executor against a real server on 127.0.0.1."""
import json
import resource
import socket
import time

from chronoflow.executors.http import SNIPPET_CHARS, HttpRequest, send

from .support.target import Reply


def request(target, path="/hook", **kwargs):
    kwargs.setdefault("allowed", ("127.0.0.0/8",))  # the target is on loopback: see test_outbound.py
    return HttpRequest(method=kwargs.pop("method", "POST"), url=target.url(path), **kwargs)


def test_it_sends_method_headers_and_json_payload(target):
    outcome = send(request(target, headers={"X-Token": "abc"}, payload={"a": 1}))

    got = target.received("/hook")[0]
    assert got.method == "POST"
    assert got.headers["X-Token"] == "abc"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Accept"] == "*/*" and got.headers["User-Agent"].startswith("ChronoFlow")
    assert json.loads(got.body) == {"a": 1}
    assert outcome.ok and outcome.http_status == 200 and outcome.snippet == "ok"
    assert outcome.duration_ms >= 0 and outcome.error is None


def test_it_sends_a_string_payload_as_is_and_lets_headers_override_content_type(target):
    send(request(target, payload="<xml/>", headers={"Content-Type": "application/xml"}))

    got = target.received("/hook")[0]
    assert got.body == b"<xml/>"
    assert got.headers["Content-Type"] == "application/xml"


def test_it_sends_no_body_without_payload(target):
    send(request(target, method="GET"))
    got = target.received("/hook")[0]
    assert got.method == "GET" and got.body == b""


def test_it_keeps_the_first_1000_characters_of_the_body(target):
    target.respond("/hook", body=("é" * 3000).encode(), headers={"Content-Type": "text/plain; charset=utf-8"})
    outcome = send(request(target))
    assert outcome.snippet == "é" * SNIPPET_CHARS


def test_it_counts_3xx_as_success_without_following_the_redirect(target):
    target.respond("/hook", status=302, headers={"Location": target.url("/elsewhere")})
    outcome = send(request(target))
    assert outcome.ok and outcome.http_status == 302
    assert target.received("/elsewhere") == []


def test_it_fails_5xx_as_retryable(target):
    target.respond("/hook", status=503, body=b"down")
    outcome = send(request(target))
    assert not outcome.ok and outcome.retryable
    assert outcome.http_status == 503 and outcome.snippet == "down"
    assert outcome.error_code == "http_status" and "503" in outcome.error


def test_it_fails_other_4xx_without_retry(target):
    target.respond("/hook", status=404)
    outcome = send(request(target))
    assert not outcome.ok and not outcome.retryable and outcome.http_status == 404


def test_it_reads_retry_after_on_429(target):
    target.respond("/hook", status=429, headers={"Retry-After": "7"})
    outcome = send(request(target))
    assert outcome.retryable and outcome.retry_after_s == 7.0


def test_it_times_out(target):
    target.respond("/hook", delay=2)
    started = time.monotonic()
    outcome = send(request(target, timeout_s=0.3))
    assert time.monotonic() - started < 1.5
    assert not outcome.ok and outcome.retryable and outcome.error_code == "timeout"


def test_it_reports_a_refused_connection():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    outcome = send(HttpRequest(method="GET", url=f"http://127.0.0.1:{port}/", timeout_s=2, allowed=("127.0.0.1",)))
    assert not outcome.ok and outcome.retryable and outcome.error_code == "connection"
    assert outcome.error.startswith("Connection failed")


def test_it_reports_a_connection_closed_without_answer(target):
    target.respond("/hook", close=True)
    outcome = send(request(target))
    assert not outcome.ok and outcome.retryable and outcome.error_code == "connection"


def test_it_reads_a_bounded_part_of_a_huge_body(target):
    target.respond("/hook", Reply(stream_bytes=1024**3))  # 1 GB announced and streamed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    outcome = send(request(target, max_bytes=65536))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert outcome.ok and len(outcome.snippet) == SNIPPET_CHARS
    assert time.monotonic() - started < 5
    assert grown_kib < 50 * 1024  # far from the gigabyte
