"""Broadcast log rows: one per airing, miss or correction, chained by hash per station."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.models import AppendOnly, enum_column, protect_table
from app.core.types import UTCDateTime
from app.extensions import db
from app.org.models import Station
from app.scripts.models import Priority

# sha256 hex of "no previous row": the prev_hash of a station's first row.
GENESIS_HASH = "0" * 64


class LogStatus(str, Enum):
    """What happened to a planned or manual airing."""

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
        return LOG_STATUS_LABELS[self]


LOG_STATUS_LABELS = {
    LogStatus.AIRED: "đã phát",
    LogStatus.AIRED_LATE: "phát muộn",
    LogStatus.PARTIAL: "phát một phần",
    LogStatus.INTERRUPTED: "bị ngắt",
    LogStatus.FAILED: "lỗi",
    LogStatus.MISSED: "bỏ lỡ",
    LogStatus.SKIPPED: "bỏ qua",
    LogStatus.CANCELLED: "đã hủy",
}


class BroadcastLog(AppendOnly, db.Model):
    """One line of a station's logbook; never changed: a correction is a new row."""

    __tablename__ = "broadcast_log"
    __table_args__ = (
        UniqueConstraint("station_id", "seq", name="uq_broadcast_log_station_seq"),
        Index("ix_broadcast_log_station_planned", "station_id", "planned_at"),
        Index("ix_broadcast_log_status", "status"),
        Index("ix_broadcast_log_started", "started_at"),
        # Reports (app/reports/service.py, bench/reports.py): a period's rows by planned time
        # (and live reads, with none, by started_at), a campaign's rows by script, and the
        # NOT EXISTS that drops corrected rows (without it each row scans the whole log).
        Index("ix_broadcast_log_planned_started", "planned_at", "started_at"),
        Index("ix_broadcast_log_script", "script_id"),
        Index("ix_broadcast_log_corrects", "corrects_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    # The station's unit when the row was written (hash_version 2 on): reports count an airing
    # for the unit its station belonged to then, even after the station moves. Null in
    # version 1 rows, which reports read as the station's current unit.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # Null for a manual live read, which had no plan.
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Seconds, rounded to milliseconds when appended.
    duration_s: Mapped[float | None] = mapped_column()
    status: Mapped[LogStatus] = mapped_column(enum_column(LogStatus))
    # Vietnamese, as the logbook shows it: "phát muộn 3 phút 12 giây", "bỏ lỡ: bộ phát không chạy".
    reason: Mapped[str] = mapped_column(Text, default="")
    # What aired: the immutable version and render, bound by the hashes of text and audio.
    script_id: Mapped[int | None] = mapped_column(ForeignKey("scripts.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("script_versions.id"))
    render_id: Mapped[int | None] = mapped_column(ForeignKey("renders.id"))
    spoken_sha256: Mapped[str] = mapped_column(String(64), default="")
    audio_sha256: Mapped[str] = mapped_column(String(64), default="")
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    # Deterministic key of the planned airing (schedule, station, planned time).
    airing_key: Mapped[str | None] = mapped_column(String(120))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority))
    # Who read or started it by hand; null for the runner's own airings.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    runner_host: Mapped[str] = mapped_column(String(120), default="")
    # A correction is a new row pointing at the row it corrects (same station), with why, and
    # the row_hash of that row so the pointer itself cannot be moved unnoticed.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast_log.id"))
    corrects_hash: Mapped[str | None] = mapped_column(String(64))
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the server received a row its station's agent wrote (created_at is the agent's own
    # time); null for rows written here. Not in the hash: the agent hashed the row before.
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The chain: seq counts the station's rows from 1; prev_hash is the row_hash of seq - 1.
    seq: Mapped[int]
    hash_version: Mapped[int] = mapped_column(default=2)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

    station: Mapped[Station] = relationship()
    operator: Mapped[User | None] = relationship()
    corrects: Mapped[BroadcastLog | None] = relationship(remote_side=[id])

    @property
    def performed_by(self) -> str:
        """Who aired the row, as every page and export names it (see performer_label)."""
        return performer_label(
            self.operator.full_name if self.operator is not None else None, self.runner_host
        )

    def __repr__(self) -> str:
        return f"<BroadcastLog station={self.station_id} #{self.seq} {self.status.value}>"


def performer_label(operator_name: str | None, runner_host: str | None) -> str:
    """Who aired a log row: the operator's full name, else "tự động (host)" for the runner
    (exports that read plain columns call this instead of BroadcastLog.performed_by)."""
    if operator_name:
        return operator_name
    return f"tự động ({runner_host})" if runner_host else "tự động"


protect_table(BroadcastLog.__table__)


# The columns a LogTotal groups rows by (its unique key).
TOTAL_GROUP = (
    "day",
    "station_id",
    "unit_id",
    "script_id",
    "priority",
    "status",
    "scheduled",
    "is_repeat",
)


class LogTotal(db.Model):
    """Daily totals of the effective broadcast log rows, kept as rows are written.

    One row per local day, station, unit, script, priority, status and kind: how many log
    rows, their seconds, and the first and last start among them. Reports sum these instead
    of reading every log row (a province's month is 85,000 rows; bench/reports.py). The log
    stays the record: `flask logs totals` checks these against it and rebuilds them.
    Maintained by app/broadcast/totals.py only.
    """

    __tablename__ = "broadcast_log_totals"
    __table_args__ = (
        UniqueConstraint(*TOTAL_GROUP, name="uq_broadcast_log_totals_group"),
        # A campaign's or source document's totals, through its scripts.
        Index("ix_broadcast_log_totals_script_day", "script_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The local (Asia/Ho_Chi_Minh) day of the rows' planned time, or start for a live read.
    day: Mapped[date] = mapped_column(Date)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    # The rows' unit_id, 0 for version 1 rows without one; the script, 0 for a live read.
    # Plain integers, not null, so the unique key also holds for "none".
    unit_id: Mapped[int] = mapped_column(default=0)
    script_id: Mapped[int] = mapped_column(default=0)
    priority: Mapped[Priority] = mapped_column(enum_column(Priority))
    status: Mapped[LogStatus] = mapped_column(enum_column(LogStatus))
    # Scheduled (schedule_id set), and a re-queued repeat of a spot an emergency cut off.
    scheduled: Mapped[bool]
    is_repeat: Mapped[bool]
    n: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0)
    first_started: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_started: Mapped[datetime | None] = mapped_column(UTCDateTime())
