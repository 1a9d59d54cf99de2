"""The dashboard as a person uses it, in chromium: create a chrono with the form,
watch the live preview, test it, run it, read its history, pause and resume it,
switch language, on a laptop and on a phone, with and without JavaScript."""
import re

import pytest
from playwright.sync_api import expect

def create_with_the_form(page, base, name, url, schedule="a cada 10 segundos"):
    page.goto(base + "/chronos/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Schedule", exact=True).fill(schedule)
    # The preview's answer first: a response landing after the save's could carry the
    # session cookie from before the save, without its "Chrono created." flash.
    expect(page.locator("#schedule-preview li")).to_have_count(5)
    page.get_by_label("URL", exact=True).fill(url)
    page.get_by_role("button", name="Create chrono").click()
    expect(page.get_by_text("Chrono created.")).to_be_visible()
    return page.url


def test_create_preview_test_run_and_read_the_history(live_stack, page, screenshot, target):
    target.respond("/report", body=b'{"ok": true}')
    page.goto(live_stack + "/chronos/new")
    page.get_by_label("Name", exact=True).fill("Daily report")
    page.get_by_label("Schedule", exact=True).fill("a cada 10 segundos")

    preview = page.locator("#schedule-preview")
    expect(preview).to_contain_text("Every 10 seconds")
    expect(preview.locator("li")).to_have_count(5)

    page.get_by_label("Schedule", exact=True).fill("toda hora as 25")
    expect(preview).to_contain_text("25 is not a valid hour")
    page.get_by_label("Schedule", exact=True).fill("a cada 10 segundos")
    expect(preview).to_contain_text("Every 10 seconds")

    page.get_by_label("URL", exact=True).fill(target.url("/report"))
    page.get_by_label("Method", exact=True).select_option("POST")
    page.get_by_label("Body", exact=True).fill('{"from": "browser"}')
    page.get_by_role("button", name="Test: send it once now").click()
    expect(page.locator("#test-result")).to_contain_text("HTTP 200")
    assert target.received("/report")[0].body == b'{"from": "browser"}'
    screenshot(page, "chrono-form")

    page.get_by_role("button", name="Create chrono").click()
    expect(page.get_by_text("Chrono created.")).to_be_visible()
    expect(page.get_by_role("heading", name="Daily report")).to_be_visible()

    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text("Started: the run appears")).to_be_visible()
    history = page.locator("table.runs tbody")
    for _ in range(40):  # the manual run and the scheduled ones land within seconds
        page.reload()
        if history.locator(".badge-success").count() >= 2 and history.get_by_text("manual").count():
            break
        page.wait_for_timeout(500)
    expect(history.locator("tr").first).to_contain_text("200")
    expect(history.get_by_text("manual")).to_be_visible()
    assert history.locator(".badge-success").count() >= 2
    expect(page.locator("svg.chart rect").first).to_be_visible()
    screenshot(page, "chrono-detail")

    history.locator("a").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"Run #\d+"))).to_be_visible()
    page.get_by_text("Technical details").click()  # the developer's view, one tap away
    expect(page.get_by_text("Request as sent")).to_be_visible()
    expect(page.locator("#technical pre").first).to_contain_text("POST " + target.url("/report"))
    screenshot(page, "run-detail")


def test_errors_are_shown_next_to_their_fields(live_stack, page):
    page.goto(live_stack + "/chronos/new")
    page.get_by_label("Schedule", exact=True).fill("every 7 minutes")
    page.get_by_label("URL", exact=True).fill("ftp://example.com")
    page.get_by_label("Headers", exact=True).fill("{not json")
    page.get_by_role("button", name="Create chrono").click()
    expect(page.locator("#name-error")).to_contain_text("1 to 200 characters")
    expect(page.locator("#schedule-error")).to_contain_text("does not divide an hour")
    expect(page.locator("#url-error")).to_contain_text("http:// or https://")
    expect(page.locator("#headers-error")).to_contain_text("JSON object")
    expect(page.get_by_label("URL", exact=True)).to_have_attribute("aria-invalid", "true")


def test_pause_and_resume(live_stack, page, target):
    create_with_the_form(page, live_stack, "Pausable", target.url("/pausable"), schedule="@daily")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_text("Paused: it will not run")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("h1 .badge")).to_have_text("active")


def test_delete_asks_for_confirmation(live_stack, page, target):
    create_with_the_form(page, live_stack, "To delete", target.url("/delete"), schedule="@daily")
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete “To delete”?")).to_be_visible()
    page.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_text("Chrono “To delete” deleted.")).to_be_visible()


def test_pasting_a_curl_command_fills_the_request(live_stack, page):
    page.goto(live_stack + "/chronos/new")
    page.locator("details.curl summary").click()
    page.get_by_label("Paste a curl command", exact=True).fill(
        "curl -X PUT https://api.example.com/v1/items -H 'Authorization: Bearer t' --data '{\"a\": 1}'")
    page.get_by_role("button", name="Fill in from curl").click()
    expect(page.get_by_label("URL", exact=True)).to_have_value("https://api.example.com/v1/items")
    expect(page.get_by_label("Method", exact=True)).to_have_value("PUT")
    expect(page.get_by_label("Headers", exact=True)).to_have_value(re.compile("Bearer t"))
    expect(page.get_by_label("Body", exact=True)).to_have_value(re.compile('"a": 1'))


def test_whatsapp_fields_show_when_chosen(live_stack, page):
    page.goto(live_stack + "/chronos/new")
    expect(page.get_by_label("URL", exact=True)).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_be_hidden()
    page.get_by_label("Send a WhatsApp message").check()
    expect(page.get_by_label("Message", exact=True)).to_be_visible()
    expect(page.get_by_label("URL", exact=True)).to_be_hidden()


def test_the_form_works_without_javascript(live_stack, new_page, target):
    page = new_page(java_script_enabled=False)
    page.goto(live_stack + "/chronos/new")
    page.get_by_label("Name", exact=True).fill("No script")
    page.get_by_label("Schedule", exact=True).fill("todo dia às 18")
    page.get_by_label("URL", exact=True).fill(target.url("/noscript"))
    page.get_by_role("button", name="Test: send it once now").click()
    expect(page.locator("#test-result")).to_contain_text("HTTP 200")  # rendered by the server
    expect(page.locator("#schedule-preview")).to_contain_text("Every day at 18:00")
    page.get_by_role("button", name="Create chrono").click()
    expect(page.get_by_role("heading", name="No script")).to_be_visible()


def test_every_form_control_has_a_label(live_stack, page):
    page.goto(live_stack + "/chronos/new")
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('form.chrono-form input, select, textarea')]
        .filter(el => el.type !== 'hidden' && !el.classList.contains('visually-hidden'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.name)""")
    assert unlabeled == []


@pytest.mark.parametrize("locale", ["pt-BR"])
def test_portuguese_from_the_browser_and_english_from_the_switch(live_stack, live_api, page, screenshot, target):
    live_api.post(live_stack + "/api/chronos", json={"name": "Lembrete da loja", "schedule": "todo dia às 18",
                                                     "url": target.url("/loja")}, timeout=5).raise_for_status()
    page.goto(live_stack + "/")
    expect(page.get_by_role("link", name="+ Nova tarefa").first).to_be_visible()
    card = page.locator(".chrono-card", has_text="Lembrete da loja")
    expect(card).to_contain_text("Todo dia às 18:00")
    expect(card).to_contain_text(re.compile(r"\d{2}/\d{2}/\d{4}"))  # dd/mm/yyyy: the locale's date format
    screenshot(page, "chronos-list-pt")

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("link", name="+ New chrono").first).to_be_visible()
    expect(page.locator(".chrono-card", has_text="Lembrete da loja")).to_contain_text("Every day at 18:00")
    page.get_by_role("link", name="Português").click()
    expect(page.get_by_role("link", name="+ Nova tarefa").first).to_be_visible()


def test_the_list_searches_and_looks_right(live_stack, live_api, page, screenshot, target):
    for name, schedule in (("Backup ping", "de hora em hora"), ("Weekly digest", "toda segunda às 9h")):
        live_api.post(live_stack + "/api/chronos", json={"name": name, "schedule": schedule,
                                                         "url": target.url("/x")}, timeout=5).raise_for_status()
    page.goto(live_stack + "/")
    screenshot(page, "chronos-list")
    page.get_by_placeholder("Search by name").fill("digest")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".chrono-card")).to_have_count(1)
    expect(page.locator(".chrono-card")).to_contain_text("Every Monday at 09:00")


def test_on_a_phone_nothing_overflows(live_stack, phone_page, screenshot, target):
    url = create_with_the_form(phone_page, live_stack, "Phone check", target.url("/phone"))
    phone_page.get_by_role("button", name="Run now").click()
    expect(phone_page.get_by_text("Started: the run appears")).to_be_visible()  # its navigation is over
    for _ in range(30):
        phone_page.goto(url)
        if phone_page.locator("table.runs .badge-success").count():
            break
        phone_page.wait_for_timeout(500)
    for path in (url, live_stack + "/", live_stack + "/chronos/new"):
        phone_page.goto(path)
        assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth"), path
    phone_page.goto(url)
    screenshot(phone_page, "chrono-detail-phone")
