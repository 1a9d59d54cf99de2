"""The dashboard as its main user meets it: a shop owner on a 390×844 phone in
Portuguese, and again on a desktop in English. Every page of the walk is checked
(checks.py): nothing wider than the screen, no serious accessibility problem
(axe-core), and in Portuguese no English word. Errors stored by the worker, runs
stored by older versions (English sentences) included, read in the reader's
language; a form shows all its errors in one round."""
import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from ..support.target import TargetServer
from .checks import assert_page_is_right

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "pt-BR"}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"}

# Runs as older versions stored them: an English sentence, a code for most.
# (sentence, result, what a Portuguese reader sees, what an English reader sees)
OLD_WEBHOOK_RUNS = [
    ("Connection failed: [Errno 111] Connection refused",
     {"error_code": "connection", "request": {"method": "GET", "url": "http://estoque.example:8080/sync",
                                              "headers": {"User-Agent": "ChronoFlow"}, "body": None},
      "attempts": [{"attempt": 1, "started_at": "2026-11-20T12:00:00+00:00", "duration_ms": 3, "http_status": None,
                    "error_code": "connection", "error": "Connection failed: [Errno 111] Connection refused"}]},
     "Conexão recusada por estoque.example", "Connection refused by estoque.example"),
    ("[Errno -2] Name or service not known", {"request": {"method": "GET", "url": "https://estoqe.example/"}},
     "O endereço estoqe.example não foi encontrado (DNS)", "The address estoqe.example was not found (DNS)"),
    ("No response within 10 s", {"error_code": "timeout"}, "Sem resposta de o servidor em 10 s",
     "No answer from the server within 10 s"),
    ("Upstream went sideways", None, "O servidor respondeu: “Upstream went sideways”",
     "The server said: “Upstream went sideways”"),
]
RECIPIENTS = [
    {"to": "11 98765-4321", "label": "+55 11 98765-4321", "status": "sent", "chat_id": "5511987654321@c.us",
     "message_id": "true_5511987654321@c.us_AAA", "error": None, "error_code": None, "retryable": False,
     "attempt": 1, "at": "2026-11-20T21:00:00+00:00"},
    {"to": "11 91234-5678", "label": "+55 11 91234-5678", "status": "failed", "chat_id": None, "message_id": None,
     "error": "This number is not on WhatsApp.", "error_code": "not_on_whatsapp", "retryable": False,
     "attempt": 1, "at": "2026-11-20T21:00:01+00:00"},
    {"to": "21 99876-5432", "label": "+55 21 99876-5432", "status": "not_sent", "chat_id": None, "message_id": None,
     "error": None, "error_code": None, "retryable": False, "attempt": None, "at": "2026-11-20T21:00:01+00:00"},
]
OLD_MESSAGE_RUNS = [
    ("Sent to 1 of 3 recipients; not sent to +55 11 91234-5678: This number is not on WhatsApp.; "
     "+55 21 99876-5432: not sent", {"error_code": "partial", "recipients": RECIPIENTS},
     "Enviada para 1 de 3 destinatários. Não enviada: +55 11 91234-5678: Este número não está no WhatsApp; ",
     "Sent to 1 of 3 recipients. Not sent: +55 11 91234-5678: This number is not on WhatsApp; "),
    ("WhatsApp session 'default' is not connected yet (status STARTING): wait a moment, or scan the QR code.",
     {"error_code": "session_not_ready"}, "ainda não está conectada (iniciando)", "is not connected yet (starting)"),
    ("The message has a mistake in its {{ }} or {% %} (line 1): unexpected end of template, expected "
     "'end of print statement'.", {"error_code": "invalid"}, "um {{ não foi fechado com }}",
     "a {{ is not closed with }}"),
    ("The WhatsApp server answered with an error (HTTP 422): WAHA Core support only 'default' session. You can "
     "buy WAHA Plus", {"error_code": "waha"}, "O WAHA gratuito (Core) tem uma sessão só",
     "The free WAHA (Core) has one session only"),
]


def wait_for_runs(api, base, chrono_id, done, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        runs = api.get(f"{base}/api/chronos/{chrono_id}/runs", timeout=5).json()["items"]
        if done(runs) or time.monotonic() > deadline:
            return runs
        time.sleep(0.3)


def write_old_runs(database, chrono_id, runs):
    """Rows as an older version wrote them (an English error_message), straight into SQLite."""
    ids = []
    with sqlite3.connect(database, timeout=30) as connection:
        for number, (message, result, _pt, _en) in enumerate(runs):
            when = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc) - timedelta(hours=number + 1)
            stamp = when.replace(tzinfo=None).isoformat(" ")
            cursor = connection.execute(
                "INSERT INTO chrono_runs (chrono_id, scheduled_for, trigger, status, attempt, started_at, "
                "finished_at, error_message, result, duration_ms, created_at) "
                "VALUES (?, ?, 'schedule', 'failed', 1, ?, ?, ?, ?, 12, ?)",
                (chrono_id, stamp, stamp, stamp, message, json.dumps(result) if result else None, stamp))
            ids.append(cursor.lastrowid)
    return ids


@pytest.fixture(scope="module")
def shop(live_stack, live_api, live_db):
    """A small shop's dashboard: a webhook that works, one that ChronoFlow paused after
    failures, old runs of both kinds, and a WhatsApp reminder."""
    target = TargetServer()
    target.respond("/pedidos", body=b'{"recebido": true}')
    target.respond("/relatorio", status=500, body=b"Internal Server Error")

    def create(**fields):
        response = live_api.post(live_stack + "/api/chronos", json=fields, timeout=10)
        response.raise_for_status()
        return response.json()["id"]

    def trigger(chrono_id):
        live_api.post(f"{live_stack}/api/chronos/{chrono_id}/trigger", timeout=10).raise_for_status()

    orders = create(name="Pedidos da loja", schedule="todo dia às 18", url=target.url("/pedidos"))
    report = create(name="Relatório de vendas", schedule="toda segunda às 9h", url=target.url("/relatorio"),
                    config={"max_attempts": 1, "auto_pause_after": 0})
    stock = create(name="Estoque", schedule="de hora em hora", url="http://127.0.0.1:1/estoque",
                   config={"max_attempts": 1, "auto_pause_after": 1})
    channel = live_api.post(live_stack + "/api/channels", json={"name": "Zap da loja"}, timeout=10).json()
    reminder = create(name="Lembrete de entrega", schedule="todo dia às 8", target_type="MESSAGE",
                      channel_id=channel["id"], message_template="Bom dia! Sua entrega chega hoje, {{ data }}.",
                      recipients=["11 98765-4321", "11 91234-5678", "21 99876-5432"])
    for chrono_id in (orders, orders, report, stock):
        trigger(chrono_id)
    finished = lambda count: lambda runs: sum(r["status"] in ("success", "failed") for r in runs) >= count  # noqa: E731
    ids = {
        "orders": wait_for_runs(live_api, live_stack, orders, finished(2))[0]["id"],
        "report": wait_for_runs(live_api, live_stack, report, finished(1))[0]["id"],
        "stock": wait_for_runs(live_api, live_stack, stock, finished(1))[0]["id"],
    }
    try:
        yield {"orders": orders, "report": report, "stock": stock, "reminder": reminder, "runs": ids,
               "old_webhook": write_old_runs(live_db, stock, OLD_WEBHOOK_RUNS),
               "old_message": write_old_runs(live_db, reminder, OLD_MESSAGE_RUNS)}
    finally:
        target.close()


def walk(page, base, shop, portuguese):
    """Every page of the dashboard, each checked; returns nothing, fails on the first problem."""
    pages = ["/", "/?state=paused", "/chronos/new", f"/chronos/{shop['orders']}", f"/chronos/{shop['stock']}",
             f"/chronos/{shop['reminder']}", f"/chronos/{shop['report']}", f"/chronos/{shop['orders']}/edit",
             f"/chronos/{shop['reminder']}/edit", f"/chronos/{shop['stock']}/delete", "/settings", "/channels",
             "/channels/new", "/waha/sessions", "/nowhere"]
    runs = [*shop["runs"].values(), *shop["old_webhook"], *shop["old_message"]]
    for path in pages + [f"/runs/{run_id}" for run_id in runs]:
        response = page.goto(base + path)
        assert response.status == (404 if path == "/nowhere" else 200), f"{path}: {response.status}"
        assert_page_is_right(page, portuguese)
        technical = page.locator("details.technical")
        for index in range(technical.count()):  # the developer's view, opened, is right too
            technical.nth(index).locator("summary").click()
        if technical.count():
            assert_page_is_right(page, portuguese)


def test_a_shop_owner_s_phone_in_portuguese(live_stack, new_page, shop, screenshot):
    page = new_page(**PHONE)
    walk(page, live_stack, shop, portuguese=True)

    page.goto(live_stack + "/")
    card = page.locator(".chrono-card", has_text="Estoque")
    expect(card.locator(".card-head .badge")).to_have_text("pausada após falhas")  # why, in the list
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] < 110, f"the header takes {header['height']}px: more than two rows"
    screenshot(page, "chronos-list-phone-pt")

    page.goto(f"{live_stack}/chronos/{shop['orders']}")
    rows = page.locator("table.runs tbody tr")
    expect(rows.first).to_be_visible()
    assert all(rows.nth(n).bounding_box()["height"] < 90 for n in range(rows.count())), "a history row is not compact"
    expect(page.locator("table.runs .badge").first).to_have_text("sucesso")
    screenshot(page, "chrono-detail-phone-pt")

    page.goto(f"{live_stack}/chronos/{shop['report']}")
    bar = page.locator("svg.chart rect.bar-failed").first
    assert float(bar.get_attribute("height")) == 100  # a failure stands out whatever it took
    expect(bar.locator("title")).to_contain_text("falhou")
    expect(bar.locator("title")).to_contain_text("respondeu HTTP 500: erro no servidor")
    filter_options = page.locator("#status option").all_inner_texts()
    assert "vai tentar de novo" in filter_options and "retrying" not in filter_options

    page.goto(f"{live_stack}/runs/{shop['runs']['stock']}")
    expect(page.locator("#run-error")).to_have_text(
        "Conexão recusada por 127.0.0.1: nada atende nesse endereço e porta.")
    for run_id, (_message, _result, portuguese, _english) in zip(
            shop["old_webhook"] + shop["old_message"], OLD_WEBHOOK_RUNS + OLD_MESSAGE_RUNS):
        page.goto(f"{live_stack}/runs/{run_id}")
        expect(page.locator("#run-error")).to_contain_text(portuguese)
    page.goto(f"{live_stack}/runs/{shop['old_message'][0]}")
    expect(page.locator("table.recipients")).to_contain_text("Este número não está no WhatsApp.")
    screenshot(page, "run-error-phone-pt")


def test_an_english_desktop_walk(live_stack, new_page, shop):
    page = new_page(**DESKTOP)
    walk(page, live_stack, shop, portuguese=False)
    for run_id, (_message, _result, _portuguese, english) in zip(
            shop["old_webhook"] + shop["old_message"], OLD_WEBHOOK_RUNS + OLD_MESSAGE_RUNS):
        page.goto(f"{live_stack}/runs/{run_id}")
        expect(page.locator("#run-error")).to_contain_text(english)
    page.goto(f"{live_stack}/chronos/{shop['report']}")
    expect(page.locator("svg.chart rect.bar-failed title").first).to_contain_text("failed")


def test_a_form_shows_every_error_in_one_round_on_a_phone(live_stack, new_page, screenshot):
    page = new_page(**PHONE)
    page.goto(live_stack + "/chronos/new")
    page.locator("#url").fill("ftp://loja.example")
    page.get_by_role("button", name="Criar tarefa").click()
    for field in ("name", "schedule", "url"):
        expect(page.locator(f"#{field}-error")).to_be_visible()
    expect(page.locator("#url-error")).to_contain_text("http:// ou https://")
    assert_page_is_right(page, portuguese=True)
    screenshot(page, "chrono-form-errors-phone-pt")

    # The schedule is fixed: its stale error goes as the preview says it is fine.
    page.locator("#schedule").fill("todo dia às 18")
    expect(page.locator("#schedule-preview")).to_contain_text("Todo dia às 18:00")
    expect(page.locator("#schedule-error")).to_be_hidden()

    # A WhatsApp message: the channel, the message and the recipients, all at once.
    page.get_by_label("Enviar uma mensagem no WhatsApp").check()
    page.get_by_role("button", name="Criar tarefa").click()
    for field in ("name", "channel_id", "message_template", "recipients"):
        expect(page.locator(f"#{field}-error")).to_be_visible()
    assert_page_is_right(page, portuguese=True)


def test_test_needs_only_the_request_and_shows_what_stops_it(live_stack, new_page, target):
    target.respond("/teste", body=b"ok")
    page = new_page(**PHONE)
    page.goto(live_stack + "/chronos/new")
    page.locator("#schedule").fill("toda hora as 25")  # wrong, and Test does not need it
    page.locator("#url").fill(target.url("/teste"))
    page.get_by_role("button", name="Testar: enviar uma vez agora").click()
    expect(page.locator("#test-result")).to_contain_text("HTTP 200")
    expect(page.locator("#schedule-error")).to_be_hidden()

    page.locator("#url").fill("ftp://loja.example")
    page.get_by_role("button", name="Testar: enviar uma vez agora").click()
    expect(page.locator("#url-error")).to_be_visible()
    expect(page.locator("#url")).to_be_focused()
    expect(page.locator("#url-error")).to_be_in_viewport()


def test_the_password_form_says_both_problems_at_once(live_stack, new_page):
    page = new_page(**PHONE)
    page.goto(live_stack + "/settings")
    page.get_by_label("Senha atual").fill("not my password")
    page.get_by_label("Nova senha", exact=True).fill("a new password")
    page.get_by_label("Nova senha, de novo").fill("another one")
    page.get_by_role("button", name="Alterar senha").click()
    expect(page.locator("#current_password-error")).to_be_visible()
    expect(page.locator("#confirm_password-error")).to_be_visible()
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), "an id is used twice"


def test_linking_by_code_on_a_phone(live_stack, live_waha, new_page, screenshot):
    live_waha.reset()
    live_waha.add_session("default", "SCAN_QR_CODE")
    page = new_page(**PHONE)
    page.goto(live_stack + "/waha/sessions/default")
    expect(page.locator("#qr-box")).to_be_visible()
    assert page.get_by_text("aponte a câmera", exact=False).count() == 1  # the steps once, not twice
    page.get_by_label("Seu número do WhatsApp").fill("11 98765-4321")
    page.get_by_role("button", name="Pedir um código de conexão").click()
    code = page.locator("#pairing-code")
    expect(code).to_be_in_viewport()
    expect(page.locator("#code-steps")).to_contain_text("Conectar com número de telefone")
    assert_page_is_right(page, portuguese=True)
    screenshot(page, "whatsapp-pairing-code-phone-pt")

    page.goto(live_stack + "/waha/sessions")
    card = page.locator(".session-card", has_text="default")
    card.get_by_text("Desconectar", exact=True).click()  # one tap asks first
    expect(card.get_by_role("button", name="Sim, desconectar")).to_be_visible()
    assert live_waha.status("default") == "SCAN_QR_CODE"


def test_a_new_webhook_s_secret_and_the_advanced_choices_fit_a_phone(live_stack, new_page, target, screenshot):
    page = new_page(**PHONE)
    page.goto(live_stack + "/chronos/new")
    page.locator("details.advanced summary").click()
    cut = page.evaluate("""[...document.querySelectorAll('details.advanced label, details.advanced select')]
        .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent.trim())""")
    assert cut == [], f"cut off on a phone: {cut}"
    assert_page_is_right(page, portuguese=True)

    page.locator("#name").fill("Aviso de estoque baixo")
    page.locator("#schedule").fill("dias úteis às 8")
    page.locator("#url").fill(target.url("/estoque-baixo"))
    page.locator("#timeout_s").fill("2,5")  # seconds, as a person says them
    page.get_by_role("button", name="Criar tarefa").click()
    expect(page.get_by_text("Tarefa criada.")).to_be_visible()
    expect(page.locator("#new-secret")).to_be_visible()  # shown once, under Detalhes técnicos
    assert_page_is_right(page, portuguese=True)
    page.get_by_role("link", name="Editar").click()
    expect(page.locator("#timeout_s")).to_have_value("2.5")
