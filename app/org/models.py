"""Units, stations and broadcast sessions."""

from __future__ import annotations

from datetime import datetime, time
from enum import Enum

from sqlalchemy import JSON, ForeignKey, Index, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import enum_column
from app.core.types import UTCDateTime
from app.extensions import db


class StationKind(str, Enum):
    """What sort of broadcaster a station is."""

    CITY_RADIO = "city_radio"
    CULTURE_CENTRE = "culture_centre"
    COMMUNE_LOUDSPEAKER = "commune_loudspeaker"

    @property
    def label(self) -> str:
        """Vietnamese name of the kind."""
        return STATION_KIND_LABELS[self]


STATION_KIND_LABELS = {
    StationKind.CITY_RADIO: "Đài truyền thanh cấp huyện/thành phố",
    StationKind.CULTURE_CENTRE: "Trung tâm Văn hóa - Thông tin - Thể thao",
    StationKind.COMMUNE_LOUDSPEAKER: "Hệ thống truyền thanh cơ sở",
}


class PlayoutMode(str, Enum):
    """Who airs a station's plan: the central runner or the station's own agent, never both."""

    CENTRAL = "central"
    AGENT = "agent"

    @property
    def label(self) -> str:
        """Vietnamese name of the mode."""
        return PLAYOUT_MODE_LABELS[self]


PLAYOUT_MODE_LABELS = {
    PlayoutMode.CENTRAL: "Máy chủ trung tâm phát",
    PlayoutMode.AGENT: "Máy trạm tại đài phát",
}


class Unit(db.Model):
    """An organisation unit; units form a tree of any depth, levels are data."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(60))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Materialised path of ids ("/1/4/9/") so a subtree is one indexed prefix query.
    path: Mapped[str] = mapped_column(String(500), default="", index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Regional reading choices for the normaliser (nghìn/ngàn, linh/lẻ, tư/bốn, document codes);
    # empty means inherit from the parent unit.
    reading_options: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.name")
    stations: Mapped[list[Station]] = relationship(back_populates="unit", order_by="Station.code")

    @property
    def depth(self) -> int:
        """How many ancestors the unit has."""
        return max(self.path.count("/") - 2, 0)

    def contains(self, other: Unit) -> bool:
        """Tell whether other is this unit or one of its descendants."""
        return other.path.startswith(self.path)

    def __repr__(self) -> str:
        return f"<Unit {self.code}>"


class Station(db.Model):
    """A broadcaster that airs spots: city radio, culture centre or commune loudspeakers."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[StationKind] = mapped_column(enum_column(StationKind))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Speech defaults for audio made for this station: the intro line, engine, voice, loudness.
    intro_text: Mapped[str] = mapped_column(String(300), default="")
    speech_engine: Mapped[str] = mapped_column(String(40), default="")
    speech_voice: Mapped[str] = mapped_column(String(60), default="")
    target_lufs: Mapped[float] = mapped_column(default=-16.0)
    true_peak_db: Mapped[float] = mapped_column(default=-1.0)
    # Playout policy. misfire_policy: an airing the runner reaches late is played late within
    # grace_s ("late") or skipped ("skip"); grace_s None means the runner's PLAYOUT_GRACE_S.
    # interrupt_policy: a spot cut off by an emergency is aired again after it ("requeue") or
    # dropped ("drop").
    misfire_policy: Mapped[str] = mapped_column(String(16), default="late", server_default="late")
    grace_s: Mapped[float | None] = mapped_column()
    interrupt_policy: Mapped[str] = mapped_column(
        String(16), default="requeue", server_default="requeue"
    )
    # Who airs the plan (one field, so never both); changed only by
    # app.agents.service.set_playout_mode(), which records when.
    playout_mode: Mapped[PlayoutMode] = mapped_column(
        enum_column(PlayoutMode), default=PlayoutMode.CENTRAL, server_default="central"
    )
    playout_mode_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when a station its agent aired is switched back to central, until the agent has
    # stopped and uploaded every row it wrote (or is revoked): meanwhile nobody claims the
    # station's airings, so none airs twice (app.agents.service.release_station()).
    awaiting_agent_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit] = relationship(back_populates="stations")
    sessions: Mapped[list[BroadcastSession]] = relationship(
        back_populates="station",
        order_by="BroadcastSession.start_time",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<Station {self.code}>"


class BroadcastSession(db.Model):
    """A daily broadcast window of a station, e.g. 05:30-06:15 on weekdays, capped in minutes."""

    __tablename__ = "broadcast_sessions"
    __table_args__ = (Index("ix_broadcast_sessions_station", "station_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    start_time: Mapped[time] = mapped_column(Time())
    end_time: Mapped[time] = mapped_column(Time())
    cap_minutes: Mapped[int]
    # ISO weekdays the session runs on, as digits: "1234567" is every day, "12345" Mon-Fri.
    weekdays: Mapped[str] = mapped_column(String(7), default="1234567")

    station: Mapped[Station] = relationship(back_populates="sessions")

    @property
    def weekday_list(self) -> list[int]:
        """ISO weekday numbers (1 = Monday)."""
        return [int(d) for d in self.weekdays]
