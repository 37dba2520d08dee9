"""Pronunciation lexicon, manual spoken-text overrides and render jobs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.models import AppendOnly, enum_column, protect_table
from app.core.types import UTCDateTime
from app.extensions import db
from app.org.models import Station, Unit


class LexiconEntry(db.Model):
    """How to read one written term aloud; global (no unit) or for one unit's subtree."""

    __tablename__ = "lexicon_entries"
    __table_args__ = (UniqueConstraint("unit_id", "term", name="uq_lexicon_unit_term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    term: Mapped[str] = mapped_column(String(100))
    spoken: Mapped[str] = mapped_column(String(400))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit | None] = relationship()
    created_by: Mapped[User | None] = relationship()


class SpokenOverride(AppendOnly, db.Model):
    """Spoken text a writer typed by hand for one script version; the newest one applies."""

    __tablename__ = "spoken_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("script_versions.id"), index=True)
    # Empty text withdraws the override: the automatic reading applies again.
    text: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    author: Mapped[User | None] = relationship()


class RenderStatus(str, Enum):
    """Where a render job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """Vietnamese name of the status."""
        return RENDER_STATUS_LABELS[self]


RENDER_STATUS_LABELS = {
    RenderStatus.QUEUED: "Đang chờ",
    RenderStatus.RUNNING: "Đang tạo",
    RenderStatus.DONE: "Hoàn tất",
    RenderStatus.FAILED: "Thất bại",
}


class Render(db.Model):
    """One request to turn a script version's spoken text into broadcast-ready audio."""

    __tablename__ = "renders"
    __table_args__ = (
        Index("ix_renders_status_created", "status", "created_at"),
        Index("ix_renders_version", "version_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    script_id: Mapped[int | None] = mapped_column(ForeignKey("scripts.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("script_versions.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[RenderStatus] = mapped_column(enum_column(RenderStatus))
    progress: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    # Hash of spoken text, engine, voice, speed, intro line and assembly settings.
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    cached: Mapped[bool] = mapped_column(default=False)
    spoken_text: Mapped[str] = mapped_column(Text)
    spoken_sha256: Mapped[str] = mapped_column(String(64))
    manual_spoken: Mapped[bool] = mapped_column(default=False)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    intro_text: Mapped[str] = mapped_column(String(300), default="")
    engine_requested: Mapped[str] = mapped_column(String(40))
    allow_fallback: Mapped[bool] = mapped_column(default=False)
    engine: Mapped[str] = mapped_column(String(40), default="")
    voice: Mapped[str] = mapped_column(String(60))
    speed: Mapped[int] = mapped_column(default=100)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # Path of the audio file relative to AUDIO_DIR, once done.
    audio_path: Mapped[str] = mapped_column(String(300), default="")
    audio_sha256: Mapped[str] = mapped_column(String(64), default="")
    audio_format: Mapped[str] = mapped_column(String(8), default="")
    duration_s: Mapped[float | None] = mapped_column()
    integrated_lufs: Mapped[float | None] = mapped_column()
    true_peak_dbtp: Mapped[float | None] = mapped_column()
    sample_rate: Mapped[int | None] = mapped_column()
    bitrate_kbps: Mapped[int | None] = mapped_column()
    worker: Mapped[str] = mapped_column(String(120), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    requested_by: Mapped[User | None] = relationship()
    station: Mapped[Station | None] = relationship()

    @property
    def is_finished(self) -> bool:
        """Done or failed: nothing more will happen to this job."""
        return self.status in {RenderStatus.DONE, RenderStatus.FAILED}

    @property
    def fell_back(self) -> bool:
        """The audio came from another engine than the one asked for."""
        return bool(self.engine) and self.engine != self.engine_requested


protect_table(SpokenOverride.__table__)
