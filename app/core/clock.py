"""The clock behind an interface, so tests and the scheduler can inject time.

The app's clock is app.extensions["loa.clock"]: config CLOCK when given, else SystemClock.

Test/demo seam: when the environment variable LOA_CLOCK_FILE names a file, build_config()
sets CLOCK to a FileClock on it, so another process (a crash test, a demo script) sets the
time of a `flask scheduler run` subprocess by rewriting that file. Never active unless the
variable is set; production leaves it unset.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from flask import current_app

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time, aware, in UTC."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time, aware, in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        self.current = start.astimezone(UTC)

    def now(self) -> datetime:
        """Return the current time, aware, in UTC."""
        return self.current

    def advance(self, **kwargs: float) -> None:
        """Move the clock forward by a timedelta given as keyword arguments."""
        self.current += timedelta(**kwargs)


class ClockFileError(RuntimeError):
    """The clock file is missing, unreadable or does not hold one ISO-8601 time."""


CLOCK_FILE_EXAMPLE = "2026-11-27T01:00:00Z"


class FileClock:
    """A clock read from a file on every now(); another process moves it by rewriting the file.

    The file holds one ISO-8601 time with its offset ("2026-11-27T01:00:00Z"). It has no
    advance() on purpose: outputs.sleeper_for() would then make a simulated airing move the
    clock itself; without it, outputs wait in real time and only the file moves this clock.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        """Return the time in the file, aware, in UTC; ClockFileError says what is wrong."""
        hint = f"LOA_CLOCK_FILE must hold one ISO-8601 time with offset, e.g. {CLOCK_FILE_EXAMPLE}"
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ClockFileError(f"cannot read clock file {self.path}: {exc}; {hint}") from exc
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ClockFileError(f"clock file {self.path} holds {text[:80]!r}; {hint}") from exc
        if value.tzinfo is None or value.utcoffset() is None:
            raise ClockFileError(
                f"clock file {self.path} holds {text!r} without an offset (Z or +00:00); {hint}"
            )
        return value.astimezone(UTC)

    def set(self, when: datetime) -> None:
        """Write an aware time to the file atomically, so a reader never sees half of it."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("FileClock.set needs an aware datetime")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(when.astimezone(UTC).isoformat().replace("+00:00", "Z"), encoding="utf-8")
        os.replace(tmp, self.path)


def now() -> datetime:
    """Return the current time from the application's clock."""
    return current_app.extensions["loa.clock"].now()


def to_local(value: datetime) -> datetime:
    """Convert an aware datetime to Asia/Ho_Chi_Minh."""
    return value.astimezone(LOCAL_TZ)
