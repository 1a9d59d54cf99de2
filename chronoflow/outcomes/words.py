"""The words for every outcome code, in English msgids translated at render time.

One function per code family takes the parameters the worker stored and returns
the sentence. Parameters that are not our words (a host, a session's name, what
a server answered) are marked translate="no" in HTML, so a page in Portuguese
can hold an English server message inside Portuguese words, and the browser tests
can tell them apart.
"""
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from markupsafe import Markup

from ..i18n import translations


def N_(message):
    """Mark a message for extraction; it is translated where it is said."""
    return message


# Parameters that are names or quoted text, never words of ours.
FOREIGN = {"host", "address", "url", "detail", "entry", "session", "label", "name", "method", "target_type"}


class Speaker:
    """Says msgids in one language (`locale` None: the request's), as text or HTML."""

    def __init__(self, locale=None, html=False):
        self.locale = locale
        self.html = html
        if locale is None:
            from flask_babel import get_translations, get_locale

            self.catalog = get_translations()
            self.language = str(get_locale() or "en")
        else:
            self.catalog = translations(locale)
            self.language = str(locale)

    @property
    def portuguese(self):
        return self.language.lower().startswith("pt")

    def say(self, msgid, **params):
        text = self.catalog.gettext(msgid)
        if self.html:
            text = Markup(text)
            params = {key: self._mark(key, value) for key, value in params.items()}
        return text % params  # always: a msgid with no parameter may still hold %%

    def _mark(self, key, value):
        if isinstance(value, float):
            value = self.number(value)
        if key in FOREIGN and isinstance(value, str) and not isinstance(value, Markup):
            return Markup('<span translate="no">%s</span>') % value
        return value

    def number(self, value):
        text = f"{value:g}"
        return text.replace(".", ",") if self.portuguese else text

    def join(self, parts):
        separator = "; "
        if self.html:
            return Markup(separator).join(parts)
        return separator.join(str(part) for part in parts)

    def pair(self, label, why):
        """"+55 11 98765-4321: not on WhatsApp", its own full stop dropped (pairs are joined by ";")."""
        return self.say(N_("%(label)s: %(why)s"), label=label, why=why.rstrip("."))

    def when(self, iso, timezone=None):
        try:
            moment = datetime.fromisoformat(iso)
        except (TypeError, ValueError):
            return str(iso)
        return format_datetime(moment, "short", tzinfo=ZoneInfo(timezone or "UTC"),
                               locale="pt_BR" if self.portuguese else "en")

    def outcome(self, code, params):
        params = params if isinstance(params, dict) else {}
        family = SPEAKERS.get(code)
        words = family(self, params) if family else None
        if words is None:  # an unknown code, or one whose parameters were lost
            detail = params.get("detail")
            if detail:
                return self.say(N_("The server said: “%(detail)s”"), detail=str(detail)[:500])
            return self.say(N_("Something went wrong (%(code)s)."), code=code or "?")
        return words


def _seconds(speaker, value):
    try:
        return speaker.number(float(value))
    except (TypeError, ValueError):
        return "?"


def _host(speaker, params):
    return params.get("host") or speaker.say(N_("the server"))


# --- webhooks -----------------------------------------------------------------

def timeout(s, p):
    if p.get("seconds") is None:
        return s.say(N_("No answer from %(host)s in time."), host=_host(s, p))
    return s.say(N_("No answer from %(host)s within %(seconds)s s."), host=_host(s, p),
                 seconds=_seconds(s, p["seconds"]))


CONNECTION = {
    "dns": N_("The address %(host)s was not found (DNS): check the URL for a typo."),
    "refused": N_("Connection refused by %(host)s: nothing answers at that address and port."),
    "tls": N_("The secure connection (HTTPS) to %(host)s failed: its certificate is not valid."),
    "reset": N_("The connection to %(host)s was cut before the answer came."),
    "empty": N_("Connection closed by %(host)s without an answer."),
    "other": N_("Could not connect to %(host)s."),
}


def connection(s, p):
    return s.say(CONNECTION.get(p.get("reason"), CONNECTION["other"]), host=_host(s, p))


BLOCKED = {
    "loopback": N_("a loopback address (this machine)"),
    "private": N_("a private network address"),
    "unspecified": N_("an unspecified address"),
    "reserved": N_("not a public internet address"),
}


def blocked(s, p):
    host = _host(s, p)
    address = p.get("address")
    if address and address != p.get("host"):
        host = s.say(N_("%(host)s (%(address)s)"), host=host, address=address)
    reason = p.get("reason")
    if reason in ("metadata", "link_local") or reason not in BLOCKED:
        return s.say(N_("%(host)s is a cloud metadata or link-local address: ChronoFlow never calls those."),
                     host=host)
    return s.say(N_("%(host)s is %(reason)s. To call it, add its network or host name to "
                    "OUTBOUND_ALLOWED_NETWORKS."), host=host, reason=s.say(BLOCKED[reason]))


HTTP_MEANINGS = {
    400: N_("it did not accept the request"),
    401: N_("it asks for credentials (check the Authorization header)"),
    403: N_("access denied"),
    404: N_("that address does not exist there"),
    405: N_("it does not take this method"),
    408: N_("it gave up waiting for the request"),
    410: N_("that address no longer exists"),
    413: N_("the body is too large for it"),
    422: N_("it did not accept the data sent"),
    429: N_("too many requests: it asks to wait"),
    500: N_("an error on the server"),
    502: N_("the server is down or overloaded"),
    503: N_("the server is down or overloaded"),
    504: N_("the server is down or overloaded"),
}


def http_status(s, p):
    try:
        status = int(p.get("status"))
    except (TypeError, ValueError):
        return None
    meaning = HTTP_MEANINGS.get(status) or (N_("an error on the server") if status >= 500
                                            else N_("the server refused the request"))
    return s.say(N_("%(host)s answered HTTP %(status)s: %(meaning)s."), host=_host(s, p), status=status,
                 meaning=s.say(meaning))


def success_rule(s, p):
    """A success rule of the chrono (executors/success.py) that the answer failed."""
    rule = p.get("rule")
    if rule == "status":
        return s.say(N_("%(host)s answered HTTP %(status)s; this chrono counts only %(expected)s as success."),
                     host=_host(s, p), status=p.get("status", "?"), expected=str(p.get("expected") or "?"))
    if rule == "body_contains":
        return s.say(N_("The answer of %(host)s does not contain “%(detail)s”, which this chrono requires."),
                     host=_host(s, p), detail=str(p.get("expected") or ""))
    if rule == "json":
        if p.get("found") == "not_json":
            return s.say(N_("The answer of %(host)s is not JSON, so %(entry)s cannot be checked."),
                         host=_host(s, p), entry=str(p.get("pointer") or ""))
        if p.get("found") == "missing":
            return s.say(N_("The answer of %(host)s has no %(entry)s, which this chrono requires."),
                         host=_host(s, p), entry=str(p.get("pointer") or ""))
        return s.say(N_("In the answer of %(host)s, %(entry)s is %(detail)s, not %(label)s as this chrono "
                        "requires."), host=_host(s, p), entry=str(p.get("pointer") or ""),
                     detail=str(p.get("actual") or "?"), label=str(p.get("expected") or "?"))
    return None


def request_template(s, p):
    """A templated request (executors/request_template.py) that could not be filled in."""
    field = str(p.get("field") or "?")
    if p.get("reason") == "origin":
        return s.say(N_("Filled in, the URL points to another server (%(host)s): the server of a URL cannot "
                        "come from a template."), host=str(p.get("host") or "?"))
    if p.get("reason") == "header_value":
        return s.say(N_("Filled in, the header %(name)s holds a line break or a character HTTP cannot send."),
                     name=field)
    inner = invalid(s, p)
    return s.say(N_("The request's %(name)s could not be filled in: %(problem)s"), name=field,
                 problem=inner if inner is not None else "?")


def request(s, p):
    return s.say(N_("The request could not be made (%(detail)s)."), detail=str(p.get("detail") or "?"))


def method_not_allowed(s, p):
    return s.say(N_("The method %(method)s is not allowed on this server (ALLOWED_METHODS)."),
                 method=str(p.get("method") or "?"))


def unsupported(s, p):
    return s.say(N_("This version of ChronoFlow cannot run this kind of chrono (%(target_type)s)."),
                 target_type=str(p.get("target_type") or "?"))


def internal(s, p):
    return s.say(N_("An unexpected error in ChronoFlow; it was logged."))


# --- WhatsApp -----------------------------------------------------------------

def channel(s, p):
    return s.say(N_("The chrono's WhatsApp channel was deleted or disabled: choose another channel."))


def unreachable(s, p):
    return s.say(N_("WhatsApp server (WAHA) not reachable at %(url)s. Check that it is running and that "
                    "WAHA_BASE_URL points to it."), url=str(p.get("url") or "?"))


def unauthorized(s, p):
    return s.say(N_("WhatsApp server (WAHA) refused our API key. Set WAHA_API_KEY to the same value as "
                    "WAHA's own WAHA_API_KEY, then restart ChronoFlow."))


def session(s, p):
    return s.say(N_("WhatsApp session '%(session)s' does not exist (or is not running) on the WhatsApp "
                    "server. Create or start it under WhatsApp > Sessions."), session=_session(p))


SESSION_STATUS = {
    "SCAN_QR_CODE": N_("WhatsApp session '%(session)s' is not connected: scan the QR code under WhatsApp > "
                       "Sessions."),
    "FAILED": N_("WhatsApp session '%(session)s' failed (the phone may have been unlinked): restart it, "
                 "or log out and scan the QR code again."),
    "STOPPED": N_("WhatsApp session '%(session)s' is stopped: start it under WhatsApp > Sessions."),
}
# A session's status in words (the session pages' badges say the same).
SESSION_LABELS = {
    "STOPPED": N_("stopped"),
    "STARTING": N_("starting"),
    "SCAN_QR_CODE": N_("waiting for the QR scan"),
    "WORKING": N_("connected"),
    "FAILED": N_("failed"),
}


def session_not_ready(s, p):
    status = p.get("status")
    if status in SESSION_STATUS:
        return s.say(SESSION_STATUS[status], session=_session(p))
    label = s.say(SESSION_LABELS[status]) if status in SESSION_LABELS else str(status or "?")
    return s.say(N_("WhatsApp session '%(session)s' is not connected yet (%(status)s): wait a moment, or scan "
                    "the QR code."), session=_session(p), status=label)


def _session(p):
    return str(p.get("session") or "default")


# What WAHA itself says, recognised, in our words.
WAHA_KNOWN = (
    (re.compile(r"support only 'default' session", re.I),
     N_("The free WAHA (Core) has one session only, named default: use the session default, or WAHA Plus for "
        "more.")),
    (re.compile(r"session .* (already exists|is already)", re.I), N_("That WhatsApp session already exists.")),
    (re.compile(r"not (logged in|authenticated)|no (active )?session", re.I),
     N_("The WhatsApp session is not linked to a phone: scan the QR code under WhatsApp > Sessions.")),
)


def waha(s, p):
    detail = str(p.get("detail") or "")
    for pattern, words in WAHA_KNOWN:
        if pattern.search(detail):
            return s.say(words)
    if p.get("status"):
        return s.say(N_("The WhatsApp server said: “%(detail)s” (HTTP %(status)s)."), detail=detail or "—",
                     status=p["status"])
    return s.say(N_("The WhatsApp server said: “%(detail)s”"), detail=detail or "—")


def not_on_whatsapp(s, p):
    return s.say(N_("This number is not on WhatsApp."))


def daily_cap(s, p):
    return s.say(N_("WhatsApp session '%(session)s' sent its %(cap)s messages of the last 24 hours "
                    "(MESSAGE_DAILY_CAP): the rest were not sent, to protect the number from a ban."),
                 session=_session(p), cap=p.get("cap", "?"))


def superseded(s, p):
    return s.say(N_("Another worker took over this run."))


def partial(s, p):
    return s.say(N_("Sent to %(sent)s of %(total)s recipients. Not sent: %(problems)s"),
                 sent=p.get("sent", "?"), total=p.get("total", "?"), problems=p.get("problems") or "—")


def not_sent(s, p):
    return s.say(N_("Not sent to any of the %(total)s recipients: %(problems)s"), total=p.get("total", "?"),
                 problems=p.get("problems") or "—")


# A recipient or a message that cannot be sent ("invalid"), by reason.
def invalid(s, p):
    reason = p.get("reason")
    if reason == "not_a_number":
        return s.say(N_("“%(entry)s” is not a phone number or a group id (…@g.us)."), entry=str(p.get("entry")))
    if reason == "invalid_number":
        return s.say(N_("“%(entry)s” is not a valid phone number: check the area code and the number of digits, "
                        "or start it with + and the country code."), entry=str(p.get("entry")))
    if reason == "template_timeout":
        return s.say(N_("The message takes too long to fill in (more than %(ms)s ms): make its loops smaller."),
                     ms=p.get("ms", "?"))
    if reason == "template_too_long":
        return s.say(N_("Filled in, the message is longer than %(n)s characters."), n=p.get("n", "?"))
    if reason == "template_memory":
        return s.say(N_("The message needs too much memory to fill in (more than %(mb)s MB)."), mb=p.get("mb", "?"))
    if reason == "template_undefined":
        from ..waha.template import SUGGESTED  # (template.py words its errors through this module)

        names = SUGGESTED["pt" if s.portuguese else "en"]
        return s.say(N_("%(problem)s. You can use: %(names)s."),
                     problem=s.say(N_("There is no variable %(name)s"), name=str(p.get("name"))),
                     names=", ".join("{{ %s }}" % name for name in names))
    if reason == "template_syntax":
        line = p.get("line")
        where = s.say(N_(" (line %(line)s)"), line=line) if line else ""
        return s.say(N_("The message has a mistake in its {{ }} or {%% %%}%(where)s: %(problem)s"), where=where,
                     problem=_jinja_problem(s, str(p.get("detail") or "")))
    if p.get("detail"):
        return s.say(N_("The message cannot be sent: %(detail)s"), detail=str(p["detail"]))
    return None


# Jinja's own messages (English) for the mistakes people make, in our words.
JINJA_KNOWN = (
    (re.compile(r"unexpected end of template, expected 'end of print statement'"),
     N_("a {{ is not closed with }}")),
    (re.compile(r"unexpected end of template"), N_("a {%% %%} block is not closed (for example {%% endif %%})")),
    (re.compile(r"expected token 'end of print statement'"), N_("inside {{ }} there is more than one name, or a "
                                                                 "typo")),
    (re.compile(r"unexpected '}'"), N_("there is a } out of place")),
    (re.compile(r"unknown tag '([^']*)'"), N_("{%% %(tag)s %%} is not something a message can use")),
    (re.compile(r"unexpected char"), N_("a character that cannot be inside {{ }}")),
)


def _jinja_problem(s, detail):
    for pattern, words in JINJA_KNOWN:
        found = pattern.search(detail)
        if found:
            return s.say(words, tag=found.group(1)) if found.groups() else s.say(words)
    return s.say(N_("“%(detail)s”"), detail=detail) if detail else "?"


# --- scheduling ---------------------------------------------------------------

def cancelled(s, p):
    return s.say(N_("The chrono was paused before this run started."))


def overlap(s, p):
    return s.say(N_("Skipped: the previous run was still running (overlap policy: skip)."))


def missed(s, p):
    if p.get("skipped_count") is not None:
        words = (N_("%(count)s more occurrences from %(start)s to %(end)s were missed while the scheduler was "
                    "down, and skipped.") if p.get("skipped_count_exact", True) else
                 N_("About %(count)s more occurrences from %(start)s to %(end)s were missed while the scheduler "
                    "was down, and skipped."))
        return s.say(words, count=p["skipped_count"], start=s.when(p.get("skipped_from"), p.get("timezone")),
                     end=s.when(p.get("skipped_until"), p.get("timezone")))
    if p.get("while_down"):
        if p.get("misfire_policy") == "skip":
            return s.say(N_("Missed while the scheduler was down; skipped by the chrono's misfire policy."))
        return s.say(N_("Missed while the scheduler was down; the first missed occurrence ran instead."))
    if p.get("seconds") is None:
        return s.say(N_("Started too late for the chrono's misfire policy, and skipped."))
    return s.say(N_("Started %(seconds)s s after its time, later than the chrono allows: skipped by its misfire "
                    "policy."), seconds=p["seconds"])


def coalesced(s, p):
    return s.say(N_("Started %(seconds)s s after its time: another late run of the chrono covers it (misfire "
                    "policy: coalesce)."), seconds=p.get("seconds", "?"))


def worker_lost(s, p):
    return s.say(N_("The worker stopped during this attempt."))


def _with_sent(family):
    """A run that stopped on an error after some messages went says how many did."""
    def speak(s, p):
        words = family(s, p)
        if words is not None and p.get("sent"):
            return s.say(N_("%(problem)s (sent to %(sent)s of %(total)s recipients before that)"), problem=words,
                         sent=p["sent"], total=p.get("total", "?"))
        return words
    return speak


SPEAKERS = {
    "timeout": timeout, "connection": connection, "blocked": blocked, "http_status": http_status,
    "request": request, "success_rule": success_rule, "request_template": request_template,
    "method_not_allowed": method_not_allowed, "unsupported": unsupported,
    "internal": internal,
    "channel": channel, "unreachable": _with_sent(unreachable), "unauthorized": _with_sent(unauthorized),
    "session": _with_sent(session), "session_not_ready": _with_sent(session_not_ready), "waha": _with_sent(waha),
    "not_on_whatsapp": not_on_whatsapp, "daily_cap": _with_sent(daily_cap), "superseded": _with_sent(superseded),
    "partial": partial, "not_sent": not_sent, "invalid": invalid,
    "cancelled": cancelled, "overlap": overlap, "missed": missed, "coalesced": coalesced,
    "worker_lost": worker_lost,
}
