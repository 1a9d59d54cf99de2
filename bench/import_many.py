#!/usr/bin/env python3
"""Import N chronos at once and print the rate (chronos per second).

Target: at least 5,000 chronos/s on PostgreSQL, validation through ChronoInput,
the set-based INSERT and the commit included; then the first runs of those due
before the next tick are dispatched as the tick does it (tasks.dispatch_due),
timed on its own line.

It creates a throwaway PostgreSQL database (`chronoflow_bench_import_<pid>`, on
127.0.0.1:5432, user postgres, trust) migrated to head, and uses Redis database
13 (flushed before and after) as the queue; both are removed at the end.

    .venv/bin/python bench/import_many.py                 # 20,000 chronos
    .venv/bin/python bench/import_many.py --chronos 5000 --database sqlite
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_PER_S = 5000
# Varied schedules, zones and hosts, as a real export holds.
SCHEDULES = ("*/5 * * * *", "0 9 * * 1-5", "todo dia às 18:30", "every 15 minutes", "0 */2 * * *",
             "30 8 1 * *", "dias úteis às 9", "0 0 * * 0", "* * * * *", "@hourly")
ZONES = ("America/Sao_Paulo", "UTC", "Europe/Lisbon", "America/New_York")
HOSTS = ("api.example.com", "hooks.example.org", "93.184.215.14", "example.net")


def items(count):
    for n in range(count):
        yield {
            "name": f"bench {n}",
            "schedule": SCHEDULES[n % len(SCHEDULES)],
            "timezone": ZONES[n % len(ZONES)],
            "url": f"https://{HOSTS[n % len(HOSTS)]}/hook/{n}",
            "headers": {"X-Bench": str(n)},
            "payload": {"n": n, "kind": "bench"} if n % 2 else None,
            "config": {"max_attempts": 3},
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chronos", type=int, default=20_000)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    import redis
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, func, select, text

    folder = tempfile.mkdtemp(prefix="chronoflow-bench-import-")
    name = f"chronoflow_bench_import_{os.getpid()}"
    admin = None
    if args.database == "postgres":
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{folder}/bench.db"
    queue = redis.Redis.from_url(args.redis)
    queue.flushdb()
    try:
        from chronoflow import create_app, tasks
        from chronoflow.chronos import transfer
        from chronoflow.extensions import db
        from chronoflow.models import Chrono, ChronoRun

        app = create_app({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis,
                          "SECRET_KEY": "bench", "INSTANCE_PATH": folder})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            document = list(items(args.chronos))

            started = time.perf_counter()
            loaded = transfer.validate(document)
            validated = time.perf_counter()
            transfer.insert_all(loaded)
            inserted = time.perf_counter()
            db.session.commit()
            written = time.perf_counter()
            dispatched = tasks.dispatch_due()
            done = time.perf_counter()

            count = db.session.scalar(select(func.count()).select_from(Chrono))
            runs = db.session.scalar(select(func.count()).select_from(ChronoRun))
            db.session.remove()
            db.engine.dispose()
        rate = args.chronos / (written - started)
        print(f"database: {args.database}; chronos: {args.chronos:,} (in the table: {count:,})")
        print(f"validate (ChronoInput): {validated - started:.3f} s  "
              f"({args.chronos / (validated - started):,.0f}/s)")
        print(f"insert + commit:        {written - validated:.3f} s  "
              f"({args.chronos / (written - validated):,.0f}/s)")
        print(f"  of which the commit:  {written - inserted:.3f} s")
        print(f"import rate:            {rate:,.0f} chronos/s (validate + insert + commit)")
        print(f"first runs dispatched:  {dispatched:,} runs in {done - written:.3f} s (rows: {runs:,})")
        verdict = "PASS" if rate >= TARGET_PER_S else "FAIL"
        print(f"VERDICT: {verdict} (target >= {TARGET_PER_S:,} chronos/s)")
        return 0 if verdict == "PASS" else 1
    finally:
        queue.flushdb()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
