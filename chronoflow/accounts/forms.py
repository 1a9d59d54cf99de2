from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField

from ..forms import SchemaForm


class LoginForm(SchemaForm):
    username = StringField(_l("Username"))
    password = PasswordField(_l("Password"))


class PasswordForm(SchemaForm):
    current_password = PasswordField(_l("Current password"))
    new_password = PasswordField(_l("New password"), description=_l("At least 8 characters."))
    confirm_password = PasswordField(_l("New password, again"))


class NewUserForm(SchemaForm):
    username = StringField(_l("Username"))
    password = PasswordField(_l("Password"), description=_l("At least 8 characters. They can change it in Settings."))
    is_admin = BooleanField(_l("Admin: may add and disable users"))


class TokenForm(SchemaForm):
    name = StringField(_l("Name"), description=_l("What will use it, e.g. n8n or a deploy script."))
