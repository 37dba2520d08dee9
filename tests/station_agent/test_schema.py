"""The agent's database after an upgrade of the project: it records the schema revision it was
built with; a file of another revision is rebuilt when the server holds everything in it (the
audio cache and the settings kept, the plan fetched again), its log rows are sent first when
the server does not, and it is kept, with the agent refusing to start, when they cannot be."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from sqlalchemy import select, update

from app.broadcast.models import BroadcastLog
from app.broadcast.service import verify_chain
from app.extensions import db
from app.playout import runner
from app.schedules.models import Airing, AiringStatus
from app.station_agent import local
from app.station_agent.state import StateError
from app.station_agent.sync import StationAgent
from tests.agents.conftest import desk  # noqa: F401
from tests.station_agent.test_agent import local_airings
from tests.station_agent.test_upload import agent_on_air, air_first_two, server_rows


def age(agent) -> None:
    """Make the agent's database look built by an older version: another revision, and a
    column the current models have dropped (so the current code could not use it as is)."""
    with contextlib.closing(sqlite3.connect(agent.state.database)) as conn:
        conn.execute(f"UPDATE {local.SCHEMA_TABLE} SET revision = 'an-older-revision'")
        conn.execute("ALTER TABLE airings DROP COLUMN note")
        conn.commit()


def revision_of(agent) -> str | None:
    """The revision stored in the agent's database file."""
    return local.stored_revision(agent.state.database)


def restart(agent, clock, upload=None) -> StationAgent:
    """What `run` does on start: upgrade the database if it must, then start the agent."""
    settings = agent.state.load()
    local.upgrade_database(agent.state, settings, upload or agent.client.upload)
    return StationAgent(agent.state, clock=clock, client=agent.client)


def test_a_new_database_records_the_revision_and_a_current_one_is_left_alone(desk, make_agent):
    agent = make_agent(desk.commune)
    agent.sync()

    assert revision_of(agent) == local.schema_revision()
    settings = agent.state.load()
    assert local.upgrade_database(agent.state, settings, agent.client.upload) == "current"
    assert len(local_airings(agent)) == 14


def test_an_old_database_with_nothing_pending_is_rebuilt_keeping_audio_and_settings(
    desk, make_agent, clock
):
    agent = make_agent(desk.commune)
    agent.sync()
    audio = sorted(p.name for p in agent.state.audio.glob("*.wav"))
    age(agent)
    with pytest.raises(StateError, match="phiên bản máy trạm khác"):
        StationAgent(agent.state, clock=clock)  # never opened as it is

    again = restart(agent, clock)

    assert revision_of(again) == local.schema_revision()
    assert again.settings.agent_id == agent.settings.agent_id and again.settings.plan_etag == ""
    assert local_airings(again) == []
    result = again.sync()
    assert result.plan_changed and result.downloaded == 0  # the audio cache was kept
    assert sorted(p.name for p in again.state.audio.glob("*.wav")) == audio
    assert len(local_airings(again)) == 14


def test_rows_pending_in_an_old_database_go_up_before_it_is_rebuilt(desk, make_agent, clock):
    agent = agent_on_air(desk, make_agent)
    keys = air_first_two(agent, clock)  # aired; not uploaded yet
    age(agent)

    again = restart(agent, clock)

    assert [r.airing_key for r in server_rows(desk.commune)] == keys
    assert again.settings.uploaded_seq == 2
    # The rebuilt database continues the chain from the server's head.
    again.sync()
    third = next(a for a in local_airings(again) if a.status == AiringStatus.PLANNED)
    clock.current = third.sequenced_at
    with again.app.app_context():
        assert runner.run_once(clock, again.host)["logged"] == 1
        db.session.remove()
    again.sync()
    rows = server_rows(desk.commune)
    assert [r.seq for r in rows] == [1, 2, 3] and rows[2].airing_key == third.airing_key
    assert verify_chain().ok


def test_an_old_database_is_kept_and_the_agent_refused_while_its_rows_cannot_go_up(
    desk, make_agent, clock, served
):
    agent = agent_on_air(desk, make_agent)
    air_first_two(agent, clock)
    age(agent)
    served.httpd.shutdown()  # the server is away

    with pytest.raises(StateError, match="còn 2 dòng nhật ký chưa gửi"):
        restart(agent, clock)

    assert revision_of(agent) == "an-older-revision"  # kept as it was
    with contextlib.closing(sqlite3.connect(agent.state.database)) as conn:
        assert conn.execute("SELECT count(*) FROM broadcast_log").fetchone()[0] == 2
    assert db.session.scalar(select(BroadcastLog.id)) is None


def test_an_old_database_holding_an_airing_cut_off_mid_play_is_kept(desk, make_agent, clock):
    agent = agent_on_air(desk, make_agent)
    first = local_airings(agent)[0]
    with agent.app.app_context():  # claimed and started, then the process died
        db.session.execute(
            update(Airing)
            .where(Airing.id == first.id)
            .values(status=AiringStatus.CLAIMED, claimed_by="agent:old", claimed_at=clock.now())
        )
        db.session.commit()
        db.session.remove()
    age(agent)

    with pytest.raises(StateError, match="1 lượt phát đang dở"):
        restart(agent, clock)
    assert revision_of(agent) == "an-older-revision"
