"""On SQLite, a request that only looks (GET, HEAD, OPTIONS) begins a deferred
transaction: readers take no lock, so several pages load side by side while the
worker writes. Everything else, the worker included, begins IMMEDIATE: it takes the
write lock up front and waits its turn (busy_timeout), instead of failing.

A page that reads and then writes (a session state stored on a poll, a secret shown
once) may find, when it comes to write, that another connection wrote since it
began reading: SQLite refuses that at once (SQLITE_BUSY_SNAPSHOT). A safe request
can simply be made again, so RetryStaleReads does that, once, from a fresh
transaction. (PostgreSQL is untouched by all of this.)
"""
from flask import has_request_context, request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SQLITE_BUSY_SNAPSHOT = 517
_AGAIN = "chronoflow.read_again"
_RETRIED = "chronoflow.read_retried"


def only_reading():
    """Whether the current transaction belongs to a request that only looks."""
    return has_request_context() and request.method in SAFE_METHODS


def read_again(exc):
    """True (and the request marked to be made again) when `exc` is a stale SQLite
    snapshot met by a safe request made for the first time."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlite_errorcode", None) != SQLITE_BUSY_SNAPSHOT or not only_reading():
        return False
    if request.environ.get(_RETRIED):
        return False
    request.environ[_AGAIN] = True
    return True


class RetryStaleReads:
    """WSGI middleware: a safe request marked by read_again is answered by its second try."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in SAFE_METHODS:
            return self.app(environ, start_response)
        held = []

        def hold(status, headers, exc_info=None):
            held[:] = [status, headers, exc_info]
            return lambda data: None  # Flask never writes through start_response's callable

        body = self.app(environ, hold)
        if not environ.pop(_AGAIN, False):
            start_response(*held)
            return body
        if hasattr(body, "close"):
            body.close()
        environ[_RETRIED] = True
        return self.app(environ, start_response)
