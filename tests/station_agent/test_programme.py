"""A programme on an agent-run station: the plan carries its approved mix like any spot, the
agent fetches that exact file, airs it offline from its own database, and the row it uploads
lists the programme's items on the server as a central row would."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from app.agents import service as agents
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import verify_chain
from app.extensions import db
from app.playout import runner
from app.programmes import service
from app.speech.pipeline import sha256_file
from tests.programmes.conftest import entry, items, station, tone_spot, tones  # noqa: F401
from tests.programmes.test_airing import approved_programme, schedule_at


def test_an_agent_airs_a_programmes_approved_mix_and_its_row_lists_the_items(
    app, users, org, station, items, clock, make_agent
):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    script, mix = approved_programme(
        users,
        org,
        station,
        [entry("library", items["jingle"], gap_ms=500), entry("script", spot)],
        bed_item_id=items["bed"].id,
    )
    airing = schedule_at(users, script, station, time(5, 45))
    agent = make_agent(station)
    agent.sync()
    agents.set_playout_mode(None, station, "agent")
    result = agent.sync()
    assert agent.mode == "agent"

    # The plan named the mix by its sha256, and the agent holds exactly that file.
    (cached,) = agent.state.audio.glob(f"{mix.audio_sha256}.*")
    assert sha256_file(cached) == mix.audio_sha256
    assert result.downloaded == 0  # fetched at the first sync, never twice

    # The agent airs the programme from its own database and cache (the runner asks nothing
    # of the server: test_agent.py and test_server_down.py air with the server gone).
    clock.current = airing.sequenced_at
    with agent.app.app_context():
        assert runner.run_once(clock, agent.host)["logged"] == 1
        (local,) = db.session.scalars(select(BroadcastLog)).all()
        assert local.status == LogStatus.AIRED
        assert local.audio_sha256 == mix.audio_sha256
        db.session.remove()

    # At the next sync the row goes up, joins the station's chain and lists the items.
    agent.sync()
    db.session.expire_all()
    (row,) = db.session.scalars(select(BroadcastLog)).all()
    assert (row.script_id, row.render_id, row.audio_sha256) == (
        script.id,
        mix.id,
        mix.audio_sha256,
    )
    assert row.runner_host == agent.host
    assert verify_chain(station.id).ok
    logged = service.logged_items([row])[row.id]
    assert [i.title for i in logged] == ["Nhạc hiệu đài", "Thông báo lịch tiêm chủng"]
    assert [i.audio_sha256 for i in logged] == [
        items["jingle"].audio_sha256,
        spot.approved_render.audio_sha256,
    ]
