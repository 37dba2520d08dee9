"""Playout runner benchmark: 300 airings due within 60 s on 50 stations, on the real clock.

Usage:
    .venv/bin/python bench/runner.py [--stations 50] [--airings 300] [--window 60] [--lead 10]
                                     [--pattern spread|aligned ...] [--database-url URL]
                                     [--json PATH]

Seeds a real database with --stations commune stations, approved scripts whose approved render
is a real short WAV on disk, and --airings planned airing rows (as refresh_airings() writes them:
schedule, station, key, script, version, render, priority, duration) due from --lead seconds after
the start over --window seconds, then runs the real runner loop, runner.run_forever() (what
`flask scheduler run` runs: runner lock, daily refresh, sweep of misses, APScheduler date jobs
reconciled every poll, air() in the scheduler's worker threads), in a thread on the real clock
(SystemClock) with the simulate output, which waits each airing's duration in real time. It stops
the loop once every airing has a broadcast log row (or after --window + 60 s more), then reads the
log back:

- start lag: BroadcastLog.started_at - planned_at of each played airing (planned_at is the
  airing's sequenced_at, the time it was due); p50, p95, p99 and max. Target: p99 < 200 ms.
- duplicates: log rows beyond the first per airing key, and airings with more than one row
  (must be 0).
- missed: airings without a row when the loop was stopped, plus rows logged missed (must be 0);
  failed, partial and interrupted rows are counted too.

The schedules the rows name are marked deleted, out of refresh_all_airings()'s reach (as in
tests/playout/test_runner.py), so the loop's daily refresh leaves the rows as seeded. Airing
durations are 0.5-2 s (uniform), so a station's airings never overlap. Patterns (both by default):

- spread: the airings evenly spaced over the window (one every 0.2 s by default), stations
  taken in turn, so each station airs every 10 s: the target's scenario.
- aligned: the same airings and durations, but every station's airings due at the same instants
  (every 10 s), as when the sessions of many communes open at the same minute. Informational: it
  shows how the runner copes with as many airings due at once as there are stations.

Without --database-url the run uses a fresh SQLite file in a temporary folder; TEST_DATABASE_URL,
when set, is benchmarked as well (a PostgreSQL database is wiped first, so its name must contain
"bench" or "test"). The exit status is 1 when a target is missed, as in bench/web.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.broadcast.models import BroadcastLog, LogStatus  # noqa: E402
from app.core.clock import SystemClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.org.models import StationKind  # noqa: E402
from app.org.service import StationInput, UnitInput, create_station, create_unit  # noqa: E402
from app.playout import runner  # noqa: E402
from app.schedules import service  # noqa: E402
from app.schedules.models import Airing, AiringStatus, Schedule, ScheduleStatus  # noqa: E402
from bench.machine import add_database_url, markdown_table  # noqa: E402
from bench.plan import (  # noqa: E402
    approved_script,
    build_app,
    load_average,
    make_users,
    percentile,
    script_text,
)
from bench.web import (  # noqa: E402
    COMMUNE_STEMS,
    DISTRICTS,
    check_target,
    machine_info,
)

TARGET_P99_MS = 200.0
HOST = "bench-runner"
POLL_S = 1.0
N_SCRIPTS = 10
MIN_DURATION_S, MAX_DURATION_S = 0.5, 2.0
PATTERNS = ("spread", "aligned")
PLAYED = (LogStatus.AIRED, LogStatus.AIRED_LATE)
PROBLEMS = (LogStatus.FAILED, LogStatus.PARTIAL, LogStatus.INTERRUPTED)


class LogCounter(logging.Handler):
    """Counts warnings and errors of the runner and APScheduler, keeping the first few."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record by logger and level."""
        self.counts[f"{record.name} {record.levelname}"] += 1
        if len(self.first) < 5:
            self.first.append(f"{record.name}: {record.getMessage()[:200]}")


@dataclass
class Seeded:
    """The ids the run needs: stations, and schedules with what they air."""

    station_ids: list[int]
    schedules: list[dict[str, Any]]


def seed(n_stations: int, rng: random.Random) -> Seeded:
    """Units, stations, users, approved scripts, and a deleted schedule per script."""
    province = create_unit(
        None, UnitInput(code="BTH", name="Tỉnh Bình Thuận", level="Tỉnh", parent=None)
    )
    users = make_users(province)
    districts = [
        create_unit(None, UnitInput(code=code, name=name, level=level, parent=province))
        for code, name, level in DISTRICTS[: max(1, min(len(DISTRICTS), n_stations // 10))]
    ]
    station_ids = []
    for i in range(n_stations):
        district = districts[i % len(districts)]
        n = i // len(districts) + 1
        stem = COMMUNE_STEMS[i % len(COMMUNE_STEMS)]
        commune = create_unit(
            None,
            UnitInput(
                code=f"{district.code}-X{n:02d}", name=f"Xã {stem} {n}", level="Xã", parent=district
            ),
        )
        station = create_station(
            None,
            StationInput(
                code=f"{commune.code}-LOA",
                name=f"Đài truyền thanh xã {stem} {n}",
                kind=StationKind.COMMUNE_LOUDSPEAKER,
                unit=commune,
            ),
        )
        station_ids.append(station.id)
    now = datetime.now(UTC)
    schedules = []
    for i in range(N_SCRIPTS):
        district = districts[i % len(districts)]
        title, body, priority = script_text(rng, district.name)
        script = approved_script(
            users["writer"],
            users["supervisor"],
            district,
            title,
            body,
            1.0,
            priority,
            valid_from=None,
            valid_until=now.date() + timedelta(days=30),
        )
        schedule = Schedule(
            unit_id=district.id,
            script_id=script.id,
            version_id=script.approved_version_id,
            render_id=script.approved_render_id,
            priority=script.priority,
            kind="times",
            rrule="",
            start_date=now.date(),
            end_date=now.date(),
            gap_seconds=5.0,
            # Out of refresh_all_airings()'s reach, so the loop leaves the seeded rows alone.
            status=ScheduleStatus.DELETED,
            created_by_id=users["operator"].id,
            created_at=now,
            updated_at=now,
        )
        db.session.add(schedule)
        db.session.commit()
        schedules.append(
            {
                "id": schedule.id,
                "script_id": script.id,
                "version_id": script.approved_version_id,
                "render_id": script.approved_render_id,
                "priority": script.priority,
            }
        )
    return Seeded(station_ids, schedules)


def due_times(pattern: str, n: int, n_stations: int, window_s: float) -> list[tuple[int, float]]:
    """(station index, seconds after the first airing) of each airing."""
    per_station = max(1, n // n_stations)
    step = window_s / per_station  # one station's airings are this far apart
    if pattern == "spread":
        return [(i % n_stations, i * window_s / n) for i in range(n)]
    return [(i % n_stations, (i // n_stations) * step) for i in range(n)]


def insert_airings(
    data: Seeded, pattern: str, args: argparse.Namespace, rng: random.Random
) -> tuple[datetime, list[str]]:
    """The planned airing rows, due from now + lead; returns the first due time and the keys."""
    first = datetime.now(UTC) + timedelta(seconds=args.lead)
    created = datetime.now(UTC)
    rows = []
    due = due_times(pattern, args.airings, len(data.station_ids), args.window)
    for i, (k, offset) in enumerate(due):
        schedule = data.schedules[i % len(data.schedules)]
        station_id = data.station_ids[k]
        when = first + timedelta(seconds=offset)
        rows.append(
            {
                "schedule_id": schedule["id"],
                "station_id": station_id,
                "planned_at": when,
                "sequenced_at": when,
                "session_name": "",
                "duration_s": round(rng.uniform(MIN_DURATION_S, MAX_DURATION_S), 3),
                "priority": schedule["priority"],
                "script_id": schedule["script_id"],
                "version_id": schedule["version_id"],
                "render_id": schedule["render_id"],
                "airing_key": service.airing_key(schedule["id"], station_id, when),
                "status": AiringStatus.PLANNED,
                "note": "",
                "created_at": created,
            }
        )
    keys = [r["airing_key"] for r in rows]
    assert len(set(keys)) == len(keys), "airing keys collide; lower --airings or widen --window"
    with db.engine.begin() as conn:
        conn.execute(insert(Airing.__table__), rows)
    return first, keys


def logged_count(keys: list[str]) -> int:
    """How many of the airings have at least one log row."""
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(func.distinct(BroadcastLog.airing_key))).where(
            BroadcastLog.airing_key.in_(keys)
        )
    )


def run_pattern(app, pattern: str, data: Seeded, args: argparse.Namespace) -> dict[str, Any]:
    """Seed the pattern's airings, run the loop until all are logged, and measure the log."""
    rng = random.Random(args.seed + PATTERNS.index(pattern))
    with app.app_context():
        first, keys = insert_airings(data, pattern, args, rng)
    watcher = LogCounter()
    loggers = [logging.getLogger(name) for name in ("app.playout.runner", "apscheduler")]
    for logger in loggers:
        logger.addHandler(watcher)
    stop = threading.Event()
    loop = threading.Thread(
        target=runner.run_forever,
        args=(app, HOST, SystemClock()),
        kwargs={"grace_s": runner.GRACE_S, "poll_s": POLL_S, "stop": stop},
        name="runner",
        daemon=True,
    )
    started = time.monotonic()
    loop.start()
    deadline = datetime.now(UTC) + timedelta(seconds=args.lead + args.window + 60)
    done = 0
    try:
        with app.app_context():
            while datetime.now(UTC) < deadline:
                done = logged_count(keys)
                if done == len(keys):
                    break
                time.sleep(0.5)
            time.sleep(2.0)  # give a duplicate, if any, the time to show up
    finally:
        stop.set()
        loop.join(timeout=60)
        for logger in loggers:
            logger.removeHandler(watcher)
    wall = time.monotonic() - started
    with app.app_context():
        db.session.expire_all()
        rows = db.session.scalars(
            select(BroadcastLog).where(BroadcastLog.airing_key.in_(keys)).order_by(BroadcastLog.id)
        ).all()
        airings = {
            a.airing_key: a
            for a in db.session.scalars(select(Airing).where(Airing.airing_key.in_(keys)))
        }
        result = measure(keys, rows, airings)
        # The next pattern's rows must not meet these in the runner's queries.
        db.session.execute(
            Airing.__table__.update()
            .where(Airing.airing_key.in_(keys), Airing.status == AiringStatus.PLANNED)
            .values(status=AiringStatus.CANCELLED)
        )
        db.session.commit()
        db.session.remove()
    result |= {
        "pattern": pattern,
        "first_due": first.isoformat(),
        "loop_alive_after_stop": loop.is_alive(),
        "wall_s": round(wall, 1),
        "log_warnings": dict(watcher.counts),
        "first_warnings": watcher.first,
    }
    print_pattern(result)
    return result


def measure(keys: list[str], rows: list[BroadcastLog], airings: dict[str, Airing]) -> dict:
    """Lag, duplicates, misses and failures from the log rows of the airings."""
    per_key = Counter(r.airing_key for r in rows)
    first_rows: dict[str, BroadcastLog] = {}
    for row in rows:
        first_rows.setdefault(row.airing_key, row)
    played_twice = sum(
        1
        for key, n in per_key.items()
        if n > 1 and sum(1 for r in rows if r.airing_key == key and r.status in PLAYED) > 1
    )
    lags = []
    mismatched = 0
    for key, row in first_rows.items():
        if row.planned_at != airings[key].sequenced_at:
            mismatched += 1
        if row.status in PLAYED and row.started_at is not None:
            lags.append((row.started_at - row.planned_at).total_seconds() * 1000)
    statuses = Counter(r.status.value for r in first_rows.values())
    unlogged = len(keys) - len(first_rows)
    missed = unlogged + statuses.get(LogStatus.MISSED.value, 0)
    failed = sum(statuses.get(s.value, 0) for s in PROBLEMS)
    airing_statuses = Counter(a.status.value for a in airings.values())
    lag = {}
    if lags:
        lag = {
            "p50_ms": round(statistics.median(lags), 1),
            "p95_ms": round(percentile(lags, 95), 1),
            "p99_ms": round(percentile(lags, 99), 1),
            "max_ms": round(max(lags), 1),
            "min_ms": round(min(lags), 1),
        }
    return {
        "airings": len(keys),
        "rows": len(rows),
        "played": len(lags),
        "lag": lag,
        "duplicate_rows": len(rows) - len(first_rows),
        "airings_with_several_rows": sum(1 for n in per_key.values() if n > 1),
        "airings_played_twice": played_twice,
        "unlogged": unlogged,
        "missed": missed,
        "failed": failed,
        "log_statuses": dict(statuses),
        "airing_statuses": dict(airing_statuses),
        "planned_at_mismatches": mismatched,
    }


def print_pattern(r: dict[str, Any]) -> None:
    """The figures of one pattern, as they come."""
    lag = r["lag"]
    lag_text = (
        f"lag p50 {lag['p50_ms']:.1f} ms, p95 {lag['p95_ms']:.1f}, p99 {lag['p99_ms']:.1f}, "
        f"max {lag['max_ms']:.1f} (min {lag['min_ms']:.1f})"
        if lag
        else "no airing played"
    )
    print(
        f"{r['pattern']}: {r['rows']} log rows for {r['airings']} airings in {r['wall_s']} s; "
        f"{lag_text}; duplicates {r['duplicate_rows']} rows / {r['airings_played_twice']} "
        f"played twice; missed {r['missed']} ({r['unlogged']} without a row), failed "
        f"{r['failed']}; log {r['log_statuses']}; airings {r['airing_statuses']}",
        flush=True,
    )
    if r["planned_at_mismatches"]:
        print(f"  {r['planned_at_mismatches']} rows whose planned_at is not the airing's time")
    if r["log_warnings"]:
        print(f"  runner/APScheduler warnings: {r['log_warnings']}")
        for line in r["first_warnings"]:
            print(f"    {line}")
    if r["loop_alive_after_stop"]:
        print("  the runner loop did not stop within 60 s")


def run(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seed one database and run every pattern on it."""
    backend = make_url(url).get_backend_name()
    print(f"\n== {backend}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    app = build_app(
        url,
        workdir,
        CLOCK=SystemClock(),
        PLAYOUT_OUTPUT="simulate",
        PLAYOUT_SETTINGS={},
        PLAYOUT_STATIONS={},
    )
    with app.app_context():
        t0 = time.perf_counter()
        data = seed(args.stations, random.Random(args.seed))
        seeding_s = time.perf_counter() - t0
        server = db.session.scalar(text("SHOW server_version")) if backend == "postgresql" else ""
        db.session.remove()
    print(
        f"seeded {len(data.station_ids)} stations, {len(data.schedules)} approved scripts in "
        f"{seeding_s:.1f} s; {args.airings} airings per pattern, due from {args.lead:g} s after "
        f"the start over {args.window:g} s, {MIN_DURATION_S:g}-{MAX_DURATION_S:g} s long",
        flush=True,
    )
    results = [run_pattern(app, pattern, data, args) for pattern in args.pattern]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {
        "backend": backend,
        "server_version": server,
        "stations": len(data.station_ids),
        "patterns": results,
    }


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(figure, target, measured, passed) rows; passed None for an informational figure."""
    rows: list[tuple[str, str, str, bool | None]] = []
    for r in report["patterns"]:
        name = r["pattern"]
        lag = r["lag"]
        measured = (
            f"{lag['p99_ms']:.1f} ms (p50 {lag['p50_ms']:.1f}, p95 {lag['p95_ms']:.1f}, "
            f"max {lag['max_ms']:.1f})"
            if lag
            else "nothing played"
        )
        ok = bool(lag) and lag["p99_ms"] < TARGET_P99_MS
        rows += [
            (
                f"{name}: start lag p99 ({r['played']} played)",
                f"< {TARGET_P99_MS:g} ms",
                measured,
                ok if name == "spread" else None,
            ),
            (
                f"{name}: duplicates",
                "0",
                f"{r['duplicate_rows']} rows ({r['airings_played_twice']} airings played twice)",
                r["duplicate_rows"] == 0 and r["airings_played_twice"] == 0,
            ),
            (
                f"{name}: missed",
                "0",
                f"{r['missed']} ({r['failed']} failed)",
                r["missed"] == 0 and r["failed"] == 0,
            ),
        ]
    return rows


def print_table(report: dict[str, Any]) -> None:
    """Print one database's figures against the targets as a Markdown table."""
    server = f" {report['server_version']}" if report["server_version"] else ""
    patterns = report["patterns"]
    print(
        f"\n{report['backend']}{server}: {report['stations']} stations, "
        f"{patterns[0]['airings'] if patterns else 0} airings per pattern"
    )
    header = ("figure", "target", "measured", "result")
    cells = [
        (name, target, measured, "info" if ok is None else "PASS" if ok else "FAIL")
        for name, target, measured, ok in summary_rows(report)
    ]
    markdown_table(header, cells)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--airings", type=int, default=300)
    parser.add_argument("--window", type=float, default=60.0, help="seconds the airings span")
    parser.add_argument("--lead", type=float, default=10.0, help="seconds before the first")
    parser.add_argument(
        "--pattern", action="append", choices=PATTERNS, help="repeatable; default: both"
    )
    add_database_url(parser)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    args.pattern = args.pattern or list(PATTERNS)
    if args.stations < 1 or args.airings < args.stations or args.window <= 0 or args.lead < 2:
        parser.error("need a station, at least one airing per station, a window and a lead ≥ 2 s")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on every requested database and print the figures."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="loa-bench-runner-"))
    urls = args.database_url or [f"sqlite:///{workdir / 'bench.sqlite3'}"]
    if not args.database_url and os.environ.get("TEST_DATABASE_URL"):
        urls.append(os.environ["TEST_DATABASE_URL"])
    info = machine_info() | {"load": f"{load_average()} (1, 5, 15 min) at start"}
    print("Loa playout runner benchmark")
    for key, value in info.items():
        print(f"{key:>8}: {value}")
    reports = []
    try:
        for i, url in enumerate(urls):
            check_target(url)
            reports.append(run(url, args, workdir / f"run{i}"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    info["load at end"] = load_average()
    print(f"\nload average at end: {info['load at end']} (1, 5, 15 min)")
    for report in reports:
        print_table(report)
    failed = [
        f"{r['backend']}: {name}"
        for r in reports
        for name, _, _, ok in summary_rows(r)
        if ok is False
    ]
    print("\nALL TARGETS MET" if not failed else f"\nFAILED: {'; '.join(failed)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "date": date.today().isoformat(), "runs": reports}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
