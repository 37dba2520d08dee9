"""Programme rules: the rundown as a script version, its checks, the session it must fit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import defer

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, in_scope, require, require_scope
from app.core import clock
from app.core.errors import Conflict, NotFound, ValidationError
from app.core.text import nfc
from app.extensions import db
from app.library.models import LibraryItem, LibraryKind
from app.library.service import ItemFilter, items_query
from app.library.service import audio_path as library_audio_path
from app.org.models import BroadcastSession, Station, Unit
from app.programmes.models import ItemKind, ProgrammeItem, ProgrammeVersion
from app.scripts import service as scripts
from app.scripts.models import Priority, Script, ScriptStatus
from app.speech.models import Render
from app.speech.service import verify_audio

PROGRAMME = "programme"
MAX_ITEMS = 60
MAX_GAP_MS = 10_000
MAX_CROSSFADE_MS = 5_000
DUCK_RANGE_DB = (3.0, 40.0)
DEFAULT_DUCK_DB = 15.0


@dataclass
class RundownEntry:
    """One item as the writer sets it: what it is and what follows it."""

    kind: str  # "script" (an approved spot or recording) or "library"
    ref_id: int
    gap_ms: int = 0
    crossfade_ms: int = 0


@dataclass
class ProgrammeInput:
    """Everything a writer sets on a programme; any change of the rundown is a new version."""

    title: str
    unit: Unit
    items: list[RundownEntry] = field(default_factory=list)
    bed_item_id: int | None = None
    duck_db: float = DEFAULT_DUCK_DB
    station_id: int | None = None
    session_name: str = ""
    priority: Priority = Priority.NORMAL
    campaign: str = ""


@dataclass
class Resolved:
    """A rundown item checked and bound to the audio it has now."""

    kind: ItemKind
    title: str
    duration_s: float
    audio_sha256: str
    gap_ms: int
    crossfade_ms: int
    script: Script | None = None
    render: Render | None = None
    library_item: LibraryItem | None = None


@dataclass
class Rundown:
    """A checked rundown and its settings, ready to be stored as a version."""

    items: list[Resolved]
    bed: LibraryItem | None
    duck_db: float
    station: Station | None
    session_name: str

    @property
    def total_s(self) -> float:
        """Items one after the other, plus the gaps, minus the cross-fades."""
        return total_of(self.items)

    def sha256(self) -> str:
        """The exact rundown: which audio, in which order, with which transitions and bed."""
        data = {
            "items": [
                {
                    "kind": r.kind.value,
                    "script": r.script.id if r.script else None,
                    "render": r.render.id if r.render else None,
                    "library_item": r.library_item.id if r.library_item else None,
                    "audio_sha256": r.audio_sha256,
                    "gap_ms": r.gap_ms,
                    "crossfade_ms": r.crossfade_ms,
                }
                for r in self.items
            ],
            "bed": self.bed.id if self.bed else None,
            "bed_sha256": self.bed.audio_sha256 if self.bed else "",
            "duck_db": self.duck_db,
            "station": self.station.id if self.station else None,
            "session": self.session_name,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def total_of(items) -> float:
    """Total length of items (Resolved or ProgrammeItem) with their gaps and cross-fades."""
    total = 0.0
    for i, item in enumerate(items):
        total += float(item.duration_s)
        if i < len(items) - 1:
            total += (item.gap_ms - item.crossfade_ms) / 1000
    return round(total, 3)


def duration_text(seconds: float | None) -> str:
    """A length as officers read it: '12:05' (minutes:seconds), or '1:02:03'."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def offset_text(seconds: float | None) -> str:
    """A place or length in a mix to the tenth of a second: '1:05,3'."""
    if seconds is None:
        return "—"
    tenths = round(seconds * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d},{rest % 10}"


def _seconds_text(ms: int) -> str:
    """Milliseconds as Vietnamese seconds with a decimal comma: '1,5 giây'."""
    return f"{ms / 1000:g}".replace(".", ",") + " giây"


# --- Sessions --------------------------------------------------------------------------------


def find_session(station: Station | None, name: str) -> BroadcastSession | None:
    """The station's session of that name, if it still has one."""
    if station is None or not name:
        return None
    return next((s for s in station.sessions if s.name == name), None)


def session_length_s(session: BroadcastSession) -> float:
    """How long a session may air: its window, or its cap when the cap is shorter."""
    start = session.start_time.hour * 3600 + session.start_time.minute * 60
    end = session.end_time.hour * 3600 + session.end_time.minute * 60
    window = max(0, end - start)
    if session.cap_minutes:
        return float(min(window, session.cap_minutes * 60))
    return float(window)


def session_label(station: Station, session: BroadcastSession) -> str:
    """'Buổi sáng 05:30–06:15 (15 phút) – Đài Phú Thủy'."""
    minutes = session_length_s(session) / 60
    return (
        f"{session.name} {session.start_time:%H:%M}–{session.end_time:%H:%M} "
        f"({minutes:g} phút) – {station.name}"
    )


def too_long_message(title: str, total_s: float, station: Station, session) -> str:
    """The refusal of a programme longer than its session."""
    return (
        f"Chương trình “{title}” dài {duration_text(total_s)}, vượt thời lượng buổi "
        f"“{session.name}” của {station.name} ({duration_text(session_length_s(session))}). "
        "Hãy bớt mục, rút ngắn khoảng nghỉ hoặc chọn buổi dài hơn."
    )


def session_choices(actor: User) -> list[tuple[str, str]]:
    """(value 'station_id:name', label) for every session of the stations the actor manages."""
    stations = db.session.scalars(
        select(Station)
        .join(Unit, Unit.id == Station.unit_id)
        .where(Unit.path.startswith(actor.unit.path), Station.active.is_(True))
        .order_by(Station.code)
    )
    return [
        (f"{station.id}:{s.name}", session_label(station, s))
        for station in stations
        for s in sorted(station.sessions, key=lambda s: s.start_time)
    ]


# --- Checking a rundown ----------------------------------------------------------------------


def _visible(actor: User, unit: Unit) -> bool:
    """The actor's subtree, or a unit above it (content sent down to it)."""
    return in_scope(actor, unit) or unit.contains(actor.unit)


def validity_problem(script: Script, today: date) -> str:
    """Why a spot may not air in a programme today (its validity ended or not begun), or ''."""
    if script.valid_until is not None and script.valid_until < today:
        return (
            f"kịch bản “{script.title}” đã hết hiệu lực ngày {script.valid_until:%d/%m/%Y}; "
            "không phát được nữa."
        )
    if script.valid_from is not None and script.valid_from > today:
        return (
            f"kịch bản “{script.title}” chưa đến ngày hiệu lực ({script.valid_from:%d/%m/%Y}); "
            "chưa phát được."
        )
    return ""


def _resolve_script(actor: User, entry: RundownEntry) -> tuple[Resolved | None, str]:
    """An approved spot or recording with its approved audio, or why it cannot be used."""
    script = db.session.get(Script, entry.ref_id)
    if script is None or not _visible(actor, script.unit):
        return None, "không tìm thấy kịch bản (hoặc nằm ngoài phạm vi đơn vị của bạn)."
    if script.is_programme:
        return None, f"“{script.title}” là một chương trình; không lồng chương trình vào nhau."
    if script.status == ScriptStatus.ARCHIVED:
        return None, (
            f"kịch bản “{script.title}” đã lưu trữ (rút khỏi phát sóng); không đưa vào chương "
            "trình được nữa."
        )
    render = script.approved_render
    if script.status != ScriptStatus.APPROVED or render is None:
        return None, (
            f"kịch bản “{script.title}” chưa được duyệt (trạng thái: {script.status.label}); "
            "chỉ đưa được kịch bản đã duyệt vào chương trình."
        )
    out_of_validity = validity_problem(script, clock.to_local(clock.now()).date())
    if out_of_validity:
        return None, out_of_validity
    if not verify_audio(render):
        return None, f"âm thanh đã duyệt của “{script.title}” không còn nguyên trên máy chủ."
    kind = ItemKind.RECORDING if render.engine == "recording" else ItemKind.SCRIPT
    resolved = Resolved(
        kind, script.title, float(render.duration_s or 0), render.audio_sha256, 0, 0
    )
    resolved.script, resolved.render = script, render
    return resolved, ""


def _resolve_library(actor: User, entry: RundownEntry) -> tuple[Resolved | None, str]:
    """A library item that is not archived, with its mastered audio."""
    item = db.session.get(LibraryItem, entry.ref_id)
    if item is None or not _visible(actor, item.unit):
        return None, "không tìm thấy mục thư viện (hoặc nằm ngoài phạm vi đơn vị của bạn)."
    if item.archived:
        return None, f"mục thư viện “{item.title}” đã lưu trữ, không dùng được nữa."
    if not library_audio_path(item).is_file():
        return None, f"tệp âm thanh của “{item.title}” không còn trên máy chủ."
    resolved = Resolved(
        ItemKind.LIBRARY, item.title, float(item.duration_s), item.audio_sha256, 0, 0
    )
    resolved.library_item = item
    return resolved, ""


def _resolve(actor: User, entry: RundownEntry) -> tuple[Resolved | None, str]:
    """The entry's item as the actor may use it, or None and why not."""
    if not isinstance(entry.ref_id, int) or isinstance(entry.ref_id, bool):
        return None, "mục không hợp lệ."
    if entry.kind == "script":
        return _resolve_script(actor, entry)
    if entry.kind == "library":
        return _resolve_library(actor, entry)
    return None, "loại mục không hợp lệ."


def _check_transition(entry: RundownEntry, errors: list[str], n: int) -> tuple[int, int]:
    """The gap or cross-fade after an item, checked."""
    try:
        gap, fade = int(entry.gap_ms or 0), int(entry.crossfade_ms or 0)
    except (TypeError, ValueError):
        errors.append(f"Mục {n}: khoảng nghỉ và chuyển tiếp phải là số mili giây.")
        return 0, 0
    if not 0 <= gap <= MAX_GAP_MS:
        errors.append(f"Mục {n}: khoảng nghỉ phải từ 0 đến {MAX_GAP_MS // 1000} giây.")
    if not 0 <= fade <= MAX_CROSSFADE_MS:
        errors.append(f"Mục {n}: chuyển tiếp chồng phải từ 0 đến {MAX_CROSSFADE_MS // 1000} giây.")
    if gap and fade:
        errors.append(f"Mục {n}: chọn khoảng nghỉ hoặc chuyển tiếp chồng, không chọn cả hai.")
    return gap, fade


def check_rundown(actor: User, data: ProgrammeInput) -> Rundown:
    """Resolve and check every item, the bed and the session; raise one ValidationError."""
    errors: list[str] = []
    fields: dict[str, str] = {}
    title = nfc(data.title or "").strip()
    if not title:
        message = "Hãy nhập tên chương trình."
        raise ValidationError(message, {"title": message})
    if len(title) > 300:
        message = "Tên chương trình tối đa 300 ký tự."
        raise ValidationError(message, {"title": message})
    if not data.items:
        message = "Chương trình chưa có mục nào: hãy thêm ít nhất một bản tin hoặc âm thanh."
        raise ValidationError(message, {"items": message})
    if len(data.items) > MAX_ITEMS:
        message = f"Chương trình tối đa {MAX_ITEMS} mục."
        raise ValidationError(message, {"items": message})
    items: list[Resolved] = []
    for n, entry in enumerate(data.items, start=1):
        resolved, why = _resolve(actor, entry)
        gap, fade = _check_transition(entry, errors, n)
        if resolved is None:
            errors.append(f"Mục {n}: {why}")
            fields[f"item-{n}"] = why
            continue
        last = n == len(data.items)
        resolved.gap_ms, resolved.crossfade_ms = (0, 0) if last else (gap, fade)
        items.append(resolved)
    # A cross-fade overlaps two items: each must be at least twice as long as the overlap,
    # so no three items ever sound at once.
    for i, item in enumerate(items[:-1]):
        fade = item.crossfade_ms / 1000
        following = items[i + 1]
        if fade and (fade * 2 > item.duration_s or fade * 2 > following.duration_s):
            errors.append(
                f"Chuyển tiếp chồng {_seconds_text(item.crossfade_ms)} sau “{item.title}” quá dài: "
                "tối đa một nửa độ dài của mỗi mục hai bên."
            )
    bed = None
    if data.bed_item_id:
        bed = db.session.get(LibraryItem, data.bed_item_id)
        why = ""
        if bed is None or not _visible(actor, bed.unit):
            why = "Không tìm thấy nhạc nền đã chọn."
        elif bed.kind != LibraryKind.BED:
            why = f"“{bed.title}” không phải nhạc nền (loại: {bed.kind.label})."
        elif bed.archived:
            why = f"Nhạc nền “{bed.title}” đã lưu trữ, không dùng được nữa."
        if why:
            errors.append(why)
            fields["bed"] = why
    try:
        duck = float(data.duck_db)
    except (TypeError, ValueError):
        duck = -1.0
    if not DUCK_RANGE_DB[0] <= duck <= DUCK_RANGE_DB[1]:
        message = f"Mức giảm nhạc nền phải từ {DUCK_RANGE_DB[0]:g} đến {DUCK_RANGE_DB[1]:g} dB."
        errors.append(message)
        fields["duck_db"] = message
    station = None
    name = nfc(data.session_name or "").strip()
    if data.station_id:
        station = db.session.get(Station, data.station_id)
        why = ""
        if station is None or not in_scope(actor, station.unit):
            why = "Đài đã chọn không tồn tại hoặc nằm ngoài phạm vi của bạn."
            station = None
        elif find_session(station, name) is None:
            why = f"{station.name} không có buổi phát “{name}”."
        if why:
            errors.append(why)
            fields["session"] = why
    rundown = Rundown(items, bed, round(duck, 1), station, name if station else "")
    session = find_session(station, name)
    if not errors and session is not None and rundown.total_s > session_length_s(session) + 0.5:
        message = too_long_message(title or "", rundown.total_s, station, session)
        errors.append(message)
        fields["session"] = message
    if errors:
        raise ValidationError(
            "Chương trình chưa lưu được: " + " ".join(errors), fields or {"items": errors[0]}
        )
    return rundown


def rundown_body(title: str, rundown: Rundown) -> str:
    """The human-readable rundown that is the version's text (what the supervisor reads)."""
    lines = [f"Chương trình phát thanh: {title}"]
    session = find_session(rundown.station, rundown.session_name)
    if session is not None:
        lines.append(f"Buổi phát: {session_label(rundown.station, session)}")
    else:
        lines.append("Buổi phát: chưa chọn")
    if rundown.bed is not None:
        lines.append(
            f"Nhạc nền: {rundown.bed.title} (sha256 {rundown.bed.audio_sha256[:12]}…), "
            f"giảm {rundown.duck_db:g} dB dưới các mục"
        )
    else:
        lines.append("Nhạc nền: không")
    lines.append(f"Tổng thời lượng: {duration_text(rundown.total_s)}")
    lines.append("")
    for n, item in enumerate(rundown.items, start=1):
        source = (
            f"kịch bản #{item.script.id}" if item.script else f"thư viện #{item.library_item.id}"
        )
        lines.append(
            f"{n}. [{item.kind.label}] {item.title} — {duration_text(item.duration_s)} "
            f"({source}, âm thanh sha256 {item.audio_sha256[:12]}…)"
        )
        if item.gap_ms:
            lines.append(f"   Nghỉ {_seconds_text(item.gap_ms)}")
        if item.crossfade_ms:
            lines.append(f"   Chuyển tiếp chồng {_seconds_text(item.crossfade_ms)}")
    lines.append("")
    lines.append(f"Mã danh sách phát (sha256): {rundown.sha256()}")
    return "\n".join(lines)


def _store_rundown(version_id: int, rundown: Rundown) -> ProgrammeVersion:
    """Append the version's machine rundown and settings."""
    settings = ProgrammeVersion(
        version_id=version_id,
        rundown_sha256=rundown.sha256(),
        bed_item_id=rundown.bed.id if rundown.bed else None,
        bed_sha256=rundown.bed.audio_sha256 if rundown.bed else "",
        duck_db=rundown.duck_db,
        station_id=rundown.station.id if rundown.station else None,
        session_name=rundown.session_name,
        total_s=rundown.total_s,
        created_at=clock.now(),
    )
    db.session.add(settings)
    for position, item in enumerate(rundown.items, start=1):
        db.session.add(
            ProgrammeItem(
                version_id=version_id,
                position=position,
                kind=item.kind,
                script_id=item.script.id if item.script else None,
                render_id=item.render.id if item.render else None,
                library_item_id=item.library_item.id if item.library_item else None,
                audio_sha256=item.audio_sha256,
                title=item.title[:300],
                duration_s=item.duration_s,
                gap_ms=item.gap_ms,
                crossfade_ms=item.crossfade_ms,
            )
        )
    db.session.flush()
    return settings


def rundown_validity(rundown: Rundown) -> tuple[date | None, date | None]:
    """A programme may air only while all its spots may: the latest start, the earliest end."""
    spots = [r.script for r in rundown.items if r.script is not None]
    starts = [s.valid_from for s in spots if s.valid_from is not None]
    ends = [s.valid_until for s in spots if s.valid_until is not None]
    return (max(starts) if starts else None), (min(ends) if ends else None)


def _script_input(data: ProgrammeInput, rundown: Rundown, title: str) -> scripts.ScriptInput:
    """The script fields of a programme: its rundown text is the version body, its validity
    that of its spots (so schedules and the portal keep to it)."""
    valid_from, valid_until = rundown_validity(rundown)
    return scripts.ScriptInput(
        title=title,
        body=rundown_body(title, rundown),
        unit=data.unit,
        priority=data.priority,
        campaign=data.campaign,
        valid_from=valid_from,
        valid_until=valid_until,
        targets=[data.unit],
    )


def _audit_details(rundown: Rundown, version_number: int) -> dict:
    """What the audit trail keeps of a saved rundown."""
    return {
        "version": version_number,
        "rundown_sha256": rundown.sha256(),
        "items": [
            {"kind": r.kind.value, "title": r.title, "audio_sha256": r.audio_sha256}
            for r in rundown.items
        ],
        "total_s": rundown.total_s,
    }


def create_programme(actor: User, data: ProgrammeInput) -> Script:
    """Create a draft programme: a script of kind 'programme' whose first version is the rundown."""
    require(actor, Permission.SCRIPT_EDIT)
    title = nfc(data.title or "").strip()
    rundown = check_rundown(actor, data)
    sdata = scripts.clean_input(_script_input(data, rundown, title))
    scripts._check_units(actor, sdata)
    with scripts._race_guard("Không lưu được chương trình vì dữ liệu vừa thay đổi; hãy thử lại."):
        script = scripts._insert_script(actor, sdata, PROGRAMME, None)
        script.kind = PROGRAMME
        _store_rundown(script.current_version_id, rundown)
        record_event(
            "programme.save",
            "script",
            script.id,
            f"Tạo chương trình “{script.title}” ({len(rundown.items)} mục, "
            f"{duration_text(rundown.total_s)})",
            actor=actor,
            unit_id=script.unit_id,
            details=_audit_details(rundown, script.version_number),
        )
    return script


def update_programme(
    actor: User, script: Script, data: ProgrammeInput, expected_revision: int | None
) -> bool:
    """Save a changed rundown as a new version (back to draft: it needs a new approval)."""
    require(actor, Permission.SCRIPT_EDIT)
    require_scope(actor, script.unit, "Chương trình")
    if not script.is_programme:
        raise NotFound("Không tìm thấy chương trình.")
    title = nfc(data.title or "").strip()
    data.unit = script.unit
    rundown = check_rundown(actor, data)
    sdata = scripts.clean_input(_script_input(data, rundown, title))
    stale = Conflict(
        "Chương trình vừa được người khác thay đổi trong lúc bạn sửa; hãy tải lại trang.",
        {"revision": "Đã có thay đổi mới hơn."},
    )
    with scripts._race_guard(stale):
        locked = scripts._lock(script)
        before = locked.current_version_id
        changed = scripts._apply_update(actor, locked, sdata, expected_revision, PROGRAMME, stale)
        if locked.current_version_id != before:
            _store_rundown(locked.current_version_id, rundown)
            record_event(
                "programme.save",
                "script",
                locked.id,
                f"Sửa chương trình “{locked.title}”, phiên bản {locked.version_number} "
                f"({len(rundown.items)} mục, {duration_text(rundown.total_s)})",
                actor=actor,
                unit_id=locked.unit_id,
                details=_audit_details(rundown, locked.version_number),
            )
    return changed


# --- Reading ---------------------------------------------------------------------------------


def get_programme(actor: User, script_id: int) -> Script:
    """A programme the actor may see, or NotFound."""
    script = scripts.get_script(actor, script_id)
    if not script.is_programme:
        raise NotFound("Không tìm thấy chương trình.")
    return script


def version_settings(version_id: int | None) -> ProgrammeVersion | None:
    """The rundown and settings of a programme version."""
    return db.session.get(ProgrammeVersion, version_id) if version_id else None


def programmes_query(actor: User):
    """Programmes of the actor's subtree, newest change first."""
    require(actor, Permission.SCRIPT_VIEW)
    return (
        select(Script)
        .join(Unit, Unit.id == Script.unit_id)
        .where(Unit.path.startswith(actor.unit.path), Script.kind == PROGRAMME)
        .options(defer(Script.search_text))
        .order_by(Script.updated_at.desc(), Script.id.desc())
    )


def candidates(actor: User, q: str = "", limit: int = 20) -> tuple[list[Script], list[LibraryItem]]:
    """Approved spots and recordings, and library items, a writer can add to a rundown."""
    found = db.session.scalars(
        scripts.scripts_query(actor, scripts.ScriptFilter(q=q, status=ScriptStatus.APPROVED))
        .where(Script.kind != PROGRAMME)
        .limit(limit)
    ).all()
    items = db.session.scalars(items_query(actor, ItemFilter(q=q)).limit(limit)).all()
    return list(found), list(items)


def beds(actor: User) -> list[LibraryItem]:
    """Music beds the actor may use."""
    return list(db.session.scalars(items_query(actor, ItemFilter(kind=LibraryKind.BED)).limit(200)))


def entries_of(settings: ProgrammeVersion | None) -> list[RundownEntry]:
    """A stored rundown as editable entries (the editor starts from the current version)."""
    if settings is None:
        return []
    return [
        RundownEntry(
            "library" if item.library_item_id else "script",
            item.library_item_id or item.script_id,
            item.gap_ms,
            item.crossfade_ms,
        )
        for item in settings.items
    ]


@dataclass
class PreviewRow:
    """One rundown item as the editor shows it: what it is, its length and start, or why not."""

    position: int
    entry: RundownEntry
    title: str
    kind_label: str
    duration_s: float | None
    start_s: float | None
    problem: str = ""


def start_offsets(items) -> list[float]:
    """Where each item (Resolved or ProgrammeItem) starts in the mix, in seconds."""
    starts, cursor = [], 0.0
    for i, item in enumerate(items):
        if i:
            previous = items[i - 1]
            cursor += (previous.gap_ms - previous.crossfade_ms) / 1000
        starts.append(round(max(0.0, cursor), 3))
        cursor = starts[-1] + float(item.duration_s)
    return starts


def preview(actor: User, entries: list[RundownEntry]) -> tuple[list[PreviewRow], float]:
    """The editor's view of a rundown not yet saved: each item resolved, its start, the total.

    Items that cannot be used are listed with the reason and left out of the total; saving
    refuses them with the same reason (check_rundown).
    """
    rows: list[PreviewRow] = []
    usable: list[tuple[PreviewRow, Resolved]] = []
    for n, entry in enumerate(entries, start=1):
        resolved, why = _resolve(actor, entry)
        if resolved is None:
            rows.append(PreviewRow(n, entry, "", "", None, None, why))
            continue
        resolved.gap_ms = max(0, int(entry.gap_ms or 0))
        resolved.crossfade_ms = max(0, int(entry.crossfade_ms or 0))
        row = PreviewRow(n, entry, resolved.title, resolved.kind.label, resolved.duration_s, None)
        rows.append(row)
        usable.append((row, resolved))
    if usable:
        usable[-1][1].gap_ms = usable[-1][1].crossfade_ms = 0
    resolved_items = [r for _, r in usable]
    for (row, _), start in zip(usable, start_offsets(resolved_items), strict=True):
        row.start_s = start
    return rows, total_of(resolved_items)


# --- Submitting ------------------------------------------------------------------------------


def check_submittable(script: Script) -> None:
    """Before a programme goes to review: a rundown, a session it fits, items still approved.

    Called by app.scripts.service.submit_script, so every way of submitting checks it.
    """
    settings = version_settings(script.current_version_id)
    if settings is None or not settings.items:
        raise ValidationError("Chương trình chưa có danh sách mục; hãy soạn lại chương trình.")
    session = find_session(settings.station, settings.session_name)
    if session is None:
        message = (
            "Hãy chọn buổi phát mà chương trình nhắm tới (để biết nó có vừa thời lượng buổi "
            "không) rồi lưu lại, trước khi gửi duyệt."
        )
        raise ValidationError(message, {"session": message})
    from app.speech.service import latest_done_render

    mix = latest_done_render(script)
    total = float(mix.duration_s) if mix and mix.duration_s else settings.total_s
    if total > session_length_s(session) + 0.5:
        message = too_long_message(script.title, total, settings.station, session)
        raise ValidationError(message + " Chưa gửi duyệt.", {"session": message})
    check_items(settings)


def check_items(settings: ProgrammeVersion) -> None:
    """Every item of a rundown still what it was: approved, in its validity, not archived.

    Checked on submission (check_submittable) and again on approval
    (app.scripts.service.approve_script), since an item may be withdrawn in between.
    """
    today = clock.to_local(clock.now()).date()
    for item in settings.items:
        if item.script_id:
            spot = db.session.get(Script, item.script_id)
            if spot.status == ScriptStatus.ARCHIVED:
                raise ValidationError(
                    f"Mục {item.position} “{item.title}” đã bị lưu trữ (rút khỏi phát sóng); hãy "
                    "bỏ nó khỏi chương trình."
                )
            if (
                spot.status != ScriptStatus.APPROVED
                or spot.approved_render is None
                or spot.approved_render.audio_sha256 != item.audio_sha256
            ):
                raise ValidationError(
                    f"Mục {item.position} “{item.title}” không còn là bản đã duyệt khi soạn "
                    "chương trình; hãy sửa danh sách mục rồi tạo lại âm thanh."
                )
            out_of_validity = validity_problem(spot, today)
            if out_of_validity:
                raise ValidationError(
                    f"Mục {item.position}: {out_of_validity} Hãy bỏ nó khỏi chương trình."
                )
        elif item.library_item_id:
            library_item = db.session.get(LibraryItem, item.library_item_id)
            if library_item.archived:
                raise ValidationError(
                    f"Mục {item.position} “{item.title}” đã bị lưu trữ trong thư viện; hãy "
                    "bỏ nó khỏi chương trình."
                )
    if settings.bed_item_id:
        bed = db.session.get(LibraryItem, settings.bed_item_id)
        if bed.archived:
            raise ValidationError(
                f"Nhạc nền “{bed.title}” đã bị lưu trữ trong thư viện; hãy chọn nhạc nền khác."
            )


def versions_using(*, script_id: int | None = None, library_item_id: int | None = None):
    """A select of the programme versions whose rundown holds that spot or library item
    (as an item, or as the bed)."""
    if script_id is not None:
        return select(ProgrammeItem.version_id).where(ProgrammeItem.script_id == script_id)
    as_item = select(ProgrammeItem.version_id).where(
        ProgrammeItem.library_item_id == library_item_id
    )
    as_bed = select(ProgrammeVersion.version_id).where(
        ProgrammeVersion.bed_item_id == library_item_id
    )
    return as_item.union(as_bed)


def withdrawn_items(version_id: int | None) -> list[str]:
    """Items of a programme version that were archived since (they must not air in it)."""
    settings = version_settings(version_id)
    if settings is None:
        return []
    found = []
    for item in settings.items:
        if item.script_id:
            gone = db.session.get(Script, item.script_id).status == ScriptStatus.ARCHIVED
        else:
            gone = db.session.get(LibraryItem, item.library_item_id).archived
        if gone:
            found.append(f"“{item.title}”")
    bed = db.session.get(LibraryItem, settings.bed_item_id) if settings.bed_item_id else None
    if bed is not None and bed.archived:
        found.append(f"nhạc nền “{bed.title}”")
    return found


def check_schedule_fits(script: Script, duration_s: float, station: Station, placed) -> None:
    """A programme may not be scheduled into a session shorter than itself (schedule save)."""
    if not script.is_programme:
        return
    seen = set()
    for spot in placed:
        session = spot.session
        if session is None or session in seen:
            continue
        seen.add(session)
        # The station's own session this spot lies in: its name and window (two sessions may
        # share a name, e.g. "Buổi sáng" on weekdays and a shorter one at weekends).
        stored = next(
            (
                s
                for s in station.sessions
                if (s.name, s.start_time, s.end_time) == (session.name, session.start, session.end)
            ),
            None,
        )
        if stored is not None and duration_s > session_length_s(stored) + 0.5:
            message = too_long_message(script.title, duration_s, station, stored)
            raise ValidationError(message + " Không lập lịch được.", {"script": message})


@dataclass
class LoggedItem:
    """One item of an aired programme as the log shows it."""

    position: int
    title: str
    kind: ItemKind
    audio_sha256: str
    start_s: float
    duration_s: float
    # The local time the item began, when the row says when the programme started and the
    # item did air.
    started: datetime | None
    # Empty when the item aired whole; otherwise what happened to it ("bị ngắt sau 0:02,1",
    # "không phát (bị ngắt)", "không phát (bỏ lỡ)").
    note: str = ""

    @property
    def start_text(self) -> str:
        """Where the item starts in the programme: '1:05,3'."""
        return offset_text(self.start_s)

    @property
    def length_text(self) -> str:
        """How long the item is: '0:12,4'."""
        return offset_text(self.duration_s)

    @property
    def text(self) -> str:
        """The item as one logbook line."""
        when = f"{self.started:%H:%M:%S} " if self.started else ""
        note = f" — {self.note}" if self.note else ""
        return (
            f"{self.position}. {when}{self.title} [{self.kind.label}] +{offset_text(self.start_s)}"
            f", dài {offset_text(self.duration_s)}, sha256 {self.audio_sha256[:12]}{note}"
        )


def played_s(row) -> float | None:
    """How much of a log row's audio went out: ended_at - started_at (else its duration_s)."""
    if row.started_at is not None and row.ended_at is not None:
        return max(0.0, (row.ended_at - row.started_at).total_seconds())
    return float(row.duration_s) if row.duration_s is not None else None


def _row_items(row, items: list[ProgrammeItem]) -> list[LoggedItem]:
    """A row's items with their air times, as far as the row says they aired."""
    from datetime import timedelta

    from app.broadcast.models import LogStatus

    cut = row.status in {LogStatus.PARTIAL, LogStatus.INTERRUPTED}
    aired = row.status in {LogStatus.AIRED, LogStatus.AIRED_LATE}
    played = played_s(row) if cut else None
    result = []
    for item, start in zip(items, start_offsets(items), strict=True):
        length = round(float(item.duration_s), 3)
        note, on_air = "", aired
        if not aired and not cut:
            note = f"không phát ({row.status.label})"
        elif cut and played is None:
            note = "không rõ đã phát tới đâu (bị ngắt)"
        elif cut and start >= played:
            note = "không phát (bị ngắt)"
        elif cut:
            on_air = True
            if start + length > played:
                note = f"bị ngắt sau {offset_text(played - start)}"
        started = (
            clock.to_local(row.started_at + timedelta(seconds=start))
            if on_air and row.started_at
            else None
        )
        result.append(
            LoggedItem(
                item.position,
                item.title,
                item.kind,
                item.audio_sha256,
                start,
                length,
                started,
                note,
            )
        )
    return result


def logged_items(rows) -> dict[int, list[LoggedItem]]:
    """Each programme log row's items: title, kind, audio sha256, start and length.

    Read from the rundown of the row's version (append-only rows bound to the exact audio,
    the version the approval and the row's hash covers); starts are computed from that rundown
    (they agree with the mix's offsets to well under 1 ms). A row cut short (partial,
    interrupted) gives air times only to the items that began before the cut, marks the item
    cut and lists the rest as not aired; a row that did not air (failed, missed, skipped,
    cancelled) lists its items without air times, each saying it did not air. Rows of spots
    are left out.
    """
    rows = list(rows)
    versions = {r.version_id for r in rows if r.version_id}
    if not versions:
        return {}
    by_version: dict[int, list[ProgrammeItem]] = {}
    found = db.session.scalars(
        select(ProgrammeItem)
        .where(ProgrammeItem.version_id.in_(versions))
        .order_by(ProgrammeItem.version_id, ProgrammeItem.position)
    )
    for item in found:
        by_version.setdefault(item.version_id, []).append(item)
    result: dict[int, list[LoggedItem]] = {}
    for row in rows:
        items = by_version.get(row.version_id)
        if items:
            result[row.id] = _row_items(row, items)
    return result


def items_text(items: list[LoggedItem]) -> str:
    """A programme's items as the logbook's text column: one line each."""
    return "\n".join(item.text for item in items)
