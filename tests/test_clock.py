"""The clocks: FileClock reads its time from a file, and LOA_CLOCK_FILE selects it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app import create_app
from app.config import build_config
from app.core.clock import ClockFileError, FileClock, SystemClock
from app.playout.outputs import EventSleeper, sleeper_for

T = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_file_clock_reads_the_file_on_every_call(tmp_path):
    path = tmp_path / "clock"
    clock = FileClock(path)
    clock.set(T)
    assert path.read_text() == "2026-11-27T01:00:00Z"
    assert clock.now() == T and clock.now().tzinfo is UTC
    # Another process moves the clock by rewriting the file.
    path.write_text("2026-11-27T08:30:15+07:00\n")
    assert clock.now() == T + timedelta(minutes=30, seconds=15)
    assert clock.now().tzinfo is UTC


def test_file_clock_set_converts_to_utc_and_refuses_a_naive_time(tmp_path):
    clock = FileClock(tmp_path / "clock")
    clock.set(T.astimezone(timezone(timedelta(hours=-5))))
    assert (tmp_path / "clock").read_text() == "2026-11-27T01:00:00Z"
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 11, 27, 1, 0))
    assert list(tmp_path.iterdir()) == [tmp_path / "clock"]  # no temporary file left


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "holds ''"),
        ("ngày mai", "holds 'ngày mai'"),
        ("27/11/2026 08:00", "holds '27/11/2026 08:00'"),
        ("2026-11-27T01:00:00", "without an offset"),
    ],
)
def test_file_clock_says_clearly_what_is_wrong_with_the_file(tmp_path, content, fragment):
    path = tmp_path / "clock"
    path.write_text(content)
    with pytest.raises(ClockFileError) as caught:
        FileClock(path).now()
    message = str(caught.value)
    assert fragment in message and str(path) in message
    assert "ISO-8601" in message and "2026-11-27T01:00:00Z" in message


def test_file_clock_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ClockFileError, match=r"cannot read clock file .*missing"):
        FileClock(tmp_path / "missing").now()


def test_file_clock_cannot_be_advanced_so_outputs_wait_in_real_time(tmp_path):
    """Were it advanceable, a simulated airing would move the file clock by itself."""
    clock = FileClock(tmp_path / "clock")
    assert not hasattr(clock, "advance")
    assert isinstance(sleeper_for(clock), EventSleeper)


def test_loa_clock_file_selects_the_file_clock(monkeypatch, tmp_path):
    path = tmp_path / "clock"
    FileClock(path).set(T)
    monkeypatch.setenv("LOA_CLOCK_FILE", str(path))
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    config = build_config(tmp_path)
    assert isinstance(config["CLOCK"], FileClock) and config["CLOCK"].path == path
    app = create_app({"INSTANCE_PATH": tmp_path / "instance"})
    assert app.extensions["loa.clock"].now() == T
    # A clock given by the caller (as the tests do) still wins.
    given = SystemClock()
    assert create_app({"INSTANCE_PATH": tmp_path, "CLOCK": given}).extensions["loa.clock"] is given


def test_a_bad_clock_file_stops_the_app_at_start(monkeypatch, tmp_path):
    (tmp_path / "clock").write_text("soon")
    monkeypatch.setenv("LOA_CLOCK_FILE", str(tmp_path / "clock"))
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    with pytest.raises(ClockFileError, match="holds 'soon'"):
        build_config(tmp_path)


def test_without_loa_clock_file_the_clock_is_the_system_clock(monkeypatch, tmp_path):
    monkeypatch.delenv("LOA_CLOCK_FILE", raising=False)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    assert "CLOCK" not in build_config(tmp_path)
    app = create_app({"INSTANCE_PATH": tmp_path / "instance"})
    assert isinstance(app.extensions["loa.clock"], SystemClock)
