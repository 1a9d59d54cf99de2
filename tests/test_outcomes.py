"""chronoflow.outcomes: a run's outcome is a code plus parameters, worded when it is
shown, in the reader's language; runs stored as English sentences before that are
read back through their code, or shown as "the server said: …"."""
from types import SimpleNamespace

import pytest

from chronoflow import outcomes
from chronoflow.models import RunStatus, TargetType

from .conftest import run_now


def run(error=None, result=None, target_type=TargetType.HTTP, snippet=None, timezone="America/Sao_Paulo"):
    """A run as the pages read it: plain values, no database."""
    return SimpleNamespace(error_message=error, result=result, response_snippet=snippet,
                           chrono=SimpleNamespace(target_type=target_type, timezone=timezone))


def words(stored, locale):
    return outcomes.run_error(stored, locale=locale)


@pytest.mark.parametrize("code, params, english, portuguese", [
    ("timeout", {"seconds": 2.5, "host": "shop.example"}, "No answer from shop.example within 2.5 s.",
     "Sem resposta de shop.example em 2,5 s."),
    ("connection", {"reason": "refused", "host": "shop.example"}, "Connection refused by shop.example",
     "Conexão recusada por shop.example"),
    ("connection", {"reason": "dns", "host": "shop.example"}, "was not found (DNS)", "não foi encontrado (DNS)"),
    ("http_status", {"status": 503, "host": "shop.example"}, "shop.example answered HTTP 503: the server is down",
     "shop.example respondeu HTTP 503: o servidor está fora do ar"),
    ("blocked", {"host": "intranet", "address": "10.0.0.5", "reason": "private"},
     "intranet (10.0.0.5) is a private network address", "intranet (10.0.0.5) é um endereço de rede privada"),
    ("session_not_ready", {"session": "default", "status": "STARTING"}, "is not connected yet (starting)",
     "ainda não está conectada (iniciando)"),
    ("not_on_whatsapp", {}, "This number is not on WhatsApp.", "Este número não está no WhatsApp."),
    ("waha", {"detail": "WAHA Core support only 'default' session. Buy Plus", "status": 422},
     "The free WAHA (Core) has one session only", "O WAHA gratuito (Core) tem uma sessão só"),
    ("waha", {"detail": "engine exploded", "status": 500}, "The WhatsApp server said: “engine exploded” (HTTP 500).",
     "O servidor do WhatsApp respondeu: “engine exploded” (HTTP 500)."),
    ("invalid", {"reason": "template_syntax", "line": 1,
                 "detail": "unexpected end of template, expected 'end of print statement'."},
     "(line 1): a {{ is not closed with }}", "(linha 1): um {{ não foi fechado com }}"),
    ("invalid", {"reason": "template_undefined", "name": "cliente"}, "There is no variable cliente. You can use: "
     "{{ chrono }}", "Não existe a variável cliente. Você pode usar: {{ nome }}"),
    ("missed", {"seconds": 75}, "Started 75 s after its time", "Começou 75 s depois do horário"),
    ("overlap", {}, "the previous run was still running", "a execução anterior ainda estava em andamento"),
    ("worker_lost", {}, "The worker stopped", "O processo que executava esta tentativa parou"),
    ("cancelled", {}, "The chrono was paused", "A tarefa foi pausada"),
    ("daily_cap", {"session": "default", "cap": 200, "sent": 3, "total": 9}, "sent to 3 of 9 recipients before that",
     "enviada para 3 de 9 destinatários antes disso"),
])
def test_it_words_a_code_and_its_parameters_in_either_language(app, code, params, english, portuguese):
    assert english in outcomes.describe(code, params, locale="en")
    assert portuguese in outcomes.describe(code, params, locale="pt_BR")


def test_it_marks_names_and_quoted_text_as_not_to_be_translated_in_html(app):
    html = outcomes.describe("waha", {"detail": "<b>boom</b>", "status": 500}, locale="pt_BR", html=True)
    assert '<span translate="no">&lt;b&gt;boom&lt;/b&gt;</span>' in html
    assert "O servidor do WhatsApp respondeu" in html


def test_a_run_written_now_is_worded_from_its_code_not_its_english_sentence(app):
    stored = run("HTTP 500 Internal Server Error",
                 {"error_code": "http_status", "error_params": {"status": 500, "host": "api.shop"}})
    assert words(stored, "pt_BR") == "api.shop respondeu HTTP 500: erro no servidor."
    assert outcomes.problem(stored) == ("http_status", {"status": 500, "host": "api.shop"})


def test_a_success_after_failed_attempts_has_no_error(app):
    stored = run(None, {"error_code": None, "error_params": None,
                        "attempts": [{"error_code": "timeout", "error_params": {"seconds": 1}, "error": "x"}]})
    assert words(stored, "pt_BR") is None
    assert outcomes.record_error(stored.result["attempts"][0], locale="pt_BR").startswith("Sem resposta")


@pytest.mark.parametrize("english, result, portuguese", [
    # urllib3's words, from before libcurl: the code says connection, the sentence says why.
    ("Connection failed: [Errno 111] Connection refused",
     {"error_code": "connection", "request": {"url": "http://shop.example:81/hook"}},
     "Conexão recusada por shop.example: nada atende nesse endereço e porta."),
    ("[Errno -2] Name or service not known", {"request": {"url": "https://nowhere.example/"}},
     "O endereço nowhere.example não foi encontrado (DNS): confira se a URL foi digitada certo."),
    ("No response within 10 s", {"error_code": "timeout", "request": {"url": "https://slow.example/"}},
     "Sem resposta de slow.example em 10 s."),
    ("HTTP 404 Not Found", {"attempts": [{"error_code": "http_status", "error": "HTTP 404 Not Found"}]},
     "o servidor respondeu HTTP 404: esse endereço não existe lá."),
    ("The chrono was paused before this run started.", None, "A tarefa foi pausada antes de esta execução começar."),
    ("Started 120 s after its time, later than the chrono allows: skipped by its misfire policy.",
     {"error_code": "missed"}, "Começou 120 s depois do horário"),
    ("Missed while the scheduler was down; skipped by the chrono's misfire policy.",
     {"error_code": "missed", "misfire_policy": "skip"}, "Perdida enquanto o agendador estava fora do ar"),
    ("intranet.local (10.1.2.3) is a private network address; refused by the outbound request policy",
     {"error_code": "blocked"}, "intranet.local (10.1.2.3) é um endereço de rede privada"),
    ("Something nobody planned for", None, "O servidor respondeu: “Something nobody planned for”"),
])
def test_an_old_english_webhook_error_is_read_back_in_portuguese(app, english, result, portuguese):
    assert portuguese in words(run(english, result), "pt_BR")


@pytest.mark.parametrize("english, code, portuguese", [
    ("WhatsApp session 'default' is not connected yet (status STARTING): wait a moment, or scan the QR code.",
     "session_not_ready", "A sessão do WhatsApp 'default' ainda não está conectada (iniciando)"),
    ("The WhatsApp server answered with an error (HTTP 422): WAHA Core support only 'default' session. "
     "You can buy Plus version", "waha", "O WAHA gratuito (Core) tem uma sessão só"),
    ("The message has a mistake in its {{ }} or {% %} (line 1): unexpected end of template, expected "
     "'end of print statement'.", "invalid", "A mensagem tem um erro nos {{ }} ou {% %} (linha 1): um {{ não foi"),
    ("Weird thing WAHA said", None, "O servidor do WhatsApp respondeu: “Weird thing WAHA said”"),
])
def test_an_old_english_whatsapp_error_is_read_back_in_portuguese(app, english, code, portuguese):
    stored = run(english, {"error_code": code} if code else None, target_type=TargetType.MESSAGE)
    assert portuguese in words(stored, "pt_BR")


def test_an_old_partial_message_run_names_who_did_not_get_it_and_why(app):
    recipients = [
        {"to": "11 98765-4321", "label": "+55 11 98765-4321", "status": "sent"},
        {"to": "11 91234-5678", "label": "+55 11 91234-5678", "status": "failed", "error_code": "not_on_whatsapp",
         "error": "This number is not on WhatsApp."},
        {"to": "abc", "label": "abc", "status": "failed", "error_code": "invalid",
         "error": "“abc” is not a phone number or a group id (…@g.us)."},
    ]
    stored = run("Sent to 1 of 3 recipients; not sent to +55 11 91234-5678: This number is not on WhatsApp.; abc: "
                 "“abc” is not a phone number or a group id (…@g.us).", {"error_code": "partial", "recipients":
                                                                         recipients}, TargetType.MESSAGE,
                 snippet="Sent to 1 of 3 recipients.")
    assert words(stored, "pt_BR") == (
        "Enviada para 1 de 3 destinatários. Não enviada: +55 11 91234-5678: Este número não está no WhatsApp; "
        "abc: “abc” não é um número de telefone nem um id de grupo (…@g.us)")
    assert outcomes.record_error(recipients[1], locale="pt_BR") == "Este número não está no WhatsApp."


def test_a_message_run_s_summary_is_in_the_reader_s_language(app):
    stored = run(None, {"recipients": [{"to": "a", "status": "sent"}, {"to": "b", "status": "sent"}]},
                 TargetType.MESSAGE, snippet="Sent to 2 of 2 recipients.")
    assert outcomes.run_note(stored, locale="pt_BR") == "Enviada para 2 de 2 destinatários."
    assert outcomes.run_note(run(None, {}, snippet='{"ok": true}'), locale="pt_BR") == '{"ok": true}'


def test_status_labels_in_either_language(app):
    assert outcomes.status_label(RunStatus.RETRYING, locale="pt_BR") == "vai tentar de novo"
    assert outcomes.status_label(RunStatus.SUCCESS, locale="en") == "success"
    assert outcomes.status_label("weird", locale="pt_BR") == "weird"


def test_the_api_keeps_a_stable_code_and_words_the_message_in_the_request_s_language(client, make_chrono):
    chrono = make_chrono(url="http://127.0.0.1:9/nothing-listens", config={"max_attempts": 1, "timeout_ms": 2000})
    recorded = run_now(chrono)
    english = client.get(f"/api/runs/{recorded.id}").get_json()
    portuguese = client.get(f"/api/runs/{recorded.id}", headers={"Accept-Language": "pt-BR"}).get_json()
    assert english["error_code"] == portuguese["error_code"] == "connection"
    assert english["error_message"] == "Connection refused by 127.0.0.1: nothing answers at that address and port."
    assert portuguese["error_message"] == "Conexão recusada por 127.0.0.1: nada atende nesse endereço e porta."
    assert portuguese["error_detail"].startswith("Connection failed:")  # the technical record, as written
    attempt = portuguese["result"]["attempts"][0]
    assert attempt["error_code"] == "connection" and attempt["error"].startswith("Conexão recusada")
    assert recorded.result["error_params"] == {"host": "127.0.0.1", "reason": "refused"}


def test_an_old_run_in_the_api_gets_a_code_and_words_too(client, make_chrono):
    from chronoflow.extensions import db
    from chronoflow.models import ChronoRun, utcnow

    chrono = make_chrono()
    old = ChronoRun(chrono_id=chrono.id, scheduled_for=utcnow(), status=RunStatus.FAILED, attempt=1,
                    error_message="Connection failed: [Errno -2] Name or service not known",
                    result={"request": {"url": "https://gone.example/x"}})
    db.session.add(old)
    db.session.commit()
    body = client.get(f"/api/runs/{old.id}", headers={"Accept-Language": "pt-BR"}).get_json()
    assert body["error_code"] == "connection"
    assert body["error_message"].startswith("O endereço gone.example não foi encontrado (DNS)")


@pytest.mark.parametrize("language, now", [("pt-BR", "agora"), ("en", "now")])
def test_a_moment_within_a_second_is_now_not_in_0_seconds(app, language, now):
    from datetime import timedelta

    from chronoflow.main.formatting import relative
    from chronoflow.models import utcnow

    with app.test_request_context(headers={"Accept-Language": language}):
        assert relative(utcnow() + timedelta(milliseconds=300)) == now
        assert relative(utcnow() + timedelta(minutes=5)) != now
