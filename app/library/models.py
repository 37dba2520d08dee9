"""Library items: a mastered, content-addressed audio file with what it is and whose it is."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.models import enum_column
from app.core.types import UTCDateTime
from app.extensions import db
from app.org.models import Unit

TITLE_CHARS = 300
LICENCE_CHARS = 1000
NAME_CHARS = 255


class LibraryKind(str, Enum):
    """What a library item is for; decides how it is mastered (see app/library/service.py)."""

    JINGLE = "jingle"
    BED = "bed"
    IDENT = "ident"
    PROGRAMME = "programme"
    MUSIC = "music"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Vietnamese name of the kind."""
        return KIND_LABELS[self]


KIND_LABELS = {
    LibraryKind.JINGLE: "Nhạc hiệu",
    LibraryKind.BED: "Nhạc nền",
    LibraryKind.IDENT: "Nhận diện đài",
    LibraryKind.PROGRAMME: "Chương trình ghi sẵn",
    LibraryKind.MUSIC: "Nhạc",
    LibraryKind.OTHER: "Khác",
}


class LibraryItem(db.Model):
    """One reusable recording. Its audio never changes: a new file is a new item, so anything
    that binds to (item, audio_sha256), such as a programme's approval, stays true. Title,
    kind, licence note and the archived flag may be edited (each change is audited)."""

    __tablename__ = "library_items"
    __table_args__ = (
        # The same upload twice in one unit is the same item (the service shows the first).
        UniqueConstraint("unit_id", "original_sha256", name="uq_library_items_unit_original"),
        Index("ix_library_items_unit_created", "unit_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_CHARS))
    kind: Mapped[LibraryKind] = mapped_column(enum_column(LibraryKind), index=True)
    # Who made it and on what terms it may be aired (licence, author, source).
    licence_note: Mapped[str] = mapped_column(Text, default="")
    # The mastered file, AUDIO_DIR/library/<audio_sha256>.<audio_format>.
    audio_sha256: Mapped[str] = mapped_column(String(64), index=True)
    audio_format: Mapped[str] = mapped_column(String(8))
    audio_size: Mapped[int]
    duration_s: Mapped[float] = mapped_column(Float)
    integrated_lufs: Mapped[float] = mapped_column(Float)
    true_peak_dbtp: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[int]
    bitrate_kbps: Mapped[int | None]
    # The loudness it was mastered to and whether leading/trailing silence was trimmed.
    target_lufs: Mapped[float] = mapped_column(Float)
    trimmed: Mapped[bool] = mapped_column(Boolean)
    trimmed_lead_s: Mapped[float] = mapped_column(Float, default=0.0)
    trimmed_tail_s: Mapped[float] = mapped_column(Float, default=0.0)
    # The upload as received, AUDIO_DIR/library/originals/<original_sha256>.
    original_sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(NAME_CHARS), default="")
    original_size: Mapped[int]
    # What the meter said about the original (duration, loudness, peak, codec, …).
    original_measures: Mapped[dict] = mapped_column(JSON, default=dict)
    # Warnings about the original (clipped, very quiet), in Vietnamese with their figures.
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Optimistic lock: an edit names the revision it started from.
    revision: Mapped[int] = mapped_column(default=1)
    # Accent-folded title, kind, licence note and file name, for accent-insensitive search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": revision}

    unit: Mapped[Unit] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    archived_by: Mapped[User | None] = relationship(foreign_keys=[archived_by_id])

    @property
    def audio_name(self) -> str:
        """The mastered file's name inside AUDIO_DIR/library."""
        return f"{self.audio_sha256}.{self.audio_format}"

    @property
    def media_type(self) -> str:
        """The mastered file's media type."""
        return "audio/mpeg" if self.audio_format == "mp3" else "audio/wav"
