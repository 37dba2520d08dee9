"""Daily totals of the broadcast log (LogTotal), kept in step with it.

Every row append_log() writes, and every row of a station agent's batch (store_rows), is
added to its group's total in the same transaction; a
correction also takes the row it replaces out (once: a row corrected twice is out already).
So the totals always equal a grouping of the effective rows (those no correction points at),
which is what the airtime reports count. rebuild_totals() recomputes them from the log (after
a bulk load, or if check_totals() ever finds a difference); `flask logs totals` runs both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, delete, exists, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from app.broadcast.models import TOTAL_GROUP, BroadcastLog, LogTotal
from app.core.clock import LOCAL_TZ
from app.extensions import db


def local_day(column):
    """The local (UTC+7, no daylight saving) calendar day of a UTC timestamp, in SQL."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(literal("Asia/Ho_Chi_Minh"), column))
    return func.date(column, "+7 hours")


def log_time():
    """The time a row is filed under: planned, or started for a live read with no plan."""
    return func.coalesce(BroadcastLog.planned_at, BroadcastLog.started_at)


def is_repeat(airing_key: str | None) -> bool:
    """Whether a row is the re-queued repeat of a spot an emergency cut off ("~r" key)."""
    return "~r" in (airing_key or "")


def _group_sql() -> dict:
    """The group columns of LogTotal computed from broadcast_log columns, in SQL."""
    return {
        "day": local_day(log_time()),
        "station_id": BroadcastLog.station_id,
        "unit_id": func.coalesce(BroadcastLog.unit_id, 0),
        "script_id": func.coalesce(BroadcastLog.script_id, 0),
        "priority": BroadcastLog.priority,
        "status": BroadcastLog.status,
        "scheduled": BroadcastLog.schedule_id.is_not(None),
        "is_repeat": func.coalesce(BroadcastLog.airing_key, "").like("%~r%"),
    }


@dataclass(frozen=True)
class Group:
    """The LogTotal group of one log row."""

    day: date
    station_id: int
    unit_id: int
    script_id: int
    priority: object
    status: object
    scheduled: bool
    is_repeat: bool

    @classmethod
    def of(cls, row: BroadcastLog) -> Group:
        filed = row.planned_at or row.started_at
        return cls(
            day=filed.astimezone(LOCAL_TZ).date(),
            station_id=row.station_id,
            unit_id=row.unit_id or 0,
            script_id=row.script_id or 0,
            priority=row.priority,
            status=row.status,
            scheduled=row.schedule_id is not None,
            is_repeat=is_repeat(row.airing_key),
        )

    def values(self) -> dict:
        return {name: getattr(self, name) for name in TOTAL_GROUP}

    def where(self):
        """LogTotal's row of this group."""
        return and_(*(getattr(LogTotal, name) == value for name, value in self.values().items()))

    def log_rows(self):
        """Conditions on broadcast_log for the rows of this group (any, effective or not)."""
        start = datetime.combine(self.day, time(), LOCAL_TZ).astimezone(UTC)
        end = start + timedelta(days=1)
        filed = log_time()
        return and_(
            filed >= start,
            filed < end,
            BroadcastLog.station_id == self.station_id,
            BroadcastLog.unit_id == self.unit_id
            if self.unit_id
            else BroadcastLog.unit_id.is_(None),
            BroadcastLog.script_id == self.script_id
            if self.script_id
            else BroadcastLog.script_id.is_(None),
            BroadcastLog.priority == self.priority,
            BroadcastLog.status == self.status,
            BroadcastLog.schedule_id.is_not(None)
            if self.scheduled
            else BroadcastLog.schedule_id.is_(None),
            func.coalesce(BroadcastLog.airing_key, "").like("%~r%") == self.is_repeat,
        )


def _insert():
    """An INSERT that can end in ON CONFLICT DO UPDATE on this database."""
    return pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert


def _earlier(a, b):
    """The earlier of two nullable timestamps in SQL (None when both are)."""
    return case((a.is_(None), b), (b.is_(None), a), (b < a, b), else_=a)


def _later(a, b):
    return case((a.is_(None), b), (b.is_(None), a), (b > a, b), else_=a)


def add_row(row: BroadcastLog) -> None:
    """Count a newly written row in its group's total (in the caller's transaction).

    One statement (insert or add), so two runners writing at once cannot lose a count.
    """
    add_rows([row])


def add_rows(rows: list) -> None:
    """Count newly written rows (a station agent's batch) in their groups' totals, in one
    statement: each group's total is inserted, or added to, as add_row() would for each row in
    turn."""
    groups: dict[Group, list[BroadcastLog]] = {}
    for row in rows:
        if row.planned_at is None and row.started_at is None:
            continue  # filed under no day: no report counts it
        groups.setdefault(Group.of(row), []).append(row)
    if not groups:
        return
    values = []
    for group, members in groups.items():
        starts = [r.started_at for r in members if r.started_at is not None]
        values.append(
            {
                **group.values(),
                "n": len(members),
                "seconds": sum(float(r.duration_s or 0.0) for r in members),
                "first_started": min(starts, default=None),
                "last_started": max(starts, default=None),
            }
        )
    # One statement, compiled once and cached, run for every group (executemany).
    statement = _insert()(LogTotal)
    table, new = LogTotal.__table__.c, statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=list(TOTAL_GROUP),
        set_={
            "n": table.n + new.n,
            "seconds": table.seconds + new.seconds,
            "first_started": _earlier(table.first_started, new.first_started),
            "last_started": _later(table.last_started, new.last_started),
        },
    )
    db.session.execute(statement, values)


def remove_corrected(corrected: BroadcastLog, correction_id: int) -> None:
    """Take a row a correction replaces out of its total, unless an earlier correction did.

    Its group's first and last start are read again from the group's effective rows (the
    correction, flushed already, is one of the rows pointing at it).
    """
    other = aliased(BroadcastLog)
    already = db.session.scalar(
        select(exists().where(other.corrects_id == corrected.id, other.id != correction_id))
    )
    if already or (corrected.planned_at is None and corrected.started_at is None):
        return
    group = Group.of(corrected)
    total = db.session.scalar(select(LogTotal).where(group.where()).with_for_update())
    if total is None:  # written before totals were kept and not rebuilt since: nothing to take
        return
    if total.n <= 1:
        db.session.delete(total)
        return
    total.n -= 1
    total.seconds -= float(corrected.duration_s or 0.0)
    first, last = db.session.execute(
        select(func.min(BroadcastLog.started_at), func.max(BroadcastLog.started_at)).where(
            group.log_rows(), _effective()
        )
    ).one()
    total.first_started, total.last_started = _utc(first), _utc(last)


def _utc(value) -> datetime | None:
    """Aggregates bypass the column type: SQLite gives naive UTC text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _effective():
    """No correction points at the row."""
    corrected = aliased(BroadcastLog)
    return ~exists().where(corrected.corrects_id == BroadcastLog.id)


def _grouped():
    """The totals as a grouping of the effective log rows, in SQL (rebuild and check)."""
    group = _group_sql()
    labelled = [column.label(name) for name, column in group.items()]
    return (
        select(
            *labelled,
            func.count().label("n"),
            func.sum(func.coalesce(BroadcastLog.duration_s, 0.0)).label("seconds"),
            func.min(BroadcastLog.started_at).label("first_started"),
            func.max(BroadcastLog.started_at).label("last_started"),
        )
        .where(_effective(), log_time().is_not(None))
        .group_by(*group.values())
    )


def rebuild_totals() -> int:
    """Recompute every total from the log (one statement) and commit; the number of groups."""
    db.session.execute(delete(LogTotal))
    columns = [*TOTAL_GROUP, "n", "seconds", "first_started", "last_started"]
    db.session.execute(insert(LogTotal).from_select(columns, _grouped()))
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(LogTotal)) or 0


@dataclass(frozen=True)
class TotalDifference:
    """A group whose kept total differs from the log: (n, seconds) kept and counted."""

    group: tuple
    kept: tuple[int, float]
    counted: tuple[int, float]


def check_totals() -> list[TotalDifference]:
    """Groups whose kept totals do not equal the log's effective rows (seconds to 1 ms)."""
    counted = {}
    for row in db.session.execute(_grouped()):
        counted[_key(row)] = (int(row.n), float(row.seconds or 0.0))
    kept = {}
    for total in db.session.scalars(select(LogTotal)):
        kept[_key(total)] = (total.n, total.seconds)
    found = []
    for group in sorted(set(counted) | set(kept), key=str):
        a, b = kept.get(group, (0, 0.0)), counted.get(group, (0, 0.0))
        if a[0] != b[0] or abs(a[1] - b[1]) > 0.001:
            found.append(TotalDifference(group, a, b))
    return found


def _key(row) -> tuple:
    """A group as comparable plain values (SQLite gives dates and flags as text and ints)."""
    day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
    values = [getattr(row, name) for name in TOTAL_GROUP[1:]]
    plain = [getattr(v, "value", v) for v in values]
    return (
        day,
        *(
            bool(v) if name in ("scheduled", "is_repeat") else v
            for name, v in zip(TOTAL_GROUP[1:], plain, strict=True)
        ),
    )
