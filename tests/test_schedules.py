"""chronoflow.schedules: what people type -> cron, fire times across DST, descriptions.

No Flask app is needed; the last tests build a minimal one to check that errors follow
Flask-Babel's locale.
"""
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from chronoflow import i18n
from chronoflow.schedules import (
    ScheduleError,
    describe,
    fire_times,
    has_seconds,
    next_fire_time,
    normalize,
    validate_timezone,
)

UTC = timezone.utc
NEW_YORK = "America/New_York"
SAO_PAULO = "America/Sao_Paulo"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def wall(tz, *args, fold=0):
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold)


def local_times(times, tz):
    """'2025-11-02 01:30 -04' strings, to read DST results at a glance."""
    return [t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %z")[:-2] for t in times]


# --- normalize: the grammar ----------------------------------------------------------

@pytest.mark.parametrize("text, cron", [
    # intervals
    ("2 min", "*/2 * * * *"),
    ("30s", "*/30 * * * * *"),
    ("6h", "0 */6 * * *"),
    ("a cada 15 minutos", "*/15 * * * *"),
    ("cada 5 min", "*/5 * * * *"),
    ("every 15 minutes", "*/15 * * * *"),
    ("every minute", "* * * * *"),
    ("a cada minuto", "* * * * *"),
    ("every 10 seconds", "*/10 * * * * *"),
    ("a cada 30 segundos", "*/30 * * * * *"),
    ("every 2 hours", "0 */2 * * *"),
    ("a cada hora", "0 * * * *"),
    ("de hora em hora", "0 * * * *"),
    ("hourly", "0 * * * *"),
    ("toda hora", "0 * * * *"),
    ("every hour", "0 * * * *"),
    ("60 min", "0 * * * *"),
    ("24h", "0 0 * * *"),
    ("60s", "* * * * *"),
    ("120 minutes", "0 */2 * * *"),
    ("de 5 em 5 minutos", "*/5 * * * *"),
    ("a cada meia hora", "*/30 * * * *"),
    ("every half hour", "*/30 * * * *"),
    # daily
    ("todo dia as 18", "0 18 * * *"),
    ("todo dia às 18:30", "30 18 * * *"),
    ("todos os dias às 8h", "0 8 * * *"),
    ("diariamente às 7", "0 7 * * *"),
    ("every day at 6pm", "0 18 * * *"),
    ("daily at 18:00", "0 18 * * *"),
    ("every day at 6:30 am", "30 6 * * *"),
    ("todo dia às 18h30", "30 18 * * *"),
    ("todo dia 18h", "0 18 * * *"),
    ("every day at 6 pm", "0 18 * * *"),
    ("every day at 6:30pm", "30 18 * * *"),
    ("every day at 12am", "0 0 * * *"),
    ("every day at 12pm", "0 12 * * *"),
    ("todo dia ao meio-dia", "0 12 * * *"),
    ("todo dia ao meio dia", "0 12 * * *"),
    ("todo dia à meia-noite", "0 0 * * *"),
    ("every day at noon", "0 12 * * *"),
    ("every day at midnight", "0 0 * * *"),
    ("todo dia", "0 0 * * *"),
    ("every day", "0 0 * * *"),
    ("às 18:30", "30 18 * * *"),
    ("às 9h todo dia", "0 9 * * *"),
    # weekly
    ("toda segunda às 9h", "0 9 * * 1"),
    ("toda segunda-feira às 9", "0 9 * * 1"),
    ("todas as segundas às 9", "0 9 * * 1"),
    ("toda sexta 17h", "0 17 * * 5"),
    ("todo sábado às 10", "0 10 * * 6"),
    ("aos domingos às 8", "0 8 * * 0"),
    ("every monday at 9am", "0 9 * * 1"),
    ("on mondays at 9", "0 9 * * 1"),
    ("seg às 9", "0 9 * * 1"),
    ("qua 14h", "0 14 * * 3"),
    ("sun at 7", "0 7 * * 0"),
    ("segunda e quarta às 9", "0 9 * * 1,3"),
    ("mon, wed and fri at 9", "0 9 * * 1,3,5"),
    ("terça-feira e quinta-feira às 7h15", "15 7 * * 2,4"),
    ("de sexta a segunda às 20h", "0 20 * * 0,1,5,6"),
    # weekdays, weekends
    ("dias úteis às 8", "0 8 * * 1-5"),
    ("todo dia útil às 8", "0 8 * * 1-5"),
    ("de segunda a sexta às 8", "0 8 * * 1-5"),
    ("seg a sex às 8", "0 8 * * 1-5"),
    ("mon-fri at 8", "0 8 * * 1-5"),
    ("weekdays at 8:00", "0 8 * * 1-5"),
    ("every weekday at 8", "0 8 * * 1-5"),
    ("fins de semana às 10", "0 10 * * 0,6"),
    ("todo fim de semana às 10", "0 10 * * 0,6"),
    ("weekends at 10", "0 10 * * 0,6"),
    # monthly
    ("todo dia 1 às 9", "0 9 1 * *"),
    ("dia 5 de cada mês às 10", "0 10 5 * *"),
    ("todo mês", "0 0 1 * *"),
    ("every month on the 1st at 9", "0 9 1 * *"),
    ("monthly on day 15 at 9:00", "0 9 15 * *"),
    ("on the 15th of every month at 9", "0 9 15 * *"),
    ("todo dia primeiro às 8", "0 8 1 * *"),
    ("todo dia 1º às 8", "0 8 1 * *"),
    ("todo dia 31 às 23:59", "59 23 31 * *"),
    ("dia 1 e 15 de cada mês às 12", "0 12 1,15 * *"),
    ("dia 1, 10 e 20 de cada mês às 9", "0 9 1,10,20 * *"),
    ("todo mês no dia 5", "0 0 5 * *"),
    ("every month on day 15", "0 0 15 * *"),
    ("on the first of every month", "0 0 1 * *"),
    # cron expressions and macros
    ("0 9 * * 1-5", "0 9 * * 1-5"),
    ("*/30 * * * * *", "*/30 * * * * *"),
    ("0 */5 * * * *", "*/5 * * * *"),
    ("0 9 ? * MON-FRI", "0 9 * * 1-5"),
    ("0 9 1 jan,jul *", "0 9 1 1,7 *"),
    ("0 0 29 2 *", "0 0 29 2 *"),
    ("0 9 31 * *", "0 9 31 * *"),
    ("0 12 * * 1#1", "0 12 * * 1#1"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
    ("@Daily", "0 0 * * *"),
])
def test_it_normalizes(text, cron):
    assert normalize(text) == cron


@pytest.mark.parametrize("text, same_as", [
    ("TODO DIA ÀS 18:30", "todo dia às 18:30"),
    ("todo  dia   as 18:30 ", "todo dia às 18:30"),
    ("Toda Segunda-Feira Às 9H", "toda segunda às 9h"),
    ("toda terca as 9", "toda terça às 9"),
    ("todo sabado as 9", "todo sábado às 9"),
    ("A Cada 15 Minutos.", "a cada 15 minutos"),
    ("  0   9 * *   1-5 ", "0 9 * * 1-5"),
    ("segunda feira às 9", "segunda-feira às 9"),
    ("todo dia às 18 : 30", "todo dia às 18:30"),
])
def test_it_ignores_case_accents_and_spaces(text, same_as):
    assert normalize(text) == normalize(same_as)


@pytest.mark.parametrize("text, message", [
    ("toda hora as 25",
     "Could not understand 'toda hora as 25': 25 is not a valid hour (0-23)."),
    ("todo dia às 18:61",
     "Could not understand 'todo dia às 18:61': 61 is not a valid minute (0-59)."),
    ("every day at 13pm",
     "Could not understand 'every day at 13pm': 13 is not a valid hour on a 12-hour clock (1-12)."),
    ("toda segundaa às 9",
     "Could not understand 'toda segundaa às 9': 'segundaa' is not a day of the week I know. "
     "Use e.g. 'segunda', 'ter', 'monday' or 'fri'."),
    ("todo dia 32 às 9",
     "Could not understand 'todo dia 32 às 9': 32 is not a valid day of the month (1-31)."),
    ("todo dia 0",
     "Could not understand 'todo dia 0': 0 is not a valid day of the month (1-31)."),
    ("banana",
     "Could not understand 'banana'. Try e.g. 'every 5 minutes', 'todo dia às 18:30', "
     "or a cron expression like '0 9 * * 1-5'."),
    ("a cada 7 minutos",
     "'a cada 7 minutos' cannot be used as a schedule: an interval of 7 minutes does not "
     "divide an hour evenly, and cron restarts the count every hour. "
     "Use one of: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60 minutes."),
    ("45s",
     "'45s' cannot be used as a schedule: an interval of 45 seconds does not divide a minute "
     "evenly, and cron restarts the count every minute. "
     "Use one of: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60 seconds."),
    ("every 48 hours",
     "'every 48 hours' cannot be used as a schedule: an interval of 48 hours does not divide "
     "a day evenly, and cron restarts the count every day. "
     "Use one of: 1, 2, 3, 4, 6, 8, 12, 24 hours."),
    ("0 min", "Could not understand '0 min': the interval must be greater than zero."),
    ("0 0 30 2 *",
     "'0 0 30 2 *' cannot be used as a schedule: the day of the month never occurs in the "
     "chosen month(s) (e.g. 30 February)."),
    ("0 0 * * * * 2030",
     "Could not understand '0 0 * * * * 2030': a cron expression has 5 fields, or 6 with "
     "seconds first; a 7th field (year) is not supported."),
    ("0 9 * *",
     "Could not understand '0 9 * *': a cron expression has 5 fields, or 6 with seconds "
     "first, not 4."),
    ("0 25 * * *", "Could not understand '0 25 * * *': 25 is not a valid hour (0-23)."),
    ("61 * * * *", "Could not understand '61 * * * *': 61 is not a valid minute (0-59)."),
    ("0 9 32 * *",
     "Could not understand '0 9 32 * *': 32 is not a valid day of the month (1-31)."),
    ("0 9 * 13 *", "Could not understand '0 9 * 13 *': 13 is not a valid month (1-12)."),
    ("0 9 * * 8",
     "Could not understand '0 9 * * 8': 8 is not a valid day of the week "
     "(0-7; 0 and 7 are Sunday)."),
    ("*/0 * * * *", "Could not understand '*/0 * * * *': it is not a valid cron expression."),
    ("H 9 * * *",
     "Could not understand 'H 9 * * *': hashed (H) and random (R) values are not supported; "
     "use plain numbers."),
    ("@reboot",
     "Could not understand '@reboot': '@reboot' is not a shortcut I know. Use one of: "
     "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly."),
])
def test_it_says_what_is_wrong(text, message):
    with pytest.raises(ScheduleError) as info:
        normalize(text)
    assert str(info.value) == message


@pytest.mark.parametrize("text", ["", "   ", None])
def test_it_rejects_an_empty_schedule(text):
    with pytest.raises(ScheduleError, match="The schedule is empty"):
        normalize(text)


@pytest.mark.parametrize("text, reason", [
    ("a cada 2 dias", "intervals of days, weeks or months cannot be expressed in cron"),
    ("every 2 weeks", "intervals of days, weeks or months cannot be expressed in cron"),
    ("toda semana às 9", "say which day of the week"),
    ("todo dia às 9 e às 18", "give one time of day per schedule"),
    ("every day at 9 and 18", "Try e.g."),  # not the 18th of the month
    ("5 de cada mês", "Try e.g."),
    ("18h", "For a time of day, write e.g. 'todo dia às 18h'."),
    ("toda segunda 9", "Try e.g."),  # a bare number is a time only after 'às'/'at'
    ("todo dia 5 segunda", "Try e.g."),
    ("every day at 6 o'clock", "Try e.g."),
    ("todo dia (às 9)", "Try e.g."),
    ("dias úteis e fins de semana", "Try e.g."),
    ("toda hora às 15", "Try e.g."),
    ("0 0 30 2 1", "never occurs"),  # croniter strict rejects it although Mondays match
    ("0 9 31 4 *", "never occurs"),
])
def test_it_rejects(text, reason):
    with pytest.raises(ScheduleError, match=re.escape(reason)):
        normalize(text)


def test_schedule_error_is_a_value_error_with_a_lazy_message():
    with pytest.raises(ValueError) as info:
        normalize("banana")
    assert isinstance(info.value, ScheduleError)
    assert str(info.value.message) == str(info.value)


@pytest.mark.parametrize("cron, expected", [
    ("*/30 * * * * *", True),
    ("* * * * * *", True),
    ("*/5 * * * *", False),
    ("0 9 * * 1-5", False),
])
def test_has_seconds(cron, expected):
    assert has_seconds(cron) is expected


# --- timezones -------------------------------------------------------------------------

def test_it_validates_timezones():
    assert validate_timezone("America/Sao_Paulo") == ZoneInfo("America/Sao_Paulo")
    assert validate_timezone("UTC").key == "UTC"


def test_it_accepts_any_case_and_returns_the_canonical_name():
    assert validate_timezone(" america/sao_paulo ").key == "America/Sao_Paulo"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", None, "../../etc/passwd", "/etc/localtime"])
def test_it_rejects_unknown_timezones(name):
    with pytest.raises(ScheduleError, match="is not a timezone I know"):
        validate_timezone(name)


# --- next_fire_time / fire_times: DST ----------------------------------------------------

def test_it_fires_at_03_00_when_02_30_does_not_exist():
    times = fire_times("30 2 * * *", NEW_YORK, wall(NEW_YORK, 2025, 3, 8), 3)
    assert local_times(times, NEW_YORK) == [
        "2025-03-08 02:30 -05", "2025-03-09 03:00 -04", "2025-03-10 02:30 -04"]


def test_it_fires_once_on_fall_back_day():
    times = fire_times("30 1 * * *", NEW_YORK, wall(NEW_YORK, 2025, 11, 1, 12), 3)
    assert local_times(times, NEW_YORK) == [
        "2025-11-02 01:30 -04", "2025-11-03 01:30 -05", "2025-11-04 01:30 -05"]


def test_it_does_not_fire_again_after_the_first_of_two_equal_wall_times():
    first = wall(NEW_YORK, 2025, 11, 2, 1, 30)  # 01:30 EDT
    assert next_fire_time("30 1 * * *", NEW_YORK, first) == utc(2025, 11, 3, 6, 30)
    fixed_minutes = fire_times("0,30 1 * * *", NEW_YORK, wall(NEW_YORK, 2025, 11, 2), 3)
    assert local_times(fixed_minutes, NEW_YORK) == [
        "2025-11-02 01:00 -04", "2025-11-02 01:30 -04", "2025-11-03 01:00 -05"]


def test_it_fires_every_real_hour_across_fall_back():
    times = fire_times("0 * * * *", NEW_YORK, wall(NEW_YORK, 2025, 11, 1, 23, 30), 5)
    assert local_times(times, NEW_YORK) == [
        "2025-11-02 00:00 -04", "2025-11-02 01:00 -04", "2025-11-02 01:00 -05",
        "2025-11-02 02:00 -05", "2025-11-02 03:00 -05"]
    assert times == [utc(2025, 11, 2, hour) for hour in (4, 5, 6, 7, 8)]


def test_it_fires_every_real_hour_across_spring_forward():
    times = fire_times("0 * * * *", NEW_YORK, wall(NEW_YORK, 2025, 3, 9, 0, 30), 3)
    assert local_times(times, NEW_YORK) == [
        "2025-03-09 01:00 -05", "2025-03-09 03:00 -04", "2025-03-09 04:00 -04"]
    assert times == [utc(2025, 3, 9, hour) for hour in (6, 7, 8)]


def test_it_fires_wildcard_minutes_in_both_repeated_hours():
    times = fire_times("*/20 1 * * *", NEW_YORK, wall(NEW_YORK, 2025, 11, 2), 7)
    assert local_times(times, NEW_YORK) == [
        "2025-11-02 01:00 -04", "2025-11-02 01:20 -04", "2025-11-02 01:40 -04",
        "2025-11-02 01:00 -05", "2025-11-02 01:20 -05", "2025-11-02 01:40 -05",
        "2025-11-03 01:00 -05"]


def test_it_skips_wildcard_minutes_that_fall_in_the_spring_forward_gap():
    # Debian cron: only fixed-time jobs are moved out of the gap; croniter alone
    # would fire this one at 03:00 EDT.
    times = fire_times("*/15 2 * * *", NEW_YORK, wall(NEW_YORK, 2025, 3, 9), 2)
    assert local_times(times, NEW_YORK) == ["2025-03-10 02:00 -04", "2025-03-10 02:15 -04"]


def test_it_reads_an_ambiguous_after_by_its_fold():
    edt = wall(NEW_YORK, 2025, 11, 2, 1, 10)          # 05:10 UTC
    est = wall(NEW_YORK, 2025, 11, 2, 1, 10, fold=1)  # 06:10 UTC
    assert next_fire_time("0 * * * *", NEW_YORK, edt) == utc(2025, 11, 2, 6)
    assert next_fire_time("0 * * * *", NEW_YORK, est) == utc(2025, 11, 2, 7)
    assert next_fire_time("30 1 * * *", NEW_YORK, est) == utc(2025, 11, 3, 6, 30)


def test_it_accepts_an_after_that_does_not_exist_locally():
    # 02:30 on spring-forward day is read with the old offset: 07:30 UTC = 03:30 EDT.
    gap = wall(NEW_YORK, 2025, 3, 9, 2, 30)
    assert next_fire_time("0 * * * *", NEW_YORK, gap) == utc(2025, 3, 9, 8)
    assert next_fire_time("0 3 * * *", NEW_YORK, gap) == utc(2025, 3, 10, 7)


def test_sao_paulo_has_no_dst_any_more():
    january = next_fire_time("0 18 * * *", SAO_PAULO, utc(2025, 1, 15))
    july = next_fire_time("0 18 * * *", SAO_PAULO, utc(2025, 7, 15))
    assert (january, july) == (utc(2025, 1, 15, 21), utc(2025, 7, 15, 21))
    november = fire_times("0 0 * * *", SAO_PAULO, utc(2025, 11, 1), 3)  # DST began here until 2018
    assert november == [utc(2025, 11, day, 3) for day in (1, 2, 3)]


def test_it_fires_a_seconds_schedule():
    times = fire_times("*/30 * * * * *", SAO_PAULO, utc(2025, 6, 1, 12, 0, 10), 3)
    assert times == [utc(2025, 6, 1, 12, 0, 30), utc(2025, 6, 1, 12, 1), utc(2025, 6, 1, 12, 1, 30)]
    across_fall_back = fire_times("*/30 * * * * *", NEW_YORK, utc(2025, 11, 2, 5, 59, 15), 3)
    assert across_fall_back == [
        utc(2025, 11, 2, 5, 59, 30), utc(2025, 11, 2, 6), utc(2025, 11, 2, 6, 0, 30)]


def test_it_fires_strictly_after():
    assert next_fire_time("0 9 * * *", "UTC", utc(2025, 6, 1, 9)) == utc(2025, 6, 2, 9)
    assert next_fire_time("0 9 * * *", "UTC", utc(2025, 6, 1, 8, 59, 59)) == utc(2025, 6, 1, 9)


def test_results_are_aware_utc():
    for tz in (NEW_YORK, SAO_PAULO, "Asia/Kolkata", "UTC"):
        for time in fire_times("30 18 * * 1-5", tz, utc(2025, 3, 1), 5):
            assert time.tzinfo is UTC


@pytest.mark.parametrize("tz", [NEW_YORK, SAO_PAULO, "Asia/Tokyo", "Australia/Lord_Howe"])
def test_the_zone_of_after_does_not_matter(tz):
    instant = utc(2025, 11, 2, 5, 10)
    fixed_offset = timezone(timedelta(hours=-3))
    for cron in ("30 1 * * *", "0 * * * *", "*/7 * * * *", "0 9 1 * *"):
        expected = next_fire_time(cron, tz, instant)
        assert next_fire_time(cron, tz, instant.astimezone(ZoneInfo(NEW_YORK))) == expected
        assert next_fire_time(cron, tz, instant.astimezone(ZoneInfo("Asia/Tokyo"))) == expected
        assert next_fire_time(cron, tz, instant.astimezone(fixed_offset)) == expected


def test_it_computes_in_the_schedule_zone_not_the_zone_of_after():
    after = wall("Asia/Tokyo", 2025, 6, 1, 12)  # 03:00 UTC
    assert next_fire_time("0 9 * * *", SAO_PAULO, after) == utc(2025, 6, 1, 12)


def test_it_needs_an_aware_after():
    with pytest.raises(ValueError, match="aware"):
        next_fire_time("0 9 * * *", "UTC", datetime(2025, 6, 1))


@pytest.mark.parametrize("cron", ["banana", "0 9 * *", "0 0 * * * * 2030", "0 0 30 2 *"])
def test_it_raises_schedule_error_for_a_bad_cron(cron):
    with pytest.raises(ScheduleError):
        next_fire_time(cron, "UTC", utc(2025, 6, 1))


def test_it_raises_schedule_error_for_an_unknown_zone():
    with pytest.raises(ScheduleError):
        next_fire_time("0 9 * * *", "Mars/Olympus", utc(2025, 6, 1))


def test_fire_times_counts():
    assert fire_times("0 9 * * *", "UTC", utc(2025, 6, 1), 0) == []
    assert len(fire_times("* * * * * *", "UTC", utc(2025, 6, 1), 100)) == 100
    with pytest.raises(ValueError):
        fire_times("0 9 * * *", "UTC", utc(2025, 6, 1), -1)


def test_day_29_to_31_skips_short_months():
    times = fire_times("0 9 31 * *", "UTC", utc(2025, 1, 1), 3)
    assert times == [utc(2025, 1, 31, 9), utc(2025, 3, 31, 9), utc(2025, 5, 31, 9)]


# --- describe ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, english, portuguese", [
    ("a cada 15 minutos", "Every 15 minutes", "A cada 15 minutos"),
    ("every minute", "Every minute", "A cada minuto"),
    ("30s", "Every 30 seconds", "A cada 30 segundos"),
    ("* * * * * *", "Every second", "A cada segundo"),
    ("de hora em hora", "Every hour", "De hora em hora"),
    ("6h", "Every 6 hours", "A cada 6 horas"),
    ("todo dia às 18", "Every day at 18:00", "Todo dia às 18:00"),
    ("todo dia", "Every day at 00:00", "Todo dia à 00:00"),
    ("todo dia às 1:30", "Every day at 01:30", "Todo dia à 01:30"),
    ("toda segunda às 9h", "Every Monday at 09:00", "Toda segunda-feira às 09:00"),
    ("todo sábado às 10", "Every Saturday at 10:00", "Todo sábado às 10:00"),
    ("mon, wed and fri at 9", "Every Monday, Wednesday and Friday at 09:00",
     "Toda segunda-feira, quarta-feira e sexta-feira às 09:00"),
    ("0 9 * * 0,3", "Every Wednesday and Sunday at 09:00", "Toda quarta-feira e domingo às 09:00"),
    ("dias úteis às 8", "Weekdays (Monday to Friday) at 08:00",
     "Dias úteis (segunda a sexta) às 08:00"),
    ("fins de semana às 10", "Weekends (Saturday and Sunday) at 10:00",
     "Fins de semana (sábado e domingo) às 10:00"),
    ("todo dia 1 às 9", "On day 1 of every month at 09:00", "Todo dia 1 do mês às 09:00"),
    ("dia 1 e 15 de cada mês às 12", "On days 1 and 15 of every month at 12:00",
     "Nos dias 1 e 15 de cada mês às 12:00"),
    ("0 9 * * 1-7", "Every day at 09:00", "Todo dia às 09:00"),
])
def test_it_describes_the_shapes_of_the_grammar(text, english, portuguese):
    assert describe(normalize(text), "en") == english
    assert describe(normalize(text), "pt_BR") == portuguese


@pytest.mark.parametrize("cron, english, portuguese", [
    ("*/10 9-17 * * 1-5", "Every 10 minutes, between 09:00 and 17:59, Monday through Friday",
     "A cada 10 minutos, entre 09:00 e 17:59, de segunda-feira a sexta-feira"),
    ("0 9 1 1,7 *", "At 09:00, on day 1 of the month, only in January and July",
     "Às 09:00, no dia 1 do mês, somente em janeiro e julho"),
    ("0 9 13 * 5", "At 09:00, on day 13 of the month, or on Friday",
     "Às 09:00, no dia 13 do mês, ou sexta-feira"),
    ("30 6,14,16 * * *", "At 06:30, 14:30 and 16:30", "Às 06:30, 14:30 e 16:30"),
    ("0 9 * * 5-1", "At 09:00, Friday through Monday",
     "Às 09:00, de sexta-feira a segunda-feira"),
])
def test_it_describes_other_crons_with_cron_descriptor(cron, english, portuguese):
    assert describe(cron, "en") == english
    assert describe(cron, "pt_BR") == portuguese


ENGLISH_WORDS = re.compile(
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|every|at|on|only|"
    r"through|and|or|of|the|day|days|month|hour|minute|minutes|second|seconds|past|"
    r"between|starting|last|weekday|week|weeks)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("cron", [
    "0 9 * * 1", "30 8 * * 1-5", "0 9 * * 1,3,5", "0 9 * 1 *", "0 9 * 3-5 *", "0 9 * 12 0",
    "*/10 9-17 * * 1-5", "15 * * * *", "0 9 L * *", "0 9 * * L5", "0 9 * * 5#3", "0 9 15W * *",
    "15 */5 * * * *", "23 0-20/2 * * *", "0 0,12 1 */2 *", "0 4 8-14 * *", "0 0 1,15 * 3",
    "5 0 * 8 *", "0-10 11 * * *", "0 8-18/2 * * *", "0 7 */3 * *", "0 9 * * */2",
    "0 9 * * 1-5/2", "5/10 * * * *", "0 5/2 * * *", "0 0 5/2 * *", "1-30/3 * * * * *",
    "0 9 * 2 6", "0 9 * * 5/2", "0 0 * * 6,0", "0 9 * 5,6,9,10,11 *", "0 9 1 2,4 *",
    "30 1 * * *", "*/7 * * * *", "0 */5 * * *",
])
def test_portuguese_descriptions_have_no_english_words(cron):
    text = describe(cron, "pt_BR")
    assert ENGLISH_WORDS.search(text) is None, text
    assert text == text.strip() and "  " not in text and text[0].isupper(), text


@pytest.mark.parametrize("locale", ["pt_BR", "pt-BR", "pt_br", "pt", "PT-br", "pt-PT"])
def test_it_accepts_portuguese_locale_spellings(locale):
    assert describe("0 18 * * *", locale) == "Todo dia às 18:00"


@pytest.mark.parametrize("locale", ["en", "en-US", "en_GB", None, "", "fr", "xx-YY"])
def test_it_falls_back_to_english(locale):
    assert describe("0 18 * * *", locale) == "Every day at 18:00"


def test_it_describes_what_a_person_typed_too():
    assert describe("toda segunda às 9", "pt_BR") == "Toda segunda-feira às 09:00"
    with pytest.raises(ScheduleError):
        describe("banana", "en")


# --- errors follow Flask-Babel's locale ---------------------------------------------

@pytest.fixture
def babel_app():
    i18n.compile_catalogs()
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(i18n.TRANSLATIONS_DIR))
    return app


@pytest.mark.parametrize("text, portuguese", [
    ("toda hora as 25", "Não entendi 'toda hora as 25': 25 não é uma hora válida (0-23)."),
    ("banana", "Não entendi 'banana'. Tente, por exemplo, 'a cada 5 minutos', "
               "'todo dia às 18:30' ou uma expressão cron como '0 9 * * 1-5'."),
    ("7 min", "'7 min' não pode ser usado como agendamento: um intervalo de 7 minutos não "
              "divide a hora em partes iguais, e o cron recomeça a contagem a cada hora. "
              "Use um destes: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60 minutos."),
    ("", "O agendamento está vazio. Digite, por exemplo, 'a cada 5 minutos', "
         "'todo dia às 18:30' ou uma expressão cron como '0 9 * * 1-5'."),
])
def test_errors_translate_under_force_locale(babel_app, text, portuguese):
    with pytest.raises(ScheduleError) as info:
        normalize(text)
    with babel_app.app_context():
        with force_locale("pt_BR"):
            assert str(info.value) == portuguese
        with force_locale("en"):
            assert str(info.value).startswith(("Could not", "'7 min' cannot", "The schedule"))


def test_timezone_errors_translate(babel_app):
    with pytest.raises(ScheduleError) as info:
        validate_timezone("Mars/Olympus")
    with babel_app.app_context(), force_locale("pt_BR"):
        assert str(info.value) == (
            "Não conheço o fuso horário 'Mars/Olympus'. "
            "Use um nome como 'America/Sao_Paulo' ou 'UTC'.")
