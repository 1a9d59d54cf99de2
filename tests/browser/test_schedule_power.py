"""One-time dates, start and end dates and the spread window in the form, on a phone in
Portuguese: the live preview follows every one of them, and the pages say what they mean."""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from .checks import assert_page_is_right

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "pt-BR"}
SP = ZoneInfo("America/Sao_Paulo")


def test_a_one_time_chrono_on_a_phone_in_portuguese(live_stack, new_page, target, screenshot):
    page = new_page(**PHONE)
    page.goto(live_stack + "/chronos/new")
    page.locator("#name").fill("Lembrete do Natal")
    page.locator("#schedule").fill("amanhã às 9 da manhã")
    preview = page.locator("#schedule-preview")
    expect(preview).to_contain_text("Uma vez, em ")
    expect(preview.locator("li")).to_have_count(1)

    page.locator("#schedule").fill("ontem às 9")  # not a phrase it knows: what to write instead
    expect(preview.locator(".error")).to_be_visible()
    page.locator("#schedule").fill("01/01/2020 às 9")
    expect(preview).to_contain_text("já passou")

    page.locator("#schedule").fill("amanhã às 9 da manhã")
    expect(preview.locator("li")).to_have_count(1)
    page.locator("#url").fill(target.url("/natal"))
    page.get_by_role("button", name="Criar tarefa").click()
    expect(page.locator("dl.facts").first).to_contain_text("Uma vez, em ")
    assert_page_is_right(page, portuguese=True)


def test_start_end_and_spread_in_the_preview(live_stack, new_page, target, screenshot):
    page = new_page(**PHONE)
    page.goto(live_stack + "/chronos/new")
    page.locator("#name").fill("Pedidos")
    page.locator("#schedule").fill("de hora em hora das 8 às 18")
    preview = page.locator("#schedule-preview")
    expect(preview).to_contain_text("De hora em hora, das 08:00 às 18:00")

    page.get_by_text("Início, fim e espalhamento").click()
    starts = datetime.now(SP) + timedelta(days=2)
    ends = starts + timedelta(days=1)
    page.locator("#starts_at").fill(f"{starts:%Y-%m-%d}T08:00")
    expect(preview).to_contain_text("A partir de")
    page.locator("#ends_at").fill(f"{ends:%Y-%m-%d}T08:00")
    expect(preview).to_contain_text("até")
    page.locator("#spread_s").fill("600")
    expect(preview).to_contain_text("até 600 s depois")
    expect(preview.locator("li")).to_have_count(5)
    assert_page_is_right(page, portuguese=True)
    screenshot(page, "chrono-form-bounds-phone-pt")

    page.locator("#url").fill(target.url("/pedidos"))
    page.get_by_role("button", name="Criar tarefa").click()
    expect(page.locator("#bounds")).to_contain_text(re.compile(r"^De .+ até .+"))
    expect(page.locator("#spread")).to_contain_text("Espalhada por 600 s")
    assert_page_is_right(page, portuguese=True)

    page.goto(live_stack + "/chronos/" + page.url.rstrip("/").split("/")[-1] + "/edit")
    expect(page.locator("#spread_s")).to_have_value("600")
    expect(preview).to_contain_text("depois do horário do agendamento")  # a saved chrono: its real delay
