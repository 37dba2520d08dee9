""" "Phát ngay" on a station its agent airs: the operator's call on the server reaches the agent
at its next sync, cuts off the spot the agent is playing as it does centrally (logged
interrupted, aired again after the emergency), and all three rows reach the server's chain."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

import threading

from sqlalchemy import select

from app.agents import service
from app.auth.models import User
from app.auth.service import create_token
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import verify_chain
from app.extensions import db
from app.playout import runner
from app.playout.outputs import get_output
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority
from tests.agents.conftest import desk, station_airings  # noqa: F401
from tests.playout.test_manual import HeldOutput


def test_air_now_reaches_the_agent_and_interrupts_what_it_plays(app, desk, make_agent, clock):
    playing = station_airings(desk.commune)[0]
    agent = make_agent(desk.commune)
    agent.sync()
    service.set_playout_mode(None, desk.commune, "agent")
    agent.sync()
    clock.current = playing.sequenced_at
    stage = runner.Stage()
    held = HeldOutput(clock)
    results = {}

    def play_spot():
        with agent.app.app_context():
            local = db.session.scalar(select(Airing).where(Airing.airing_key == playing.airing_key))
            row = runner.air(local.id, output=held, clock=clock, host=agent.host, stage=stage)
            results["spot"] = (row.status, row.reason)
            db.session.remove()

    thread = threading.Thread(target=play_spot)
    thread.start()
    assert held.started.wait(10)
    clock.advance(seconds=8)

    operator = db.session.scalar(select(User).where(User.username == "operator"))
    _, token = create_token(operator, "thử")
    answer = app.test_client().post(
        f"/api/v1/stations/{desk.commune.code}/air-now",
        json={"script": desk.script.id, "note": "Bão số 9"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.get_json()
    result = agent.sync()  # what the wake (or the next poll) does
    assert result.applied["added"] == 1

    with agent.app.app_context():
        [due] = runner.due_emergencies(clock.now())
        row = runner.air(
            due.airing_id,
            output=get_output("simulate", {}, clock=clock),
            clock=clock,
            host=agent.host,
            stage=stage,
        )
        assert (row.status, row.priority) == (LogStatus.AIRED, Priority.EMERGENCY)
        db.session.remove()
    thread.join(10)
    status, reason = results["spot"]
    assert status == LogStatus.INTERRUPTED
    assert reason.startswith("bị ngắt sau 8 giây (nhường chỗ cho tin khẩn cấp")
    assert "phát lại lúc" in reason
    with agent.app.app_context():
        again = db.session.scalar(select(Airing).where(Airing.airing_key.contains("~r")))
        clock.current = again.sequenced_at
        assert runner.run_once(clock, agent.host)["logged"] == 1
        db.session.remove()

    assert agent.sync().uploaded == 3
    db.session.expire_all()
    rows = db.session.scalars(
        select(BroadcastLog)
        .where(BroadcastLog.station_id == desk.commune.id)
        .order_by(BroadcastLog.seq)
    ).all()
    assert [(r.status, r.priority) for r in rows] == [
        (LogStatus.INTERRUPTED, playing.priority),
        (LogStatus.AIRED, Priority.EMERGENCY),
        (LogStatus.AIRED, playing.priority),
    ]
    assert rows[1].operator_id == operator.id and rows[1].reason == "ghi chú: Bão số 9"
    assert verify_chain(desk.commune.id).ok
    server = {
        a.airing_key: a.status
        for a in db.session.scalars(select(Airing).where(Airing.station_id == desk.commune.id))
    }
    assert server[playing.airing_key] == AiringStatus.INTERRUPTED
    assert server[rows[2].airing_key] == AiringStatus.AIRED  # the requeued copy, made by ingest
