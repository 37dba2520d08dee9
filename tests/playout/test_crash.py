"""A runner killed during an airing, or before it, and restarted: nothing airs twice, the cut
airing is logged, the one not started yet airs late.

Real `flask scheduler run` processes on a database file (or TEST_DATABASE_URL), their time set
by the test through LOA_CLOCK_FILE (app.core.clock.FileClock). The simulate output waits
in real time under a FileClock, so a 60-second airing is still playing when the runner is
killed a moment after claiming it.

One thing the file clock does not move: run_forever's APScheduler fires an airing's job on
the wall clock (and drops it as misfired when the wall clock is more than the grace past
it). So every airing here lies in the wall clock's past, where its job fires as soon as the
runner schedules it, and the file clock alone decides when it is due (the 1-hour horizon
of due_jobs()), how late it is, and when an abandoned claim is swept. That needs a grace of
hours, and the next airing before the sweep: after the clock moves past the crashed claim's
claim + duration + grace, no later airing can be on time in both clocks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from app import create_app
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import LogEntry, append_log
from app.config import ROOT
from app.core.clock import FileClock, FixedClock
from app.extensions import db
from app.playout import runner
from app.playout.lock import RunnerLock
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority
from tests.conftest import TEST_DATABASE_URL, _reset_postgres
from tests.factories import make_render, make_script, make_station, make_unit
from tests.schedules.test_service import approved_script

GRACE_S = 3 * 3600  # covers the wall-clock distance to the airings (see the docstring)
DURATION_S = 60.0  # the interrupted airing: far longer than the runner lives
DEADLINE_S = 30.0  # for each state change of a runner process
# The first airing, this long before the wall clock at the start of the test.
FIRST_AGO = timedelta(minutes=70)
# The second airing, after the first: beyond runner-a's horizon (1 h from its clock).
SECOND_AFTER = timedelta(minutes=65)
# The revision before airings.started_at (migrations/versions/b6c7d8e9f0a1_*).
STARTED_AT_REVISES = "a0b1c2d3e4f5"


@pytest.fixture
def clock() -> FixedClock:
    """The test's own clock, one minute before the first airing."""
    wall = datetime.now(UTC).replace(microsecond=0)
    return FixedClock(wall - FIRST_AGO - timedelta(minutes=1))


def plan(script, station, at: datetime, duration_s: float, key: str, now: datetime) -> Airing:
    """A planned airing of the script's approved audio on the station, outside any schedule."""
    airing = Airing(
        schedule_id=None,
        station_id=station.id,
        planned_at=at,
        sequenced_at=at,
        duration_s=duration_s,
        priority=Priority.HIGH,
        script_id=script.id,
        version_id=script.approved_version_id,
        render_id=script.approved_render_id,
        airing_key=key,
        status=AiringStatus.PLANNED,
        created_at=now,
    )
    db.session.add(airing)
    db.session.commit()
    return airing


class Runners:
    """`flask scheduler run` processes on the test's database, each with a log file."""

    def __init__(self, app, tmp_path: Path, clock_file: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: dict[str, subprocess.Popen] = {}
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYOUT_", "LOA_"))}
        self.env = {
            **keep,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "test-secret",
            "LOA_INSTANCE_PATH": str(tmp_path / "instance"),
            "AUDIO_DIR": str(app.config["AUDIO_DIR"]),
            "SCRIPTS_DIR": str(app.config["SCRIPTS_DIR"]),
            "SCHEDULES_DIR": str(app.config["SCHEDULES_DIR"]),
            "LOA_CLOCK_FILE": str(clock_file),
            "PLAYOUT_OUTPUT": "simulate",
            "PLAYOUT_GRACE_S": str(GRACE_S),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, host: str) -> subprocess.Popen:
        """Start a runner named host, polling every 0.2 s."""
        args = ["scheduler", "run", "--poll", "0.2", "--host", host]
        with open(self.tmp_path / f"{host}.log", "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs[host] = proc
        return proc

    def output(self) -> str:
        """Every runner's output so far, for failure messages."""
        return "\n".join(
            f"--- {host} (exit {proc.poll()}) ---\n"
            + (self.tmp_path / f"{host}.log").read_text(errors="replace")
            for host, proc in self.procs.items()
        )

    def wait_for(self, what: str, check, alive: tuple[str, ...] = ()):
        """Poll the database until check() is truthy; fail on the deadline or a dead runner."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            db.session.rollback()  # end the read transaction: see the runners' commits
            value = check()
            if value:
                return value
            for host in alive:
                if self.procs[host].poll() is not None:
                    pytest.fail(f"{host} exited while waiting for {what}\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {DEADLINE_S:.0f} s\n{self.output()}")
            time.sleep(0.05)

    def stop_all(self) -> None:
        """Kill whatever still runs."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def airing_state(airing_id: int):
    """(status, claimed_by, claimed_at, started_at) as stored now."""
    return db.session.execute(
        select(Airing.status, Airing.claimed_by, Airing.claimed_at, Airing.started_at).where(
            Airing.id == airing_id
        )
    ).one()


def rows_of(key: str) -> list[BroadcastLog]:
    """The log rows written for an airing key, oldest first."""
    return db.session.scalars(
        select(BroadcastLog).where(BroadcastLog.airing_key == key).order_by(BroadcastLog.id)
    ).all()


def test_runner_killed_mid_airing_then_restarted_logs_it_interrupted_once(
    app, org, users, clock, tmp_path
):
    t = clock.now() + timedelta(minutes=1)
    script = approved_script(users, org.district, valid_until=(t + timedelta(days=30)).date())
    station = make_station(org.commune, "PT-CRASH")
    first = plan(script, station, t, DURATION_S, f"crash:{station.id}:1", clock.now())
    # Short in real time: under a FileClock the simulate output waits in real time.
    second = plan(script, station, t + SECOND_AFTER, 0.2, f"crash:{station.id}:2", clock.now())
    first_id, first_key = first.id, first.airing_key
    second_id, second_key = second.id, second.airing_key
    time_file = FileClock(tmp_path / "clock")
    time_file.set(t + timedelta(seconds=1))
    runners = Runners(app, tmp_path, time_file.path)
    try:
        # runner-a claims the first airing and starts playing its 60 s (the start recorded
        # before the output plays)...
        runner_a = runners.start("runner-a")
        runners.wait_for(
            "claim and start by runner-a",
            lambda: airing_state(first_id).started_at is not None,
            alive=("runner-a",),
        )
        status, claimed_by, claimed_at, started_at = airing_state(first_id)
        assert (status, claimed_by) == (AiringStatus.CLAIMED, "runner-a")
        assert claimed_at == started_at == t + timedelta(seconds=1)
        assert rows_of(first_key) == []
        # ...and dies in the middle of it, its clock not having moved.
        runner_a.send_signal(signal.SIGKILL)
        assert runner_a.wait(timeout=10) == -signal.SIGKILL
        db.session.rollback()
        assert airing_state(first_id).status == AiringStatus.CLAIMED
        assert airing_state(second_id).status == AiringStatus.PLANNED
        assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 0

        # runner-b starts at the second airing's time: runner-a's lock has gone stale, the
        # second airing airs on time, the first is still within its start + duration + grace.
        time_file.set(t + SECOND_AFTER)
        runner_b = runners.start("runner-b")
        runners.wait_for(
            "the second airing's row (or the first claimed again)",
            lambda: rows_of(second_key) or airing_state(first_id).claimed_by != "runner-a",
            ("runner-b",),
        )
        # The first is still runner-a's claim: runner-b has not taken it to air again.
        assert airing_state(first_id) == (AiringStatus.CLAIMED, "runner-a", claimed_at, started_at)
        assert rows_of(first_key) == []

        # Once start + duration + grace has passed, runner-b logs the first one interrupted.
        swept_at = started_at + timedelta(seconds=DURATION_S + GRACE_S + 1)
        time_file.set(swept_at)
        runners.wait_for("the interrupted row", lambda: rows_of(first_key), ("runner-b",))
        runners.wait_for(
            "the first airing's status",
            lambda: airing_state(first_id).status == AiringStatus.INTERRUPTED,
            ("runner-b",),
        )

        # A clean stop: exit code 0 and the lock given up.
        runner_b.send_signal(signal.SIGTERM)
        try:
            code = runner_b.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"runner-b did not stop on SIGTERM\n{runners.output()}")
        assert code == 0, runners.output()
    finally:
        runners.stop_all()

    # No runner is left, so what is stored now is final.
    db.session.rollback()
    interrupted = rows_of(first_key)
    assert [(r.status, r.reason) for r in interrupted] == [
        (LogStatus.INTERRUPTED, runner.REASON_CRASHED)
    ], runners.output()
    row = interrupted[0]
    assert row.runner_host == "runner-b" and row.planned_at == t
    assert row.render_id == script.approved_render_id and row.started_at is None
    assert airing_state(first_id).status == AiringStatus.INTERRUPTED
    aired = rows_of(second_key)
    assert [(r.status, r.runner_host) for r in aired] == [(LogStatus.AIRED, "runner-b")]
    assert aired[0].started_at == t + SECOND_AFTER and aired[0].duration_s == pytest.approx(0.2)
    assert airing_state(second_id).status == AiringStatus.AIRED
    assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 2
    assert db.session.get(RunnerLock, runner.LOCK_NAME).holder is None
    assert "Bộ phát runner-b đang chạy" in runners.output()


def test_runner_killed_while_cued_then_restarted_airs_it_late_once(
    app, org, users, clock, tmp_path
):
    """SIGKILL between the claim and the start of the play: nothing reached the loudspeakers,
    so the next runner airs the spot late (within the grace), once, and logs no interruption."""
    t = clock.now() + timedelta(minutes=1)
    script = approved_script(users, org.district, valid_until=(t + timedelta(days=30)).date())
    station = make_station(org.commune, "PT-CRASH")
    airing = plan(script, station, t, 0.2, f"crash:{station.id}:cued", clock.now())
    airing_id, key = airing.id, airing.airing_key
    # A minute before the airing: runner-a claims it and waits (in real time, under a
    # FileClock) for its second.
    time_file = FileClock(tmp_path / "clock")
    time_file.set(t - timedelta(seconds=60))
    runners = Runners(app, tmp_path, time_file.path)
    try:
        runner_a = runners.start("runner-a")
        runners.wait_for(
            "claim by runner-a",
            lambda: airing_state(airing_id).claimed_by == "runner-a",
            alive=("runner-a",),
        )
        runner_a.send_signal(signal.SIGKILL)
        assert runner_a.wait(timeout=10) == -signal.SIGKILL
        db.session.rollback()
        assert airing_state(airing_id) == (
            AiringStatus.CLAIMED,
            "runner-a",
            t - timedelta(seconds=60),
            None,
        )

        # runner-b starts 40 s after the airing was due: the claim was never started and
        # the airing is within its grace, so it airs now.
        time_file.set(t + timedelta(seconds=40))
        runner_b = runners.start("runner-b")
        runners.wait_for(
            "the airing's status",
            lambda: airing_state(airing_id).status == AiringStatus.AIRED_LATE,
            ("runner-b",),
        )
        runner_b.send_signal(signal.SIGTERM)
        try:
            code = runner_b.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"runner-b did not stop on SIGTERM\n{runners.output()}")
        assert code == 0, runners.output()
    finally:
        runners.stop_all()

    db.session.rollback()
    rows = rows_of(key)
    assert [(r.status, r.reason, r.runner_host) for r in rows] == [
        (LogStatus.AIRED_LATE, "phát muộn 40 giây", "runner-b")
    ], runners.output()
    assert rows[0].started_at == t + timedelta(seconds=40) and rows[0].planned_at == t
    assert airing_state(airing_id) == (
        AiringStatus.AIRED_LATE,
        "runner-b",
        t + timedelta(seconds=40),
        t + timedelta(seconds=40),
    )
    assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 1


def test_crash_after_the_row_before_the_status_is_aligned_without_a_second_row(
    app, org, users, clock
):
    """The other crash window (between _finish's two commits), which cannot be hit from
    outside: the row is there, the airing still claimed; the sweep only aligns its status."""
    t = clock.now() + timedelta(minutes=1)
    script = approved_script(users, org.district, valid_until=(t + timedelta(days=30)).date())
    station = make_station(org.commune, "PT-CRASH")
    airing = plan(script, station, t, DURATION_S, f"crash:{station.id}:1", clock.now())
    assert runner.claim_airing(airing.id, "runner-a", t) is not None
    entry = LogEntry(
        station_id=station.id,
        planned_at=t,
        script_id=script.id,
        version_id=airing.version_id,
        render_id=airing.render_id,
        airing_key=airing.airing_key,
        runner_host="runner-a",
        status=LogStatus.AIRED,
        started_at=t,
        ended_at=t + timedelta(seconds=DURATION_S),
        duration_s=DURATION_S,
    )
    append_log(entry)

    later = t + timedelta(seconds=DURATION_S + runner.GRACE_S + 1)
    assert runner.sweep_missed(later, "runner-b") == []
    db.session.rollback()
    assert [(r.status, r.runner_host) for r in rows_of(airing.airing_key)] == [
        (LogStatus.AIRED, "runner-a")
    ]
    assert airing_state(airing.id).status == AiringStatus.AIRED
    assert runner.sweep_missed(later, "runner-b") == []


def test_the_migration_takes_claims_left_by_the_previous_version_as_started(tmp_path):
    """Upgrading from before started_at: a claimed airing may have been playing when the old
    runner stopped, so it is taken as started (logged interrupted, never aired again)."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    config = {
        "INSTANCE_PATH": tmp_path,
        "SECRET_KEY": "x",
        "SQLALCHEMY_DATABASE_URI": url,
        "AUDIO_DIR": tmp_path / "audio",
    }
    migrations = str(ROOT / "migrations")
    app = create_app(config)
    with app.app_context():
        if TEST_DATABASE_URL:
            _reset_postgres()
        upgrade(directory=migrations)
        unit = make_unit("P", "Tỉnh Bình Thuận", level="Tỉnh")
        station = make_station(unit, "PTH")
        script = make_script(None, unit)
        render = make_render(script)
        script.approved_version_id, script.approved_render_id = render.version_id, render.id
        at = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)
        claimed = plan(script, station, at, 30.0, "old:claimed", at)
        planned = plan(script, station, at, 30.0, "old:planned", at)
        claimed.status, claimed.claimed_by, claimed.claimed_at = AiringStatus.CLAIMED, "old", at
        db.session.commit()
        ids = claimed.id, planned.id
        db.session.remove()  # alembic works on a connection of its own

        downgrade(directory=migrations, revision=STARTED_AT_REVISES)
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa_inspect(conn).get_columns("airings")}
        assert "started_at" not in columns and "claimed_at" in columns
        upgrade(directory=migrations)

        started = dict(db.session.execute(select(Airing.id, Airing.started_at)).all())
        assert started == {ids[0]: at, ids[1]: None}
        db.session.remove()
        db.engine.dispose()
