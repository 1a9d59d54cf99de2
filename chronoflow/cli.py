"""Commands for operators: `flask worker`, `flask chronos list`."""
import logging
import os
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .chronos import service

chronos_cli = AppGroup("chronos", help="Inspect chronos.")


@chronos_cli.command("list")
def list_command():
    """One line per chrono: id, state, next run, schedule, target."""
    total, items = service.list_chronos(take=10_000)
    for chrono in items:
        state = "active" if chrono.is_active else "paused"
        upcoming = chrono.next_occurrence
        next_run = upcoming.isoformat(timespec="seconds") if upcoming else "-"
        target = chrono.url if chrono.target_type == "HTTP" else f"channel {chrono.channel_id}"
        click.echo(f"{chrono.id:>5}  {state:<6}  {next_run:<25}  {chrono.cron:<18}  {chrono.name}  ->  {target}")
    click.echo(f"{total} chrono(s)")


@click.command("worker")
@with_appcontext
@click.option("--threads", type=int, default=None, help="Concurrent runs (default WORKER_THREADS).")
@click.option(
    "--no-periodic",
    is_flag=True,
    help="Do not run the dispatcher tick: for extra workers when another one already runs it.",
)
def worker_command(threads, no_periodic):
    """Run the Huey consumer: the dispatcher tick and the executors."""
    # Huey's schedule arithmetic must not depend on the host's DST rules.
    os.environ["TZ"] = "UTC"
    time.tzset()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from .queue import huey

    consumer = huey.create_consumer(
        workers=threads or current_app.config["WORKER_THREADS"],
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


def register(app):
    app.cli.add_command(chronos_cli)
    app.cli.add_command(worker_command)
