# ruff: noqa: F811 (the spots fixture is imported from test_runner)
"""Which stations a runner airs: the central runner never airs (nor logs missed) a station its
agent airs, a switch committed before a claim wins, and an agent host airs its own station
whatever the mode its copy says. Operators cannot write into an agent-run station's log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app

from app.broadcast.models import LogStatus
from app.core.errors import Conflict
from app.extensions import db
from app.org.models import PlayoutMode, Station
from app.playout import manual, runner
from app.playout.outputs import SimulateOutput
from app.schedules.models import AiringStatus
from tests.playout.test_runner import HOST, log_rows, simulate, spots, status_of  # noqa: F401


def to_agent(station) -> None:
    """Hand the station to its agent, as set_playout_mode() does once the agent synced."""
    station.playout_mode = PlayoutMode.AGENT
    db.session.commit()


def test_central_runner_airs_only_centrally_aired_stations(spots, clock):
    agent_run, central = spots
    to_agent(agent_run.station)

    totals = runner.run_once(clock, HOST)

    assert totals["logged"] == 1
    assert [r.airing_key for r in log_rows()] == [central.airing_key]
    assert status_of(agent_run) == AiringStatus.PLANNED
    assert [job.airing_id for job in runner.due_jobs(clock.now(), timedelta(hours=1))] == []


def test_central_sweep_never_logs_an_agent_station_missed(spots, clock):
    agent_run, central = spots
    to_agent(agent_run.station)
    clock.advance(minutes=30)

    rows = runner.sweep_missed(clock.now(), HOST)

    assert [r.airing_key for r in rows] == [central.airing_key]
    assert status_of(agent_run) == AiringStatus.PLANNED


def test_a_switch_committed_after_the_job_was_listed_still_wins(spots, clock):
    """The job was due before the switch; the claim checks the mode in its UPDATE."""
    agent_run = spots[0]
    jobs = runner.due_jobs(clock.now(), timedelta(hours=1))
    assert agent_run.id in [job.airing_id for job in jobs]
    to_agent(agent_run.station)

    assert runner.air(agent_run.id, output=simulate(clock), clock=clock, host=HOST) is None
    assert runner.claim_airing(agent_run.id, HOST, clock.now()) is None
    assert log_rows() == [] and status_of(agent_run) == AiringStatus.PLANNED


def test_emergencies_of_an_agent_station_are_left_to_its_agent(spots, users, clock):
    agent_run, central = spots
    to_agent(agent_run.station)
    queued = manual.air_now(
        users["operator"], agent_run.script, [agent_run.station, central.station]
    )

    due = {job.airing_id for job in runner.due_emergencies(clock.now())}

    by_station = {a.station_id: a.id for a in queued}
    assert due == {by_station[central.station_id]}
    # Queued all the same: the agent finds it in its plan at its next sync.
    assert status_of(queued[0]) == AiringStatus.PLANNED


def test_an_agent_host_airs_its_station_whatever_its_mode(spots, clock):
    agent_run = spots[0]
    to_agent(agent_run.station)
    current_app.config["PLAYOUT_HOST"] = runner.AGENT_HOST
    try:
        row = runner.air(agent_run.id, output=simulate(clock), clock=clock, host="agent-1")
    finally:
        current_app.config.pop("PLAYOUT_HOST")

    assert row is not None and row.airing_key == agent_run.airing_key
    assert status_of(agent_run) == AiringStatus.AIRED


def test_skip_and_live_read_are_refused_on_an_agent_station(spots, users, clock):
    agent_run = spots[0]
    to_agent(agent_run.station)
    operator = users["operator"]

    with pytest.raises(Conflict, match="do máy trạm của đài phát"):
        manual.skip_airing(operator, agent_run, "mất điện ở xã")
    read = manual.LiveRead(
        station=agent_run.station,
        started_at=datetime(2026, 11, 27, 22, 0, tzinfo=UTC),
        duration_s=60,
        note="đọc thông báo mất điện",
    )
    with pytest.raises(Conflict, match="ghi lượt đọc trực tiếp"):
        manual.record_live_read(operator, read)
    assert log_rows() == [] and status_of(agent_run) == AiringStatus.PLANNED


class SwitchedMidPlay(SimulateOutput):
    """Simulate, with the station handed to its agent while the spot plays."""

    def play(self, path, duration_s, *, stop=None, meta=None):
        result = super().play(path, duration_s, stop=stop, meta=meta)
        with current_app.app_context():
            station = db.session.get(Station, self.station_id)
            station.playout_mode = PlayoutMode.AGENT
            db.session.commit()
        return result


def test_a_spot_playing_at_the_switch_to_agent_is_logged_by_the_central_runner(spots, clock):
    """The central runner's own claim ends centrally: its row is written (not refused as a
    write into the agent's chain), so the runner does not stall on it poll after poll."""
    agent_run = spots[0]
    output = SwitchedMidPlay({}, clock=clock)
    output.station_id = agent_run.station_id

    row = runner.air(agent_run.id, output=output, clock=clock, host=HOST)

    assert row is not None and row.status == LogStatus.AIRED
    db.session.expire_all()
    assert agent_run.station.playout_mode == PlayoutMode.AGENT
    assert status_of(agent_run) == AiringStatus.AIRED
    assert [r.airing_key for r in log_rows()] == [agent_run.airing_key]


def test_claims_left_at_the_switch_to_agent_are_swept_without_stalling(spots, clock):
    """A central claim abandoned on a station switched since: one never started goes back to
    planned (its agent airs it), one started is logged interrupted; the sweep goes on to the
    other stations."""
    never_started, started = spots
    for airing in spots:
        runner.claim_airing(airing.id, "crashed-runner", clock.now())
    runner.mark_started(started.id, runner.Claim.of(started), clock.now())
    to_agent(never_started.station)
    to_agent(started.station)
    clock.advance(seconds=runner.ABANDONED_S + 1)

    assert runner.sweep_missed(clock.now(), HOST) == []
    assert status_of(never_started) == AiringStatus.PLANNED
    clock.advance(seconds=started.duration_s + runner.GRACE_S)
    rows = runner.sweep_missed(clock.now(), HOST)

    assert [(r.airing_key, r.status) for r in rows] == [(started.airing_key, LogStatus.INTERRUPTED)]
    # Planned again, and past its grace now: its agent logs it missed, not the central runner.
    assert status_of(never_started) == AiringStatus.PLANNED
    assert status_of(started) == AiringStatus.INTERRUPTED


def test_a_station_switched_back_is_not_aired_centrally_until_its_agent_hands_over(spots, clock):
    agent_run, central = spots
    agent_run.station.awaiting_agent_since = clock.now()
    db.session.commit()

    assert runner.claim_airing(agent_run.id, HOST, clock.now()) is None
    clock.advance(minutes=30)
    rows = runner.sweep_missed(clock.now(), HOST)
    assert [r.airing_key for r in rows] == [central.airing_key]
    assert status_of(agent_run) == AiringStatus.PLANNED

    agent_run.station.awaiting_agent_since = None
    db.session.commit()
    rows = runner.sweep_missed(clock.now(), HOST)
    assert [(r.airing_key, r.status) for r in rows] == [(agent_run.airing_key, LogStatus.MISSED)]
