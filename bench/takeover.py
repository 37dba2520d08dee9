"""Active/standby takeover: how long the station loudspeakers wait when the active runner goes.

Usage:
    .venv/bin/python bench/takeover.py [--stations 4] [--rounds 3] [--grace 60]
                                       [--database-url URL] [--json PATH]

Two `flask scheduler run --poll 1` processes (the runner's systemd unit, one per host in
production) share one database: one holds the runner lock and airs, the other stands by.
Seeded as in bench/crash.py (half the stations on the folder output, half on simulate, a spot
every minute, real schedules). Then, --rounds times each, the active runner is

- stopped with SIGTERM, as `systemctl stop` or a reboot does (it releases the lock on its way
  out), and
- killed with SIGKILL, as a power cut or the OOM killer does (its heartbeat must go stale,
  runner.STALE_S),

always 15 s after a minute's airings, and a fresh standby is started after each takeover.
Takeover is the time from the signal to the standby holding the lock, read from the lock row
every 0.1 s. Then one runner runs to the window's end plus the grace and the log is checked:
every airing aired (late if it fell in a gap) or logged, none twice.

Without --database-url the run uses a fresh SQLite file; TEST_DATABASE_URL, when set, is run as
well. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.core.clock import LOCAL_TZ, SystemClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.playout import runner  # noqa: E402
from bench.crash import (  # noqa: E402
    SPOT_S,
    Runners,
    holder,
    measure,
    next_airing,
    seed,
    wait_until,
)
from bench.machine import (  # noqa: E402
    add_database_url,
    database_urls,
    machine_info,
    markdown_table,
)
from bench.plan import build_app, load_average  # noqa: E402

POLL_S = 1.0
# Targets: a stopped runner hands over within two polls; a dead one within the stale time
# plus two polls.
SIGTERM_TARGET_S = 2 * POLL_S + 1.0
SIGKILL_TARGET_S = runner.STALE_S + 2 * POLL_S + 1.0


def wait_for(app, host: str, limit_s: float) -> float | None:
    """Seconds until host holds the lock (polled every 0.1 s), or None after limit_s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if holder(app) == host:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def takeovers(app, runners: Runners, start: datetime, rounds: int) -> dict[str, list[float]]:
    """Stop or kill the active runner `rounds` times each; seconds to the standby's lock."""
    active = runners.start()
    if wait_for(app, active, 60) is None:
        raise SystemExit(f"{active} did not take the runner lock in 60 s")
    standby = runners.start()
    times: dict[str, list[float]] = {"SIGTERM": [], "SIGKILL": []}
    for i in range(2 * rounds):
        how = "SIGTERM" if i % 2 == 0 else "SIGKILL"
        time.sleep(3)  # the standby is up and polling
        wait_until(next_airing(15.0, start))
        proc = runners.procs.pop(active)
        proc.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL)
        elapsed = wait_for(app, standby, SIGKILL_TARGET_S + 30)
        proc.wait(timeout=30)
        runners.kills[how] += 1
        if elapsed is None:
            raise SystemExit(f"{standby} did not take over within {SIGKILL_TARGET_S + 30} s")
        times[how].append(elapsed)
        print(f"  {how} {len(times[how])}: taken over in {elapsed:.1f} s", flush=True)
        active, standby = standby, runners.start()
    return times


def run(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seed one database, stop and kill its active runner, measure."""
    backend = make_url(url).get_backend_name()
    print(f"\n== {backend}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    app = build_app(url, workdir, CLOCK=SystemClock())
    start = (datetime.now(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    # Each round lasts about a minute (SIGKILL: the stale time, then the next minute's mark).
    minutes = 2 * args.rounds + 4
    with app.app_context():
        seeded = seed(args.stations, start, minutes, workdir)
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
    end = start + timedelta(minutes=minutes)
    print(
        f"{args.stations} stations, a spot every minute from {start.astimezone(LOCAL_TZ):%H:%M} "
        f"to {(end - timedelta(minutes=1)).astimezone(LOCAL_TZ):%H:%M} (Vietnam); "
        f"{args.rounds} SIGTERM and {args.rounds} SIGKILL takeovers",
        flush=True,
    )
    runners = Runners(env, workdir)
    t0 = time.monotonic()
    try:
        times = takeovers(app, runners, start, args.rounds)
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
        "takeover SIGTERM s": [round(t, 2) for t in times["SIGTERM"]],
        "takeover SIGKILL s": [round(t, 2) for t in times["SIGKILL"]],
        "runner processes": runners.started,
        "seconds": round(time.monotonic() - t0),
        **figures,
    }


def _span(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s"


def print_table(report: dict[str, Any]) -> bool:
    """Print one database's figures and its PASS/FAIL rows; True when every target holds."""
    print(f"\n### {report['backend']} {report['server_version']}".rstrip())
    term, kill = report["takeover SIGTERM s"], report["takeover SIGKILL s"]
    rows = [
        ("takeover after SIGTERM", _span(term)),
        ("takeover after SIGKILL", _span(kill)),
        *(
            (k, str(report[k]))
            for k in (
                "planned",
                "log rows",
                "aired",
                "aired late",
                "duplicates",
                "lost",
                "logged not aired",
                "files landed",
                "folder airings aired",
                "runner processes",
                "seconds",
            )
        ),
    ]
    markdown_table(["figure", "value"], rows)
    print("logged, not aired, by reason:")
    for reason, n in sorted(report["reasons"].items()) or [("none", 0)]:
        print(f"- {reason}: {n}")
    checks = [
        (
            "takeover after SIGTERM",
            f"< {SIGTERM_TARGET_S:.0f} s",
            max(term),
            max(term) < SIGTERM_TARGET_S,
        ),
        (
            "takeover after SIGKILL",
            f"< {SIGKILL_TARGET_S:.0f} s",
            max(kill),
            max(kill) < SIGKILL_TARGET_S,
        ),
        ("duplicates", "0", report["duplicates"], report["duplicates"] == 0),
        ("lost", "0", report["lost"], report["lost"] == 0),
        ("logged not aired", "0", report["logged not aired"], report["logged not aired"] == 0),
    ]
    print()
    markdown_table(
        ["target", "wanted", "got", "result"],
        [
            (
                name,
                want,
                f"{got:.1f}" if isinstance(got, float) else str(got),
                "PASS" if ok else "FAIL",
            )
            for name, want, got, ok in checks
        ],
    )
    return all(ok for *_, ok in checks)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="takeovers per signal")
    parser.add_argument("--grace", type=float, default=60.0, help="PLAYOUT_GRACE_S, seconds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    add_database_url(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run on every database asked for and print the tables."""
    args = parse_args(argv)
    urls = database_urls(args)
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine_info().items()))
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {load_average()}")
    ok = True
    reports = []
    for url in urls:
        with tempfile.TemporaryDirectory(prefix="loa-takeover-") as tmp:
            workdir = Path(tmp)
            report = run(url or f"sqlite:///{workdir / 'takeover.db'}", args, workdir)
        reports.append(report)
        ok = print_table(report) and ok
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
