"""What can be done to a channel, as plain functions. They flush; the caller commits."""
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import func, select

from ..extensions import db
from ..models import Channel, Chrono
from .schemas import ChannelInput, name_taken_error

EDITABLE = ("name", "session", "is_active")


def list_channels():
    return db.session.scalars(select(Channel).order_by(Channel.name)).all()


def create_channel(values):
    _check_name(values["name"])
    channel = Channel(type="WHATSAPP", **values)
    db.session.add(channel)
    db.session.flush()
    return channel


def update_channel(channel, changes):
    """Validated whole, as a create would be. Raises marshmallow.ValidationError."""
    current = {name: getattr(channel, name) for name in EDITABLE}
    values = ChannelInput().load({**current, **{k: v for k, v in changes.items() if k in EDITABLE}})
    _check_name(values["name"], channel.id)
    for name, value in values.items():
        setattr(channel, name, value)
    db.session.flush()
    return channel


def chronos_using(channel):
    return db.session.scalars(select(Chrono).where(Chrono.channel_id == channel.id).order_by(Chrono.name)).all()


def delete_channel(channel):
    """Refused while chronos use it: they would have nothing to send with."""
    using = chronos_using(channel)
    if using:
        raise ValidationError({"channel": [_("Used by %(n)s chrono(s): %(names)s. Choose another channel in them, "
                                             "or delete them, first.", n=len(using),
                                             names=", ".join(c.name for c in using[:5]))]})
    db.session.delete(channel)
    db.session.flush()


def _check_name(name, own_id=None):
    taken = db.session.scalar(
        select(func.count()).select_from(Channel).where(Channel.name == name, Channel.id != (own_id or -1))
    )
    if taken:
        raise name_taken_error()
