"""The agent's disk full (issue 12, item 9), against the server as a real process: a download
the disk refuses is discarded and reported in Vietnamese, the health report warns of the disk,
what is cached still airs, a log row the database refuses is kept and written once there is
room; then the missing audio arrives and airs. 0 duplicate and 0 lost airings, and a chain the
server verifies.

The agent runs in the test process on the test's clock (as in test_server_down.py), so the
disk can be filled exactly where it matters (FullDisk): no root is needed, and no tmpfs."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

import errno
import os
import sqlite3
from collections import Counter
from datetime import time, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from app.agents import service
from app.agents.health import station_states
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import verify_chain
from app.extensions import db
from app.org.models import Station
from app.playout import runner
from app.schedules.models import Airing, AiringStatus
from app.station_agent import sync
from tests.agents.conftest import approved_with_own_audio, desk, schedule_on  # noqa: F401
from tests.station_agent.test_agent import local_airings
from tests.station_agent.test_faults import longer_audio
from tests.station_agent.test_server_down import DAY

GB = 10**9


class _Filling:
    """A file being written on a disk with `room` bytes left: past them, ENOSPC."""

    def __init__(self, handle, path: Path, room: int) -> None:
        self.handle, self.path, self.room = handle, path, room

    def write(self, data: bytes) -> int:
        left = self.room - self.handle.tell()
        if len(data) > left:
            self.handle.write(data[: max(left, 0)])  # what fits lands, as with a real disk
            self.handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()


class FullDisk:
    """The agent's disk with almost no room left, as the agent sees it while `full`: an audio
    file being downloaded fails with ENOSPC past `room` bytes, SQLite cannot grow its file for a
    new log row ("database or disk is full", SQLITE_FULL; rewriting the pages it has, as a
    claim does, still works), and disk_usage reports the disk nearly full."""

    def __init__(self, monkeypatch, agent, room: int = 8_000) -> None:
        self.full = False
        self.room = room
        self.refused_rows = 0
        partial = agent.state.partial
        real_open = Path.open
        real_usage = sync.shutil.disk_usage

        def open_(path, mode="r", *args, **kwargs):
            handle = real_open(path, mode, *args, **kwargs)
            if self.full and path.parent == partial and ("w" in mode or "a" in mode):
                return _Filling(handle, path, self.room)
            return handle

        def usage(path):
            if not self.full:
                return real_usage(path)
            return SimpleNamespace(total=32 * GB, used=32 * GB - self.room, free=self.room)

        def execute(cursor, statement, parameters, context):
            if self.full and statement.lstrip().upper().startswith("INSERT INTO BROADCAST_LOG"):
                self.refused_rows += 1
                raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(Path, "open", open_)
        monkeypatch.setattr(sync, "shutil", SimpleNamespace(disk_usage=usage))
        with agent.app.app_context():
            event.listen(db.engine, "do_execute", execute)


def warnings(station: Station, server_process) -> dict[str, str]:
    """The station's health warnings as the server shows them, by code."""
    db.session.rollback()  # see the server process's commits
    states = station_states([db.session.get(Station, station.id)], server_process.clock.now())
    return {w["code"]: w["message"] for w in states[station.id]["warnings"]}


def test_disk_full_discards_the_download_keeps_airing_and_catches_up_once_there_is_room(
    desk, make_agent, server_process, users, org, app, clock, monkeypatch
):
    agent = make_agent(desk.commune, url=server_process.url)
    agent.sync()  # the desk's spot and its audio are cached
    # A new spot the next morning whose audio (48 KB) will not fit.
    news = approved_with_own_audio(users, org.district, "Tin mới", 550)
    size = len(longer_audio(app, news.approved_render, 3.0))
    schedule_on(users, news, [desk.commune], time(5, 45), start=DAY + timedelta(days=1))
    db.session.commit()
    service.set_playout_mode(None, desk.commune, "agent")
    disk = FullDisk(monkeypatch, agent)
    sha = news.approved_render.audio_sha256

    def at(when) -> None:
        clock.current = when
        server_process.clock.set(when)

    cached, *_ = local_airings(agent)  # the desk's 05:45, sequenced to 05:30 on 28/11
    at(cached.sequenced_at - timedelta(minutes=5))

    disk.full = True
    result = agent.sync()

    # The download is discarded with a clear problem; the plan is applied, the sync goes on.
    [problem] = result.problems
    assert problem.startswith("Hết dung lượng đĩa: không ghi được tệp âm thanh")
    assert f"{sha[:12]}…" in problem and f"({size // 1000} KB)" in problem
    assert str(agent.state.partial) in problem
    assert result.plan_changed and result.downloaded == 0 and agent.airs()
    assert not list(agent.state.partial.iterdir())
    assert not (agent.state.audio / f"{sha}.wav").exists()
    assert agent.settings.plan_etag == ""  # the next sync fetches what is missing
    found = warnings(desk.commune, server_process)
    assert set(found) == {"disk", "audio_missing"}
    assert found["disk"].startswith("Ổ đĩa máy trạm sắp đầy: còn trống 0 MB")

    # The cached spot airs; its log row cannot be written, so it is kept, not lost or redone.
    with agent.app.app_context():
        at(cached.sequenced_at)
        assert runner.run_once(clock, agent.host)["logged"] == 0
        at(cached.sequenced_at + timedelta(minutes=10))  # past its duration and grace
        assert runner.run_once(clock, agent.host) == {"missed": 0, "logged": 0}
        held = db.session.get(Airing, cached.id)
        assert held.status == AiringStatus.CLAIMED and held.started_at == cached.sequenced_at
        assert db.session.scalars(select(BroadcastLog)).all() == []
        db.session.remove()
    assert disk.refused_rows == 2  # refused once after the play, once more at the next sweep
    assert agent.sync().problems  # still full: nothing fetched

    disk.full = False  # room again
    with agent.app.app_context():
        runner.run_once(clock, agent.host)  # the sweep writes the kept row
        db.session.remove()
    result = agent.sync()
    assert (result.downloaded, result.uploaded, result.problems) == (1, 1, [])
    assert (agent.state.audio / f"{sha}.wav").stat().st_size == size
    assert warnings(desk.commune, server_process) == {}

    # Everything proceeds: the desk's spots up to the new one, and the new one, air once each.
    airings = local_airings(agent)
    fresh = next(a for a in airings if a.script_id == news.id)
    then = [a for a in airings if cached.sequenced_at < a.sequenced_at <= fresh.sequenced_at]
    with agent.app.app_context():
        for airing in then:
            at(airing.sequenced_at)
            assert runner.run_once(clock, agent.host)["logged"] == 1
        db.session.remove()
    assert agent.sync().uploaded == len(then) == 3  # 17:15, the next 05:45 and the new spot

    db.session.rollback()
    rows = db.session.scalars(
        select(BroadcastLog).where(BroadcastLog.station_id == desk.commune.id)
    ).all()
    keys = [cached.airing_key, *(a.airing_key for a in then)]
    assert Counter(r.airing_key for r in rows) == dict.fromkeys(keys, 1)
    assert {r.status for r in rows} == {LogStatus.AIRED}
    [kept] = [r for r in rows if r.airing_key == cached.airing_key]
    assert kept.started_at == cached.sequenced_at  # the play's own time, not the late write's
    statuses = db.session.scalars(select(Airing.status).where(Airing.airing_key.in_(keys))).all()
    assert statuses == [AiringStatus.AIRED] * 4
    assert verify_chain().ok


# The agent drops the connection mid-download on purpose. Werkzeug's development server (the
# test's, not production's gunicorn) then fails reading the rest of the request and skips
# closing the response, so the audio file it was sending is left to the garbage collector,
# whose ResourceWarning lands in this test now and then.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("code", [errno.EFBIG, errno.EIO])
def test_a_write_refused_mid_download_is_a_clear_error_not_a_crash(
    desk, make_agent, monkeypatch, code
):
    agent = make_agent(desk.commune)
    real_open = Path.open

    def refusing(path, mode="r", *args, **kwargs):
        if path.parent == agent.state.partial and "w" in mode:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing)
    result = agent.sync()

    [problem] = result.problems
    if code == errno.EFBIG:  # past the agent's file size limit (RLIMIT_FSIZE)
        assert problem.startswith("Hết dung lượng đĩa")
    else:
        assert problem.startswith("Không ghi được tệp âm thanh") and os.strerror(code) in problem
    assert result.plan_changed and result.downloaded == 0
    assert not list(agent.state.audio.glob("*.wav"))
