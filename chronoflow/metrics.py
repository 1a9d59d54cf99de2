"""Prometheus metrics: what each process counts, and what the database says when scraped.

- Counted where it happens: runs (by target and status, their duration and lateness,
  retries, WhatsApp messages) and scheduler ticks in the worker, requests in the web
  processes. gunicorn's workers are several processes behind one port, so they count
  in prometheus_client's multiprocess mode (files in PROMETHEUS_MULTIPROC_DIR, set up
  by gunicorn.conf.py) and whichever of them answers /metrics sums them all. A
  `flask worker` is one process: it serves its own counts on WORKER_METRICS_ADDRESS,
  and Prometheus scrapes each worker (sum() over them in queries).
- Read at scrape time by the web's /metrics: chronos, due-but-not-dispatched
  occurrences, open runs, the queue's depth, heartbeats. Cheap indexed counts, exact
  whichever process answers, and never counted twice across workers.

Both endpoints need `Authorization: Bearer <METRICS_TOKEN>`; with no token set,
there are none. docs/monitoring.md has the scrape config and alert rules.
"""
import hmac
import os
import threading
from datetime import timedelta
from wsgiref.simple_server import WSGIRequestHandler, make_server

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (REGISTRY, CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest, make_wsgi_app)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import bindparam, func, select

from .extensions import db
from .models import Chrono, ChronoRun, Heartbeat, RunStatus, utcnow
from .scheduling import heartbeat

# The *_created series double every counter's lines for what Prometheus does not need
# (and multiprocess mode has none): off, so both endpoints show the same shape.
disable_created_metrics()

# Seconds: webhooks answer in milliseconds to their timeout; a WhatsApp run takes minutes.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
# The promise is "on the second": the buckets are fine below a second.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 10, 30, 60, 300)

RUNS = Counter("chronoflow_runs", "Runs that reached a final status (skipped and cancelled included), by target "
               "and status",
               ["target", "status"])
RETRIES = Counter("chronoflow_run_retries", "Attempts that failed and will be tried again", ["target"])
ATTEMPT_ERRORS = Counter("chronoflow_run_attempt_errors", "Failed attempts, by error code", ["target", "error_code"])
RUN_DURATION = Histogram("chronoflow_run_duration_seconds", "How long one attempt took (a WhatsApp run: all its "
                         "messages, pauses included)", ["target"], buckets=DURATION_BUCKETS)
RUN_LATENESS = Histogram("chronoflow_run_lateness_seconds", "How long after its scheduled time a scheduled run "
                         "started", ["target"], buckets=LATENESS_BUCKETS)
WHATSAPP = Counter("chronoflow_whatsapp_messages", "WhatsApp messages of runs: sent, or the reason they were not",
                   ["outcome"])
TICK = Histogram("chronoflow_scheduler_tick_duration_seconds", "How long a dispatcher tick took",
                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
TASK_FAILURES = Counter("chronoflow_task_failures", "Queue tasks that raised an exception", ["task"])
REQUESTS = Counter("chronoflow_http_requests", "Requests answered, by route", ["method", "route", "status"])
REQUEST_DURATION = Histogram("chronoflow_http_request_duration_seconds", "How long a request took, by route",
                             ["method", "route"], buckets=DURATION_BUCKETS[:10])

# In the SQL, not bound: PostgreSQL's generic plan must see them to use the partial
# index ix_chrono_runs_open (see scheduling/recovery.py).
OPEN = bindparam("open_statuses", list(RunStatus.OPEN), expanding=True, literal_execute=True)
PENDING = bindparam("pending", RunStatus.PENDING, literal_execute=True)


def process_collector():
    """This process's counts; under gunicorn, every web worker's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


class DatabaseState:
    """Gauges read from the database and the queue when scraped (in an app context)."""

    def collect(self):
        up = GaugeMetricFamily("chronoflow_database_up", "1 when the database answered this scrape")
        try:
            gauges = list(self._read(current_app.config, utcnow()))
        except Exception:  # the scrape reports the outage; it does not fail
            db.session.rollback()
            up.add_metric([], 0)
            gauges = []
        else:
            db.session.rollback()  # read only
            up.add_metric([], 1)
        yield up
        yield from gauges
        yield from _queue()

    def _read(self, config, now):
        scalar = db.session.scalar
        active = Chrono.is_active == True  # noqa: E712 (the predicate of ix_chronos_due)
        yield _gauge("chronoflow_chronos_active", "Active (not paused) chronos",
                     scalar(select(func.count()).select_from(Chrono).where(active)))
        yield _gauge("chronoflow_due_not_dispatched", "Active chronos whose next occurrence is due and has no run "
                     "row yet (the dispatcher is behind or down)",
                     scalar(select(func.count()).select_from(Chrono).where(active, Chrono.next_run_at <= now)))

        open_runs = GaugeMetricFamily("chronoflow_runs_open", "Runs not final yet, by status", labels=["status"])
        counts = dict(db.session.execute(
            select(ChronoRun.status, func.count()).where(ChronoRun.status.in_(OPEN)).group_by(ChronoRun.status)).all())
        for status in RunStatus.OPEN:
            open_runs.add_metric([status], counts.get(status, 0))
        yield open_runs
        oldest = scalar(select(func.min(ChronoRun.scheduled_for))
                        .where(ChronoRun.status == PENDING, ChronoRun.scheduled_for <= now))
        yield _gauge("chronoflow_run_oldest_waiting_seconds", "How long the oldest pending run whose time has come "
                     "has waited to start (0: none)", _age(now, oldest) or 0)

        fresh = now - timedelta(seconds=config["HEALTH_STALE_SECONDS"])
        yield _gauge("chronoflow_workers_alive", "Worker processes with a heartbeat in the last HEALTH_STALE_SECONDS",
                     scalar(select(func.count()).select_from(Heartbeat)
                            .where(Heartbeat.kind == heartbeat.WORKER, Heartbeat.beat_at >= fresh)))
        for kind, name, text in ((heartbeat.WORKER, "chronoflow_worker_heartbeat_age_seconds",
                                  "Since the newest worker heartbeat (absent: never)"),
                                 (heartbeat.SCHEDULER, "chronoflow_scheduler_last_tick_age_seconds",
                                  "Since the dispatcher's last tick (absent: never)")):
            age = _age(now, scalar(select(func.max(Heartbeat.beat_at)).where(Heartbeat.kind == kind)))
            if age is not None:
                yield _gauge(name, text, age)


def _queue():
    from .queue import huey

    depth = GaugeMetricFamily("chronoflow_queue_tasks", "Tasks in the queue: ready (waiting for a worker thread) "
                              "and scheduled (waiting for their time: runs enqueued ahead, retries)", labels=["state"])
    try:
        depth.add_metric(["ready"], huey.storage.queue_size())
        depth.add_metric(["scheduled"], huey.storage.schedule_size())
    except Exception:  # Redis down: no sample rather than a wrong one
        return
    yield depth


def _gauge(name, documentation, value):
    return GaugeMetricFamily(name, documentation, value=value)


def _age(now, moment):
    return None if moment is None else max((now - moment).total_seconds(), 0.0)


class Scrape:
    """What the web's /metrics shows: every web process's counts and the database's state."""

    def collect(self):
        yield from process_collector().collect()
        yield from DatabaseState().collect()


def authorized(header, token):
    scheme, _sep, sent = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


bp = Blueprint("metrics", __name__)


@bp.route("/metrics")
def scrape():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not authorized(request.headers.get("Authorization"), token):
        return Response("Send Authorization: Bearer <METRICS_TOKEN>\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    return Response(generate_latest(Scrape()), mimetype=CONTENT_TYPE_LATEST)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass  # a scrape every few seconds is not news


def serve_worker_metrics(address, token):
    """This worker process's counts on `address` (host, port), in a daemon thread."""
    metrics_app = make_wsgi_app(process_collector())

    def guarded(environ, start_response):
        if not authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                ("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [b"Send Authorization: Bearer <METRICS_TOKEN>\n"]
        return metrics_app(environ, start_response)

    server = make_server(*address, guarded, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
