"""Station agents against gunicorn + PostgreSQL: 1,000 agents syncing, a full plan, log
ingest, "phát ngay" through the broker to a real agent's output, and the server's memory.

Usage:
    .venv/bin/python bench/agents.py [--agents 1000] [--periods 30,60] [--duration 90]
                                     [--schedules-per-station 12] [--ingest-rows 10000]
                                     [--ingest-clients 4] [--air-now 20] [--workers N]
                                     [--database-url URL] [--seed 7] [--json PATH]

Seeds a scratch PostgreSQL database (created, and dropped at the end; its name must contain
"bench") with bench/plan.py's province: --agents commune stations with a morning and an evening
session, 40 approved scripts with real WAV files, --schedules-per-station schedules per station
and their next 14 days of airings as the runner materialises them, all from today on the real
clock. Every station gets an agent through app/agents/service.py (add_agent, then enrol_agent
with its one-time code), is switched to agent mode, and the web app runs under gunicorn with
deploy/gunicorn.conf.py (its workers, as shipped) on 127.0.0.1, pushing to a Mosquitto of the
bench's own. Then, over real HTTP:

1. every agent fetches its plan once (the ETag it keeps); then, for each of --periods, for
   --duration seconds each agent syncs every that many seconds from a random start, as
   StationAgent.sync() does while airing: POST /api/v1/agent/sync with the health report and
   the ETag held (answered 204, the plan unchanged). A new connection per request (gunicorn's sync
   workers close each one). The RSS (and PSS) and CPU time of gunicorn's master and workers
   are read every second meanwhile. The 30 s target applies to the first period;
2. the full 7-day plan of the station with the most airings, fetched 20 times;
3. log ingest: chained rows for stations' airings (each aired once, hashed as an agent writes
   them) uploaded through POST /api/v1/agent/log in batches of 500 (the agent's UPLOAD_BATCH),
   first by one agent at a time, then by --ingest-clients agents at once;
4. "phát ngay": a real agent (`python -m app.station_agent run`, enrolled with the real
   command) on a station of its own, listening on the broker, with the `local` output and a
   stand-in player that writes the time it starts; POST /api/v1/stations/<code>/air-now as an
   operator, --air-now times; the time from the call to the player's start.

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.agents import service as agents  # noqa: E402
from app.auth.models import User  # noqa: E402
from app.auth.service import create_token  # noqa: E402
from app.broadcast.models import GENESIS_HASH, BroadcastLog, LogStatus  # noqa: E402
from app.broadcast.service import HASH_VERSION, compute_row_hash, row_json  # noqa: E402
from app.core.clock import LOCAL_TZ, SystemClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.org.models import PlayoutMode, Station, StationKind, Unit  # noqa: E402
from app.org.service import (  # noqa: E402
    StationInput,
    UnitInput,
    add_session,
    create_station,
    create_unit,
)
from app.schedules import service as schedules  # noqa: E402
from app.schedules.models import Airing  # noqa: E402
from app.schedules.recurrence import Recurrence  # noqa: E402
from app.scripts.models import Script  # noqa: E402
from app.speech.models import Render  # noqa: E402
from app.station_agent.sync import UPLOAD_BATCH  # noqa: E402
from bench import plan as plan_bench  # noqa: E402
from bench.machine import machine_info, markdown_table  # noqa: E402
from bench.plan import build_app, load_average, percentile  # noqa: E402
from bench.render import status_kib  # noqa: E402
from bench.web import finish_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://loa:loa@127.0.0.1:5432/loa_bench_agents"
TARGET_SYNC_P99_MS = 100.0
TARGET_INGEST_ROWS_S = 5000.0
TARGET_AIR_NOW_P99_S = 2.0
PLAN_FETCHES = 20
SECRET_KEY = "bench-secret"
MQTT_PASSWORD = "bench-broker-secret"
AGENT_HOST = "agent:bench"
VENV_BIN = Path(sys.executable).parent
PYTHON = [sys.executable]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
MOSQUITTO = Path(os.environ.get("MOSQUITTO_BINARY", "/usr/sbin/mosquitto"))
# The stand-in player: the local output runs it with the file as its only argument.
PLAYER = '#!/bin/sh\necho "$(date +%s.%N) $1" >> "{starts}"\n'


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for the tables."""
    return round(seconds * 1000, 1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, ready, proc: subprocess.Popen | None = None, limit_s: float = 60):
    """Poll ready() until it answers something true; fail after limit_s or if proc ends."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what}: the process exited with {proc.returncode}")
        found = ready()
        if found:
            return found
        time.sleep(0.05)
    raise SystemExit(f"{what}: not ready after {limit_s:.0f} s")


def listens(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- the scratch database -----------------------------------------------------------------------


def admin_dsn(url: str) -> tuple[str, str]:
    """The libpq address of the server's postgres database, and the bench database's name."""
    parsed = make_url(url)
    name = parsed.database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to create and drop {name!r}: its name lacks bench")
    dsn = parsed.set(drivername="postgresql", database="postgres")
    return dsn.render_as_string(hide_password=False), name


def create_database(url: str) -> None:
    """Create the bench database afresh (dropped first if a run left it behind)."""
    dsn, name = admin_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Drop the bench database."""
    dsn, name = admin_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- seeding ------------------------------------------------------------------------------------


@dataclass
class Seeded:
    """What the seed made, by id, and the agents' credentials."""

    station_ids: list[int]
    credentials: list[str]
    operator_token: str
    air_station_code: str
    air_code: str
    air_script_id: int
    n_airings: int
    n_schedules: int
    seconds: dict[str, float] = field(default_factory=dict)


def seed_air_station(org: plan_bench.Org) -> tuple[Station, str, int]:
    """The real agent's station: its own commune, sessions and three schedules from tomorrow
    (nothing airs today, so the player starts only for "phát ngay"); its agent added, not
    enrolled. Returns the station, the enrolment code and the script to air."""
    district = db.session.get(Unit, org.district_ids[0])
    commune = create_unit(
        None, UnitInput(code="BENCH-AGENT", name="Xã Máy Trạm", level="Xã", parent=district)
    )
    station = create_station(
        None,
        StationInput(
            code="BENCH-AGENT-LOA",
            name="Đài truyền thanh xã Máy Trạm",
            kind=StationKind.COMMUNE_LOUDSPEAKER,
            unit=commune,
        ),
    )
    add_session(None, station, "Buổi sáng", dtime(5, 30), dtime(6, 30), 45, "1234567")
    add_session(None, station, "Buổi chiều", dtime(17, 0), dtime(18, 0), 45, "1234567")
    operator = db.session.get(User, org.users["operator"])
    tomorrow = datetime.now(LOCAL_TZ).date() + timedelta(days=1)
    pool = org.scripts_by_district[district.id]
    for j, times in enumerate(
        [(dtime(5, 35), dtime(17, 5)), (dtime(5, 50), dtime(17, 20)), (dtime(6, 5), dtime(17, 35))]
    ):
        rule = Recurrence(
            kind="times", times=times, start_date=tomorrow, end_date=tomorrow + timedelta(days=20)
        )
        data = schedules.ScheduleInput(
            script=db.session.get(Script, pool[j]),
            recurrence=rule,
            stations=[station],
            confirm_warnings=True,
        )
        schedules.create_schedule(operator, data)
    new = agents.add_agent(None, station, "Máy trạm đo thử")
    return station, new.code, pool[0]


def seed(n_agents: int, per_station: int, rng: random.Random) -> Seeded:
    """The province of bench/plan.py from today, an agent per station, the air-now station."""
    seconds: dict[str, float] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    # bench/plan.py seeds from a fixed date; the agents run on the real clock.
    plan_bench.NOW = now
    plan_bench.SCHEDULE_START = now.astimezone(LOCAL_TZ).date()
    t0 = time.perf_counter()
    org = plan_bench.seed_org(n_agents, rng, plan_bench.SCRIPTS_PER_DISTRICT)
    seconds["units, stations, scripts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    plan_bench.seed_schedules(org, per_station, rng)
    plan_bench.seed_airings(org)
    seconds["schedules, airings"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    credentials = []
    for station_id in org.station_ids:
        station = db.session.get(Station, station_id)
        new = agents.add_agent(None, station, "")
        credentials.append(agents.enrol_agent(new.code)[1])
    seconds["agents added and enrolled"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    air_station, air_code, air_script = seed_air_station(org)
    seconds["air-now station"] = time.perf_counter() - t0
    _, token = create_token(db.session.get(User, org.users["operator"]), "bench")
    db.session.commit()
    n_airings = db.session.scalar(select(func.count()).select_from(Airing))
    return Seeded(
        station_ids=org.station_ids,
        credentials=credentials,
        operator_token=token,
        air_station_code=air_station.code,
        air_code=air_code,
        air_script_id=air_script,
        n_airings=n_airings,
        n_schedules=org.n_schedules + 3,
        seconds=seconds,
    )


def switch_to_agents(station_ids: list[int]) -> None:
    """Every station aired by its agent (each has fetched its plan once)."""
    for station_id in station_ids:
        agents.set_playout_mode(None, db.session.get(Station, station_id), PlayoutMode.AGENT)
    db.session.remove()


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    """One request: status, seconds from connect to the last byte, headers, body."""

    status: int
    seconds: float
    headers: dict[str, str]
    body: bytes


def call(port: int, method: str, path: str, headers: dict[str, str], body: Any = None) -> Answer:
    """One request on a new connection, timed from the connect to the last byte read."""
    payload = None
    headers = {"User-Agent": "loa-bench", **headers}
    if body is not None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        seconds = time.perf_counter() - t0
        return Answer(response.status, seconds, dict(response.getheaders()), data)
    finally:
        conn.close()


def bearer(credential: str) -> dict[str, str]:
    """The Authorization header of a credential or token."""
    return {"Authorization": f"Bearer {credential}"}


PLAN_PATH = "/api/v1/agent/plan?days=7"


def health_body(now: datetime) -> dict[str, Any]:
    """A health report as StationAgent.health() makes it."""
    return {
        "agent_version": "bench",
        "plan_until": (now + timedelta(days=7)).isoformat(),
        "audio_missing": 0,
        "output": {"name": "simulate", "ok": True, "message": ""},
        "disk_free_bytes": 20 * 1024**3,
        "disk_total_bytes": 32 * 1024**3,
        "agent_time": now.isoformat(),
    }


# --- gunicorn, Mosquitto, the agent -------------------------------------------------------------


class Servers:
    """The processes of the run, stopped in reverse order at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        """Start a process, its output into <workdir>/<name>.log."""
        out = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        """What a process has written so far."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """SIGTERM each, newest first; SIGKILL what does not stop within 30 s."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def server_env(url: str, workdir: Path, mqtt_port: int) -> dict[str, str]:
    """The web app's environment, as /etc/loa/loa.env sets it (docs/deploy.md)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "LOA_INSTANCE_PATH": str(workdir / "instance"),
        "AUDIO_DIR": str(workdir / "audio"),
        "SCRIPTS_DIR": str(workdir / "scripts_vi"),
        "SCHEDULES_DIR": str(workdir / "schedules"),
        "MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
        "MQTT_PASSWORD": MQTT_PASSWORD,
        "LOA_LOG_LEVEL": "warning",
    }
    for name in ("TEST_DATABASE_URL", "LOA_CLOCK_FILE", "PLAYOUT_STATIONS"):
        env.pop(name, None)
    return env


def start_gunicorn(servers: Servers, env: dict[str, str], port: int, workers: int | None):
    """gunicorn with deploy/gunicorn.conf.py; returns its master process."""
    env = {**env, "LOA_BIND": f"127.0.0.1:{port}"}
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    argv = [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
    proc = servers.start("gunicorn", argv, env)
    wait_for("gunicorn", lambda: listens(port), proc)
    return proc


def start_mosquitto(servers: Servers, env: dict[str, str], port: int) -> subprocess.Popen:
    """Mosquitto with the password and ACL files `flask broker files` writes (as tests/push)."""
    folder = servers.workdir / "mosquitto"
    folder.mkdir()
    passwords, acl = folder / "passwd", folder / "acl"
    subprocess.run(
        [*FLASK, "broker", "files", "--passwords", str(passwords), "--acl", str(acl)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    import pwd

    config = folder / "mosquitto.conf"
    config.write_text(
        "per_listener_settings false\n"
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous false\n"
        f"password_file {passwords}\n"
        f"acl_file {acl}\n"
        "persistence false\n"
        "log_dest stderr\n"
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
    )
    proc = servers.start("mosquitto", [str(MOSQUITTO), "-c", str(config)], os.environ.copy())
    wait_for("mosquitto", lambda: listens(port), proc)
    return proc


# --- memory -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process so far, in seconds (None once it has gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def children(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers of its master)."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(x) for x in found]


def pss_kib(pid: int) -> int:
    """A process's proportional set size (shared pages split between their users), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler:
    """RSS and PSS of gunicorn's master and workers, summed, every second in a thread; and
    their CPU time, per process (gunicorn replaces a worker after max_requests)."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.samples: list[tuple[int, int, int]] = []  # (rss KiB, pss KiB, processes)
        self.cpu: dict[int, tuple[float, float]] = {}  # pid: (first seen, last seen)
        self.started: set[int] = set()  # workers that appeared during the run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[int, int, int]:
        """One sample now."""
        pids = [self.master, *children(self.master)]
        rss = sum(status_kib(p, "VmRSS") for p in pids)
        pss = sum(pss_kib(p) for p in pids)
        first = not self.cpu
        for pid in pids:
            used = cpu_seconds(pid)
            if used is None:
                continue
            if pid not in self.cpu and not first:
                self.started.add(pid)
                self.cpu[pid] = (0.0, used)  # a new worker: all its time is the run's
            else:
                self.cpu[pid] = (self.cpu.get(pid, (used, used))[0], used)
        return rss, pss, len(pids)

    def cpu_used(self) -> float:
        """CPU seconds the processes used between the first sample and the last."""
        return sum(last - first for first, last in self.cpu.values())

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(self.sample())

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self.sample())


# --- 1. a thousand agents syncing ---------------------------------------------------------------


def each_agent(port: int, credentials: list[str], path: str) -> list[Answer]:
    """Every agent GETs path once (8 at a time)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda c: call(port, "GET", path, bearer(c)), credentials))


def bench_syncs(
    port: int,
    credentials: list[str],
    etags: list[str],
    period: float,
    args: argparse.Namespace,
    master: int,
) -> dict[str, Any]:
    """Each agent syncs every period from a random start for the duration; the figures."""
    rng = random.Random(args.seed)
    n = len(credentials)
    start = time.monotonic() + 1.0
    due: list[tuple[float, int]] = [(start + rng.uniform(0, period), i) for i in range(n)]
    heapq.heapify(due)
    end = start + args.duration
    sync_s: list[float] = []
    lag_s: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def one_sync(i: int, due_at: float) -> None:
        lag = time.monotonic() - due_at
        body = {"health": health_body(datetime.now(UTC)), "plan_etag": etags[i].strip('"')}
        try:
            answer = call(port, "POST", "/api/v1/agent/sync", bearer(credentials[i]), body)
        except OSError as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            lag_s.append(lag)
            sync_s.append(answer.seconds)
            key = f"sync {answer.status}"
            statuses[key] = statuses.get(key, 0) + 1

    memory = MemorySampler(master)
    idle = memory.sample()
    submitted = 0
    client_cpu = time.process_time()
    with memory, ThreadPoolExecutor(args.threads) as pool:
        while due and due[0][0] < end:
            at, i = heapq.heappop(due)
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one_sync, i, at)
            submitted += 1
            # As StationAgent.run(): the next sync poll_s after this one, give or take.
            heapq.heappush(due, (at + period + rng.uniform(-0.5, 0.5), i))
        dispatched = time.monotonic()
    finished = time.monotonic()
    server_cpu = memory.cpu_used()
    client_cpu = time.process_time() - client_cpu
    rss = [s[0] for s in memory.samples] or [idle[0]]
    pss = [s[1] for s in memory.samples] or [idle[1]]
    syncs = len(sync_s)
    return {
        "agents": n,
        "period_s": period,
        "duration_s": round(dispatched - start, 1),
        "syncs": syncs,
        "requests": syncs,
        "offered_syncs_per_s": round(submitted / (dispatched - start), 1),
        # Served: every sync asked for, answered, over the time until the last answer.
        "syncs_per_s": round(syncs / (finished - start), 1),
        "wanted_syncs_per_s": round(n / period, 1),
        "drain_s": round(finished - dispatched, 2),
        "server_cpu_ms_per_sync": ms(server_cpu / max(syncs, 1)),
        "workers_replaced": len(memory.started),
        "server_cpu_share": round(server_cpu / (finished - start) / (os.cpu_count() or 1), 2),
        "client_cpu_share": round(client_cpu / (finished - start) / (os.cpu_count() or 1), 2),
        "statuses": statuses,
        "errors": errors[:5],
        "n_errors": len(errors),
        "sync_p50_ms": ms(percentile(sync_s, 50)),
        "sync_p95_ms": ms(percentile(sync_s, 95)),
        "sync_p99_ms": ms(percentile(sync_s, 99)),
        "sync_max_ms": ms(max(sync_s)),
        "dispatch_lag_p99_ms": ms(percentile(lag_s, 99)),
        "processes": idle[2],
        "rss_idle_mb": round(idle[0] / 1024, 1),
        "rss_peak_mb": round(max(rss) / 1024, 1),
        "rss_median_mb": round(statistics.median(rss) / 1024, 1),
        "pss_peak_mb": round(max(pss) / 1024, 1),
        "load_after": load_average(),
    }


# --- 2. one full plan ---------------------------------------------------------------------------


def busiest_station(station_ids: list[int]) -> int:
    """The index of the station with the most airings in its 7-day plan window."""
    start, until = agents.plan_window(datetime.now(UTC), 7)
    counts = dict(
        db.session.execute(
            select(Airing.station_id, func.count())
            .where(Airing.sequenced_at >= start, Airing.sequenced_at < until)
            .group_by(Airing.station_id)
        ).all()
    )
    db.session.remove()
    return max(range(len(station_ids)), key=lambda i: counts.get(station_ids[i], 0))


def bench_full_plan(port: int, credential: str) -> dict[str, Any]:
    """The whole plan fetched PLAN_FETCHES times, one after another."""
    answers = [call(port, "GET", PLAN_PATH, bearer(credential)) for _ in range(PLAN_FETCHES)]
    document = json.loads(answers[-1].body)
    per_day: dict[str, int] = {}
    for item in document["items"]:
        day = datetime.fromisoformat(item["start_at"]).astimezone(LOCAL_TZ).date().isoformat()
        per_day[day] = per_day.get(day, 0) + 1
    times = [a.seconds for a in answers]
    return {
        "station": document["station"]["code"],
        "statuses": sorted({a.status for a in answers}),
        "bytes": len(answers[-1].body),
        "items": len(document["items"]),
        "audio_files": len(document["audio"]),
        "schedules": len({i["schedule"] for i in document["items"]}),
        "per_day": per_day,
        "p50_ms": ms(percentile(times, 50)),
        "p99_ms": ms(percentile(times, 99)),
        "max_ms": ms(max(times)),
    }


# --- 3. log ingest ------------------------------------------------------------------------------


def chained_rows(station_id: int, head: dict[str, Any]) -> list[dict[str, Any]]:
    """A row for each of the station's airings, aired on time, continuing the chain after head
    as the agent writes them (tests/agents/conftest.agent_row), as the JSON uploaded."""
    station = db.session.get(Station, station_id)
    airings = db.session.scalars(
        select(Airing).where(Airing.station_id == station_id).order_by(Airing.sequenced_at)
    ).all()
    renders = {r.id: r for r in db.session.scalars(select(Render))}
    seq, prev = int(head["seq"]), head["row_hash"]
    rows = []
    for airing in airings:
        render = renders[airing.render_id]
        start = airing.sequenced_at
        row = BroadcastLog(
            station_id=station.id,
            unit_id=station.unit_id,
            planned_at=start,
            started_at=start,
            ended_at=start + timedelta(seconds=airing.duration_s),
            duration_s=airing.duration_s,
            status=LogStatus.AIRED,
            reason="",
            script_id=airing.script_id,
            version_id=airing.version_id,
            render_id=airing.render_id,
            spoken_sha256=render.spoken_sha256,
            audio_sha256=render.audio_sha256,
            schedule_id=airing.schedule_id,
            airing_key=airing.airing_key,
            priority=airing.priority,
            operator_id=None,
            runner_host=AGENT_HOST,
            corrects_id=None,
            corrects_hash=None,
            correction_reason="",
            created_at=start + timedelta(seconds=airing.duration_s, microseconds=250_001),
            seq=seq + 1,
            hash_version=HASH_VERSION,
            prev_hash=prev,
        )
        row.row_hash = compute_row_hash(row)
        rows.append(row_json(row))
        seq, prev = row.seq, row.row_hash
    db.session.remove()
    return rows


def upload_station(port: int, credential: str, rows: list[dict]) -> tuple[int, list[float]]:
    """Upload a station's rows in the agent's batches; rows accepted and each batch's time."""
    accepted, times = 0, []
    for first in range(0, len(rows), UPLOAD_BATCH):
        answer = call(
            port,
            "POST",
            "/api/v1/agent/log",
            bearer(credential),
            {"rows": rows[first : first + UPLOAD_BATCH]},
        )
        if answer.status != 200:
            raise SystemExit(f"ingest refused ({answer.status}): {answer.body[:500]!r}")
        accepted += json.loads(answer.body)["accepted"]
        times.append(answer.seconds)
    return accepted, times


def bench_ingest(
    port: int, picks: list[tuple[int, str]], clients: int, label: str
) -> dict[str, Any]:
    """Rows for the picked stations (built untimed), then uploaded by `clients` at once."""
    prepared = []
    for station_id, credential in picks:
        head = json.loads(call(port, "GET", "/api/v1/agent/log", bearer(credential)).body)
        if head["seq"] != 0 or head["row_hash"] != GENESIS_HASH:
            raise SystemExit(f"station {station_id} has log rows already")
        prepared.append((credential, chained_rows(station_id, head)))
    total = sum(len(rows) for _, rows in prepared)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = list(pool.map(lambda p: upload_station(port, *p), prepared))
    seconds = time.perf_counter() - t0
    batch_s = [t for _, times in done for t in times]
    return {
        "label": label,
        "clients": clients,
        "stations": len(prepared),
        "rows": total,
        "accepted": sum(a for a, _ in done),
        "batches": len(batch_s),
        "seconds": round(seconds, 2),
        "rows_per_s": round(total / seconds),
        "batch_p50_ms": ms(percentile(batch_s, 50)),
        "batch_p99_ms": ms(percentile(batch_s, 99)),
    }


def ingest_picks(
    station_ids: list[int], credentials: list[str], rows: int, skip: set[int]
) -> list[tuple[int, str]]:
    """Stations, in order, whose airings add up to at least `rows` rows."""
    counts = dict(
        db.session.execute(
            select(Airing.station_id, func.count()).group_by(Airing.station_id)
        ).all()
    )
    db.session.remove()
    picks, total = [], 0
    for i, station_id in enumerate(station_ids):
        if i in skip or total >= rows:
            continue
        picks.append((station_id, credentials[i]))
        skip.add(i)
        total += counts.get(station_id, 0)
    return picks


# --- 4. "phát ngay" through the broker to a real agent ------------------------------------------


def bench_air_now(
    servers: Servers, env: dict[str, str], port: int, seeded: Seeded, n: int
) -> dict[str, Any]:
    """A real agent on its station, woken by the broker; the call to the player's start."""
    workdir = servers.workdir
    starts = workdir / "player-starts.txt"
    player = workdir / "player.sh"
    player.write_text(PLAYER.format(starts=starts))
    player.chmod(0o755)
    state = workdir / "agent-state"
    agent_env = {**os.environ, "LOA_AGENT_LOG": "INFO"}
    agent_env.pop("LOA_CLOCK_FILE", None)
    output = json.dumps({"output": "local", "settings": {"player": str(player)}})
    server = f"http://127.0.0.1:{port}"
    agent_cli = [*PYTHON, "-m", "app.station_agent"]
    subprocess.run(
        [
            *agent_cli,
            *("enrol", "--server", server, "--code", seeded.air_code),
            *("--output", output, "--state", str(state)),
        ],
        cwd=ROOT,
        env=agent_env,
        check=True,
        capture_output=True,
    )
    mosquitto = start_mosquitto(servers, env, int(env["MQTT_URL"].rsplit(":", 1)[1]))
    # One sync (plan and audio) before the station is switched to its agent, as an admin would.
    subprocess.run(
        [*agent_cli, "run", "--once", "--state", str(state)],
        cwd=ROOT,
        env=agent_env,
        check=True,
        capture_output=True,
    )
    switch_to_agents(
        [db.session.scalar(select(Station.id).where(Station.code == seeded.air_station_code))]
    )
    agent = servers.start("agent", [*agent_cli, "run", "--state", str(state)], agent_env)
    wait_for("agent listening", lambda: "Listening for wakes" in servers.log("agent"), agent)
    wait_for("agent airing", lambda: "airing its plan" in servers.log("agent"), agent)
    time.sleep(3)  # the wake on subscribing and its sync are over
    path = f"/api/v1/stations/{seeded.air_station_code}/air-now"
    headers = bearer(seeded.operator_token)
    latencies, api_s = [], []
    rng = random.Random(5)
    for i in range(n):
        seen = len(starts.read_text().splitlines()) if starts.exists() else 0
        called = time.time()
        answer = call(port, "POST", path, headers, {"script": seeded.air_script_id, "note": f"{i}"})
        if answer.status != 201:
            raise SystemExit(f"air-now refused ({answer.status}): {answer.body[:500]!r}")
        api_s.append(answer.seconds)

        def started(seen=seen) -> float | None:
            lines = starts.read_text().splitlines() if starts.exists() else []
            return float(lines[seen].split()[0]) if len(lines) > seen else None

        latencies.append(wait_for("the player's start", started, agent, limit_s=30) - called)
        time.sleep(rng.uniform(2, 4))
    mosquitto_alive = mosquitto.poll() is None
    return {
        "trials": n,
        "p50_s": round(percentile(latencies, 50), 3),
        "p99_s": round(percentile(latencies, 99), 3),
        "max_s": round(max(latencies), 3),
        "min_s": round(min(latencies), 3),
        "api_p50_ms": ms(percentile(api_s, 50)),
        "api_p99_ms": ms(percentile(api_s, 99)),
        "latencies_s": [round(x, 3) for x in latencies],
        "broker_running": mosquitto_alive,
    }


# --- the run ------------------------------------------------------------------------------------


def run(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seed, serve, measure; every process stopped before returning."""
    app = build_app(url, workdir, CLOCK=SystemClock())
    rng = random.Random(args.seed)
    report: dict[str, Any] = {"load_before": load_average()}
    t0 = time.perf_counter()
    with app.app_context():
        seeded = seed(args.agents, args.schedules_per_station, rng)
        size = finish_database(url)
        server = db.session.scalar(text("SHOW server_version"))
        db.session.remove()
    report["seed"] = {
        "stations": len(seeded.station_ids) + 1,
        "schedules": seeded.n_schedules,
        "airings": seeded.n_airings,
        "seconds": round(time.perf_counter() - t0, 1),
        "phases": {k: round(v, 1) for k, v in seeded.seconds.items()},
        "database": size,
        "server_version": server,
    }
    print(f"seeded in {report['seed']['seconds']} s: {report['seed']}", flush=True)
    servers = Servers(workdir)
    port, mqtt_port = free_port(), free_port()
    env = server_env(url, workdir, mqtt_port)
    try:
        master = start_gunicorn(servers, env, port, args.workers)
        with app.app_context():
            # Each agent is seen once (its chain head, as a first sync asks), so that its
            # station may be switched to it; then each fetches the plan it will keep.
            first = each_agent(port, seeded.credentials, "/api/v1/agent/log")
            bad = [a.status for a in first if a.status != 200]
            if bad:
                raise SystemExit(f"first calls failed: {bad[:5]}")
            switch_to_agents(seeded.station_ids)
            t0 = time.perf_counter()
            fetched = each_agent(port, seeded.credentials, PLAN_PATH)
            if any(a.status != 200 for a in fetched):
                raise SystemExit("first plan fetches failed")
            report["first_fetch"] = {
                "seconds": round(time.perf_counter() - t0, 1),
                "p50_ms": ms(percentile([a.seconds for a in fetched], 50)),
                "bytes_median": int(statistics.median(len(a.body) for a in fetched)),
                "items_median": int(
                    statistics.median(len(json.loads(a.body)["items"]) for a in fetched)
                ),
            }
            etags = [a.headers["ETag"] for a in fetched]
            print(f"first fetches: {report['first_fetch']}; load {load_average()}", flush=True)
            report["loads"] = []
            for period in args.periods:
                figures = bench_syncs(port, seeded.credentials, etags, period, args, master.pid)
                report["loads"].append(figures)
                print(f"syncs every {period:.0f} s: {figures}", flush=True)
                time.sleep(5)
            report["syncs"] = report["loads"][0]
            busiest = busiest_station(seeded.station_ids)
            report["full_plan"] = bench_full_plan(port, seeded.credentials[busiest])
            print(f"full plan: {report['full_plan']}", flush=True)
            used = {busiest}
            one = ingest_picks(seeded.station_ids, seeded.credentials, args.ingest_rows, used)
            report["ingest_one"] = bench_ingest(port, one, 1, "one agent at a time")
            many = ingest_picks(seeded.station_ids, seeded.credentials, args.ingest_rows, used)
            report["ingest_many"] = bench_ingest(
                port, many, args.ingest_clients, f"{args.ingest_clients} agents at once"
            )
            print(f"ingest: {report['ingest_one']}\n        {report['ingest_many']}", flush=True)
            report["air_now"] = bench_air_now(servers, env, port, seeded, args.air_now)
            print(f"air now: {report['air_now']}", flush=True)
            report["load_after"] = load_average()
    finally:
        servers.stop_all()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    errors = [line for line in servers.log("gunicorn").splitlines() if "Traceback" in line]
    report["server_tracebacks"] = len(errors)
    return report


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(figure, target, measured, passed or None for information) for the table."""
    s, plan, air = report["syncs"], report["full_plan"], report["air_now"]
    one, many = report["ingest_one"], report["ingest_many"]
    rows: list[tuple[str, str, str, bool | None]] = []
    for k, load in enumerate(report["loads"]):
        unchanged = load["statuses"].get("sync 204", 0)
        served = load["syncs_per_s"] >= load["wanted_syncs_per_s"] * 0.97
        target = k == 0
        rows += [
            # A sync is what StationAgent.sync() does each time it finds the plan unchanged:
            # one POST sync carrying the health report and the ETag held, answered 204.
            (
                f"{load['agents']:,} agents every {load['period_s']:.0f} s: unchanged-plan sync "
                f"p99, health report + ETag answered 204 ({unchanged:,} syncs)",
                f"< {TARGET_SYNC_P99_MS:.0f} ms" if target else "",
                f"{load['sync_p99_ms']} ms (p50 {load['sync_p50_ms']}, p95 "
                f"{load['sync_p95_ms']}, max {load['sync_max_ms']})",
                load["sync_p99_ms"] < TARGET_SYNC_P99_MS and unchanged == load["syncs"]
                if target
                else None,
            ),
            (
                "  syncs/s asked for and served (one request each)",
                f">= {load['wanted_syncs_per_s']}/s" if target else "",
                f"offered {load['offered_syncs_per_s']}/s for {load['duration_s']} s, served "
                f"{load['syncs_per_s']}/s ({load['syncs']:,} syncs, {load['requests']:,} "
                f"requests, {load['n_errors']} errors; last answer {load['drain_s']} s after "
                "the last call)",
                served and load["n_errors"] == 0 if target else None,
            ),
            (
                "  CPU",
                "",
                f"gunicorn CPU {load['server_cpu_ms_per_sync']} ms a sync "
                f"({load['server_cpu_share']:.0%} of the machine), load generator "
                f"{load['client_cpu_share']:.0%}; "
                f"{load['workers_replaced']} workers replaced (max_requests)",
                None,
            ),
        ]
    s = report["syncs"]
    return [
        *rows,
        (
            f"full 7-day plan, {plan['station']} ({PLAN_FETCHES} fetches)",
            "",
            f"p50 {plan['p50_ms']} ms, p99 {plan['p99_ms']} ms; {plan['bytes']:,} bytes, "
            f"{plan['items']} airings, {plan['schedules']} schedules, "
            f"{plan['audio_files']} audio files",
            None,
        ),
        (
            f"log ingest, {many['label']} ({many['rows']:,} rows in {many['batches']} batches "
            f"of up to {UPLOAD_BATCH})",
            f">= {TARGET_INGEST_ROWS_S:,.0f} rows/s",
            f"{many['rows_per_s']:,} rows/s (batch p50 {many['batch_p50_ms']} ms, "
            f"p99 {many['batch_p99_ms']})",
            many["rows_per_s"] >= TARGET_INGEST_ROWS_S and many["accepted"] == many["rows"],
        ),
        # The server's ingest rate is the line above: agents upload at once. One agent's
        # batches follow each other, so its rate is bound by one batch's round trip; shown
        # for what a single station catching up after an outage sees, without a target.
        (
            f"log ingest, {one['label']} ({one['rows']:,} rows; one batch after another)",
            "",
            f"{one['rows_per_s']:,} rows/s (batch p50 {one['batch_p50_ms']} ms, "
            f"p99 {one['batch_p99_ms']})",
            None if one["accepted"] == one["rows"] else False,
        ),
        (
            f"“phát ngay”: API call → agent's output starts ({air['trials']} trials)",
            f"< {TARGET_AIR_NOW_P99_S:.0f} s",
            f"p99 {air['p99_s']} s (p50 {air['p50_s']}, min {air['min_s']}; "
            f"API answer p50 {air['api_p50_ms']} ms)",
            air["p99_s"] < TARGET_AIR_NOW_P99_S,
        ),
        (
            f"server memory under the load ({s['processes']} processes, RSS summed)",
            "",
            f"peak {s['rss_peak_mb']} MB (idle {s['rss_idle_mb']}, median "
            f"{s['rss_median_mb']}); PSS peak {s['pss_peak_mb']} MB",
            None,
        ),
    ]


def print_table(report: dict[str, Any]) -> bool:
    """Print the figures' table; True when every target holds."""
    rows = summary_rows(report)
    seed_ = report["seed"]
    print(
        f"\npostgresql {seed_['server_version']}: {seed_['stations']:,} stations, "
        f"{seed_['schedules']:,} schedules, {seed_['airings']:,} airings; seeding "
        f"{seed_['seconds']} s; database {seed_['database']}; load average "
        f"{report['load_before']} before, {report['load_after']} after"
    )
    markdown_table(
        ["figure", "target", "measured", "result"],
        [
            (name, target, got, "info" if ok is None else "PASS" if ok else "FAIL")
            for name, target, got, ok in rows
        ],
    )
    if report["server_tracebacks"]:
        print(f"\ngunicorn logged {report['server_tracebacks']} tracebacks")
    return all(ok for *_, ok in rows if ok is not None) and not report["server_tracebacks"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument(
        "--periods",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[30.0, 60.0],
        help="seconds between an agent's syncs, one load run each (the target is the first's)",
    )
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of syncing")
    parser.add_argument("--threads", type=int, default=64, help="client threads for the syncs")
    parser.add_argument("--schedules-per-station", type=int, default=12)
    parser.add_argument("--ingest-rows", type=int, default=10000, help="rows per ingest run")
    parser.add_argument("--ingest-clients", type=int, default=4)
    parser.add_argument("--air-now", type=int, default=20, help="“phát ngay” trials")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: its config's)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="created and dropped")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Create the database, run, print, drop the database."""
    args = parse_args(argv)
    if not MOSQUITTO.exists():
        raise SystemExit(f"{MOSQUITTO} not found: apt-get install mosquitto")
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine_info().items()))
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {load_average()}", flush=True)
    create_database(args.database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="loa-agents-") as tmp:
            report = run(args.database_url, args, Path(tmp))
    finally:
        drop_database(args.database_url)
    ok = print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
