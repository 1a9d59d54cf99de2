"""Commands for operators: `flask worker`, `flask chronos list`."""
import logging
import os
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from . import logs, metrics, observe
from .chronos import service
from .config import ConfigError, host_port

chronos_cli = AppGroup("chronos", help="Inspect chronos.")


@chronos_cli.command("list")
def list_command():
    """One line per chrono: id, state, next run, schedule, target."""
    total, items = service.list_chronos(take=10_000)
    for chrono in items:
        state = chrono.state  # active, paused or finished
        upcoming = chrono.next_occurrence
        next_run = upcoming.isoformat(timespec="seconds") if upcoming else "-"
        target = chrono.url if chrono.target_type == "HTTP" else f"channel {chrono.channel_id}"
        click.echo(f"{chrono.id:>5}  {state:<6}  {next_run:<25}  {chrono.cron:<18}  {chrono.name}  ->  {target}")
    click.echo(f"{total} chrono(s)")


@chronos_cli.command("export")
@click.option("--with-secrets", is_flag=True, help="Include credential headers and signing secrets.")
def export_command(with_secrets):
    """Every chrono as one JSON document, on standard output."""
    import json

    from .chronos import transfer

    click.echo(json.dumps(transfer.export(with_secrets), ensure_ascii=False, indent=1))


@chronos_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--with-secrets", is_flag=True, help="Keep the signing secrets the document holds.")
def import_command(file, with_secrets):
    """Import an export document: all its chronos, or none if any is not valid."""
    import json

    from .chronos import transfer

    try:
        document = json.load(file)
    except (ValueError, RecursionError) as exc:
        raise click.ClickException(f"{file.name} is not JSON: {exc}") from None
    try:
        count = transfer.import_chronos(transfer.items_of(document), with_secrets)
    except transfer.ImportRefused as exc:
        _refused(exc, "item")
    _commit_and_dispatch()
    click.echo(f"{count} chrono(s) imported")


@chronos_cli.command("import-crontab")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--timezone", default=None, help="The crontab's zone (default DEFAULT_TIMEZONE).")
def import_crontab_command(file, timezone):
    """Import a crontab's `m h dom mon dow curl …` lines as webhook chronos."""
    from .chronos import transfer

    try:
        count, reading = transfer.import_crontab(file.read(), timezone)
    except transfer.ImportRefused as exc:
        _refused(exc, "line")
    _commit_and_dispatch()
    for number, why in sorted(reading.refused.items()):
        click.echo(f"line {number} left out: {why}", err=True)
    click.echo(f"{count} chrono(s) imported, {len(reading.refused)} line(s) left out")


def _refused(exc, unit):
    from .extensions import db

    db.session.rollback()
    for position, problems in sorted(exc.errors.items(), key=lambda pair: str(pair[0])):
        for name, why in problems.items():
            click.echo(f"{unit} {position}: {name}: {why}", err=True)
    raise click.ClickException(f"nothing imported: {len(exc.errors)} {unit}(s) not valid")


def _commit_and_dispatch():
    from . import tasks
    from .extensions import db

    db.session.commit()
    try:
        tasks.dispatch_due()
    except tasks.QueueUnavailable:
        click.echo("the queue is not reachable: the first runs wait for the scheduler's tick", err=True)


def _host_port(_ctx, param, value):
    try:
        return host_port(param.opts[0], value) if value else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("worker")
@with_appcontext
@click.option("--threads", type=int, default=None, help="Concurrent runs (default WORKER_THREADS).")
@click.option(
    "--no-periodic",
    is_flag=True,
    help="Do not run the dispatcher tick: for extra workers when another one already runs it.",
)
@click.option("--metrics-address", default=None, metavar="HOST:PORT", callback=_host_port,
              help="Serve this process's metrics there (default WORKER_METRICS_ADDRESS; needs METRICS_TOKEN).")
def worker_command(threads, no_periodic, metrics_address):
    """Run the Huey consumer: the dispatcher tick and the executors."""
    # Huey's schedule arithmetic must not depend on the host's DST rules.
    os.environ["TZ"] = "UTC"
    time.tzset()
    config = current_app.config
    logs.configure(config["LOG_FORMAT"], config["LOG_LEVEL"])

    from .queue import huey

    observe.watch_tasks(huey)
    _serve_metrics(metrics_address, config)

    consumer = huey.create_consumer(
        workers=threads or config["WORKER_THREADS"],
        worker_type="thread",
        periodic=not no_periodic,
        scheduler_interval=1,
        # The SQLite queue is polled; an idle worker must not back off past
        # the second that the dispatcher's early start buys (Redis blocks instead).
        max_delay=0.5,
        # docker stop sends SIGTERM: let running calls finish rather than cut them.
        graceful_signal="TERM",
        shutdown_timeout=30,
    )
    consumer.run()


def _serve_metrics(address, config):
    """On --metrics-address, or WORKER_METRICS_ADDRESS when METRICS_TOKEN is set too."""
    log = logging.getLogger(__name__)
    token = config["METRICS_TOKEN"]
    if address and not token:
        raise click.UsageError("--metrics-address needs METRICS_TOKEN: Prometheus sends it to read them.")
    address = address or config["WORKER_METRICS_ADDRESS"]
    if address and not token:
        log.warning("WORKER_METRICS_ADDRESS is set but METRICS_TOKEN is not: no metrics are served")
    elif address:
        metrics.serve_worker_metrics(address, token)
        log.info("metrics on http://%s:%s/metrics", *address)


def register(app):
    app.cli.add_command(chronos_cli)
    app.cli.add_command(worker_command)
