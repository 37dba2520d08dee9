"""Airtime report benchmark: a year of 1,000,000 log rows on 200 stations, then the monthly
dashboard, a campaign report and a 100,000-row CSV export.

Usage:
    .venv/bin/python bench/reports.py [--rows 1000000] [--stations 200] [--days 365] [--runs 10]
                                      [--export-rows 100000] [--database-url URL] [--json PATH]

Seeds a real database with bulk inserts (not the service layer): a province of 10 districts
with one district radio and commune loudspeaker stations in each (two sessions a day, 05:30 and
17:00, capped at 45 minutes; every tenth station caps its morning at 12 minutes, which its spots
pass on some days), campaigns from bench/web.py's topics that run 1-4 months each on
the province or one district, year-round scripts outside any campaign, a schedule per script and
scope, and --rows broadcast log rows over the --days local days before 27/11/2026 (the same
number per station, about 13.7 a day): mostly aired, some late, missed, failed, skipped,
cancelled, partial or interrupted (each interrupted spot followed by its repeat, "~r" key), live
reads without a plan, and corrections of missed rows (a later row pointing at the row it
corrects). Every row carries a real hash chain: seq, prev_hash and row_hash computed with
app.broadcast.service.canonical_bytes, hash version 1 (no unit) before 1/6/2026 and version 2
after; verify_chain() checks a sample of stations after seeding. Every scheduled row has its
airing in the airings table (the runner keeps them), with the status it ended in, and the 14 days
from 27/11 are materialised as planned airings (pending in the November figures).

Then, as a supervisor of the province (who sees every row), with a fresh database session each
run and --runs timed runs after one untimed one:

- monthly dashboard: airtime_dashboard() for October 2026 (a full month, 1/12 of the rows), and
  the same as GET /api/v1/reports/airtime (JSON) through the Flask test client; informational:
  November (the current month, with pending airings) and one district's October.
- campaign report: campaign_report() for the campaign with the most rows, over its whole run
  (no period), and GET /api/v1/reports/campaign (JSON) for it.
- CSV export: the drill-down rows of the days from 1/9/2026 that hold at least --export-rows rows
  (province-wide), through app.reports.exports as the drill-down page's CSV button does it
  (drill_document, send_export: audited, then streamed), consumed chunk by chunk, in a fresh
  child process: the peak RSS growth during the export is the figure held to the target: VmHWM
  (peak RSS, restarted with /proc/self/clear_refs just before) minus VmRSS before, with the app,
  the database connection and a first one-day export already loaded. Not getrusage()'s
  ru_maxrss: a child inherits its parent's peak across fork and exec. A second child measures
  the peak of Python's own allocations with tracemalloc (slower, so not timed).

Targets: dashboard and campaign report p95 under 500 ms on SQLite (PostgreSQL figures reported);
the export's peak memory growth under 100 MB. Without --database-url the run uses a fresh SQLite
file in a temporary folder; TEST_DATABASE_URL, when set, is benchmarked as well (a PostgreSQL
database is wiped first, so its name must contain "bench" or "test"). The exit status is 1 when
a target is missed, as in bench/web.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, func, insert, select, text, update  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.models import Role, User  # noqa: E402
from app.auth.service import UserInput, create_token, create_user  # noqa: E402
from app.broadcast import totals  # noqa: E402
from app.broadcast.models import GENESIS_HASH, BroadcastLog, LogStatus  # noqa: E402
from app.broadcast.service import canonical_bytes, verify_chain  # noqa: E402
from app.core.clock import LOCAL_TZ, FixedClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.org.models import BroadcastSession, Station, StationKind, Unit  # noqa: E402
from app.reports import service as reports  # noqa: E402
from app.reports.service import ReportFilter, make_period  # noqa: E402
from app.schedules.models import (  # noqa: E402
    Airing,
    AiringStatus,
    Schedule,
    ScheduleStatus,
    schedule_units,
)
from app.schedules.recurrence import Recurrence, to_rrule  # noqa: E402
from app.scripts.models import Priority, Script, ScriptStatus, ScriptVersion  # noqa: E402
from app.speech.models import Render, RenderStatus  # noqa: E402
from bench.machine import add_database_url, markdown_table  # noqa: E402
from bench.web import (  # noqa: E402
    COMMUNE_STEMS,
    DISTRICTS,
    TOPICS,
    SqlCounter,
    check_target,
    finish_database,
    is_postgres,
    machine_info,
    reset_postgres,
)

TARGET_MS = 500.0
TARGET_EXPORT_MB = 100.0
PASSWORD = "bench-password-2026"
# 05:00 on 27/11/2026 in Vietnam: the year of log rows ends the evening before.
NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
LAST_DAY = date(2026, 11, 26)
V2_FROM = date(2026, 6, 1)
MONTH = date(2026, 10, 1)
EXPORT_FROM = date(2026, 9, 1)
PENDING_DAYS = 14
SESSIONS = (("Buổi sáng", dtime(5, 30), dtime(6, 30)), ("Buổi chiều", dtime(17, 0), dtime(18, 0)))
CAP_MINUTES = 45
# About 10 minutes of spots air in a morning session: a 12-minute cap is passed on some days.
SHORT_CAP = 12
GAP_S = 5.0
STATIONS_PER_CHUNK = 10
CHUNK = 5000
CHAIN_SAMPLE = 3
# How scheduled spots end (weights in 1/1000): most air, a few go wrong.
OUTCOMES = [
    (LogStatus.AIRED, 925),
    (LogStatus.AIRED_LATE, 30),
    (LogStatus.MISSED, 15),
    (LogStatus.FAILED, 7),
    (LogStatus.SKIPPED, 5),
    (LogStatus.CANCELLED, 6),
    (LogStatus.PARTIAL, 4),
    (LogStatus.INTERRUPTED, 8),
]
PLAYED = {LogStatus.AIRED, LogStatus.AIRED_LATE, LogStatus.PARTIAL, LogStatus.INTERRUPTED}
REASONS = {
    LogStatus.AIRED_LATE: "phát muộn {m} phút",
    LogStatus.MISSED: "bỏ lỡ: bộ phát không chạy",
    LogStatus.FAILED: "lỗi: tệp âm thanh không còn",
    LogStatus.SKIPPED: "bỏ qua: trễ quá thời gian cho phép",
    LogStatus.CANCELLED: "đã hủy theo yêu cầu của đài",
    LogStatus.PARTIAL: "phát một phần: mất điện giữa chừng",
    LogStatus.INTERRUPTED: "bị ngắt: phát khẩn cấp",
}
LIVE_READS_PER_DAY = 0.15
CORRECTED_SHARE = 0.25


def local_utc(day: date, at: dtime) -> datetime:
    """Aware UTC of a Vietnam wall-clock time."""
    return datetime.combine(day, at, LOCAL_TZ).astimezone(UTC)


def percentile(values: list[float], pct: int) -> float:
    """The pct-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-pct * len(ordered) // 100) - 1)]


def load_average() -> str:
    """The 1-minute load average, to show how busy the machine was."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def build_app(url: str, workdir: Path, fresh: bool = True):
    """An app like the tests build, on the given database, its clock at NOW."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret",
            "INSTANCE_PATH": workdir / "instance",
            "SQLALCHEMY_DATABASE_URI": url,
            "SCRIPTS_DIR": workdir / "scripts_vi",
            "SCHEDULES_DIR": workdir / "schedules",
            "AUDIO_DIR": workdir / "audio",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "CLOCK": FixedClock(NOW),
        }
    )
    if fresh:
        with app.app_context():
            if is_postgres(url):
                reset_postgres(url)
            db.create_all()
    return app


# --- seeding ----------------------------------------------------------------------------------


@dataclass
class Campaign:
    """A campaign: its scripts air on every station of its scope from start to end."""

    name: str
    category: str
    start: date
    end: date
    unit_id: int
    script_ids: list[int] = field(default_factory=list)


@dataclass
class Seeded:
    """What the seed made, for the measurements."""

    rows: int = 0
    airings: int = 0
    pending: int = 0
    corrections: int = 0
    v1_rows: int = 0
    totals: int = 0  # daily total groups the reports read
    stations: int = 0
    scripts: int = 0
    campaigns: int = 0
    users: dict[str, int] = field(default_factory=dict)
    district_ids: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class Seeder:
    """Generate a province's year of broadcast log rows and bulk-insert them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.first_day = LAST_DAY - timedelta(days=args.days - 1)
        self.days = [self.first_day + timedelta(days=n) for n in range(args.days)]
        self.units: list[dict] = []
        self.stations: list[dict] = []
        self.station_district: dict[int, int] = {}
        self.campaigns: list[Campaign] = []
        self.scripts: dict[int, dict] = {}
        self.evergreen: dict[int, list[int]] = {}
        self.schedule_of: dict[tuple[int, int], int] = {}
        self.next_log_id = 1
        self.next_airing_id = 1
        self.result = Seeded()

    # org -------------------------------------------------------------------------------------

    def org_rows(self) -> None:
        """A province, its districts and communes, and one station per district or commune."""
        created = datetime(2025, 1, 1, tzinfo=UTC)
        self.units.append(self._unit(1, "BTH", "Tỉnh Bình Thuận", "Tỉnh", None, "/1/", created))
        district_ids = []
        for n, (suffix, name, level) in enumerate(DISTRICTS):
            uid = 2 + n
            district_ids.append(uid)
            self.units.append(
                self._unit(uid, f"BTH-{suffix}", name, level, 1, f"/1/{uid}/", created)
            )
        self.result.district_ids = district_ids
        next_unit = 2 + len(DISTRICTS)
        for i in range(self.args.stations):
            district = self.units[1 + i % len(DISTRICTS)]
            k = i // len(DISTRICTS)
            sid = i + 1
            if k == 0:
                unit = district
                kind, code = StationKind.CITY_RADIO, f"{district['code']}-DAI"
                name = f"Đài truyền thanh {district['name']}"
            else:
                stem = COMMUNE_STEMS[i % len(COMMUNE_STEMS)]
                unit = self._unit(
                    next_unit,
                    f"{district['code']}-X{k:02d}",
                    f"Xã {stem} {k}",
                    "Xã",
                    district["id"],
                    f"{district['path']}{next_unit}/",
                    created,
                )
                self.units.append(unit)
                next_unit += 1
                kind, code = StationKind.COMMUNE_LOUDSPEAKER, f"{unit['code']}-LOA"
                name = f"Đài truyền thanh xã {stem} {k}"
            self.stations.append(
                {
                    "id": sid,
                    "unit_id": unit["id"],
                    "kind": kind,
                    "code": code,
                    "name": name,
                    "created_at": created,
                }
            )
            self.station_district[sid] = district["id"]
        self.result.stations = len(self.stations)

    @staticmethod
    def _unit(uid, code, name, level, parent_id, path, created) -> dict:
        """One units row."""
        return {
            "id": uid,
            "code": code,
            "name": name,
            "level": level,
            "parent_id": parent_id,
            "path": path,
            "active": True,
            "reading_options": {},
            "created_at": created,
        }

    def session_rows(self) -> list[dict]:
        """Two capped sessions a day for every station; every tenth caps its morning short."""
        return [
            {
                "station_id": s["id"],
                "name": name,
                "start_time": start,
                "end_time": end,
                "cap_minutes": SHORT_CAP if s["id"] % 10 == 0 and n == 0 else CAP_MINUTES,
                "weekdays": "1234567",
            }
            for s in self.stations
            for n, (name, start, end) in enumerate(SESSIONS)
        ]

    # scripts and schedules -------------------------------------------------------------------

    def script_rows(self, writer_id: int) -> tuple[list[dict], list[dict], list[dict], list]:
        """Campaigns with their scripts, year-round scripts per district, one schedule each."""
        rng = self.rng
        scripts, versions, renders = [], [], []
        created = datetime.combine(self.first_day - timedelta(days=30), dtime(), UTC)
        district_ids = self.result.district_ids
        names = [(c, t) for t in TOPICS for c in t.campaigns]
        # The campaigns start every ~15 days through the year and run 30-120 days; one in
        # three is province-wide, the others belong to one district.
        span = max(self.args.days - 30, 1)
        for n, (name, topic) in enumerate(names):
            start = self.first_day + timedelta(days=(n * span) // len(names))
            end = min(start + timedelta(days=rng.randint(30, 120)), LAST_DAY + timedelta(30))
            unit_id = 1 if n % 3 == 0 else district_ids[n % len(district_ids)]
            self.campaigns.append(Campaign(name, topic.category, start, end, unit_id))
        self.result.campaigns = len(self.campaigns)

        def add(unit_id: int, title: str, campaign: str, category: str, n: int) -> int:
            sid = len(scripts) + 1
            priority = Priority.HIGH if n % 7 == 3 else Priority.NORMAL
            if n % 31 == 17:
                priority = Priority.EMERGENCY
            duration = float(rng.randint(45, 180))
            scripts.append(
                {
                    "id": sid,
                    "unit_id": unit_id,
                    "title": title,
                    "campaign": campaign,
                    "category": category,
                    "priority": priority,
                    "source_kind": "Kế hoạch",
                    "source_number": f"{100 + sid}/KH-UBND",
                    "source_date": date(2025, 10, 1) + timedelta(days=sid),
                    "source_issuer": "Ủy ban nhân dân tỉnh Bình Thuận",
                    "status": ScriptStatus.APPROVED,
                    "version_number": 1,
                    "submission_seq": 1,
                    "created_by_id": writer_id,
                    "submitted_by_id": writer_id,
                    "submitted_at": created,
                    "created_at": created,
                    "updated_at": created,
                    "search_text": "",
                }
            )
            body = f"{title}. Thưa bà con, đây là thông báo số {sid}."
            versions.append(
                {
                    "id": sid,
                    "script_id": sid,
                    "number": 1,
                    "body": body,
                    "sha256": f"{sid:064x}",
                    "author_id": writer_id,
                    "origin": "bench",
                    "created_at": created,
                }
            )
            renders.append(
                {
                    "id": sid,
                    "script_id": sid,
                    "version_id": sid,
                    "status": RenderStatus.DONE,
                    "progress": 1.0,
                    "cache_key": f"{sid:064x}",
                    "spoken_text": body,
                    "spoken_sha256": f"{sid:064x}",
                    "warnings": [],
                    "engine_requested": "espeak",
                    "engine": "espeak",
                    "voice": "vi",
                    "settings": {},
                    "audio_path": f"bench/{sid}.mp3",
                    "audio_sha256": f"{sid + 1:064x}",
                    "audio_format": "mp3",
                    "duration_s": duration,
                    "requested_by_id": writer_id,
                    "created_at": created,
                    "started_at": created,
                    "finished_at": created,
                }
            )
            self.scripts[sid] = scripts[-1] | {"duration": duration}
            return sid

        n = 0
        for c in self.campaigns:
            topic = next(t for t in TOPICS if c.name in t.campaigns)
            for title in topic.titles[: 2 + n % 3]:
                ctx = {"noi": "tỉnh", "thang": c.start.month, "so": 3, "gio": "7", "nam": 2026}
                ctx |= {"ngay": f"{c.start:%d/%m}", "ngay2": f"{c.end:%d/%m}"}
                ctx |= {"sdt": "0252 3822 000"}
                c.script_ids.append(add(c.unit_id, title.format(**ctx), c.name, c.category, n))
                n += 1
        for did in district_ids:
            district = next(u for u in self.units if u["id"] == did)
            self.evergreen[did] = [
                add(did, f"{kind} {district['name']}", "", "Thời sự", n + j)
                for j, kind in enumerate(("Bản tin thời sự", "Thông báo của", "Nhắc lịch tiếp dân"))
            ]
            n += 3
        self.result.scripts = len(scripts)
        pointers = [{"sid": s["id"], "version": s["id"], "render": s["id"]} for s in scripts]
        return scripts, versions, renders, pointers

    def schedule_rows(self, operator_id: int) -> tuple[list[dict], list[dict]]:
        """One active schedule per campaign script (its scope) and per year-round script."""
        rows, units = [], []
        created = datetime.combine(self.first_day - timedelta(days=7), dtime(), UTC)
        pairs = [(sid, c.unit_id, c.start, c.end) for c in self.campaigns for sid in c.script_ids]
        end = LAST_DAY + timedelta(days=60)
        pairs += [
            (sid, did, self.first_day, end) for did, ids in self.evergreen.items() for sid in ids
        ]
        for n, (script_id, unit_id, start, stop) in enumerate(pairs, start=1):
            times = (SESSIONS[0][1], SESSIONS[1][1])
            rule = Recurrence(kind="times", times=times, start_date=start, end_date=stop)
            script = self.scripts[script_id]
            rows.append(
                {
                    "id": n,
                    "unit_id": unit_id,
                    "script_id": script_id,
                    "version_id": script_id,
                    "render_id": script_id,
                    "priority": script["priority"],
                    "kind": "times",
                    "rrule": to_rrule(rule),
                    "start_date": start,
                    "end_date": stop,
                    "gap_seconds": GAP_S,
                    "status": ScheduleStatus.ACTIVE,
                    "created_by_id": operator_id,
                    "created_at": created,
                    "updated_at": created,
                    "revision": 1,
                }
            )
            units.append({"schedule_id": n, "unit_id": unit_id})
            self.schedule_of[(script_id, unit_id)] = n
        return rows, units

    def pool(self, station_id: int, day: date) -> list[tuple[int, int]]:
        """(script, schedule) pairs that air on the station that day."""
        did = self.station_district[station_id]
        found = [
            (sid, self.schedule_of[(sid, c.unit_id)])
            for c in self.campaigns
            if c.start <= day <= c.end and c.unit_id in (1, did)
            for sid in c.script_ids
        ]
        found += [(sid, self.schedule_of[(sid, did)]) for sid in self.evergreen[did]]
        return found

    # log rows ----------------------------------------------------------------------------------

    def station_year(self, station: dict, operator_id: int) -> tuple[list[dict], list[dict]]:
        """The station's year of log rows in chain order, hashed, and their airings."""
        rng = self.rng
        sid = station["id"]
        budget = self.args.rows // self.args.stations
        if sid <= self.args.rows % self.args.stations:
            budget += 1
        n_days = len(self.days)
        rows: list[dict] = []
        airings: list[dict] = []
        for d, day in enumerate(self.days):
            quota = (d + 1) * budget // n_days - d * budget // n_days
            rows_today: list[dict] = []
            corrections: list[dict] = []
            pool = self.pool(sid, day)
            rng.shuffle(pool)
            live = rng.random() < LIVE_READS_PER_DAY
            spots = quota - int(live)
            if spots < 0:
                spots, live = 0, False
            # Spots alternate between the sessions; each session's spots run back to back.
            cursor = {name: local_utc(day, start) for name, start, _ in SESSIONS}
            made = 0
            k = 0
            while made < spots:
                session = SESSIONS[k % 2][0]
                script_id, schedule_id = pool[k % len(pool)]
                k += 1
                script = self.scripts[script_id]
                at = cursor[session]
                status = rng.choices([s for s, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
                key = f"{schedule_id}:{sid}:{at:%Y%m%dT%H%M%SZ}"
                row, airing = self._spot(
                    station, day, session, script, schedule_id, at, status, key, None
                )
                rows_today.append(row)
                airings.append(airing)
                made += 1
                cursor[session] = at + timedelta(seconds=script["duration"] + GAP_S)
                if status == LogStatus.INTERRUPTED and made < spots:
                    again = row["ended_at"] + timedelta(minutes=3)
                    repeat_key = f"{key}~r{again:%Y%m%dT%H%M%S}"
                    row, repeat = self._spot(
                        station,
                        day,
                        session,
                        script,
                        schedule_id,
                        again,
                        LogStatus.AIRED,
                        repeat_key,
                        airing["id"],
                    )
                    rows_today.append(row)
                    airings.append(repeat)
                    made += 1
                    cursor[session] = row["ended_at"] + timedelta(seconds=GAP_S)
                elif status == LogStatus.MISSED and made < spots and rng.random() < CORRECTED_SHARE:
                    corrections.append(row)
                    made += 1
            if live:
                rows_today.append(self._live_read(station, day, operator_id))
            rows_today.sort(key=lambda r: r["created_at"])
            for wrong in corrections:
                rows_today.append(self._correction(wrong, day, operator_id))
            rows.extend(rows_today)
        self._chain(rows)
        return rows, airings

    def _base(self, station: dict, day: date) -> dict:
        """The fields every row of the station's day shares."""
        v2 = day >= V2_FROM
        return {
            "station_id": station["id"],
            "unit_id": station["unit_id"] if v2 else None,
            "hash_version": 2 if v2 else 1,
            "reason": "",
            "spoken_sha256": "",
            "audio_sha256": "",
            "operator_id": None,
            "runner_host": "",
            "corrects_id": None,
            "corrects_hash": None,
            "correction_reason": "",
        }

    def _spot(self, station, day, session, script, schedule_id, at, status, key, requeued_from):
        """One scheduled spot's log row and its airing."""
        rng = self.rng
        duration = script["duration"]
        started = ended = played = None
        reason = REASONS.get(status, "")
        if status == LogStatus.AIRED_LATE:
            minutes = rng.randint(1, 4)
            reason = reason.format(m=minutes)
            started = at + timedelta(minutes=minutes, seconds=rng.randint(0, 59))
            played = duration
        elif status in (LogStatus.AIRED, LogStatus.FAILED):
            started = at + timedelta(milliseconds=rng.randint(5, 900))
            played = duration if status == LogStatus.AIRED else 0.0
        elif status in (LogStatus.PARTIAL, LogStatus.INTERRUPTED):
            started = at + timedelta(milliseconds=rng.randint(5, 900))
            played = round(duration * rng.uniform(0.2, 0.8), 3)
        if started is not None:
            ended = started + timedelta(seconds=played)
        row_id = self.next_log_id
        self.next_log_id += 1
        row = self._base(station, day) | {
            "id": row_id,
            "planned_at": at,
            "started_at": started,
            "ended_at": ended,
            "duration_s": round(float(played), 3) if played is not None else None,
            "status": status,
            "reason": reason,
            "script_id": script["id"],
            "version_id": script["id"],
            "render_id": script["id"],
            "spoken_sha256": f"{script['id']:064x}",
            "audio_sha256": f"{script['id'] + 1:064x}",
            "schedule_id": schedule_id,
            "airing_key": key,
            "priority": script["priority"],
            "runner_host": "may-phat-1",
            "created_at": (ended or at + timedelta(seconds=90)) + timedelta(milliseconds=40),
        }
        airing_id = self.next_airing_id
        self.next_airing_id += 1
        airing = {
            "id": airing_id,
            "schedule_id": schedule_id,
            "station_id": station["id"],
            "planned_at": at,
            "sequenced_at": at,
            "session_name": session,
            "duration_s": duration,
            "priority": script["priority"],
            "script_id": script["id"],
            "version_id": script["id"],
            "render_id": script["id"],
            "airing_key": key,
            "status": AiringStatus(status.value),
            "claimed_by": "may-phat-1" if started else None,
            "claimed_at": started,
            "operator_id": None,
            "note": "",
            "requeued_from_id": requeued_from,
            "created_at": at - timedelta(days=7),
        }
        return row, airing

    def _live_read(self, station: dict, day: date, operator_id: int) -> dict:
        """A live read an operator logged by hand: no plan, no schedule."""
        rng = self.rng
        started = local_utc(day, dtime(9, rng.randint(0, 59)))
        duration = float(rng.randint(60, 300))
        row_id = self.next_log_id
        self.next_log_id += 1
        return self._base(station, day) | {
            "id": row_id,
            "planned_at": None,
            "started_at": started,
            "ended_at": started + timedelta(seconds=duration),
            "duration_s": duration,
            "status": LogStatus.AIRED,
            "reason": "đọc trực tiếp: thông báo của trưởng thôn",
            "script_id": None,
            "version_id": None,
            "render_id": None,
            "schedule_id": None,
            "airing_key": None,
            "priority": Priority.NORMAL,
            "operator_id": operator_id,
            "created_at": started + timedelta(seconds=duration + 5),
        }

    def _correction(self, wrong: dict, day: date, operator_id: int) -> dict:
        """A row correcting a missed row to aired, written at 20:00 that day."""
        row_id = self.next_log_id
        self.next_log_id += 1
        started = wrong["planned_at"] + timedelta(seconds=1)
        duration = self.scripts[wrong["script_id"]]["duration"]
        self.result.corrections += 1
        return wrong | {
            "id": row_id,
            "started_at": started,
            "ended_at": started + timedelta(seconds=duration),
            "duration_s": duration,
            "status": LogStatus.AIRED,
            "reason": "",
            "operator_id": operator_id,
            "corrects_id": wrong["id"],
            "correction_reason": "Đài đã phát, bộ phát ghi nhầm",
            "created_at": local_utc(day, dtime(20, 0)),
        }

    def _chain(self, rows: list[dict]) -> None:
        """seq, prev_hash and row_hash of a station's rows in order (corrections bound too)."""
        hashes: dict[int, str] = {}
        prev = GENESIS_HASH
        for seq, row in enumerate(rows, start=1):
            if row["corrects_id"] is not None:
                row["corrects_hash"] = hashes[row["corrects_id"]]
            row["seq"] = seq
            row["prev_hash"] = prev
            row["row_hash"] = ""
            prev = row["row_hash"] = hashlib.sha256(
                canonical_bytes(SimpleNamespace(**row))
            ).hexdigest()
            hashes[row["id"]] = prev
            if row["hash_version"] == 1:
                self.result.v1_rows += 1

    def pending_airings(self) -> list[dict]:
        """The next PENDING_DAYS days as planned airings, as refresh_airings() leaves them."""
        rows = []
        for station in self.stations:
            sid = station["id"]
            for d in range(PENDING_DAYS):
                day = LAST_DAY + timedelta(days=1 + d)
                pool = self.pool(sid, day)
                per_day = self.args.rows // self.args.stations // len(self.days)
                cursor = {name: local_utc(day, start) for name, start, _ in SESSIONS}
                for k in range(per_day):
                    session = SESSIONS[k % 2][0]
                    script_id, schedule_id = pool[k % len(pool)]
                    script = self.scripts[script_id]
                    at = cursor[session]
                    cursor[session] = at + timedelta(seconds=script["duration"] + GAP_S)
                    rows.append(
                        {
                            "id": self.next_airing_id,
                            "schedule_id": schedule_id,
                            "station_id": sid,
                            "planned_at": at,
                            "sequenced_at": at,
                            "session_name": session,
                            "duration_s": script["duration"],
                            "priority": script["priority"],
                            "script_id": script_id,
                            "version_id": script_id,
                            "render_id": script_id,
                            "airing_key": f"{schedule_id}:{sid}:{at:%Y%m%dT%H%M%SZ}",
                            "status": AiringStatus.PLANNED,
                            "note": "",
                            "created_at": NOW,
                        }
                    )
                    self.next_airing_id += 1
        return rows

    # everything ------------------------------------------------------------------------------

    def seed(self) -> Seeded:
        """Insert the province, its scripts and schedules, then the log station by station."""
        began = time.perf_counter()
        self.org_rows()
        with db.engine.begin() as conn:
            conn.execute(insert(Unit.__table__), self.units)
            conn.execute(insert(Station.__table__), self.stations)
            conn.execute(insert(BroadcastSession.__table__), self.session_rows())
        users = make_users(self.result.district_ids[0])
        self.result.users = users
        scripts, versions, renders, pointers = self.script_rows(users["writer"])
        schedules, scopes = self.schedule_rows(users["operator"])
        scripts_t = Script.__table__
        with db.engine.begin() as conn:
            conn.execute(insert(scripts_t), scripts)
            conn.execute(insert(ScriptVersion.__table__), versions)
            conn.execute(insert(Render.__table__), renders)
            conn.execute(
                update(scripts_t)
                .where(scripts_t.c.id == bindparam("sid"))
                .values(
                    current_version_id=bindparam("version"),
                    approved_version_id=bindparam("version"),
                    submitted_render_id=bindparam("render"),
                    approved_render_id=bindparam("render"),
                ),
                pointers,
            )
            conn.execute(insert(Schedule.__table__), schedules)
            conn.execute(insert(schedule_units), scopes)
        self.result.seconds["org and scripts"] = time.perf_counter() - began
        generate = store = 0.0
        log_t, airings_t = BroadcastLog.__table__, Airing.__table__
        for first in range(0, len(self.stations), STATIONS_PER_CHUNK):
            t0 = time.perf_counter()
            rows, airings = [], []
            for station in self.stations[first : first + STATIONS_PER_CHUNK]:
                r, a = self.station_year(station, users["operator"])
                rows += r
                airings += a
            t1 = time.perf_counter()
            with db.engine.begin() as conn:
                for i in range(0, len(rows), CHUNK):
                    conn.execute(insert(log_t), rows[i : i + CHUNK])
                for i in range(0, len(airings), CHUNK):
                    conn.execute(insert(airings_t), airings[i : i + CHUNK])
            store += time.perf_counter() - t1
            generate += t1 - t0
            self.result.rows += len(rows)
            self.result.airings += len(airings)
            print(f"  seeded {self.result.rows:,} log rows", end="\r", flush=True)
        print()
        t0 = time.perf_counter()
        pending = self.pending_airings()
        with db.engine.begin() as conn:
            for i in range(0, len(pending), CHUNK):
                conn.execute(insert(airings_t), pending[i : i + CHUNK])
            if conn.dialect.name == "postgresql":
                for table in (
                    "units",
                    "stations",
                    "scripts",
                    "script_versions",
                    "renders",
                    "schedules",
                    "broadcast_log",
                    "airings",
                ):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        store += time.perf_counter() - t0
        self.result.pending = len(pending)
        self.result.seconds["log rows: generate and hash"] = generate
        self.result.seconds["log rows and airings: insert"] = store
        # The rows went in by bulk insert, past append_log(): compute their daily totals
        # (what the reports read) the way `flask logs totals --rebuild` does.
        t0 = time.perf_counter()
        self.result.totals = totals.rebuild_totals()
        self.result.seconds["daily totals: rebuild"] = time.perf_counter() - t0
        return self.result


def make_users(district_id: int) -> dict[str, int]:
    """A supervisor, writer and operator of the province, and a supervisor of one district."""
    province = db.session.get(Unit, 1)
    district = db.session.get(Unit, district_id)
    made = {}
    for username, role, unit in (
        ("supervisor", Role.SUPERVISOR, province),
        ("writer", Role.WRITER, province),
        ("operator", Role.OPERATOR, province),
        ("district", Role.SUPERVISOR, district),
    ):
        user = create_user(
            None,
            UserInput(username=username, full_name=f"Bench {username}", role=role, unit=unit),
            PASSWORD,
            must_change_password=False,
        )
        made[username] = user.id
    db.session.remove()
    return made


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Timing:
    """Latencies of one measured call."""

    name: str
    times_ms: list[float]
    queries: list[int]
    sql_ms: list[float]
    target_ms: float | None
    detail: str = ""
    cpu_ms: list[float] = field(default_factory=list)

    @property
    def p95(self) -> float:
        """95th percentile in ms."""
        return percentile(self.times_ms, 95)

    def as_dict(self) -> dict:
        """The figures for printing and JSON."""
        return {
            "name": self.name,
            "n": len(self.times_ms),
            "median_ms": round(statistics.median(self.times_ms), 1),
            "p95_ms": round(self.p95, 1),
            "max_ms": round(max(self.times_ms), 1),
            "queries": statistics.median(self.queries),
            "sql_median_ms": round(statistics.median(self.sql_ms), 1),
            "cpu_median_ms": round(statistics.median(self.cpu_ms), 1),
            "target_ms": self.target_ms,
            "pass": None if self.target_ms is None else self.p95 < self.target_ms,
            "detail": self.detail,
        }


def measure(name: str, call, runs: int, sql: SqlCounter, target_ms: float | None) -> Timing:
    """One untimed call, then `runs` timed ones, each in a fresh database session."""
    detail = call()
    timing = Timing(name, [], [], [], target_ms, detail or "")
    for _ in range(runs):
        db.session.remove()
        _timed(timing, call, sql)
    db.session.remove()
    return timing


def _timed(timing: Timing, call, sql: SqlCounter) -> None:
    """One timed call: wall time, this process's CPU time, statements and their time.

    The database work runs in this process too (SQLite) or in the server (PostgreSQL, not
    in the CPU figure); on a busy machine the wall time grows while the CPU time does not.
    """
    sql.reset()
    began, cpu = time.perf_counter(), time.process_time()
    call()
    timing.times_ms.append((time.perf_counter() - began) * 1000)
    timing.cpu_ms.append((time.process_time() - cpu) * 1000)
    timing.queries.append(sql.count)
    timing.sql_ms.append(sql.seconds * 1000)


def biggest_campaign() -> tuple[str, int]:
    """The campaign with the most log rows, and how many."""
    count = func.count().label("n")
    name, n = db.session.execute(
        select(Script.campaign, count)
        .join(BroadcastLog, BroadcastLog.script_id == Script.id)
        .where(Script.campaign != "")
        .group_by(Script.campaign)
        .order_by(count.desc())
        .limit(1)
    ).one()
    return name, n


def export_period(actor: User, rows: int) -> tuple[reports.Period, int]:
    """The days from EXPORT_FROM that hold at least `rows` effective rows, and their count."""
    end = EXPORT_FROM
    while True:
        period = reports.Period("custom", EXPORT_FROM, end)
        query = reports.drill_rows(actor, ReportFilter(period=period))
        n = db.session.scalar(select(func.count()).select_from(query.subquery()))
        if n >= rows or end >= LAST_DAY:
            return period, n
        # About 5,500 rows a day on 200 stations: step by the days still missing.
        per_day = max(n // ((end - EXPORT_FROM).days + 1), 1)
        end += timedelta(days=max(1, (rows - n) // per_day))


def measure_service(app, seeded: Seeded, args, sql: SqlCounter) -> tuple[list[Timing], dict]:
    """The dashboard and campaign report through the service layer."""
    results = []
    facts: dict[str, Any] = {}
    with app.app_context():
        campaign, campaign_rows = biggest_campaign()
        facts["campaign"] = campaign
        facts["campaign_rows"] = campaign_rows
        supervisor_id = seeded.users["supervisor"]
        district_id = seeded.users["district"]
        october = make_period("month", MONTH)
        november = make_period("month", LAST_DAY)

        def dashboard(user_id: int, period: reports.Period):
            def call() -> str:
                actor = db.session.get(User, user_id)
                board = reports.airtime_dashboard(actor, ReportFilter(period=period))
                total = board.total
                return (
                    f"{total.planned:,} planned, {total.on_air:,} aired, "
                    f"{len(board.by_station)} stations, {len(board.by_script)} scripts, "
                    f"{len(board.over_cap)} over cap"
                )

            return call

        def campaign_call() -> str:
            actor = db.session.get(User, supervisor_id)
            report = reports.campaign_report(actor, ReportFilter(period=None, campaign=campaign))
            misses = sum(len(ln.misses) for ln in report.lines)
            return f"{report.total.planned:,} planned, {len(report.lines)} lines, {misses} misses"

        cases = [
            ("dashboard, October 2026, province", dashboard(supervisor_id, october), TARGET_MS),
            ("campaign report, whole run, province", campaign_call, TARGET_MS),
            ("dashboard, November 2026 (pending too)", dashboard(supervisor_id, november), None),
            ("dashboard, October 2026, one district", dashboard(district_id, october), None),
        ]
        for name, call, target in cases:
            results.append(measure(name, call, args.runs, sql, target))
            print(f"  {name}: median {statistics.median(results[-1].times_ms):.0f} ms")
        actor = db.session.get(User, supervisor_id)
        period, n = export_period(actor, args.export_rows)
        facts["export_start"] = period.start.isoformat()
        facts["export_end"] = period.end.isoformat()
        facts["export_rows"] = n
        db.session.remove()
    return results, facts


def measure_api(app, seeded: Seeded, args, sql: SqlCounter, campaign: str) -> list[Timing]:
    """The same figures through GET /api/v1/reports/airtime and /campaign (JSON)."""
    rules = {r.rule for r in app.url_map.iter_rules()}
    if "/api/v1/reports/airtime" not in rules:
        print("  (no /api/v1/reports endpoints in this tree: API figures skipped)")
        return []
    with app.app_context():
        _, token = create_token(db.session.get(User, seeded.users["supervisor"]), "bench")
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    from urllib.parse import quote

    def getter(path: str):
        def call() -> str:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code, response.data[:300])
            return f"{len(response.data) / 1024:.0f} KiB JSON"

        return call

    cases = [
        (
            "API dashboard JSON, October 2026",
            f"/api/v1/reports/airtime?period=month&date={MONTH}",
        ),
        ("API campaign JSON, whole run", f"/api/v1/reports/campaign?campaign={quote(campaign)}"),
    ]
    results = []
    for name, path in cases:
        # The test client pushes its own app context per request; the counter sees its queries.
        results.append(measure_request(name, getter(path), args.runs, sql, app))
        print(f"  {name}: median {statistics.median(results[-1].times_ms):.0f} ms")
    return results


def measure_request(name: str, call, runs: int, sql: SqlCounter, app) -> Timing:
    """measure() for test-client requests (each request has its own session)."""
    detail = call()
    timing = Timing(name, [], [], [], TARGET_MS, detail)
    for _ in range(runs):
        _timed(timing, call, sql)
    return timing


def run_export_child(url: str, workdir: Path, facts: dict, traced: bool) -> dict | None:
    """Run the CSV export in a fresh Python process and read back its figures."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--export-child",
        "--database-url",
        url,
        "--workdir",
        str(workdir),
        "--export-start",
        facts["export_start"],
        "--export-end",
        facts["export_end"],
    ]
    if traced:
        command.append("--tracemalloc")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def proc_status_mb(field_name: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def reset_peak_rss() -> None:
    """Start VmHWM (peak RSS) again from the current RSS (Linux 4.0+: clear_refs 5).

    resource.getrusage()'s ru_maxrss is no use here: a child keeps the peak its parent had
    when it was forked (1M rows seeded: over 200 MB), whatever the child does after exec.
    """
    Path("/proc/self/clear_refs").write_text("5")


def export_child(args: argparse.Namespace) -> int:
    """Child process: export the drill-down rows as CSV, chunk by chunk; print the figures."""
    import tracemalloc

    from app.reports import exports

    url = args.database_url[0]
    app = build_app(url, args.workdir, fresh=False)
    start = date.fromisoformat(args.export_start)
    end = date.fromisoformat(args.export_end)
    with app.test_request_context("/reports/airings"):

        def export(period: reports.Period) -> tuple[int, int]:
            actor = db.session.scalar(select(User).where(User.username == "supervisor"))
            filters = ReportFilter(period=period)
            query = reports.drill_rows(actor, filters)
            doc = exports.drill_document(filters, query)
            # As the drill-down page's CSV button: audited, then streamed.
            response = exports.send_export(actor, doc, "csv", "chi-tiet-phat-song")
            size = lines = 0
            for chunk in response.response:
                data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
                size += len(data)
                lines += data.count(b"\n")
            response.close()
            return size, lines

        # A first, one-day export loads every module and warms the connection pool.
        export(reports.Period("custom", start, start))
        db.session.remove()
        if args.tracemalloc:
            tracemalloc.start()
        reset_peak_rss()
        rss_before = proc_status_mb("VmRSS")
        began = time.perf_counter()
        size, lines = export(reports.Period("custom", start, end))
        seconds = time.perf_counter() - began
        peak_rss = proc_status_mb("VmHWM")
        traced = tracemalloc.get_traced_memory()[1] / 1024 / 1024 if args.tracemalloc else None
    print(
        json.dumps(
            {
                "bytes": size,
                "lines": lines,
                "seconds": round(seconds, 2),
                "rss_before_mb": round(rss_before, 1),
                "peak_rss_mb": round(peak_rss, 1),
                "rss_growth_mb": round(peak_rss - rss_before, 1),
                "tracemalloc_peak_mb": None if traced is None else round(traced, 1),
            }
        )
    )
    return 0


def verify_sample(seeded: Seeded) -> str:
    """verify_chain() of a few stations spread over the province."""
    n = seeded.stations
    picks = sorted({1, max(n // 2, 1), n})[:CHAIN_SAMPLE]
    checked = 0
    for station_id in picks:
        result = verify_chain(station_id)
        if not result.ok:
            return f"BROKEN at station {station_id}: {result.problem}"
        checked += result.checked
    return f"{len(picks)} stations, {checked:,} rows: ok"


def run(url: str, args: argparse.Namespace, workdir: Path) -> dict:
    """Seed one database, then time the reports and the export on it."""
    workdir.mkdir(parents=True, exist_ok=True)
    app = build_app(url, workdir)
    backend = "postgresql" if is_postgres(url) else "sqlite"
    print(f"\n{backend}: seeding {args.rows:,} log rows on {args.stations} stations…")
    with app.app_context():
        server = ""
        if backend == "postgresql":
            server = db.session.scalar(text("SHOW server_version")) or ""
        began = time.perf_counter()
        seeded = Seeder(args).seed()
        size = finish_database(url)
        seeded.seconds["total"] = time.perf_counter() - began
        print(f"  seeded in {seeded.seconds['total']:.0f} s; database {size}")
        chains = verify_sample(seeded)
        print(f"  hash chains: {chains}")
        db.session.remove()
    sql = SqlCounter(_engine(app))
    load_before = load_average()
    print(f"  load average {load_before} before measuring")
    results, facts = measure_service(app, seeded, args, sql)
    results += measure_api(app, seeded, args, sql, facts["campaign"])
    export = {}
    for traced in (False, True):
        figures = run_export_child(url, workdir, facts, traced)
        if figures is None:
            print("  (CSV export not measured: app.reports.exports missing or failing)")
            break
        export["traced" if traced else "plain"] = figures
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {
        "backend": backend,
        "server_version": server,
        "seeded": {
            "rows": seeded.rows,
            "airings": seeded.airings,
            "pending": seeded.pending,
            "corrections": seeded.corrections,
            "totals": seeded.totals,
            "hash_v1_rows": seeded.v1_rows,
            "stations": seeded.stations,
            "scripts": seeded.scripts,
            "campaigns": seeded.campaigns,
            "seconds": {k: round(v, 1) for k, v in seeded.seconds.items()},
        },
        "database_size": size,
        "chains": chains,
        "facts": facts,
        "results": [r.as_dict() for r in results],
        "export": export,
        "load_average": f"{load_before} before, {load_average()} after",
    }


def _engine(app):
    """The app's engine (outside an app context)."""
    with app.app_context():
        return db.engine


def export_rows(report: dict) -> list[tuple[str, str, str, bool | None]]:
    """The export's figures as (figure, target, measured, pass) rows."""
    out = []
    plain, traced = report["export"].get("plain"), report["export"].get("traced")
    facts = report["facts"]
    if plain:
        label = (
            f"CSV export, {facts['export_rows']:,} rows "
            f"({facts['export_start']} – {facts['export_end']})"
        )
        growth = plain["rss_growth_mb"]
        out.append(
            (
                f"{label}: peak RSS growth",
                f"< {TARGET_EXPORT_MB:.0f} MB",
                f"{growth:.1f} MB (peak {plain['peak_rss_mb']:.0f} MB, "
                f"{plain['bytes'] / 1024 / 1024:.1f} MB in {plain['seconds']:.1f} s)",
                growth < TARGET_EXPORT_MB,
            )
        )
    if traced:
        out.append(
            (
                "CSV export: Python allocations (tracemalloc peak)",
                "",
                f"{traced['tracemalloc_peak_mb']:.1f} MB",
                None,
            )
        )
    return out


def print_report(report: dict) -> None:
    """Print one database's figures as Markdown tables."""
    seeded = report["seeded"]
    server = f" {report['server_version']}" if report["server_version"] else ""
    print(
        f"\n{report['backend']}{server}: {seeded['rows']:,} log rows "
        f"({seeded['corrections']:,} corrections, {seeded['hash_v1_rows']:,} hash v1), "
        f"{seeded['airings'] + seeded['pending']:,} airings ({seeded['pending']:,} pending), "
        f"{seeded['stations']} stations, {seeded['scripts']} scripts in "
        f"{seeded['campaigns']} campaigns; {seeded['totals']:,} daily total groups "
        f"(rebuilt in {seeded['seconds']['daily totals: rebuild']} s); "
        f"seeding {seeded['seconds']['total']} s; "
        f"database {report['database_size']}; chains {report['chains']}; "
        f"load average {report['load_average']}"
    )
    facts = report["facts"]
    print(f"campaign: “{facts['campaign']}” ({facts['campaign_rows']:,} log rows)")
    header = (
        "measurement",
        "n",
        "median ms",
        "p95 ms",
        "max ms",
        "CPU ms",
        "queries",
        "SQL ms",
        "p95 < 500",
    )
    rows = [
        (
            r["name"],
            str(r["n"]),
            f"{r['median_ms']:.0f}",
            f"{r['p95_ms']:.0f}",
            f"{r['max_ms']:.0f}",
            f"{r['cpu_median_ms']:.0f}",
            f"{r['queries']:g}",
            f"{r['sql_median_ms']:.0f}",
            "—" if r["pass"] is None else "PASS" if r["pass"] else "FAIL",
        )
        for r in report["results"]
    ]
    markdown_table(header, rows)
    for r in report["results"]:
        print(f"- {r['name']}: {r['detail']}")
    extra = export_rows(report)
    if extra:
        print()
        markdown_table(
            ("figure", "target", "measured", "result"),
            [(a, b, c, "—" if d is None else "PASS" if d else "FAIL") for a, b, c, d in extra],
        )


def failed(report: dict) -> bool:
    """Tell whether a target was missed (or a figure could not be measured)."""
    if any(r["pass"] is False for r in report["results"]):
        return True
    extra = export_rows(report)
    return not extra or any(ok is False for _, _, _, ok in extra)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per measurement")
    parser.add_argument("--export-rows", type=int, default=100_000)
    add_database_url(parser)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    # The export's child process (internal).
    parser.add_argument("--export-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--export-start", help=argparse.SUPPRESS)
    parser.add_argument("--export-end", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stations < 10 or args.days < 62 or args.rows < args.stations * args.days * 4:
        parser.error("need at least 10 stations, 62 days and 4 rows per station a day")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on every requested database and print the figures."""
    args = parse_args(argv)
    if args.export_child:
        return export_child(args)
    workdir = Path(tempfile.mkdtemp(prefix="loa-bench-reports-"))
    urls = args.database_url or [f"sqlite:///{workdir / 'reports.sqlite3'}"]
    if not args.database_url and os.environ.get("TEST_DATABASE_URL"):
        urls.append(os.environ["TEST_DATABASE_URL"])
    info = machine_info()
    print("Loa airtime report benchmark")
    for key, value in info.items():
        print(f"{key:>8}: {value}")
    reports_ = []
    try:
        for i, url in enumerate(urls):
            check_target(url)
            reports_.append(run(url, args, workdir / f"run{i}"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for report in reports_:
        print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "date": date.today().isoformat(), "runs": reports_}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    return 1 if any(failed(r) for r in reports_) else 0


if __name__ == "__main__":
    sys.exit(main())
