"""The agenda: what will fire, grouped by hour in the viewer's timezone, bounded."""
from chronoflow.chronos import agenda
from chronoflow.extensions import db

from .conftest import utc


def test_it_groups_the_next_day_by_hour_in_the_viewers_zone(app, make_chrono):
    daily = make_chrono(name="Lembrete", schedule="0 9 * * *", timezone="America/Sao_Paulo")
    make_chrono(name="Outro", schedule="30 9 * * *", timezone="America/Sao_Paulo")
    make_chrono(name="Paused", schedule="0 9 * * *", is_active=False)
    built = agenda.build(24, "America/Sao_Paulo", now=utc(2027, 3, 10, 15, 0))  # 12:00 in São Paulo
    assert built.total == 2
    (hour,) = built.hours
    assert hour.start.isoformat() == "2027-03-11T09:00:00-03:00" and hour.count == 2
    assert [entry.name for entry in hour.chronos.values()] == ["Lembrete", "Outro"]
    assert hour.chronos[daily.id].first == utc(2027, 3, 11, 12, 0)
    # The same instants, seen from Lisbon.
    lisbon = agenda.build(24, "Europe/Lisbon", now=utc(2027, 3, 10, 15, 0))
    assert lisbon.hours[0].start.isoformat() == "2027-03-11T12:00:00+00:00"


def test_a_week_lists_each_day(app, make_chrono):
    make_chrono(name="d", schedule="0 9 * * *", timezone="UTC")
    built = agenda.build(168, "UTC", now=utc(2027, 3, 10, 10, 0))
    assert [hour.start.day for hour in built.hours] == [11, 12, 13, 14, 15, 16, 17]


def test_a_repeated_hour_on_the_fall_back_day_stays_two_hours(app, make_chrono):
    make_chrono(name="every 30 min", schedule="*/30 * * * *", timezone="America/New_York")
    # 2027-11-07: 01:00-02:00 happens twice in New York.
    built = agenda.build(24, "America/New_York", now=utc(2027, 11, 7, 4, 0))  # 00:00 EDT
    ones = [hour for hour in built.hours if hour.start.hour == 1]
    assert len(ones) == 2 and [hour.count for hour in ones] == [2, 2]
    assert ones[0].start.utcoffset() != ones[1].start.utcoffset()


def test_it_is_bounded_per_chrono_and_in_total(app, make_chrono, monkeypatch):
    busy = make_chrono(name="every second", schedule="* * * * * *")
    make_chrono(name="hourly", schedule="0 * * * *")
    built = agenda.build(168, "UTC")
    assert built.capped_chronos == [(busy.id, "every second")]
    per_chrono = {}
    for hour in built.hours:
        for entry in hour.chronos.values():
            per_chrono[entry.name] = per_chrono.get(entry.name, 0) + entry.count
    assert per_chrono["every second"] == agenda.PER_CHRONO and per_chrono["hourly"] in (167, 168)
    monkeypatch.setattr(agenda, "TOTAL", 250)
    small = agenda.build(168, "UTC")
    assert small.total == 250 and small.capped_total


def test_the_api_answers_in_the_asked_zone_and_refuses_bad_arguments(client, make_chrono):
    make_chrono(name="a", schedule="0 * * * *", timezone="UTC")
    answer = client.get("/api/agenda?hours=24&timezone=Asia/Tokyo")
    assert answer.status_code == 200
    assert answer.json["timezone"] == "Asia/Tokyo" and answer.json["total"] in (23, 24)
    assert answer.json["hours"][0]["hour"].endswith("+09:00")
    assert answer.json["hours"][0]["chronos"][0]["name"] == "a"
    assert client.get("/api/agenda").json["timezone"] == "America/Sao_Paulo"  # the app's default
    for query in ("hours=48", "hours=x", "timezone=Mars/Base"):
        bad = client.get(f"/api/agenda?{query}")
        assert bad.status_code == 422, query


def test_the_page_says_tomorrow_in_portuguese(client, make_chrono):
    make_chrono(name="Lembrete das 9", schedule="0 9 * * *", timezone="America/Sao_Paulo")
    page = client.get("/agenda?hours=168", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert "Lembrete das 9" in page and "às 09:00" in page and "1 execução" in page
    assert "Agenda" in page
    bad = client.get("/agenda?timezone=Nowhere", headers={"Accept-Language": "pt-BR"})
    assert bad.status_code == 200 and "Nowhere" in bad.get_data(as_text=True)
    db.session.rollback()


def test_one_time_and_spread_chronos_are_listed_when_they_will_really_fire(app, make_chrono):
    from datetime import timedelta

    from chronoflow.models import utcnow
    from chronoflow.schedules import timing

    now = utcnow()
    at = (now + timedelta(hours=3)).replace(second=0, microsecond=0)
    once = make_chrono(name="Once", schedule=at.strftime("%Y-%m-%d %H:%M"), timezone="UTC")
    spread = make_chrono(name="Spread", schedule="0 * * * *", timezone="UTC", spread_s=600)
    built = agenda.build(24, "UTC", now=now)

    entries = [entry for hour in built.hours for entry in hour.chronos.values()]
    assert [(e.first, e.count) for e in entries if e.chrono_id == once.id] == [(at, 1)]
    offset = timing.spread_offset(spread.id, 600)
    spread_times = [e.first for e in entries if e.chrono_id == spread.id]
    assert len(spread_times) >= 23 and {t.minute * 60 + t.second for t in spread_times} == {offset}
