"""Push wakes a running agent: with a real Mosquitto, a plan change or a "phát ngay" on the
server makes the agent's loop (StationAgent.run, its WakeListener started by _listen) sync
within a couple of seconds, although its poll interval is ten minutes. Skipped loudly without
Mosquitto (tests/push/conftest.py)."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.agents import service
from app.extensions import db
from app.playout import manual
from app.schedules import service as schedules
from app.schedules.models import Airing
from app.scripts.models import Priority
from tests.agents.conftest import desk  # noqa: F401
from tests.push.conftest import broker  # noqa: F401

WAKE_WITHIN_S = 2.0
DEADLINE_S = 10.0


class Syncs:
    """Records every sync the agent's loop makes (monotonic end time, result)."""

    def __init__(self, agent) -> None:
        self.done: list[tuple[float, object]] = []
        real = agent.sync

        def sync():
            result = real()
            self.done.append((time.monotonic(), result))
            return result

        agent.sync = sync

    def wait_quiet(self, quiet_s: float = 1.0) -> None:
        """Wait until the loop has synced at least once and then not for quiet_s (the start's
        syncs, and the one the listener's subscription asks for, are over)."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.done and time.monotonic() - self.done[-1][0] >= quiet_s:
                return
            time.sleep(0.05)
        pytest.fail(f"the agent kept syncing: {len(self.done)} syncs")

    def wait_for(self, what: str, check, since: int) -> float:
        """Seconds from now until a sync after index `since` satisfies check(result)."""
        start = time.monotonic()
        while time.monotonic() - start < DEADLINE_S:
            for at, result in self.done[since:]:
                if check(result):
                    return at - start
            time.sleep(0.02)
        pytest.fail(f"no sync with {what} within {DEADLINE_S} s")


@pytest.fixture
def running(make_agent):
    """Start an agent's loop (poll every 10 minutes) in a thread; stopped after the test."""
    started = []

    def _start(agent) -> Syncs:
        syncs = Syncs(agent)
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        started.append((agent, stop, thread))
        thread.start()
        return syncs

    yield _start
    for agent, stop, thread in started:
        stop.set()
        agent.wake.set()
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_a_plan_change_and_an_air_now_wake_the_running_agent_at_once(
    desk, make_agent, broker, running, users
):
    agent = make_agent(desk.commune, poll_s=600)
    agent.sync()
    service.set_playout_mode(None, desk.commune, "agent")
    broker.start()  # its password file lists the enrolled agent
    syncs = running(agent)
    syncs.wait_quiet()
    assert agent.mode == "agent"

    before = len(syncs.done)
    schedules.cancel_occurrence(
        users["operator"],
        desk.schedule,
        desk.commune,
        datetime(2026, 11, 27, 22, 45, tzinfo=UTC),
        "trùng lễ mít tinh",
    )
    waited = syncs.wait_for(
        "the cancellation", lambda r: r.applied.get("cancelled") == 1, since=before
    )
    assert waited < WAKE_WITHIN_S

    syncs.wait_quiet(0.3)
    before = len(syncs.done)
    [emergency] = manual.air_now(users["operator"], desk.script, [desk.commune], "bão số 9")
    key = emergency.airing_key
    waited = syncs.wait_for("the air-now airing", lambda r: r.applied.get("added") == 1, before)
    assert waited < WAKE_WITHIN_S
    with agent.app.app_context():
        held = db.session.scalar(select(Airing).where(Airing.airing_key == key))
        assert held is not None and held.priority == Priority.EMERGENCY
        db.session.remove()
