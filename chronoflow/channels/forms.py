from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField


class ChannelForm(FlaskForm):
    name = StringField(_l("Name"), description=_l("How chronos show it, e.g. Shop WhatsApp"))
    session = StringField(_l("WhatsApp session"), default="default",
                          description=_l("The linked number's session (WhatsApp > Sessions); usually default."))
    is_active = BooleanField(_l("Active"), default=True)

    def to_input(self):
        for field in self:
            field.errors = []
        return {"name": self.name.data or "", "session": self.session.data or "", "is_active": bool(self.is_active.data)}

    def attach_errors(self, messages):
        for name, problems in messages.items():
            field = getattr(self, name, None)
            target = field.errors if field is not None and hasattr(field, "errors") else self.form_errors
            target.extend(str(problem) for problem in problems)
