"""One-time chronos, start and end dates, spread windows and the `cron` alias, through the
API, the dispatcher, the runner and the pages, on SQLite and on PostgreSQL (issue 14)."""
import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from chronoflow.chronos import service
from chronoflow.executors import SCHEDULED_FOR_HEADER
from chronoflow.extensions import db
from chronoflow.models import Chrono, ChronoRun, RunStatus, utcnow
from chronoflow.schedules import chrono_run_times, spread_offset, wall_cron
from chronoflow.schedules.once import canonical
from chronoflow.scheduling.dispatch import dispatch_batch, horizon, plan

from .conftest import run_task, utc
from .support.target import Reply

SP = ZoneInfo("America/Sao_Paulo")


def post(client, body, **kwargs):
    return client.post("/api/chronos", json=body, **kwargs)


def field_errors(response):
    assert response.status_code == 422, response.get_json()
    return response.get_json()["errors"]["json"]


def dispatch(now):
    runs, _claimed, _advanced = dispatch_batch(now, horizon(now, 60), 1000)
    db.session.commit()
    return runs


def runs_of(chrono_id):
    return db.session.scalars(select(ChronoRun).where(ChronoRun.chrono_id == chrono_id)
                              .order_by(ChronoRun.scheduled_for)).all()


def local_day(days_ahead):
    """A date `days_ahead` from today in São Paulo, as dd/mm/yyyy."""
    return f"{datetime.now(SP) + timedelta(days=days_ahead):%d/%m/%Y}"


def arrived(chrono_id, seconds_ago=5):
    """Time passes: the one-time date (and the dispatcher's cursor) is now just behind us."""
    moment = utcnow().replace(microsecond=0) - timedelta(seconds=seconds_ago)
    tz = db.session.get(Chrono, chrono_id).timezone
    db.session.execute(update(Chrono).where(Chrono.id == chrono_id).values(
        run_at=moment, next_run_at=moment, schedule=canonical(moment, tz), cron=wall_cron(moment, tz)))
    db.session.commit()
    return moment


# --- one-time ---------------------------------------------------------------------------------

def test_a_one_time_chrono_runs_once_then_is_finished(client, target):
    target.respond("/once", body=b"ok")
    created = post(client, {"name": "Lembrete", "schedule": "amanhã às 9", "url": target.url("/once")})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    tomorrow = (datetime.now(SP) + timedelta(days=1)).date()
    assert body["schedule"] == f"{tomorrow:%Y-%m-%d} 09:00"  # what "amanhã" meant, kept
    assert body["run_at"] == body["next_run_at"] == datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=SP).astimezone(timezone.utc).isoformat()
    assert body["state"] == "active"
    chrono_id = body["id"]

    moment = arrived(chrono_id)
    (dispatched,) = dispatch(utcnow())
    assert dispatched.scheduled_for == moment
    assert db.session.get(Chrono, chrono_id).next_run_at is None
    assert dispatch(utcnow() + timedelta(days=400)) == []  # nothing more, ever

    run_task(dispatched.run_id)
    (run,) = runs_of(chrono_id)
    assert run.status == RunStatus.SUCCESS
    assert len(target.received("/once")) == 1

    shown = client.get(f"/api/chronos/{chrono_id}", headers={"Accept-Language": "pt-BR"}).get_json()
    assert (shown["state"], shown["is_active"], shown["next_run_at"]) == ("finished", True, None)
    assert shown["schedule_description"].startswith("Uma vez, em ")
    page = client.get(f"/chronos/{chrono_id}", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert "concluída" in page and "nenhuma: concluída" in page
    listed = client.get("/?state=finished", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Lembrete" in listed and "finished" in listed
    assert "Lembrete" not in client.get("/?state=active").get_data(as_text=True)


def test_the_one_run_of_a_one_time_chrono_is_still_retried(client, target):
    target.respond("/once", [Reply(500, b"down"), Reply(200, b"ok")])
    chrono_id = post(client, {"name": "Once", "schedule": "daqui a 2 horas", "url": target.url("/once"),
                              "config": {"retry_backoff_s": 1}}).get_json()["id"]
    arrived(chrono_id)
    (dispatched,) = dispatch(utcnow())

    run_task(dispatched.run_id)
    assert runs_of(chrono_id)[0].status == RunStatus.RETRYING
    run_task(dispatched.run_id)

    (run,) = runs_of(chrono_id)
    assert (run.status, run.attempt) == (RunStatus.SUCCESS, 2)
    assert db.session.get(Chrono, chrono_id).state == "finished"


def test_a_finished_chrono_is_armed_again_by_a_new_date_and_keeps_its_history(client, target):
    target.respond("/once", body=b"ok")
    chrono_id = post(client, {"name": "Once", "schedule": "in 2 hours", "url": target.url("/once")}).get_json()["id"]
    arrived(chrono_id)
    (dispatched,) = dispatch(utcnow())
    run_task(dispatched.run_id)

    renamed = client.patch(f"/api/chronos/{chrono_id}", json={"name": "Once, renamed"})
    assert renamed.status_code == 200, renamed.get_json()  # its date has passed: kept, not refused
    assert renamed.get_json()["state"] == "finished"

    past = client.patch(f"/api/chronos/{chrono_id}", json={"schedule": "01/01/2020 10:00"})
    assert "has already passed" in field_errors(past)["schedule"][0]

    rearmed = client.patch(f"/api/chronos/{chrono_id}", json={"schedule": f"{local_day(3)} 10:00"}).get_json()
    assert rearmed["state"] == "active" and rearmed["next_run_at"] == rearmed["run_at"]
    assert len(runs_of(chrono_id)) == 1


def test_an_iso_timestamp_is_a_one_time_schedule_in_the_api(client):
    moment = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    body = post(client, {"name": "ISO", "schedule": moment.isoformat().replace("+00:00", "Z"),
                         "url": "https://example.com/"}).get_json()
    assert datetime.fromisoformat(body["run_at"]) == moment == datetime.fromisoformat(body["next_run_at"])


def test_a_one_time_chrono_refuses_bounds_and_spread(client):
    errors = field_errors(post(client, {"name": "x", "schedule": "amanhã às 9", "url": "https://example.com/",
                                        "ends_at": local_day(9), "spread_s": 30}))
    assert set(errors) == {"ends_at", "spread_s"}
    assert db.session.scalar(select(db.func.count()).select_from(Chrono)) == 0


# --- start and end dates ------------------------------------------------------------------------

def test_start_and_end_dates_are_read_in_the_chronos_timezone_and_stored_in_utc(client):
    starts, ends = local_day(10), local_day(12)
    body = post(client, {"name": "Campanha", "schedule": "todo dia às 18h", "url": "https://example.com/",
                         "starts_at": starts, "ends_at": ends}).get_json()
    first = datetime.strptime(starts, "%d/%m/%Y").replace(tzinfo=SP)
    last = datetime.strptime(ends, "%d/%m/%Y").replace(hour=23, minute=59, second=59, tzinfo=SP)
    assert datetime.fromisoformat(body["starts_at"]) == first and body["starts_at"].endswith("+00:00")
    assert datetime.fromisoformat(body["ends_at"]) == last
    assert datetime.fromisoformat(body["next_run_at"]) == first.replace(hour=18)
    chrono = db.session.get(Chrono, body["id"])
    assert chrono_run_times(chrono, utcnow(), 10) == [first.replace(hour=18) + timedelta(days=d) for d in range(3)]

    page = client.get(f"/chronos/{body['id']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'id="bounds">From .+ until .+</span>', page)


@pytest.mark.parametrize("change, field, words", [
    ({"starts_at": local_day(5), "ends_at": local_day(4)}, "ends_at", "must come after the start"),
    ({"ends_at": "01/01/2020"}, "ends_at", "already passed"),
    ({"starts_at": "soon"}, "starts_at", "Not a date I can read"),
    ({"spread_s": 7200}, "spread_s", "between 0 and 3600"),
    ({"schedule": "*/5 * * * *", "spread_s": 600}, "spread_s", "At most 300 seconds"),
])
def test_bad_bounds_and_spreads_name_their_field(client, change, field, words):
    errors = field_errors(post(client, {"name": "x", "schedule": "todo dia às 9", "url": "https://example.com/",
                                        **change}))
    assert list(errors) == [field] and words in errors[field][0]


def test_past_its_end_a_chrono_is_finished_not_paused(client, make_chrono):
    now = utcnow().replace(second=0, microsecond=0)
    chrono = make_chrono(schedule="* * * * *", ends_at=(now + timedelta(days=1)).isoformat())
    chrono_id = chrono.id
    # Time passes: its end is now behind us, with a few runs still to dispatch before it.
    ends = utcnow() - timedelta(seconds=30)
    db.session.execute(update(Chrono).where(Chrono.id == chrono_id).values(
        ends_at=ends, next_run_at=now - timedelta(minutes=3)))
    db.session.commit()

    dispatch(utcnow())

    chrono = db.session.get(Chrono, chrono_id)
    assert chrono.next_run_at is None and chrono.is_active and chrono.state == "finished"
    assert runs_of(chrono_id) and max(run.scheduled_for for run in runs_of(chrono_id)) <= ends
    body = client.get(f"/api/chronos/{chrono_id}").get_json()
    assert (body["state"], body["next_run_at"]) == ("finished", None)

    later = (datetime.now(SP) + timedelta(days=5)).strftime("%Y-%m-%d %H:%M")
    armed = client.patch(f"/api/chronos/{chrono_id}", json={"ends_at": later}).get_json()
    assert armed["state"] == "active" and armed["next_run_at"] is not None


def test_an_hourly_chrono_ending_on_the_fall_back_day_runs_every_real_hour_until_its_end():
    ends = datetime(2026, 11, 1, 23, 59, 59, tzinfo=ZoneInfo("America/New_York"))
    chrono = SimpleNamespace(id=1, cron="0 * * * *", timezone="America/New_York", config={}, run_at=None,
                             starts_at=None, ends_at=ends.astimezone(timezone.utc), spread_s=0,
                             next_run_at=utc(2026, 11, 1, 4, 0))  # 00:00 EDT
    result = plan(chrono, utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 12, 0))
    assert len(result.fire) == 25  # a 25-hour day: 01:00 comes twice
    assert result.fire[-1] == utc(2026, 11, 2, 4, 0)  # 23:00 EST
    assert result.following is None


def test_a_one_time_run_on_the_spring_forward_day_is_dispatched_right_after_the_gap(client):
    chrono = SimpleNamespace(id=1, cron="30 2 8 3 *", timezone="America/New_York", config={},
                             run_at=utc(2026, 3, 8, 7, 0), starts_at=None, ends_at=None, spread_s=0,
                             next_run_at=utc(2026, 3, 8, 7, 0))
    result = plan(chrono, utc(2026, 3, 8, 6, 59, 30), utc(2026, 3, 8, 7, 1))
    assert (result.fire, result.following) == ([utc(2026, 3, 8, 7, 0)], None)


# --- spread -------------------------------------------------------------------------------------

def test_a_spread_run_is_scheduled_and_announced_at_its_real_time(make_chrono, target):
    target.respond("/spread", body=b"ok")
    chrono = make_chrono(schedule="* * * * *", spread_s=50, timezone="UTC", url=target.url("/spread"),
                         config={"misfire_grace_s": 3600})
    offset = spread_offset(chrono.id, 50)
    assert chrono.next_run_at.second == offset and chrono.spread_offset_s == offset
    minute = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=2)
    chrono.next_run_at = minute + timedelta(seconds=offset)
    db.session.commit()

    dispatched = dispatch(minute + timedelta(seconds=offset))

    assert [d.scheduled_for for d in dispatched][0] == minute + timedelta(seconds=offset)
    assert all(d.scheduled_for.second == offset for d in dispatched)
    run_task(dispatched[0].run_id)
    got = target.received("/spread")[0]
    assert got.headers[SCHEDULED_FOR_HEADER] == (minute + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = db.session.get(ChronoRun, dispatched[0].run_id)
    assert run.lateness_ms < 3 * 60 * 1000  # measured from the spread time, not the minute


def test_the_preview_shows_the_real_spread_times_of_a_saved_chrono(client, make_chrono):
    chrono = make_chrono(schedule="0 * * * *", spread_s=1800, timezone="UTC")
    body = client.get(f"/chronos/preview?schedule=0+*+*+*+*&timezone=UTC&spread_s=1800&chrono={chrono.id}").get_json()
    assert [datetime.fromisoformat(t["iso"]) for t in body["next"]] == chrono_run_times(chrono, utcnow(), 5)
    assert all(datetime.fromisoformat(t["iso"]).minute * 60 + datetime.fromisoformat(t["iso"]).second
               == spread_offset(chrono.id, 1800) for t in body["next"])

    fresh = client.get("/chronos/preview?schedule=0+*+*+*+*&timezone=UTC&spread_s=1800",
                       headers={"Accept-Language": "pt-BR"}).get_json()
    assert "até 1800 s depois" in fresh["description"]


def test_the_preview_says_when_a_bounded_or_one_time_schedule_has_no_run_left(client):
    once = client.get("/chronos/preview?schedule=amanhã+às+9&timezone=America/Sao_Paulo").get_json()
    assert once["ok"] and len(once["next"]) == 1 and once["description"].startswith("Once, on ")
    bounded = client.get("/chronos/preview", query_string={
        "schedule": "todo dia às 9", "timezone": "America/Sao_Paulo", "starts_at": local_day(3),
        "ends_at": local_day(4)}).get_json()
    assert len(bounded["next"]) == 2 and "From " in bounded["description"]
    past = client.get("/chronos/preview?schedule=01/01/2020+10:00").get_json()
    assert not past["ok"] and "already passed" in past["error"]


# --- the original system's name: cron ----------------------------------------------------------

def test_cron_is_accepted_as_the_schedule(client):
    body = post(client, {"name": "Legacy", "cron": "todo dia as 18", "url": "https://example.com/"}).get_json()
    assert (body["schedule"], body["cron"]) == ("todo dia as 18", "0 18 * * *")


def test_cron_and_schedule_that_mean_the_same_are_fine(client):
    response = post(client, {"name": "Both", "cron": "0 18 * * *", "schedule": "todo dia as 18",
                             "url": "https://example.com/"})
    assert response.status_code == 201


def test_cron_and_schedule_that_differ_are_refused_naming_cron(client):
    errors = field_errors(post(client, {"name": "Both", "cron": "0 19 * * *", "schedule": "todo dia as 18",
                                        "url": "https://example.com/"}, headers={"Accept-Language": "pt-BR"}))
    assert errors == {"cron": ["cron é outro nome para schedule, e os dois são diferentes: envie só um deles."]}
    assert db.session.scalar(select(db.func.count()).select_from(Chrono)) == 0


def test_a_patch_may_use_cron_too(client):
    chrono_id = post(client, {"name": "P", "schedule": "todo dia as 18", "url": "https://example.com/"}).get_json()["id"]
    body = client.patch(f"/api/chronos/{chrono_id}", json={"cron": "0 7 * * 1-5"}).get_json()
    assert (body["schedule"], body["cron"]) == ("0 7 * * 1-5", "0 7 * * 1-5")


# --- the form ------------------------------------------------------------------------------------

FORM = {"name": "Lembrete", "timezone": "America/Sao_Paulo", "target_type": "HTTP", "method": "GET",
        "url": "https://example.com/", "payload_format": "json", "is_active": "y", "action": "save"}


def test_the_form_saves_a_one_time_chrono(post_form, client):
    response = post_form("/chronos/new", {**FORM, "schedule": "amanhã às 9"})
    assert response.status_code == 302
    chrono = db.session.scalars(select(Chrono)).one()
    assert chrono.run_at is not None and chrono.run_at.astimezone(SP).hour == 9
    page = client.get(response.headers["Location"], headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert "Uma vez, em " in page


def test_the_form_saves_start_end_and_spread_and_shows_them_back(post_form, client):
    starts = (datetime.now(SP) + timedelta(days=2)).strftime("%Y-%m-%dT08:00")
    ends = (datetime.now(SP) + timedelta(days=9)).strftime("%Y-%m-%dT18:30")
    response = post_form("/chronos/new", {**FORM, "schedule": "de hora em hora das 8 às 18", "starts_at": starts,
                                          "ends_at": ends, "spread_s": "120"})
    assert response.status_code == 302
    chrono = db.session.scalars(select(Chrono)).one()
    assert chrono.starts_at == datetime.fromisoformat(starts).replace(tzinfo=SP)
    assert chrono.ends_at == datetime.fromisoformat(ends).replace(tzinfo=SP)
    assert chrono.spread_s == 120
    edit = client.get(f"/chronos/{chrono.id}/edit").get_data(as_text=True)
    assert f'value="{starts}"' in edit and f'value="{ends}"' in edit and 'value="120"' in edit

    resaved = post_form(f"/chronos/{chrono.id}/edit", {**FORM, "name": "Renamed",
                                                       "schedule": "de hora em hora das 8 às 18",
                                                       "starts_at": starts, "ends_at": ends, "spread_s": "120"})
    assert resaved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Chrono, chrono.id).ends_at == datetime.fromisoformat(ends).replace(tzinfo=SP)


def test_the_form_puts_a_bad_end_next_to_its_field_in_portuguese(post_form):
    response = post_form("/chronos/new", {**FORM, "schedule": "todo dia às 9", "starts_at": "2030-01-10T08:00",
                                          "ends_at": "2030-01-09T08:00"}, headers={"Accept-Language": "pt-BR"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-error-for="ends_at">\s*O fim precisa vir depois do início\.', html)
    assert db.session.scalar(select(db.func.count()).select_from(Chrono)) == 0


def test_service_create_computes_the_spread_from_the_new_id(app):
    from chronoflow.chronos.schemas import ChronoInput

    values = ChronoInput().load({"name": "s", "schedule": "0 * * * *", "url": "https://example.com/",
                                 "spread_s": 3600, "timezone": "UTC"})
    chrono = service.create_chrono(values)
    db.session.commit()
    assert chrono.next_run_at.minute * 60 + chrono.next_run_at.second == spread_offset(chrono.id, 3600)


def test_the_spread_offset_survives_pause_resume_and_edits(make_chrono):
    chrono = make_chrono(schedule="0 * * * *", spread_s=3600, timezone="UTC")
    offset = spread_offset(chrono.id, 3600)
    service.pause(chrono)
    service.resume(chrono)
    service.update_chrono(chrono, {"name": "renamed", "schedule": "every hour"})
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(Chrono, chrono.id)
    assert again.next_run_at.minute * 60 + again.next_run_at.second == offset == again.spread_offset_s


@pytest.mark.parametrize("cron", ["0 9 1/2 * *", "0 8-18/2 * * *"])
def test_a_cron_with_a_slash_is_not_read_as_a_date(client, cron):
    body = post(client, {"name": "Slash", "schedule": cron, "url": "https://example.com/"}).get_json()
    assert (body["cron"], body["run_at"], body["state"]) == (cron, None, "active")
