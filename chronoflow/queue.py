"""The Huey instance: Redis when REDIS_URL is set, else an SQLite file (the embedded default).

Huey has no init_app, and tasks bind to the instance when their module is
imported, so the instance exists at import time and create_app() gives it its
storage. Nothing is kept only here: run rows in the database are the record and
the recovery sweep re-dispatches whatever the transport loses.
"""
import calendar
import logging
import math
import random
import time
from datetime import timezone

import redis
from huey import Huey
from huey import signals as S
from huey.consumer import Consumer, Scheduler
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

log = logging.getLogger(__name__)


# Huey keeps ETAs as naive UTC but turns them into scores with the host's local
# time (mktime / naive .timestamp()), which collapses or jumps an hour at the
# host's DST changes. These read them as the UTC they are, whatever TZ is set.
class UTCRedisStorage(RedisStorage):
    def convert_ts(self, ts):
        return calendar.timegm(ts.timetuple()) + ts.microsecond * 1e-6

    def dequeue(self):
        # Redis hands a pushed task to the client blocked longest. With Huey's
        # fixed 1 s BRPOP every thread of a process keeps the phase it started
        # with, so a burst of tasks pushed at once went to one process's threads
        # and none to the other's. A random wait spreads the threads' turns.
        try:
            return self.conn.brpop(self.queue_key, timeout=random.uniform(0.5, 1.5))[1]
        except (redis.exceptions.TimeoutError, TypeError, IndexError):
            return None  # empty or timed out; ConnectionError propagates for Huey's backoff


class UTCSqliteStorage(SqliteStorage):
    def add_to_schedule(self, data, ts):
        super().add_to_schedule(data, ts.replace(tzinfo=timezone.utc))

    def read_schedule(self, ts):
        return super().read_schedule(ts.replace(tzinfo=timezone.utc))


def next_tick(now, interval):
    """The next dispatcher tick after `now` (epoch seconds): on the clock, in the
    middle of each interval (hh:mm:30 with the default 60 s), so the tick that
    writes a minute's runs never competes with the burst at hh:mm:00."""
    phase = interval / 2 if interval >= 10 else 0
    return (math.floor((now - phase) / interval) + 1) * interval + phase


class HeartbeatScheduler(Scheduler):
    """Huey's scheduler loop (every second, in every consumer), with three changes:
    the dispatcher tick follows the wall clock (Huey's periodic check runs every
    60 s from whenever the consumer started), the worker's heartbeat is written
    every WORKER_BEAT_SECONDS, and the tasks whose ETA came go to the queue all at
    once (Huey pushes them one command at a time)."""

    _next_beat = 0.0
    _next_tick = 0.0  # the first tick comes at start: whatever fell due while we were down
    tick_seconds = 60

    def loop(self, now=None):
        if time.monotonic() >= self._next_beat:
            from .scheduling.heartbeat import WORKER_BEAT_SECONDS

            self._next_beat = time.monotonic() + WORKER_BEAT_SECONDS
            self.huey.beat()
        # Huey's Scheduler.loop (huey 2.x), with enqueue_many for the popped tasks.
        current = self._next_loop
        self._next_loop += self.interval
        if self._next_loop < time.monotonic():
            self._logger.debug("scheduler skipping iteration to avoid race.")
            self._next_loop = time.monotonic()
            return
        try:
            task_list = self.huey.read_schedule(now)
        except Exception:
            self._logger.exception("Error reading schedule.")
        else:
            try:
                self.huey.enqueue_many(task_list)
            except Exception:
                self._logger.exception("Error enqueueing %d scheduled tasks.", len(task_list))
        if self.periodic and time.time() >= self._next_tick:
            # A stall (suspend, a slow loop) skips the ticks it missed: one tick catches up on everything.
            self._next_tick = next_tick(time.time(), self.tick_seconds)
            try:
                self.enqueue_periodic_tasks(now)
            except Exception:
                self._logger.exception("Error enqueueing the dispatcher tick.")
        self.sleep_for_interval(current, self.interval)


class ChronoHuey(Huey):
    flask_app = None
    tick_seconds = 60

    def __init__(self, name):
        # Results are never read: the outcome of a run lives in its row.
        super().__init__(name, results=False, utc=True, storage_class=MemoryStorage)

    def init_app(self, app):
        self.flask_app = app
        self.tick_seconds = app.config["SCHEDULER_INTERVAL"]
        if app.config.get("HUEY_STORAGE") is not None:  # tests inject one
            self.storage = app.config["HUEY_STORAGE"]
        elif app.config["REDIS_URL"]:
            self.storage = UTCRedisStorage(app.config["QUEUE_NAME"], url=app.config["REDIS_URL"])
        else:
            self.storage = UTCSqliteStorage(app.config["QUEUE_NAME"], filename=app.config["HUEY_SQLITE_PATH"])

    def enqueue_many(self, tasks):
        """huey.enqueue for each task; on Redis one LPUSH for them all (same order)."""
        if not tasks:
            return
        if (self.results or self._immediate or not isinstance(self.storage, RedisStorage)
                or any(task.priority for task in tasks)):
            for task in tasks:
                self.enqueue(task)
            return
        messages = []
        for task in tasks:
            if task.expires:
                task.resolve_expires(self.utc)
            self._emit(S.SIGNAL_ENQUEUED, task)
            messages.append(self.serialize_task(task))
        self.storage.conn.lpush(self.storage.queue_key, *messages)

    def add_schedule_many(self, tasks):
        """huey.add_schedule for each task (each with its eta); on Redis one ZADD."""
        if not tasks:
            return
        if not isinstance(self.storage, RedisStorage):
            for task in tasks:
                self.add_schedule(task)
            return
        scores = {self.serialize_task(task): self.storage.convert_ts(task.eta) for task in tasks}
        self.storage.conn.zadd(self.storage.schedule_key, scores)
        for task in tasks:
            self._emit(S.SIGNAL_SCHEDULED, task)
        log.debug("added %d tasks to the schedule", len(tasks))

    def beat(self):
        """The worker's heartbeat, in the database where /api/health looks for it."""
        from .extensions import db
        from .scheduling import heartbeat

        try:
            with self.flask_app.app_context():
                heartbeat.beat(heartbeat.worker_name(), heartbeat.WORKER)
                db.session.commit()
        except Exception:  # the database is down: health will say so; keep consuming
            log.exception("could not record the worker heartbeat")

    def create_consumer(self, **options):
        # Huey checks periodic tasks every 60 s, a class constant; the dispatcher
        # tick follows SCHEDULER_INTERVAL instead, on the clock.
        scheduler = type("TickScheduler", (HeartbeatScheduler,), {"tick_seconds": self.tick_seconds})
        consumer = type("ChronoConsumer", (Consumer,), {"scheduler_class": scheduler})
        return consumer(self, **options)


huey = ChronoHuey("chronoflow")
