"""A programme's machine rundown and settings, one immutable set per script version."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import AppendOnly, enum_column, protect_table
from app.core.types import UTCDateTime
from app.extensions import db
from app.library.models import LibraryItem
from app.org.models import Station

ENGINE = "programme"


class ItemKind(str, Enum):
    """What a rundown item is."""

    SCRIPT = "script"
    RECORDING = "recording"
    LIBRARY = "library"

    @property
    def label(self) -> str:
        """Vietnamese name of the kind."""
        return ITEM_KIND_LABELS[self]


ITEM_KIND_LABELS = {
    ItemKind.SCRIPT: "Bản tin đọc máy",
    ItemKind.RECORDING: "Bản ghi âm",
    ItemKind.LIBRARY: "Thư viện âm thanh",
}


class ProgrammeVersion(AppendOnly, db.Model):
    """The settings of one version of a programme: bed, ducking and the session it is for."""

    __tablename__ = "programme_versions"

    version_id: Mapped[int] = mapped_column(ForeignKey("script_versions.id"), primary_key=True)
    # sha256 of the rundown (items, their audio and transitions) and these settings.
    rundown_sha256: Mapped[str] = mapped_column(String(64))
    bed_item_id: Mapped[int | None] = mapped_column(ForeignKey("library_items.id"))
    bed_sha256: Mapped[str] = mapped_column(String(64), default="")
    # How far the bed is lowered under the items, in dB (positive: 15 means -15 dB).
    duck_db: Mapped[float] = mapped_column(Float, default=15.0)
    # The session the programme is made for: a station's session by name.
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    session_name: Mapped[str] = mapped_column(String(80), default="")
    total_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    bed: Mapped[LibraryItem | None] = relationship()
    station: Mapped[Station | None] = relationship()
    items: Mapped[list[ProgrammeItem]] = relationship(
        primaryjoin="ProgrammeVersion.version_id == foreign(ProgrammeItem.version_id)",
        order_by="ProgrammeItem.position",
        viewonly=True,
    )


class ProgrammeItem(AppendOnly, db.Model):
    """One item of a version's rundown, bound to the exact audio it had when saved."""

    __tablename__ = "programme_items"
    __table_args__ = (
        UniqueConstraint("version_id", "position", name="uq_programme_items_position"),
        Index("ix_programme_items_script", "script_id"),
        Index("ix_programme_items_library", "library_item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("script_versions.id"))
    position: Mapped[int]
    kind: Mapped[ItemKind] = mapped_column(enum_column(ItemKind))
    script_id: Mapped[int | None] = mapped_column(ForeignKey("scripts.id"))
    render_id: Mapped[int | None] = mapped_column(ForeignKey("renders.id"))
    library_item_id: Mapped[int | None] = mapped_column(ForeignKey("library_items.id"))
    audio_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    duration_s: Mapped[float] = mapped_column(Float)
    # What follows the item: silence (gap_ms) or an overlap with the next item (crossfade_ms).
    gap_ms: Mapped[int] = mapped_column(default=0)
    crossfade_ms: Mapped[int] = mapped_column(default=0)


protect_table(ProgrammeVersion.__table__)
protect_table(ProgrammeItem.__table__)
