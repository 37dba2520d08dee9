"""The agent is one documented command that needs the project and nothing of the server:
enrol, sync once and report its status, run as separate processes against a served app."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.agents import service
from app.core.clock import FileClock
from tests.agents.conftest import desk  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def agent_command(tmp_path, *args: str, clock=None) -> subprocess.CompletedProcess:
    """`python -m app.station_agent ARGS` with an environment that names no server database,
    on the test's clock (through LOA_CLOCK_FILE) when given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "TEST_DATABASE_URL", "LOA_", "SECRET_KEY"))
    }
    env.update(HOME=str(tmp_path / "home"), LOA_AGENT_STATE=str(tmp_path / "state"))
    if clock is not None:
        path = tmp_path / "clock"
        FileClock(path).set(clock.now())
        env["LOA_CLOCK_FILE"] = str(path)
    return subprocess.run(
        [sys.executable, "-m", "app.station_agent", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_enrol_sync_once_and_status_from_the_command_line(desk, served, tmp_path, clock):
    code = service.add_agent(None, desk.commune, "PC xã Phú Thủy").code

    enrolled = agent_command(tmp_path, "enrol", "--server", served.url, "--code", code)
    again = agent_command(tmp_path, "enrol", "--server", served.url, "--code", code)
    synced = agent_command(tmp_path, "run", "--once", clock=clock)
    status = agent_command(tmp_path, "status", clock=clock)

    assert enrolled.returncode == 0, enrolled.stderr
    assert "Đã đăng ký máy trạm cho đài PT-PHUTHUY" in enrolled.stdout
    assert again.returncode != 0 and "đã đăng ký" in again.stderr
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["downloaded"] == 1
    report = json.loads(status.stdout)
    assert report["station"] == "PT-PHUTHUY" and report["audio_missing"] == 0
    assert report["plan_until"].startswith("2026-12-04")
    state = tmp_path / "state"
    assert {p.name for p in state.iterdir()} >= {"agent.db", "audio", "credential", "settings.json"}
    assert (state / "credential").stat().st_mode & 0o077 == 0
    assert code not in (state / "settings.json").read_text()


def test_a_used_or_wrong_code_is_refused_with_a_clear_message(desk, served, tmp_path):
    done = agent_command(tmp_path, "enrol", "--server", served.url, "--code", "ABCD-EFGH-JKMN-PQRS")

    assert done.returncode != 0
    assert "Mã đăng ký" in done.stderr or "mã đăng ký" in done.stderr
    assert not (tmp_path / "state" / "credential").exists()
