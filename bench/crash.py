"""Crash safety: the real runner process killed with SIGKILL again and again, then two at once.

Usage:
    .venv/bin/python bench/crash.py [--stations 6] [--kills 20] [--minutes 18] [--grace 120]
                                    [--database-url URL] [--seed 11] [--json PATH]

Seeds a database with --stations commune stations and one approved script per station, and
saves, through the schedule service as an operator would, one schedule per station airing its
spot every minute over a window of --minutes starting two minutes from now (real schedules:
the runner's refresh expands them, as in production). Half the stations air on the simulate
output (waits the spot's 1 s), half on the folder output (each into its own folder).

Then it runs `flask scheduler run` (the command `make run` and the systemd unit start) as a
separate process on the real clock and kills it with SIGKILL --kills times:

- half of the kills land on an airing: the process is left to take the runner lock, then
  killed 1 s before a minute's airings (cued: claimed, waiting for the second) or 0.4 s after
  (playing);
- the other half land anywhere, 3-20 s after the start (often while it still waits for the
  dead holder's lock to go stale, 30 s).

Then two runners run at once for --pair-s (90 s); the lock holder is killed mid-airing and the
standby takes over; then one runner runs to the end of the window plus the grace, so that every
airing is either aired or logged by the sweep. Figures, per database:

- planned: the occurrences the rules give (minutes x stations), and the airings stored;
- aired (on time, late), duplicates (log rows beyond the first per airing, must be 0), lost
  (a planned occurrence with no log row at all, must be 0), logged missed/interrupted/failed
  with their reasons, files landed in the folders (one per folder airing aired).

Without --database-url the run uses a fresh SQLite file; TEST_DATABASE_URL, when set, is run as
well (a PostgreSQL database is wiped first, so its name must contain "bench" or "test"). Exit
status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.broadcast.models import BroadcastLog, LogStatus  # noqa: E402
from app.core.clock import LOCAL_TZ, SystemClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.org.models import StationKind  # noqa: E402
from app.org.service import StationInput, UnitInput, create_station, create_unit  # noqa: E402
from app.playout import runner  # noqa: E402
from app.playout.lock import RunnerLock  # noqa: E402
from app.schedules import service  # noqa: E402
from app.schedules.models import Airing  # noqa: E402
from app.schedules.recurrence import Recurrence  # noqa: E402
from bench.machine import (  # noqa: E402
    add_database_url,
    database_urls,
    machine_info,
    markdown_table,
)
from bench.plan import approved_script, build_app, load_average, make_users  # noqa: E402

SPOT_S = 1.0
PLAYED = (LogStatus.AIRED, LogStatus.AIRED_LATE)
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def seed(n_stations: int, start: datetime, minutes: int, workdir: Path) -> dict[str, Any]:
    """Stations, scripts and one every-minute schedule per station; the runner's config."""
    province = create_unit(
        None, UnitInput(code="BTH", name="Tỉnh Bình Thuận", level="Tỉnh", parent=None)
    )
    district = create_unit(
        None, UnitInput(code="PT", name="Thành phố Phan Thiết", level="Thành phố", parent=province)
    )
    users = make_users(district)
    local_start = start.astimezone(LOCAL_TZ)
    local_end = local_start + timedelta(minutes=minutes - 1)
    if local_end.date() != local_start.date():
        raise SystemExit("the window crosses midnight in Vietnam: run it a little later")
    stations, playout, folder_ids = [], {}, set()
    for i in range(n_stations):
        commune = create_unit(
            None, UnitInput(code=f"X{i:02d}", name=f"Xã {i}", level="Xã", parent=district)
        )
        station = create_station(
            None,
            StationInput(
                code=f"X{i:02d}-LOA",
                name=f"Đài truyền thanh xã {i}",
                kind=StationKind.COMMUNE_LOUDSPEAKER,
                unit=commune,
            ),
        )
        if i % 2:
            folder = workdir / "folders" / station.code
            folder.mkdir(parents=True)
            playout[station.code] = {"output": "folder", "settings": {"path": str(folder)}}
            folder_ids.add(station.id)
        else:
            playout[station.code] = {"output": "simulate", "settings": {}}
        script = approved_script(
            users["writer"],
            users["supervisor"],
            district,
            f"Thông báo số {i + 1}",
            f"Thông báo số {i + 1} của xã về tiêm chủng.",
            SPOT_S,
            valid_from=None,
            valid_until=local_start.date() + timedelta(days=30),
        )
        rule = Recurrence(
            kind="every",
            every_minutes=1,
            window_start=local_start.time().replace(second=0, microsecond=0),
            window_end=local_end.time().replace(second=0, microsecond=0),
            start_date=local_start.date(),
            end_date=local_start.date(),
        )
        data = service.ScheduleInput(
            script=script, recurrence=rule, stations=[station], confirm_warnings=True
        )
        service.create_schedule(users["operator"], data)
        stations.append(station.id)
    expected = {(sid, start + timedelta(minutes=m)) for sid in stations for m in range(minutes)}
    return {
        "stations": stations,
        "playout": playout,
        "folder_ids": folder_ids,
        "expected": expected,
    }


class Runners:
    """The runner processes of one run: started, killed with SIGKILL, or stopped."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.started = 0
        self.kills: Counter[str] = Counter()

    def start(self) -> str:
        """Start one `flask scheduler run` process; return its host name."""
        self.started += 1
        host = f"crash-{self.started:02d}"
        log = (self.workdir / f"{host}.log").open("wb")
        self.procs[host] = subprocess.Popen(
            [*FLASK, "scheduler", "run", "--host", host, "--poll", "1"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return host

    def kill(self, host: str, what: str) -> None:
        """SIGKILL one runner, as a power cut or the OOM killer would."""
        proc = self.procs.pop(host)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.kills[what] += 1

    def stop_all(self) -> None:
        """Stop the rest cleanly (SIGTERM), as systemd would."""
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def holder(app) -> str | None:
    """The host holding the runner lock now, if its heartbeat is fresh."""
    with app.app_context():
        lock = db.session.get(RunnerLock, runner.LOCK_NAME)
        fresh = lock is not None and lock.heartbeat_at is not None
        if fresh:
            beat = lock.heartbeat_at
            beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)
            fresh = (datetime.now(UTC) - beat).total_seconds() < runner.STALE_S
        name = lock.holder if fresh else None
        db.session.remove()
        return name


def wait_until(moment: datetime) -> None:
    """Sleep until a wall-clock moment (the runner under test runs on the real clock)."""
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def next_airing(offset_s: float, start: datetime) -> datetime:
    """The next minute's airings (at the window's second) plus an offset, at least 3 s away."""
    now = datetime.now(UTC)
    at = max(start, now.replace(second=start.second, microsecond=0))
    while at + timedelta(seconds=offset_s) < now + timedelta(seconds=3):
        at += timedelta(minutes=1)
    return at + timedelta(seconds=offset_s)


def wait_for_holder(app, hosts: set[str], limit_s: float = 60) -> str | None:
    """Wait until one of these runners holds the lock; its name, or None after limit_s."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        name = holder(app)
        if name in hosts:
            return name
        time.sleep(0.5)
    return None


def crash_cycles(app, runners: Runners, n: int, start: datetime, rng: random.Random) -> None:
    """n cycles of start, run a while, SIGKILL; half of them on an airing."""
    for i in range(n):
        host = runners.start()
        if i % 2 == 0:
            if wait_for_holder(app, {host}) is None:
                runners.kill(host, "standby (lock not taken in 60 s)")
            else:
                offset = rng.choice((-1.0, 0.4))
                wait_until(next_airing(offset, start))
                runners.kill(host, "cued, 1 s before due" if offset < 0 else "playing")
        else:
            time.sleep(rng.uniform(3, 20))
            runners.kill(host, "anywhere, 3-20 s after start")
        time.sleep(rng.uniform(0, 2))
        print(f"  kill {i + 1}/{n} ({dict(runners.kills)}), load {load_average()}", flush=True)


def two_at_once(app, runners: Runners, start: datetime, seconds: float) -> None:
    """Two runners for a while; the holder killed while playing; the standby takes over."""
    hosts = {runners.start(), runners.start()}
    time.sleep(seconds)
    active = wait_for_holder(app, hosts)
    if active is not None:
        wait_until(next_airing(0.4, start))
        runners.kill(active, "two at once: the holder, playing")
        print("  two at once: holder killed, the standby takes over", flush=True)
    time.sleep(45)


def measure(app, seeded: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Read the log back against the rules' occurrences."""
    with app.app_context():
        airings = db.session.execute(
            select(Airing.airing_key, Airing.station_id, Airing.planned_at)
        ).all()
        rows = db.session.execute(
            select(BroadcastLog.airing_key, BroadcastLog.status, BroadcastLog.reason).where(
                BroadcastLog.corrects_id.is_(None)
            )
        ).all()
        db.session.remove()
    by_key = Counter(key for key, _, _ in rows)
    logged = {key for key, _, _ in rows}
    keys_of = {(sid, p if p.tzinfo else p.replace(tzinfo=UTC)): k for k, sid, p in airings}
    lost = [occ for occ in seeded["expected"] if keys_of.get(occ) not in logged]
    statuses = Counter(status.value for _, status, _ in rows)
    reasons = Counter(
        f"{status.value}: {reason}" for _, status, reason in rows if status not in PLAYED
    )
    files = sum(1 for _ in (workdir / "folders").rglob("*.wav"))
    folder_keys = {k for (sid, _), k in keys_of.items() if sid in seeded["folder_ids"]}
    folder_aired = sum(1 for key, status, _ in rows if status in PLAYED and key in folder_keys)
    return {
        "planned": len(seeded["expected"]),
        "airings stored": len(airings),
        "log rows": len(rows),
        "aired": statuses["aired"],
        "aired late": statuses["aired_late"],
        "duplicates": sum(n - 1 for n in by_key.values() if n > 1),
        "lost": len(lost),
        "logged not aired": sum(reasons.values()),
        "reasons": dict(reasons),
        "files landed": files,
        "folder airings aired": folder_aired,
    }


def run(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seed one database, crash its runners, measure."""
    backend = make_url(url).get_backend_name()
    print(f"\n== {backend}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    app = build_app(url, workdir, CLOCK=SystemClock())
    start = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    with app.app_context():
        seeded = seed(args.stations, start, args.minutes, workdir)
        server = db.session.scalar(text("SHOW server_version")) if backend == "postgresql" else ""
        db.session.remove()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret",
        "AUDIO_DIR": str(workdir / "audio"),
        "SCRIPTS_DIR": str(workdir / "scripts_vi"),
        "SCHEDULES_DIR": str(workdir / "schedules"),
        "PLAYOUT_GRACE_S": str(args.grace),
        "PLAYOUT_STATIONS": json.dumps(seeded["playout"]),
    }
    env.pop("LOA_CLOCK_FILE", None)
    end = start + timedelta(minutes=args.minutes)
    print(
        f"{args.stations} stations, a spot every minute from {start.astimezone(LOCAL_TZ):%H:%M} "
        f"to {(end - timedelta(minutes=1)).astimezone(LOCAL_TZ):%H:%M} (Vietnam), "
        f"{len(seeded['expected'])} occurrences; {args.kills} kills",
        flush=True,
    )
    runners = Runners(env, workdir)
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    try:
        crash_cycles(app, runners, args.kills, start, rng)
        two_at_once(app, runners, start, args.pair_s)
        if datetime.now(UTC) < end - timedelta(minutes=1):
            print("  warning: the kills outlasted the window; use more --minutes", flush=True)
        runners.start()
        # Every airing aired, or past its grace and the abandoned claims' grace: the sweep
        # has logged it.
        wait_until(end + timedelta(seconds=args.grace + SPOT_S + runner.STALE_S + 15))
    finally:
        runners.stop_all()
    figures = measure(app, seeded, workdir)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {
        "backend": backend,
        "server_version": server,
        "kills": sum(runners.kills.values()),
        "kills by moment": dict(runners.kills),
        "runner processes": runners.started,
        "seconds": round(time.monotonic() - t0),
        **figures,
    }


def print_table(report: dict[str, Any]) -> bool:
    """Print one database's figures and its PASS/FAIL rows; True when both targets hold."""
    print(f"\n### {report['backend']} {report['server_version']}".rstrip())
    keys = [
        "planned",
        "airings stored",
        "log rows",
        "aired",
        "aired late",
        "duplicates",
        "lost",
        "logged not aired",
        "files landed",
        "folder airings aired",
        "kills",
        "runner processes",
        "seconds",
    ]
    markdown_table(["figure", "value"], [(k, str(report[k])) for k in keys])
    moments = report["kills by moment"].items()
    print("\nkills by moment: " + ", ".join(f"{k}: {v}" for k, v in moments))
    print("logged, not aired, by reason:")
    for reason, n in sorted(report["reasons"].items()) or [("none", 0)]:
        print(f"- {reason}: {n}")
    checks = [
        ("duplicates", "0", report["duplicates"], report["duplicates"] == 0),
        ("lost", "0", report["lost"], report["lost"] == 0),
        ("kills", ">= 20", report["kills"], report["kills"] >= 20),
        (
            "files landed",
            f"= folder airings aired ({report['folder airings aired']})",
            report["files landed"],
            report["files landed"] == report["folder airings aired"],
        ),
    ]
    print()
    markdown_table(
        ["target", "wanted", "got", "result"],
        [(name, want, str(got), "PASS" if ok else "FAIL") for name, want, got, ok in checks],
    )
    return all(ok for *_, ok in checks)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stations", type=int, default=6)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--minutes", type=int, default=18, help="length of the airing window")
    parser.add_argument("--grace", type=float, default=120.0, help="PLAYOUT_GRACE_S, seconds")
    parser.add_argument("--pair-s", type=float, default=90.0, help="seconds of two runners")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    add_database_url(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run on every database asked for and print the tables."""
    args = parse_args(argv)
    urls = database_urls(args)
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine_info().items()))
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {load_average()}")
    reports, ok = [], True
    for url in urls:
        with tempfile.TemporaryDirectory(prefix="loa-crash-") as tmp:
            workdir = Path(tmp)
            report = run(url or f"sqlite:///{workdir / 'crash.db'}", args, workdir)
        reports.append(report)
        ok = print_table(report) and ok
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
