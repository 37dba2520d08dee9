"""Appending to the broadcast log, correcting it, and verifying its hash chains.

Each station's rows form a chain: row n stores seq = n, prev_hash = row_hash of row n - 1 (64
zeros for row 1) and row_hash = sha256 of the row's canonical serialisation. Changing any
stored field breaks that row's hash; removing a row leaves a gap in seq and breaks the link.

Canonical serialisation, hash_version 1 and 2 (never change one; add a version instead):
- a JSON object of the fields in HASH_FIELDS_V1 or HASH_FIELDS_V2 (version 2: every column
  except id, row_hash and received_at; version 1: the same without unit_id, added later), keys
  sorted, separators "," and ":", non-ASCII kept as UTF-8 (ensure_ascii=False), encoded UTF-8;
- datetimes in UTC as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six digits of microseconds);
- duration_s (rounded to milliseconds when appended) as the string Python's repr gives, the
  shortest text that reads back as the same double ("12.5", "0.001"); enums by value; null
  as null.
id is left out because the database assigns it after the hash is computed and rows are never
updated; a row's place in the chain is (station_id, seq). received_at is left out because it is
the server's receipt time of a row a station agent wrote and hashed before sending it.

A station aired by its agent (playout mode agent) has its chain written by the agent: its rows
come in as batches (app.agents.ingest), checked by check_continuation() to continue the
server's chain exactly and stored by store_rows(); the server itself appends nothing to it
(append_log and correct_log refuse), or the chain would fork.

What a chain alone cannot show: removal of a station's newest rows (nothing follows them), and
someone with write access rewriting every row from some point on with fresh hashes. Both need
the latest row_hash kept outside the database (an export, a report sent upwards).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import String, func, insert, select, type_coerce
from sqlalchemy.exc import IntegrityError

from app.audit.service import record_event
from app.auth.models import Role, User
from app.broadcast import totals
from app.broadcast.models import GENESIS_HASH, BroadcastLog, LogStatus
from app.broadcast.totals import log_time
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.org.models import PlayoutMode, Station, Unit
from app.scripts.models import Priority, Script

HASH_VERSION = 2
HASH_FIELDS_V1 = (
    "airing_key",
    "audio_sha256",
    "correction_reason",
    "corrects_hash",
    "corrects_id",
    "created_at",
    "duration_s",
    "ended_at",
    "hash_version",
    "operator_id",
    "planned_at",
    "prev_hash",
    "priority",
    "reason",
    "render_id",
    "runner_host",
    "schedule_id",
    "script_id",
    "seq",
    "spoken_sha256",
    "started_at",
    "station_id",
    "status",
    "version_id",
)
# Version 2 adds the station's unit at the time of writing.
HASH_FIELDS_V2 = tuple(sorted((*HASH_FIELDS_V1, "unit_id")))
HASH_FIELDS = {1: HASH_FIELDS_V1, 2: HASH_FIELDS_V2}
# Columns no hash covers: the id the database assigns, the hash itself, and the server's
# receipt time of an agent's row.
UNHASHED = frozenset({"id", "row_hash", "received_at"})
# Rows per INSERT statement when storing an agent's batch.
INSERT_PAGE_ROWS = 100
# The versions an agent's row may come in: those that bind the row to its unit.
INGEST_HASH_VERSIONS = frozenset(v for v, names in HASH_FIELDS.items() if "unit_id" in names)

# Concurrent appends for one station race for the same seq; the loser retries on top of the
# winner's row. Each lost race means another row went in, so a few attempts are plenty.
APPEND_ATTEMPTS = 8
CORRECTING_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})


@dataclass
class LogEntry:
    """What to write in one log row; the chain fields are filled in by append_log."""

    station_id: int
    status: LogStatus
    planned_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    reason: str = ""
    script_id: int | None = None
    version_id: int | None = None
    render_id: int | None = None
    spoken_sha256: str = ""
    audio_sha256: str = ""
    schedule_id: int | None = None
    airing_key: str | None = None
    priority: Priority = Priority.NORMAL
    operator_id: int | None = None
    runner_host: str = ""


@dataclass(frozen=True)
class BadRow:
    """Where a chain breaks: the station and seq, and the row id when the row still exists."""

    station_id: int
    station_code: str
    seq: int
    row_id: int | None


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verify_chain: how many rows were checked and the first problem, if any."""

    ok: bool
    checked: int
    first_bad: BadRow | None = None
    problem: str = ""


def _canonical_value(value):
    """One field as it enters the hash."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a log row")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, LogStatus | Priority):
        return value.value
    return value


# A row as JSON between a station agent and the server: every hashed field and the hash.
ROW_JSON_FIELDS = tuple(sorted({*HASH_FIELDS_V2, "row_hash"}))
_ROW_TIMES = ("planned_at", "started_at", "ended_at", "created_at")


def row_json(row: BroadcastLog) -> dict:
    """The row's chain fields as JSON: times in UTC with microseconds (always six digits),
    enums by value; the same row comes back from row_from_json() with the same row_hash."""
    data = {}
    for name in ROW_JSON_FIELDS:
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        elif isinstance(value, LogStatus | Priority):
            value = value.value
        data[name] = value
    return data


def row_from_json(data: dict) -> BroadcastLog:
    """A BroadcastLog (not added to the session) from row_json()'s shape; ValueError or
    KeyError on a field missing or of the wrong kind."""
    values = {name: data[name] for name in ROW_JSON_FIELDS if name != "unit_id"}
    values["unit_id"] = data.get("unit_id")
    for name in _ROW_TIMES:
        if values[name] is not None:
            parsed = datetime.fromisoformat(values[name])
            if parsed.tzinfo is None:
                raise ValueError(f"{name} without a time zone")
            values[name] = parsed.astimezone(UTC)
    values["status"] = LogStatus(values["status"])
    values["priority"] = Priority(values["priority"])
    if values["duration_s"] is not None:
        values["duration_s"] = float(values["duration_s"])
    return BroadcastLog(**values)


def canonical_bytes(row: BroadcastLog) -> bytes:
    """The row's canonical serialisation for its hash_version (see the module docstring)."""
    try:
        names = HASH_FIELDS[row.hash_version]
    except KeyError:
        raise ValueError(f"unknown hash_version {row.hash_version}") from None
    data = {name: _canonical_value(getattr(row, name)) for name in names}
    text = json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return text.encode("utf-8")


def compute_row_hash(row: BroadcastLog) -> str:
    """sha256 hex of the row's canonical serialisation."""
    return hashlib.sha256(canonical_bytes(row)).hexdigest()


def _aware(value: datetime | None, name: str) -> None:
    """Refuse naive datetimes: the log must not depend on the server's time zone."""
    if value is not None and value.tzinfo is None:
        raise ValidationError(f"Thời điểm {name} thiếu múi giờ.", {name: "Thiếu múi giờ."})


def _clean(entry: LogEntry) -> LogEntry:
    """Check an entry and normalise its values before it is hashed."""
    if not isinstance(entry.status, LogStatus):
        entry = replace(entry, status=LogStatus(entry.status))
    if not isinstance(entry.priority, Priority):
        entry = replace(entry, priority=Priority(entry.priority))
    for name in ("planned_at", "started_at", "ended_at"):
        _aware(getattr(entry, name), name)
    if entry.started_at and entry.ended_at and entry.ended_at < entry.started_at:
        raise ValidationError(
            "Giờ kết thúc phát sớm hơn giờ bắt đầu.", {"ended_at": "Trước giờ bắt đầu."}
        )
    duration = entry.duration_s
    if duration is None and entry.started_at and entry.ended_at:
        duration = (entry.ended_at - entry.started_at).total_seconds()
    if duration is not None:
        if duration < 0:
            raise ValidationError("Thời lượng không được âm.", {"duration_s": "Âm."})
        duration = round(float(duration), 3)
    return replace(
        entry,
        duration_s=duration,
        reason=entry.reason.strip(),
        runner_host=entry.runner_host.strip()[:120],
    )


def _last_row(station_id: int) -> BroadcastLog | None:
    """The station's newest row (highest seq)."""
    return db.session.scalar(
        select(BroadcastLog)
        .where(BroadcastLog.station_id == station_id)
        .order_by(BroadcastLog.seq.desc())
        .limit(1)
    )


class AiredByAgent(Conflict):
    """A write into the chain of a station its agent airs, from anywhere but that agent."""

    code = "aired_by_agent"


def _on_agent_host() -> bool:
    """Whether this process is a station agent, whose own database holds its station's chain."""
    from app.playout.runner import AGENT_HOST  # app.playout imports this module

    return current_app.config.get("PLAYOUT_HOST") == AGENT_HOST


def refuse_if_aired_by_agent(station: Station) -> None:
    """AiredByAgent when the server would append to the chain of a station its agent airs.

    The agent writes that chain on its own PC and uploads it (app.agents.ingest); a row appended
    here meanwhile would take a seq the agent is also writing, and the chain would fork.
    """
    if _on_agent_host():
        return
    if station.playout_mode == PlayoutMode.CENTRAL and station.awaiting_agent_since is not None:
        raise AiredByAgent(
            f"Đài “{station.name}” vừa chuyển về máy chủ trung tâm nhưng máy trạm chưa bàn giao "
            "(chưa gửi hết nhật ký): máy chủ chưa ghi dòng nào của đài này, vì như thế sẽ làm rẽ "
            "nhánh chuỗi mã băm; chưa có gì được ghi. Hãy chờ máy trạm đồng bộ, hoặc thu hồi "
            "máy trạm nếu nó không bao giờ kết nối lại.",
            {"station": "Đài đang chờ máy trạm bàn giao."},
        )
    if station.playout_mode != PlayoutMode.AGENT:
        return
    raise AiredByAgent(
        f"Đài “{station.name}” do máy trạm tại đài phát: nhật ký phát sóng của đài chỉ do máy "
        "trạm ghi rồi gửi lên. Máy chủ không ghi hay sửa dòng nào của đài này, vì như thế sẽ làm "
        "rẽ nhánh chuỗi mã băm; chưa có gì được ghi. Muốn ghi hoặc sửa từ máy chủ, hãy chuyển "
        "đài về chế độ máy chủ trung tâm trước.",
        {"station": "Đài do máy trạm phát."},
    )


def _append(
    entry: LogEntry,
    *,
    corrects: tuple[int, str] | None = None,
    correction_reason: str = "",
    after: Callable[[BroadcastLog], None] | None = None,
    unit_id: int | None = None,
    own_claim: bool = False,
) -> BroadcastLog:
    """Insert one chained row and commit, retrying when another writer took the same seq.

    The row and whatever `after` adds (an audit event) commit together. On a lost race the
    session is rolled back, so nothing else may be pending in it.
    """
    entry = _clean(entry)
    station = db.session.get(Station, entry.station_id)
    if station is None:
        raise NotFound("Không tìm thấy đài.")
    if not own_claim:
        refuse_if_aired_by_agent(station)
    unit_id = unit_id if unit_id is not None else station.unit_id
    for attempt in range(APPEND_ATTEMPTS):
        last = _last_row(entry.station_id)
        row = BroadcastLog(
            **{f.name: getattr(entry, f.name) for f in fields(LogEntry)},
            unit_id=unit_id,
            corrects_id=corrects[0] if corrects else None,
            corrects_hash=corrects[1] if corrects else None,
            correction_reason=correction_reason,
            created_at=clock.now(),
            seq=last.seq + 1 if last else 1,
            hash_version=HASH_VERSION,
            prev_hash=last.row_hash if last else GENESIS_HASH,
        )
        row.row_hash = compute_row_hash(row)
        db.session.add(row)
        try:
            db.session.flush()
            totals.add_row(row)
            if corrects:
                totals.remove_corrected(db.session.get(BroadcastLog, corrects[0]), row.id)
            if after is not None:
                after(row)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            # Jitter so that two losers do not collide again in lockstep.
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            continue
        return row
    raise Conflict("Không ghi được nhật ký phát sóng vì nhiều máy cùng ghi; hãy thử lại.")


def append_log(
    entry: LogEntry, after: Callable[[BroadcastLog], None] | None = None, *, own_claim: bool = False
) -> BroadcastLog:
    """Append a row to its station's chain and commit it, with whatever `after` adds.

    own_claim: the row ends an airing the writing runner claimed itself, which it may log even
    on a station switched to its agent since (refuse_if_aired_by_agent() does not apply).
    """
    return _append(entry, after=after, own_claim=own_claim)


def correct_log(
    actor: User | None,
    row: BroadcastLog,
    reason: str,
    *,
    status: LogStatus | None = None,
    new_reason: str | None = None,
    **changes,
) -> BroadcastLog:
    """Append a row that corrects `row` (which stays as it was), with why, and audit it.

    The correction copies the original's fields; `status`, `new_reason` (the row's own reason
    text) and any other LogEntry field given in `changes` replace them.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError("Hãy ghi lý do sửa dòng nhật ký.", {"reason": "Cần ghi lý do sửa."})
    unknown = set(changes) - {f.name for f in fields(LogEntry)} | (set(changes) & {"station_id"})
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))} in a correction")
    station = db.session.get(Station, row.station_id)
    if actor is not None:
        if actor.role not in CORRECTING_ROLES:
            raise PermissionDenied(
                "Chỉ nhân viên đài, người duyệt và quản trị mới sửa được nhật ký."
            )
        if not actor.unit.contains(station.unit):
            raise PermissionDenied("Đài này nằm ngoài phạm vi của bạn.")
    original = {f.name: getattr(row, f.name) for f in fields(LogEntry)}
    entry = LogEntry(**original)
    entry = replace(entry, **changes)
    if status is not None:
        entry = replace(entry, status=LogStatus(status))
    if new_reason is not None:
        entry = replace(entry, reason=new_reason)
    changed = {
        name: [_canonical_value(original[name]), _canonical_value(getattr(entry, name))]
        for name in original
        if getattr(entry, name) != original[name]
    }
    row_id, row_seq, row_hash = row.id, row.seq, row.row_hash
    code, unit_id = station.code, station.unit_id

    def audit(new: BroadcastLog) -> None:
        record_event(
            "broadcast_log.correct",
            "broadcast_log",
            new.id,
            f"Sửa dòng #{row_seq} nhật ký phát sóng đài {code} bằng dòng #{new.seq}: {reason}",
            actor=actor,
            unit_id=unit_id,
            details={"corrects_id": row_id, "corrects_seq": row_seq, "changes": changed},
        )

    # A correction is about the same airing: it stays filed under the original's unit.
    return _append(
        entry,
        corrects=(row_id, row_hash),
        correction_reason=reason,
        after=audit,
        unit_id=row.unit_id,
    )


def station_rows(station_id: int) -> list[BroadcastLog]:
    """A station's log in chain order."""
    return list(
        db.session.scalars(
            select(BroadcastLog)
            .where(BroadcastLog.station_id == station_id)
            .order_by(BroadcastLog.seq)
        )
    )


# --- rows written elsewhere (a station agent) ----------------------------------------------


class ChainBroken(Conflict):
    """A batch of rows that does not continue the station's chain; seq is the first row at
    fault (as sent) and problem says why, in Vietnamese."""

    code = "chain_broken"

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"Dòng #{seq}: {problem}.", {"seq": f"Dòng #{seq}: {problem}."})
        self.seq = seq
        self.problem = problem


@dataclass(frozen=True)
class Continuation:
    """How a batch continues a chain: the rows to store, and how many the chain has already."""

    new: list[Any]
    duplicates: int


def chain_head(station_id: int) -> BroadcastLog | None:
    """The station's newest row: where its chain continues."""
    return _last_row(station_id)


def check_continuation(station_id: int, rows: list[Any]) -> Continuation:
    """Check that rows (in the order sent; BroadcastLog instances or any objects with its
    columns as attributes) continue the station's chain exactly, or raise ChainBroken at the
    first that does not.

    Each row's hash must match its fields, under a version that binds the unit, and no row
    may be a correction. Rows must follow each other (seq + 1, prev_hash = the previous
    row_hash). Rows the server holds already with the same hash are duplicates (a batch sent
    again); the first new row must come right after the server's newest row and link to it.
    """
    head = _last_row(station_id)
    head_seq = head.seq if head else 0
    held = dict(
        db.session.execute(
            select(BroadcastLog.seq, BroadcastLog.row_hash).where(
                BroadcastLog.station_id == station_id,
                BroadcastLog.seq.in_(sorted({r.seq for r in rows if r.seq <= head_seq})),
            )
        ).all()
    )
    new: list[Any] = []
    duplicates = 0
    previous = None
    for row in rows:
        if row.hash_version not in INGEST_HASH_VERSIONS:
            raise ChainBroken(row.seq, f"phiên bản mã băm {row.hash_version} không được hỗ trợ")
        if row.corrects_id is not None or row.corrects_hash is not None or row.correction_reason:
            raise ChainBroken(row.seq, "là một dòng sửa, mà máy trạm không được sửa nhật ký")
        if _row_hash_of(row) != row.row_hash:
            raise ChainBroken(
                row.seq, "mã băm không khớp với nội dung dòng (dòng đã bị sửa hoặc bị giả mạo)"
            )
        if previous is not None and row.seq != previous.seq + 1:
            raise ChainBroken(
                row.seq,
                f"đứng ngay sau dòng #{previous.seq} trong lô: các dòng phải liên tiếp và đúng "
                "thứ tự",
            )
        if previous is not None and row.prev_hash != previous.row_hash:
            raise ChainBroken(row.seq, f"không nối với mã băm của dòng #{previous.seq} trước nó")
        if row.seq <= head_seq:
            if held.get(row.seq) != row.row_hash:
                raise ChainBroken(row.seq, f"máy chủ đã có dòng #{row.seq} của đài với mã băm khác")
            duplicates += 1
        elif previous is None or previous.seq <= head_seq:
            # The first new row: right after the server's newest, linked to it.
            if row.seq != head_seq + 1:
                missing = (
                    f"#{head_seq + 1}"
                    if row.seq == head_seq + 2
                    else f"#{head_seq + 1} đến #{row.seq - 1}"
                )
                raise ChainBroken(
                    row.seq,
                    f"thiếu dòng {missing}: máy chủ mới có đến dòng #{head_seq} của đài",
                )
            expected = head.row_hash if head else GENESIS_HASH
            if row.prev_hash != expected:
                where = f"dòng #{head_seq} máy chủ đang giữ" if head else "đầu chuỗi"
                raise ChainBroken(row.seq, f"không nối với mã băm của {where}")
            new.append(row)
        else:
            new.append(row)
        previous = row
    return Continuation(new, duplicates)


def store_rows(rows: list[Any], received_at: datetime) -> None:
    """Insert rows check_continuation() accepted, with the server's receipt time, and count
    them in the daily totals (in the caller's transaction; nothing is committed)."""
    if not rows:
        return
    table = BroadcastLog.__table__
    for row in rows:
        row.received_at = received_at
    columns = [c for c in table.c if c.name != "id"]
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, table, columns, rows)
    else:
        # One executemany without RETURNING (nothing needs the new ids), in pages of one size
        # so the driver prepares the statement once.
        db.session.execute(
            insert(table).execution_options(insertmanyvalues_page_size=INSERT_PAGE_ROWS),
            [{c.name: getattr(row, c.name) for c in columns} for row in rows],
        )
    totals.add_rows(rows)


def _copy_rows(connection, table, columns: list, rows: list[Any]) -> None:
    """Insert rows with PostgreSQL's COPY, in the session's transaction: one statement for the
    batch, a few times faster than an INSERT per row. Values pass through each column type's
    own bind processing (enums as their values, times as aware UTC), as an INSERT's would."""
    dialect = connection.dialect
    processors = [c.type.bind_processor(dialect) for c in columns]
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    driver = connection.connection.driver_connection
    statement = f"COPY {table.name} ({names}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [getattr(row, c.name) for c in columns]
            copy.write_row(
                [v if p is None else p(v) for v, p in zip(values, processors, strict=True)]
            )


# --- verification -----------------------------------------------------------------------


class _Broken(Exception):
    """The first problem found in a chain."""

    def __init__(self, bad: BadRow, problem: str, checked: int) -> None:
        super().__init__(problem)
        self.bad = bad
        self.problem = problem
        self.checked = checked


def _raw_columns() -> list:
    """The table's columns, enums read as plain strings so a tampered value cannot stop the
    check (an unknown enum value would make the ORM raise instead of reporting the row)."""
    table = BroadcastLog.__table__
    return [
        type_coerce(c, String()).label(c.name) if c.name in ("status", "priority") else c
        for c in table.c
    ]


def _rows_to_check(
    station_id: int, start: datetime | None, end: datetime | None
) -> tuple[Iterable, bool] | None:
    """The station's rows in seq order, and whether the first is an anchor before a period.

    With a period: the rows written in [start, end) plus the existing row just before them,
    whose link into the period must hold too (so a rewritten first row is still caught).
    """
    query = select(*_raw_columns()).where(BroadcastLog.station_id == station_id)
    anchored = False
    if start is not None or end is not None:
        bounds = select(func.min(BroadcastLog.seq), func.max(BroadcastLog.seq)).where(
            BroadcastLog.station_id == station_id
        )
        if start is not None:
            bounds = bounds.where(BroadcastLog.created_at >= start)
        if end is not None:
            bounds = bounds.where(BroadcastLog.created_at < end)
        low, high = db.session.execute(bounds).one()
        if low is None:
            return None
        anchor = db.session.scalar(
            select(func.max(BroadcastLog.seq)).where(
                BroadcastLog.station_id == station_id, BroadcastLog.seq < low
            )
        )
        anchored = anchor is not None
        query = query.where(BroadcastLog.seq >= (anchor or low), BroadcastLog.seq <= high)
    rows = db.session.execute(query.order_by(BroadcastLog.seq).execution_options(yield_per=1000))
    return rows, anchored


def _missing(
    station: Station, first: int, last: int, after: int | None, before: int, checked: int
) -> _Broken:
    """A gap: rows first..last are gone."""
    label = f"#{first}" if first == last else f"#{first} đến #{last}"
    where = f"giữa #{after} và #{before}" if after is not None else f"trước #{before}"
    return _Broken(
        BadRow(station.id, station.code, first, None),
        f"Thiếu dòng {label} của đài {station.code}: đã bị xóa (chuỗi đứt {where}).",
        checked,
    )


def _altered(station: Station, row, detail: str, checked: int) -> _Broken:
    """A row whose stored fields no longer match the chain."""
    return _Broken(
        BadRow(station.id, station.code, row.seq, row.id),
        f"Dòng #{row.seq} của đài {station.code} đã bị sửa: {detail}.",
        checked,
    )


def _row_hash_of(row) -> str | None:
    """Recompute a stored row's hash; None when the row cannot even be serialised."""
    try:
        return hashlib.sha256(canonical_bytes(row)).hexdigest()
    except (ValueError, TypeError):
        return None


def _check_station(station: Station, rows: Iterable, anchored: bool) -> int:
    """Walk one station's rows in seq order; return how many were checked or raise _Broken."""
    prev = None
    checked = 0
    for row in rows:
        if prev is None and not anchored and row.seq != 1:
            raise _missing(station, 1, row.seq - 1, None, row.seq, checked)
        if prev is not None and row.seq != prev.seq + 1:
            raise _missing(station, prev.seq + 1, row.seq - 1, prev.seq, row.seq, checked)
        if _row_hash_of(row) != row.row_hash:
            raise _altered(station, row, "mã băm không khớp", checked)
        if prev is not None and row.prev_hash != prev.row_hash:
            # row's own hash covers its prev_hash, so row is intact: prev was rewritten
            # together with its hash.
            raise _altered(
                station, prev, f"mã băm không còn khớp với dòng #{row.seq} nối sau", checked
            )
        if prev is None and row.seq == 1 and row.prev_hash != GENESIS_HASH:
            raise _altered(station, row, "dòng đầu tiên không mở đầu chuỗi", checked)
        if row.corrects_id is not None:
            target = db.session.execute(
                select(BroadcastLog.station_id, BroadcastLog.row_hash).where(
                    BroadcastLog.id == row.corrects_id
                )
            ).first()
            if target is None or tuple(target) != (row.station_id, row.corrects_hash):
                raise _altered(station, row, "dòng mà nó sửa không còn khớp", checked)
        prev = row
        checked += 1
    return checked


def verify_chain(
    station_id: int | None = None, start: datetime | None = None, end: datetime | None = None
) -> VerifyResult:
    """Check the chains of one station or all (in code order), optionally only the rows
    written in [start, end); report the first altered or removed row."""
    for name, value in (("start", start), ("end", end)):
        _aware(value, name)
    if station_id is not None:
        station = db.session.get(Station, station_id)
        if station is None:
            raise NotFound("Không tìm thấy đài.")
        stations = [station]
    else:
        with_rows = select(BroadcastLog.station_id).distinct()
        stations = db.session.scalars(
            select(Station).where(Station.id.in_(with_rows)).order_by(Station.code)
        ).all()
    checked = 0
    for station in stations:
        found = _rows_to_check(station.id, start, end)
        if found is None:
            continue
        rows, anchored = found
        try:
            checked += _check_station(station, rows, anchored)
        except _Broken as broken:
            return VerifyResult(False, checked + broken.checked, broken.bad, broken.problem)
        finally:
            # Rows are streamed (a server-side cursor on PostgreSQL): close it when stopping early.
            rows.close()
    return VerifyResult(True, checked)


# --- Reading the log --------------------------------------------------------------------------


@dataclass
class LogFilter:
    """The console's and the API's filters; dates are local (Asia/Ho_Chi_Minh) days."""

    station: Station | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: LogStatus | None = None
    campaign: str = ""


def log_query(actor: User, filters: LogFilter):
    """Rows of stations in the actor's subtree matching the filters, newest first."""
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        message = "Ngày bắt đầu lọc phải trước hoặc bằng ngày kết thúc."
        raise ValidationError(message, {"date_from": message})
    query = (
        select(BroadcastLog)
        .join(Station, BroadcastLog.station_id == Station.id)
        .join(Unit, Station.unit_id == Unit.id)
        .where(Unit.path.startswith(actor.unit.path))
    )
    if filters.station is not None:
        query = query.where(BroadcastLog.station_id == filters.station.id)
    when = log_time()
    if filters.date_from:
        query = query.where(when >= _local_midnight(filters.date_from))
    if filters.date_to:
        query = query.where(when < _local_midnight(filters.date_to + timedelta(days=1)))
    if filters.status is not None:
        query = query.where(BroadcastLog.status == filters.status)
    if filters.campaign:
        query = query.join(Script, BroadcastLog.script_id == Script.id).where(
            Script.campaign == filters.campaign
        )
    return query.order_by(when.desc(), BroadcastLog.id.desc())


def campaigns_in_scope(actor: User) -> list[str]:
    """Campaign names of scripts that have log rows in the actor's subtree, for the filter."""
    rows = db.session.scalars(
        select(Script.campaign)
        .distinct()
        .join(BroadcastLog, BroadcastLog.script_id == Script.id)
        .join(Station, BroadcastLog.station_id == Station.id)
        .join(Unit, Station.unit_id == Unit.id)
        .where(Unit.path.startswith(actor.unit.path), Script.campaign != "")
    )
    return sorted(rows)


def _local_midnight(day: date) -> datetime:
    """Start of a local day, in UTC."""
    return datetime.combine(day, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
