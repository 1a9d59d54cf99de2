"""Schedules the way people say them, one-time dates, start and end dates, spread offsets:
plain functions, no HTTP (issue 14)."""
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from chronoflow import i18n
from chronoflow.schedules import (
    ScheduleError,
    chrono_run_times,
    describe,
    describe_once,
    next_run_time,
    normalize,
    read_bound,
    read_once,
    spread_offset,
)

UTC = timezone.utc
NY = "America/New_York"
SP = "America/Sao_Paulo"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def wall(tz, *args, fold=0):
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


# --- phrases -> cron, in both languages ---------------------------------------------------

@pytest.mark.parametrize("portuguese, english, cron", [
    ("todo dia às 8 da manhã", "every day at 8am", "0 8 * * *"),
    ("às 6 da tarde", "at 6pm", "0 18 * * *"),
    ("às 9 da noite", "at 9pm", "0 21 * * *"),
    ("todo dia às 2 da madrugada", "every day at 2am", "0 2 * * *"),
    ("às 12 da noite", "at midnight", "0 0 * * *"),
    ("meio-dia e meia", "every day at 12:30pm", "30 12 * * *"),
    ("todo dia às 6 e meia da tarde", "every day at 6:30pm", "30 18 * * *"),
    ("meia-noite e meia", "every day at 12:30am", "30 0 * * *"),
    ("todo dia 5 e 20 às 10h", "every month on the 5th and 20th at 10am", "0 10 5,20 * *"),
    ("uma vez por dia às 9", "once a day at 9am", "0 9 * * *"),
    ("último dia do mês às 18h", "last day of the month at 6pm", "0 18 L * *"),
    ("no último dia de cada mês às 18:00", "on the last day of every month at 18:00", "0 18 L * *"),
    ("primeira segunda do mês às 9h", "first monday of the month at 9am", "0 9 * * 1#1"),
    ("segunda segunda-feira do mês às 9", "second monday of the month at 9", "0 9 * * 1#2"),
    ("terceira sexta de cada mês às 17h", "every third friday of the month at 5pm", "0 17 * * 5#3"),
    ("última sexta do mês às 17h", "last friday of the month at 5pm", "0 17 * * L5"),
    ("de hora em hora das 8 às 18", "every hour from 8 to 18", "0 8-18 * * *"),
    ("de hora em hora das 8 às 18 de segunda a sexta", "every hour from 8 to 18 on weekdays", "0 8-18 * * 1-5"),
    ("a cada 2 horas das 8h às 18h", "every 2 hours from 8am to 6pm", "0 8-18/2 * * *"),
    ("a cada 30 minutos das 8 às 18 nos dias úteis", "every 30 minutes from 8 to 18 on weekdays",
     "*/30 8-17 * * 1-5"),
])
def test_it_reads_the_phrase_in_both_languages(portuguese, english, cron):
    assert normalize(portuguese) == cron
    assert normalize(english) == cron


@pytest.mark.parametrize("text, instead", [
    ("uma vez por semana", "say which day of the week, e.g. 'toda segunda às 9'"),
    ("once a week", "say which day of the week, e.g. 'toda segunda às 9'"),
    ("diariamente", "say at what time, e.g. 'todo dia às 9'"),
    ("daily", "say at what time, e.g. 'todo dia às 9'"),
    ("uma vez por dia", "say at what time"),
    ("mensalmente", "say which day of the month and at what time, e.g. 'todo dia 1 às 9'"),
    ("monthly", "say which day of the month and at what time"),
    ("twice a day", "give the times in a cron expression, e.g. '0 9,18 * * *'"),
    ("duas vezes por dia", "give the times in a cron expression, e.g. '0 9,18 * * *'"),
    ("3 vezes por semana", "give the times in a cron expression"),
    ("de hora em hora das 18 às 8", "the hours go from the earlier to the later one"),
    ("às 9 da madrugada", "9 da madrugada is not a time"),
])
def test_a_refusal_says_what_to_write_instead(text, instead):
    with pytest.raises(ScheduleError) as info:
        normalize(text)
    assert instead in str(info.value)


@pytest.fixture
def babel_app():
    i18n.compile_catalogs()
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(i18n.TRANSLATIONS_DIR))
    return app


@pytest.mark.parametrize("text, portuguese", [
    ("uma vez por semana", "Não entendi 'uma vez por semana': diga qual dia da semana"),
    ("diariamente", "Não entendi 'diariamente': diga a que horas, por exemplo 'todo dia às 9'"),
    ("mensalmente", "Não entendi 'mensalmente': diga em que dia do mês e a que horas"),
    ("twice a day", "Não entendi 'twice a day': informe os horários numa expressão cron, por exemplo "
                    "'0 9,18 * * *'"),
])
def test_the_refusals_are_translated(babel_app, text, portuguese):
    with pytest.raises(ScheduleError) as info:
        normalize(text)
    with babel_app.app_context(), force_locale("pt_BR"):
        assert str(info.value).startswith(portuguese)


@pytest.mark.parametrize("text, english, portuguese", [
    ("último dia do mês às 18h", "On the last day of the month at 18:00", "No último dia do mês às 18:00"),
    ("primeira segunda do mês às 9h", "On the first Monday of the month at 09:00",
     "Na primeira segunda-feira do mês às 09:00"),
    ("primeiro sábado do mês às 10", "On the first Saturday of the month at 10:00",
     "No primeiro sábado do mês às 10:00"),
    ("0 9 * * 1#2", "On the second Monday of the month at 09:00", "Na segunda segunda-feira do mês às 09:00"),
    ("0 9 * * L6", "On the last Saturday of the month at 09:00", "No último sábado do mês às 09:00"),
    ("última sexta do mês às 17h", "On the last Friday of the month at 17:00",
     "Na última sexta-feira do mês às 17:00"),
    ("last sunday of the month at 9am", "On the last Sunday of the month at 09:00",
     "No último domingo do mês às 09:00"),
    ("de hora em hora das 8 às 18", "Every hour from 08:00 to 18:00", "De hora em hora, das 08:00 às 18:00"),
    ("every hour from 8 to 18 on weekdays", "Weekdays (Monday to Friday), every hour from 08:00 to 18:00",
     "Dias úteis (segunda a sexta), de hora em hora, das 08:00 às 18:00"),
    ("a cada 2 horas das 8 às 18", "Every 2 hours from 08:00 to 18:00", "A cada 2 horas, das 08:00 às 18:00"),
    ("todo dia 5 e 20 às 10h", "On days 5 and 20 of every month at 10:00", "Nos dias 5 e 20 de cada mês às 10:00"),
    ("às 6 da tarde", "Every day at 18:00", "Todo dia às 18:00"),
])
def test_it_describes_the_new_forms_in_both_languages(text, english, portuguese):
    assert describe(normalize(text), "en") == english
    assert describe(normalize(text), "pt_BR") == portuguese


def test_it_describes_a_one_time_schedule_in_its_timezone():
    moment = utc(2026, 12, 24, 21, 0)
    assert describe_once(moment, SP, "pt_BR") == "Uma vez, em 24/12/2026 às 18:00"
    assert describe_once(moment, SP, "en") == "Once, on Dec 24, 2026 at 18:00"


@pytest.mark.parametrize("cron, after, expected", [
    ("0 18 L * *", wall(SP, 2027, 2, 1), [wall(SP, 2027, 2, 28, 18), wall(SP, 2027, 3, 31, 18)]),
    ("0 9 * * 1#1", wall(SP, 2026, 12, 1), [wall(SP, 2026, 12, 7, 9), wall(SP, 2027, 1, 4, 9)]),
    ("0 8-18 * * 1-5", wall(SP, 2026, 12, 4, 17, 30), [wall(SP, 2026, 12, 4, 18), wall(SP, 2026, 12, 7, 8)]),
])
def test_the_new_forms_fire_when_they_say(cron, after, expected):
    times = []
    for _ in expected:
        after = next_run_time(cron, SP, after)
        times.append(after)
    assert times == expected


# --- one-time phrases -----------------------------------------------------------------------

NOW = wall(SP, 2026, 11, 29, 21, 30)  # a Sunday evening in São Paulo


@pytest.mark.parametrize("text, expected, kept", [
    ("em 24/12 às 18h", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("25/12/2026 10:00", wall(SP, 2026, 12, 25, 10), "2026-12-25 10:00"),
    ("amanhã às 9", wall(SP, 2026, 11, 30, 9), "2026-11-30 09:00"),
    ("tomorrow at 9am", wall(SP, 2026, 11, 30, 9), "2026-11-30 09:00"),
    ("daqui a 2 horas", NOW + timedelta(hours=2), "2026-11-29 23:30"),
    ("in 2 hours", NOW + timedelta(hours=2), "2026-11-29 23:30"),
    ("em 30 minutos", NOW + timedelta(minutes=30), "2026-11-29 22:00"),
    ("hoje às 23h", wall(SP, 2026, 11, 29, 23), "2026-11-29 23:00"),
    ("03/04 às 9", wall(SP, 2027, 4, 3, 9), "2027-04-03 09:00"),  # day first: 3 April, next year
    ("em 05/01/27 às 8 da manhã", wall(SP, 2027, 1, 5, 8), "2027-01-05 08:00"),
    ("2026-12-24T18:00:00-03:00", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("2026-12-24T21:00:00Z", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("2026-12-24 18:00", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("em 24 de dezembro às 18h", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("24 de dezembro de 2026 às 6 da tarde", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("às 18h do dia 24/12", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("on december 24 at 6pm", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("December 24th, 2026 at 6pm", wall(SP, 2026, 12, 24, 18), "2026-12-24 18:00"),
    ("dia 5 de março às 9", wall(SP, 2027, 3, 5, 9), "2027-03-05 09:00"),
])
def test_it_reads_one_time_phrases(text, expected, kept):
    once = read_once(text, SP, NOW)
    assert once.run_at == expected and once.run_at.tzinfo == UTC
    assert once.text == kept
    assert read_once(once.text, SP, NOW).run_at == expected  # what is kept reads back the same


@pytest.mark.parametrize("text", ["todo dia às 9", "toda segunda às 9h", "dia 5 às 10", "a cada 2 horas",
                                  "0 9 * * *", "every hour from 8 to 18", "0 9 1/2 * *", "0 8-18/2 * * *",
                                  "30 12 10/5 * *", "@daily"])
def test_recurring_phrases_are_not_one_time(text):
    assert read_once(text, SP, NOW) is None


@pytest.mark.parametrize("text, reason", [
    ("25/12/2025 10:00", "2025-12-25 10:00 has already passed"),
    ("hoje às 9", "2026-11-29 09:00 has already passed"),
    ("29/11 às 9", "2026-11-29 09:00 has already passed"),  # today, not next year
    ("2026-01-01T00:00:00Z", "has already passed"),
    ("31/02 às 9", "31/2 is not a date (dates are day/month"),
    ("em 31 de fevereiro às 9", "31/2 is not a date"),
    ("amanhã", "say one time for that day"),
    ("amanhã 24/12 às 9", "give either a date or a word like 'amanhã'"),
    ("daqui a 0 horas", "greater than zero"),
])
def test_it_refuses_past_and_impossible_dates(text, reason):
    with pytest.raises(ScheduleError) as info:
        read_once(text, SP, NOW)
    assert reason in str(info.value)


def test_a_saved_date_that_passed_reads_back_when_asked():
    assert read_once("2025-12-25 10:00", SP, NOW, past_ok=True).run_at == wall(SP, 2025, 12, 25, 10)


# DST: America/New_York springs forward on 2026-03-08 (02:00 -> 03:00) and falls back on
# 2026-11-01 (02:00 -> 01:00).

def test_a_one_time_run_in_the_spring_forward_gap_fires_right_after_it():
    once = read_once("08/03/2026 02:30", NY, utc(2026, 3, 1))
    assert once.run_at == wall(NY, 2026, 3, 8, 3, 0) == utc(2026, 3, 8, 7, 0)


def test_a_one_time_run_in_the_repeated_hour_fires_at_its_first_occurrence():
    once = read_once("01/11/2026 01:30", NY, utc(2026, 10, 1))
    assert once.run_at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST an hour later


def test_the_second_occurrence_of_a_repeated_hour_is_kept_with_its_offset():
    second = utc(2026, 11, 1, 6, 30)  # 01:30 EST
    once = read_once(second.isoformat(), NY, utc(2026, 10, 1))
    assert once.text == "2026-11-01 01:30-05:00"
    assert read_once(once.text, NY, utc(2026, 10, 1)).run_at == second


def test_daqui_a_counts_real_time_across_a_dst_change():
    now = wall(NY, 2026, 3, 8, 1, 30)
    assert read_once("in 1 hour", NY, now).run_at == now + timedelta(hours=1)  # 03:30 EDT on the wall


# --- start and end dates ------------------------------------------------------------------

@pytest.mark.parametrize("text, end, expected", [
    ("2026-12-01 08:00", False, wall(SP, 2026, 12, 1, 8)),
    ("2026-12-01T08:00", False, wall(SP, 2026, 12, 1, 8)),  # a browser's datetime-local
    ("01/12/2026", False, wall(SP, 2026, 12, 1)),
    ("31/12/2026", True, wall(SP, 2026, 12, 31, 23, 59, 59)),  # an end date includes its day
    ("31/12/2026 18:00", True, wall(SP, 2026, 12, 31, 18)),
    ("2026-12-31T21:00:00+00:00", True, utc(2026, 12, 31, 21)),
])
def test_it_reads_start_and_end_dates_in_the_chronos_timezone(text, end, expected):
    assert read_bound(text, SP, end=end) == expected


@pytest.mark.parametrize("text", ["tomorrow", "31/02/2026", "2026-13-01", "banana"])
def test_it_refuses_unreadable_bounds(text):
    with pytest.raises(ScheduleError, match="Not a date I can read"):
        read_bound(text, SP)


def test_no_run_before_the_start_and_none_after_the_end():
    starts, ends = wall(SP, 2026, 12, 1), wall(SP, 2026, 12, 3, 23, 59, 59)
    chrono = type("C", (), dict(id=1, cron="0 18 * * *", timezone=SP, spread_s=0, run_at=None,
                                starts_at=starts, ends_at=ends))
    assert chrono_run_times(chrono, NOW, 10) == [wall(SP, 2026, 12, d, 18) for d in (1, 2, 3)]
    assert next_run_time("0 18 * * *", SP, wall(SP, 2026, 12, 3, 18), ends_at=ends) is None


def test_a_run_exactly_at_the_start_or_the_end_counts():
    at = wall(SP, 2026, 12, 1, 18)
    assert next_run_time("0 18 * * *", SP, NOW, starts_at=at, ends_at=at) == at


def test_an_end_date_on_the_fall_back_day_is_in_local_time():
    # 2026-11-01 in New York has 25 hours: an end "on 01/11" includes 23:59:59 EST (04:59:59 UTC on the 2nd).
    ends = read_bound("01/11/2026", NY, end=True)
    assert ends == utc(2026, 11, 2, 4, 59, 59)
    hourly = [next_run_time("0 * * * *", NY, utc(2026, 11, 2, 3, 30), ends_at=ends)]
    hourly.append(next_run_time("0 * * * *", NY, hourly[0], ends_at=ends))
    assert hourly == [utc(2026, 11, 2, 4, 0), None]  # 23:00 EST is the last run


def test_an_end_in_the_spring_forward_gap_moves_to_the_gap_end():
    ends = read_bound("2026-03-08 02:30", NY, end=True)
    assert ends == wall(NY, 2026, 3, 8, 3, 0)
    assert next_run_time("0 3 * * *", NY, utc(2026, 3, 7, 12), ends_at=ends) == wall(NY, 2026, 3, 8, 3, 0)


def test_a_daily_run_with_an_end_fires_once_on_the_fall_back_day():
    ends = wall(NY, 2026, 11, 1, 23)
    first = next_run_time("30 1 * * *", NY, utc(2026, 10, 31, 12), ends_at=ends)
    assert first == utc(2026, 11, 1, 5, 30)
    assert next_run_time("30 1 * * *", NY, first, ends_at=ends) is None  # not again at 01:30 EST


def test_a_one_time_chrono_has_one_run_time():
    at = wall(SP, 2026, 12, 24, 18)
    assert next_run_time("0 18 24 12 *", SP, NOW, run_at=at) == at
    assert next_run_time("0 18 24 12 *", SP, at, run_at=at) is None


# --- spread -------------------------------------------------------------------------------

def test_the_offset_is_within_the_window_and_differs_between_chronos():
    offsets = [spread_offset(chrono_id, 600) for chrono_id in range(1, 201)]
    assert all(0 <= offset < 600 for offset in offsets)
    assert len(set(offsets)) > 150  # spread, not bunched
    assert spread_offset(7, 0) == 0 and spread_offset(None, 600) == 0


def test_the_offset_is_the_same_in_another_process():
    # Python's hash() would differ with PYTHONHASHSEED: the offset must not.
    code = "from chronoflow.schedules import spread_offset; print([spread_offset(i, 3600) for i in (1, 42, 99999)])"
    mine = str([spread_offset(i, 3600) for i in (1, 42, 99999)])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for seed in ("1", "12345"):
        theirs = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                                env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        assert theirs == mine


def test_spread_runs_come_at_the_cron_time_plus_the_offset():
    offset = spread_offset(42, 900)
    assert offset > 0  # (a known value: the hash is fixed)
    chrono = type("C", (), dict(id=42, cron="0 * * * *", timezone=SP, spread_s=900, run_at=None,
                                starts_at=None, ends_at=None))
    start = utc(2026, 12, 1, 12, 0)
    times = chrono_run_times(chrono, start, 3)
    assert times == [start + timedelta(hours=h, seconds=offset) for h in (0, 1, 2)]
    # From just before a shifted time, that time comes next (not the following hour).
    assert next_run_time("0 * * * *", SP, times[1] - timedelta(seconds=1), offset_s=offset) == times[1]


@pytest.mark.parametrize("text", ["31/12/9999 23:00", "9999-12-31T23:59:59+00:00", "0001-01-01 00:00",
                                  "31/12/2150 10:00", "daqui a 9999999 dias"])
@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/Sao_Paulo", "Pacific/Kiritimati"])
def test_dates_out_of_range_are_refused_not_crashed_on(text, tz):
    with pytest.raises(ScheduleError, match="between 1970 and 2098|already passed"):
        read_once(text, tz, NOW)


@pytest.mark.parametrize("text", ["31/12/9999", "9999-12-31T23:59:59+00:00", "0001-01-01", "2150-01-01"])
def test_bounds_out_of_range_are_refused(text):
    with pytest.raises(ScheduleError, match="Not a date I can read"):
        read_bound(text, "Asia/Tokyo")


def test_run_times_stop_at_until():
    chrono = type("C", (), dict(id=3, cron="0 * * * *", timezone=SP, spread_s=0, run_at=None, starts_at=None,
                                ends_at=None))
    start = utc(2026, 12, 1, 12, 0)
    assert chrono_run_times(chrono, start, 100, until=start + timedelta(hours=3)) == [
        start + timedelta(hours=h) for h in (1, 2, 3)]
