"""The agenda and moving chronos on a shop owner's phone (390x844, pt-BR): what fires
tomorrow, grouped by hour; several chronos paused at once; a copy; the import page
with a crontab. Every page is checked (checks.py): no sideways scroll, no serious
accessibility problem, no English word."""
from playwright.sync_api import expect

from .checks import assert_page_is_right

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "pt-BR"}


def test_the_agenda_on_a_phone_in_portuguese(live_stack, live_api, new_page, screenshot):
    ids = []
    # Every minute: more than the agenda lists of one chrono in a day (its runs fail at
    # once: example.com is not reachable from the tests).
    for name, schedule in (("Agenda: lembrete das 9", "todo dia às 9"), ("Agenda: cobrança das 9", "0 9 * * *"),
                           ("Agenda: a cada minuto", "a cada minuto")):
        answer = live_api.post(live_stack + "/api/chronos", json={
            "name": name, "schedule": schedule, "timezone": "America/Sao_Paulo", "url": "https://example.com/"},
            timeout=5)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    try:
        _read_the_agenda(live_stack, new_page, screenshot)
    finally:  # the stack is shared: leave nothing firing
        live_api.post(live_stack + "/api/chronos/bulk", json={"action": "delete", "ids": ids}, timeout=5)


def _read_the_agenda(live_stack, new_page, screenshot):
    page = new_page(**PHONE)
    page.goto(live_stack + "/")
    page.get_by_role("link", name="Agenda", exact=True).click()
    expect(page.get_by_role("heading", name="Agenda", exact=True)).to_be_visible()
    nine = page.locator(".agenda-hour", has_text="lembrete das 9")
    expect(nine.locator("h2")).to_contain_text("às 09:00")
    expect(nine).to_contain_text("cobrança das 9")
    expect(page.locator("#agenda-capped")).to_contain_text("a cada minuto")  # bounded, and it says so
    assert_page_is_right(page, portuguese=True)
    screenshot(page, "agenda-phone-pt")

    page.get_by_label("Próximos 7 dias").check()
    page.get_by_role("button", name="Mostrar", exact=True).click()
    expect(page.locator(".agenda-hour", has_text="lembrete das 9")).to_have_count(7)
    assert_page_is_right(page, portuguese=True)


def test_pause_several_copy_one_and_import_a_crontab_on_a_phone(live_stack, live_api, new_page, screenshot):
    ids = []
    for name in ("Lote: um", "Lote: dois"):
        answer = live_api.post(live_stack + "/api/chronos", json={
            "name": name, "schedule": "todo dia às 18", "url": "https://example.com/"}, timeout=5)
        ids.append(answer.json()["id"])
    page = new_page(**PHONE)
    page.goto(live_stack + "/?q=Lote:")
    page.get_by_role("checkbox", name="Lote: um").check()
    page.get_by_role("checkbox", name="Lote: dois").check()
    page.get_by_label("Com as marcadas").select_option("pause")
    assert_page_is_right(page, portuguese=True)
    page.get_by_role("button", name="Aplicar").click()
    expect(page.get_by_text("Tarefas pausadas: 2.")).to_be_visible()
    for chrono_id in ids:
        assert live_api.get(f"{live_stack}/api/chronos/{chrono_id}", timeout=5).json()["is_active"] is False

    page.get_by_role("checkbox", name="Lote: dois").check()
    page.get_by_label("Com as marcadas").select_option("delete")
    page.get_by_role("button", name="Aplicar").click()
    expect(page.get_by_role("heading", name="Excluir 1 tarefa?")).to_be_visible()
    assert_page_is_right(page, portuguese=True)
    page.get_by_role("button", name="Excluir de vez").click()
    expect(page.get_by_text("Tarefas excluídas: 1.")).to_be_visible()
    assert live_api.get(f"{live_stack}/api/chronos/{ids[1]}", timeout=5).status_code == 404

    page.goto(f"{live_stack}/chronos/{ids[0]}")
    page.get_by_role("button", name="Copiar").click()
    expect(page.get_by_text("Cópia criada")).to_be_visible()
    expect(page.locator("#name")).to_have_value("Lote: um (cópia)")

    page.goto(live_stack + "/chronos/import")
    assert_page_is_right(page, portuguese=True)
    page.get_by_label("Ou cole aqui").fill("MAILTO=\"\"\n*/30 * * * * curl -s https://example.com/lote > /dev/null\n"
                                           "0 3 * * * /usr/local/bin/backup.sh\n")
    page.locator("form", has=page.locator("#crontab-text")).get_by_role("button", name="Importar").click()
    expect(page.get_by_text("Tarefas importadas: 1.")).to_be_visible()
    expect(page.locator("#import-refused")).to_contain_text("linha 3")
    assert_page_is_right(page, portuguese=True)
    screenshot(page, "import-crontab-phone-pt")
