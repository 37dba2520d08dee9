"""Schedule planner benchmark: expand a province's month of schedules, check and save new ones.

Usage:
    .venv/bin/python bench/plan.py [--stations 200] [--schedules-per-station 20] [--runs 3]
                                   [--checks 50] [--database-url URL] [--json PATH]

Seeds a real database: a province with 10 districts and --stations communes, one loudspeaker
station per commune with a morning and an evening session (60 minutes, cap 45), approved scripts
whose approved render is a real file on disk, --schedules-per-station active schedules per station
(fixed times, per session and every N minutes in a window; most name the station, some its
commune) starting 28/11/2026, and their airings of the next 14 days, sequenced, as the runner
materialises them. The app clock stands at 08:00 on 27/11/2026 (Vietnam). Then:

a. expansion of one month (December 2026) for every station, three phases timed apart and summed
   for the target: parse (stored_rule() of each stored rule, once a schedule), expand (expand() of
   each schedule on each of its stations over the month, with the station's sessions for a
   per-session rule, and a Spot per airing) and plan (plan_days() of each station: spots sequenced
   in sessions, caps, overruns and overlaps checked). The recurrence caches are cleared before each
   run, so every run is cold. Reading the stations, sessions and schedules from the database (one
   query per table, eager-loaded) is timed apart and not part of the target; median of --runs.
b. check_schedule() of a new schedule (05:50 and 17:20 every day of December) on one station, as a
   web request runs it: in a new database session each time, the station changing from run to run;
   --checks timed runs after 3 untimed ones; p50 and p95.
c. create_schedule() of a new schedule (05:50 and 17:20 daily, 28/11–31/12) on a district's
   stations (through the district unit), and with --province on every station of the province:
   its check and its materialisation (refresh_airings: 14 days of airings inserted, the touched
   stations' days sequenced again) timed apart; one run each, informational (no target).

Without --database-url the run uses a fresh SQLite file in a temporary folder; TEST_DATABASE_URL,
when set, is benchmarked as well (a PostgreSQL database is wiped first, so its name must contain
"bench" or "test"). The exit status is 1 when a target is missed, as in bench/web.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
import wave
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.models import Role, User  # noqa: E402
from app.auth.service import UserInput, create_user  # noqa: E402
from app.core import clock as app_clock  # noqa: E402
from app.core.clock import FixedClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.org.models import Station, StationKind, Unit  # noqa: E402
from app.org.service import (  # noqa: E402
    StationInput,
    UnitInput,
    add_session,
    create_station,
    create_unit,
)
from app.schedules import recurrence, service  # noqa: E402
from app.schedules.models import (  # noqa: E402
    Airing,
    AiringStatus,
    Schedule,
    ScheduleStatus,
    schedule_stations,
    schedule_units,
)
from app.schedules.plan import DEFAULT_GAP_SECONDS, DayPlan, Spot, plan_days  # noqa: E402
from app.schedules.recurrence import (  # noqa: E402
    LOCAL_TZ,
    Recurrence,
    expand,
    stored_rule,
    to_rrule,
)
from app.scripts.models import Priority, Script  # noqa: E402
from app.scripts.service import (  # noqa: E402
    ScriptInput,
    approve_script,
    create_script,
    submit_script,
)
from app.speech import service as speech_service  # noqa: E402
from app.speech.models import Render, RenderStatus  # noqa: E402
from app.speech.pipeline import RenderOptions, sha256_file  # noqa: E402
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

TARGET_EXPAND_S = 3.0
TARGET_CHECK_MS = 50.0
PASSWORD = "bench-password-2026"
NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 08:00 on 27/11/2026 in Vietnam
SCHEDULE_START = date(2026, 11, 28)
SCHEDULE_END = date(2027, 1, 31)
MONTH_START = date(2026, 12, 1)
MONTH_END = date(2026, 12, 31)
SCRIPTS_PER_DISTRICT = 4
CHUNK = 5000
WARMUP_CHECKS = 3
EVERYDAY = frozenset(range(1, 8))
WORKDAYS = frozenset(range(1, 6))


def local_utc(day: date, at: dtime = dtime()) -> datetime:
    """A local wall-clock time in Asia/Ho_Chi_Minh as an aware UTC datetime."""
    return datetime.combine(day, at, LOCAL_TZ).astimezone(UTC)


def add_minutes(at: dtime, minutes: int) -> dtime:
    """A time of day some minutes later (never past midnight here)."""
    total = at.hour * 60 + at.minute + minutes
    return dtime(total // 60, total % 60)


def load_average() -> str:
    """The 1, 5 and 15-minute load averages."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def percentile(values: Sequence[float], pct: int) -> float:
    """The pct-th percentile (inclusive method), as bench/web.py computes p95."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def build_app(url: str, workdir: Path, now: datetime | None = None, **overrides: Any):
    """An app like the tests build, on the given database, with a fresh schema.

    now fixes the app clock there (None: the real clock).
    """
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "bench-secret",
        "INSTANCE_PATH": workdir / "instance",
        "SQLALCHEMY_DATABASE_URI": url,
        "SCRIPTS_DIR": workdir / "scripts_vi",
        "SCHEDULES_DIR": workdir / "schedules",
        "AUDIO_DIR": workdir / "audio",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **overrides,
    }
    if now is not None:
        config["CLOCK"] = FixedClock(now)
    app = create_app(config)
    with app.app_context():
        if is_postgres(url):
            reset_postgres(url)
        db.create_all()
    return app


# --- seeding ----------------------------------------------------------------------------------


def write_wav(path: Path, seconds: float = 0.2) -> None:
    """A short real 440 Hz WAV tone, as tests/factories.make_render writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(8000 * seconds)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        tone = (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(frames))
        out.writeframes(b"".join(struct.pack("<h", s) for s in tone))


def make_render(script: Script, duration_s: float, actor: User) -> Render:
    """A finished render of the script's current version: a real short WAV on disk (as
    tests/factories.make_render), with the duration the planner and the runner use."""
    spoken = speech_service.spoken_for(script)
    options = RenderOptions(engine="espeak", voice="vi")
    key = options.key(f"{spoken.text}#{script.id}")
    relative = f"{key[:2]}/{key}.wav"
    path = speech_service.audio_dir() / relative
    write_wav(path)
    now = app_clock.now()
    render = Render(
        script_id=script.id,
        version_id=script.current_version_id,
        status=RenderStatus.DONE,
        progress=1.0,
        cache_key=key,
        spoken_text=spoken.text,
        spoken_sha256=spoken.sha256,
        manual_spoken=spoken.manual,
        warnings=spoken.warnings,
        engine_requested="espeak",
        engine="espeak",
        voice="vi",
        settings=options.settings.as_dict(),
        audio_path=relative,
        audio_sha256=sha256_file(path),
        audio_format="wav",
        duration_s=duration_s,
        integrated_lufs=-16.0,
        true_peak_dbtp=-1.5,
        sample_rate=8000,
        requested_by_id=actor.id,
        created_at=now,
        started_at=now,
        finished_at=now,
    )
    db.session.add(render)
    db.session.commit()
    return render


def approved_script(
    writer: User,
    supervisor: User,
    unit: Unit,
    title: str,
    body: str,
    duration_s: float,
    priority: Priority = Priority.NORMAL,
    valid_from: date | None = date(2026, 11, 1),
    valid_until: date = SCHEDULE_END,
) -> Script:
    """A script written, rendered, submitted and approved through the service layer."""
    script = create_script(
        writer,
        ScriptInput(
            title=title,
            body=body,
            unit=unit,
            priority=priority,
            valid_from=valid_from,
            valid_until=valid_until,
        ),
    )
    make_render(script, duration_s, writer)
    submit_script(writer, script)
    return approve_script(supervisor, script)


def make_users(unit: Unit) -> dict[str, User]:
    """A writer, a supervisor and an operator of the unit."""
    return {
        role.value: create_user(
            None,
            UserInput(username=role.value, full_name=f"Bench {role.value}", role=role, unit=unit),
            PASSWORD,
            must_change_password=False,
        )
        for role in (Role.WRITER, Role.SUPERVISOR, Role.OPERATOR)
    }


def script_text(rng: random.Random, district: str) -> tuple[str, str, Priority]:
    """A title, a body of a few sentences and a priority, from bench/web.py's topics."""
    topic = rng.choices(TOPICS, weights=[t.weight for t in TOPICS])[0]
    ctx = {
        "noi": district,
        "thang": 12,
        "so": rng.randint(2, 40),
        "gio": "7",
        "ngay": "1/12/2026",
        "ngay2": "31/12/2026",
        "nam": 2026,
        "sdt": "0252 3822 000",
    }
    title = rng.choice(topic.titles).format(**ctx)
    sentences = rng.sample(topic.sentences, min(4, len(topic.sentences)))
    body = " ".join(s.format(**ctx) for s in sentences)
    priority = rng.choices([Priority.NORMAL, Priority.HIGH], weights=[80, 20])[0]
    return title, body, priority


@dataclass
class Org:
    """What the seed made, by id, for the measurements to load again in their own sessions."""

    province_id: int
    district_ids: list[int]
    station_ids: list[int]
    users: dict[str, int]
    scripts_by_district: dict[int, list[int]]
    n_schedules: int = 0
    n_airings: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def seed_org(n_stations: int, rng: random.Random, scripts_per_district: int) -> Org:
    """Units, stations with two sessions, users and approved scripts, through the services."""
    province = create_unit(
        None, UnitInput(code="BTH", name="Tỉnh Bình Thuận", level="Tỉnh", parent=None)
    )
    users = make_users(province)
    districts = [
        create_unit(None, UnitInput(code=code, name=name, level=level, parent=province))
        for code, name, level in DISTRICTS
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
        # Sessions start at 05:00, 05:30 or 06:00 and 16:30, 17:00 or 17:30; an hour each.
        morning = dtime(5, 0) if i % 3 == 0 else dtime(5, 30) if i % 3 == 1 else dtime(6, 0)
        evening = dtime(16, 30) if i % 3 == 2 else dtime(17, 0) if i % 3 == 0 else dtime(17, 30)
        add_session(None, station, "Buổi sáng", morning, add_minutes(morning, 60), 45, "1234567")
        add_session(None, station, "Buổi chiều", evening, add_minutes(evening, 60), 45, "1234567")
        station_ids.append(station.id)
    scripts: dict[int, list[int]] = {}
    for district in districts:
        scripts[district.id] = []
        for _ in range(scripts_per_district):
            title, body, priority = script_text(rng, district.name)
            duration = float(rng.randint(30, 90))
            script = approved_script(
                users["writer"], users["supervisor"], district, title, body, duration, priority
            )
            scripts[district.id].append(script.id)
    return Org(
        province_id=province.id,
        district_ids=[d.id for d in districts],
        station_ids=station_ids,
        users={name: u.id for name, u in users.items()},
        scripts_by_district=scripts,
    )


def station_rules(rng: random.Random, morning: dtime, evening: dtime, n: int) -> list[Recurrence]:
    """n rules for one station: 40 % fixed times, 30 % per session, 30 % every N minutes.

    Fixed times fall in the sessions (one in eight at 11:00, outside them); per-session rules
    air once or twice a session; "every" rules air every 15 or 20 minutes in a 40-minute window
    of one session. One rule in five airs on weekdays only.
    """
    rules = []
    for j in range(n):
        kind = ("times", "per_session", "every")[0 if j % 10 < 4 else 1 if j % 10 < 7 else 2]
        weekdays = WORKDAYS if j % 5 == 4 else EVERYDAY
        common = {"start_date": SCHEDULE_START, "end_date": SCHEDULE_END, "weekdays": weekdays}
        if kind == "times":
            if j % 8 == 7:
                times: tuple[dtime, ...] = (dtime(11, 0),)
            else:
                picks = [add_minutes(morning, rng.randrange(0, 55, 5))]
                if j % 3:
                    picks.append(add_minutes(evening, rng.randrange(0, 55, 5)))
                times = tuple(picks)
            rules.append(Recurrence(kind="times", times=times, **common))
        elif kind == "per_session":
            rules.append(Recurrence(kind="per_session", per_session=1 + j % 2, **common))
        else:
            base = morning if j % 2 else evening
            first = add_minutes(base, rng.randrange(0, 20, 5))
            rules.append(
                Recurrence(
                    kind="every",
                    every_minutes=rng.choice((15, 20)),
                    window_start=first,
                    window_end=add_minutes(first, 40),
                    **common,
                )
            )
    return rules


def seed_schedules(org: Org, per_station: int, rng: random.Random) -> None:
    """per_station active schedules per station, inserted in bulk (Core), all rules valid."""
    stations = db.session.scalars(
        select(Station)
        .where(Station.id.in_(org.station_ids))
        .options(selectinload(Station.sessions), selectinload(Station.unit))
        .order_by(Station.id)
    ).all()
    scripts = {
        s.id: s
        for s in db.session.scalars(select(Script).options(selectinload(Script.approved_render)))
    }
    creator = org.users["operator"]
    rows, by_station, by_unit = [], [], []
    sid = 0
    for station in stations:
        district_id = station.unit.parent_id
        pool = org.scripts_by_district[district_id]
        sessions = sorted(station.sessions, key=lambda s: s.start_time)
        for j, rec in enumerate(
            station_rules(rng, sessions[0].start_time, sessions[1].start_time, per_station)
        ):
            sid += 1
            script = scripts[pool[j % len(pool)]]
            rows.append(
                {
                    "id": sid,
                    "unit_id": district_id,
                    "script_id": script.id,
                    "version_id": script.approved_version_id,
                    "render_id": script.approved_render_id,
                    "priority": script.priority,
                    "kind": rec.kind,
                    "rrule": to_rrule(rec),
                    "start_date": rec.start_date,
                    "end_date": rec.end_date,
                    "count": rec.count,
                    "gap_seconds": DEFAULT_GAP_SECONDS,
                    "status": ScheduleStatus.ACTIVE,
                    "created_by_id": creator,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "source_key": None,
                    "revision": 1,
                }
            )
            # One in five reaches its station through the commune unit, as a commune-wide
            # schedule does; the others name the station.
            if j % 5 == 2:
                by_unit.append({"schedule_id": sid, "unit_id": station.unit_id})
            else:
                by_station.append({"schedule_id": sid, "station_id": station.id})
    with db.engine.begin() as conn:
        conn.execute(insert(Schedule.__table__), rows)
        conn.execute(insert(schedule_stations), by_station)
        if by_unit:
            conn.execute(insert(schedule_units), by_unit)
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('schedules', 'id'), "
                    "(SELECT max(id) FROM schedules))"
                )
            )
    org.n_schedules = len(rows)


def seed_airings(org: Org) -> None:
    """The next 14 days of every schedule as planned airing rows, sequenced in sessions.

    The rows refresh_airings() would write (same keys, priorities and what airs), placed with
    plan_days() as sequence_station() places them; inserted in bulk.
    """
    start = NOW
    end = NOW + timedelta(days=service.AIRING_HORIZON_DAYS)
    data = load_month_inputs()
    result = expand_and_plan(data, start, end)
    schedules = {s.id: s for s in data.schedules}
    rows = []
    for station_id, plans in result.plans.items():
        for plan in plans:
            for spot in plan.spots:
                schedule = schedules[spot.schedule_id]
                rows.append(
                    {
                        "schedule_id": schedule.id,
                        "station_id": station_id,
                        "planned_at": spot.planned,
                        "sequenced_at": spot.start,
                        "session_name": spot.session.name if spot.session else "",
                        "duration_s": (spot.end - spot.start).total_seconds(),
                        "priority": schedule.priority,
                        "script_id": schedule.script_id,
                        "version_id": schedule.version_id,
                        "render_id": schedule.render_id,
                        "airing_key": service.airing_key(schedule.id, station_id, spot.planned),
                        "status": AiringStatus.PLANNED,
                        "note": "",
                        "created_at": NOW,
                    }
                )
    with db.engine.begin() as conn:
        for first in range(0, len(rows), CHUNK):
            conn.execute(insert(Airing.__table__), rows[first : first + CHUNK])
    db.session.remove()
    org.n_airings = len(rows)


# --- a. one month for every station -----------------------------------------------------------


@dataclass
class MonthInputs:
    """Stations with their sessions and the schedules that air on each."""

    stations: list[Station]
    schedules: list[Schedule]
    targets: dict[int, list[Schedule]]


def load_month_inputs() -> MonthInputs:
    """Every active station and schedule, eager-loaded, and which schedules air where."""
    stations = db.session.scalars(
        select(Station)
        .where(Station.active.is_(True))
        .options(selectinload(Station.sessions), selectinload(Station.unit))
        .order_by(Station.code)
    ).all()
    schedules = db.session.scalars(
        select(Schedule)
        .where(Schedule.status == ScheduleStatus.ACTIVE)
        .options(
            selectinload(Schedule.stations),
            selectinload(Schedule.units),
            selectinload(Schedule.render),
            selectinload(Schedule.script),
        )
        .order_by(Schedule.id)
    ).all()
    # A unit-wide schedule airs on every station whose unit path starts with the unit's path.
    under: dict[str, list[Station]] = defaultdict(list)
    for station in stations:
        parts = station.unit.path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            under["/" + "/".join(parts[:depth]) + "/"].append(station)
    targets: dict[int, list[Schedule]] = defaultdict(list)
    for schedule in schedules:
        found = {s.id for s in schedule.stations if s.active}
        for unit in schedule.units:
            found.update(s.id for s in under.get(unit.path, ()))
        for station_id in found:
            targets[station_id].append(schedule)
    return MonthInputs(list(stations), list(schedules), targets)


@dataclass
class MonthResult:
    """Seconds per phase and what came out."""

    parse_s: float
    expand_s: float
    plan_s: float
    pairs: int
    spots: int
    days: int
    problems: int
    plans: dict[int, list[DayPlan]]

    @property
    def total_s(self) -> float:
        """Parse, expand and plan together."""
        return self.parse_s + self.expand_s + self.plan_s


def clear_recurrence_caches() -> None:
    """Empty recurrence's memoised weekday tables, cut-offs and stored rules, so that a run
    starts cold."""
    for name in ("_table", "_cutoff", "stored_rule"):
        cached = getattr(recurrence, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def expand_and_plan(data: MonthInputs, start: datetime, end: datetime) -> MonthResult:
    """Parse every rule, expand it on each of its stations over [start, end), plan each day."""
    started = time.perf_counter()
    rules = {s.id: stored_rule(s.rrule) for s in data.schedules}
    parsed = time.perf_counter()
    expand_s = plan_s = 0.0
    pairs = n_spots = days = problems = 0
    plans: dict[int, list[DayPlan]] = {}
    for station in data.stations:
        t0 = time.perf_counter()
        sessions = service.sessions_of(station)
        spots: list[Spot] = []
        for schedule in data.targets.get(station.id, ()):
            rec = rules[schedule.id]
            duration = float(schedule.render.duration_s or 0.0)
            priority = schedule.priority.value
            title = schedule.script.title
            per_session = sessions if rec.kind == "per_session" else None
            spots += [
                Spot(schedule.id, when, duration, priority, title)
                for when in expand(rec, start, end, per_session)
            ]
            pairs += 1
        t1 = time.perf_counter()
        station_plans = plan_days(sessions, spots, DEFAULT_GAP_SECONDS)
        t2 = time.perf_counter()
        expand_s += t1 - t0
        plan_s += t2 - t1
        n_spots += len(spots)
        days += len(station_plans)
        problems += sum(len(p.problems) for p in station_plans)
        plans[station.id] = station_plans
    return MonthResult(parsed - started, expand_s, plan_s, pairs, n_spots, days, problems, plans)


def bench_month(runs: int, sql: SqlCounter) -> dict[str, Any]:
    """Load the inputs and expand and plan December for every station, runs times, cold."""
    start, end = local_utc(MONTH_START), local_utc(MONTH_END + timedelta(days=1))
    rows = []
    for i in range(runs):
        db.session.remove()
        clear_recurrence_caches()
        sql.reset()
        t0 = time.perf_counter()
        data = load_month_inputs()
        load_s = time.perf_counter() - t0
        queries = sql.count
        cpu0 = time.process_time()
        result = expand_and_plan(data, start, end)
        cpu_s = time.process_time() - cpu0
        row = {
            "load_s": load_s,
            "queries": queries,
            "parse_s": result.parse_s,
            "expand_s": result.expand_s,
            "plan_s": result.plan_s,
            "total_s": result.total_s,
            "cpu_s": cpu_s,
            "pairs": result.pairs,
            "spots": result.spots,
            "days": result.days,
            "problems": result.problems,
        }
        rows.append(row)
        print(
            f"run {i + 1}: load {load_s:.2f} s ({queries} queries), parse {result.parse_s:.2f} s, "
            f"expand {result.expand_s:.2f} s, plan {result.plan_s:.2f} s → "
            f"{result.total_s:.2f} s (CPU {cpu_s:.2f} s); {result.pairs:,} schedule×station pairs, "
            f"{result.spots:,} airings on {result.days:,} station-days, "
            f"{result.problems:,} problems",
            flush=True,
        )
    median = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    return {
        "runs": [{k: round(v, 4) for k, v in r.items()} for r in rows],
        "median": {k: round(v, 4) for k, v in median.items()},
        "pass": median["total_s"] < TARGET_EXPAND_S,
    }


# --- b. checking a new schedule against one station -------------------------------------------


def new_rule(start: date, end: date) -> Recurrence:
    """The new schedule: 05:50 and 17:20 every day."""
    return Recurrence(
        kind="times", times=(dtime(5, 50), dtime(17, 20)), start_date=start, end_date=end
    )


def bench_check(org: Org, n: int, sql: SqlCounter) -> dict[str, Any]:
    """check_schedule() of the new schedule on one station, in a fresh session each time."""
    rec = new_rule(MONTH_START, MONTH_END)
    script_id = org.scripts_by_district[org.district_ids[0]][0]
    times, cpu, queries, sql_ms, problems = [], [], [], [], []
    codes: Counter[str] = Counter()
    for i in range(WARMUP_CHECKS + n):
        db.session.remove()
        actor = db.session.get(User, org.users["operator"])
        script = db.session.get(Script, script_id)
        station = db.session.get(Station, org.station_ids[(i * 7) % len(org.station_ids)])
        data = service.ScheduleInput(script=script, recurrence=rec, stations=[station])
        sql.reset()
        started, started_cpu = time.perf_counter(), time.process_time()
        result = service.check_schedule(actor, data, NOW)
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if i < WARMUP_CHECKS:
            continue
        times.append(elapsed * 1000)
        cpu.append(elapsed_cpu * 1000)
        queries.append(sql.count)
        sql_ms.append(sql.seconds * 1000)
        problems.append(len(result.problems))
        codes.update(p.code for p in result.problems)
    db.session.remove()
    p50, p95 = statistics.median(times), percentile(times, 95)
    print(
        f"{n} checks: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms "
        f"(CPU p50 {statistics.median(cpu):.1f} ms); "
        f"{statistics.median(queries):g} queries ({statistics.median(sql_ms):.1f} ms in SQL); "
        f"{result.occurrences} airings, {statistics.median(problems):g} problems per check "
        f"(median; in all: {dict(codes) or 'none'})",
        flush=True,
    )
    return {
        "n": n,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(max(times), 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "queries": statistics.median(queries),
        "sql_ms": round(statistics.median(sql_ms), 1),
        "occurrences": result.occurrences,
        "pass": p95 < TARGET_CHECK_MS,
    }


# --- c. saving a schedule on many stations ----------------------------------------------------


@contextmanager
def timing(module: Any, names: Sequence[str]) -> Iterator[dict[str, float]]:
    """Wrap module functions so that the seconds spent in each are summed while inside."""
    spent: dict[str, float] = defaultdict(float)
    originals = {name: getattr(module, name) for name in names}

    def wrap(name: str, original: Callable) -> Callable:
        """original, timed into spent[name]."""

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return timed

    for name, original in originals.items():
        setattr(module, name, wrap(name, original))
    try:
        yield spent
    finally:
        for name, original in originals.items():
            setattr(module, name, original)


def bench_create(org: Org, label: str, unit_id: int, script_id: int, sql: SqlCounter) -> dict:
    """create_schedule() of the new schedule on every station of a unit; check and save timed."""
    db.session.remove()
    actor = db.session.get(User, org.users["operator"])
    script = db.session.get(Script, script_id)
    unit = db.session.get(Unit, unit_id)
    data = service.ScheduleInput(
        script=script,
        recurrence=new_rule(SCHEDULE_START, MONTH_END),
        units=[unit],
        confirm_warnings=True,
    )
    sql.reset()
    with timing(service, ("check_schedule", "refresh_airings")) as spent:
        started = time.perf_counter()
        schedule = service.create_schedule(actor, data)
        total = time.perf_counter() - started
    added = db.session.scalar(
        select(func.count()).select_from(Airing).where(Airing.schedule_id == schedule.id)
    )
    n_stations = len(service.resolve_stations([], [unit]))
    db.session.remove()
    row = {
        "label": label,
        "stations": n_stations,
        "airings": added,
        "check_s": round(spent["check_schedule"], 3),
        "materialise_s": round(spent["refresh_airings"], 3),
        "total_s": round(total, 3),
        "queries": sql.count,
    }
    print(
        f"{label}: {n_stations} stations, {added:,} airings; check {row['check_s']:.2f} s, "
        f"materialise {row['materialise_s']:.2f} s, total {total:.2f} s, {sql.count:,} queries",
        flush=True,
    )
    return row


# --- running and reporting --------------------------------------------------------------------


def run(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seed one database and take every measurement on it."""
    backend = make_url(url).get_backend_name()
    print(f"\n== {backend}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    app = build_app(url, workdir, NOW)
    rng = random.Random(args.seed)
    with app.app_context():
        t0 = time.perf_counter()
        org = seed_org(args.stations, rng, SCRIPTS_PER_DISTRICT)
        t1 = time.perf_counter()
        seed_schedules(org, args.schedules_per_station, rng)
        t2 = time.perf_counter()
        seed_airings(org)
        t3 = time.perf_counter()
        size = finish_database(url)
        server = db.session.scalar(text("SHOW server_version")) if backend == "postgresql" else ""
        print(
            f"seeded {len(org.station_ids)} stations, "
            f"{sum(len(v) for v in org.scripts_by_district.values())} approved scripts in "
            f"{t1 - t0:.1f} s (service layer); {org.n_schedules:,} schedules in {t2 - t1:.1f} s; "
            f"{org.n_airings:,} airings (14 days) in {t3 - t2:.1f} s; database {size}",
            flush=True,
        )
        sql = SqlCounter(db.engine)
        print("\n-- a. one month (December 2026) for every station", flush=True)
        month = bench_month(args.runs, sql)
        print("\n-- b. check_schedule() of a new schedule on one station", flush=True)
        check = bench_check(org, args.checks, sql)
        print("\n-- c. create_schedule() on many stations (check + 14 days of airings)", flush=True)
        district = org.district_ids[1]
        creates = [
            bench_create(org, "one district", district, org.scripts_by_district[district][1], sql)
        ]
        if args.province:
            script_id = org.scripts_by_district[org.district_ids[2]][1]
            creates.append(bench_create(org, "whole province", org.province_id, script_id, sql))
        db.session.remove()
        db.engine.dispose()
    return {
        "backend": backend,
        "server_version": server,
        "stations": len(org.station_ids),
        "schedules": org.n_schedules,
        "airings": org.n_airings,
        "database_size": size,
        "month": month,
        "check": check,
        "create": creates,
    }


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(figure, target, measured, passed) rows; passed None for figures without a target."""
    m = report["month"]["median"]
    c = report["check"]
    rows: list[tuple[str, str, str, bool | None]] = [
        (
            f"a. one month, {report['stations']} stations × "
            f"{report['schedules'] // report['stations']} schedules (parse + expand + plan)",
            f"< {TARGET_EXPAND_S:g} s",
            f"{m['total_s']:.2f} s ({m['parse_s']:.2f} + {m['expand_s']:.2f} + "
            f"{m['plan_s']:.2f}; CPU {m['cpu_s']:.2f} s; {m['spots']:,.0f} airings)",
            report["month"]["pass"],
        ),
        (
            "   reading stations and schedules (not in the target)",
            "",
            f"{m['load_s']:.2f} s ({m['queries']:g} queries)",
            None,
        ),
        (
            f"b. check_schedule(), new schedule on one station (p95 of {c['n']})",
            f"< {TARGET_CHECK_MS:g} ms",
            f"{c['p95_ms']:.1f} ms (p50 {c['p50_ms']:.1f}, CPU p50 {c['cpu_p50_ms']:.1f}; "
            f"{c['queries']:g} queries)",
            c["pass"],
        ),
    ]
    for row in report["create"]:
        rows.append(
            (
                f"c. create_schedule(), {row['label']} ({row['stations']} stations, "
                f"{row['airings']:,} airings)",
                "",
                f"{row['total_s']:.2f} s (check {row['check_s']:.2f}, materialise "
                f"{row['materialise_s']:.2f}; {row['queries']:,} queries)",
                None,
            )
        )
    return rows


def print_table(report: dict[str, Any]) -> None:
    """Print one database's figures against the targets as a Markdown table."""
    server = f" {report['server_version']}" if report["server_version"] else ""
    print(
        f"\n{report['backend']}{server}: {report['stations']} stations, "
        f"{report['schedules']:,} schedules, {report['airings']:,} airings; "
        f"database {report['database_size']}"
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
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--schedules-per-station", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the month expansion")
    parser.add_argument("--checks", type=int, default=50, help="timed check_schedule() calls")
    add_database_url(parser)
    parser.add_argument(
        "--province",
        action="store_true",
        help="also save a schedule on every station of the province (slow: minutes)",
    )
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.stations < len(DISTRICTS) or args.schedules_per_station < 1:
        parser.error(f"need at least {len(DISTRICTS)} stations and 1 schedule per station")
    if args.runs < 1 or args.checks < 2:
        parser.error("need at least 1 run and 2 checks")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on every requested database and print the figures."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="loa-bench-plan-"))
    urls = args.database_url or [f"sqlite:///{workdir / 'bench.sqlite3'}"]
    if not args.database_url and os.environ.get("TEST_DATABASE_URL"):
        urls.append(os.environ["TEST_DATABASE_URL"])
    info = machine_info() | {"load": f"{load_average()} (1, 5, 15 min) at start"}
    print("Loa schedule planner benchmark")
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
