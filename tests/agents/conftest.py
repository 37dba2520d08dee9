"""Fixtures of the agent tests: an approved script scheduled on two stations of the district
(one more elsewhere), agents added and enrolled through the real endpoints, and a caller that
sends an agent's credential."""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from app.agents import service
from app.agents.models import Agent
from app.auth.models import Role, User
from app.broadcast.models import GENESIS_HASH, BroadcastLog, LogStatus
from app.broadcast.service import HASH_VERSION, compute_row_hash, row_from_json, row_json
from app.extensions import db
from app.org.models import Station
from app.schedules import service as schedules
from app.schedules.models import Airing, Schedule
from app.schedules.recurrence import Recurrence
from app.scripts.models import Priority, Script
from app.scripts.service import approve_script
from app.speech.models import Render
from app.speech.pipeline import sha256_file
from tests.factories import make_script, make_station, make_user, submit
from tests.schedules.test_service import approved_script, with_sessions

START = date(2026, 11, 28)  # the day after the test clock's today (27/11/2026, 08:00 local)
END = date(2026, 12, 4)


@dataclass
class Desk:
    """What the plan is made of."""

    script: Script
    commune: Station
    city: Station
    foreign: Station
    schedule: Schedule


def schedule_on(
    users, script, stations, *times: time, start=START, end=END, actor=None
) -> Schedule:
    """Schedule the script at fixed local times every day from start to end, as the operator
    (or actor)."""
    data = schedules.ScheduleInput(
        script=script,
        recurrence=Recurrence(kind="times", times=times, start_date=start, end_date=end),
        stations=stations,
        confirm_warnings=True,
    )
    return schedules.create_schedule(actor or users["operator"], data)


def own_audio(render: Render, hz: int) -> Render:
    """Give a render audio of its own (make_render's tone is the same file every time, so
    every render would share one sha256)."""
    path = Path(current_app.config["AUDIO_DIR"]) / render.audio_path
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        tone = (int(8000 * math.sin(2 * math.pi * hz * i / 8000)) for i in range(1600))
        out.writeframes(b"".join(struct.pack("<h", s) for s in tone))
    render.audio_sha256 = sha256_file(path)
    db.session.commit()
    return render


def approved_with_own_audio(users, unit, title: str, hz: int, author="writer") -> Script:
    """A script rendered with audio no other script has, submitted and approved."""
    script = make_script(users[author], unit, title=title, valid_until=date(2026, 12, 31))
    submit(users[author], script)
    own_audio(db.session.get(Render, script.submitted_render_id), hz)
    return approve_script(users["supervisor"], script)


def foreign_script(users, org) -> tuple[Script, User]:
    """An approved script of the other district and an operator there to schedule it."""
    script = approved_with_own_audio(users, org.other_district, "Tin La Gi", 660, "outsider")
    return script, make_user(org.other_district, Role.OPERATOR, "operator-lagi")


@pytest.fixture
def desk(org, users) -> Desk:
    """An approved script aired at 05:45 and 17:15 on the commune's and the city's stations from
    28/11 to 4/12; a station of another district with nothing scheduled."""
    script = approved_script(users, org.district)
    commune = with_sessions(make_station(org.commune, "PT-PHUTHUY", "Đài Phú Thủy"))
    city = with_sessions(make_station(org.district, "PT-CITY", "Đài Phan Thiết"))
    foreign = with_sessions(make_station(org.other_district, "LG-RADIO", "Đài La Gi"))
    schedule = schedule_on(users, script, [commune, city], time(5, 45), time(17, 15))
    return Desk(script, commune, city, foreign, schedule)


class AgentCaller:
    """Calls with an agent's credential: caller.get(url, headers={...})."""

    def __init__(self, client, agent: Agent, credential: str) -> None:
        self.client = client
        self.agent = agent
        self.credential = credential

    def __getattr__(self, method):
        def call(url, headers=None, **kwargs):
            headers = {"Authorization": f"Bearer {self.credential}", **(headers or {})}
            return getattr(self.client, method)(url, headers=headers, **kwargs)

        return call


def enrol(client, code: str):
    """POST /api/v1/agent/enrol with a code."""
    return client.post("/api/v1/agent/enrol", json={"code": code})


@pytest.fixture
def enrolled(app):
    """Add an agent for a station and enrol it; returns a caller with its credential."""

    def _enrolled(station: Station, name: str = "") -> AgentCaller:
        new = service.add_agent(None, station, name)
        client = app.test_client()
        response = enrol(client, new.code)
        assert response.status_code == 201, response.get_json()
        return AgentCaller(client, new.agent, response.get_json()["credential"])

    return _enrolled


# --- Log rows as an agent writes them ------------------------------------------------------------

AGENT_HOST = "agent:PT-PHUTHUY:may-xa"


def agent_row(station: Station, after: tuple[int, str], airing=None, **fields) -> BroadcastLog:
    """The row an agent writes next in its chain (after = seq and row_hash of the row before):
    an airing aired on time by default, or a manual row when airing is None; hashed."""
    render = db.session.get(Render, airing.render_id) if airing else None
    start = airing.sequenced_at if airing else datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    values = {
        "station_id": station.id,
        "unit_id": station.unit_id,
        "planned_at": airing.sequenced_at if airing else None,
        "started_at": start,
        "ended_at": start + timedelta(seconds=12.5),
        "duration_s": 12.5,
        "status": LogStatus.AIRED,
        "reason": "",
        "script_id": airing.script_id if airing else None,
        "version_id": airing.version_id if airing else None,
        "render_id": airing.render_id if airing else None,
        "spoken_sha256": render.spoken_sha256 if render else "",
        "audio_sha256": render.audio_sha256 if render else "",
        "schedule_id": airing.schedule_id if airing else None,
        "airing_key": airing.airing_key if airing else None,
        "priority": airing.priority if airing else Priority.NORMAL,
        "operator_id": None,
        "runner_host": AGENT_HOST,
        "corrects_id": None,
        "corrects_hash": None,
        "correction_reason": "",
        # The agent's clock, with microseconds, a little after the airing ended.
        "created_at": start + timedelta(seconds=13, microseconds=250_001),
        "seq": after[0] + 1,
        "hash_version": HASH_VERSION,
        "prev_hash": after[1],
        **fields,
    }
    row = BroadcastLog(**values)
    row.row_hash = compute_row_hash(row)
    return row


def agent_chain(station: Station, airings, after=(0, GENESIS_HASH), **fields) -> list[dict]:
    """Rows for these airings (None: a manual row) continuing the chain after `after`, as
    the JSON an agent uploads."""
    rows = []
    for airing in airings:
        row = agent_row(station, after, airing, **fields)
        rows.append(row)
        after = (row.seq, row.row_hash)
    return [row_json(r) for r in rows]


def rehash(row: dict) -> dict:
    """A row's JSON with its row_hash recomputed over what it now says."""
    built = row_from_json(row)
    return {**row, "row_hash": compute_row_hash(built)}


def station_airings(station: Station) -> list:
    """The station's airings in the order they air."""
    return list(
        db.session.scalars(
            select(Airing)
            .where(Airing.station_id == station.id)
            .order_by(Airing.sequenced_at, Airing.id)
        )
    )
