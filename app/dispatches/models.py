"""Dispatches received by a unit: the original file, what it says, and the units asked to act."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.models import enum_column
from app.core.types import UTCDateTime
from app.extensions import db
from app.org.models import Unit


class DispatchStatus(str, Enum):
    """Where a dispatch stands on the desk."""

    # Read by Loa, fields not yet confirmed by an officer.
    RECEIVED = "received"
    # An officer confirmed (or corrected) the fields; drafts can be made from it.
    CONFIRMED = "confirmed"
    # Reported back and closed; kept for the record.
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """Vietnamese name of the status."""
        return DISPATCH_STATUS_LABELS[self]


DISPATCH_STATUS_LABELS = {
    DispatchStatus.RECEIVED: "Mới nhận, chờ xác nhận",
    DispatchStatus.CONFIRMED: "Đã xác nhận",
    DispatchStatus.CLOSED: "Đã báo cáo, đóng",
}


# The units a dispatch asks to act (culture centres, the city radio, commune stations'
# units): the tracking page and the report back count per unit.
dispatch_targets = Table(
    "dispatch_targets",
    db.metadata,
    Column("dispatch_id", ForeignKey("dispatches.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
)


class Dispatch(db.Model):
    """One dispatch as a unit received it.

    The original file is kept content-addressed under the instance folder
    (``dispatches/<sha256>``); the fields are what the reader found, as corrected and
    confirmed by an officer. The same file received twice by a unit is one dispatch.
    """

    __tablename__ = "dispatches"
    __table_args__ = (
        UniqueConstraint("unit_id", "sha256", name="uq_dispatches_unit_sha256"),
        Index("ix_dispatches_unit_received", "unit_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The receiving unit: it owns the dispatch and the scripts drafted from it.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[DispatchStatus] = mapped_column(enum_column(DispatchStatus), index=True)

    # The original as received.
    file_name: Mapped[str] = mapped_column(String(255), default="")
    # "pdf", "docx", "image" (JPEG/PNG) or "text" (pasted).
    file_kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(100), default="")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    # True when the text came from OCR (scans and photos): the officer checks it more closely.
    ocr: Mapped[bool] = mapped_column(default=False)
    # The repaired text (paragraphs, stamps removed, NFC).
    text: Mapped[str] = mapped_column(Text, default="")
    # What extraction and the reader warned about: [{code, message}].
    problems: Mapped[list] = mapped_column(JSON, default=list)

    # What the dispatch says (see app.dispatches.reader.Dispatch).
    kind: Mapped[str] = mapped_column(String(60), default="")
    number: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(80), default="")
    issuer: Mapped[str] = mapped_column(String(300), default="")
    parent_issuer: Mapped[str] = mapped_column(String(300), default="")
    place: Mapped[str] = mapped_column(String(120), default="")
    issued_on: Mapped[date | None] = mapped_column(Date())
    subject: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[str] = mapped_column(String(40), default="")
    secrecy: Mapped[str] = mapped_column(String(40), default="")
    addressees: Mapped[list] = mapped_column(JSON, default=list)
    distribution: Mapped[list] = mapped_column(JSON, default=list)
    signer_title: Mapped[str] = mapped_column(String(300), default="")
    signer_name: Mapped[str] = mapped_column(String(120), default="")
    # [{kind, number, code, date, issuer}]
    cites: Mapped[list] = mapped_column(JSON, default=list)
    # [{type, value, text, name}]
    contacts: Mapped[list] = mapped_column(JSON, default=list)
    # [{date, time, text}]
    deadlines: Mapped[list] = mapped_column(JSON, default=list)
    # The items the dispatch asks to be broadcast: [{label, level, text}].
    points: Mapped[list] = mapped_column(JSON, default=list)

    # What the desk adds: the campaign scripts drafted from it carry, and their validity.
    campaign: Mapped[str] = mapped_column(String(200), default="")
    valid_from: Mapped[date | None] = mapped_column(Date())
    valid_until: Mapped[date | None] = mapped_column(Date())
    # The date the report back is due, when the dispatch sets one.
    report_due: Mapped[date | None] = mapped_column(Date())

    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Optimistic lock, as for scripts: a correction must name the revision it started from.
    revision: Mapped[int] = mapped_column(default=1)
    # Accent-folded reference, issuer, subject and text, for accent-insensitive search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    __mapper_args__ = {"version_id_col": revision}

    unit: Mapped[Unit] = relationship()
    targets: Mapped[list[Unit]] = relationship(secondary=dispatch_targets, order_by=Unit.code)
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])

    @property
    def reference(self) -> str:
        """Number and code as cited, e.g. '855/BCĐ-TBTTTT'."""
        if self.number is None:
            return self.code or ""
        return f"{self.number}/{self.code}" if self.code else str(self.number)

    @property
    def label(self) -> str:
        """The dispatch as officials cite it: 'Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021'."""
        parts = [self.kind or "Văn bản"]
        if self.reference:
            parts.append(f"số {self.reference}")
        if self.issued_on:
            d = self.issued_on
            parts.append(f"ngày {d.day}/{d.month}/{d.year}")
        return " ".join(parts)
