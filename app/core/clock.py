"""The clock behind an interface, so tests and the scheduler can inject time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def now() -> datetime:
    """Return the current time from the application's clock."""
    return current_app.extensions["loa.clock"].now()


def to_local(value: datetime) -> datetime:
    """Convert an aware datetime to Asia/Ho_Chi_Minh."""
    return value.astimezone(LOCAL_TZ)
