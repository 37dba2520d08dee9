"""The runner lock: one row per lock name saying which runner is active and when it last beat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.types import UTCDateTime
from app.extensions import db


class RunnerLock(db.Model):
    """Held by the active runner while its heartbeat is fresh; a standby takes a stale one."""

    __tablename__ = "runner_lock"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    # Null when released.
    holder: Mapped[str | None] = mapped_column(String(120))
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<RunnerLock {self.name} held by {self.holder}>"
