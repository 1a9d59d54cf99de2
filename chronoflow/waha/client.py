"""Every call to WAHA (the WhatsApp HTTP API) goes through here.

WAHA's answers differ between engines and releases (see shared/waha-api.md), so
this module reads them defensively and turns every failure into one of a few
exceptions whose message tells a person what to do. The API key stays on our
server: the browser gets the QR image from our own URL, never from WAHA.
"""
import base64
from urllib.parse import quote
from dataclasses import dataclass

import requests
from .. import outcomes
from .phones import display_phone

STATUSES = ("STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED")


class WahaError(Exception):
    """Base class: `code` and `params` say what happened (chronoflow/outcomes.py
    words them, in the reader's language, and tells how to fix it); `retryable`
    says whether trying again later may help."""

    retryable = False
    code = "waha"

    def __init__(self, technical=None, **params):
        self.params = params
        self.detail = technical  # technical words from WAHA, for logs and the run's page
        super().__init__(self.english())

    def __str__(self):
        return str(outcomes.describe(self.code, self.params))

    def english(self):
        """The message in English, as logs and the run's technical record keep it."""
        return str(outcomes.describe(self.code, self.params, locale="en"))


class WahaUnreachable(WahaError):
    retryable = True
    code = "unreachable"

    def __init__(self, base_url, detail=None):
        super().__init__(detail, url=base_url)


class WahaUnauthorized(WahaError):
    code = "unauthorized"


class SessionNotFound(WahaError):
    code = "session"

    def __init__(self, session, detail=None):
        self.session = session
        super().__init__(detail, session=session)


class SessionNotReady(WahaError):
    retryable = True  # a person may scan the QR code before the next attempt
    code = "session_not_ready"

    def __init__(self, session, status, detail=None):
        self.session = session
        self.status = status
        super().__init__(detail, session=session, status=status)


class WahaFailed(WahaError):
    """Anything else WAHA answered with an error."""

    def __init__(self, status_code, detail):
        self.status_code = status_code
        self.retryable = status_code >= 500 or status_code == 429
        super().__init__(detail, status=status_code, detail=detail)


@dataclass(frozen=True)
class SessionInfo:
    name: str
    status: str
    me_id: str | None = None  # "5511987654321@c.us" when WORKING
    push_name: str | None = None
    engine: str | None = None

    @property
    def working(self):
        return self.status == "WORKING"

    @property
    def phone(self):
        """The linked number as a person writes it (+55 11 98765-4321), or None."""
        return display_phone(self.me_id) if self.me_id else None

    @classmethod
    def from_json(cls, body):
        me = body.get("me") or {}
        engine = body.get("engine")
        return cls(
            name=body.get("name") or "",
            status=str(body.get("status") or "STOPPED"),
            me_id=me.get("id") if isinstance(me, dict) else None,
            push_name=me.get("pushName") if isinstance(me, dict) else None,
            engine=engine.get("engine") if isinstance(engine, dict) else engine,
        )

    def as_json(self):
        return {"name": self.name, "status": self.status, "phone": self.phone, "push_name": self.push_name,
                "engine": self.engine}


class WahaClient:
    def __init__(self, base_url, api_key=None, timeout_s=15.0):
        self.base_url = (base_url or "").rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.http = requests.Session()

    @classmethod
    def from_config(cls, config):
        return cls(config["WAHA_BASE_URL"], config.get("WAHA_API_KEY"), config["WAHA_TIMEOUT_MS"] / 1000)

    # --- sessions -------------------------------------------------------------
    def list_sessions(self):
        body = self._call("GET", "/api/sessions", params={"all": "true"})
        return [SessionInfo.from_json(item) for item in body or [] if isinstance(item, dict)]

    def get_session(self, name):
        body = self._call("GET", f"/api/sessions/{_q(name)}", session=name)
        if not isinstance(body, dict):
            raise WahaFailed(502, "WAHA answered without the session")
        return SessionInfo.from_json(body)

    def create_session(self, name, start=True, webhook=None, replaces=lambda hook: False):
        """Create (or, when it exists, keep) the session, with `webhook` (a config.webhooks
        entry) among its webhooks; `replaces(hook)` says which existing entries it replaces."""
        body = {"name": name, "start": start}  # `start` always: its default changed between releases
        if webhook:
            body["config"] = {"webhooks": [webhook]}
        try:
            answer = self._call("POST", "/api/sessions", json=body)
            return SessionInfo.from_json(answer) if isinstance(answer, dict) else self.get_session(name)
        except WahaFailed as exc:
            if exc.status_code != 422 or "already exists" not in str(exc.detail):
                raise
        # WAHA Core has "default" from boot (STOPPED): PUT our webhook into its config, then start.
        if webhook:
            self.add_webhook(name, webhook, replaces)
        return self.start(name) if start else self.get_session(name)

    def add_webhook(self, name, webhook, replaces=lambda hook: False):
        """PUT replaces the whole config and restarts a running session: keep everything
        else in it (webhooks set in WAHA's dashboard, metadata...), and PUT only on a change."""
        current = self._call("GET", f"/api/sessions/{_q(name)}", session=name)
        config = dict((current or {}).get("config") or {}) if isinstance(current, dict) else {}
        hooks = [hook for hook in config.get("webhooks") or [] if isinstance(hook, dict)]
        if any(all(hook.get(key) == value for key, value in webhook.items()) for hook in hooks):
            return  # already there (WAHA echoes it with its own defaults added)
        config["webhooks"] = [hook for hook in hooks if not replaces(hook)] + [webhook]
        self._call("PUT", f"/api/sessions/{_q(name)}", session=name, json={"config": config})

    def start(self, name):
        try:
            return self._session_action(name, "start")
        except WahaFailed as exc:
            if exc.status_code == 422 and "already" in str(exc.detail).lower():  # 2024.10 Core: not idempotent
                return self.get_session(name)
            raise

    def stop(self, name):
        return self._session_action(name, "stop")

    def restart(self, name):
        return self._session_action(name, "restart")

    def logout(self, name):
        return self._session_action(name, "logout")

    def delete(self, name):
        self._call("DELETE", f"/api/sessions/{_q(name)}", session=name)

    def _session_action(self, name, action):
        body = self._call("POST", f"/api/sessions/{_q(name)}/{action}", session=name)
        return SessionInfo.from_json(body) if isinstance(body, dict) else self.get_session(name)

    # --- pairing --------------------------------------------------------------
    def qr_png(self, name):
        """The QR code to scan, as PNG bytes (only while the session is in SCAN_QR_CODE)."""
        response = self._request("GET", f"/api/{_q(name)}/auth/qr", session=name, params={"format": "image"},
                                 headers={"Accept": "image/png"})
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return base64.b64decode(response.json().get("data", ""))  # a build that answers JSON anyway
        return response.content

    def request_code(self, name, phone_digits):
        """A pairing code ("ABCD-EFGH") to type in WhatsApp instead of scanning."""
        body = self._call("POST", f"/api/{_q(name)}/auth/request-code", session=name,
                          json={"phoneNumber": phone_digits})
        return (body or {}).get("code")

    # --- messages -------------------------------------------------------------
    def check_exists(self, name, phone_digits):
        """The chat id WhatsApp knows this number by (it may differ from the digits,
        e.g. Brazil's 9th digit), or None when the number is not on WhatsApp."""
        body = self._call("GET", "/api/contacts/check-exists", session=name,
                          params={"phone": phone_digits, "session": name})
        if not (body or {}).get("numberExists"):
            return None
        return body.get("chatId") or f"{phone_digits}@c.us"

    def send_text(self, name, chat_id, text):
        """Sends; returns the message id when the engine's answer has one (they differ)."""
        body = self._call("POST", "/api/sendText", session=name,
                          json={"session": name, "chatId": chat_id, "text": text})
        return message_id(body)

    def send_to(self, name, recipient, text):
        """(chat id, message id) after sending to a phones.Recipient; (None, None) when
        the number is not on WhatsApp. Sending to such a number is a bot signal (and a
        500 from some engines); check-exists also gives the chat id to use."""
        chat_id = recipient.chat_id if recipient.is_group else self.check_exists(name, recipient.phone)
        if chat_id is None:
            return None, None
        return chat_id, self.send_text(name, chat_id, text)

    # --- plumbing -------------------------------------------------------------
    def _call(self, method, path, session=None, **kwargs):
        response = self._request(method, path, session=session, **kwargs)
        if not response.content:
            return None  # DELETE, and a WEBJS build that answered 201 with no body
        try:
            return response.json()
        except ValueError:
            return None

    def _request(self, method, path, session=None, headers=None, **kwargs):
        sent = {"Accept": "application/json", **(headers or {})}
        if self.api_key:
            sent["X-Api-Key"] = self.api_key
        try:
            response = self.http.request(method, self.base_url + path, headers=sent, timeout=self.timeout_s,
                                         allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise WahaUnreachable(self.base_url, exc.__class__.__name__) from None
        if response.status_code < 400:
            return response
        raise _error(response, session)


def _q(name):
    return quote(str(name), safe="")


def _error(response, session):
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if status == 401:
        return WahaUnauthorized()
    if status == 422 and body.get("status") and body.get("expected"):
        return SessionNotReady(body.get("session") or session, body["status"], body.get("error"))
    detail = _detail(body) or response.reason or ""
    if status == 404 and session is not None:
        return SessionNotFound(session, detail)
    return WahaFailed(status, detail[:300])


def _detail(body):
    message = body.get("message") or body.get("error")
    if isinstance(body.get("exception"), dict):  # WAHA's 500 layout
        message = body["exception"].get("message") or message
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    return str(message) if message else ""


def message_id(body):
    """id._serialized (WEBJS), id as text, key.id (NOWEB), or None: the body is engine-specific."""
    if not isinstance(body, dict):
        return None
    value = body.get("id")
    if isinstance(value, dict):
        return value.get("_serialized") or value.get("id")
    if isinstance(value, str):
        return value
    key = body.get("key")
    if isinstance(key, dict):
        return key.get("id")
    return None
