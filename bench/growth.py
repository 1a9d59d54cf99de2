"""`bench/run growth`: the dashboard pages and API lists, and the dispatcher tick, when
the data grows (issue 16, "When the data grows").

1. A fresh PostgreSQL database `bench_growth`, migrated with `flask db upgrade`.
2. `--chronos` (100,000) active chronos and `--runs` (1,000,000) final runs, inserted
   set-based with generate_series: chrono 1 holds `--big` (100,000) of the runs, the
   others share the rest. Every 7th chrono fires every minute (~14,300 runs due a
   minute at 100,000 chronos), the others once a day. Then ANALYZE.
3. Each page is requested through the app in this process (Flask's test client,
   signed in as a user or with an API token; no network, no gunicorn): one request
   unmeasured, then `--repeat` (7) measured; the median is printed and over 50 ms
   flagged.
4. One dispatcher tick (`tasks.dispatch_due`, what the worker's tick runs first) with
   every minutely chrono due: its wall time and the time per run written. Its tasks
   go to Redis database 11, flushed before and after.

The database is dropped at the end (also on Ctrl+C); the whole run is bounded by a
timeout (`--timeout`, 900 s).
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from fire_many import ROOT, code_version  # noqa: E402

RESULTS = BENCH / "results" / "growth.json"
PG_BASE = os.environ.get("BENCH_PG", "postgres@127.0.0.1:5432")
DB_NAME = "bench_growth"
REDIS_URL = os.environ.get("BENCH_GROWTH_REDIS_URL", "redis://127.0.0.1:6379/11")
PASSWORD = "bench-password-123"


def log(message):
    print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {message}", flush=True)


def admin_engine():
    from sqlalchemy import create_engine

    return create_engine(f"postgresql+psycopg://{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")


def recreate_db():
    from sqlalchemy import text

    engine = admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    engine.dispose()


def drop_db():
    from sqlalchemy import text

    try:
        engine = admin_engine()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        engine.dispose()
    except Exception as exc:  # cleanup must not hide the real error
        log(f"cleanup: {exc}")


def env():
    out = dict(os.environ)
    out.update({"DATABASE_URL": f"postgresql://{PG_BASE}/{DB_NAME}", "REDIS_URL": REDIS_URL,
                "SECRET_KEY": "bench-growth", "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8", "FLASK_APP": "app"})
    out.pop("METRICS_TOKEN", None)
    return out


def fill(chronos, runs, big, now):
    """Set-based inserts: a few statements, whatever the counts."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"postgresql+psycopg://{PG_BASE}/{DB_NAME}", isolation_level="AUTOCOMMIT")
    minute = now.replace(second=0, microsecond=0)
    started = time.monotonic()
    with engine.connect() as conn:
        conn.execute(text("""
            INSERT INTO chronos (id, name, description, schedule, cron, timezone, target_type, method, url,
                                 headers, is_active, config, recipients, next_run_at, consecutive_failures,
                                 signing_secret, created_at, updated_at)
            SELECT g, 'growth chrono ' || g, '', s.cron, s.cron, 'UTC', 'HTTP', 'GET',
                   'http://127.0.0.1:9/hook/' || g, '{}'::jsonb, true, '{}'::jsonb, '[]'::jsonb,
                   CASE WHEN g % 7 = 1 THEN CAST(:minute AS timestamptz) + interval '1 minute'
                        ELSE date_trunc('day', CAST(:minute AS timestamptz)) + interval '1 day 9 hours' END,
                   0, md5(g::text), CAST(:minute AS timestamptz) - interval '30 days', CAST(:minute AS timestamptz)
            FROM generate_series(1, :n) AS g
            CROSS JOIN LATERAL (SELECT CASE WHEN g % 7 = 1 THEN '* * * * *' ELSE '0 9 * * *' END AS cron) AS s
        """), {"n": chronos, "minute": minute})
        conn.execute(text("SELECT setval(pg_get_serial_sequence('chronos', 'id'), :n)"), {"n": chronos})
        # Chrono 1: `big` runs, one a minute back from now; the rest spread over chronos 2..N.
        conn.execute(text("""
            INSERT INTO chrono_runs (chrono_id, scheduled_for, trigger, status, attempt, started_at,
                                     finished_at, http_status, duration_ms, created_at)
            SELECT 1, t, 'schedule', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'success' END, 1,
                   t + interval '50 milliseconds', t + interval '80 milliseconds',
                   CASE WHEN g % 10 = 0 THEN 500 ELSE 200 END, 30, t
            FROM generate_series(1, :big) AS g,
                 LATERAL (SELECT CAST(:minute AS timestamptz) - g * interval '1 minute' AS t) AS m
        """), {"big": big, "minute": minute})
        rest = runs - big
        conn.execute(text("""
            INSERT INTO chrono_runs (chrono_id, scheduled_for, trigger, status, attempt, started_at,
                                     finished_at, http_status, duration_ms, created_at)
            SELECT 2 + g % (:n - 1), t, 'schedule', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'success' END, 1,
                   t + interval '50 milliseconds', t + interval '80 milliseconds',
                   CASE WHEN g % 10 = 0 THEN 500 ELSE 200 END, 30, t
            FROM generate_series(0, :rest - 1) AS g,
                 LATERAL (SELECT CAST(:minute AS timestamptz) - (1 + g / (:n - 1)) * interval '1 day' AS t) AS m
        """), {"n": chronos, "rest": rest, "minute": minute})
        conn.execute(text("VACUUM ANALYZE chronos"))
        conn.execute(text("VACUUM ANALYZE chrono_runs"))
        some_run = conn.execute(text("SELECT max(id) FROM chrono_runs WHERE chrono_id = 1")).scalar()
    engine.dispose()
    log(f"filled {chronos:,} chronos and {runs:,} runs in {time.monotonic() - started:.1f} s")
    return some_run


def timed(client, path, headers, repeat):
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, (path, response.status_code)
    return times


def sign_in(client, username):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token.group(1) if token else ""})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"sign-in failed: {response.status_code}")


def run(args):
    import redis

    now = datetime.now(timezone.utc)
    recreate_db()
    redis.Redis.from_url(REDIS_URL).flushdb()
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env(), check=True,
                   capture_output=True, timeout=120)
    some_run = fill(args.chronos, args.runs, args.big, now)

    os.environ.update({k: v for k, v in env().items() if k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                                "OUTBOUND_ALLOWED_NETWORKS")})
    sys.path.insert(0, str(ROOT))
    from chronoflow import create_app
    from chronoflow.accounts import service as accounts
    from chronoflow.extensions import db

    app = create_app()
    with app.app_context():
        accounts.create_user({"username": "bench", "password": PASSWORD, "is_admin": True})
        db.session.commit()
        _row, token = accounts.create_token(accounts.find_user("bench"), {"name": "bench"})
        db.session.commit()
    api = {"Authorization": f"Bearer {token}"}
    deep_page = args.big // 20 - 100
    big, list_page = f"{args.big:,}", max(1, args.chronos // 20 - 50)
    pages = [
        (f"chrono page, the chrono with {big} runs (page 1)", "/chronos/1", None),
        (f"chrono page, history page {deep_page:,}", f"/chronos/1?page={deep_page}", None),
        ("chrono page, failed runs only", "/chronos/1?status=failed", None),
        ("chrono page, a chrono with ~10 runs", "/chronos/2", None),
        ("chrono list (page 1)", "/", None),
        ("chrono list, search 'chrono 4242'", "/?q=chrono%204242", None),
        (f"chrono list, page {list_page:,}", f"/?page={list_page}", None),
        ("run page", f"/runs/{some_run}", None),
        (f"API runs list, the chrono with {big} runs", "/api/chronos/1/runs", api),
        (f"API runs list, skip={args.big * 9 // 10}", f"/api/chronos/1/runs?skip={args.big * 9 // 10}", api),
        (f"API runs list, skip={args.big - 20}", f"/api/chronos/1/runs?skip={args.big - 20}", api),
        ("API chrono list", "/api/chronos", api),
        (f"API chrono list, skip={args.chronos - 1000}", f"/api/chronos?skip={args.chronos - 1000}", api),
    ]
    results = []
    with app.test_client() as client:
        sign_in(client, "bench")
        for name, path, headers in pages:
            times = timed(client, path, headers, args.repeat)
            median = statistics.median(times)
            results.append({"name": name, "path": path, "median_ms": median, "all_ms": times})
            log(f"{name:<50} {median:8.1f} ms{'  > 50 ms' if median > 50 else ''}   ({path})")

    # The tick: every minutely chrono is due at the next minute, inside the horizon.
    from sqlalchemy import text

    from chronoflow import tasks

    with app.app_context():
        before = db.session.execute(text("SELECT count(*) FROM chrono_runs")).scalar()
        started = time.perf_counter()
        cpu0 = time.process_time()
        tasks.dispatch_due(now=datetime.now(timezone.utc))
        db.session.commit()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        written = db.session.execute(text("SELECT count(*) FROM chrono_runs")).scalar() - before
    tick = {"seconds": seconds, "cpu_seconds": cpu, "runs": written,
            "ms_per_run": 1000 * seconds / max(1, written)}
    log(f"dispatcher tick: {written:,} runs written in {seconds:.2f} s ({tick['ms_per_run']:.3f} ms per run, "
        f"{cpu:.2f} s CPU in this process){'  > 0.5 s' if seconds > 0.5 else ''}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    return results, tick


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench/run growth", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chronos", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=1_000_000)
    p.add_argument("--big", type=int, default=100_000, help="runs of chrono 1")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--timeout", type=int, default=900)
    p.add_argument("--write-doc", action="store_true")
    args = p.parse_args(argv)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"over {args.timeout} s")))
    signal.alarm(args.timeout)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # Ctrl+C even when started in the background of a script (where SIGINT is ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    load = os.getloadavg()
    try:
        pages, tick = run(args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        signal.alarm(0)
        drop_db()
    from compare import host_description

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": f"bench/run growth {argv_text}".strip(), "code": code_version(), "host": host_description(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "load": load,
        "chronos": args.chronos, "runs": args.runs, "big_chrono_runs": args.big, "repeat": args.repeat,
        "pages": pages, "tick": tick,
    }, indent=1))
    if args.write_doc:
        import report

        report.write()
        log("wrote docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
