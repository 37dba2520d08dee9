"""Playout outputs: simulate on an injected clock, local players, the watched folder, Icecast."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.clock import FixedClock, SystemClock
from app.playout import outputs
from app.playout.outputs import (
    OUTPUTS,
    ClockSleeper,
    EventSleeper,
    FolderOutput,
    IcecastOutput,
    OutputError,
    SimulateOutput,
    get_output,
    output_choices,
    register_output,
    sleeper_for,
)
from app.speech.audio import run_ffmpeg

START = datetime(2021, 9, 1, 0, 0, tzinfo=UTC)  # 07:00 in Asia/Ho_Chi_Minh

# One pytest-xdist worker runs this module: two Icecast servers started at once by two workers
# (as root, each dropping to nobody) once left one refusing connections after it had listened.
pytestmark = pytest.mark.xdist_group("outputs")


class StoppingClock(FixedClock):
    """A FixedClock that sets a stop event once it reaches a given time (an operator's stop)."""

    def __init__(self, start: datetime, stop_at: datetime, stop: threading.Event) -> None:
        super().__init__(start)
        self.stop_at = stop_at
        self.stop = stop

    def advance(self, **kwargs: float) -> None:
        """Move forward, then press stop if its time has come."""
        super().advance(**kwargs)
        if self.current >= self.stop_at:
            self.stop.set()


def make_audio(tmp_path: Path, name: str = "spot.mp3", data: bytes = b"ID3 fake audio") -> Path:
    """Write a small stand-in audio file (players in these tests never decode it)."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


def make_player(tmp_path: Path, body: str, name: str = "fakeplayer") -> Path:
    """Write an executable shell script that stands in for an audio player."""
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


# --- registry -------------------------------------------------------------------------------


def test_registry_offers_the_four_outputs_with_vietnamese_labels():
    choices = dict(output_choices())
    assert set(choices) >= {"simulate", "local", "folder", "icecast"}
    assert choices["simulate"].startswith("Mô phỏng")


def test_unknown_output_name_is_refused_in_vietnamese():
    with pytest.raises(OutputError) as info:
        get_output("radio-x", {}, clock=FixedClock(START))
    assert "Không có đầu phát “radio-x”" in info.value.message
    assert "simulate" in info.value.message
    assert info.value.retryable is False


def test_get_output_returns_configured_instance():
    clock = FixedClock(START)
    output = get_output("folder", {"path": "/x"}, clock=clock, config={"A": 1})
    assert isinstance(output, FolderOutput)
    assert output.settings == {"path": "/x"}
    assert output.clock is clock


def test_registering_another_class_under_a_taken_name_fails():
    class Impostor(SimulateOutput):
        name = "simulate"

    with pytest.raises(ValueError, match="already registered"):
        register_output(Impostor)
    assert OUTPUTS["simulate"] is SimulateOutput


# --- waiting --------------------------------------------------------------------------------


def test_sleeper_for_a_fixed_clock_advances_it_and_for_the_real_clock_waits_on_an_event():
    assert isinstance(sleeper_for(FixedClock(START)), ClockSleeper)
    assert isinstance(sleeper_for(SystemClock()), EventSleeper)


def test_event_sleeper_returns_at_once_when_stop_is_already_set():
    stop = threading.Event()
    stop.set()
    began = time.monotonic()
    assert EventSleeper().wait(60, stop) is False
    assert time.monotonic() - began < 1


# --- simulate -------------------------------------------------------------------------------


def test_simulate_waits_the_duration_on_the_clock_without_sleeping(tmp_path):
    clock = FixedClock(START)
    output = get_output("simulate", {}, clock=clock)
    began = time.monotonic()
    result = output.play(make_audio(tmp_path), 95.5)
    assert time.monotonic() - began < 1
    assert result.completed is True
    assert result.played_seconds == 95.5
    assert result.started_at == START
    assert result.ended_at == START + timedelta(seconds=95.5)
    assert clock.now() == result.ended_at


def test_simulate_stopped_midway_reports_what_was_played(tmp_path):
    stop = threading.Event()
    clock = StoppingClock(START, START + timedelta(seconds=5), stop)
    output = get_output("simulate", {}, clock=clock)
    result = output.play(make_audio(tmp_path), 30, stop=stop)
    assert result.completed is False
    assert result.played_seconds == 5
    assert result.ended_at == START + timedelta(seconds=5)


def test_simulate_with_stop_already_set_plays_nothing(tmp_path):
    stop = threading.Event()
    stop.set()
    result = get_output("simulate", {}, clock=FixedClock(START)).play(
        make_audio(tmp_path), 30, stop=stop
    )
    assert (result.completed, result.played_seconds) == (False, 0)


def test_simulate_on_the_real_clock_is_interrupted_by_stop(tmp_path):
    stop = threading.Event()
    output = get_output("simulate", {}, clock=SystemClock())
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    try:
        result = output.play(make_audio(tmp_path), 60, stop=stop)
    finally:
        timer.cancel()
        timer.join()
    assert result.completed is False
    assert 0 < result.played_seconds < 5
    assert result.started_at.tzinfo is not None


def test_simulate_refuses_an_audio_file_deleted_from_disk(tmp_path):
    output = get_output("simulate", {}, clock=FixedClock(START))
    with pytest.raises(OutputError) as info:
        output.play(tmp_path / "gone.mp3", 10)
    assert info.value.message.startswith("Tệp âm thanh không còn trên máy:")
    assert "gone.mp3" in info.value.message
    assert info.value.retryable is False


# --- local ----------------------------------------------------------------------------------


def test_local_runs_the_configured_player_on_the_file(tmp_path):
    marker = tmp_path / "played.txt"
    player = make_player(tmp_path, f'sleep 0.05\necho "$@" > "{marker}"')
    audio = make_audio(tmp_path)
    output = get_output("local", {"player": str(player)}, clock=FixedClock(START))
    output.check()
    result = output.play(audio, 0.05)
    assert result.completed is True
    assert marker.read_text().strip() == str(audio)
    assert 0.04 < result.played_seconds < 5
    assert result.ended_at == result.started_at + timedelta(seconds=result.played_seconds)


def test_local_player_failure_carries_its_last_stderr_line(tmp_path):
    player = make_player(tmp_path, 'echo "opening device" >&2\necho "no sound card" >&2\nexit 3')
    output = get_output("local", {"player": str(player)}, clock=FixedClock(START))
    with pytest.raises(OutputError) as info:
        output.play(make_audio(tmp_path), 1)
    assert "mã thoát 3" in info.value.message
    assert "no sound card" in info.value.message
    assert "opening device" not in info.value.message
    assert info.value.retryable is True


def test_local_stop_terminates_the_player(tmp_path):
    player = make_player(tmp_path, "exec sleep 30")
    output = get_output("local", {"player": str(player)}, clock=FixedClock(START))
    stop = threading.Event()
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    began = time.monotonic()
    try:
        result = output.play(make_audio(tmp_path), 30, stop=stop)
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - began < 5
    assert result.completed is False
    assert result.played_seconds < 5


def _running(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting for a reaper."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def _gone_within(pid: int, seconds: float) -> bool:
    """Whether the process has ended before the deadline (polled, never a fixed sleep)."""
    deadline = time.monotonic() + seconds
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.01)
    return True


def test_local_stop_also_ends_what_a_wrapper_script_started(tmp_path):
    pidfile = tmp_path / "child.pid"
    player = make_player(tmp_path, f'sleep 30 &\necho $! > "{pidfile}"\nwait')
    output = get_output("local", {"player": str(player)}, clock=FixedClock(START))
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    try:
        result = output.play(make_audio(tmp_path), 30, stop=stop)
    finally:
        timer.cancel()
        timer.join()
    assert result.completed is False
    # The signal is delivered at once, but the grandchild's exit is the kernel's to schedule:
    # wait for it with a deadline rather than assume it is already gone.
    assert _gone_within(int(pidfile.read_text()), seconds=5)


def test_local_missing_configured_player_says_how_to_fix(tmp_path):
    output = get_output("local", {"player": str(tmp_path / "nope")}, clock=FixedClock(START))
    with pytest.raises(OutputError) as info:
        output.check()
    assert "Không tìm thấy trình phát" in info.value.message
    assert "apt-get install mpg123" in info.value.message


def test_local_without_any_player_on_the_machine_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    output = get_output("local", {}, clock=FixedClock(START))
    with pytest.raises(OutputError) as info:
        output.check()
    assert "cài mpv hoặc mpg123: apt-get install mpg123" in info.value.message.replace("ví dụ ", "")


def test_local_picks_the_first_installed_player_that_plays_the_format(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log.txt"
    for name in ("mpg123", "aplay"):
        make_player(bin_dir, f'echo "{name} $@" >> "{log}"', name=name)
    monkeypatch.setenv("PATH", str(bin_dir))
    output = get_output("local", {}, clock=FixedClock(START))
    output.play(make_audio(tmp_path, "a.wav"), 0)
    output.play(make_audio(tmp_path, "b.mp3"), 0)
    lines = log.read_text().splitlines()
    assert lines[0] == f"aplay -q {tmp_path / 'a.wav'}"
    assert lines[1] == f"mpg123 -q {tmp_path / 'b.mp3'}"


def test_local_refuses_an_audio_file_deleted_from_disk(tmp_path):
    player = make_player(tmp_path, "exit 0")
    output = get_output("local", {"player": str(player)}, clock=FixedClock(START))
    with pytest.raises(OutputError, match="Tệp âm thanh không còn trên máy"):
        output.play(tmp_path / "gone.mp3", 1)


# --- folder ---------------------------------------------------------------------------------


META = {"station": "XA-01", "planned": START, "script": 42, "version": 3}


def test_folder_copies_the_file_under_the_default_pattern_in_local_time(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    audio = make_audio(tmp_path, data=b"\xff\xfb real mp3 bytes")
    output = get_output("folder", {"path": str(watched)}, clock=FixedClock(START))
    output.check()
    result = output.play(audio, 42.5, meta=META)
    assert [p.name for p in watched.iterdir()] == ["XA-01_20210901_070000_42.mp3"]
    assert (watched / "XA-01_20210901_070000_42.mp3").read_bytes() == audio.read_bytes()
    assert result.completed is True
    assert result.played_seconds == 42.5
    assert result.started_at == START


def test_folder_pattern_can_use_version_and_a_retry_replaces_the_same_file(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    settings = {"path": str(watched), "pattern": "{planned:%H%M%S}-{station}-v{version}.{ext}"}
    output = get_output("folder", settings, clock=FixedClock(START))
    output.play(make_audio(tmp_path, data=b"first"), 1, meta=META)
    output.play(make_audio(tmp_path, data=b"second"), 1, meta=META)
    assert [p.name for p in watched.iterdir()] == ["070000-XA-01-v3.mp3"]
    assert (watched / "070000-XA-01-v3.mp3").read_bytes() == b"second"


def test_folder_names_cannot_escape_the_folder(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    output = get_output("folder", {"path": str(watched)}, clock=FixedClock(START))
    output.play(make_audio(tmp_path), 1, meta={**META, "station": "../../etc"})
    (written,) = watched.iterdir()
    assert "/" not in written.name and written.parent == watched


def test_folder_pattern_with_an_unknown_field_is_refused(tmp_path):
    settings = {"path": str(tmp_path), "pattern": "{campaign}.{ext}"}
    output = get_output("folder", settings, clock=FixedClock(START))
    with pytest.raises(OutputError, match="dùng trường 'campaign' không có"):
        output.play(make_audio(tmp_path), 1, meta=META)


def test_folder_check_refuses_a_missing_folder(tmp_path):
    output = get_output("folder", {"path": str(tmp_path / "nope")}, clock=FixedClock(START))
    with pytest.raises(OutputError, match="không tồn tại"):
        output.check()


def test_folder_check_refuses_a_folder_it_cannot_write(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # Root may write anywhere, so an unwritable folder is simulated rather than chmod-ed.
    monkeypatch.setattr(outputs.tempfile, "TemporaryFile", refuse)
    output = get_output("folder", {"path": str(tmp_path)}, clock=FixedClock(START))
    with pytest.raises(OutputError, match="Không ghi được vào thư mục"):
        output.check()


def test_folder_failed_copy_leaves_no_partial_file(tmp_path, monkeypatch):
    watched = tmp_path / "watched"
    watched.mkdir()

    def full_disk(src, dst, length=0):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.shutil, "copyfileobj", full_disk)
    output = get_output("folder", {"path": str(watched)}, clock=FixedClock(START))
    with pytest.raises(OutputError) as info:
        output.play(make_audio(tmp_path), 1, meta=META)
    assert info.value.retryable is True
    assert list(watched.iterdir()) == []


# --- icecast --------------------------------------------------------------------------------


PASSWORD = "s3cr3t-pa$$"


def test_icecast_check_needs_url_and_password(monkeypatch):
    monkeypatch.delenv("LOA_ICECAST_PASSWORD", raising=False)
    clock = FixedClock(START)
    with pytest.raises(OutputError, match="Chưa cấu hình địa chỉ máy chủ Icecast"):
        get_output("icecast", {}, clock=clock).check()
    with pytest.raises(OutputError, match="Chưa có mật khẩu nguồn"):
        get_output("icecast", {"url": "http://127.0.0.1:8000/loa.mp3"}, clock=clock).check()
    with pytest.raises(OutputError, match="không hợp lệ"):
        get_output("icecast", {"url": "ftp://h/x", "password": "p"}, clock=clock).check()
    monkeypatch.setenv("LOA_ICECAST_PASSWORD", PASSWORD)
    get_output("icecast", {"url": "http://127.0.0.1:8000/loa.mp3"}, clock=clock).check()


def test_icecast_check_reports_a_missing_ffmpeg(tmp_path):
    settings = {"url": "http://127.0.0.1:8000/loa.mp3", "password": PASSWORD}
    config = {"FFMPEG_BINARY": str(tmp_path / "no-ffmpeg")}
    with pytest.raises(OutputError, match="Không tìm thấy ffmpeg"):
        get_output("icecast", settings, clock=FixedClock(START), config=config).check()


def test_icecast_command_streams_in_real_time_to_the_mount():
    settings = {"url": "http://radio.local:8001/xa01.mp3", "password": PASSWORD}
    output = get_output("icecast", settings, clock=FixedClock(START))
    assert isinstance(output, IcecastOutput)
    command, secret = output.command(Path("/a/spot.mp3"))
    assert command[command.index("-re") + 1 : command.index("-re") + 3] == ["-i", "/a/spot.mp3"]
    assert command[-7:-1] == ["-b:a", "128k", "-content_type", "audio/mpeg", "-f", "mp3"]
    assert command[-1] == f"icecast://source:{secret}@radio.local:8001/xa01.mp3"
    assert "libmp3lame" in command


@pytest.fixture(scope="module")
def tone_mp3(tmp_path_factory) -> Path:
    """A real 2-second 440 Hz MP3 made with ffmpeg's sine source."""
    path = tmp_path_factory.mktemp("audio") / "tone.mp3"
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            str(path),
        ]
    )
    return path


def _free_port() -> int:
    """Return a TCP port nothing listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_icecast_connection_refused_is_retryable_and_masks_the_password(tone_mp3, caplog):
    port = _free_port()
    settings = {"url": f"http://127.0.0.1:{port}/loa.mp3", "password": PASSWORD}
    output = get_output("icecast", settings, clock=FixedClock(START))
    with pytest.raises(OutputError) as info:
        output.play(tone_mp3, 2)
    assert info.value.retryable is True
    assert "Connection refused" in info.value.message
    assert PASSWORD not in info.value.message
    assert PASSWORD not in caplog.text
    assert "s3cr3t" not in caplog.text


ICECAST_CONFIG = """<icecast>
  <limits><sources>4</sources><burst-size>65536</burst-size></limits>
  <authentication>
    <source-password>{password}</source-password>
    <admin-user>admin</admin-user>
    <admin-password>admin-{password}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>{logdir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>-</accesslog><errorlog>-</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{changeowner}</security>
</icecast>
"""
ICECAST_MISSING = "ICECAST2 NOT INSTALLED: icecast output NOT tested; apt-get install icecast2"
ICECAST_PASSWORD = "hackme-2"


@pytest.fixture
def icecast(tmp_path) -> Iterator[str]:
    """A real Icecast server (Debian's icecast2) on 127.0.0.1; yields its base URL."""
    binary = shutil.which("icecast2")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(ICECAST_MISSING)
        pytest.skip(ICECAST_MISSING)
    port = _free_port()
    logdir = tmp_path / "icecast-log"
    logdir.mkdir()
    # icecast2 refuses to run as root unless it drops privileges. It opens its logs after the
    # switch, so both logs go to stderr, which is a file this (root) process opened for it.
    changeowner = ""
    if os.geteuid() == 0:
        changeowner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
    config = tmp_path / "icecast.xml"
    config.write_text(
        ICECAST_CONFIG.format(
            password=ICECAST_PASSWORD, port=port, logdir=logdir, changeowner=changeowner
        )
    )
    log_path = tmp_path / "icecast.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"icecast2 exited at start:\n{log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"icecast2 did not listen:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _mounts(base: str) -> list[str]:
    """Return the listen URLs of the mounts Icecast's status page lists."""
    with urllib.request.urlopen(f"{base}/status-json.xsl", timeout=2) as response:
        body = response.read().decode("utf-8", "replace")
    try:
        stats = json.loads(body)["icestats"]
    except ValueError:  # icecast 2.4.4 may serve malformed JSON while no source is connected
        return []
    sources = stats.get("source") or []
    if isinstance(sources, dict):
        sources = [sources]
    return [s.get("listenurl", "") for s in sources]


def test_icecast_streams_a_real_mp3_to_a_real_server(icecast, tone_mp3):
    output = get_output(
        "icecast",
        {"url": f"{icecast}/xa01.mp3", "password": ICECAST_PASSWORD},
        clock=FixedClock(START),
    )
    output.check()
    outcome: dict = {}

    def stream() -> None:
        try:
            outcome["result"] = output.play(tone_mp3, 2.0)
        except OutputError as exc:  # pragma: no cover - reported by the assertions below
            outcome["error"] = exc

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        seen: list[str] = []
        audio = b""
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not any(u.endswith("/xa01.mp3") for u in seen):
            seen = _mounts(icecast)
            time.sleep(0.05)
        if any(u.endswith("/xa01.mp3") for u in seen):
            with urllib.request.urlopen(f"{icecast}/xa01.mp3", timeout=3) as response:
                content_type = response.headers.get("Content-Type")
                audio = response.read(2048)
    finally:
        worker.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert any(u.endswith("/xa01.mp3") for u in seen), seen
    assert content_type == "audio/mpeg"
    assert len(audio) == 2048
    result = outcome["result"]
    assert result.completed is True
    # -re: real time after ffmpeg's initial burst (0.5 s by default), so about 1.5-2 s.
    assert 1.0 < result.played_seconds < 10


def test_icecast_wrong_password_is_refused_and_not_retried(icecast, tone_mp3, caplog):
    output = get_output(
        "icecast",
        {"url": f"{icecast}/xa01.mp3", "password": "wrong-secret"},
        clock=FixedClock(START),
    )
    with pytest.raises(OutputError) as info:
        output.play(tone_mp3, 2.0)
    assert info.value.retryable is False
    assert "401" in info.value.message
    assert "mật khẩu nguồn" in info.value.message
    assert "wrong-secret" not in info.value.message
    assert "wrong-secret" not in caplog.text


def test_icecast_stop_ends_the_stream_early(icecast, tone_mp3):
    output = get_output(
        "icecast",
        {"url": f"{icecast}/xa02.mp3", "password": ICECAST_PASSWORD},
        clock=FixedClock(START),
    )
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    try:
        result = output.play(tone_mp3, 2.0, stop=stop)
    finally:
        timer.cancel()
        timer.join()
    assert result.completed is False
    assert result.played_seconds < 1.8
