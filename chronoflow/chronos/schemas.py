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

from .. import outcomes, schedules
from ..waha import pacing, phones, receipts
from ..waha import template as message_template
from ..fields import (
    MAX_ID,
    MAX_JSON_DEPTH,
    Input,
    json_problem,
    messages,
    text,
    timezone_name,
    whole_number,
    yes_no,
)
from ..i18n import _m, normalize_locale
from ..models import ChronoState, PausedReason, TargetType, utcnow
from ..executors import outbound, request_template, success
from ..executors.headers import FRAMING, refused
from ..security import MASK, mask_headers

MISFIRE_POLICIES = ("coalesce", "skip")
TIMING_KEY = "__timing"  # see ChronoInput.timing
OVERLAP_POLICIES = ("allow", "skip")

# RFC 9110 token: what a header name may contain.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
WHITESPACE = re.compile(r"\s")
MAX_HEADERS = 50
# Lengths, in characters (README "Limits"); the database columns are as long.
NAME_LENGTH = 200
DESCRIPTION_LENGTH = 2000
SCHEDULE_LENGTH = 200
URL_LENGTH = 2048
HEADER_NAME_LENGTH = 100
TEMPLATE_LENGTH = 4096
# Pages of the API's lists: small enough that a page of the largest chronos stays a few MB.
MAX_TAKE = 100
MAX_SKIP = 10**9


def header_value(value):
    """What a header value may hold: one line of Latin-1 text (as HTTP sends it)."""
    if "\r" in value or "\n" in value:
        raise ValidationError(_("Header values must not contain line breaks."))
    if value == MASK:  # a saved value's stand-in (chronos/credentials.py); _target checks one is behind it
        return
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValidationError(_("Header values must be Latin-1 text (encode others, e.g. as base64).")) from None


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


class SuccessRules(Input):
    """When a webhook's answer counts as success (executors/success.py)."""

    class Meta:
        unknown = RAISE

    statuses = text(200, load_default=None, allow_none=True, metadata={
        "description": "HTTP statuses that count as success: codes and ranges, e.g. '200-299,404'; "
                       "default 200-399", "example": "200-299,404"})
    body_contains = text(500, load_default=None, allow_none=True, metadata={
        "description": "a text the body must contain (its first 64 KiB are read)"})
    json_pointer = text(500, load_default=None, allow_none=True, metadata={
        "description": "RFC 6901 pointer to a value the JSON body must have, e.g. '/status'", "example": "/status"})
    json_equals = fields.Raw(allow_none=True, metadata={
        "description": "the JSON value found at json_pointer must equal this (leave out: it only has to exist)",
        "example": "ok"})

    @validates("statuses")
    def _statuses(self, value, **kwargs):
        if value:
            try:
                success.parse_statuses(value)
            except ValueError as exc:
                raise ValidationError(_("“%(item)s” is not a status or a range: write codes and ranges from 100 "
                                        "to 599, e.g. 200-299,404.", item=str(exc))) from None

    @validates("json_pointer")
    def _pointer(self, value, **kwargs):
        if value:
            try:
                success.parse_pointer(value)
            except ValueError:
                raise ValidationError(_("Write a JSON pointer starting with /, e.g. /status or /data/0/state."))\
                    from None

    @validates("json_equals")
    def _equals(self, value, **kwargs):
        problem = json_problem(value, 2000)
        if problem:
            raise ValidationError(str(problem))

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _pair(self, data, original, **kwargs):
        if isinstance(original, dict) and "json_equals" in original and not original.get("json_pointer"):
            raise ValidationError({"json_pointer": [_("Say where the value is (a JSON pointer such as /status).")]})

    @post_load
    def _compact(self, data, **kwargs):
        """Only the rules set; None when none is (the default, and no body read)."""
        rules = {name: value for name, value in data.items() if value not in (None, "") or name == "json_equals"}
        return rules or None


class ChronoInput(Input):
    """`saved`: the chrono being edited. Its one-time date or end, read back unchanged,
    may have passed (a finished chrono's name can still be edited); a new one may not."""

    class Meta:
        unknown = RAISE

    def __init__(self, *args, saved=None, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.saved = saved
        self._now = now

    @property
    def now(self):
        # Not fixed at construction: flask-smorest makes one instance for every request.
        return self._now or utcnow()

    name = text(NAME_LENGTH, min_length=1, required=True, metadata={"example": "Morning report"})
    description = text(DESCRIPTION_LENGTH, load_default="")
    schedule = text(
        SCHEDULE_LENGTH, min_length=1,
        required=True,
        metadata={"description": "cron (5 fields, or 6 with seconds first) or a phrase such as "
                                 "'every 15 minutes' or 'todo dia às 18:30'; a date makes a one-time chrono "
                                 "('amanhã às 9', 'em 24/12 às 18h', '2026-12-24T18:00:00-03:00'). Also "
                                 "accepted as 'cron', its name in the original system",
                  "example": "dias úteis às 9"},
    )
    timezone = timezone_name()
    target_type = text(load_default=TargetType.HTTP, metadata={"enum": list(TargetType.ALL)})
    method = text(10, load_default=None, metadata={
        "description": "HTTP method; unset: POST when there is a payload, else GET"})
    url = text(URL_LENGTH, load_default=None, allow_none=True, metadata={"example": "https://example.com/report"})
    headers = fields.Dict(
        keys=text(HEADER_NAME_LENGTH, min_length=1, validate=validate.Regexp(
            HEADER_NAME, error=_m("Not a valid header name: use letters, digits and ! # $ % & ' * + - . ^ _ ` | ~."))),
        values=text(validate=[header_value],
                    error_messages=messages(invalid=_m("Header values must be text."))),
        load_default=dict,
        validate=validate.Length(max=MAX_HEADERS, error=_m("At most %(n)s headers.", n=MAX_HEADERS)),
        error_messages=messages(invalid=_m("Must be an object of header names to text values.")),
        metadata={"maxProperties": MAX_HEADERS,
                  "description": "request headers; names are case-insensitive and may not be "
                                 + ", ".join(sorted(FRAMING)) + " or X-ChronoFlow-*. "
                                 "Names and values together: at most HEADERS_MAX_BYTES (16384) bytes."},
    )
    payload = fields.Raw(load_default=None, allow_none=True, metadata={
        "description": "JSON value; a string is sent as is. At most PAYLOAD_MAX_BYTES (65536) bytes, "
                       f"{MAX_JSON_DEPTH} levels deep."})
    starts_at = text(40, load_default=None, allow_none=True, metadata={
        "description": "a recurring chrono runs from then on: a date and time in its timezone "
                       "('2026-12-01 08:00', '01/12/2026'), or an ISO timestamp with an offset",
        "example": "2026-12-01 08:00"})
    ends_at = text(40, load_default=None, allow_none=True, metadata={
        "description": "and not after then (a date alone: its end); past it the chrono is finished",
        "example": "2026-12-31"})
    spread_s = whole_number(0, schedules.MAX_SPREAD_SECONDS, load_default=0, metadata={
        "description": "spread window in seconds (0: off): every run comes a fixed delay within it after the "
                       "cron time, the same for this chrono every time; at most the time between two runs"})
    is_active = yes_no(load_default=True)
    success = fields.Nested(SuccessRules, load_default=None, allow_none=True,
                            error_messages=messages(type=_m("Must be an object.")),
                            metadata={"description": "when a webhook's answer counts as success (README \"Success "
                                                     "rules\"); null: HTTP 200-399"})
    config = fields.Nested(RunConfig, load_default=dict, error_messages=messages(type=_m("Must be an object.")))
    channel_id = whole_number(1, MAX_ID, load_default=None, allow_none=True)
    message_template = text(TEMPLATE_LENGTH, load_default=None, allow_none=True)
    recipients = fields.List(text(100), load_default=list,
                             error_messages=messages(invalid=_m("Must be a list of phone numbers or group ids.")),
                             metadata={"description": "phone numbers or group ids; at most MESSAGE_MAX_RECIPIENTS "
                                                      "(100)"})

    @pre_load
    def _tidy(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "cron" in data:  # the original system's name for the schedule
            cron = data.pop("cron")
            if "schedule" not in data:
                data["schedule"] = cron
            elif not _same_schedule(data["schedule"], cron, data.get("timezone"), self.now):
                raise ValidationError(_("cron is another name for schedule, and they differ: send one of them."),
                                      field_name="cron")
        for key in ("starts_at", "ends_at"):
            if data.get(key) == "":
                data[key] = None
        for key in ("name", "schedule", "timezone", "url", "method", "target_type", "starts_at", "ends_at"):
            if isinstance(data.get(key), str):
                data[key] = data[key].strip()
        for key in ("method", "target_type"):
            if isinstance(data.get(key), str):
                data[key] = data[key].upper()
        if data.get("timezone") == "":
            data["timezone"] = None
        return data

    def timing(self, data):
        """{"cron", "run_at", "schedule", "starts_at", "ends_at"} from what was sent; raises
        ValidationError naming the field. Read once per load, in the chrono's timezone."""
        # Kept in the loaded dict (one per load: the schema instance is shared by requests),
        # so "daqui a 2 horas" is read once, not once per check.
        if TIMING_KEY not in data:
            try:
                data[TIMING_KEY] = _read_timing(data, self.saved, self.now)
            except ValidationError as exc:
                data[TIMING_KEY] = exc
        if isinstance(data[TIMING_KEY], ValidationError):
            raise data[TIMING_KEY]
        return data[TIMING_KEY]

    # The schedule is read with its timezone (one-time dates are wall times in it).
    @validates_schema(skip_on_field_errors=False)
    def _schedule(self, data, partial=False, **kwargs):
        if partial or "schedule" not in data:
            if partial and data.get("schedule"):  # checked whole later: only what the text alone says
                try:
                    if schedules.read_once(data["schedule"], "UTC", self.now, past_ok=True) is None:
                        schedules.normalize(data["schedule"])
                except schedules.ScheduleError as exc:
                    raise ValidationError({"schedule": [str(exc)]}) from None
            return
        try:
            schedules.validate_timezone(data.get("timezone") or current_app.config["DEFAULT_TIMEZONE"])
        except schedules.ScheduleError:
            return  # the timezone's own error says so
        self.timing(data)

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
        if WHITESPACE.search(request_template.MARKED.sub("", value)):  # {{ date }} has spaces
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
        most = current_app.config["MESSAGE_MAX_RECIPIENTS"]
        if len(value) > most:
            raise ValidationError(_("At most %(n)s recipients (MESSAGE_MAX_RECIPIENTS).", n=most))
        _parsed, problems = phones.parse_recipients(value, current_app.config["DEFAULT_PHONE_REGION"])
        if problems:
            raise ValidationError(problems)

    @validates("payload")
    def _payload(self, value, **kwargs):
        if value is not None:
            problem = json_problem(value, current_app.config["PAYLOAD_MAX_BYTES"])
            if problem:
                raise ValidationError(str(problem))

    @validates("headers")
    def _headers(self, value, **kwargs):
        problems, seen = [], {}
        for name in value:
            reason = refused(name)
            if reason == "framing":
                problems.append(_("%(name)s is set by the HTTP client for each call (it frames or routes the "
                                  "request): remove it.", name=name))
            elif reason == "own":
                problems.append(_("%(name)s: X-ChronoFlow-* headers are set by ChronoFlow: remove it.", name=name))
            if name.lower() in seen:
                problems.append(_("%(name)s and %(other)s are the same header (names ignore case): keep one.",
                                  name=name, other=seen[name.lower()]))
            seen.setdefault(name.lower(), name)
        size = sum(len(name) + len(item.encode("latin-1", "replace")) for name, item in value.items())
        most = current_app.config["HEADERS_MAX_BYTES"]
        if size > most:
            problems.append(_("Headers may take at most %(n)s bytes in all (HEADERS_MAX_BYTES); these take "
                              "%(size)s.", n=most, size=size))
        if problems:
            raise ValidationError(problems)

    # Run even when some fields have errors (those are missing from `data`): a person
    # sees every problem of the form in one round, the missing URL with the bad name.
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _target(self, data, original, partial=False, **kwargs):
        if partial:
            return  # checked on the merged whole, see service.update_chrono
        errors = {}
        # Fields sent but refused: their own error says what is wrong with them.
        known = {name for name in original if name not in data} if isinstance(original, dict) else set()
        masked = [name for name, value in data.get("headers", {}).items() if value == MASK]
        if masked:  # masks are resolved before this whole check (service.resolve_masks): none was saved
            errors["headers"] = [_("%(names)s: there is no saved value behind the mask; type the value.",
                                   names=", ".join(masked))]
        if data.get("channel_id") is not None and not _channel_exists(data["channel_id"]):
            errors["channel_id"] = [_("No channel with this id.")]
        if "target_type" not in data:
            pass  # not a known type: its field says so
        elif data["target_type"] == TargetType.HTTP:
            if "url" in known:
                pass
            elif not data.get("url"):
                errors["url"] = [_("An HTTP chrono needs a URL.")]
            elif request_template.origin_is_templated(data["url"]):
                errors["url"] = [_("The server (scheme, host and port) cannot come from a template: write it as "
                                   "it is, and use {{ }} after it, in the path or the query.")]
            else:
                refused = _refused_destination(data["url"])
                if refused:
                    errors["url"] = [refused]
                for field, problems in _template_problems(data, known).items():
                    errors.setdefault(field, []).extend(problems)
        else:
            if data.get("channel_id") is None and "channel_id" not in known:
                errors["channel_id"] = [_("A message chrono needs a WhatsApp channel.")]
            if not (data.get("message_template") or "").strip() and "message_template" not in known:
                errors["message_template"] = [_("A message chrono needs a message.")]
            if "recipients" in known:
                pass
            elif not data.get("recipients"):
                errors["recipients"] = [_("A message chrono needs at least one recipient.")]
            elif "schedule" in data:  # (else its runs cannot be counted)
                too_many = _over_daily_cap(self, data)
                if too_many:
                    errors["recipients"] = [too_many]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _normalize(self, data, partial=False, **kwargs):
        if partial:
            data.pop(TIMING_KEY, None)
            return data
        data["timezone"] = data["timezone"] or current_app.config["DEFAULT_TIMEZONE"]
        data.update(self.timing(data))
        data.pop(TIMING_KEY)
        data["templated"] = data["target_type"] == TargetType.HTTP and request_template.is_templated(
            data.get("url"), data.get("headers"), data.get("payload"))
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
        return str(outcomes.describe("blocked", {"host": parts.hostname, "address": exc.address, "reason": exc.reason}))
    return None


def _template_problems(data, known):
    """{field: [why]} for a templated request that would fail when filled in."""
    if known & {"headers", "payload", "timezone"}:
        return {}  # their own errors first
    url, headers, payload = data.get("url"), data.get("headers"), data.get("payload")
    if not request_template.is_templated(url, headers, payload):
        return {}
    try:
        request_template.check(url, headers, payload, data.get("timezone") or current_app.config["DEFAULT_TIMEZONE"])
    except request_template.RequestTemplateError as exc:
        field = exc.field if exc.field in ("url", "payload") else "headers"
        return {field: [str(outcomes.describe("request_template", exc.params))]}
    return {}


def _over_daily_cap(schema, data):
    """Why this chrono alone would send more than a WhatsApp number may in a day, or None."""
    timezone = data.get("timezone") or current_app.config["DEFAULT_TIMEZONE"]
    try:
        cron = schema.timing(data)["cron"]
    except (ValidationError, schedules.ScheduleError):
        return None  # the schedule's own error says so
    return pacing.cap_problem(cron, timezone, len(data["recipients"]), current_app.config["MESSAGE_DAILY_CAP"])


def _same_schedule(schedule, cron, timezone, now):
    """Whether `schedule` and the alias `cron` mean the same (a GET's pair sent back does)."""
    if schedule == cron:
        return True
    try:
        zone = timezone or current_app.config["DEFAULT_TIMEZONE"]
        once = schedules.read_once(schedule, zone, now, past_ok=True) if isinstance(schedule, str) else None
        if once is not None:
            return cron == schedules.wall_cron(once.run_at, zone)
        return schedules.normalize(schedule) == schedules.normalize(cron)
    except (schedules.ScheduleError, TypeError, AttributeError):
        return False


def _read_timing(data, saved, now):
    """See ChronoInput.timing."""
    timezone = data.get("timezone") or current_app.config["DEFAULT_TIMEZONE"]
    text = data["schedule"]
    errors = {}
    try:
        once = schedules.read_once(text, timezone, now, past_ok=True)
        if once is not None and once.run_at <= now and not (saved is not None and saved.run_at == once.run_at):
            raise schedules.passed(text, once.run_at, schedules.validate_timezone(timezone))
        cron = schedules.wall_cron(once.run_at, timezone) if once else schedules.normalize(text)
    except schedules.ScheduleError as exc:
        raise ValidationError({"schedule": [str(exc)]}) from None
    timing = {"cron": cron, "run_at": once.run_at if once else None,
              "schedule": once.text if once else text, "starts_at": None, "ends_at": None}
    for name in ("starts_at", "ends_at"):
        if data.get(name):
            try:
                timing[name] = schedules.read_bound(data[name], timezone, end=name == "ends_at")
            except schedules.ScheduleError as exc:
                errors[name] = [str(exc)]
    spread = data.get("spread_s") or 0
    if once:
        for name in ("starts_at", "ends_at"):
            if timing[name] is not None:
                errors[name] = [_("A one-time chrono runs at its date: it has no start or end.")]
        if spread:
            errors["spread_s"] = [_("A one-time chrono runs at its date: it has no spread window.")]
    else:
        starts, ends = timing["starts_at"], timing["ends_at"]
        if starts and ends and ends <= starts:
            errors["ends_at"] = [_("The end must come after the start.")]
        elif ends and ends <= now and not (saved is not None and saved.ends_at == ends):
            errors["ends_at"] = [_("This end has already passed: give a date in the future, or none.")]
        elif (starts or ends) and "starts_at" not in errors and "ends_at" not in errors:
            try:
                first = schedules.next_run_time(cron, timezone, now, starts_at=starts, ends_at=ends)
            except schedules.ScheduleError:  # past croniter's last year
                errors["starts_at" if starts else "ends_at"] = [_("This date is too far away.")]
            else:
                if first is None:
                    errors["ends_at"] = [_("The schedule has no run between now (or the start) and this end.")]
        if spread:
            times = schedules.fire_times(cron, timezone, now, 6)
            shortest = min(later - earlier for earlier, later in zip(times, times[1:]))
            if spread > shortest.total_seconds():
                errors["spread_s"] = [_("At most %(n)s seconds for this schedule: the time between two runs.",
                                        n=int(shortest.total_seconds()))]
    if errors:
        raise ValidationError(errors)
    return timing


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
    success = fields.Dict(allow_none=True, metadata={"description": "success rules; null: HTTP 200-399"})
    templated = fields.Boolean(metadata={"description": "whether URL, headers or payload are filled in per run"})
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
                                       metadata={"description": "when it fires next; null while paused or "
                                                                "once finished"})
    state = fields.String(metadata={"enum": list(ChronoState.ALL), "description": "active, paused, or finished "
                                    "(a one-time chrono that ran, or past its end: no next run; a new date or "
                                    "end arms it again)"})
    run_at = fields.AwareDateTime(allow_none=True, metadata={"description": "a one-time chrono's moment"})
    starts_at = fields.AwareDateTime(allow_none=True)
    ends_at = fields.AwareDateTime(allow_none=True)
    spread_s = fields.Integer()
    spread_offset_s = fields.Integer(metadata={"description": "this chrono's fixed delay within spread_s"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()

    def _describe(self, chrono):
        locale = normalize_locale(str(get_locale() or "en"))
        if chrono.run_at is not None:
            return schedules.describe_once(chrono.run_at, chrono.timezone, locale)
        return schedules.describe(chrono.cron, locale)


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
    error_code = fields.Function(lambda run: (outcomes.problem(run) or (None,))[0], allow_none=True, metadata={
        "description": "what went wrong, stable for programs: timeout, connection, blocked, http_status, "
                       "session_not_ready, not_on_whatsapp, partial, missed, overlap, cancelled, worker_lost..."})
    error_message = fields.Function(lambda run: outcomes.run_error(run), allow_none=True, metadata={
        "description": "what went wrong, in words, in the request's language"})
    error_detail = fields.String(attribute="error_message", allow_none=True, metadata={
        "description": "the technical detail as recorded (English)"})
    result = fields.Function(lambda run: outcomes.in_words(receipts.run_result(run)), allow_none=True, metadata={
        "description": "what the run did; attempts[] and a WhatsApp run's recipients[] carry error_code and error "
                       "(in the request's language); recipients[] each add delivery (sent, delivered, read, "
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

    skip = whole_number(0, MAX_SKIP, strict=False, load_default=0)
    take = whole_number(1, MAX_TAKE, strict=False, load_default=20)
