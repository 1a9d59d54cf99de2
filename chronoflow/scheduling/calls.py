"""The worker process's threads for outbound calls, shared by every task it runs.

Not concurrent.futures: a Future (and its Condition) per call cost a tenth of
the worker's CPU in a burst. Here a task waits on one Event for all its calls.
"""
import logging
import queue
import threading

from flask import current_app

from ..executors.outcome import Outcome

log = logging.getLogger(__name__)


class CallPool:
    """CONCURRENT_CALLS threads, and how many calls wait for one."""

    def __init__(self, size):
        self.size = size
        self.queue = queue.SimpleQueue()
        self.waiting = 0
        self.changed = threading.Condition()
        # One claim at a time per process: runs are claimed when there is room to call them.
        self.claiming = threading.Lock()
        self.threads = [threading.Thread(target=self._work, name=f"call-{n}", daemon=True) for n in range(size)]
        for thread in self.threads:
            thread.start()

    def submit(self, calls):
        """Start the calls; returns a Pending whose wait() gives their outcomes, in order."""
        pending = Pending(len(calls))
        with self.changed:
            self.waiting += len(calls)
        for index, call in enumerate(calls):
            self.queue.put((call, pending, index))
        return pending

    def _work(self):
        while True:
            call, pending, index = self.queue.get()
            with self.changed:
                self.waiting -= 1
                if self.waiting < self.size:
                    self.changed.notify_all()
            pending.done(index, outcome_of(call))

    def wait_for_room(self):
        """Until fewer calls wait than there are threads to make them."""
        with self.changed:
            while self.waiting >= self.size:
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
