"""A station's broadcast log as its agent writes it: the chain head the server holds, the
batches of rows the agent uploads (checked to continue that chain exactly, stored all or
nothing), and the flag a breaking batch leaves until an admin clears it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.agents.models import Agent
from app.agents.service import _require_admin_scope
from app.audit.service import record_event
from app.auth.models import User
from app.broadcast.models import GENESIS_HASH, BroadcastLog, LogStatus
from app.broadcast.service import (
    APPEND_ATTEMPTS,
    ChainBroken,
    chain_head,
    check_continuation,
    row_json,
    store_rows,
)
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import Conflict, DomainError, PermissionDenied, ValidationError
from app.extensions import db
from app.org.models import Station, Unit
from app.schedules.models import Airing, AiringStatus, Schedule
from app.scripts.models import Priority, Script, ScriptVersion
from app.speech.models import Render

MAX_BATCH_ROWS = 1000
# The key of an airing the runner queued again after an emergency cut it off (runner.requeue).
REQUEUED_KEY = re.compile(r"^(?P<base>[^~]+)~r\d{8}T\d{6}$")
# What a row may point at on the server, by column.
_REFERENCES = (
    ("unit_id", Unit, "đơn vị"),
    ("script_id", Script, "kịch bản"),
    ("version_id", ScriptVersion, "phiên bản kịch bản"),
    ("render_id", Render, "bản âm thanh"),
    ("schedule_id", Schedule, "lịch phát"),
    ("operator_id", User, "người dùng"),
)


class ChainRefused(DomainError):
    """A batch refused because it breaks the station's chain, or the chain is flagged
    already; seq is the row at fault."""

    status = 409
    code = "chain_broken"

    def __init__(self, message: str, seq: int, problem: str) -> None:
        super().__init__(message, {"seq": f"Dòng #{seq}: {problem}."})
        self.seq = seq


class RowRefused(PermissionDenied):
    """A row that is not the agent's to send: another station's, unit or airing."""

    code = "row_refused"


@dataclass(frozen=True)
class IngestResult:
    """What a batch did: rows stored, rows the server held already, and the chain head."""

    accepted: int
    duplicates: int
    head_seq: int
    head_hash: str


def _local(value: datetime) -> str:
    """A time as a message shows it: 08:00 ngày 27/11/2026."""
    return value.astimezone(LOCAL_TZ).strftime("%H:%M ngày %d/%m/%Y")


def flag_json(agent: Agent) -> dict[str, Any] | None:
    """The agent's chain flag (when, seq, why), or None."""
    if not agent.chain_flagged:
        return None
    return {
        "at": agent.chain_broken_at.astimezone(LOCAL_TZ).isoformat(),
        "seq": agent.chain_broken_seq,
        "reason": agent.chain_broken_reason or "",
    }


def head_json(agent: Agent) -> dict[str, Any]:
    """The station's chain head as the server holds it: seq, row_hash and the row itself
    (every hashed column and the id), or seq 0, GENESIS_HASH and null with no rows yet."""
    head = chain_head(agent.station_id)
    return {
        "seq": head.seq if head else 0,
        "row_hash": head.row_hash if head else GENESIS_HASH,
        "row": {**row_json(head), "id": head.id} if head else None,
        "chain_flag": flag_json(agent),
    }


def build_row(values: dict[str, Any]) -> SimpleNamespace:
    """A validated row of a batch as a plain object with the row's columns (it hashes like a
    BroadcastLog: canonical_bytes reads attributes): status and priority as enums, duration as
    a float. Plain, not ORM instances: a thousand of them cost a third of a batch otherwise."""
    data = dict(values)
    data["status"] = LogStatus(data["status"])
    data["priority"] = Priority(data["priority"])
    if data.get("duration_s") is not None:
        data["duration_s"] = float(data["duration_s"])
    return SimpleNamespace(**data, received_at=None)


def _check_stations(station: Station, rows: list[SimpleNamespace]) -> None:
    """Every row must be of the agent's own station."""
    for row in rows:
        if row.station_id != station.id:
            raise RowRefused(
                f"Dòng #{row.seq} thuộc đài khác (mã đài {row.station_id}): máy trạm chỉ gửi "
                f"nhật ký của đài {station.name}. Không dòng nào của lô được ghi.",
                {"station_id": f"Dòng #{row.seq}: không phải đài của máy trạm."},
            )


def _check_units(station: Station, head: BroadcastLog | None, rows: list[SimpleNamespace]) -> None:
    """A new row is filed under the station's unit; or, when the station moved while the
    agent was offline, under the unit of the row before it (the one the agent still knew)."""
    before = head.unit_id if head else None
    for row in rows:
        if row.unit_id is None or row.unit_id not in {station.unit_id, before}:
            raise RowRefused(
                f"Dòng #{row.seq} ghi cho đơn vị khác (mã đơn vị {row.unit_id}) chứ không phải "
                f"đơn vị của đài {station.name}. Không dòng nào của lô được ghi.",
                {"unit_id": f"Dòng #{row.seq}: không phải đơn vị của đài."},
            )
        before = row.unit_id


def _check_references(rows: list[SimpleNamespace]) -> None:
    """What each row names (script, version, audio, schedule, operator, unit) must exist."""
    for column, model, label in _REFERENCES:
        wanted = {getattr(r, column) for r in rows} - {None}
        if not wanted:
            continue
        found = set(db.session.scalars(select(model.id).where(model.id.in_(sorted(wanted)))))
        for row in rows:
            value = getattr(row, column)
            if value is not None and value not in found:
                message = f"Dòng #{row.seq}: {label} mã {value} không có trên máy chủ."
                raise ValidationError(
                    f"{message} Không dòng nào của lô được ghi.", {column: message}
                )


def _move_airings(station: Station, rows: list[SimpleNamespace]) -> int:
    """Bring the server's airings in line with the agent's rows, as runner.finish() does:
    the airing of each row's key moves to the row's status. A key the server lacks that an
    emergency's requeue made ("<base>~r<UTC time>") gets its server copy, made from the base
    airing; any other unknown key is left (the row is stored anyway). Returns copies made."""
    keys = {r.airing_key for r in rows if r.airing_key}
    bases = {m["base"] for k in keys if (m := REQUEUED_KEY.match(k))}
    # Plain rows and one executemany UPDATE, not an ORM object per airing: a batch is up to
    # 500 rows and a district's agents send theirs together after an outage.
    found = {
        key: (airing_id, station_id)
        for airing_id, key, station_id in db.session.execute(
            select(Airing.id, Airing.airing_key, Airing.station_id).where(
                Airing.airing_key.in_(keys | bases)
            )
        )
    }

    def own(station_id: int, row: SimpleNamespace) -> None:
        if station_id != station.id:
            raise RowRefused(
                f"Dòng #{row.seq} nói về lượt phát “{row.airing_key}” của đài khác. Không dòng "
                "nào của lô được ghi.",
                {"airing_key": f"Dòng #{row.seq}: lượt phát của đài khác."},
            )

    moves: dict[int, AiringStatus] = {}
    copies: dict[str, Airing] = {}
    for row in rows:
        if not row.airing_key:
            continue
        status = AiringStatus(row.status.value)
        if row.airing_key in copies:
            copies[row.airing_key].status = status
            continue
        if row.airing_key in found:
            airing_id, station_id = found[row.airing_key]
            own(station_id, row)
            moves[airing_id] = status
            continue
        match = REQUEUED_KEY.match(row.airing_key)
        if match is None or match["base"] not in found or row.planned_at is None:
            continue
        base_id, station_id = found[match["base"]]
        own(station_id, row)
        base = db.session.get(Airing, base_id)
        # As runner.requeue() made it on the agent: sequenced (and made) when it aired again.
        copy = Airing(
            schedule_id=base.schedule_id,
            station_id=base.station_id,
            planned_at=base.planned_at,
            sequenced_at=row.planned_at,
            session_name=base.session_name,
            duration_s=base.duration_s,
            priority=base.priority,
            script_id=base.script_id,
            version_id=base.version_id,
            render_id=base.render_id,
            airing_key=row.airing_key,
            status=status,
            operator_id=base.operator_id,
            note=base.note,
            requeued_from_id=base.id,
            created_at=row.planned_at,
        )
        db.session.add(copy)
        copies[row.airing_key] = copy
    # One UPDATE per status the batch moves airings to (nearly all to "aired"), not one per
    # airing.
    by_status: dict[AiringStatus, list[int]] = {}
    for airing_id, status in moves.items():
        by_status.setdefault(status, []).append(airing_id)
    table = Airing.__table__
    for status, ids in by_status.items():
        db.session.execute(update(table).where(table.c.id.in_(sorted(ids))).values(status=status))
    return len(copies)


def _locked(agent_id: int) -> Agent:
    """The agent as stored now, locked until commit, so one station's batches go in turn."""
    return db.session.scalars(
        select(Agent)
        .where(Agent.id == agent_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _refuse_flagged(agent: Agent) -> None:
    """A flagged chain takes no batch until an admin clears the flag."""
    if not agent.chain_flagged:
        return
    raise ChainRefused(
        f"Chuỗi nhật ký của đài {agent.station.name} đã bị đánh dấu đứt lúc "
        f"{_local(agent.chain_broken_at)} (dòng #{agent.chain_broken_seq}: "
        f"{agent.chain_broken_reason}). Máy chủ không nhận lô nào của máy trạm “{agent.name}” "
        "cho đến khi quản trị viên kiểm tra và gỡ đánh dấu (trang Máy trạm, hoặc "
        f"`flask agents clear-flag {agent.id}`). Không dòng nào được ghi.",
        agent.chain_broken_seq or 0,
        agent.chain_broken_reason or "",
    )


def _ingest_once(agent_id: int, batch: list[dict[str, Any]], now: datetime) -> IngestResult:
    """One attempt, in one transaction: check everything, then store and commit."""
    agent = _locked(agent_id)
    _refuse_flagged(agent)
    station = agent.station
    rows = [build_row(values) for values in batch]
    _check_stations(station, rows)
    continuation = check_continuation(station.id, rows)
    new = continuation.new
    head = chain_head(station.id)
    _check_units(station, head, new)
    _check_references(new)
    _move_airings(station, new)
    store_rows(new, now)
    top = new[-1] if new else head
    result = IngestResult(
        accepted=len(new),
        duplicates=continuation.duplicates,
        head_seq=top.seq if top else 0,
        head_hash=top.row_hash if top else GENESIS_HASH,
    )
    db.session.commit()
    return result


def ingest_batch(agent: Agent, batch: list[dict[str, Any]]) -> IngestResult:
    """Store a batch of the agent's log rows if, all together, they continue its station's
    chain; otherwise store nothing, flag the agent and raise ChainRefused.

    Rows are given as validated field values (every hashed column, no id), in the order
    sent. A row another station's, unit's or airing's is RowRefused (403) and one naming
    something the server lacks ValidationError (422), neither flagging. Two batches at once
    go in turn (the agent row is locked); one that lost a race for a seq is checked again,
    when its rows are duplicates or a break.
    """
    if len(batch) > MAX_BATCH_ROWS:
        raise ValidationError(
            f"Một lô tối đa {MAX_BATCH_ROWS} dòng nhật ký.",
            {"rows": f"Tối đa {MAX_BATCH_ROWS} dòng."},
        )
    agent_id = agent.id
    now = clock.now()
    for _ in range(APPEND_ATTEMPTS):
        try:
            return _ingest_once(agent_id, batch, now)
        except ChainBroken as broken:
            db.session.rollback()
            raise _flag(agent_id, broken, now) from None
        except IntegrityError:
            db.session.rollback()
            continue
        except Exception:
            db.session.rollback()
            raise
    raise Conflict("Không ghi được lô nhật ký vì nhiều máy cùng ghi; hãy gửi lại.")


def _flag(agent_id: int, broken: ChainBroken, now: datetime) -> ChainRefused:
    """Flag the agent's chain broken (audited, committed) and the error to answer."""
    agent = _locked(agent_id)
    station = agent.station
    agent.chain_broken_at = now
    agent.chain_broken_seq = broken.seq
    agent.chain_broken_reason = broken.problem
    record_event(
        "agent.chain_broken",
        "agent",
        agent.id,
        f"Lô nhật ký của máy trạm “{agent.name}” (đài {station.name}, {station.code}) làm đứt "
        f"chuỗi ở dòng #{broken.seq}: {broken.problem}; không dòng nào được ghi, đài bị đánh dấu",
        unit_id=station.unit_id,
        details={"station": station.code, "seq": broken.seq, "problem": broken.problem},
    )
    db.session.commit()
    return ChainRefused(
        f"Lô nhật ký bị từ chối, không dòng nào được ghi: dòng #{broken.seq} {broken.problem}. "
        f"Chuỗi nhật ký của đài {station.name} đã bị đánh dấu đứt; máy chủ không nhận lô nào "
        "của máy trạm này cho đến khi quản trị viên kiểm tra và gỡ đánh dấu.",
        broken.seq,
        broken.problem,
    )


def clear_chain_flag(actor: User | None, agent: Agent) -> Agent:
    """Clear an agent's chain flag (an admin of the station's subtree, or the command line),
    audited with what the flag said; its next batch is checked afresh."""
    _require_admin_scope(actor, agent.station)
    if not agent.chain_flagged:
        raise Conflict(f"Chuỗi nhật ký của máy trạm “{agent.name}” không bị đánh dấu.")
    station = agent.station
    was = flag_json(agent)
    agent.chain_broken_at = None
    agent.chain_broken_seq = None
    agent.chain_broken_reason = None
    record_event(
        "agent.chain_flag_clear",
        "agent",
        agent.id,
        f"Gỡ đánh dấu chuỗi nhật ký đứt của máy trạm “{agent.name}” (đài {station.name}, "
        f"{station.code}); lúc đánh dấu: dòng #{was['seq']}: {was['reason']}",
        actor=actor,
        unit_id=station.unit_id,
        details={"station": station.code, "flag": was},
    )
    db.session.commit()
    return agent
