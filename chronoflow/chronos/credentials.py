"""Stored credentials go only to the origin they were saved for.

A chrono's credential headers (security.is_sensitive: Authorization, X-Api-Key,
*token*...) are write-only: pages and the API show the mask, and the mask sent
back keeps the stored value. Were that true whatever the URL, anyone who may
edit a chrono could point it at their own host, press Test, and read the
credential there. So a stored value is kept only while the origin (scheme,
host, port) stays the one it was saved for; a new origin needs it typed again.
The form's Test, PATCH and every run go through these functions.
"""
from urllib.parse import urlsplit

from flask_babel import gettext as _
from marshmallow import ValidationError

from ..security import MASK, is_sensitive

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url):
    """"scheme://host:port" of `url`, lower-cased with the default port spelt out; None without a host."""
    try:
        parts = urlsplit(url or "")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme.lower()}://{host.lower()}:{port}"


def carry_over(headers, url, stored_headers, stored_url):
    """The headers to save or test: `headers` as submitted, where a masked value
    keeps the stored one; `headers` None (a PATCH that leaves them out) keeps them all.

    Raises ValidationError on `headers` naming each stored credential that would
    leave for another origin than its own. (A mask with nothing stored behind it
    stays: ChronoInput refuses it.)
    """
    stored = {name.lower(): value for name, value in (stored_headers or {}).items()}
    moved = origin(url) != origin(stored_url)
    if headers is None:
        carried = [name for name, value in (stored_headers or {}).items() if is_sensitive(name) and value]
        if moved and carried:
            raise ValidationError({"headers": [_retype(carried, stored_url, url)]})
        return stored_headers
    kept, retype = {}, []
    for name, value in headers.items():
        if value == MASK and name.lower() in stored:
            if moved:
                retype.append(name)
            else:
                value = stored[name.lower()]
        kept[name] = value
    if retype:
        raise ValidationError({"headers": [_retype(retype, stored_url, url)]})
    return kept


def _retype(names, old_url, new_url):
    return _("%(names)s was saved for %(old)s: type it again to send it to %(new)s.",
             names=", ".join(names), old=origin(old_url) or "-", new=origin(new_url) or "-")


def for_origin(headers, saved_for, url):
    """The headers a call to `url` may carry: without the credentials when `saved_for`
    (the chrono's secrets_origin) is another origin. None means saved for `url` itself."""
    if saved_for is None or saved_for == origin(url):
        return dict(headers or {})
    return {name: value for name, value in (headers or {}).items() if not is_sensitive(name)}
