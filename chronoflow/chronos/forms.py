"""The chrono form: how a browser's fields become ChronoInput's data and back.

Deciding what is valid is ChronoInput's job (the API uses the same schema);
the form only turns text boxes into values (JSON, numbers, lists) and puts
each error next to its field.
"""
import json
import re
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice as Choice

from ..forms import SchemaForm
from ..models import TargetType
from ..security import mask_headers

NUMBER_FIELDS = ("max_attempts", "auto_pause_after")
CHOICE_FIELDS = ("misfire_policy", "overlap_policy")  # "" leaves the default
CONFIG_FIELDS = NUMBER_FIELDS + CHOICE_FIELDS + ("timeout_ms",)
SUCCESS_TEXT_FIELDS = ("statuses", "body_contains", "json_pointer")
# The timeout is typed in seconds (people think in them) and kept in milliseconds.
SECONDS = re.compile(r"\d{1,7}(?:[.,]\d{1,3})?", re.ASCII)
TIMEOUT_RANGE_S = (0.1, 600)  # ChronoInput's 100 to 600,000 ms


class ChronoForm(SchemaForm):
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"))
    schedule = StringField(_l("Schedule"), description=_l("e.g. todo dia às 18:30, every 15 minutes, 0 9 * * 1-5"))
    timezone = StringField(_l("Timezone"))
    starts_at = StringField(_l("Starts"), description=_l("Optional: no run before then (in its timezone)."))
    ends_at = StringField(_l("Ends"), description=_l(
        "Optional: no run after then; past it the chrono is finished."))
    spread_s = StringField(_l("Spread runs over (seconds)"), description=_l(
        "Optional: each run comes a fixed delay within this window after its time, the same every time, so many "
        "chronos on one schedule do not all call at the same second. At most 3600, and at most the time between "
        "two runs."))
    target_type = RadioField(
        _l("What to do"),
        choices=[Choice(TargetType.HTTP, _l("Call a URL (webhook)")),
                 Choice(TargetType.MESSAGE, _l("Send a WhatsApp message"))],
        default=TargetType.HTTP,
    )
    method = SelectField(_l("Method"), default="GET")
    url = StringField(_l("URL"), description=_l("e.g. https://example.com/hook"))
    headers = TextAreaField(_l("Headers"), description=_l('A JSON object, e.g. {"Authorization": "Bearer abc"}'))
    payload_format = SelectField(_l("Body format"), choices=[Choice("json", "JSON"), Choice("text", _l("Text"))],
                                 default="json")
    payload = TextAreaField(_l("Body"))
    channel_id = SelectField(_l("WhatsApp channel"), coerce=str)
    message_template = TextAreaField(_l("Message"), description=_l(
        "You can use {{ chrono }}, {{ date }}, {{ time }}, {{ weekday }}, {{ recipient }} (and {{ date_en }}, "
        "{{ time_en }}, {{ weekday_en }} in English): they are filled in when it is sent."))
    recipients = TextAreaField(_l("Recipients"), description=_l(
        "One per line: a phone number as you would write it (+55 11 98765-4321, or 11 98765-4321 for Brazil), "
        "or a group id ending in @g.us"))
    is_active = BooleanField(_l("Active"), default=True)
    timeout_s = StringField(_l("Wait for an answer (seconds)"), description=_l("Then the attempt counts as failed."))
    max_attempts = StringField(_l("Attempts"), description=_l("Tries in all, the first one included"))
    auto_pause_after = StringField(_l("Pause after failures in a row"), description=_l("0: never pause."))
    # Radio buttons, not selects: their words wrap on a phone instead of being cut off.
    misfire_policy = RadioField(_l("After the service was down"), choices=[
        Choice("", _l("Run a missed time once (default)")),
        Choice("skip", _l("Skip missed times (they are recorded)"))], default="")
    overlap_policy = RadioField(_l("If the previous run is still going"), choices=[
        Choice("", _l("Skip, when the schedule is faster than the timeout (default)")),
        Choice("skip", _l("Skip this run (it is recorded)")),
        Choice("allow", _l("Run anyway, side by side"))], default="")
    # Success rules (ChronoInput's "success"): named as its fields, so their errors land here.
    statuses = StringField(_l("Statuses that count as success"), description=_l(
        "Codes and ranges, e.g. 200-299,404. Empty: 200 to 399."))
    body_contains = StringField(_l("The answer must contain"), description=_l("A text, e.g. \"ok\""))
    json_pointer = StringField(_l("JSON value at"), description=_l("A JSON pointer, e.g. /status"))
    json_equals = StringField(_l("must be"), description=_l(
        "A JSON value (ok, \"ok\", true, 1). Empty: it only has to be there."))
    curl = TextAreaField(_l("Paste a curl command"))
    test_to = StringField(_l("Send the test to"), description=_l(
        "One phone number, e.g. your own. Empty: the WhatsApp number that sends (the message arrives in its "
        "own chat)."))

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.method.choices = [Choice(method) for method in current_app.config["ALLOWED_METHODS"]]
        self.channel_id.choices = [Choice("", "—")] + [Choice(str(c.id), c.name) for c in channels]
        if not self.is_submitted() and not self.timezone.data:
            self.timezone.data = current_app.config["DEFAULT_TIMEZONE"]

    @classmethod
    def for_chrono(cls, chrono, **kwargs):
        """The form filled with an existing chrono (what the person typed, not what we derived)."""
        form = cls(obj=chrono, **kwargs)
        if not form.is_submitted():
            zone = ZoneInfo(chrono.timezone)
            for name in ("starts_at", "ends_at"):  # as a browser's datetime-local box shows them
                moment = getattr(chrono, name)
                getattr(form, name).data = _local_text(moment, zone)
            form.spread_s.data = str(chrono.spread_s) if chrono.spread_s else ""
        # Settings the form has no field for (misfire_policy...) survive an edit.
        form.kept_config = {k: v for k, v in (chrono.config or {}).items() if k not in CONFIG_FIELDS}
        if not form.is_submitted():
            # Credentials show as the mask; a mask sent back keeps the stored value.
            headers = mask_headers(chrono.headers)
            form.headers.data = json.dumps(headers, indent=2, ensure_ascii=False) if headers else ""
            form.payload_format.data, form.payload.data = payload_text(chrono.payload)
            form.channel_id.data = str(chrono.channel_id or "")
            form.recipients.data = "\n".join(chrono.recipients or [])
            for name in NUMBER_FIELDS + CHOICE_FIELDS:
                value = (chrono.config or {}).get(name)
                getattr(form, name).data = "" if value in (None, "coalesce") else str(value)
            form.timeout_s.data = _seconds_text((chrono.config or {}).get("timeout_ms"))
            rules = chrono.success or {}
            for name in SUCCESS_TEXT_FIELDS:
                getattr(form, name).data = rules.get(name) or ""
            form.json_equals.data = json.dumps(rules["json_equals"], ensure_ascii=False) \
                if "json_equals" in rules else ""
        return form

    def to_input(self):
        """ChronoInput's data from the fields; a box that cannot be read (bad JSON, not a
        number) gets its error and a neutral value, so the rest is still checked."""
        for field in self:
            field.errors = []  # a tuple until WTForms validates, which it never does here
        data = {
            "name": self.name.data or "",
            "description": self.description.data or "",
            "schedule": self.schedule.data or "",
            "timezone": self.timezone.data or None,
            "target_type": self.target_type.data,
            "method": self.method.data,
            "url": (self.url.data or "").strip() or None,
            "is_active": bool(self.is_active.data),
            "message_template": self.message_template.data or None,
            "recipients": [line.strip() for line in (self.recipients.data or "").splitlines() if line.strip()],
            "channel_id": _whole_number(self.channel_id.data),
            "starts_at": (self.starts_at.data or "").strip() or None,
            "ends_at": (self.ends_at.data or "").strip() or None,
        }
        spread = (self.spread_s.data or "").strip()
        data["spread_s"] = _whole_number(spread) if spread else 0
        if data["spread_s"] is None:
            self.spread_s.errors.append(_("Must be a whole number."))
            data["spread_s"] = 0
        data["headers"] = self._json(self.headers, _("Write the headers as a JSON object, e.g. "
                                                      '{"Authorization": "Bearer abc"}.'), default={})
        if self.payload_format.data == "json":
            data["payload"] = self._json(self.payload, _("This is not valid JSON. Fix it, or choose Text as the "
                                                         "body format."), default=None)
        else:
            data["payload"] = self.payload.data or None
        config = {name: getattr(self, name).data for name in CHOICE_FIELDS if getattr(self, name).data}
        for name in NUMBER_FIELDS:
            text = (getattr(self, name).data or "").strip()
            if text:
                number = _whole_number(text)
                if number is None:
                    getattr(self, name).errors.append(_("Must be a whole number."))
                else:
                    config[name] = number  # ChronoInput checks its range
        text = (self.timeout_s.data or "").strip()
        if text:
            if SECONDS.fullmatch(text):
                config["timeout_ms"] = round(float(text.replace(",", ".")) * 1000)
            else:
                self.timeout_s.errors.append(_("Write a number of seconds, e.g. 10 or 2.5."))
        data["config"] = {**getattr(self, "kept_config", {}), **config}
        data["success"] = self._success()
        return data

    def _success(self):
        """The success rules typed, or None (the default) when every box is empty."""
        rules = {name: (getattr(self, name).data or "").strip() for name in SUCCESS_TEXT_FIELDS}
        rules = {name: value for name, value in rules.items() if value}
        expected = (self.json_equals.data or "").strip()
        if expected:
            try:
                rules["json_equals"] = json.loads(expected)
            except (ValueError, RecursionError):
                rules["json_equals"] = expected  # a bare word is meant as text: ok is "ok"
        return rules or None

    def attach_errors(self, messages):
        """As SchemaForm's; the timeout's range is said in the seconds the box takes."""
        config = messages.get("config")
        if isinstance(config, dict) and "timeout_ms" in config:
            messages = {**messages, "config": {k: v for k, v in config.items() if k != "timeout_ms"}}
            low, high = TIMEOUT_RANGE_S
            self.timeout_s.errors = [*self.timeout_s.errors, _("Must be between %(low)s and %(high)s seconds.",
                                                               low=f"{low:g}", high=f"{high:g}")]
        super().attach_errors(messages)

    def _json(self, field, message, default):
        text = (field.data or "").strip()
        if not text:
            return default
        try:
            return json.loads(text)
        except (ValueError, RecursionError):  # not JSON, a number past 4300 digits, too deep
            field.errors.append(message)
            return default

    def fill_from_curl(self, parsed):
        if parsed["method"] in current_app.config["ALLOWED_METHODS"]:
            self.method.data = parsed["method"]
        self.url.data = parsed["url"]
        self.headers.data = json.dumps(parsed["headers"], indent=2, ensure_ascii=False) if parsed["headers"] else ""
        self.payload_format.data, self.payload.data = payload_text(parsed["payload"])
        if "timeout_ms" in parsed:
            self.timeout_s.data = _seconds_text(parsed["timeout_ms"])
        self.target_type.data = TargetType.HTTP


def _seconds_text(milliseconds):
    """10000 -> "10", 2500 -> "2.5"; None -> ""."""
    return "" if milliseconds is None else f"{milliseconds / 1000:g}"


def _whole_number(text):
    """int(text) for a box of decimal digits (any script's, as int() reads them), else None.
    Past 30 digits it is not a number anyone meant, and int() would refuse 4300."""
    text = (text or "").strip()
    return int(text) if text.isdecimal() and len(text) <= 30 else None


def payload_text(payload):
    """(format, text) for a stored payload."""
    if payload is None:
        return "json", ""
    if isinstance(payload, str):
        return "text", payload
    return "json", json.dumps(payload, indent=2, ensure_ascii=False)


def _local_text(moment, zone):
    """A stored start or end as the datetime-local box shows it, to the second when it has
    seconds (an end given as a date is its last second): it reads back to the same instant."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%dT%H:%M}" + (f":{local.second:02d}" if local.second else "")
