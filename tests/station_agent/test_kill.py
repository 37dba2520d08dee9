"""The agent as a real process (`python -m app.station_agent run`) killed with SIGKILL while
airing and then while uploading, against the server as a real process (issue 12, item 9):
after each restart, 0 duplicate and 0 lost airings, the airing cut off logged interrupted,
and a chain the server verifies.

The agent's clock is a file (LOA_CLOCK_FILE). Its playout core fires an airing's job on the
wall clock (tests/playout/test_crash.py explains why), so the airing lies a minute in the wall
clock's past: its job fires as soon as the agent schedules it, and the file clock decides the
rest (how late it is, when the dead runner's lock and claim go stale)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.agents import service
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import verify_chain
from app.core.clock import FileClock, FixedClock
from app.extensions import db
from app.playout.runner import REASON_CRASHED
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority
from tests.factories import make_station
from tests.schedules.test_service import approved_script
from tests.station_agent.conftest import ROOT
from tests.station_agent.proxy import HOLD_RESPONSE

DEADLINE_S = 30.0
# A player that says it started (its pid in $FAKE_PLAYER_MARK), then plays "forever".
FAKE_PLAYER = '#!/bin/sh\necho $$ > "$FAKE_PLAYER_MARK"\nexec sleep 120\n'


@pytest.fixture
def clock() -> FixedClock:
    """The test's clock, two minutes behind the wall clock (see the module docstring)."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2))


class AgentProcess:
    """`python -m app.station_agent run` on a state directory, with its own file clock."""

    def __init__(self, tmp_path, state) -> None:
        self.tmp_path = tmp_path
        self.clock = FileClock(tmp_path / "agent-clock")
        self.mark = tmp_path / "player.pid"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LOA_", "DATABASE_"))},
            "HOME": str(tmp_path / "home"),
            "LOA_AGENT_STATE": str(state.root),
            "LOA_CLOCK_FILE": str(self.clock.path),
            "FAKE_PLAYER_MARK": str(self.mark),
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        """Start the agent (sync every 0.2 s)."""
        self.runs += 1
        with open(self.tmp_path / f"agent-{self.runs}.log", "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.station_agent", "run", "--poll", "0.2"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL the agent (and the player it left, like a power cut would)."""
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL
        if self.mark.exists():
            pid = int(self.mark.read_text())
            self.mark.unlink()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def output(self) -> str:
        """Every run's output, for failure messages."""
        return "\n".join(
            (self.tmp_path / f"agent-{n}.log").read_text(errors="replace")
            for n in range(1, self.runs + 1)
        )

    def wait_for(self, what: str, check):
        """Poll until check() is truthy; fail on the deadline or if the agent exited."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            db.session.rollback()  # see the other processes' commits
            value = check()
            if value:
                return value
            if self.process.poll() is not None:
                pytest.fail(f"the agent exited waiting for {what}\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {DEADLINE_S:.0f} s\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill it if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.kill()


def read_agent_db(state, sql: str, params: tuple = ()) -> list[tuple] | None:
    """Rows of a query on the agent's own database, read-only; None while it has no file or is
    being rebuilt (a schema upgrade). Read-only matters: a plain connect would create an empty
    file in the middle of a rebuild, which the agent then refuses as another version's."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{state.database}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return None
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def local_state(state, key: str):
    """(status, started_at) of the airing in the agent's own database, and its log rows."""
    airing = read_agent_db(
        state, "SELECT status, started_at FROM airings WHERE airing_key = ?", (key,)
    )
    rows = read_agent_db(state, "SELECT count(*) FROM broadcast_log WHERE airing_key = ?", (key,))
    return (airing[0] if airing else None), (rows[0][0] if rows else 0)


def server_rows(key: str) -> list[BroadcastLog]:
    """The server's rows for an airing key."""
    return db.session.scalars(select(BroadcastLog).where(BroadcastLog.airing_key == key)).all()


def add_airing(
    station, script, at: datetime, key: str, priority=Priority.NORMAL, made_at=None
) -> str:
    """A planned airing of the script's approved audio on the station at `at`, with no
    schedule (added, not committed); its key."""
    airing = Airing(
        schedule_id=None,
        station_id=station.id,
        planned_at=at,
        sequenced_at=at,
        duration_s=float(script.approved_render.duration_s),
        priority=priority,
        script_id=script.id,
        version_id=script.approved_version_id,
        render_id=script.approved_render_id,
        airing_key=key,
        status=AiringStatus.PLANNED,
        created_at=made_at or at - timedelta(days=1),
    )
    db.session.add(airing)
    return key


def test_agent_killed_while_airing_and_while_uploading_airs_nothing_twice_and_loses_nothing(
    app, org, users, clock, tmp_path, make_agent, server_process
):
    at = clock.now() + timedelta(minutes=1)  # a minute before the wall clock
    script = approved_script(users, org.district, valid_until=(at + timedelta(days=30)).date())
    station = make_station(org.commune, "PT-KILL")
    key = add_airing(station, script, at, f"kill:{station.id}:1", Priority.HIGH, clock.now())
    db.session.commit()
    server_process.clock.set(at)
    player = tmp_path / "fake-player"
    player.write_text(FAKE_PLAYER)
    player.chmod(0o755)
    agent = make_agent(station, url=server_process.url)
    agent.settings.output = {"output": "local", "settings": {"player": str(player)}}
    agent.state.save(agent.settings)
    agent.sync()
    service.set_playout_mode(None, station, "agent")
    with agent.app.app_context():
        db.engine.dispose()  # the process takes the state directory over
    proc = AgentProcess(tmp_path, agent.state)
    try:
        # Killed while airing: the player has started, nothing is logged yet.
        proc.clock.set(at + timedelta(seconds=0.5))
        proc.start()
        proc.wait_for("the player to start", proc.mark.exists)
        proc.kill()
        (status, started_at), rows = local_state(agent.state, key)
        assert status == "claimed" and started_at is not None and rows == 0
        assert server_rows(key) == []

        # Restarted ten minutes on (the dead runner's lock and claim stale): the airing is
        # logged interrupted, not aired again; the upload reaches the server, and the agent is
        # killed before it hears the answer.
        server_process.proxy.on_request[b"POST /api/v1/agent/log"] = HOLD_RESPONSE
        proc.clock.set(at + timedelta(minutes=10))
        proc.start()
        proc.wait_for("the server to store the row", lambda: server_process.proxy.held.is_set())
        proc.kill()
        assert json.loads((agent.state.root / "settings.json").read_text())["uploaded_seq"] == 0

        # Restarted again: the batch goes up once more and counts as a duplicate.
        proc.clock.set(at + timedelta(minutes=11))
        proc.start()
        proc.wait_for(
            "the upload acknowledged",
            lambda: json.loads((agent.state.root / "settings.json").read_text())["uploaded_seq"],
        )
        requests = server_process.proxy.requests
        assert requests.count("POST /api/v1/agent/log HTTP/1.1") == 2
    finally:
        proc.stop()

    assert local_state(agent.state, key) == (("interrupted", started_at), 1)
    [row] = server_rows(key)
    assert row.status == LogStatus.INTERRUPTED and row.reason == REASON_CRASHED
    assert db.session.scalar(select(Airing.status).where(Airing.airing_key == key)) == (
        AiringStatus.INTERRUPTED
    )
    assert db.session.scalar(select(BroadcastLog.id).where(BroadcastLog.airing_key != key)) is None
    assert verify_chain().ok
