"""`bench/run compare`: N chronos every minute, ChronoFlow beside its peers, on one sink.

For each case and each system in turn:

1. the system is started and given its N chronos (ChronoFlow: a fresh PostgreSQL
   database `bench_cf`, Redis database 12, one gunicorn with the README's 2 web
   workers and the README's workers, one per core (`flask worker`, plus `flask
   worker --no-periodic`); chronos created through `POST /api/chronos` with a token);
2. one warm-up minute, then `--minutes` whole minutes counted: occurrences scheduled
   in them are expected exactly once at the sink;
3. CPU is read from /proc at the first and the last second of the counted minutes,
   for every process of the system (its process groups, and for ChronoFlow the
   PostgreSQL backends of `bench_cf` and the Redis server), for the sink, and for the
   whole host (the rest is "others": the host is shared);
4. after a drain, lateness (arrival at the sink − scheduled second), misses and
   duplicates are computed; for ChronoFlow the database is checked too: one run row
   per occurrence, each with a final status.

Every process it starts leads its own process group, dies with the bench
(PR_SET_PDEATHSIG) and is killed on exit, Ctrl+C included. Results go to
bench/results/compare.json (merged by case and system, so a case can be re-run
alone); `--write-doc` then rewrites docs/performance.md from it.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from fire_many import (  # noqa: E402
    CLK_TCK,
    ROOT,
    code_version,
    die_with_parent,
    host_cpu_busy,
    percentile,
)
from sink import sink_main  # noqa: E402

RESULTS = BENCH / "results" / "compare.json"
FINAL = ("success", "failed", "cancelled", "skipped")
PG_BASE = os.environ.get("BENCH_PG", "postgres@127.0.0.1:5432")
DB_NAME = "bench_cf"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SYSTEMS = ("chronoflow", "apscheduler", "polling")
CASES = {  # name: (kind, chronos; None: --chronos), in the order `all` runs them
    "burst1k": ("burst", 1000),
    "burst": ("burst", None),
    "spread": ("spread", None),
}


def log(message=""):
    print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- /proc

def _stat(pid):
    """(parent pid, session id, utime+stime seconds, command) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    name = raw[raw.find(b"(") + 1: raw.rfind(b")")].decode(errors="replace")
    fields = raw.rsplit(b")", 1)[1].split()
    return int(fields[1]), int(fields[3]), (int(fields[11]) + int(fields[12])) / CLK_TCK, name


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def snapshot():
    """{pid: (ppid, session, cpu seconds, command)} for every process on the host."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                out[int(entry)] = stat
    return out


def classify(snap, sessions, pg_db, label):
    """Which pids belong to the system under test: its sessions' processes, and for
    ChronoFlow the postmaster's children connected to `pg_db` plus redis-server."""
    mine = {}
    postmasters = {pid for pid, (_pp, _s, _c, name) in snap.items() if name == "postgres" and snap.get(_pp, (0, 0, 0, ""))[3] != "postgres"}
    for pid, (ppid, session, cpu, name) in snap.items():
        if session in sessions:
            mine[pid] = (label, cpu)
        elif pg_db and ppid in postmasters and f" {pg_db} " in f" {_cmdline(pid)} ":
            mine[pid] = ("postgres", cpu)
        elif pg_db and name == "redis-server":
            mine[pid] = ("redis", cpu)
    return mine


class CpuWindow:
    """CPU used between start() and stop() by the system, the sink, the bench, and the rest.

    The process table is also sampled every `every` seconds meanwhile: a process that
    exits inside the window (a PostgreSQL backend of an overflow connection, another
    user's test process) still counts with the CPU it had at its last sample, under
    its own name.
    """

    def __init__(self, sessions, pg_db, sink_pid, label, every=5.0):
        self.sessions, self.pg_db, self.sink_pid, self.label = set(sessions), pg_db, sink_pid, label
        self.every = every
        self.stopping = threading.Event()

    def _sample(self):
        snap = snapshot()
        mine = classify(snap, self.sessions, self.pg_db, self.label)
        for pid, (_ppid, _session, cpu, name) in snap.items():
            if pid in mine:
                self.part_of[pid] = mine[pid][0]
            self.last[pid] = (name, cpu)
        return snap

    def _loop(self):
        while not self.stopping.wait(self.every):
            self._sample()

    def start(self):
        self.last, self.part_of = {}, {}
        self.host0, self.load0, self.t0 = host_cpu_busy(), os.getloadavg(), time.time()
        self.snap0 = self._sample()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        self._sample()
        host1, load1, t1 = host_cpu_busy(), os.getloadavg(), time.time()
        parts, others_by_name = {}, {}
        sink = bench = 0.0
        for pid, (name, cpu) in self.last.items():
            used = max(0.0, cpu - (self.snap0[pid][2] if pid in self.snap0 else 0.0))
            if pid in self.part_of:
                parts[self.part_of[pid]] = parts.get(self.part_of[pid], 0.0) + used
            elif pid == self.sink_pid:
                sink += used
            elif pid == os.getpid():
                bench += used
            elif used > 0:
                others_by_name[name] = others_by_name.get(name, 0.0) + used
        system = sum(parts.values())
        host_busy = host1[0] - self.host0[0]
        top = sorted(others_by_name.items(), key=lambda kv: -kv[1])[:5]
        return {
            "seconds": t1 - self.t0,
            "system": system, "parts": parts, "sink": sink, "bench": bench,
            "host_busy": host_busy, "cores": os.cpu_count(),
            "others": max(0.0, host_busy - system - sink - bench),
            "others_top": [[n, round(v, 2)] for n, v in top],
            "load_start": self.load0, "load_end": load1,
        }


# --------------------------------------------------------------------------- processes

class Group:
    """A child process leading its own process group; killed with its group."""

    def __init__(self, name, command, env=None, log_path=None, cwd=ROOT):
        self.name = name
        self.log_path = log_path
        self.handle = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=self.handle, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, grace=10):
        if self.proc.poll() is None:
            _killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        _killpg(self.proc.pid, signal.SIGKILL)  # whatever of the group is left
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self.handle is not subprocess.DEVNULL:
            self.handle.close()

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def _killpg(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Sink:
    def __init__(self):
        ctx = multiprocessing.get_context("fork")
        self.port = free_port()
        self.control, child = ctx.Pipe()
        self.proc = ctx.Process(target=sink_main, args=(self.port, child), daemon=True)
        self.proc.start()
        if not self.control.poll(10) or self.control.recv() != "ready":
            raise RuntimeError("the sink did not start")
        self.lock = threading.Lock()

    def ask(self, command):
        with self.lock:
            self.control.send(command)
            return self.control.recv()

    def stop(self):
        try:
            self.control.send("stop")
        except OSError:
            pass
        self.proc.join(3)
        if self.proc.is_alive():
            self.proc.kill()


# --------------------------------------------------------------------------- the occurrences

def occurrences(kind, chronos, start, minutes):
    """{(chrono, epoch second)} expected in the counted minutes starting at `start`."""
    expected = set()
    for minute in range(minutes):
        base = start + 60 * minute
        for index in range(chronos):
            expected.add((index, base + (0 if kind == "burst" else index % 60)))
    return expected


def _scheduled(path, header):
    """(chrono index, scheduled epoch second) of a sink record, or None."""
    parts = path.decode(errors="replace").split("/")
    if len(parts) < 3 or parts[1] != "s" or not parts[2].isdigit():
        return None
    if len(parts) >= 4 and parts[3].isdigit():
        return int(parts[2]), int(parts[3])
    if header:
        moment = datetime.strptime(header.decode(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return int(parts[2]), int(moment.timestamp())
    return None


def judge(records, expected):
    """Lateness of the first call of each expected occurrence, misses and duplicates."""
    first, counts = {}, {}
    for arrival, path, header, _run_id in records:
        key = _scheduled(path, header)
        if key is None or key not in expected:
            continue
        counts[key] = counts.get(key, 0) + 1
        if key not in first or arrival < first[key]:
            first[key] = arrival
    lateness = sorted(first[key] - key[1] for key in first)
    return {
        "expected": len(expected),
        "calls": sum(counts.values()),
        "misses": len(expected) - len(first),
        "duplicates": sum(c - 1 for c in counts.values()),
        "p50": percentile(lateness, 50), "p99": percentile(lateness, 99),
        "max": lateness[-1] if lateness else None, "min": lateness[0] if lateness else None,
        # 201 quantiles: enough for the plot, small enough for the JSON.
        "quantiles": [percentile(lateness, q / 2) for q in range(0, 201)] if lateness else [],
    }


# --------------------------------------------------------------------------- ChronoFlow

class ChronoFlow:
    name = "chronoflow"

    def __init__(self, args, workdir, sink):
        self.args, self.workdir, self.sink = args, Path(workdir), sink
        self.groups = []
        self.port = free_port()
        self.env = self._env()

    def _env(self):
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update({
            "DATABASE_URL": f"postgresql://{PG_BASE}/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "bench-compare",
            "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
            "HOST": "127.0.0.1", "PORT": str(self.port),
            "FLASK_APP": "app", "PYTHONUNBUFFERED": "1",
        })
        for item in self.args.env:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def _flask(self, *argv, stdin=None):
        done = subprocess.run([sys.executable, "-m", "flask", *argv], cwd=ROOT, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"flask {' '.join(argv)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def fresh_stores(self):
        import redis
        from sqlalchemy import create_engine, text

        admin = create_engine(f"postgresql+psycopg://{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        admin.dispose()
        redis.Redis.from_url(REDIS_URL).flushdb()

    def drop_stores(self):
        import redis
        from sqlalchemy import create_engine, text

        try:
            admin = create_engine(f"postgresql+psycopg://{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
            admin.dispose()
            redis.Redis.from_url(REDIS_URL).flushdb()
        except Exception as exc:  # cleanup must not hide the real error
            log(f"cleanup: {exc}")

    def start(self, kind, chronos):
        log("chronoflow: fresh database and queue, migrations, a user and a token")
        self.fresh_stores()
        self._flask("db", "upgrade")
        self._flask("users", "create", "bench", "--password-stdin", "--admin", stdin="bench-password-123\n")
        self.token = self._flask("users", "token", "bench", "--name", "bench").strip().splitlines()[-1]
        self.groups.append(Group("gunicorn", [sys.executable, "-m", "gunicorn", "app:app"], self.env,
                                 self.workdir / "gunicorn.log"))
        for index in range(self.args.cf_workers):
            command = [sys.executable, "-m", "flask", "worker"] + (["--no-periodic"] if index else [])
            self.groups.append(Group(f"worker-{index + 1}", command, self.env, self.workdir / f"worker-{index + 1}.log"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            dead = [g.name for g in self.groups if not g.alive()]
            if dead:
                raise RuntimeError(f"{dead} exited: see {self.workdir}")
            workers_up = all("Huey consumer started" in g.log_text() for g in self.groups[1:])
            if workers_up and self._web_up():
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"chronoflow did not start within 60 s: see {self.workdir}")
        self.create_chronos(kind, chronos)

    def _web_up(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/api/health/live")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def create_chronos(self, kind, chronos):
        started = time.monotonic()
        local = threading.local()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

        def create(index):
            second = 0 if kind == "burst" else index % 60
            body = json.dumps({
                "name": f"bench {index}", "timezone": "UTC",
                "schedule": "* * * * *" if kind == "burst" else f"{second} * * * * *",
                "url": f"http://127.0.0.1:{self.sink.port}/s/{index}",
            })
            for attempt in range(5):
                conn = getattr(local, "conn", None)
                if conn is None:
                    conn = local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                try:
                    conn.request("POST", "/api/chronos", body, headers)
                    response = conn.getresponse()
                    text = response.read()
                    if response.status == 201:
                        return
                    raise RuntimeError(f"POST /api/chronos answered {response.status}: {text[:300]!r}")
                except (OSError, http.client.HTTPException):
                    conn.close()
                    local.conn = None
                    if attempt == 4:
                        raise
                    time.sleep(0.5)

        with ThreadPoolExecutor(self.args.create_threads) as pool:
            for done, _ in enumerate(pool.map(create, range(chronos)), 1):
                if done % 2000 == 0:
                    log(f"chronoflow: {done} chronos created")
        elapsed = time.monotonic() - started
        self.create_rate = chronos / elapsed
        log(f"chronoflow: {chronos} chronos created through the API in {elapsed:.1f} s ({self.create_rate:.0f}/s)")

    def sessions(self):
        return [g.pid for g in self.groups]

    def pg_db(self):
        return DB_NAME

    def check(self, start, end, chronos):
        """Run rows of the counted window: one per occurrence, each final."""
        from sqlalchemy import create_engine, text

        engine = create_engine(f"postgresql+psycopg://{PG_BASE}/{DB_NAME}")
        start_at = datetime.fromtimestamp(start, timezone.utc)
        end_at = datetime.fromtimestamp(end, timezone.utc)
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT chrono_id, scheduled_for, count(*) AS n, "
                "count(*) FILTER (WHERE status IN ('success', 'failed', 'cancelled', 'skipped')) AS final, "
                "count(*) FILTER (WHERE status = 'success') AS ok "
                "FROM chrono_runs WHERE scheduled_for >= :a AND scheduled_for < :b AND trigger = 'schedule' "
                "GROUP BY chrono_id, scheduled_for"), {"a": start_at, "b": end_at}).all()
            statuses = dict(conn.execute(text(
                "SELECT status, count(*) FROM chrono_runs WHERE scheduled_for >= :a AND scheduled_for < :b "
                "GROUP BY status"), {"a": start_at, "b": end_at}).all())
        engine.dispose()
        expected = chronos * ((end - start) // 60)
        return {
            "expected_rows": expected,
            "occurrences_with_rows": len(rows),
            "missing_rows": expected - len(rows),
            "duplicate_rows": sum(r.n - 1 for r in rows if r.n > 1),
            "not_final": sum(r.n - r.final for r in rows),
            "statuses": statuses,
            "one_final_row_each": len(rows) == expected and all(r.n == 1 and r.final == 1 for r in rows),
        }

    def extra(self):
        out = {"create_per_s": round(getattr(self, "create_rate", 0), 1)}
        ticks = []
        for g in self.groups[1:]:
            for line in g.log_text().splitlines():
                if "dispatched" in line and "runs due before" in line:
                    ticks.append(line.strip()[:160])
        out["dispatch_log"] = ticks[-6:]
        return out

    def stop(self):
        for group in reversed(self.groups):
            group.stop(grace=10 if group.name != "gunicorn" else 5)
        self.groups = []


class Peer:
    def __init__(self, name, args, workdir, sink):
        self.name, self.args, self.workdir, self.sink = name, args, Path(workdir), sink
        self.group = None

    def start(self, kind, chronos):
        log(f"{self.name}: loading {chronos} jobs")
        command = [sys.executable, str(BENCH / "peers.py"), self.name, "--port", str(self.sink.port),
                   "--chronos", str(chronos), "--case", kind]
        self.group = Group(self.name, command, None, self.workdir / f"{self.name}.log")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if "ready" in self.group.log_text():
                return
            if not self.group.alive():
                raise RuntimeError(f"{self.name} exited: {self.group.log_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not load its jobs in 120 s")

    def sessions(self):
        return [self.group.pid]

    def pg_db(self):
        return None

    def check(self, start, end, chronos):
        return None

    def extra(self):
        errors = [line for line in self.group.log_text().splitlines() if "Error" in line or "Traceback" in line]
        return {"log_errors": len(errors), "first_errors": errors[:3]}

    def stop(self):
        if self.group:
            self.group.stop(grace=3)
            self.group = None


# --------------------------------------------------------------------------- one measurement

def measure(system, case, kind, chronos, args, sink):
    """Start `system`, count `args.minutes` whole minutes after a warm-up, judge."""
    try:
        system.start(kind, chronos)
        now = time.time()
        warmup_start = int(now // 60 + 1) * 60
        if warmup_start - now < 3:  # too close: the first occurrence may be in flight already
            warmup_start += 60
        start = warmup_start + 60 * args.warmup
        end = start + 60 * args.minutes
        log(f"{system.name}: warm-up from {_hms(warmup_start)}, counting {_hms(start)}–{_hms(end)}")
        window = CpuWindow(system.sessions(), system.pg_db(), sink.proc.pid,
                           "web+workers" if system.name == "chronoflow" else "scheduler")
        _sleep_until(start)
        window.start()
        _sleep_until(end)
        cpu = window.stop()
        expected = occurrences(kind, chronos, start, args.minutes)
        # Drain: late calls of the counted minutes still count (and so do duplicates).
        drain_until = end + args.drain
        while time.time() < drain_until:
            time.sleep(2)
            result = judge(sink.ask("dump")["records"], expected)
            if result["misses"] == 0 and time.time() > end + 5:
                break
        dump = sink.ask("dump")
        result = judge(dump["records"], expected)
        result["connections"] = dump["connections"]
        if system.name == "chronoflow":
            for _ in range(30):
                check = system.check(start, end, chronos)
                if check["not_final"] == 0 and check["missing_rows"] == 0:
                    break
                time.sleep(2)
            result["db"] = check
        result.update(
            system=system.name, case=case, kind=kind, chronos=chronos, minutes=args.minutes, warmup=args.warmup,
            window=[start, end], cpu=cpu, runs=len(expected),
            cpu_per_run_ms=1000 * cpu["system"] / max(1, len(expected)),
            extra=system.extra(),
        )
        return result
    finally:
        system.stop()
        sink.ask("reset")


def _hms(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%S")


def _sleep_until(epoch):
    while True:
        left = epoch - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 1.0))


def print_result(r):
    def s(v):
        return "-" if v is None else f"{v:.3f} s"

    cpu = r["cpu"]
    parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["cpu"]["parts"].items()))
    log(f"== {r['case']} ({r['chronos']:,} {r['kind']}) {r['system']}: p50 {s(r['p50'])}  p99 {s(r['p99'])}  "
        f"max {s(r['max'])}  misses {r['misses']}  dups {r['duplicates']}  "
        f"CPU/run {r['cpu_per_run_ms']:.2f} ms ({cpu['system']:.1f} core-s{': ' + parts if parts else ''})")
    log(f"   host: load {cpu['load_start'][0]:.2f}→{cpu['load_end'][0]:.2f}, busy {cpu['host_busy']:.1f} core-s of "
        f"{cpu['seconds'] * cpu['cores']:.0f}, sink {cpu['sink']:.1f}, others {cpu['others']:.1f} "
        f"({', '.join(f'{n} {v}' for n, v in cpu['others_top'][:3])})")
    if r.get("db"):
        db = r["db"]
        log(f"   db: {db['occurrences_with_rows']}/{db['expected_rows']} occurrences have rows, "
            f"{db['duplicate_rows']} duplicate rows, {db['not_final']} not final, statuses {db['statuses']}: "
            f"{'every run one final row' if db['one_final_row_each'] else 'NOT one final row each'}")


def save(results, meta):
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    for r in results:
        r["meta"] = meta
        stored["runs"][f"{r['case']}/{r['system']}"] = r
    RESULTS.write_text(json.dumps(stored, indent=1, default=str))


def host_description():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem = 0
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"],
                        capture_output=True, text=True).stdout.strip() or "?"
    try:
        import redis
        rv = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    except Exception:
        rv = "?"
    return (f"{os.cpu_count()} cores ({model}), {mem / 1048576:.1f} GiB RAM, Linux {os.uname().release}, "
            f"Python {sys.version.split()[0]}, PostgreSQL {pg}, Redis {rv}")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chronos", type=int, default=10000, help="N for the burst and spread cases (10000)")
    p.add_argument("--case", default="all",
                   help="burst (N at second 0), spread (N over the minute), burst1k (1,000 at second 0), "
                        "comma-separated, or all (default)")
    p.add_argument("--minutes", type=int, default=3, help="whole minutes counted (3)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up minutes before them (1)")
    p.add_argument("--drain", type=int, default=45, help="at most this many seconds after the window for late calls")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: " + ",".join(SYSTEMS))
    p.add_argument("--cf-workers", type=int, default=2, help="ChronoFlow worker processes (README: one per core)")
    p.add_argument("--create-threads", type=int, default=4, help="clients creating chronos through the API at once")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="a setting for ChronoFlow")
    p.add_argument("--write-doc", action="store_true", help="rewrite docs/performance.md from the results")
    p.add_argument("--no-save", action="store_true", help="print only: leave bench/results/compare.json as it is")
    p.add_argument("--keep-logs", action="store_true", help="keep the temporary folder with the logs")
    args = p.parse_args(argv)
    cases = list(CASES) if args.case == "all" else [c.strip() for c in args.case.split(",")]
    systems = [s.strip() for s in args.systems.split(",")]
    bad = [c for c in cases if c not in CASES] + [s for s in systems if s not in SYSTEMS]
    if bad:
        p.error(f"unknown case or system: {', '.join(bad)}")
    args.cases, args.system_names = cases, systems
    return args


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    # Bounded: each measurement takes setup + warm-up + minutes + drain; a hard limit
    # over all of them stops the bench whatever happens.
    per = 60 * (args.warmup + args.minutes + 1) + args.drain + 600
    budget = per * len(args.cases) * len(args.system_names)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"bench over {budget} s")))
    signal.alarm(budget)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # Ctrl+C even when started in the background of a script (where SIGINT is ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    workdir = tempfile.mkdtemp(prefix="bench-compare-")
    command = "bench/run compare " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {"command": command.strip(), "code": code_version(), "host": host_description(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    log(f"code: {meta['code']}")
    log(f"host: {meta['host']}; load {os.getloadavg()[0]:.2f}")
    sink = Sink()
    results, current = [], None
    status = 0
    try:
        for case in args.cases:
            kind, count = CASES[case]
            chronos = count or args.chronos
            for name in args.system_names:
                current = (ChronoFlow(args, workdir, sink) if name == "chronoflow"
                           else Peer(name, args, workdir, sink))
                result = measure(current, case, kind, chronos, args, sink)
                current = None
                print_result(result)
                results.append(result)
                if not args.no_save:
                    save([result], meta)
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    except Exception as exc:
        log(f"error: {type(exc).__name__}: {exc}")
        status = 2
    finally:
        signal.alarm(0)
        if current is not None:
            current.stop()
        if any(name == "chronoflow" for name in args.system_names):
            ChronoFlow.drop_stores(None)
        sink.stop()
        if not args.keep_logs and status == 0:
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"logs: {workdir}")
    if args.write_doc and results and not args.no_save:
        import report
        report.write()
        log("wrote docs/performance.md")
    return status


if __name__ == "__main__":
    sys.exit(main())
