"""WhatsApp as a person sets it up, in chromium, against the fake WAHA: link a
number by QR (the page notices the scan by itself), make a channel, schedule a
message to two numbers, and read who got it."""
import re

from playwright.sync_api import expect


def test_link_a_number_schedule_a_message_and_read_who_got_it(live_stack, live_waha, page, screenshot):
    live_waha.reset()
    page.goto(live_stack + "/waha/sessions")
    expect(page.get_by_text("No session yet")).to_be_visible()
    page.get_by_role("button", name="Create and link a phone").click()

    # STARTING, then SCAN_QR_CODE: the script shows the code without a reload.
    qr = page.locator("#qr-image")
    expect(qr).to_be_visible(timeout=10_000)
    expect(qr).to_have_attribute("src", re.compile(r"/waha/sessions/default/qr\.png"))
    page.wait_for_function("document.getElementById('qr-image').naturalWidth > 0")
    expect(page.get_by_text("Link a device and point the camera")).to_be_visible()
    assert "live-key" not in page.content()  # WAHA's key never reaches the browser
    screenshot(page, "whatsapp-qr")

    live_waha.pair("default", "5511987650000", push_name="Padaria")  # the phone scanned the code
    expect(page.locator("#connected-headline")).to_have_text("Connected as +55 11 98765-0000", timeout=10_000)
    expect(page.locator("#qr-box")).to_be_hidden()
    screenshot(page, "whatsapp-connected")

    page.get_by_role("link", name="Create a channel for this number").click()
    expect(page.get_by_label("WhatsApp session", exact=True)).to_have_value("default")
    page.get_by_label("Name", exact=True).fill("Padaria")
    page.get_by_role("button", name="Create channel").click()
    expect(page.get_by_text("Channel created")).to_be_visible()
    expect(page.locator(".card", has_text="Padaria")).to_contain_text("+55 11 98765-0000")

    page.goto(live_stack + "/chronos/new")
    page.get_by_label("Name", exact=True).fill("Lembrete da padaria")
    page.get_by_label("Schedule", exact=True).fill("a cada 5 segundos")
    page.get_by_label("Send a WhatsApp message").check()
    page.get_by_label("WhatsApp channel", exact=True).select_option(label="Padaria")
    page.get_by_label("Message", exact=True).fill("Bom dia! {{ chrono }}: {{ date }} às {{ time }}")
    page.get_by_label("Recipients", exact=True).fill("+55 (11) 98765-4321\n21 99876-5432")
    screenshot(page, "whatsapp-chrono-form")
    page.get_by_role("button", name="Create chrono").click()
    expect(page.get_by_text("Chrono created.")).to_be_visible()

    sent = live_waha.wait_for_sent(2, timeout=20)
    page.get_by_role("button", name="Pause").click()  # one occurrence is enough
    expect(page.get_by_text("Paused: it will not run")).to_be_visible()  # its navigation is over
    assert [m.chat_id for m in sent[:2]] == ["5511987654321@c.us", "5521998765432@c.us"]
    for message in sent[:2]:
        assert re.fullmatch(r"Bom dia! Lembrete da padaria: \d\d/\d\d/\d{4} às \d\d:\d\d", message.text), message
    assert sent[1].at - sent[0].at >= 0.2  # paced

    history = page.locator("table.runs tbody")
    for _ in range(30):
        page.reload()
        if history.locator(".badge-success").count():
            break
        page.wait_for_timeout(300)
    row = history.locator("tr", has=page.locator(".badge-success")).last
    expect(row).to_contain_text("Sent to 2 of 2 recipients.")
    row.locator("a").click()
    recipients = page.locator("table.recipients")
    expect(recipients).to_contain_text("+55 11 98765-4321")
    expect(recipients).to_contain_text("+55 21 99876-5432")
    expect(recipients.locator(".badge-success")).to_have_count(2)
    screenshot(page, "whatsapp-run")


def test_the_sessions_page_on_a_phone_when_the_key_is_wrong(live_stack, live_waha, phone_page, screenshot):
    live_waha.reset()
    live_waha.api_key = "changed"
    try:
        phone_page.goto(live_stack + "/waha/sessions")
        expect(phone_page.get_by_role("alert")).to_contain_text("refused our API key")
        expect(phone_page.get_by_role("alert")).to_contain_text("WAHA_API_KEY")
        screenshot(phone_page, "whatsapp-wrong-key-phone", docs=False)
    finally:
        live_waha.api_key = "live-key"
