"""Issue 10: a template cannot stall or crash a worker. Rendering is bounded in
time, output and memory, at save (a clear 422) and at send (the recipient fails
with the reason, the run ends). The limits are the TEMPLATE_* settings."""
import time
from datetime import datetime, timezone

import pytest

from chronoflow.extensions import db
from chronoflow.models import Channel, ChronoRun, RunStatus, utcnow
from chronoflow.waha import template

from .conftest import run_task

NESTED = "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}"
HOSTILE = {
    "nested loops": (NESTED, "takes too long"),
    "a huge list": ("{{ [1] * 10**8 }}", "too much memory"),
    "a huge string": ("{{ 'x' * 10**10 }}", "too much memory"),
    "a huge power": ("{{ 99999 ** 99999 }}", ""),
    "a long output": ("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", "longer than 20000 characters"),
    "a 5000-digit number": ("{{ 10 ** 5000 }}", "4300 digits"),
}


@pytest.fixture
def channel(app):
    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.commit()
    return channel


def message_chrono(channel, message):
    return {"name": "Lembrete", "schedule": "@daily", "target_type": "MESSAGE", "channel_id": channel.id,
            "message_template": message, "recipients": ["+55 11 98765-4321"]}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_template_is_refused_at_save_with_a_clear_error(client, channel, case):
    source, words = HOSTILE[case]
    started = time.monotonic()
    response = client.post("/api/chronos", json=message_chrono(channel, source))
    assert response.status_code == 422
    problem = response.get_json()["errors"]["json"]["message_template"][0]
    assert words in problem
    assert time.monotonic() - started < 25  # (bounded by TEMPLATE_TIMEOUT_MS: no web worker is tied up)


def test_the_form_shows_it_next_to_the_message(post_form, channel):
    html = post_form("/chronos/new", {"name": "n", "schedule": "@daily", "target_type": "MESSAGE",
                                      "channel_id": str(channel.id), "recipients": "+55 11 98765-4321",
                                      "message_template": NESTED}).get_data(as_text=True)
    assert 'data-error-for="message_template">' in html and "takes too long" in html


HIDDEN = "Bom dia!{% if weekday == 'sexta-feira' %}" + NESTED + "{% endif %}"
FRIDAY = datetime(2026, 1, 9, 12, 0, tzinfo=timezone.utc)


def test_a_template_hidden_behind_a_condition_is_bounded_when_sent(app, channel, make_chrono, fake_waha):
    app.config.update(fake_waha.settings(), TEMPLATE_TIMEOUT_MS=300)
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default", "5511900000000")
    chrono = make_chrono(**message_chrono(channel, HIDDEN), url=None)  # saved: the sample day is a Monday

    run = ChronoRun(chrono_id=chrono.id, scheduled_for=FRIDAY, trigger="manual", status=RunStatus.PENDING)
    db.session.add(run)
    db.session.commit()
    run_task(run.id, due=utcnow())
    db.session.expire_all()
    run = db.session.get(ChronoRun, run.id)
    assert run.status == RunStatus.FAILED and fake_waha.sent == []
    assert "takes too long to fill in (more than 300 ms)" in run.result["recipients"][0]["error"]


def test_render_bounded_fills_in_ordinary_templates_and_bounds_the_rest():
    limits = template.Limits(timeout_s=0.5, max_chars=50, max_memory_mb=32)
    assert template.render_bounded("Oi {{ name }}!", {"name": "Ana"}, limits) == "Oi Ana!"
    with pytest.raises(template.MessageTemplateError, match="longer than 50 characters"):
        template.render_bounded("{{ 'x' * 51 }}", {}, limits)
    with pytest.raises(template.MessageTemplateError, match="more than 500 ms"):
        template.render_bounded(NESTED, {}, limits)
    with pytest.raises(template.MessageTemplateError, match="more than 32 MB"):
        template.render_bounded("{{ 'x' * 10**9 }}", {}, limits)
    with pytest.raises(template.MessageTemplateError, match="unsafe"):
        template.render_bounded("{{ ''.__class__.__mro__ }}", {}, limits)
