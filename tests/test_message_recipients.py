"""Recipients and message templates, as plain functions: what is accepted, what is
refused (naming the entry), and what a template can and cannot do."""
from datetime import datetime, timezone

import pytest

from chronoflow.waha import template
from chronoflow.waha.phones import RecipientError, display_phone, parse_recipient, parse_recipients


@pytest.mark.parametrize("entry", ["+55 (11) 98765-4321", "11987654321", "(11) 98765-4321", "011 98765-4321",
                                   "+5511987654321", "5511987654321@c.us", " 11 98765 4321 "])
def test_it_reads_a_brazilian_mobile_in_any_writing(entry):
    recipient = parse_recipient(entry, "BR")
    assert (recipient.chat_id, recipient.phone, recipient.label) == (
        "5511987654321@c.us", "5511987654321", "+55 11 98765-4321")


def test_a_number_with_its_country_code_ignores_the_default_region():
    assert parse_recipient("+1 650 253 0000", "BR").chat_id == "16502530000@c.us"
    assert parse_recipient("650 253 0000", "US").chat_id == "16502530000@c.us"


@pytest.mark.parametrize("group", ["120363012345678901@g.us", "5511987654321-1600000000@g.us"])
def test_group_ids_are_kept_as_they_are(group):
    recipient = parse_recipient(group, "BR")
    assert (recipient.chat_id, recipient.is_group, recipient.label) == (group, True, group)


@pytest.mark.parametrize("entry", ["12345", "98765-4321", "hello", "+55 11", "abc@g.us"])
def test_an_invalid_entry_is_refused_by_name(entry):
    with pytest.raises(RecipientError) as caught:
        parse_recipient(entry, "BR")
    assert entry in str(caught.value)


def test_all_problems_at_once_and_duplicates():
    recipients, problems = parse_recipients(["11987654321", "+55 11 98765-4321", "123", "21 99876-5432"], "BR")
    assert [r.chat_id for r in recipients] == ["5511987654321@c.us", "5521998765432@c.us"]
    assert len(problems) == 2 and "“+55 11 98765-4321” is the same as “11987654321”" in problems[0]
    assert "“123”" in problems[1]


def test_display_phone():
    assert display_phone("5511987654321@c.us") == "+55 11 98765-4321"
    assert display_phone("5511987654321:12@s.whatsapp.net") == "+55 11 98765-4321"
    assert display_phone("abc@lid") == "abc@lid"


MOMENT = datetime(2026, 11, 26, 12, 30, tzinfo=timezone.utc)  # a Thursday, 09:30 in São Paulo


def test_variables_are_the_run_time_in_the_chronos_zone_in_both_languages():
    values = template.variables("Report", MOMENT, "America/Sao_Paulo", "+55 11 98765-4321", "+5511987654321")
    english = {"chrono": "Report", "date": "26/11/2026", "time": "09:30", "weekday": "quinta-feira",
               "date_en": "11/26/2026", "time_en": "9:30 AM", "weekday_en": "Thursday",
               "recipient": "+55 11 98765-4321", "phone": "+5511987654321"}
    portuguese = {"nome": "Report", "tarefa": "Report", "data": "26/11/2026", "hora": "09:30",
                  "dia_da_semana": "quinta-feira", "destinatario": "+55 11 98765-4321",
                  "destinatário": "+55 11 98765-4321", "telefone": "+5511987654321"}
    assert values == {**english, **portuguese}  # a shop owner writes {{ nome }} or {{ data }} as well


def test_render():
    values = template.variables("Report", MOMENT, "America/Sao_Paulo")
    text = template.render("Bom dia! {{ chrono }} de {{ weekday }}, {{ date }} às {{ time }}.", values)
    assert text == "Bom dia! Report de quinta-feira, 26/11/2026 às 09:30."
    assert template.render("{% if weekday == 'quinta-feira' %}quinta{% endif %}", values) == "quinta"


def test_a_misspelt_variable_names_itself_and_the_variables_there_are():
    with pytest.raises(template.MessageTemplateError) as caught:
        template.check("Olá {{ cliente }}")
    assert "There is no variable 'cliente'" in str(caught.value) and "{{ date }}" in str(caught.value)
    assert template.render("Olá, {{ nome }}: {{ data }}", template.variables("Loja", MOMENT, "UTC")) == \
        "Olá, Loja: 26/11/2026"


def test_a_syntax_error_is_explained():
    with pytest.raises(template.MessageTemplateError) as caught:
        template.check("Olá {{ date ")
    assert "mistake" in str(caught.value)


@pytest.mark.parametrize("source", [
    "{{ chrono.__class__.__mro__ }}",
    "{{ ''.__class__.__subclasses__() }}",
    "{{ date.format.__globals__ }}",
])
def test_the_sandbox_keeps_templates_away_from_python(source):
    with pytest.raises(template.MessageTemplateError):
        template.check(source)
