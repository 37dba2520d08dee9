"""Schedules, their cancelled occurrences, and the airings they expand into."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from sqlalchemy import Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.broadcast.models import LOG_STATUS_LABELS
from app.core.models import AppendOnly, enum_column, protect_table
from app.core.types import UTCDateTime
from app.extensions import db
from app.org.models import Station, Unit
from app.scripts.models import Priority, Script, ScriptVersion
from app.speech.models import Render


class ScheduleStatus(str, Enum):
    """Whether a schedule still produces airings."""

    ACTIVE = "active"
    DELETED = "deleted"


class AiringStatus(str, Enum):
    """Where a planned airing stands; the runner moves it on from planned."""

    PLANNED = "planned"
    CLAIMED = "claimed"
    AIRED = "aired"
    AIRED_LATE = "aired_late"
    PARTIAL = "partial"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    MISSED = "missed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """Vietnamese name of the status."""
        return AIRING_STATUS_LABELS[self]


# An airing ends in one of the broadcast log's statuses; only the two before it are its own.
AIRING_STATUS_LABELS = {
    AiringStatus.PLANNED: "chờ phát",
    AiringStatus.CLAIMED: "đang phát",
    **{AiringStatus(status.value): label for status, label in LOG_STATUS_LABELS.items()},
}

schedule_stations = Table(
    "schedule_stations",
    db.metadata,
    Column("schedule_id", ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True),
    Column("station_id", ForeignKey("stations.id"), primary_key=True),
)

# "Every active station of these units' subtrees", resolved each time the schedule expands,
# so a station added to a unit later gets the schedule's airings too.
schedule_units = Table(
    "schedule_units",
    db.metadata,
    Column("schedule_id", ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
)


class Schedule(db.Model):
    """A repeat rule airing one approved version's approved audio on stations."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_status_unit", "status", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unit that owns the schedule (its creator's unit): who may change or delete it.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id"), index=True)
    # What airs, fixed when the schedule is saved: a later approval does not change it.
    version_id: Mapped[int] = mapped_column(ForeignKey("script_versions.id"))
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority))
    kind: Mapped[str] = mapped_column(String(24))
    # The RFC 5545 text of recurrence.to_rrule(): the rule's one source of truth.
    rrule: Mapped[str] = mapped_column(Text)
    start_date: Mapped[date] = mapped_column(Date())
    end_date: Mapped[date] = mapped_column(Date())
    count: Mapped[int | None] = mapped_column()
    gap_seconds: Mapped[float] = mapped_column(default=5.0)
    status: Mapped[ScheduleStatus] = mapped_column(enum_column(ScheduleStatus))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The schedule file entry it came from ("<file stem>/<key>"), for idempotent imports.
    source_key: Mapped[str | None] = mapped_column(String(160), index=True)
    # Optimistic lock: every UPDATE bumps it.
    revision: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": revision}

    unit: Mapped[Unit] = relationship()
    script: Mapped[Script] = relationship()
    version: Mapped[ScriptVersion] = relationship()
    render: Mapped[Render] = relationship()
    created_by: Mapped[User | None] = relationship()
    stations: Mapped[list[Station]] = relationship(
        secondary=schedule_stations, order_by=Station.code
    )
    units: Mapped[list[Unit]] = relationship(secondary=schedule_units, order_by=Unit.code)

    def __repr__(self) -> str:
        return f"<Schedule {self.id} script={self.script_id} {self.status.value}>"


class CancelledOccurrence(AppendOnly, db.Model):
    """One occurrence of a schedule called off, on one station or (station null) on all."""

    __tablename__ = "cancelled_occurrences"
    __table_args__ = (Index("ix_cancelled_occurrences_schedule", "schedule_id", "occurs_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    # The occurrence as the rule names it (planned, not sequenced), in UTC.
    occurs_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    schedule: Mapped[Schedule] = relationship()
    station: Mapped[Station | None] = relationship()
    cancelled_by: Mapped[User | None] = relationship()


class Airing(db.Model):
    """One planned play of audio on one station; the runner claims it before playing."""

    __tablename__ = "airings"
    __table_args__ = (
        UniqueConstraint("airing_key", name="uq_airings_key"),
        Index("ix_airings_station_sequenced", "station_id", "sequenced_at"),
        Index("ix_airings_status_sequenced", "status", "sequenced_at"),
        Index("ix_airings_schedule_station", "schedule_id", "station_id", "planned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for manual and emergency airings, which no rule produced.
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    # The time the rule names, and the time after sequencing in the station's session.
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sequenced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Name of the session it is sequenced in; empty outside every session.
    session_name: Mapped[str] = mapped_column(String(80), default="")
    duration_s: Mapped[float] = mapped_column()
    priority: Mapped[Priority] = mapped_column(enum_column(Priority))
    # What airs, copied from the schedule so the runner and the log need nothing else.
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("script_versions.id"))
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"))
    # "<schedule>:<station>:<planned UTC>", see service.airing_key().
    airing_key: Mapped[str] = mapped_column(String(120))
    status: Mapped[AiringStatus] = mapped_column(enum_column(AiringStatus))
    # The runner host that claimed it, with a conditional UPDATE planned -> claimed.
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the claiming runner started the output, committed just before it plays. A claim
    # without it never reached the loudspeakers: if its runner dies, the airing can still air.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who asked for a manual airing ("phát ngay"), and why; null and empty for planned ones.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The airing an emergency cut off, when this one airs it again.
    requeued_from_id: Mapped[int | None] = mapped_column(ForeignKey("airings.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    schedule: Mapped[Schedule | None] = relationship()
    operator: Mapped[User | None] = relationship()
    station: Mapped[Station] = relationship()
    script: Mapped[Script] = relationship()
    render: Mapped[Render] = relationship()

    def __repr__(self) -> str:
        return f"<Airing {self.airing_key} {self.status.value}>"


protect_table(CancelledOccurrence.__table__)
