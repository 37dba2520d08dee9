"""What an operator does by hand: air now, skip an airing, log a live read.

Each action goes through the same claim-and-log path as the runner, so a spot the operator
skips cannot also air, and every action ends in one broadcast-log row naming the operator.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, in_scope, require
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import LogEntry, append_log
from app.core import clock
from app.core.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.org.models import PlayoutMode, Station
from app.playout import runner
from app.schedules.models import Airing, AiringStatus
from app.schedules.recurrence import LOCAL_TZ
from app.schedules.service import check_script_airable, check_script_visible
from app.scripts.models import Priority, Script

MAX_NOTE_CHARS = 500
MIN_REASON_CHARS = 3
# A live read is logged after it happened: at most this long ago, and never in the future.
LIVE_READ_MAX_AGE = timedelta(days=7)
LIVE_READ_MAX_S = 3 * 3600
# Clocks of the operator's phone and the server differ by a little.
FUTURE_TOLERANCE = timedelta(minutes=2)


def _station_in_scope(actor: User, station: Station) -> None:
    """Raise NotFound for a station outside the actor's subtree; refuse an inactive one."""
    if not in_scope(actor, station.unit):
        message = "Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."
        raise NotFound(message, {"stations": message})
    if not station.active:
        message = f"Đài “{station.name}” đã ngừng hoạt động."
        raise ValidationError(message, {"stations": message})


def _aired_centrally(station: Station, what: str) -> None:
    """Refuse to write into the log of a station its agent airs: the agent keeps that
    station's chain, and a row written here would fork it."""
    if station.playout_mode == PlayoutMode.AGENT:
        raise Conflict(
            f"Đài “{station.name}” do máy trạm của đài phát, nên không {what} từ đây được. "
            "“Phát ngay” vẫn dùng được: máy trạm nhận lượt phát ở lần đồng bộ tới."
        )
    if station.awaiting_agent_since is not None:
        raise Conflict(
            f"Đài “{station.name}” đang chờ máy trạm bàn giao về máy chủ trung tâm, nên chưa "
            f"{what} từ đây được. Hãy thử lại sau khi máy trạm đồng bộ (hoặc thu hồi máy trạm)."
        )


def operator_host(actor: User) -> str:
    """The runner_host written for rows an operator caused: "tay:<username>"."""
    return f"tay:{actor.username}"[:120]


# --- air now --------------------------------------------------------------------------------


def air_now(
    actor: User,
    script: Script,
    stations: Sequence[Station],
    note: str = "",
    now: datetime | None = None,
) -> list[Airing]:
    """Queue the script's approved audio to air at once, as khẩn cấp, on each station.

    The runner picks emergency airings up within a second: it interrupts what the station is
    playing (logged as interrupted, then re-queued or dropped by the station's policy) and
    airs this. Nothing is saved unless every station and the script pass the checks.
    """
    require(actor, Permission.PLAYOUT_CONTROL)
    note = (note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        message = f"Ghi chú dài quá {MAX_NOTE_CHARS} ký tự."
        raise ValidationError(message, {"note": message})
    now = (now or clock.now()).astimezone(UTC).replace(microsecond=0)
    check_script_visible(actor, script)
    check_script_airable(script, now)
    if not stations:
        message = "Chọn ít nhất một đài để phát ngay."
        raise ValidationError(message, {"stations": message})
    seen: set[int] = set()
    for station in stations:
        _station_in_scope(actor, station)
        seen.add(station.id)
    render = script.approved_render
    airings = []
    for station in sorted({s.id: s for s in stations}.values(), key=lambda s: s.code):
        key = f"now:{station.id}:{now:%Y%m%dT%H%M%SZ}:{secrets.token_hex(4)}"
        airing = Airing(
            schedule_id=None,
            station_id=station.id,
            planned_at=now,
            sequenced_at=now,
            duration_s=float(render.duration_s or 0.0),
            priority=Priority.EMERGENCY,
            script_id=script.id,
            version_id=script.approved_version_id,
            render_id=render.id,
            airing_key=key,
            status=AiringStatus.PLANNED,
            operator_id=actor.id,
            note=note,
            created_at=now,
        )
        db.session.add(airing)
        airings.append(airing)
    db.session.flush()
    codes = [db.session.get(Station, a.station_id).code for a in airings]
    record_event(
        "playout.air_now",
        "script",
        script.id,
        f"Phát ngay “{script.title}” trên {len(airings)} đài ({', '.join(codes)})"
        + (f": {note}" if note else ""),
        actor=actor,
        unit_id=script.unit_id,
        details={"stations": codes, "airings": [a.airing_key for a in airings], "note": note},
    )
    db.session.commit()
    return airings


# --- skip -----------------------------------------------------------------------------------


def get_airing(actor: User, airing_id: int) -> Airing:
    """An airing on a station in the actor's subtree, or NotFound."""
    airing = db.session.get(Airing, airing_id)
    if airing is None or not in_scope(actor, airing.station.unit):
        raise NotFound("Không tìm thấy lượt phát.")
    return airing


def skip_airing(actor: User, airing: Airing, reason: str) -> BroadcastLog:
    """Take a planned airing off the air: it is claimed like the runner would, then logged skipped.

    Refused when the runner already has it (playing or done): the claim is the same
    conditional UPDATE, so either the runner airs it or the operator skips it, never both.
    """
    require(actor, Permission.PLAYOUT_CONTROL)
    if not in_scope(actor, airing.station.unit):
        raise NotFound("Không tìm thấy lượt phát.")
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_CHARS:
        message = "Hãy ghi lý do bỏ qua lượt phát."
        raise ValidationError(message, {"reason": message})
    if len(reason) > MAX_NOTE_CHARS:
        message = f"Lý do dài quá {MAX_NOTE_CHARS} ký tự."
        raise ValidationError(message, {"reason": message})
    if airing.status != AiringStatus.PLANNED:
        raise Conflict(f"Lượt phát đang ở trạng thái “{airing.status.label}”; không bỏ qua được.")
    _aired_centrally(airing.station, "bỏ qua lượt phát")
    host = operator_host(actor)
    now = clock.now()
    claimed = runner.claim_airing(airing.id, host, now)
    if claimed is None:
        db.session.refresh(airing)
        raise Conflict(
            f"Bộ phát vừa nhận lượt phát này ({airing.status.label}); không bỏ qua được."
        )
    render = claimed.render
    entry = runner.log_entry(
        claimed,
        render,
        host,
        status=LogStatus.SKIPPED,
        reason=f"bỏ qua: {reason}",
        operator_id=actor.id,
    )
    station = claimed.station
    when = claimed.sequenced_at.astimezone(LOCAL_TZ)

    def audit(row: BroadcastLog) -> None:
        record_event(
            "playout.skip",
            "airing",
            claimed.id,
            f"Bỏ qua lượt phát “{claimed.script.title}” lúc {when:%H:%M %d/%m/%Y} tại đài "
            f"{station.name}: {reason}",
            actor=actor,
            unit_id=station.unit_id,
            details={"airing_key": claimed.airing_key, "reason": reason, "log_id": row.id},
        )

    return _finish(claimed, entry, audit)


def _finish(
    claimed: Airing, entry: LogEntry, audit: Callable[[BroadcastLog], None]
) -> BroadcastLog:
    """runner.finish() fenced on the operator's claim; Conflict if a runner took it over."""
    row = runner.finish(claimed.id, entry, audit, claim=runner.Claim.of(claimed))
    if row is None:
        raise Conflict("Bộ phát vừa nhận lượt phát này; không ghi được.")
    return row


# --- live reads -----------------------------------------------------------------------------


@dataclass
class LiveRead:
    """A live read to log: when it started, how long, what was read, and optionally which airing."""

    station: Station
    started_at: datetime
    duration_s: float
    script: Script | None = None
    note: str = ""
    airing: Airing | None = None


def record_live_read(actor: User, data: LiveRead) -> BroadcastLog:
    """Log a spot an operator read on air by hand; it may stand in for a planned airing."""
    require(actor, Permission.PLAYOUT_CONTROL)
    station = data.station
    _station_in_scope(actor, station)
    _aired_centrally(station, "ghi lượt đọc trực tiếp")
    note = (data.note or "").strip()
    fields: dict[str, str] = {}
    if len(note) > MAX_NOTE_CHARS:
        fields["note"] = f"Ghi chú dài quá {MAX_NOTE_CHARS} ký tự."
    if data.script is None and data.airing is None and len(note) < MIN_REASON_CHARS:
        fields["note"] = "Chọn kịch bản đã đọc hoặc ghi nội dung đã đọc."
    if data.started_at.tzinfo is None:
        raise ValueError("record_live_read() needs an aware started_at")
    now = clock.now()
    started = data.started_at.astimezone(UTC)
    if started > now + FUTURE_TOLERANCE:
        fields["started_at"] = "Giờ bắt đầu đọc chưa tới; chỉ ghi lượt đã đọc xong."
    elif started < now - LIVE_READ_MAX_AGE:
        fields["started_at"] = "Chỉ ghi được lượt đọc trong 7 ngày gần đây."
    if not 1 <= data.duration_s <= LIVE_READ_MAX_S:
        fields["duration_s"] = "Thời lượng phải từ 1 giây đến 3 giờ."
    script = data.script
    airing = data.airing
    if airing is not None:
        if airing.station_id != station.id:
            fields["airing"] = "Lượt phát này thuộc đài khác."
        elif airing.status != AiringStatus.PLANNED:
            fields["airing"] = (
                f"Lượt phát đang ở trạng thái “{airing.status.label}”; không ghi thay được."
            )
        script = airing.script
    if script is not None and airing is None:
        try:
            check_script_visible(actor, script)
        except NotFound as exc:
            fields["script"] = exc.message
    if fields:
        raise ValidationError(next(iter(fields.values())), fields)
    ended = started + timedelta(seconds=data.duration_s)
    host = operator_host(actor)
    what = f"“{script.title}”" if script is not None else note
    reason = "đọc trực tiếp" + (f": {note}" if note else "")
    if airing is not None:
        claimed = runner.claim_airing(airing.id, host, now)
        if claimed is None:
            raise Conflict("Bộ phát vừa nhận lượt phát này; không ghi thay được.")
        entry = runner.log_entry(
            claimed,
            claimed.render,
            host,
            status=LogStatus.AIRED,
            reason=reason + " (thay cho bản ghi âm)",
            started_at=started,
            ended_at=ended,
            duration_s=data.duration_s,
            operator_id=actor.id,
        )
        audit = _live_read_audit(actor, station, what, started, claimed.airing_key)
        return _finish(claimed, entry, audit)
    version_id = None
    if script is not None:
        version_id = script.approved_version_id or script.current_version_id
    entry = LogEntry(
        station_id=station.id,
        status=LogStatus.AIRED,
        started_at=started,
        ended_at=ended,
        duration_s=data.duration_s,
        reason=reason,
        script_id=script.id if script is not None else None,
        version_id=version_id,
        priority=script.priority if script is not None else Priority.NORMAL,
        operator_id=actor.id,
        runner_host=host,
    )
    return append_log(entry, _live_read_audit(actor, station, what, started, None))


def _live_read_audit(
    actor: User, station: Station, what: str, started: datetime, key: str | None
) -> Callable[[BroadcastLog], None]:
    """The audit event of a live read, written with its log row."""

    def audit(row: BroadcastLog) -> None:
        record_event(
            "playout.live_read",
            "station",
            station.id,
            f"Ghi lượt đọc trực tiếp {what} lúc {started.astimezone(LOCAL_TZ):%H:%M %d/%m/%Y} "
            f"tại đài {station.name}",
            actor=actor,
            unit_id=station.unit_id,
            details={"started_at": started.isoformat(), "airing_key": key, "log_id": row.id},
        )

    return audit


def planned_today(station: Station, now: datetime) -> list[Airing]:
    """The station's planned airings from now to the end of the local day, for pickers."""
    local = now.astimezone(LOCAL_TZ)
    end = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return list(
        db.session.scalars(
            select(Airing)
            .where(
                Airing.station_id == station.id,
                Airing.status == AiringStatus.PLANNED,
                Airing.sequenced_at >= now - timedelta(hours=1),
                Airing.sequenced_at < end.astimezone(UTC),
            )
            .order_by(Airing.sequenced_at, Airing.id)
        )
    )
