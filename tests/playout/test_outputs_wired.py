"""Every output through the path users take: schedule → airing → runner cue → output → log.

The outputs' own tests hand them metadata made in the test; these give the runner a station
configured for the output (PLAYOUT_STATIONS) and let `flask scheduler run --once` do the rest,
so an output whose fields or settings do not match what the runner passes fails here.
"""

from __future__ import annotations

import os
import shutil
import stat
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from app.broadcast.models import BroadcastLog, LogStatus
from app.core.clock import LOCAL_TZ
from app.extensions import db
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import ScriptVersion
from app.speech.service import audio_dir
from tests.playout.test_outputs import ICECAST_PASSWORD, icecast  # noqa: F401 (fixture)
from tests.playout.test_runner import spots  # noqa: F401 (fixture)

# The Icecast server fixture: one pytest-xdist worker for every module that starts one.
pytestmark = pytest.mark.xdist_group("outputs")


def run_once(app) -> str:
    """Run one cycle of the real runner command and return what it printed."""
    result = app.test_cli_runner().invoke(args=["scheduler", "run", "--once", "--host", "wired"])
    assert result.exit_code == 0, result.output
    return result.output


def configure(app, airings: list[Airing], output: str, settings: dict) -> None:
    """Give every station of the airings this output, as an operator's config would."""
    codes = {a.station.code for a in airings}
    app.config["PLAYOUT_OUTPUT"] = "simulate"
    app.config["PLAYOUT_STATIONS"] = {
        code: {"output": output, "settings": settings} for code in codes
    }


def logged(airings: list[Airing]) -> list[BroadcastLog]:
    """The log rows of these airings, by station."""
    db.session.expire_all()
    keys = [a.airing_key for a in airings]
    return db.session.scalars(
        select(BroadcastLog)
        .where(BroadcastLog.airing_key.in_(keys))
        .order_by(BroadcastLog.station_id)
    ).all()


def assert_aired(airings: list[Airing]) -> list[BroadcastLog]:
    """Each airing has exactly one log row, aired, and its airing is marked aired."""
    rows = logged(airings)
    assert [(r.airing_key, r.status, r.reason) for r in rows] == [
        (a.airing_key, LogStatus.AIRED, "") for a in sorted(airings, key=lambda a: a.station_id)
    ]
    assert {db.session.get(Airing, a.id).status for a in airings} == {AiringStatus.AIRED}
    assert {r.runner_host for r in rows} == {"wired"}
    return rows


def test_simulate_airs_through_the_runner(app, spots):  # noqa: F811
    configure(app, spots, "simulate", {})
    output = run_once(app)
    assert "Đã ghi nhật ký 2 lượt phát" in output
    rows = assert_aired(spots)
    assert all(r.duration_s == pytest.approx(0.2) for r in rows)


def test_folder_output_lands_the_file_named_by_the_documented_pattern(app, spots, tmp_path):  # noqa: F811
    watched = tmp_path / "watched"
    watched.mkdir()
    configure(app, spots, "folder", {"path": str(watched)})
    run_once(app)

    assert_aired(spots)
    expected = {}
    for airing in spots:
        planned = airing.sequenced_at.astimezone(LOCAL_TZ)
        name = f"{airing.station.code}_{planned:%Y%m%d_%H%M%S}_{airing.script_id}.wav"
        expected[name] = (audio_dir() / airing.render.audio_path).read_bytes()
    assert {p.name: p.read_bytes() for p in watched.iterdir()} == expected


def test_folder_pattern_with_every_documented_field_works_through_the_runner(app, spots, tmp_path):  # noqa: F811
    watched = tmp_path / "watched"
    watched.mkdir()
    pattern = "{planned:%Y-%m-%d_%H%M%S}_{station}_s{script}_v{version}.{ext}"
    configure(app, spots, "folder", {"path": str(watched), "pattern": pattern})
    run_once(app)

    assert_aired(spots)
    names = sorted(p.name for p in watched.iterdir())
    number = db.session.get(ScriptVersion, spots[0].version_id).number
    planned = spots[0].sequenced_at.astimezone(LOCAL_TZ)
    script = spots[0].script_id
    assert names == sorted(
        f"{planned:%Y-%m-%d_%H%M%S}_{a.station.code}_s{script}_v{number}.wav" for a in spots
    )


def test_local_output_plays_the_approved_file_through_the_runner(app, spots, tmp_path):  # noqa: F811
    played = tmp_path / "played.txt"
    player = tmp_path / "player"
    player.write_text(f'#!/bin/sh\necho "$@" >> "{played}"\n')
    player.chmod(player.stat().st_mode | stat.S_IXUSR)
    configure(app, spots, "local", {"player": str(player)})
    run_once(app)

    rows = assert_aired(spots)
    files = [str(audio_dir() / a.render.audio_path) for a in spots]
    assert sorted(played.read_text().split()) == sorted(files)
    assert all(r.duration_s >= 0 for r in rows)


def _audio_seconds(path: Path) -> float:
    """Duration of a WAV file."""
    with wave.open(str(path)) as src:
        return src.getnframes() / src.getframerate()


def test_icecast_output_streams_to_a_real_server_through_the_runner(app, spots, tmp_path, icecast):  # noqa: F811
    if shutil.which("icecast2") is None:  # pragma: no cover - the fixture skips or fails first
        pytest.skip("icecast2 not installed")
    configure(app, spots, "icecast", {"url": f"{icecast}/wired.mp3", "password": ICECAST_PASSWORD})
    run_once(app)

    rows = assert_aired(spots)
    assert all(r.duration_s > 0 for r in rows)
    # The server saw a source on the mount the station is configured for, once per airing.
    log = (tmp_path / "icecast.log").read_text(errors="replace")
    logins = log.count('Source logging in at mountpoint "/wired.mp3"')
    accepted = log.count('"PUT /wired.mp3 HTTP/1.1" 200')
    assert (logins, accepted) == (len(spots), len(spots)), log
    assert _audio_seconds(audio_dir() / spots[0].render.audio_path) == pytest.approx(0.2)


def test_a_misconfigured_output_is_logged_failed_with_its_reason_not_aired(app, spots, tmp_path):  # noqa: F811
    configure(app, spots, "folder", {"path": str(tmp_path / "missing")})
    run_once(app)
    rows = logged(spots)
    assert [r.status for r in rows] == [LogStatus.FAILED, LogStatus.FAILED]
    assert all("không tồn tại" in r.reason or "Không chép" in r.reason for r in rows), [
        r.reason for r in rows
    ]
    assert not os.path.exists(tmp_path / "missing")
