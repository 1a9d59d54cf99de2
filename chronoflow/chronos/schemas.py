"""What a chrono may be: the one validation path for the JSON API and the HTML forms.

ChronoInput loads and checks what a person or a program sends; errors come
back keyed by field, in the request's language. ChronoSchema and RunSchema
describe what the API returns (and the OpenAPI document).
"""
import re
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from .. import schedules
from ..waha import pacing, phones, receipts
from ..waha import template as message_template
from ..fields import Input, messages, text, whole_number
from ..i18n import _m, normalize_locale
from ..models import PausedReason, TargetType
from ..executors import outbound
from ..security import MASK, mask_headers

MISFIRE_POLICIES = ("coalesce", "skip")
OVERLAP_POLICIES = ("allow", "skip")

# RFC 9110 token: what a header name may contain.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
MAX_HEADERS = 50


class RunConfig(Input):
    class Meta:
        unknown = RAISE

    timeout_ms = whole_number(100, 600_000)
    max_attempts = whole_number(1, 20)
    retry_backoff_s = whole_number(1, 3600)
    max_backoff_s = whole_number(1, 86_400)
    # Reliability policies (see README "How runs work").
    misfire_policy = text(
        validate=validate.OneOf(MISFIRE_POLICIES, error=_m("Must be coalesce or skip.")),
        metadata={"enum": list(MISFIRE_POLICIES),
                  "description": "for runs later than misfire_grace_s (downtime, a backed-up queue): "
                                 "coalesce (default) calls once for all of them; skip calls none. Either "
                                 "way every missed one is recorded."},
    )
    misfire_grace_s = whole_number(1, 86_400, metadata={
        "description": "how late (seconds) a run may start before the misfire policy decides for it; "
                       "default MISFIRE_GRACE_SECONDS"})
    overlap_policy = text(
        validate=validate.OneOf(OVERLAP_POLICIES, error=_m("Must be allow or skip.")),
        metadata={"enum": list(OVERLAP_POLICIES),
                  "description": "when the previous run is still running: allow, or skip (recorded). "
                                 "Default: skip when the schedule is faster than the timeout."},
    )
    auto_pause_after = whole_number(0, 10_000, metadata={
        "description": "pause after this many failed runs in a row (0: never); default AUTO_PAUSE_AFTER_FAILURES"})


class ChronoInput(Input):
    class Meta:
        unknown = RAISE

    name = text(required=True, validate=validate.Length(1, 200, error=_m("Use 1 to 200 characters.")))
    description = text(load_default="", validate=validate.Length(max=2000, error=_m("At most 2000 characters.")))
    schedule = text(
        required=True,
        metadata={"description": "cron (5 fields, or 6 with seconds first) or a phrase such as "
                                 "'every 15 minutes' or 'todo dia às 18:30'"},
    )
    timezone = text(load_default=None, allow_none=True, metadata={"description": "IANA name"})
    target_type = text(load_default=TargetType.HTTP, metadata={"enum": list(TargetType.ALL)})
    method = text(load_default=None, metadata={
        "description": "HTTP method; unset: POST when there is a payload, else GET"})
    url = text(load_default=None, allow_none=True)
    headers = fields.Dict(
        keys=fields.String(),
        values=fields.String(error_messages=messages(invalid=_m("Header values must be text."))),
        load_default=dict,
        error_messages=messages(invalid=_m("Must be an object of header names to text values.")),
    )
    payload = fields.Raw(load_default=None, allow_none=True, metadata={"description": "JSON value; a string is sent as is"})
    is_active = fields.Boolean(load_default=True, error_messages=messages(invalid=_m("Must be true or false.")))
    config = fields.Nested(RunConfig, load_default=dict, error_messages=messages(type=_m("Must be an object.")))
    channel_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                                error_messages=messages(invalid=_m("Must be a whole number.")))
    message_template = text(load_default=None, allow_none=True,
                             validate=validate.Length(max=4096, error=_m("At most 4096 characters.")))
    recipients = fields.List(fields.String(), load_default=list,
                             error_messages=messages(invalid=_m("Must be a list of phone numbers or group ids.")))

    @pre_load
    def _tidy(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("name", "schedule", "timezone", "url", "method", "target_type"):
            if isinstance(data.get(key), str):
                data[key] = data[key].strip()
        for key in ("method", "target_type"):
            if isinstance(data.get(key), str):
                data[key] = data[key].upper()
        if data.get("timezone") == "":
            data["timezone"] = None
        return data

    @validates("schedule")
    def _schedule(self, value, **kwargs):
        try:
            schedules.normalize(value)
        except schedules.ScheduleError as exc:
            raise ValidationError(str(exc)) from None

    @validates("timezone")
    def _timezone(self, value, **kwargs):
        if value is not None:
            try:
                schedules.validate_timezone(value)
            except schedules.ScheduleError as exc:
                raise ValidationError(str(exc)) from None

    @validates("target_type")
    def _target_type(self, value, **kwargs):
        if value not in TargetType.ALL:
            raise ValidationError(_("Must be HTTP or MESSAGE."))

    @validates("method")
    def _method(self, value, **kwargs):
        allowed = current_app.config["ALLOWED_METHODS"]
        if value is not None and value not in allowed:
            raise ValidationError(_("Must be one of: %(methods)s.", methods=", ".join(allowed)))

    @validates("url")
    def _url(self, value, **kwargs):
        if value is None:
            return
        if len(value) > 2048 or any(c.isspace() for c in value):
            raise ValidationError(_("Not a valid URL."))
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError:
            raise ValidationError(_("Not a valid URL.")) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(_("Must be an http:// or https:// URL with a host."))

    @validates("message_template")
    def _message_template(self, value, **kwargs):
        if value:
            try:
                message_template.check(value)
            except message_template.MessageTemplateError as exc:
                raise ValidationError(str(exc)) from None

    @validates("recipients")
    def _recipients(self, value, **kwargs):
        _, problems = phones.parse_recipients(value, current_app.config["DEFAULT_PHONE_REGION"])
        if problems:
            raise ValidationError(problems)

    @validates("headers")
    def _headers(self, value, **kwargs):
        if len(value) > MAX_HEADERS:
            raise ValidationError(_("At most %(n)s headers.", n=MAX_HEADERS))
        for name, header_value in value.items():
            if not HEADER_NAME.match(name):
                raise ValidationError(_("'%(name)s' is not a valid header name.", name=name[:60]))
            if "\r" in header_value or "\n" in header_value or "\0" in header_value:
                raise ValidationError(_("The value of '%(name)s' must not contain line breaks.", name=name))

    @validates_schema(skip_on_field_errors=True)
    def _target(self, data, partial=False, **kwargs):
        if partial:
            return  # checked on the merged whole, see service.update_chrono
        errors = {}
        if data["target_type"] == TargetType.HTTP:
            if not data.get("url"):
                errors["url"] = [_("An HTTP chrono needs a URL.")]
            else:
                refused = _refused_destination(data["url"])
                if refused:
                    errors["url"] = [refused]
        else:
            if data.get("channel_id") is None:
                errors["channel_id"] = [_("A message chrono needs a WhatsApp channel.")]
            elif not _channel_exists(data["channel_id"]):
                errors["channel_id"] = [_("No channel with this id.")]
            if not (data.get("message_template") or "").strip():
                errors["message_template"] = [_("A message chrono needs a message.")]
            if not data.get("recipients"):
                errors["recipients"] = [_("A message chrono needs at least one recipient.")]
            else:
                too_many = _over_daily_cap(data)
                if too_many:
                    errors["recipients"] = [too_many]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _normalize(self, data, partial=False, **kwargs):
        if partial:
            return data
        data["cron"] = schedules.normalize(data["schedule"])
        data["timezone"] = data["timezone"] or current_app.config["DEFAULT_TIMEZONE"]
        if data["method"] is None:
            # A payload is meant to be sent: many servers drop a GET's body.
            data["method"] = "POST" if data["payload"] is not None else "GET"
        return data


def _refused_destination(url):
    """Why the outbound policy refuses `url` (in the request's language), or None.

    Checked again when sending: DNS may answer differently by then.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        outbound.check_host(parts.hostname, port, current_app.config.get("OUTBOUND_ALLOWED_NETWORKS"))
    except outbound.Blocked as exc:
        where = parts.hostname if exc.address in (None, parts.hostname) else f"{parts.hostname} ({exc.address})"
        if exc.reason in ("metadata", "link_local"):
            return _("%(host)s is a cloud metadata or link-local address: ChronoFlow never calls those.", host=where)
        reasons = {
            "loopback": _("a loopback address (this machine)"),
            "private": _("a private network address"),
            "unspecified": _("an unspecified address"),
            "reserved": _("not a public internet address"),
        }
        return _("%(host)s is %(reason)s. To call it, add its network or host name to "
                 "OUTBOUND_ALLOWED_NETWORKS.", host=where, reason=reasons[exc.reason])
    return None


def _over_daily_cap(data):
    """Why this chrono alone would send more than a WhatsApp number may in a day, or None."""
    timezone = data.get("timezone") or current_app.config["DEFAULT_TIMEZONE"]
    return pacing.cap_problem(schedules.normalize(data["schedule"]), timezone, len(data["recipients"]),
                              current_app.config["MESSAGE_DAILY_CAP"])


def _channel_exists(channel_id):
    from ..extensions import db
    from ..models import Channel

    return db.session.get(Channel, channel_id) is not None


class ChronoChanges(ChronoInput):
    """PATCH: any subset of ChronoInput's fields (its own name in the OpenAPI document)."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class ChronoSchema(Schema):
    """A chrono as the API returns it."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    schedule = fields.String()
    cron = fields.String()
    schedule_description = fields.Method("_describe", metadata={"description": "in the request's language"})
    timezone = fields.String()
    target_type = fields.String()
    method = fields.String()
    url = fields.String(allow_none=True)
    headers = fields.Function(lambda chrono: mask_headers(chrono.headers),
                              metadata={"description": "credential values (Authorization, *token*, *key*...) "
                                                       "masked; send the mask back to keep them"})
    signing_secret = fields.Constant(MASK, metadata={"description": "masked; shown once, when created "
                                                                    "or rotated"})
    payload = fields.Raw(allow_none=True)
    is_active = fields.Boolean()
    config = fields.Dict()
    channel_id = fields.Integer(allow_none=True)
    message_template = fields.String(allow_none=True)
    recipients = fields.List(fields.String())
    last_run_at = fields.AwareDateTime(allow_none=True)
    last_run_status = fields.String(allow_none=True)
    consecutive_failures = fields.Integer(metadata={"description": "failed runs in a row"})
    paused_reason = fields.String(allow_none=True, metadata={
        "enum": [PausedReason.FAILURES, None],
        "description": "why ChronoFlow paused it ('failures': too many failed runs in a row); "
                       "null when running or paused by a person"})
    next_run_at = fields.AwareDateTime(allow_none=True, attribute="next_occurrence",
                                       metadata={"description": "when it fires next; null while paused"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()

    def _describe(self, chrono):
        return schedules.describe(chrono.cron, normalize_locale(str(get_locale() or "en")))


class ChronoCreated(ChronoSchema):
    """A chrono as its creation (or a secret rotation) returns it: the signing secret, this once."""

    signing_secret = fields.String(metadata={"description": "signs every request: keep it now, "
                                                            "it is masked from now on"})


class RunSchema(Schema):
    id = fields.Integer()
    chrono_id = fields.Integer()
    scheduled_for = fields.AwareDateTime()
    trigger = fields.String()
    status = fields.String()
    attempt = fields.Integer()
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    lateness_ms = fields.Integer(allow_none=True, metadata={"description": "started_at - scheduled_for"})
    http_status = fields.Integer(allow_none=True)
    response_snippet = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)
    result = fields.Function(lambda run: receipts.run_result(run), allow_none=True, metadata={
        "description": "what the run did; a WhatsApp run's recipients[] each add delivery (sent, delivered, read, "
                       "played, error) and delivered_at, read_at, played_at, failed_at"})
    duration_ms = fields.Integer(allow_none=True)


class RunPage(Schema):
    total = fields.Integer()
    skip = fields.Integer()
    take = fields.Integer()
    items = fields.List(fields.Nested(RunSchema))


class ChronoPage(Schema):
    total = fields.Integer()
    skip = fields.Integer()
    take = fields.Integer()
    items = fields.List(fields.Nested(ChronoSchema))


class PageArgs(Input):
    class Meta:
        unknown = EXCLUDE

    skip = fields.Integer(load_default=0, error_messages=messages(invalid=_m("Must be a whole number.")),
                          validate=validate.Range(min=0, error=_m("Must be 0 or more.")))
    take = fields.Integer(load_default=20, error_messages=messages(invalid=_m("Must be a whole number.")),
                          validate=validate.Range(1, 200, error=_m("Must be between 1 and 200.")))
