"""The worker process's outbound calls: made side by side on its loop
(executors/transport.py), shared by every task it runs, with a count of the calls
in flight so that a process claims more runs only when it has room for their calls.
"""
import logging
import threading

from flask import current_app

from ..executors import HttpCall, http
from ..executors.outcome import Outcome

log = logging.getLogger(__name__)


class CallPool:
    """Up to CONCURRENT_CALLS calls in flight (a guide for claiming, not a hard cap)."""

    def __init__(self, size):
        self.size = size
        self.in_flight = 0
        self.changed = threading.Condition()
        # One claim at a time per process: runs are claimed when there is room to call them.
        self.claiming = threading.Lock()

    def submit(self, calls):
        """Start the calls; returns a Pending whose wait() gives their outcomes, in order."""
        pending = Pending(len(calls))
        requests = []
        for index, call in enumerate(calls):
            if isinstance(call, HttpCall):
                requests.append((call.request, self._done(pending, index)))
            else:  # a call prepared as its own answer (a refused method...): nothing to wait for
                pending.done(index, outcome_of(call))
        if requests:
            with self.changed:
                self.in_flight += len(requests)
            http.start_all(requests)
        return pending

    def _done(self, pending, index):
        def done(outcome):
            with self.changed:
                self.in_flight -= 1
                self.changed.notify_all()
            pending.done(index, outcome)
        return done

    def wait_for_room(self):
        """Until fewer calls are in flight than CONCURRENT_CALLS."""
        with self.changed:
            while self.in_flight >= self.size:
                self.changed.wait(0.1)


class Pending:
    def __init__(self, count):
        self.outcomes = [None] * count
        self.left = count
        self.lock = threading.Lock()
        self.finished = threading.Event()
        if not count:
            self.finished.set()

    def done(self, index, outcome):
        self.outcomes[index] = outcome
        with self.lock:
            self.left -= 1
            if not self.left:
                self.finished.set()

    def wait(self):
        self.finished.wait()
        return self.outcomes


_pool = None
_pool_lock = threading.Lock()


def pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = CallPool(current_app.config["CONCURRENT_CALLS"])
        return _pool


def fire_calls(calls):
    """Each call's Outcome, the calls made side by side."""
    return pool().submit(calls).wait()


def outcome_of(call):
    try:
        return call()
    except Exception as exc:  # a bug in one call must not cost the other runs their record
        log.exception("a call failed unexpectedly")
        return Outcome.failure("internal", f"{type(exc).__name__}: {exc}"[:300])
