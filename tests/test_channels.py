"""Channels: the pages and /api/channels, on SQLite and PostgreSQL."""
import functools
import re

import pytest

from chronoflow.extensions import db
from chronoflow.models import Channel


@pytest.fixture
def post(post_form):
    return functools.partial(post_form, token_from="/channels/new")


def channels():
    return db.session.scalars(db.select(Channel).order_by(Channel.id)).all()


def test_the_chrono_form_links_to_where_a_channel_is_made(client):
    html = client.get("/chronos/new").get_data(as_text=True)
    assert "No WhatsApp channel yet" in html and 'href="/channels/new"' in html and 'href="/waha/sessions"' in html


def test_create_edit_and_delete_a_channel_with_the_form(app, client, post, fake_waha):
    app.config.update(fake_waha.settings())
    fake_waha.add_session("default", "SCAN_QR_CODE")
    fake_waha.pair("default", "5511987654321")
    assert "No channel yet" in client.get("/channels/").get_data(as_text=True)
    assert 'value="default"' in client.get("/channels/new?session=default").get_data(as_text=True)

    response = post("/channels/new", {"name": "Loja", "session": "default", "is_active": "y"})
    assert response.status_code == 302
    html = client.get("/channels/").get_data(as_text=True)
    assert "Loja" in html and "+55 11 98765-4321" in html and "connected" in html

    channel = channels()[0]
    post(f"/channels/{channel.id}/edit", {"name": "Loja Centro", "session": "default"})
    db.session.expire_all()
    assert (channels()[0].name, channels()[0].is_active) == ("Loja Centro", False)

    assert "Delete channel “Loja Centro”?" in client.get(f"/channels/{channel.id}/delete").get_data(as_text=True)
    post(f"/channels/{channel.id}/delete")
    assert channels() == []


@pytest.mark.parametrize("data, field, words", [
    ({"name": "", "session": "default"}, "name", "1 to 100 characters"),
    ({"name": "Loja", "session": "two words"}, "session", "letters, digits"),
    ({"name": "Taken", "session": "default"}, "name", "already has this name"),
])
def test_bad_fields_are_shown_next_to_them(post, data, field, words):
    db.session.add(Channel(name="Taken", session="default"))
    db.session.commit()
    html = post("/channels/new", data).get_data(as_text=True)
    assert re.search(rf'data-error-for="{field}">[^<]*{words}', html), html
    assert len(channels()) == 1


def test_a_channel_in_use_is_not_deleted(client, post, make_chrono):
    channel = Channel(name="Loja", session="default")
    db.session.add(channel)
    db.session.commit()
    make_chrono(name="Lembrete", target_type="MESSAGE", channel_id=channel.id, message_template="Oi",
                recipients=["11987654321"], schedule="@daily")
    html = client.get(f"/channels/{channel.id}/delete").get_data(as_text=True)
    assert "Lembrete" in html and "Delete for good" not in html
    response = post(f"/channels/{channel.id}/delete", follow_redirects=True)
    assert "Used by 1 chrono(s): Lembrete" in response.get_data(as_text=True) and len(channels()) == 1
    assert client.delete(f"/api/channels/{channel.id}").status_code == 409


def test_the_channel_list_says_when_waha_is_down(app, client, fake_waha):
    app.config.update(fake_waha.settings())
    db.session.add(Channel(name="Loja", session="default"))
    db.session.commit()
    fake_waha.close()
    html = client.get("/channels/").get_data(as_text=True)
    assert "Loja" in html and "not reachable" in html


def test_the_api(client):
    created = client.post("/api/channels", json={"name": " Loja ", "session": "default"})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["name"], body["session"], body["is_active"], body["type"]) == ("Loja", "default", True, "WHATSAPP")
    assert client.get("/api/channels").get_json()[0]["id"] == body["id"]
    changed = client.patch(f"/api/channels/{body['id']}", json={"is_active": False})
    assert changed.status_code == 200 and changed.get_json()["is_active"] is False
    duplicate = client.post("/api/channels", json={"name": "Loja"})
    assert duplicate.status_code == 409 and duplicate.get_json()["errors"]["json"]["name"]
    bad = client.patch(f"/api/channels/{body['id']}", json={"session": "a b"})
    assert bad.status_code == 422 and "session" in bad.get_json()["errors"]["json"]
    assert client.get("/api/channels/999").status_code == 404
    assert client.delete(f"/api/channels/{body['id']}").status_code == 204
    assert client.get("/api/channels").get_json() == []
