"""The peers `bench/run compare` measures ChronoFlow against, each in its own process
(so its CPU is its own), calling the same sink as ChronoFlow does. Neither writes any
history: they only make the calls.

    python bench/peers.py apscheduler --port P --chronos N --case burst|spread
    python bench/peers.py polling     --port P --chronos N --case burst|spread

- apscheduler: APScheduler 3.11's BackgroundScheduler, one cron job per chrono, a
  pool of 20 threads (`--threads`). `misfire_grace_time=None`: a late job still runs
  (APScheduler's default of 1 s would drop most of a 10,000-job burst as misfired,
  which is not what a scheduler user wants from it).
- polling: "the original design": a table of next-run times (SQLite here) that a
  loop polls every 30 s (`--interval`), firing what is due with a pool of 20 threads,
  then moving each fired row to its next time.

A chrono's call is `GET /s/<chrono>/<scheduled epoch second>` on a keep-alive
connection per thread. The process prints `ready` once its jobs are loaded and runs
until it is killed.
"""
import argparse
import http.client
import sqlite3
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fire_many import die_with_parent  # noqa: E402


def second_of(case, index):
    """The second of the minute at which chrono `index` fires."""
    return 0 if case == "burst" else index % 60


class Caller:
    """One keep-alive connection per thread, reopened when the server closes it."""

    def __init__(self, port):
        self.port = port
        self.local = threading.local()

    def call(self, index, scheduled):
        path = f"/s/{index}/{scheduled}"
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
                return
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise


def run_apscheduler(args, caller):
    from apscheduler.executors.pool import ThreadPoolExecutor as APThreads
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = BackgroundScheduler(
        executors={"default": APThreads(args.threads)},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        timezone="UTC",
    )

    def job(index, second):
        # APScheduler 3 does not tell a job which time it was scheduled for: it is the
        # latest moment at `second` of a minute, not after now (lateness < 60 s).
        now = time.time()
        scheduled = int(now) - (int(now) - second) % 60
        caller.call(index, scheduled)

    for index in range(args.chronos):
        second = second_of(args.case, index)
        scheduler.add_job(job, CronTrigger(second=second, timezone="UTC"), args=(index, second),
                          id=str(index))
    scheduler.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def run_polling(args, caller):
    folder = tempfile.mkdtemp(prefix="bench-polling-")
    db = sqlite3.connect(str(Path(folder) / "jobs.db"), isolation_level=None)
    db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, second INTEGER NOT NULL, next_run INTEGER NOT NULL)")
    db.execute("CREATE INDEX ix_jobs_next_run ON jobs (next_run)")
    now = int(time.time())

    def following(after, second):
        """The first epoch second after `after` at `second` of a minute."""
        base = after - after % 60 + second
        return base if base > after else base + 60

    db.execute("BEGIN")  # one transaction: autocommit would sync the file once per row
    db.executemany("INSERT INTO jobs (id, second, next_run) VALUES (?, ?, ?)",
                   [(i, second_of(args.case, i), following(now, second_of(args.case, i)))
                    for i in range(args.chronos)])
    db.execute("COMMIT")
    pool = ThreadPoolExecutor(args.threads)
    print("ready", flush=True)
    while True:
        started = time.time()
        due = db.execute("SELECT id, second, next_run FROM jobs WHERE next_run <= ?", (int(started),)).fetchall()
        for index, _second, scheduled in due:
            pool.submit(caller.call, index, scheduled)
        db.execute("BEGIN")
        db.executemany("UPDATE jobs SET next_run = ? WHERE id = ?",
                       [(following(int(started), second), index) for index, second, _ in due])
        db.execute("COMMIT")
        time.sleep(max(0.0, args.interval - (time.time() - started)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=("apscheduler", "polling"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chronos", type=int, required=True)
    parser.add_argument("--case", choices=("burst", "spread"), required=True)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--interval", type=float, default=30.0, help="polling only: seconds between polls")
    args = parser.parse_args()
    die_with_parent()
    caller = Caller(args.port)
    (run_apscheduler if args.system == "apscheduler" else run_polling)(args, caller)


if __name__ == "__main__":
    main()
