"""What operators watch: each event becomes one log line and moves the metrics.

The run path calls one function, at each place it records an attempt's outcome
(scheduling/runner.py record_outcome and scheduling/batch.py record, right after
apply_outcome):

    observe.run_recorded(run, attempt, started, outcome)

and runs_finished() where runs become final without an attempt (skipped,
cancelled) or with one its worker never recorded (worker_lost). Both copy plain
values and report them when the session commits: a record rolled back and tried
again reports once, and only what the database kept.

Nothing else in the run path calls this module: requests are timed through Flask's
request_started signal and after_request (init_app), queue tasks (the dispatcher
tick) through Huey's pre/post-execute hooks (watch_tasks).
"""
import logging
import re
import time
from dataclasses import dataclass

from flask import g, request, request_started
from sqlalchemy import event
from sqlalchemy.orm import Session

from . import metrics
from .config import HTTP_METHODS
from .extensions import db
from .models import RunStatus, TargetType, Trigger

runs_log = logging.getLogger("chronoflow.runs")
requests_log = logging.getLogger("chronoflow.requests")

TARGETS = {TargetType.HTTP: "webhook", TargetType.MESSAGE: "whatsapp"}
# Polled every few seconds by compose and Prometheus: logged only at DEBUG, unless they fail.
POLLED = frozenset({"/api/health/live", "/metrics"})
_PENDING = "chronoflow.observe.pending"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RunRecorded:
    run_id: int
    chrono_id: int
    target: str
    trigger: str
    attempt: int
    status: str
    duration_ms: int
    lateness_ms: int
    http_status: int | None
    error_code: str | None
    next_attempt_at: str | None
    messages: tuple  # WhatsApp: the outcome of each message this attempt decided


def run_recorded(run, attempt, started, outcome):
    """`run` after apply_outcome (an ORM row or batch.load's plain object, with .chrono)."""
    first_start = run.started_at or started
    recorded = RunRecorded(
        run_id=run.id,
        chrono_id=run.chrono_id,
        target=TARGETS.get(run.chrono.target_type, str(run.chrono.target_type).lower()),
        trigger=run.trigger,
        attempt=attempt,
        status=run.status,
        duration_ms=outcome.duration_ms,
        lateness_ms=int((first_start - run.scheduled_for).total_seconds() * 1000),
        http_status=outcome.http_status,
        error_code=None if outcome.ok else outcome.error_code,
        next_attempt_at=run.next_attempt_at.isoformat() if run.status == RunStatus.RETRYING else None,
        messages=_messages(outcome, attempt),
    )
    db.session().info.setdefault(_PENDING, []).append(recorded)


@dataclass(frozen=True)
class RunsFinished:
    target: str
    status: str
    reason: str  # the error code: missed, overlap, cancelled, worker_lost...
    count: int


def runs_finished(target_type, status, reason, count=1):
    """`count` runs of `target_type` became `status` for `reason` without a recorded attempt."""
    if count:
        db.session().info.setdefault(_PENDING, []).append(
            RunsFinished(TARGETS.get(target_type, str(target_type).lower()), status, reason, count))


def _messages(outcome, attempt):
    """Per recipient, what this attempt did: "sent", or the error code of a failure
    (earlier attempts' recipients are reported by those attempts)."""
    records = (outcome.result or {}).get("recipients") or ()
    return tuple("sent" if r.get("status") == "sent" else (r.get("error_code") or "failed")
                 for r in records
                 if isinstance(r, dict) and r.get("attempt") == attempt and r.get("status") in ("sent", "failed"))


@event.listens_for(Session, "after_commit")
def _report(session):
    for recorded in session.info.pop(_PENDING, ()):
        try:
            _report_run(recorded)
        except Exception:  # watching must never cost a run its record
            runs_log.exception("could not report %s", recorded)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(_PENDING, None)


def _report_run(e):
    if isinstance(e, RunsFinished):
        metrics.RUNS.labels(e.target, e.status).inc(e.count)
        runs_log.log(logging.WARNING if e.status == RunStatus.FAILED else logging.INFO,
                     "%d %s runs %s: %s", e.count, e.target, e.status, e.reason,
                     extra={"target": e.target, "status": e.status, "error_code": e.reason, "count": e.count})
        return
    target = e.target
    metrics.RUN_DURATION.labels(target).observe(e.duration_ms / 1000)
    if e.attempt == 1 and e.trigger == Trigger.SCHEDULE:
        metrics.RUN_LATENESS.labels(target).observe(max(e.lateness_ms, 0) / 1000)
    if e.status == RunStatus.RETRYING:
        metrics.RETRIES.labels(target).inc()
    else:
        metrics.RUNS.labels(target, e.status).inc()
    if e.error_code:
        metrics.ATTEMPT_ERRORS.labels(target, e.error_code).inc()
    for outcome in e.messages:
        metrics.WHATSAPP.labels(outcome).inc()

    words = [f"attempt {e.attempt}", f"{e.duration_ms} ms", f"started {e.lateness_ms} ms late"]
    if e.http_status is not None:
        words.append(f"HTTP {e.http_status}")
    if e.error_code:
        words.append(e.error_code)
    if e.next_attempt_at:
        words.append(f"next attempt at {e.next_attempt_at}")
    runs_log.log(
        logging.WARNING if e.status == RunStatus.FAILED else logging.INFO,
        "run %s of chrono %s %s: %s", e.run_id, e.chrono_id, e.status, ", ".join(words),
        extra={"run_id": e.run_id, "chrono_id": e.chrono_id, "target": target, "trigger": e.trigger,
               "attempt": e.attempt, "status": e.status, "duration_ms": e.duration_ms,
               "lateness_ms": e.lateness_ms, "http_status": e.http_status, "error_code": e.error_code,
               "next_attempt_at": e.next_attempt_at},
    )


def init_app(app):
    """Time and log every request; serve /metrics."""
    request_started.connect(_request_started, app)
    app.after_request(_request_finished)
    app.register_blueprint(metrics.bp)


def _request_started(_sender, **_extra):
    g.observe_started = time.perf_counter()


def _request_finished(response):
    started = g.pop("observe_started", None)
    seconds = time.perf_counter() - started if started is not None else 0.0
    # Labels from what a client sends stay few: the URL rule, never the path; a known method.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    method = request.method if request.method in HTTP_METHODS else "OTHER"
    metrics.REQUESTS.labels(method, route, str(response.status_code)).inc()
    metrics.REQUEST_DURATION.labels(method, route).observe(seconds)
    quiet = request.path in POLLED and response.status_code < 400
    duration_ms = round(seconds * 1000, 1)
    # The path only, since a query string may carry what should not be in a log; a
    # decoded %0A must not start a forged line.
    path = CONTROL.sub("?", request.path)
    requests_log.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s %s %s ms", method, path, response.status_code, duration_ms,
        extra={"method": method, "path": path, "route": route, "status": response.status_code,
               "duration_ms": duration_ms},
    )
    return response


def watch_tasks(huey):
    """Time the dispatcher tick and count tasks that raise (in the worker)."""
    huey.pre_execute(name="observe")(_task_started)
    huey.post_execute(name="observe")(_task_finished)


def _task_started(task):
    task.observe_started = time.monotonic()


def _task_finished(task, _value, exception):
    from .tasks import dispatch_tick

    if exception is not None:
        metrics.TASK_FAILURES.labels(task.name).inc()
    started = getattr(task, "observe_started", None)
    if task.name == dispatch_tick.name and started is not None:
        metrics.TICK.observe(time.monotonic() - started)
