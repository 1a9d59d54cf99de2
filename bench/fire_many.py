#!/usr/bin/env python3
"""Fire N chronos due in the same second and measure how ChronoFlow copes.

Quality bar: "10,000 chronos due in the same second must all be fired within 5 s
with every run recorded, on 2 cores. A run should cost one HTTP request and a
handful of SQL statements; the scheduler's queries use indexes."

What it does, bounded in time (--timeout) and cleaning up after itself (also on
Ctrl+C or failure):

1. creates a throwaway database (PostgreSQL `chronoflow_bench_<pid>`, or an SQLite
   file in a temporary folder) and migrates it with `flask db upgrade`;
2. starts a target HTTP server in separate process(es) on 127.0.0.1, which answers
   200 at once and counts requests and run ids, and measures its capacity;
3. inserts N active chronos, all due at the same second T (about --lead seconds
   ahead), pointing at the target;
4. starts the worker processes as an operator would (`python -m flask --app app
   worker --threads T`, the first one with the dispatcher tick, the others with
   `--no-periodic`), with cwd = the project folder;
5. polls the database and the queue until every run is final, then prints the
   figures (see bench/README.md for how to read them).

Exit status: 0 the bar is met, 1 measured but the bar is missed, 2 timeout or
incomplete measurement, 3 setup error.
"""
from __future__ import annotations

import argparse
import asyncio
import ctypes
import hashlib
import math
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project folder: app.py lives here
UTC = timezone.utc
BAR_SECONDS = 5.0
FINAL = ("success", "failed", "cancelled", "skipped")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- helpers

_libc = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In a child: the kernel kills us if the bench dies, even by SIGKILL."""
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def log(message=""):
    print(message, flush=True)


def fmt_s(seconds, signed=False):
    if seconds is None:
        return "-"
    return f"{seconds:+.3f} s" if signed else f"{seconds:.3f} s"


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def proc_cpu_seconds(pid, split=False):
    """utime + stime of a process, in seconds, or (utime, stime); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        user, system = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
        return (user, system) if split else user + system
    except (OSError, IndexError, ValueError):
        return None


def proc_status(pid, key):
    """A field of /proc/<pid>/status, e.g. VmHWM (peak RSS) in kB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def cpu_by_command():
    """CPU seconds used so far by every process on the host: {(pid, command): seconds}."""
    totals = defaultdict(float)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.find(b"(") + 1: raw.rfind(b")")].decode(errors="replace")
        fields = raw.rsplit(b")", 1)[1].split()
        totals[(int(entry), name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return totals


def host_busy_sample(seconds):
    """Share of all cores busy over `seconds`, and the top commands using them."""
    procs_before, (busy_before, total_before) = cpu_by_command(), host_cpu_busy()
    time.sleep(seconds)
    procs_after, (busy_after, total_after) = cpu_by_command(), host_cpu_busy()
    share = (busy_after - busy_before) / max(1e-9, total_after - total_before)
    return share, top_commands(procs_before, procs_after, exclude={os.getpid()})


def top_commands(before, after, exclude=(), count=3):
    used = Counter()
    for (pid, name), value in after.items():
        if pid not in exclude:
            used[name] += value - before.get((pid, name), 0.0)
    return ", ".join(f"{name} {value:.1f} s" for name, value in used.most_common(count) if value >= 0.05)


def code_version():
    """The commit, and how many app files differ from it (others edit the app meanwhile)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app.py", "chronoflow", "migrations"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    digest = hashlib.sha1()
    for path in sorted([ROOT / "app.py", *ROOT.glob("chronoflow/**/*.py"), *ROOT.glob("migrations/**/*.py")]):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return (f"{head or 'unknown'}" + (f" + uncommitted changes in {len(dirty)} app file(s)" if dirty else "")
            + f", app source fingerprint {digest.hexdigest()[:10]}")


def host_cpu_busy():
    """(busy, total) CPU seconds over all cores since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK, sum(values[:8]) / CLK_TCK


# --------------------------------------------------------------------------- target server

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def target_main(port, control):
    """One target process: asyncio, keep-alive, counts requests and run ids."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench stops us through `control`
    stats = {"requests": 0, "duplicates": 0, "connections": 0, "first": None, "last": None}
    seen = set()

    class Hook(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.buffer = b""
            stats["connections"] += 1

        def data_received(self, data):
            buffer = self.buffer + data if self.buffer else data
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buffer[:end].lower()
                length = _header_int(head, b"\r\ncontent-length:")
                if len(buffer) < end + 4 + length:
                    break
                buffer = buffer[end + 4 + length:]
                self.handle(head)
            self.buffer = buffer

        def handle(self, head):
            now = time.time()
            stats["requests"] += 1
            if stats["first"] is None:
                stats["first"] = now
            stats["last"] = now
            run_id = _header(head, b"\r\nx-chronoflow-run-id:")
            if run_id is not None:
                if run_id in seen:
                    stats["duplicates"] += 1
                else:
                    seen.add(run_id)
            self.transport.write(RESPONSE)
            if b"\r\nconnection: close" in head:
                self.transport.close()

    def on_control():
        try:
            command = control.recv()
        except EOFError:
            loop.stop()
            return
        if command == "stats":
            control.send(dict(stats, unique_run_ids=len(seen)))
        elif command == "reset":
            stats.update(requests=0, duplicates=0, connections=0, first=None, last=None)
            seen.clear()
            control.send("ok")
        elif command == "stop":
            loop.stop()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(Hook, host="127.0.0.1", port=port, reuse_port=True, backlog=2048)
    )
    loop.add_reader(control.fileno(), on_control)
    control.send("ready")
    try:
        loop.run_forever()
    finally:
        server.close()


def _header(head, name):
    start = head.find(name)
    if start < 0:
        return None
    stop = head.find(b"\r\n", start + 2)
    return head[start + len(name): stop if stop >= 0 else len(head)].strip()


def _header_int(head, name):
    value = _header(head, name)
    return int(value) if value else 0


def capacity_client_main(port, connections, seconds, result):
    """Keep-alive GETs, one in flight per connection, for `seconds`: answers per second."""
    die_with_parent()
    request = f"GET /capacity HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    done = [0]
    size = len(RESPONSE)

    class Client(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.pending = 0
            transport.write(request)

        def data_received(self, data):
            self.pending += len(data)
            while self.pending >= size:
                self.pending -= size
                done[0] += 1
                self.transport.write(request)

    async def run():
        loop = asyncio.get_running_loop()
        for _ in range(connections):
            await loop.create_connection(Client, "127.0.0.1", port)
        start_count, start = done[0], time.monotonic()
        await asyncio.sleep(seconds)
        return (done[0] - start_count) / (time.monotonic() - start)

    result.send(asyncio.run(run()))


class Target:
    def __init__(self, processes):
        self.ctx = multiprocessing.get_context("spawn")
        probe = socket.socket()
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        self.procs, self.controls = [], []
        try:
            for _ in range(processes):
                mine, theirs = self.ctx.Pipe()
                proc = self.ctx.Process(target=target_main, args=(self.port, theirs), daemon=True)
                proc.start()
                self.procs.append(proc)
                self.controls.append(mine)
            for control in self.controls:
                if not control.poll(20) or control.recv() != "ready":
                    raise RuntimeError("the target server did not start")
        finally:
            probe.close()

    def pids(self):
        return [p.pid for p in self.procs]

    def capacity(self, connections=64, seconds=2.0):
        mine, theirs = self.ctx.Pipe()
        client = self.ctx.Process(target=capacity_client_main, args=(self.port, connections, seconds, theirs), daemon=True)
        client.start()
        try:
            if not mine.poll(seconds + 20):
                raise RuntimeError("the capacity client did not answer")
            return mine.recv()
        finally:
            client.join(5)
            if client.is_alive():
                client.kill()
            self.reset()

    def reset(self):
        for control in self.controls:
            control.send("reset")
            control.poll(5) and control.recv()

    def stats(self):
        total = {"requests": 0, "duplicates": 0, "connections": 0, "unique_run_ids": 0, "first": None, "last": None}
        for control in self.controls:
            try:
                control.send("stats")
                if not control.poll(5):
                    continue
                part = control.recv()
            except (OSError, EOFError):
                continue
            for key in ("requests", "duplicates", "connections", "unique_run_ids"):
                total[key] += part[key]
            for key, pick in (("first", min), ("last", max)):
                if part[key] is not None:
                    total[key] = part[key] if total[key] is None else pick(total[key], part[key])
        return total

    def stop(self):
        for control in self.controls:
            try:
                control.send("stop")
            except OSError:
                pass
        for proc in self.procs:
            proc.join(3)
            if proc.is_alive():
                proc.kill()
                proc.join(2)


# --------------------------------------------------------------------------- database

class Database:
    """The throwaway database, the bench's own (autocommit) connection to it, and pg stats."""

    def __init__(self, kind, workdir, pg_base):
        from sqlalchemy import create_engine

        self.kind = kind
        self.created = False
        self.queries = 0  # statements the bench ran between the two stats snapshots
        self.status_polls = 0
        if kind == "postgres":
            self.name = f"chronoflow_bench_{os.getpid()}"
            self.admin = create_engine(f"postgresql+psycopg://{pg_base}/postgres", isolation_level="AUTOCOMMIT",
                                       connect_args={"connect_timeout": 5})
            self.url = f"postgresql+psycopg://{pg_base}/{self.name}"
            self.app_url = f"postgresql://{pg_base}/{self.name}"
        else:
            self.name = str(Path(workdir) / "chronoflow.db")
            self.admin = None
            self.url = self.app_url = f"sqlite:///{self.name}"
        self._engine = None
        self._create_engine = create_engine

    # -- lifecycle
    def create(self):
        if self.kind == "postgres":
            from sqlalchemy import text

            self.drop_leftovers()
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.created = True

    def drop_leftovers(self):
        """Databases of earlier benches that were killed (SIGKILL leaves no time to clean up)."""
        from sqlalchemy import text

        with self.admin.connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'chronoflow\\_bench\\_%'")).scalars()
            for name in list(names):
                pid = name.rsplit("_", 1)[1]
                if pid.isdigit() and not _alive(int(pid)):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    log(f"dropped {name}, left over by a bench that was killed")

    def drop(self):
        self.dispose()
        if self.kind == "postgres" and self.created:
            from sqlalchemy import text

            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()
        self.created = False

    @property
    def engine(self):
        if self._engine is None:
            args = {"connect_timeout": 5} if self.kind == "postgres" else {"timeout": 10}
            self._engine = self._create_engine(self.url, isolation_level="AUTOCOMMIT", connect_args=args)
        return self._engine

    def dispose(self):
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def execute(self, sql, **params):
        from sqlalchemy import text

        self.queries += 1
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    # -- the workload
    def insert_chronos(self, count, when, url_base):
        from sqlalchemy import MetaData, Table, create_engine

        engine = create_engine(self.url)
        try:
            chronos = Table("chronos", MetaData(), autoload_with=engine)
            stamp = when if self.kind == "postgres" else when.replace(tzinfo=None)
            now = datetime.now(UTC) if self.kind == "postgres" else datetime.now(UTC).replace(tzinfo=None)
            cron = f"{when.second} {when.minute} {when.hour} {when.day} {when.month} *"
            rows = [
                {
                    "name": f"bench {i}", "description": "", "schedule": cron, "cron": cron,
                    "timezone": "UTC", "target_type": "HTTP", "method": "GET",
                    "url": f"{url_base}/hook/{i}", "headers": {}, "payload": None,
                    "is_active": True, "config": {}, "recipients": [],
                    "next_run_at": stamp, "created_at": now, "updated_at": now,
                }
                for i in range(count)
            ]
            if "signing_secret" in chronos.c:  # NOT NULL since migration 0003; the app fills it in
                for i, row in enumerate(rows):
                    row["signing_secret"] = f"bench-secret-{i}"
            with engine.begin() as conn:
                for start in range(0, count, 5000):
                    conn.execute(chronos.insert(), rows[start:start + 5000])
            return cron
        finally:
            engine.dispose()

    def status_counts(self):
        self.status_polls += 1
        return dict(self.execute("SELECT status, count(*) FROM chrono_runs GROUP BY status"))

    def runs(self):
        from sqlalchemy import MetaData, Table, select

        runs = Table("chrono_runs", MetaData(), autoload_with=self.engine)
        columns = [runs.c[name] for name in ("chrono_id", "scheduled_for", "status", "started_at",
                                             "finished_at", "attempt", "http_status", "error_message")]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns)).all()
        return [_aware_row(row._asdict()) for row in rows]

    def chrono_ids(self):
        return [row[0] for row in self.execute("SELECT id FROM chronos")]

    # -- PostgreSQL counters
    def wait_no_other_backends(self, seconds=10):
        """Backends flush their statistics when they exit: wait for the workers' to go."""
        if self.kind != "postgres":
            return True
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rows = self.admin_query("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()",
                                    db=self.name)
            if rows[0][0] == 0:
                return True
            time.sleep(0.1)
        return False

    def backend_pids(self):
        """PostgreSQL server processes serving our database (other people use the server too)."""
        if self.kind != "postgres":
            return []
        rows = self.admin_query("SELECT pid FROM pg_stat_activity WHERE datname = :db", db=self.name)
        return [row[0] for row in rows]

    def admin_query(self, sql, **params):
        from sqlalchemy import text

        with self.admin.connect() as conn:
            return conn.execute(text(sql), params).all()

    def pg_stats(self):
        if self.kind != "postgres":
            return None
        database = self.execute(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted,"
            " sessions FROM pg_stat_database WHERE datname = current_database()"
        )[0]
        tables = {
            row[0]: row[1:]
            for row in self.execute(
                "SELECT relname, seq_scan, coalesce(idx_scan, 0), n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del"
                " FROM pg_stat_user_tables"
            )
        }
        indexes = {row[0]: row[1] for row in self.execute("SELECT indexrelname, idx_scan FROM pg_stat_user_indexes")}
        return {"database": tuple(database), "tables": tables, "indexes": indexes}

    def plans(self):
        """The scheduler's two queries as dispatch.py and recovery.py build them."""
        if self.kind != "postgres":
            dispatch = self.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM chronos WHERE is_active = 1 AND next_run_at <= '2100-01-01'"
                " ORDER BY next_run_at LIMIT 1000"
            )
            recovery = self.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM chrono_runs WHERE status IN ('pending', 'running', 'retrying')"
                " AND scheduled_for < '2100-01-01' AND (status != 'retrying' OR next_attempt_at < '2100-01-01')"
                " ORDER BY scheduled_for LIMIT 1000"
            )
            return {"dispatch": [r[-1] for r in dispatch], "recovery": [r[-1] for r in recovery]}
        from sqlalchemy import text

        out = {}
        with self.engine.connect() as conn:
            conn.execute(text("ANALYZE chronos"))
            conn.execute(text("ANALYZE chrono_runs"))
            conn.execute(text(
                "PREPARE bench_dispatch(timestamptz, int) AS SELECT * FROM chronos"
                " WHERE chronos.is_active = true AND chronos.next_run_at <= $1"
                " ORDER BY chronos.next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED"
            ))
            conn.execute(text(
                # recovery.py writes the status list as literals (literal_execute), the rest is bound
                "PREPARE bench_recovery(timestamptz, text, timestamptz, int) AS"
                " SELECT * FROM chrono_runs WHERE chrono_runs.status IN ('pending', 'running', 'retrying')"
                " AND chrono_runs.scheduled_for < $1"
                " AND (chrono_runs.status != $2 OR chrono_runs.next_attempt_at < $3)"
                " ORDER BY chrono_runs.scheduled_for LIMIT $4 FOR UPDATE SKIP LOCKED"
            ))
            args = {
                "dispatch": "EXECUTE bench_dispatch(now() + interval '75 seconds', 1000)",
                "recovery": "EXECUTE bench_recovery(now() - interval '120 seconds',"
                            " 'retrying', now() - interval '120 seconds', 1000)",
            }
            for mode in ("custom", "generic"):
                conn.execute(text(f"SET plan_cache_mode = force_{mode}_plan"))
                for name, execute in args.items():
                    rows = conn.execute(text(f"EXPLAIN (COSTS OFF) {execute}")).all()
                    out[f"{name} ({mode} plan)"] = [r[0] for r in rows]
        return out


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _aware_row(row):
    for key in ("scheduled_for", "started_at", "finished_at"):
        value = row[key]
        if isinstance(value, str):  # SQLite without a declared type conversion
            value = datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        row[key] = value
    return row


# --------------------------------------------------------------------------- queue

class Queue:
    """Sizes of Huey's schedule (ETA'd tasks) and ready queue, and Redis command counts."""

    def __init__(self, redis_url, sqlite_path):
        self.redis = None
        self.sqlite_path = sqlite_path
        self.commands = 0  # commands the bench sent between the two INFO snapshots
        if redis_url:
            import redis

            self.redis = redis.Redis.from_url(redis_url, socket_timeout=5)

    def flush(self):
        if self.redis is not None:
            self.redis.flushdb()

    def sizes(self):
        if self.redis is not None:
            # Huey's keys are huey.schedule.<QUEUE_NAME> and huey.redis.<QUEUE_NAME>; our
            # Redis database holds nothing else, so whatever the queue is called:
            schedules, queues = self.redis.keys("huey.schedule.*"), self.redis.keys("huey.redis.*")
            pipe = self.redis.pipeline(transaction=False)
            for key in schedules:
                pipe.zcard(key)
            for key in queues:
                pipe.llen(key)
            counts = pipe.execute()
            self.commands += 2 + len(counts)
            return sum(counts[:len(schedules)]), sum(counts[len(schedules):])
        if not os.path.exists(self.sqlite_path):
            return 0, 0
        import sqlite3

        try:
            conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=2, isolation_level=None)
            try:
                scheduled = conn.execute("SELECT count(*) FROM schedule").fetchone()[0]
                queued = conn.execute("SELECT count(*) FROM task").fetchone()[0]
            finally:
                conn.close()
            return scheduled, queued
        except sqlite3.Error:
            return None, None

    def total_commands(self):
        if self.redis is None:
            return None
        self.commands += 1
        return self.redis.info("stats")["total_commands_processed"]


# --------------------------------------------------------------------------- workers

class Workers:
    def __init__(self, python, count, threads, env, workdir):
        self.procs, self.logs, self.files = [], [], []
        for index in range(count):
            command = [python, "-m", "flask", "--app", "app", "worker", "--threads", str(threads)]
            if index > 0:
                command.append("--no-periodic")
            path = Path(workdir) / f"worker-{index + 1}.log"
            handle = open(path, "wb")
            proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent,
            )
            self.procs.append(proc)
            self.logs.append(path)
            self.files.append(handle)

    def pids(self):
        return [p.pid for p in self.procs]

    def dead(self):
        return [(i + 1, p.returncode) for i, p in enumerate(self.procs) if p.poll() is not None]

    def all_started(self):
        return all("Huey consumer started" in path.read_text(errors="replace") for path in self.logs)

    def stop(self, grace=15):
        for proc in self.procs:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for handle in self.files:
            handle.close()

    def kill(self):
        for proc in self.procs:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)  # start_new_session: the worker leads its own group
    except (ProcessLookupError, PermissionError):
        pass


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\w+) (\S+): (.*)$")


def parse_worker_log(path):
    """Ticks, dispatch lines, tasks executed, warnings/errors, SQL statements (echo)."""
    info = {"ticks": [], "dispatched": [], "executed": 0, "problems": Counter(), "problem_lines": [],
            "exceptions": Counter(), "sql": Counter()}
    in_traceback = False
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            match = LOG_LINE.match(line)
            if not match:
                if line.startswith("Traceback"):
                    in_traceback = True
                elif in_traceback and line and not line[0].isspace() and not line.startswith(("During handling",
                                                                                              "The above exception")):
                    info["exceptions"][line[:160]] += 1  # the exception's type and message
                    in_traceback = False
                continue
            in_traceback = False
            stamp, level, logger, message = match.groups()
            when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)  # the worker sets TZ=UTC
            if logger == "sqlalchemy.engine.Engine":
                word = message.split(" ", 1)[0]
                if word.isalpha() and word.isupper():
                    info["sql"][word] += 1
                continue
            if logger == "huey" and " executed in " in message:
                if ".dispatch_tick:" in message:
                    seconds = float(message.rsplit(" ", 1)[1].rstrip("s"))
                    info["ticks"].append((when, seconds))
                elif ".execute_run:" in message or ".execute_batch:" in message:
                    info["executed"] += 1
            elif logger == "chronoflow.tasks" and message.startswith("dispatched "):
                info["dispatched"].append((when, int(message.split()[1])))
            if level in ("WARNING", "ERROR", "CRITICAL"):
                key = f"{level} {logger}: {re.sub(r'[0-9a-f-]{36}', '<id>', message)[:100]}"
                info["problems"][key] += 1
                if len(info["problem_lines"]) < 5:
                    info["problem_lines"].append(line[:300])
    return info


# --------------------------------------------------------------------------- profiling

def start_profiler(pid, seconds, out_path, rate):
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        log("  (--profile: py-spy not found; `pip install py-spy` into the venv)")
        return None
    command = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--gil",
               "--nonblocking", "--duration", str(int(seconds)), "--output", str(out_path)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=die_with_parent)


FRAME = re.compile(r"^(.*) \((.*?):\d+\)$")


def summarize_profile(path, top=22):
    """Collapsed stacks (py-spy raw) -> share of GIL-holding samples per package and function."""
    total = 0
    packages, inclusive, self_time = Counter(), Counter(), Counter()
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            count = int(count)
            total += count
            frames = []
            for frame in stack.split(";"):
                match = FRAME.match(frame)
                if match:
                    function, filename = match.groups()
                    frames.append((function, _short(filename)))
            if not frames:
                continue
            for package in {_package(filename) for _, filename in frames}:
                packages[package] += count
            for key in {f"{function} ({filename})" for function, filename in frames
                        if _package(filename) not in ("threading", "huey")}:  # in every stack: not informative
                inclusive[key] += count
            function, filename = frames[-1]
            self_time[f"{function} ({filename})"] += count
    return total, packages, inclusive.most_common(top), self_time.most_common(top)


def _short(filename):
    for marker in ("site-packages/", "/lib/python3.", str(ROOT) + "/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/lib/python3.":
                filename = filename.split("/", 1)[1]
    return filename


def _package(filename):
    if filename.startswith("<"):  # e.g. "<sqlalchemy generated _go() wrapper ...>"
        words = filename.strip("<>").split()
        return words[0] if words else filename
    head = filename.split("/", 1)[0]
    return head[:-3] if head.endswith(".py") else head


# --------------------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.deadline = self.started + args.timeout
        self.workdir = tempfile.mkdtemp(prefix="chronoflow_bench_")
        self.target = None
        self.db = None
        self.queue = None
        self.workers = None
        self.profiler = None
        self.cleaned = False
        self.lock = threading.Lock()

    def remaining(self):
        return self.deadline - time.monotonic()

    # -- cleanup: idempotent, also from the watchdog thread
    def cleanup(self):
        with self.lock:
            if self.cleaned:
                return
            self.cleaned = True
        for step in (self._stop_workers, self._stop_profiler, self._stop_target, self._drop_db, self._flush_queue):
            try:
                step()
            except Exception as exc:  # keep cleaning up whatever fails
                print(f"cleanup: {step.__name__}: {exc}", file=sys.stderr)
        if self.args.keep_logs:
            print(f"logs kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_workers(self):
        if self.workers is not None:
            self.workers.stop(grace=10)

    def _stop_profiler(self):
        if self.profiler and self.profiler.poll() is None:
            _signal_group(self.profiler.pid, signal.SIGKILL)

    def _stop_target(self):
        if self.target is not None:
            self.target.stop()

    def _drop_db(self):
        if self.db is not None:
            self.db.drop()

    def _flush_queue(self):
        if self.queue is not None:
            self.queue.flush()

    def hard_stop(self):
        """Watchdog: the bench is stuck past its timeout. Kill everything and leave."""
        print("\nwatchdog: the bench overran its timeout; killing its processes", file=sys.stderr)
        if self.workers is not None:
            self.workers.kill()
        if self.profiler and self.profiler.poll() is None:
            _signal_group(self.profiler.pid, signal.SIGKILL)
        if self.target is not None:
            for proc in self.target.procs:
                proc.kill()
        try:
            self.cleanup()
        finally:
            os._exit(2)

    # -- phases
    def setup(self):
        args = self.args
        python = args.python
        log(f"code: {code_version()}")
        self.wait_quiet()
        if args.database == "postgres":
            self.redis_url = args.redis_url
            huey_sqlite = ""
        else:
            self.redis_url = ""
            huey_sqlite = str(Path(self.workdir) / "huey.db")
        self.queue = Queue(self.redis_url, huey_sqlite)
        self.queue.flush()

        self.db = Database(args.database, self.workdir, args.pg)
        self.db.create()
        self.env = dict(
            os.environ, DATABASE_URL=self.db.app_url, REDIS_URL=self.redis_url, HUEY_SQLITE_PATH=huey_sqlite,
            SECRET_KEY="chronoflow-bench-not-secret", PYTHONUNBUFFERED="1",
            # The target is on loopback, which the outbound policy refuses unless allowed.
            OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32",
        )
        if args.echo_sql:
            self.env["SQLALCHEMY_ECHO"] = "true"
        for setting in args.env:
            key, _, value = setting.partition("=")
            self.env[key] = value
        if (ROOT / ".env").exists():
            log(f"note: {ROOT / '.env'} exists; settings not given here may come from it")
        t0 = time.monotonic()
        migrate = subprocess.run(
            [python, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=min(90, self.remaining()), preexec_fn=die_with_parent,
        )
        if migrate.returncode != 0:
            raise SetupError(f"flask db upgrade failed:\n{migrate.stdout}\n{migrate.stderr}")
        log(f"database: {args.database} {self.db.name} (migrated in {time.monotonic() - t0:.1f} s); "
            f"queue: {'Redis ' + self.redis_url if self.redis_url else 'SQLite ' + huey_sqlite}")

        self.target = Target(args.target_procs)
        capacity = self.target.capacity(connections=64, seconds=2.0)
        log(f"target: http://127.0.0.1:{self.target.port}, {args.target_procs} process(es); capacity >= {capacity:,.0f} req/s "
            f"(one client process, 64 keep-alive connections, 2 s: a lower bound, the client shares the 2 cores)")

    def wait_quiet(self):
        """The host is shared: say how busy it is, and wait a while for it to calm down if asked."""
        waited_until = time.monotonic() + self.args.wait_quiet
        while True:
            busy, others = host_busy_sample(1.0)
            if busy <= 0.15 or time.monotonic() >= waited_until:
                break
        note = "" if busy <= 0.15 else "  WARNING: other processes compete for the CPU; figures will be noisy"
        log(f"host: {os.cpu_count()} cores, {100 * busy:.0f}% busy over 1 s before the bench"
            f"{' (' + others + ')' if others else ''}{note}")

    def run(self):
        args = self.args
        when = datetime.fromtimestamp(math.ceil(time.time() + args.lead), UTC)
        self.when = when
        t0 = time.monotonic()
        cron = self.db.insert_chronos(args.chronos, when, f"http://127.0.0.1:{self.target.port}")
        log(f"chronos: {args.chronos} inserted in {time.monotonic() - t0:.1f} s, cron '{cron}' (UTC), "
            f"all due at T = {when:%H:%M:%S} UTC, {when.timestamp() - time.time():.1f} s from now")

        self.db.wait_no_other_backends()
        self.db.queries = 0
        self.stats_before = self.db.pg_stats()
        self.redis_before = self.queue.total_commands()
        self.queue.commands = 0

        self.workers = Workers(args.python, args.workers, args.threads, self.env, self.workdir)
        log(f"workers: {args.workers} x `python -m flask --app app worker --threads {args.threads}`"
            f" (first with the tick, others --no-periodic), pids {self.workers.pids()}")
        ready_by = time.monotonic() + min(45, self.remaining())
        while not self.workers.all_started():
            if self.workers.dead() or time.monotonic() > ready_by:
                raise SetupError(f"workers did not start: {self.workers.dead() or 'timeout'}\n" + self.log_tails())
            time.sleep(0.1)
        log(f"workers started {when.timestamp() - time.time():.1f} s before T")
        return self.poll()

    def poll(self):
        """Until every run is final or time runs out; prints a timeline around T."""
        args = self.args
        n = args.chronos
        t_when = self.when.timestamp()
        reserve = 30  # seconds kept for stopping, reading statistics and cleaning up
        log("")
        log("   t-T   sched  queue   held |  rows pending running retry success failed | target")
        next_print = -10**9
        cpu_mark = None
        finished = False
        while True:
            now = time.time()
            rel = now - t_when
            if cpu_mark is None and rel >= -1.0:
                cpu_mark = self.cpu_snapshot()  # the firing window starts when tasks leave the schedule
            if args.profile and self.profiler is None and rel >= -1.5:
                self.profile_path = Path(self.workdir) / "profile-worker-1.txt"
                self.profiler = start_profiler(self.workers.pids()[0], max(5, self.remaining() - 10),
                                               self.profile_path, args.profile_rate) or False
            counts = self.db.status_counts()
            final = sum(counts.get(s, 0) for s in FINAL)
            dead = self.workers.dead()
            if rel >= next_print or final >= n or dead:
                sched, queued = self.queue.sizes()
                requests = self.target.stats()["requests"]
                # Pending runs whose task is in neither Huey structure: in a worker's memory.
                held = None if sched is None else max(0, counts.get("pending", 0) - sched - queued)
                log(f"{rel:+7.1f} {_n(sched):>6} {_n(queued):>6} {_n(held):>6} | {sum(counts.values()):>5} "
                    f"{counts.get('pending', 0):>7} {counts.get('running', 0):>7} {counts.get('retrying', 0):>5} "
                    f"{counts.get('success', 0):>7} {counts.get('failed', 0):>6} | {requests:>6}")
                next_print = rel + (1.0 if rel > -3 else 5.0)
            if final >= n:
                finished = True
                break
            if dead:
                log(f"worker(s) exited early: {dead}")
                break
            if self.remaining() < reserve:
                log("TIMEOUT: not every run is final; printing what there is")
                break
            time.sleep(args.poll)
        cpu_end = self.cpu_snapshot()
        self.window = (cpu_mark or cpu_end, cpu_end)
        self.peak_rss = {pid: proc_status(pid, "VmHWM") for pid in self.workers.pids()}
        self.threads = {pid: proc_status(pid, "Threads") for pid in self.workers.pids()}
        self.worker_cpu = {pid: proc_cpu_seconds(pid, split=True) for pid in self.workers.pids()}
        self.backends = set(self.db.backend_pids())
        return finished

    def cpu_snapshot(self):
        return {"time": time.monotonic(), "host": host_cpu_busy(), "procs": cpu_by_command()}

    def collect(self):
        """Stop the workers, read every counter, and fetch the runs."""
        self.workers.stop(grace=10)
        profile_ok = False
        if self.profiler:
            try:
                self.profiler.wait(10)
                profile_ok = True
            except subprocess.TimeoutExpired:
                _signal_group(self.profiler.pid, signal.SIGINT)
                try:
                    self.profiler.wait(5)
                    profile_ok = True
                except subprocess.TimeoutExpired:
                    pass
        self.profile_ok = profile_ok
        self.target_stats = self.target.stats()
        own_queries = self.db.queries
        own_polls = self.db.status_polls
        self.db.dispose()  # our backend exits and flushes its statistics
        self.db.wait_no_other_backends()
        time.sleep(0.3)
        self.stats_after = self.db.pg_stats()
        self.own_queries, self.own_polls = own_queries, own_polls
        self.redis_after = self.queue.total_commands()
        self.runs = self.db.runs()
        self.chrono_ids = self.db.chrono_ids()
        self.logs = [parse_worker_log(path) for path in self.workers.logs]
        try:
            self.plans = self.db.plans()
        except Exception as exc:
            self.plans = {"error": [str(exc)]}

    # -- the report
    def report(self, finished):
        args, n, when = self.args, self.args.chronos, self.when
        log("")
        log(f"== {n} chronos, {args.database}{'+redis' if self.redis_url else '+sqlite queue'}, "
            f"{args.workers} worker(s) x {args.threads} threads"
            f"{', env ' + ' '.join(args.env) if args.env else ''}{', SQL echo on' if args.echo_sql else ''} ==")

        # dispatch
        ticks = [t for info in self.logs for t in info["ticks"]]
        dispatched = [d for info in self.logs for d in info["dispatched"]]
        total_dispatched = sum(c for _, c in dispatched)
        if ticks and dispatched:
            first_line = min(dispatched)[0]
            first_tick = min((t for t in ticks if t[0] >= first_line), default=min(ticks))
            ended = first_tick[0]
            log(f"dispatch      {total_dispatched} runs dispatched in {len(dispatched)} tick(s); the tick that did "
                f"it took {first_tick[1]:.3f} s (Huey's 'executed in'), ended at T{(ended - when).total_seconds():+.1f} s")
            if (ended - when).total_seconds() > -1:
                log("              WARNING: it ended after T-1 s, when runs should already be queued: raise --lead")
        else:
            log(f"dispatch      {total_dispatched} runs dispatched; no tick finished (see the worker logs)")

        # runs
        at_t = [r for r in self.runs if r["scheduled_for"] == when]
        per_chrono = Counter(r["chrono_id"] for r in at_t)
        duplicates = sum(c - 1 for c in per_chrono.values() if c > 1)
        missing = len(set(self.chrono_ids) - set(per_chrono))
        other = len(self.runs) - len(at_t)
        statuses = Counter(r["status"] for r in at_t)
        final = sum(statuses[s] for s in FINAL)
        lateness = sorted((r["started_at"] - r["scheduled_for"]).total_seconds() for r in at_t if r["started_at"])
        done = sorted((r["finished_at"] - when).total_seconds() for r in at_t if r["finished_at"])
        all_final = done[-1] if done and final == n else None

        log(f"run rows      {len(at_t)} for {len(self.chrono_ids)} chronos at T: missing {missing}, duplicates {duplicates}"
            f"{f', {other} rows for other times' if other else ''}")
        log("statuses      " + ", ".join(f"{s} {c}" for s, c in sorted(statuses.items())))
        log(f"all final     {'T' + fmt_s(all_final, signed=True) if all_final is not None else f'NOT ALL ({final}/{n})'}"
            f"   (last finished_at - T; bar {BAR_SECONDS:g} s)")
        if done:
            span = done[-1]
            log(f"runs/s        {len(done) / span:,.0f} (finished runs / (last finished_at - T))" if span > 0 else "runs/s        -")
        log("lateness      started_at - scheduled_for: " + _percentiles(lateness))
        log("completion    finished_at - T:            " + _percentiles(done))
        attempts = Counter(r["attempt"] for r in at_t)
        if set(attempts) - {1}:
            log(f"attempts      {dict(sorted(attempts.items()))}")
        errors = Counter((r["http_status"], (r["error_message"] or "")[:80]) for r in at_t
                         if r["status"] in FINAL and r["status"] != "success")
        for (status, message), count in errors.most_common(3):
            log(f"  not success: {count} x http {status} {message}")

        # target
        t = self.target_stats
        first = t["first"] - when.timestamp() if t["first"] else None
        last = t["last"] - when.timestamp() if t["last"] else None
        log(f"target        {t['requests']} requests (expected {n}), {t['unique_run_ids']} distinct run ids, "
            f"{t['duplicates']} repeated; {t['connections']} connections; first T{fmt_s(first, True)}, last T{fmt_s(last, True)}")

        # workers
        for i, pid in enumerate(self.workers.pids()):
            rss = self.peak_rss.get(pid)
            user, system = self.worker_cpu.get(pid) or (0.0, 0.0)
            log(f"worker {i + 1}      pid {pid}: peak RSS {rss / 1024 if rss else 0:.0f} MiB, {self.threads.get(pid)} threads, "
                f"CPU {user + system:.1f} s since start (user {user:.1f}, sys {system:.1f}), "
                f"{self.logs[i]['executed']} tasks executed")
        started = sum(1 for r in at_t if r["started_at"]) or 1
        if started != n:
            log(f"(per-run figures below are per started run: {started})")
        self._report_cpu(started)
        self._report_sql(started)
        self._report_problems()
        self._report_plans()
        if args.profile:
            self._report_profile()

        # verdict
        complete = finished and missing == 0 and duplicates == 0 and final == n
        ok = (complete and t["requests"] == n and t["duplicates"] == 0 and all_final is not None
              and all_final <= BAR_SECONDS)
        log("")
        if not complete:
            log(f"VERDICT       INCOMPLETE: {final}/{n} runs final, missing {missing}, duplicates {duplicates}")
            return 2
        log(f"VERDICT       {'PASS' if ok else 'FAIL'}: all {n} runs final at T{all_final:+.2f} s (bar {BAR_SECONDS:g} s), "
            f"{t['requests']} target requests, statuses {dict(statuses)}")
        return 0 if ok else 1

    def _report_cpu(self, n):
        start, end = self.window
        seconds = end["time"] - start["time"]
        if seconds <= 0:
            return
        busy = end["host"][0] - start["host"][0]
        cores = os.cpu_count() or 1
        used = defaultdict(float)
        workers, target = set(self.workers.pids()), set(self.target.pids())
        for key, value in end["procs"].items():
            delta = value - start["procs"].get(key, 0.0)
            pid, name = key
            if pid in workers:
                used["workers"] += delta
            elif pid in target:
                used["target"] += delta
            elif pid == os.getpid():
                used["bench"] += delta
            elif pid in self.backends:
                used["postgres"] += delta
            elif name.startswith("redis"):
                used["redis"] += delta
        # Whatever is left: other people's processes (the host is shared, PostgreSQL
        # too), ones that exited during the window, py-spy, kernel work (softirq for
        # loopback traffic), PostgreSQL's background processes.
        used["others"] = max(0.0, busy - sum(used.values()))
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        log(f"CPU           window T-1 s .. all final = {seconds:.1f} s; host busy {busy:.1f} of {seconds * cores:.1f} "
            f"core-s ({100 * busy / (seconds * cores):.0f}%); core-s by: {parts}")
        ours = workers | target | {os.getpid()}
        live_others = {key: value for key, value in end["procs"].items()
                       if key[0] not in ours | self.backends and not key[1].startswith("redis")}
        top = top_commands(start["procs"], live_others)
        if top:
            log(f"              others alive at the end: {top}")
        # postgres: our database's backends alive at the end (ones that exited meanwhile count as "others")
        system = {k: used[k] for k in ("workers", "postgres", "redis", "target")}
        per_run = sum(system.values()) / n * 1000
        log("CPU per run   " + ", ".join(f"{k} {v / n * 1000:.2f} ms" for k, v in system.items())
            + f" = {per_run:.2f} ms; on {cores} idle cores {n} runs need >= {per_run * n / 1000 / cores:.1f} s")

    def _report_sql(self, n):
        echo = Counter()
        for info in self.logs:
            echo.update(info["sql"])
        if echo:
            statements = sum(v for k, v in echo.items())
            log(f"SQL (echo)    {statements / n:.2f} statements per run: "
                + ", ".join(f"{k} {v / n:.2f}" for k, v in echo.most_common()))
        before, after = self.stats_before, self.stats_after
        if before and after:
            d = [a - b for a, b in zip(after["database"], before["database"])]
            commits = d[0] - self.own_queries  # each of our autocommit statements is a transaction
            log(f"PostgreSQL    per run: {commits / n:.2f} commits, {d[1] / n:.2f} rollbacks, {d[4] / n:.2f} rows inserted, "
                f"{d[5] / n:.2f} rows updated  ({self.own_queries} statements of the bench itself left out)")
            log(f"              {d[7] - 1} connections opened by the workers (about workers x threads is normal; "
                f"more means the pool, smaller than --threads, opens and closes overflow connections)")
            for table in ("chronos", "chrono_runs"):
                b, a = before["tables"].get(table), after["tables"].get(table)
                if not (a and b):
                    continue
                seq, idx, ins, upd, hot, _ = (x - y for x, y in zip(a, b))
                if table == "chrono_runs":
                    seq -= self.own_polls  # our status polls scan chrono_runs
                log(f"  {table:<12} per run: {idx / n:.2f} index scans, {upd / n:.2f} updates ({hot / n:.2f} HOT), "
                    f"{ins / n:.2f} inserts; sequential scans by the app: {seq}")
            used = {name: after["indexes"].get(name, 0) - before["indexes"].get(name, 0) for name in after["indexes"]}
            log("  index scans by index: " + ", ".join(f"{k} {v}" for k, v in sorted(used.items(), key=lambda kv: -kv[1])))
        if self.redis_before is not None and self.redis_after is not None:
            commands = self.redis_after - self.redis_before - self.queue.commands
            log(f"Redis         {commands / n:.2f} commands per run (server total, blocking pops that timed out included)")

    def _report_problems(self):
        problems, exceptions = Counter(), Counter()
        for info in self.logs:
            problems.update(info["problems"])
            exceptions.update(info["exceptions"])
        if not problems and not exceptions:
            log("worker logs   no warnings or errors")
            return
        log("worker logs   warnings/errors:")
        for key, count in problems.most_common(6):
            log(f"  {count:>6} x {key}")
        for key, count in exceptions.most_common(6):
            log(f"  {count:>6} x exception {key}")

    def _report_plans(self):
        for name, lines in self.plans.items():
            log(f"plan          {name}: " + " / ".join(line.strip() for line in lines))

    def _report_profile(self):
        path = getattr(self, "profile_path", None)
        if path is None or not path.exists():
            log("profile       no py-spy output (py-spy missing or not permitted?)")
            return
        total, packages, inclusive, self_time = summarize_profile(path)
        if not total:
            log("profile       py-spy recorded no samples")
            return
        log(f"profile       worker 1 from T-1.5 s, py-spy --gil at {self.args.profile_rate} Hz: {total} samples of the thread holding the GIL")
        shown = [(k, v) for k, v in packages.most_common() if k not in ("threading", "huey")][:12]
        log(f"  huey consumer loop {100 * packages['huey'] / total:.0f}%; by package (inclusive): "
            + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in shown))
        log("  top functions, inclusive (threading and huey frames left out):")
        for key, count in inclusive:
            log(f"    {100 * count / total:5.1f}%  {key}")
        log("  top functions, self:")
        for key, count in self_time[:14]:
            log(f"    {100 * count / total:5.1f}%  {key}")

    def log_tails(self, lines=15):
        out = []
        for path in (self.workers.logs if self.workers else []):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


def _n(value):
    return "-" if value is None else str(value)


def _percentiles(values):
    if not values:
        return "-"
    return (f"p50 {percentile(values, 50):.3f} s, p90 {percentile(values, 90):.3f} s, "
            f"p99 {percentile(values, 99):.3f} s, max {values[-1]:.3f} s  (n={len(values)})")


class SetupError(RuntimeError):
    pass


def parse_args(argv=None):
    default_python = ROOT / ".venv" / "bin" / "python"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--chronos", type=int, default=10_000, help="chronos due in the same second")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=64, help="threads per worker (flask worker --threads)")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres",
                        help="postgres: a throwaway PostgreSQL database and Redis; sqlite: SQLite files for both")
    parser.add_argument("--lead", type=float, default=25, help="seconds from inserting the chronos to T")
    parser.add_argument("--timeout", type=float, default=180, help="hard limit for the whole bench, seconds")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between database polls")
    parser.add_argument("--target-procs", type=int, default=1, help="target HTTP server processes (SO_REUSEPORT)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra setting for the workers, e.g. WORKER_THREADS=64 (repeatable)")
    parser.add_argument("--echo-sql", action="store_true",
                        help="SQLALCHEMY_ECHO=true and count the statements in the worker logs (slows the workers)")
    parser.add_argument("--profile", action="store_true", help="py-spy record worker 1 (GIL-holding samples)")
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--wait-quiet", type=float, default=0,
                        help="first wait up to this many seconds for the host to be < 15%% busy (it is shared)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary folder with the worker logs")
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="PostgreSQL user@host:port (trust auth)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Redis database, flushed before and after")
    parser.add_argument("--python", default=str(default_python if default_python.exists() else sys.executable),
                        help="interpreter that runs flask")
    args = parser.parse_args(argv)
    if not 1 <= args.chronos <= 100_000:
        parser.error("--chronos must be between 1 and 100000")
    if not (1 <= args.workers <= 8 and 1 <= args.threads <= 512 and 1 <= args.target_procs <= 8):
        parser.error("--workers 1-8, --threads 1-512, --target-procs 1-8")
    if not 5 <= args.lead <= 120 or not 30 <= args.timeout <= 1800:
        parser.error("--lead 5-120 s, --timeout 30-1800 s")
    if not 0 <= args.wait_quiet <= args.timeout / 3:
        parser.error("--wait-quiet must be between 0 and a third of --timeout")
    if args.database == "sqlite" and args.redis_url != parser.get_default("redis_url"):
        parser.error("--redis-url is for --database postgres")
    return args


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a background job inherits SIG_IGN
        signal.signal(signum, on_signal)
    watchdog = threading.Timer(args.timeout + 30, bench.hard_stop)
    watchdog.daemon = True
    watchdog.start()
    code = 3
    try:
        bench.setup()
        finished = bench.run()
        bench.collect()
        code = bench.report(finished)
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        code = 3
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        code = 130
    except Exception:
        import traceback

        traceback.print_exc()
        if bench.workers is not None:
            print(bench.log_tails(), file=sys.stderr)
        code = 3
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not interrupt the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.cleanup()
        watchdog.cancel()
    return code


if __name__ == "__main__":
    sys.exit(main())
