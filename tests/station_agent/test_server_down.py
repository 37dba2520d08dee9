"""The server as a real process killed for an hour of airings (issue 12, item 9): the agent airs
every spot from its own database on its own clock, and its log goes up when the server is back;
0 duplicates, 0 lost, a chain the server verifies.

The agent runs in the test process here (no kill of it is involved), on the test's clock, so the
hour passes in milliseconds; the server is its own process on 127.0.0.1, reached over HTTP."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from app.agents import service
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import verify_chain
from app.extensions import db
from app.playout import runner
from app.schedules.models import Airing, AiringStatus
from app.station_agent.client import ServerError
from tests.agents.conftest import desk, schedule_on  # noqa: F401
from tests.station_agent.test_agent import local_airings

DAY = date(2026, 11, 28)


def test_server_down_for_an_hour_of_airings_everything_airs_and_the_log_goes_up_later(
    desk, make_agent, server_process, users, clock
):
    # Every 10 minutes from 06:00 to 07:00 on 28/11, besides the desk's 05:45 (at 05:30).
    times = [time(6, m) for m in range(0, 60, 10)] + [time(7, 0)]
    schedule_on(users, desk.script, [desk.commune], *times, start=DAY, end=DAY)
    db.session.commit()
    agent = make_agent(desk.commune, url=server_process.url)
    agent.sync()
    service.set_playout_mode(None, desk.commune, "agent")
    agent.sync()
    assert agent.mode == "agent"
    hour = [a for a in local_airings(agent) if a.sequenced_at.date() <= DAY][:8]
    assert len(hour) == 8

    server_process.kill()  # the server is gone for the hour
    with agent.app.app_context():
        for airing in hour:
            clock.current = airing.sequenced_at
            assert runner.run_once(clock, agent.host)["logged"] == 1
            with pytest.raises(ServerError):
                agent.sync()
        db.session.remove()
    clock.current = hour[-1].sequenced_at + timedelta(minutes=1)

    server_process.start()
    result = agent.sync()

    assert (result.uploaded, result.duplicates) == (8, 0)
    db.session.rollback()
    rows = db.session.scalars(
        select(BroadcastLog).where(BroadcastLog.station_id == desk.commune.id)
    ).all()
    keys = Counter(r.airing_key for r in rows)
    assert set(keys) == {a.airing_key for a in hour} and max(keys.values()) == 1
    assert {r.status for r in rows} == {LogStatus.AIRED}
    statuses = db.session.scalars(
        select(Airing.status).where(Airing.airing_key.in_([a.airing_key for a in hour]))
    ).all()
    assert statuses == [AiringStatus.AIRED] * 8
    assert verify_chain().ok
