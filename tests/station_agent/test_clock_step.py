"""The agent's clock stepped by minutes, forward and back (issue 12, item 9), with the agent as a
real process on its file clock (LOA_CLOCK_FILE) against the server as a real process: the
airings whose time was skipped are aired late within the grace or logged missed past it, those
already aired are not aired again when their time comes round, the health report shows the
offset; 0 duplicate and 0 lost airings, and a chain the server verifies.

As in test_kill.py, every airing lies in the wall clock's past, so its job fires as soon as the
agent schedules it; it then waits for its second on the file clock, which the test steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.agents import service
from app.agents.models import AgentHealth
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import verify_chain
from app.core.clock import FixedClock
from app.extensions import db
from tests.factories import make_station
from tests.schedules.test_service import approved_script
from tests.station_agent import test_kill as kill
from tests.station_agent.test_disk_full import warnings
from tests.station_agent.test_kill import AgentProcess


@pytest.fixture
def clock() -> FixedClock:
    """The test's clock, half an hour behind the wall clock (see the module docstring)."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30))


def add_airing(station, script, at: datetime, name: str) -> str:
    """A planned airing of the script on the station at `at`; its key."""
    return kill.add_airing(station, script, at, f"step:{station.id}:{name}")


def local_rows(state) -> dict[str, list[tuple[str, datetime | None]]]:
    """The agent's own log rows by airing key: (status, started_at) each."""
    found = kill.read_agent_db(
        state, "SELECT airing_key, status, started_at FROM broadcast_log ORDER BY seq"
    )
    rows: dict[str, list] = {}
    for key, status, started in found or []:
        when = datetime.fromisoformat(started).replace(tzinfo=UTC) if started else None
        rows.setdefault(key, []).append((status, when))
    return rows


def offset_reported(agent_id: int, beyond_s: float):
    """The clock offset of the agent's latest health report, once past beyond_s (by sign)."""
    health = db.session.get(AgentHealth, agent_id, populate_existing=True)
    if health is None:
        return None
    offset = health.clock_offset_s
    return offset if (offset > beyond_s if beyond_s > 0 else offset < beyond_s) else None


def test_clock_stepped_forward_then_back_airs_nothing_twice_and_loses_nothing(
    app, org, users, clock, tmp_path, make_agent, server_process
):
    base = clock.now() + timedelta(minutes=1)
    script = approved_script(users, org.district, valid_until=(base + timedelta(days=30)).date())
    station = make_station(org.commune, "PT-STEP")
    keys = {
        "on_time": add_airing(station, script, base, "on-time"),
        "missed": add_airing(station, script, base + timedelta(minutes=2), "missed"),
        "late": add_airing(station, script, base + timedelta(minutes=7), "late"),
        "after": add_airing(station, script, base + timedelta(minutes=12), "after"),
    }
    db.session.commit()
    server_process.clock.set(base)
    agent = make_agent(station, url=server_process.url)
    agent.sync()
    agent_id = agent.settings.agent_id
    service.set_playout_mode(None, station, "agent")
    with agent.app.app_context():
        db.engine.dispose()  # the process takes the state directory over
    proc = AgentProcess(tmp_path, agent.state)

    def step(to: datetime) -> None:
        proc.clock.set(to)

    try:
        step(base + timedelta(seconds=0.5))
        proc.start()
        proc.wait_for("the first spot", lambda: keys["on_time"] in local_rows(agent.state))

        # Forward by 10 minutes: the spot 8 minutes behind is past the grace (5 minutes) and
        # logged missed, the one 3 minutes behind airs late.
        step(base + timedelta(minutes=10))
        proc.wait_for(
            "the skipped spots",
            lambda: {keys["missed"], keys["late"]} <= set(local_rows(agent.state)),
        )
        ahead = proc.wait_for("the offset reported", lambda: offset_reported(agent_id, 500))
        assert 590 <= ahead <= 610
        assert "nhanh" in warnings(station, server_process)["clock"]

        # Back by 20 minutes: the three spots handled lie ahead again.
        step(base - timedelta(minutes=10))
        behind = proc.wait_for("the offset reported", lambda: offset_reported(agent_id, -500))
        assert -610 <= behind <= -590
        assert "chậm" in warnings(station, server_process)["clock"]

        # Time comes round past them again (and the server's with it): only the next spot airs.
        step(base + timedelta(minutes=12, seconds=0.5))
        server_process.clock.set(base + timedelta(minutes=12, seconds=0.5))
        proc.wait_for("the next spot", lambda: keys["after"] in local_rows(agent.state))
        proc.wait_for(
            "every row on the server",
            lambda: len(db.session.scalars(select(BroadcastLog.id)).all()) == 4,
        )
        proc.wait_for("the offset back", lambda: "clock" not in warnings(station, server_process))
    finally:
        proc.stop()

    rows = local_rows(agent.state)
    assert {key: len(found) for key, found in rows.items()} == dict.fromkeys(keys.values(), 1)
    (on_time, on_time_at), (missed, missed_at), (late, late_at), (after, after_at) = (
        rows[keys[name]][0] for name in ("on_time", "missed", "late", "after")
    )
    assert (on_time, missed, late, after) == ("aired", "missed", "aired_late", "aired")
    assert missed_at is None
    assert abs(on_time_at - (base + timedelta(seconds=0.5))) < timedelta(seconds=2)
    assert abs(late_at - (base + timedelta(minutes=10))) < timedelta(seconds=2)
    assert abs(after_at - (base + timedelta(minutes=12, seconds=0.5))) < timedelta(seconds=2)

    db.session.rollback()
    server = db.session.scalars(select(BroadcastLog).order_by(BroadcastLog.seq)).all()
    # The server keeps the agent's chain order. The two airings the step skipped wake at the same
    # instant on two scheduler threads, so which of them is logged first is not fixed.
    assert [r.airing_key for r in server] == list(rows)
    assert server[0].airing_key == keys["on_time"]
    assert {server[1].airing_key, server[2].airing_key} == {keys["missed"], keys["late"]}
    assert server[3].airing_key == keys["after"]
    by_key = {r.airing_key: r for r in server}
    assert [by_key[keys[name]].status for name in ("on_time", "missed", "late", "after")] == [
        LogStatus.AIRED,
        LogStatus.MISSED,
        LogStatus.AIRED_LATE,
        LogStatus.AIRED,
    ]
    assert by_key[keys["missed"]].reason.startswith("bỏ lỡ: trễ 8 phút")
    assert by_key[keys["late"]].reason == "phát muộn 3 phút"
    assert verify_chain().ok
