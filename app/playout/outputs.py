"""Playout outputs behind one interface: simulate, the sound card, a watched folder, Icecast."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol
from urllib.parse import quote, unquote, urlsplit

from app.core.clock import Clock, to_local
from app.speech.audio import AudioToolMissing, ffmpeg_binary

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often a running player is checked for exit or a stop request
TERMINATE_GRACE_S = 2.0  # time a player gets to exit on SIGTERM before SIGKILL
STDERR_LINES = 20  # stderr lines kept from a player: the last one usually says why it failed
MASK = "***"


class OutputError(Exception):
    """An output could not air the audio; the Vietnamese message says why and what to do."""

    def __init__(
        self,
        message: str,
        *,
        output: str,
        retryable: bool = False,
        played_seconds: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.output = output
        self.retryable = retryable
        # How much was heard before the failure, so the log can tell "partial" from "failed".
        self.played_seconds = played_seconds


@dataclass(frozen=True)
class PlayResult:
    """What one airing through an output did: when, for how long, and whether it finished."""

    started_at: datetime
    ended_at: datetime
    played_seconds: float
    completed: bool
    detail: str = ""


# --- waiting --------------------------------------------------------------------------------


class Sleeper(Protocol):
    """A way to let time pass that a stop request can cut short."""

    def wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Let seconds pass; return False if stop was set first."""


class ClockSleeper:
    """Waits by advancing a controllable clock (FixedClock) in steps, checking stop between."""

    def __init__(self, clock: Any, step_s: float = 1.0) -> None:
        self.clock = clock
        self.step_s = step_s

    def wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Advance the clock by seconds, one step at a time; return False if stop was set."""
        remaining = seconds
        while remaining > 0:
            if stop is not None and stop.is_set():
                return False
            step = min(self.step_s, remaining)
            self.clock.advance(seconds=step)
            remaining -= step
        return not (stop is not None and stop.is_set())


class EventSleeper:
    """Waits in real time on an event, so a stop request wakes it at once."""

    def wait(self, seconds: float, stop: threading.Event | None) -> bool:
        """Block for seconds of real time; return False if stop was set first."""
        return not (stop or threading.Event()).wait(max(0.0, seconds))


def sleeper_for(clock: Clock, step_s: float = 1.0) -> Sleeper:
    """Return a ClockSleeper for a clock that can be advanced, else a real-time EventSleeper."""
    if callable(getattr(clock, "advance", None)):
        return ClockSleeper(clock, step_s)
    return EventSleeper()


# --- the interface and registry -------------------------------------------------------------


class Output(ABC):
    """Plays one audio file for one station."""

    name: ClassVar[str]
    label: ClassVar[str]

    def __init__(
        self,
        settings: Mapping[str, Any],
        *,
        clock: Clock,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings: Mapping[str, Any] = settings or {}
        self.clock = clock
        self.config: Mapping[str, Any] = config or {}

    @abstractmethod
    def check(self) -> None:
        """Raise OutputError if this output cannot work on this machine as configured."""

    @abstractmethod
    def play(
        self,
        path: Path,
        duration_s: float,
        *,
        stop: threading.Event | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> PlayResult:
        """Air the file (duration_s long); return early with completed=False when stop is set.

        meta holds the airing's fields (station, planned, script, version) for outputs that
        name what they deliver; the others ignore it.
        """

    def _error(self, message: str, **kwargs: Any) -> OutputError:
        """Return an OutputError for this output."""
        return OutputError(message, output=self.name, **kwargs)

    def _require_file(self, path: Path) -> Path:
        """Return path, or raise OutputError when the audio file is gone from disk."""
        path = Path(path)
        if not path.is_file():
            raise self._error(
                f"Tệp âm thanh không còn trên máy: {path}. "
                "Hãy tạo lại âm thanh cho bản tin rồi lên lịch lại."
            )
        return path

    def _now(self) -> datetime:
        """Return the clock's time as an aware UTC datetime."""
        return self.clock.now().astimezone(UTC)


OUTPUTS: dict[str, type[Output]] = {}


def register_output(cls: type[Output]) -> type[Output]:
    """Class decorator that makes an output available by its name."""
    existing = OUTPUTS.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"playout output {cls.name!r} is already registered by {existing!r}")
    OUTPUTS[cls.name] = cls
    return cls


def get_output(
    name: str,
    settings: Mapping[str, Any] | None = None,
    *,
    clock: Clock,
    config: Mapping[str, Any] | None = None,
) -> Output:
    """Return a new output by name, configured from its settings."""
    cls = OUTPUTS.get(name)
    if cls is None:
        raise OutputError(
            f"Không có đầu phát “{name}”. Các đầu phát hiện có: {', '.join(OUTPUTS)}. "
            "Hãy sửa cấu hình đầu phát của đài.",
            output=name,
        )
    return cls(settings or {}, clock=clock, config=config)


def output_choices() -> list[tuple[str, str]]:
    """Return (name, label) pairs for select boxes, in registration order."""
    return [(name, cls.label) for name, cls in OUTPUTS.items()]


# --- running a player process ---------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """How a player process ended."""

    returncode: int | None
    stderr_tail: list[str]
    elapsed_s: float
    stopped: bool
    timed_out: bool


def _drain(stream: IO[bytes], tail: deque[str]) -> None:
    """Read a process's stderr to the end, keeping the last lines (a full pipe would block it)."""
    for raw in iter(stream.readline, b""):
        for line in raw.decode("utf-8", "replace").replace("\r", "\n").splitlines():
            if line.strip():
                tail.append(line.strip())


def _terminate(proc: subprocess.Popen) -> None:
    """Stop a player and everything it started: SIGTERM to its group, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=TERMINATE_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _run_process(command: Sequence[str], *, stop: threading.Event | None, limit_s: float) -> _Run:
    """Run command until it exits, stop is set or limit_s passes; OSError if it cannot start."""
    stop = stop or threading.Event()
    tail: deque[str] = deque(maxlen=STDERR_LINES)
    started = time.monotonic()
    stopped = timed_out = False
    # A session of its own, so a stop also ends children (wrapper scripts, cvlc's helpers).
    with subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as proc:
        assert proc.stderr is not None
        reader = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
        reader.start()
        while proc.poll() is None:
            if stop.wait(POLL_S):
                stopped = proc.poll() is None
                break
            if time.monotonic() - started > limit_s:
                timed_out = True
                break
        if proc.poll() is None:
            _terminate(proc)
        reader.join(timeout=TERMINATE_GRACE_S)
    return _Run(proc.returncode, list(tail), time.monotonic() - started, stopped, timed_out)


def _time_limit(duration_s: float) -> float:
    """Return how long a player may run before it is taken for hung."""
    return max(0.0, duration_s) * 1.5 + 30.0


def _result(started_at: datetime, run: _Run, detail: str) -> PlayResult:
    """Build the PlayResult of a process-based airing from its real elapsed time."""
    return PlayResult(
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=run.elapsed_s),
        played_seconds=run.elapsed_s,
        completed=not run.stopped,
        detail=detail,
    )


# --- simulate -------------------------------------------------------------------------------


@register_output
class SimulateOutput(Output):
    """Airs nothing: waits the audio's duration on the clock; for demos and tests.

    Settings: step_s (how far a controllable clock moves between stop checks, default 1).
    """

    name = "simulate"
    label = "Mô phỏng (không phát ra loa)"

    def __init__(
        self,
        settings: Mapping[str, Any],
        *,
        clock: Clock,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(settings, clock=clock, config=config)
        self.sleeper: Sleeper = sleeper_for(clock, float(self.settings.get("step_s", 1.0)))

    def check(self) -> None:
        """Always works."""

    def play(
        self,
        path: Path,
        duration_s: float,
        *,
        stop: threading.Event | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> PlayResult:
        """Wait the duration on the clock, or until stop is set."""
        self._require_file(path)
        started_at = self._now()
        completed = self.sleeper.wait(max(0.0, duration_s), stop)
        ended_at = self._now()
        duration = max(0.0, duration_s)
        played = duration if completed else min(duration, (ended_at - started_at).total_seconds())
        return PlayResult(
            started_at=started_at,
            ended_at=ended_at,
            played_seconds=played,
            completed=completed,
            detail="mô phỏng" if completed else "mô phỏng, đã dừng giữa chừng",
        )


# --- local sound card -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Player:
    """A command-line audio player: its arguments before the file and the formats it plays."""

    program: str
    args: tuple[str, ...]
    extensions: frozenset[str] | None  # None: plays anything


# Tried in this order: the first one installed that plays the file's format is used.
PLAYERS: tuple[_Player, ...] = (
    _Player("ffplay", ("-nodisp", "-autoexit", "-loglevel", "error"), None),
    _Player("mpv", ("--no-video", "--no-config", "--really-quiet"), None),
    _Player("mpg123", ("-q",), frozenset({"mp3"})),
    _Player("paplay", (), frozenset({"wav"})),
    _Player("aplay", ("-q",), frozenset({"wav"})),
    _Player("cvlc", ("--play-and-exit", "--quiet"), None),
)
PLAYER_HINT = (
    "hãy cài mpv hoặc mpg123: apt-get install mpg123, "
    "hoặc ghi đường dẫn trình phát vào thiết lập player của đài"
)


@register_output
class LocalOutput(Output):
    """Plays to this machine's sound card through whatever player is installed.

    Settings: player (a name from PLAYERS or a path; a path to another program gets the file as
    its only argument), player_args (list, replaces the known arguments).
    """

    name = "local"
    label = "Loa máy tính (card âm thanh)"

    def _explicit(self) -> tuple[str, tuple[str, ...]] | None:
        """Return the configured player and its arguments, or None when none is configured."""
        player = self.settings.get("player")
        if not player:
            return None
        found = shutil.which(str(player))
        if found is None:
            raise self._error(
                f"Không tìm thấy trình phát “{player}” đã cấu hình cho đài: "
                f"hãy sửa thiết lập player, hoặc {PLAYER_HINT}."
            )
        known = {p.program: p.args for p in PLAYERS}
        args = self.settings.get("player_args")
        if args is None:
            args = known.get(Path(found).name, ())
        return found, tuple(str(a) for a in args)

    def _player_for(self, path: Path | None) -> tuple[str, tuple[str, ...]]:
        """Return the player command for a file (or for any file, when path is None)."""
        explicit = self._explicit()
        if explicit is not None:
            return explicit
        ext = path.suffix.lower().lstrip(".") if path is not None else None
        for player in PLAYERS:
            if ext is not None and player.extensions is not None and ext not in player.extensions:
                continue
            found = shutil.which(player.program)
            if found is not None:
                return found, player.args
        what = f"tệp .{ext}" if ext else "âm thanh"
        raise self._error(f"Không có trình phát nào phát được {what} trên máy này: {PLAYER_HINT}.")

    def check(self) -> None:
        """Raise OutputError when no player is installed (or the configured one is missing)."""
        self._player_for(None)

    def play(
        self,
        path: Path,
        duration_s: float,
        *,
        stop: threading.Event | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> PlayResult:
        """Run the player on the file and wait for it; stop terminates it."""
        path = self._require_file(path)
        program, args = self._player_for(path)
        label = Path(program).name
        started_at = self._now()
        try:
            run = _run_process(
                [program, *args, str(path)], stop=stop, limit_s=_time_limit(duration_s)
            )
        except OSError as exc:
            raise self._error(
                f"Không chạy được trình phát {label} ({exc.strerror or exc}): {PLAYER_HINT}."
            ) from exc
        if run.timed_out:
            raise self._error(
                f"Trình phát {label} chạy quá lâu so với độ dài bản tin nên đã bị dừng. "
                "Hãy kiểm tra card âm thanh và trình phát trên máy.",
                played_seconds=run.elapsed_s,
            )
        if not run.stopped and run.returncode != 0:
            why = run.stderr_tail[-1] if run.stderr_tail else "không có thông báo"
            raise self._error(
                f"Trình phát {label} báo lỗi (mã thoát {run.returncode}): {why}. "
                "Hãy kiểm tra card âm thanh, âm lượng và tệp âm thanh.",
                retryable=True,
                played_seconds=run.elapsed_s,
            )
        return _result(started_at, run, label if not run.stopped else f"{label}, đã dừng")


# --- folder watched by another playout system -----------------------------------------------


# To the second: two spots of one script sequenced in the same minute must not share a name.
DEFAULT_PATTERN = "{station}_{planned:%Y%m%d_%H%M%S}_{script}.{ext}"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@register_output
class FolderOutput(Output):
    """Drops the file into a folder that another playout system watches and airs from.

    Settings: path (the folder), pattern (file name; fields: station = station code, planned =
    planned time in Asia/Ho_Chi_Minh, accepts strftime codes, script = script id, version =
    version number, ext = the audio's extension; also station_id, version_id, airing_key).
    The runner passes these fields (runner.airing_meta). play() returns at once with
    completed=True and played_seconds=duration: the other system airs it, and this one cannot
    know when.
    The same airing always gets the same name, so a retry replaces the file rather than adding one.
    """

    name = "folder"
    label = "Thư mục cho phần mềm phát khác"

    def _folder(self) -> Path:
        """Return the configured folder, or raise OutputError when it is not set."""
        folder = self.settings.get("path")
        if not folder:
            raise self._error("Chưa cấu hình thư mục (thiết lập path) cho đầu phát thư mục.")
        return Path(str(folder))

    def check(self) -> None:
        """Raise OutputError when the folder is missing or this process cannot write into it."""
        folder = self._folder()
        if not folder.is_dir():
            raise self._error(
                f"Thư mục {folder} không tồn tại: hãy tạo thư mục hoặc sửa thiết lập path."
            )
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise self._error(
                f"Không ghi được vào thư mục {folder} ({exc.strerror or exc}): "
                "hãy cấp quyền ghi cho tài khoản chạy Loa."
            ) from exc

    def file_name(self, path: Path, meta: Mapping[str, Any] | None) -> str:
        """Return the target file name for an airing from the pattern and the airing's fields."""
        meta = dict(meta or {})
        planned = meta.get("planned") or self._now()
        if planned.tzinfo is None:  # stored times are UTC
            planned = planned.replace(tzinfo=UTC)
        fields = {k: _UNSAFE.sub("-", str(v)) for k, v in meta.items() if k != "planned"}
        fields["planned"] = to_local(planned)
        fields.setdefault("ext", path.suffix.lstrip(".").lower())
        pattern = str(self.settings.get("pattern") or DEFAULT_PATTERN)
        try:
            name = pattern.format(**fields)
        except KeyError as exc:
            raise self._error(
                f"Mẫu tên tệp “{pattern}” dùng trường {exc} không có. Các trường dùng được: "
                "station, planned, script, version, ext, station_id, version_id, airing_key."
            ) from exc
        except (ValueError, IndexError) as exc:
            raise self._error(f"Mẫu tên tệp “{pattern}” không hợp lệ: {exc}.") from exc
        name = _UNSAFE.sub("-", name).lstrip(".").strip()
        if not name:
            raise self._error(f"Mẫu tên tệp “{pattern}” cho ra tên rỗng: hãy sửa thiết lập.")
        return name

    def play(
        self,
        path: Path,
        duration_s: float,
        *,
        stop: threading.Event | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> PlayResult:
        """Copy the file atomically into the folder under its pattern name."""
        path = self._require_file(path)
        folder = self._folder()
        target = folder / self.file_name(path, meta)
        started_at = self._now()
        tmp_name: str | None = None
        try:
            # Hidden and with a suffix watchers ignore, in the same folder so os.replace is atomic.
            fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".loa-", suffix=".part")
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, target)
            tmp_name = None
        except OSError as exc:
            raise self._error(
                f"Không chép được tệp âm thanh vào thư mục {folder} ({exc.strerror or exc}): "
                "hãy kiểm tra thư mục, quyền ghi và dung lượng đĩa.",
                retryable=True,
            ) from exc
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)
        played = max(0.0, duration_s)
        return PlayResult(
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=played),
            played_seconds=played,
            completed=True,
            detail=f"đã chép vào {target}",
        )


# --- Icecast --------------------------------------------------------------------------------


DEFAULT_PASSWORD_ENV = "LOA_ICECAST_PASSWORD"
# ffmpeg's last line for failures a later attempt may get past: the server down or busy.
_RETRYABLE = re.compile(
    r"connection refused|timed out|unreachable|no route to host|connection reset|broken pipe|"
    r"temporary failure|end of file|\b403\b|\b5\d\d\b|i/o error",
    re.IGNORECASE,
)
_AUTH_FAILED = re.compile(r"\b401\b|unauthori[sz]ed|authentication", re.IGNORECASE)


@register_output
class IcecastOutput(Output):
    """Streams the file in real time to an Icecast mount with ffmpeg, for IP loudspeakers.

    Settings: url (http://HOST:PORT/MOUNT or icecast://…), user (default "source"), password,
    or password_env naming the variable that holds it (default LOA_ICECAST_PASSWORD, read from
    the app config, then the environment), bitrate_kbps (default 128).
    The password is never logged; ffmpeg only accepts it inside the URL of its command line.
    """

    name = "icecast"
    label = "Icecast (loa IP)"

    def _target(self) -> tuple[str, int, str]:
        """Return (host, port, mount) from the url setting, or raise OutputError."""
        url = str(self.settings.get("url") or "")
        if not url:
            raise self._error(
                "Chưa cấu hình địa chỉ máy chủ Icecast (thiết lập url, "
                "ví dụ http://127.0.0.1:8000/loa.mp3)."
            )
        parts = urlsplit(url)
        try:
            port = parts.port or 8000
        except ValueError as exc:
            raise self._error(f"Cổng trong địa chỉ Icecast “{url}” không hợp lệ.") from exc
        mount = parts.path.lstrip("/")
        if parts.scheme not in {"http", "icecast"} or not parts.hostname or not mount:
            raise self._error(
                f"Địa chỉ Icecast “{_mask_url_password(url)}” không hợp lệ: "
                "hãy ghi dạng http://MÁY_CHỦ:CỔNG/ĐIỂM_GẮN, ví dụ http://127.0.0.1:8000/loa.mp3."
            )
        return parts.hostname, port, mount

    def _password(self) -> str:
        """Return the source password from settings, the url, the config or the environment."""
        password = self.settings.get("password")
        if not password:
            password = unquote(urlsplit(str(self.settings.get("url") or "")).password or "")
        if not password:
            env = str(self.settings.get("password_env") or DEFAULT_PASSWORD_ENV)
            password = self.config.get(env) or os.environ.get(env)
        if not password:
            raise self._error(
                "Chưa có mật khẩu nguồn (source password) của Icecast: hãy đặt thiết lập "
                f"password hoặc biến môi trường {DEFAULT_PASSWORD_ENV}."
            )
        return str(password)

    def _ffmpeg(self) -> str:
        """Return the ffmpeg binary, or raise OutputError saying how to install it."""
        try:
            return ffmpeg_binary(self.config)
        except AudioToolMissing as exc:
            raise self._error(exc.message) from exc

    def check(self) -> None:
        """Raise OutputError when settings are missing or ffmpeg is absent (no network used)."""
        self._target()
        self._password()
        self._ffmpeg()

    def command(self, path: Path) -> tuple[list[str], str]:
        """Return the ffmpeg command that streams path, and the secret to mask in its output."""
        host, port, mount = self._target()
        user = str(self.settings.get("user") or "source")
        password = self._password()
        bitrate = int(self.settings.get("bitrate_kbps", 128))
        secret = quote(password, safe="")
        url = f"icecast://{quote(user, safe='')}:{secret}@{host}:{port}/{mount}"
        command = [
            self._ffmpeg(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "warning",
            "-re",
            "-i",
            str(path),
            "-vn",
            "-c:a",
            "libmp3lame",
            "-b:a",
            f"{bitrate}k",
            "-content_type",
            "audio/mpeg",
            "-f",
            "mp3",
            url,
        ]
        return command, secret

    def play(
        self,
        path: Path,
        duration_s: float,
        *,
        stop: threading.Event | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> PlayResult:
        """Stream the file in real time (takes its duration); stop terminates ffmpeg."""
        path = self._require_file(path)
        command, secret = self.command(path)
        password = self._password()
        host, port, mount = self._target()
        where = f"{host}:{port}/{mount}"
        log.info("icecast: streaming %s to %s", path.name, where)
        started_at = self._now()
        try:
            run = _run_process(command, stop=stop, limit_s=_time_limit(duration_s))
        except OSError as exc:
            raise self._error(
                f"Không chạy được ffmpeg ({exc.strerror or exc}): hãy cài ffmpeg "
                "(apt-get install ffmpeg) hoặc sửa FFMPEG_BINARY."
            ) from exc
        if run.timed_out:
            raise self._error(
                f"Phát lên Icecast {where} chạy quá lâu so với độ dài bản tin nên đã bị dừng. "
                "Hãy kiểm tra máy chủ Icecast và đường mạng.",
                retryable=True,
                played_seconds=run.elapsed_s,
            )
        if not run.stopped and run.returncode != 0:
            tail = [_mask(line, password, secret) for line in run.stderr_tail]
            log.warning("icecast: ffmpeg failed for %s:\n%s", where, "\n".join(tail))
            why = tail[-1] if tail else "không có thông báo"
            if _AUTH_FAILED.search(why):
                hint = "Máy chủ từ chối mật khẩu nguồn: hãy kiểm tra user và password của đài."
                retryable = False
            elif _RETRYABLE.search(why):
                hint = "Hãy kiểm tra máy chủ Icecast có đang chạy và đường mạng tới nó."
                retryable = True
            else:
                hint = "Hãy kiểm tra tệp âm thanh và cấu hình Icecast."
                retryable = False
            raise self._error(
                f"Không phát được lên Icecast {where} (mã thoát {run.returncode}): {why}. {hint}",
                retryable=retryable,
                played_seconds=run.elapsed_s,
            )
        return _result(started_at, run, f"icecast {where}" + (", đã dừng" if run.stopped else ""))


def _mask(text: str, *secrets: str) -> str:
    """Replace every non-empty secret in text with a mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def _mask_url_password(url: str) -> str:
    """Return url with any password in it masked."""
    parts = urlsplit(url)
    if parts.password:
        return _mask(url, parts.password)
    return url
