"""Secrets on screen, and the security headers of every response.

Header values that carry credentials, and each chrono's signing secret, are
write-only: after saving, pages and the API show MASK, and a MASK sent back
(an edit form, a PATCH of what a GET returned) keeps the stored value.
"""
import functools
import re

MASK = "••••••••"

SENSITIVE_NAMES = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"})
SENSITIVE_WORDS = re.compile(r"token|secret|key|password|passwd|auth|session|signature|credential", re.IGNORECASE)

# The pages use no inline script or style (see templates/): keep it that way.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def is_local(target):
    r"""True when a redirect to `target` stays inside ChronoFlow (never an open redirect).
    Browsers drop tabs and newlines from URLs and read a backslash as a slash:
    "/\t/evil.example" and "/\evil.example" would become "//evil.example"."""
    return bool(target) and target.startswith("/") and target.isprintable() and "//" not in target.replace("\\", "/")


@functools.lru_cache(maxsize=4096)  # asked for every header of every call
def is_sensitive(name):
    name = name.lower()
    return name in SENSITIVE_NAMES or bool(SENSITIVE_WORDS.search(name))


def mask_headers(headers):
    """A copy of `headers` with the values of sensitive ones replaced by MASK."""
    return {name: (MASK if is_sensitive(name) and value else value) for name, value in (headers or {}).items()}


def init_app(app):
    @app.after_request
    def _security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
