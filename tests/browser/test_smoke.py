"""The browser tests' plumbing: chromium reaches the live stack, and the fixtures
give the pages and screenshots they promise."""
import struct

import pytest


def test_the_health_check_says_ok(live_stack, page):
    response = page.goto(live_stack + "/api/health")
    assert response.status == 200
    assert response.json()["status"] == "ok"


def test_an_unknown_address_is_a_404(live_stack, page):
    response = page.goto(live_stack + "/nowhere")
    assert response.status == 404


def test_a_phone_page_is_phone_sized_and_its_screenshot_is_kept(live_stack, phone_page, screenshot):
    phone_page.goto(live_stack + "/nowhere")
    assert phone_page.evaluate("[innerWidth, navigator.maxTouchPoints > 0]") == [390, True]
    path = screenshot(phone_page, "smoke-phone", docs=False)
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24])[0] == 390  # IHDR width


@pytest.mark.parametrize("locale", ["pt-BR"])
def test_the_locale_reaches_the_server(page, target):
    page.goto(target.url("/language"))
    assert target.received("/language")[0].headers["Accept-Language"].startswith("pt-BR")
