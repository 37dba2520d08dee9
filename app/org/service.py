"""Rules for the unit tree, stations and their broadcast sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import func, select

from app.audit.service import record_event
from app.core import clock
from app.core.errors import PermissionDenied, ValidationError
from app.extensions import db
from app.org.models import BroadcastSession, Station, StationKind, Unit


def subtree_units(root: Unit) -> list[Unit]:
    """Return the root and all its descendants, ordered as a tree (by path)."""
    units = db.session.scalars(select(Unit).where(Unit.path.startswith(root.path))).all()
    by_id = {x.id: x for x in units}
    return sorted(units, key=lambda u: _tree_key(u, by_id))


def unit_choices(root: Unit, exclude: Unit | None = None) -> list[tuple[int, str]]:
    """(id, indented name) pairs of a subtree for select boxes, leaving out a branch if asked."""
    return [
        (u.id, "— " * (u.depth - root.depth) + u.name)
        for u in subtree_units(root)
        if exclude is None or not exclude.contains(u)
    ]


def _tree_key(unit: Unit, by_id: dict[int, Unit]) -> list[str]:
    """Sort key that lists each unit right after its parent, siblings by name."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    return [by_id[i].name if i in by_id else "" for i in ids]


def unit_by_code(code: str) -> Unit | None:
    """Find a unit by its code."""
    return db.session.scalar(select(Unit).where(Unit.code == code.strip()))


def _require_manage(actor: Unit | None, unit: Unit | None) -> None:
    """The acting admin's unit must contain the unit being changed."""
    if actor is not None and unit is not None and not actor.contains(unit):
        raise PermissionDenied("Đơn vị này nằm ngoài phạm vi quản trị của bạn.")


def _check_code(model, code: str, own_id: int | None) -> str:
    """Validate a unique short code."""
    code = code.strip().upper()
    if not code or len(code) > 40 or not all(c.isalnum() or c in "-_." for c in code):
        raise ValidationError(
            "Mã chỉ gồm chữ không dấu, số và dấu gạch ngang, tối đa 40 ký tự.",
            {"code": "Mã không hợp lệ."},
        )
    if not code.isascii():
        raise ValidationError("Mã phải là chữ không dấu.", {"code": "Mã không hợp lệ."})
    clash = db.session.scalar(select(model).where(model.code == code))
    if clash is not None and clash.id != own_id:
        raise ValidationError(f"Mã “{code}” đã được dùng.", {"code": "Mã đã được dùng."})
    return code


@dataclass
class UnitInput:
    """Fields of a unit."""

    code: str
    name: str
    level: str
    parent: Unit | None
    active: bool = True


def create_unit(actor, data: UnitInput) -> Unit:
    """Create a unit under a parent (or a root unit from the command line)."""
    if actor is not None:
        if data.parent is None:
            raise ValidationError("Hãy chọn đơn vị cấp trên.", {"parent": "Bắt buộc."})
        _require_manage(actor.unit, data.parent)
    code = _check_code(Unit, data.code, None)
    if not data.name.strip():
        raise ValidationError("Hãy nhập tên đơn vị.", {"name": "Bắt buộc."})
    unit = Unit(
        code=code,
        name=data.name.strip(),
        level=data.level.strip(),
        parent=data.parent,
        active=data.active,
        created_at=clock.now(),
    )
    db.session.add(unit)
    db.session.flush()
    unit.path = (data.parent.path if data.parent else "/") + f"{unit.id}/"
    record_event(
        "unit.create",
        "unit",
        unit.id,
        f"Tạo đơn vị {unit.name} ({code})",
        actor=actor,
        unit_id=unit.id,
    )
    db.session.commit()
    return unit


def update_unit(actor, unit: Unit, data: UnitInput) -> Unit:
    """Rename, re-level or move a unit; moving rewrites the paths of its whole subtree."""
    _require_manage(actor.unit, unit)
    code = _check_code(Unit, data.code, unit.id)
    if not data.name.strip():
        raise ValidationError("Hãy nhập tên đơn vị.", {"name": "Bắt buộc."})
    if unit.id == actor.unit_id and data.parent != unit.parent:
        raise ValidationError(
            "Không thể chuyển đơn vị của chính bạn.", {"parent": "Không thể chuyển."}
        )
    if data.parent is not None:
        _require_manage(actor.unit, data.parent)
        if unit.contains(data.parent):
            raise ValidationError(
                "Không thể đặt một đơn vị vào bên trong chính nó hoặc đơn vị cấp dưới của nó.",
                {"parent": "Đơn vị cấp trên không hợp lệ."},
            )
    elif unit.parent is not None:
        raise ValidationError("Hãy chọn đơn vị cấp trên.", {"parent": "Bắt buộc."})
    old_path = unit.path
    before = _unit_fields(unit)
    unit.code = code
    unit.name = data.name.strip()
    unit.level = data.level.strip()
    unit.active = data.active
    if data.parent != unit.parent:
        unit.parent = data.parent
        new_path = data.parent.path + f"{unit.id}/"
        for member in db.session.scalars(select(Unit).where(Unit.path.startswith(old_path))):
            member.path = new_path + member.path[len(old_path) :]
    after = _unit_fields(unit)
    record_event(
        "unit.update",
        "unit",
        unit.id,
        f"Sửa đơn vị {unit.name} ({code})",
        actor=actor,
        unit_id=unit.id,
        details=_changes(before, after),
    )
    db.session.commit()
    return unit


@dataclass
class StationInput:
    """Fields of a station."""

    code: str
    name: str
    kind: StationKind
    unit: Unit
    active: bool = True
    intro_text: str = ""
    speech_engine: str = ""
    speech_voice: str = ""
    target_lufs: float = -16.0
    true_peak_db: float = -1.0
    # Playout policy: see Station. grace_s None means the runner's PLAYOUT_GRACE_S.
    misfire_policy: str = "late"
    grace_s: float | None = None
    interrupt_policy: str = "requeue"


MISFIRE_POLICIES = ("late", "skip")
INTERRUPT_POLICIES = ("requeue", "drop")
MAX_GRACE_S = 3600


def _check_playout(data: StationInput) -> None:
    """The station's playout policy: known choices and a grace of 0 to 60 minutes."""
    errors: dict[str, str] = {}
    if data.misfire_policy not in MISFIRE_POLICIES:
        errors["misfire_policy"] = "Chọn phát muộn hoặc bỏ qua."
    if data.grace_s is not None and not 0 <= data.grace_s <= MAX_GRACE_S:
        errors["grace_s"] = "Từ 0 đến 60 phút."
    if data.interrupt_policy not in INTERRUPT_POLICIES:
        errors["interrupt_policy"] = "Chọn phát lại hoặc bỏ luôn."
    if errors:
        raise ValidationError("Thiết lập phát sóng của đài chưa hợp lệ.", errors)


def _check_speech(data: StationInput) -> None:
    """The station's speech defaults: a known engine and voice, sane loudness."""
    from flask import current_app

    from app.speech.engines import ENGINES, EngineError, get_engine

    errors: dict[str, str] = {}
    if data.speech_engine and data.speech_engine not in ENGINES:
        errors["speech_engine"] = "Không có bộ đọc này."
    elif data.speech_voice:
        try:
            engine = get_engine(data.speech_engine or "espeak", current_app.config)
            engine.check_voice(data.speech_voice)
        except EngineError as exc:
            errors["speech_voice"] = exc.message
    if not -30 <= data.target_lufs <= -10:
        errors["target_lufs"] = "Từ −30 đến −10 LUFS."
    if not -9 <= data.true_peak_db <= 0:
        errors["true_peak_db"] = "Từ −9 đến 0 dBTP."
    if len(data.intro_text) > 300:
        errors["intro_text"] = "Tối đa 300 ký tự."
    if errors:
        raise ValidationError("Thiết lập âm thanh của đài chưa hợp lệ.", errors)


def _unit_fields(unit: Unit) -> dict:
    """What an audit event records of a unit."""
    return {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "active": unit.active,
        "parent": unit.parent.code if unit.parent else None,
    }


def _changes(before: dict, after: dict) -> dict:
    """The fields that changed, before and after, for an audit event."""
    changed = [k for k in after if before.get(k) != after[k]]
    return {"before": {k: before.get(k) for k in changed}, "after": {k: after[k] for k in changed}}


def _station_fields(station: Station) -> dict:
    """What an audit event records of a station's settings."""
    return {
        "code": station.code,
        "name": station.name,
        "kind": station.kind.value,
        "unit": station.unit.code if station.unit else None,
        "active": station.active,
        "intro_text": station.intro_text,
        "speech_engine": station.speech_engine,
        "speech_voice": station.speech_voice,
        "target_lufs": station.target_lufs,
        "true_peak_db": station.true_peak_db,
        "misfire_policy": station.misfire_policy,
        "grace_s": station.grace_s,
        "interrupt_policy": station.interrupt_policy,
    }


def _apply_speech(station: Station, data: StationInput) -> None:
    """Copy the speech defaults onto the station."""
    station.intro_text = " ".join(data.intro_text.split())
    station.speech_engine = data.speech_engine
    station.speech_voice = data.speech_voice
    station.target_lufs = data.target_lufs
    station.true_peak_db = data.true_peak_db


def _apply_playout(station: Station, data: StationInput) -> None:
    """Copy the playout policy onto the station."""
    station.misfire_policy = data.misfire_policy
    station.grace_s = None if data.grace_s is None else float(data.grace_s)
    station.interrupt_policy = data.interrupt_policy


def create_station(actor, data: StationInput) -> Station:
    """Create a station in a unit."""
    if actor is not None:
        _require_manage(actor.unit, data.unit)
    code = _check_code(Station, data.code, None)
    if not data.name.strip():
        raise ValidationError("Hãy nhập tên đài.", {"name": "Bắt buộc."})
    _check_speech(data)
    _check_playout(data)
    station = Station(
        code=code,
        name=data.name.strip(),
        kind=data.kind,
        unit=data.unit,
        active=data.active,
        created_at=clock.now(),
    )
    _apply_speech(station, data)
    _apply_playout(station, data)
    db.session.add(station)
    db.session.flush()
    record_event(
        "station.create",
        "station",
        station.id,
        f"Tạo đài {station.name} ({code})",
        actor=actor,
        unit_id=data.unit.id,
    )
    db.session.commit()
    return station


def update_station(actor, station: Station, data: StationInput) -> Station:
    """Change a station's code, name, kind, unit, active flag, speech defaults or playout policy."""
    _require_manage(actor.unit, station.unit)
    _require_manage(actor.unit, data.unit)
    code = _check_code(Station, data.code, station.id)
    if not data.name.strip():
        raise ValidationError("Hãy nhập tên đài.", {"name": "Bắt buộc."})
    _check_speech(data)
    _check_playout(data)
    before = _station_fields(station)
    station.code = code
    station.name = data.name.strip()
    station.kind = data.kind
    station.unit = data.unit
    station.active = data.active
    _apply_speech(station, data)
    _apply_playout(station, data)
    after = _station_fields(station)
    record_event(
        "station.update",
        "station",
        station.id,
        f"Sửa đài {station.name} ({code})",
        actor=actor,
        unit_id=data.unit.id,
        details=_changes(before, after),
    )
    db.session.commit()
    return station


def _minutes(t: time) -> int:
    """Minutes since midnight."""
    return t.hour * 60 + t.minute


def add_session(
    actor, station: Station, name: str, start: time, end: time, cap_minutes: int, weekdays: str
) -> BroadcastSession:
    """Add a daily broadcast session; it must not overlap another on a shared weekday."""
    if actor is not None:
        _require_manage(actor.unit, station.unit)
    errors: dict[str, str] = {}
    weekdays = "".join(sorted(set(weekdays)))
    if not name.strip():
        errors["name"] = "Hãy đặt tên buổi phát, ví dụ “Buổi sáng”."
    if _minutes(end) <= _minutes(start):
        errors["end_time"] = "Giờ kết thúc phải sau giờ bắt đầu (buổi phát không qua nửa đêm)."
    elif not 1 <= cap_minutes <= _minutes(end) - _minutes(start):
        errors["cap_minutes"] = (
            f"Thời lượng tối đa phải từ 1 đến {_minutes(end) - _minutes(start)} phút."
        )
    if not weekdays or not set(weekdays) <= set("1234567"):
        errors["weekdays"] = "Chọn ít nhất một ngày trong tuần."
    if not errors:
        for other in station.sessions:
            shared = set(other.weekdays) & set(weekdays)
            if (
                shared
                and _minutes(start) < _minutes(other.end_time)
                and _minutes(other.start_time) < _minutes(end)
            ):
                errors["start_time"] = (
                    f"Trùng với buổi “{other.name}” ({other.start_time:%H:%M}–"
                    f"{other.end_time:%H:%M})."
                )
    if errors:
        raise ValidationError("Buổi phát chưa hợp lệ: " + " ".join(errors.values()), errors)
    session = BroadcastSession(
        station=station,
        name=name.strip(),
        start_time=start,
        end_time=end,
        cap_minutes=cap_minutes,
        weekdays=weekdays,
    )
    db.session.add(session)
    db.session.flush()
    record_event(
        "station.session_add",
        "station",
        station.id,
        f"Thêm buổi phát {session.name} {start:%H:%M}–{end:%H:%M} cho đài {station.name}",
        actor=actor,
        unit_id=station.unit_id,
    )
    db.session.commit()
    return session


def remove_session(actor, session: BroadcastSession) -> None:
    """Remove a broadcast session from its station."""
    station = session.station
    _require_manage(actor.unit, station.unit)
    record_event(
        "station.session_remove",
        "station",
        station.id,
        f"Xóa buổi phát {session.name} {session.start_time:%H:%M}–{session.end_time:%H:%M} "
        f"của đài {station.name}",
        actor=actor,
        unit_id=station.unit_id,
    )
    db.session.delete(session)
    db.session.commit()


def count_units() -> int:
    """How many units exist (used to decide whether demo data is needed)."""
    return db.session.scalar(select(func.count()).select_from(Unit)) or 0
