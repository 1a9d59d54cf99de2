from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField


class SessionForm(FlaskForm):
    name = StringField(_l("Session name"), default="default",
                       description=_l("WAHA's free edition (Core) has one session, named default."))


class PairingCodeForm(FlaskForm):
    phone = StringField(_l("Your WhatsApp number"), description=_l("e.g. +55 11 98765-4321"))
