"""WhatsApp as a person sets it up, in chromium, against the fake WAHA: link a
number by QR (the page notices the scan from WAHA's pushed event, not by asking
WAHA), make a channel, test the message on one number, schedule it to two, run
it now, and read who got it and who read it."""
import re

import pytest
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

    live_waha.reads_down = True  # WAHA answers no polling: only its pushed event can tell the page
    live_waha.pair("default", "5511987650000", push_name="Padaria")  # the phone scanned the code
    expect(page.locator("#connected-headline")).to_have_text("Connected as +55 11 98765-0000", timeout=10_000)
    expect(page.locator("#qr-box")).to_be_hidden()
    live_waha.reads_down = False
    screenshot(page, "whatsapp-connected")

    page.get_by_role("link", name="Create a channel for this number").click()
    expect(page.get_by_label("WhatsApp session", exact=True)).to_have_value("default")
    page.get_by_label("Name", exact=True).fill("Padaria")
    page.get_by_role("button", name="Create channel").click()
    expect(page.get_by_text("Channel created")).to_be_visible()
    expect(page.locator(".card", has_text="Padaria")).to_contain_text("+55 11 98765-0000")

    page.goto(live_stack + "/chronos/new")
    page.get_by_label("Name", exact=True).fill("Lembrete da padaria")
    page.get_by_label("Schedule", exact=True).fill("todo dia às 18")
    page.get_by_label("Send a WhatsApp message").check()
    page.get_by_label("WhatsApp channel", exact=True).select_option(label="Padaria")
    page.get_by_label("Message", exact=True).fill("Bom dia! {{ chrono }}: {{ date }} às {{ time }}")
    page.get_by_label("Recipients", exact=True).fill("+55 (11) 98765-4321\n21 99876-5432")
    # The estimate follows the list as it is typed.
    expect(page.locator("#send-estimate")).to_contain_text("2 recipients: each run takes about")

    # Test: once, to the number typed, in place; the recipients get nothing.
    page.get_by_label("Send the test to", exact=True).fill("11 97777-6666")
    page.get_by_role("button", name="Test: send it to this number only").click()
    answer = page.locator(".test-box", has_text="Send the test to").locator(".test-result")
    expect(answer).to_contain_text("Sent to +55 11 97777-6666:")
    assert [m.chat_id for m in live_waha.sent] == ["5511977776666@c.us"]
    screenshot(page, "whatsapp-chrono-form")
    page.get_by_role("button", name="Create chrono").click()
    expect(page.get_by_text("Chrono created.")).to_be_visible()

    page.get_by_role("button", name="Run now: 2 messages").click()
    expect(page.get_by_text("Started: messaging 2 recipients")).to_be_visible()
    sent = live_waha.wait_for_sent(3, timeout=20)[1:]
    assert [m.chat_id for m in sent] == ["5511987654321@c.us", "5521998765432@c.us"]
    for message in sent:
        assert re.fullmatch(r"Bom dia! Lembrete da padaria: \d\d/\d\d/\d{4} às \d\d:\d\d", message.text), message
    assert sent[1].at - sent[0].at >= 0.2  # paced
    # WhatsApp's news comes back by itself: both delivered (the fake acks them), then Ana reads hers.
    live_waha.wait_for_deliveries(lambda d: d.ack == 2, count=2)
    live_waha.ack(sent[0], 3)
    live_waha.wait_for_deliveries(lambda d: d.ack == 3)

    history = page.locator("table.runs tbody")
    for _ in range(30):
        page.reload()
        if history.locator(".badge-success").count():
            break
        page.wait_for_timeout(300)
    expect(page.locator("#last-receipts")).to_have_text("2 of 2 delivered, 1 read")
    row = history.locator("tr", has=page.locator(".badge-success")).last
    expect(row).to_contain_text("Sent to 2 of 2 recipients.")
    row.locator("a").click()
    recipients = page.locator("table.recipients")
    expect(page.locator("#receipt-summary")).to_have_text("2 of 2 delivered, 1 read")
    expect(recipients.locator("tr", has_text="+55 11 98765-4321").locator(".receipt-read")).to_have_text("✓✓ read")
    expect(recipients.locator("tr", has_text="+55 21 99876-5432").locator(".receipt-delivered")).to_have_text(
        "✓✓ delivered")
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


def test_the_sessions_page_follows_a_session_that_drops(live_stack, live_waha, live_api, page):
    live_waha.reset()
    assert live_api.post(live_stack + "/api/waha/sessions", json={"name": "default"}, timeout=10).status_code == 201
    live_waha.wait_for_deliveries(lambda d: d.event == "session.status")
    live_waha.pair("default", "5511987650000")
    live_waha.wait_for_deliveries(lambda d: d.event == "session.status" and d.envelope["me"])
    page.goto(live_stack + "/waha/sessions")
    card = page.locator(".session-card", has_text="default")
    expect(card.locator("[data-session-status]")).to_have_text("connected")
    expect(card.locator("[data-session-number]")).to_contain_text("+55 11 98765-0000")

    live_waha.fail("default")  # the phone unlinked it: WAHA says so, the page follows without a reload
    expect(card.locator("[data-session-status]")).to_have_text("failed", timeout=10_000)
    expect(card.locator("[data-session-number]")).to_have_text("not linked")


@pytest.mark.parametrize("locale", ["pt-BR"])
def test_receipts_in_portuguese_on_a_phone(live_stack, live_waha, live_api, new_page, screenshot):
    live_waha.reset()
    live_api.post(live_stack + "/api/waha/sessions", json={"name": "default"}, timeout=10)
    live_waha.wait_for_deliveries(lambda d: d.event == "session.status")
    live_waha.pair("default", "5511987650000")
    channel = live_api.post(live_stack + "/api/channels", json={"name": "Loja pt"}, timeout=10).json()
    chrono = live_api.post(live_stack + "/api/chronos", timeout=10, json={
        "name": "Lembrete de entrega", "schedule": "todo dia às 18", "target_type": "MESSAGE",
        "channel_id": channel["id"], "message_template": "Sua entrega chega hoje!",
        "recipients": ["11 98765-4321", "21 99876-5432", "31 99123-4567"]}).json()
    run = live_api.post(f"{live_stack}/api/chronos/{chrono['id']}/trigger", timeout=10).json()
    sent = live_waha.wait_for_sent(3, timeout=20)
    live_waha.wait_for_deliveries(lambda d: d.ack == 2, count=3)
    for message in sent[:2]:
        live_waha.ack(message, 3)
    live_waha.wait_for_deliveries(lambda d: d.ack == 3, count=2)

    recipients = live_api.get(f"{live_stack}/api/runs/{run['id']}", timeout=10).json()["result"]["recipients"]
    assert [r["delivery"] for r in recipients] == ["read", "read", "delivered"]
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(f"{live_stack}/runs/{run['id']}")
    expect(page.locator("#receipt-summary")).to_have_text("3 de 3 entregues, 2 lidas")
    expect(page.locator(".receipt-read").first).to_have_text("✓✓ lida")
    screenshot(page, "whatsapp-receipts-phone-pt")
