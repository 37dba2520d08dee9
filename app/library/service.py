"""Rules for the audio library: taking an upload in (ingest, master, store by sha256), editing,
archiving, who may see and change what, and search."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlalchemy.orm.exc import StaleDataError

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, can, in_scope, require
from app.core import clock
from app.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from app.core.text import fold, nfc
from app.extensions import db
from app.library.models import (
    KIND_LABELS,
    LICENCE_CHARS,
    NAME_CHARS,
    TITLE_CHARS,
    LibraryItem,
    LibraryKind,
)
from app.org.models import Unit
from app.speech.audio import AssemblySettings, AudioError, AudioToolMissing

# How long an item may be, by default (LIBRARY_MAX_SECONDS overrides it): a recorded programme
# of one long broadcast session. Jingles and idents are short by nature; a long file chosen as
# one is almost always the wrong file, so they have their own cap.
DEFAULT_MAX_SECONDS = 3600.0
SHORT_KIND_MAX_SECONDS = 180.0
SHORT_KINDS = frozenset({LibraryKind.JINGLE, LibraryKind.IDENT})
# Beds are looped and mixed under speech, music has its own intended silences and fades:
# their audio is kept whole. Speech-like items lose dead air at both ends, as recordings do.
UNTRIMMED_KINDS = frozenset({LibraryKind.BED, LibraryKind.MUSIC})
# Every kind is mastered to the station reference (-16 LUFS, <= -1 dBTP): an item aired in the
# clear matches the speech around it, and a programme ducks a bed under speech by a mixing
# gain of its own rather than one baked into the file.
TARGET_LUFS = -16.0
TRUE_PEAK_DB = -1.0
LEAD_MS, TAIL_MS = 50, 300
SEARCH_TERMS = 10

BAD_ITEM = "Chưa lưu được mục thư viện: hãy sửa các ô được đánh dấu."


class LibraryRefused(DomainError):
    """An upload that cannot become a library item (not audio, too long, silent, too large);
    nothing was stored."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message, {"file": message})
        self.code = code
        self.status = status


@dataclass
class ItemInput:
    """What a person sets on a library item."""

    title: str
    kind: LibraryKind | str | None
    licence_note: str = ""
    unit: Unit | None = None


@dataclass
class Added:
    """What an upload did: the item, and whether it was already there (nothing stored)."""

    item: LibraryItem
    duplicate: bool = False
    warnings: list[str] = field(default_factory=list)


# --- Files ------------------------------------------------------------------------------------


def library_dir() -> Path:
    """Where mastered library audio lives: AUDIO_DIR/library."""
    return Path(current_app.config["AUDIO_DIR"]) / "library"


def originals_dir() -> Path:
    """Where uploads are kept as received: AUDIO_DIR/library/originals."""
    return library_dir() / "originals"


def audio_path(item: LibraryItem) -> Path:
    """The mastered file of an item."""
    return library_dir() / item.audio_name


def original_path(item: LibraryItem) -> Path:
    """The original upload of an item."""
    return originals_dir() / item.original_sha256


def audio_file(item: LibraryItem) -> Path:
    """The mastered file of an item, or NotFound if it has gone from the disk."""
    path = audio_path(item)
    if not path.is_file():
        raise NotFound("Tệp âm thanh của mục này không còn trên máy chủ; hãy tải lên lại.")
    return path


def original_file(item: LibraryItem) -> Path:
    """The original upload of an item, or NotFound if it has gone from the disk."""
    path = original_path(item)
    if not path.is_file():
        raise NotFound("Tệp gốc của mục này không còn trên máy chủ.")
    return path


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _place(source: Path, target: Path) -> bool:
    """Move source to target (content-addressed: an existing target is the same bytes);
    True when this call created it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return False
    os.replace(source, target)
    return True


def _drop_unused(audio_sha256: str | None, audio_name: str | None, original_sha256: str) -> None:
    """Remove files that no item points at (after a save that failed)."""
    if audio_name and not db.session.scalar(
        select(LibraryItem.id).where(LibraryItem.audio_sha256 == audio_sha256).limit(1)
    ):
        (library_dir() / audio_name).unlink(missing_ok=True)
    if not db.session.scalar(
        select(LibraryItem.id).where(LibraryItem.original_sha256 == original_sha256).limit(1)
    ):
        (originals_dir() / original_sha256).unlink(missing_ok=True)


# --- Rules --------------------------------------------------------------------------------------


def max_seconds(kind: LibraryKind) -> float:
    """The longest item of this kind the library takes."""
    limit = float(current_app.config.get("LIBRARY_MAX_SECONDS") or DEFAULT_MAX_SECONDS)
    return min(limit, SHORT_KIND_MAX_SECONDS) if kind in SHORT_KINDS else limit


def mastering_settings() -> AssemblySettings:
    """How every item is mastered: high-pass for horns, -16 LUFS, -1 dBTP, MP3 128 kb/s.

    A trimmed item keeps only 50 ms before its first sound and 300 ms after its last: a
    programme puts its own gaps between items.
    """
    return AssemblySettings(
        chime=False,
        lead_ms=LEAD_MS,
        tail_ms=TAIL_MS,
        target_lufs=TARGET_LUFS,
        true_peak_db=TRUE_PEAK_DB,
    )


def _kind(value: LibraryKind | str | None) -> LibraryKind | None:
    """A kind from its enum or value, None when it is not one."""
    if isinstance(value, LibraryKind):
        return value
    try:
        return LibraryKind(value)
    except ValueError:
        return None


def _clean(actor: User, data: ItemInput, *, with_unit: bool = True) -> ItemInput:
    """Trim and NFC the fields; raise ValidationError naming each bad one."""
    data.title = nfc(data.title or "").strip()
    data.licence_note = nfc(data.licence_note or "").strip()
    errors: dict[str, str] = {}
    if not data.title:
        errors["title"] = "Hãy nhập tên mục."
    elif len(data.title) > TITLE_CHARS:
        errors["title"] = f"Tên tối đa {TITLE_CHARS} ký tự."
    kind = _kind(data.kind)
    if kind is None:
        choices = ", ".join(f"{k.value} ({k.label.lower()})" for k in LibraryKind)
        errors["kind"] = f"Loại không hợp lệ; chọn một trong: {choices}."
    else:
        data.kind = kind
    if len(data.licence_note) > LICENCE_CHARS:
        errors["licence_note"] = f"Ghi chú bản quyền, nguồn tối đa {LICENCE_CHARS} ký tự."
    if with_unit:
        if data.unit is None:
            data.unit = actor.unit
        elif not in_scope(actor, data.unit):
            errors["unit"] = "Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."
    if errors:
        raise ValidationError(BAD_ITEM, errors)
    return data


def _search_text(item: LibraryItem) -> str:
    """The folded text a search looks in."""
    parts = [item.title, item.kind.label, item.licence_note, item.original_name]
    return fold(" ".join(p for p in parts if p))


def _visible(actor: User):
    """Items of the actor's subtree, and of the units above it (shared down the tree)."""
    above = [int(part) for part in actor.unit.path.strip("/").split("/") if part]
    return or_(Unit.path.startswith(actor.unit.path), Unit.id.in_(above))


def may_edit(actor: User, item: LibraryItem) -> bool:
    """Whether the actor may edit or archive the item (role, and the item's unit in scope)."""
    return can(actor, Permission.LIBRARY_EDIT) and in_scope(actor, item.unit)


def require_edit(actor: User, item: LibraryItem) -> None:
    """Raise unless the actor may change the item."""
    require(actor, Permission.LIBRARY_EDIT)
    if not in_scope(actor, item.unit):
        raise PermissionDenied(
            f"Mục này thuộc {item.unit.name}, đơn vị cấp trên của bạn: bạn được nghe và dùng "
            "lại, không được sửa hay lưu trữ."
        )


def find_duplicate(unit: Unit, original_sha256: str) -> LibraryItem | None:
    """The item the unit already has from these exact bytes, if any."""
    return db.session.scalar(
        select(LibraryItem).where(
            LibraryItem.unit_id == unit.id, LibraryItem.original_sha256 == original_sha256
        )
    )


def _clip_name(name: str) -> str:
    """An upload's file name as stored: NFC, without folders, at most NAME_CHARS."""
    name = nfc(name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return re.sub(r"[\x00-\x1f\x7f]", "", name)[:NAME_CHARS]


# --- Taking an upload in ----------------------------------------------------------------------


def _receive(stream: BinaryIO, folder: Path) -> tuple[Path, str, int]:
    """Copy the upload into folder while hashing it: (path, sha256, size)."""
    path = folder / "upload"
    digest = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return path, digest.hexdigest(), size


def _ingest(source: Path, out: Path, kind: LibraryKind, name: str):
    """Decode, trim (by kind) and master the upload into out; refusals as LibraryRefused."""
    from app.speech import ingest

    limit = max_seconds(kind)
    try:
        return ingest.ingest_audio(
            source,
            out,
            mastering_settings(),
            name=name,
            max_seconds=limit,
            trim=kind not in UNTRIMMED_KINDS,
        )
    except ingest.TooLong as exc:
        raise LibraryRefused("too_long", exc.message) from exc
    except ingest.SilentAudio as exc:
        raise LibraryRefused("silent", exc.message) from exc
    except ingest.NotAudio as exc:
        raise LibraryRefused("not_audio", exc.message) from exc
    except AudioToolMissing as exc:
        raise LibraryRefused("ffmpeg_missing", exc.message, 503) from exc
    except AudioError as exc:
        raise LibraryRefused("not_audio", exc.message) from exc


def add_item(
    actor: User, data: ItemInput, stream: BinaryIO, filename: str, *, origin: str = "web"
) -> Added:
    """Take an upload into the library: check the fields, keep the original, master it by
    kind and store both by sha256. The same bytes again in the same unit store nothing and
    give the existing item; a file that is not usable audio stores nothing."""
    require(actor, Permission.LIBRARY_EDIT)
    data = _clean(actor, data)
    unit, kind = data.unit, data.kind
    name = _clip_name(filename)
    folder = library_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".incoming-") as tmp:
        upload, original_sha256, size = _receive(stream, Path(tmp))
        if size == 0:
            raise LibraryRefused("empty", "Chưa chọn tệp âm thanh nào, hoặc tệp rỗng.")
        existing = find_duplicate(unit, original_sha256)
        if existing is not None:
            return Added(existing, duplicate=True)
        settings = mastering_settings()
        mastered = Path(tmp) / f"mastered.{settings.format}"
        result = _ingest(upload, mastered, kind, name)
        audio_sha256 = sha256_file(mastered)
        now = clock.now()
        m = result.measurement
        item = LibraryItem(
            unit_id=unit.id,
            unit=unit,
            title=data.title,
            kind=kind,
            licence_note=data.licence_note,
            audio_sha256=audio_sha256,
            audio_format=settings.format,
            audio_size=mastered.stat().st_size,
            duration_s=m.duration_s,
            integrated_lufs=m.integrated_lufs,
            true_peak_dbtp=m.true_peak_dbtp,
            sample_rate=m.sample_rate,
            bitrate_kbps=m.bitrate_kbps,
            target_lufs=settings.target_lufs,
            trimmed=kind not in UNTRIMMED_KINDS,
            trimmed_lead_s=round(result.trimmed_lead_s, 3),
            trimmed_tail_s=round(result.trimmed_tail_s, 3),
            original_sha256=original_sha256,
            original_name=name,
            original_size=size,
            original_measures=_plain(result.original),
            warnings=list(result.warnings),
            archived=False,
            created_by_id=actor.id,
            created_at=now,
            updated_at=now,
        )
        item.search_text = _search_text(item)
        placed_audio = placed_original = False
        try:
            db.session.add(item)
            db.session.flush()
            record_event(
                "library.add",
                "library_item",
                item.id,
                f"Thêm vào thư viện: {item.title} ({kind.label}, {m.duration_s:.1f} giây)",
                actor=actor,
                unit_id=unit.id,
                details={
                    "kind": kind.value,
                    "audio_sha256": audio_sha256,
                    "original_sha256": original_sha256,
                    "original_name": name,
                    "duration_s": m.duration_s,
                    "integrated_lufs": m.integrated_lufs,
                    "true_peak_dbtp": m.true_peak_dbtp,
                    "warnings": list(result.warnings),
                    "origin": origin,
                },
            )
            placed_audio = _place(mastered, library_dir() / item.audio_name)
            placed_original = _place(upload, originals_dir() / original_sha256)
            db.session.commit()
        except IntegrityError as exc:
            # Another request took the same file in for the unit first: that one is the item.
            db.session.rollback()
            _cleanup(placed_audio, placed_original, audio_sha256, item.audio_name, original_sha256)
            existing = find_duplicate(unit, original_sha256)
            if existing is None:
                raise Conflict("Không lưu được mục vì dữ liệu vừa thay đổi; hãy thử lại.") from exc
            return Added(existing, duplicate=True)
        except BaseException:
            db.session.rollback()
            _cleanup(placed_audio, placed_original, audio_sha256, item.audio_name, original_sha256)
            raise
    return Added(item, warnings=list(result.warnings))


def _cleanup(placed_audio, placed_original, audio_sha256, audio_name, original_sha256) -> None:
    """After a failed save, remove the files this call placed that nothing else uses."""
    if placed_audio or placed_original:
        _drop_unused(
            audio_sha256 if placed_audio else None,
            audio_name if placed_audio else None,
            original_sha256 if placed_original else "",
        )


def _plain(value) -> dict:
    """The ingest's description of the original as JSON-safe data."""
    if value is None:
        return {}
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    return {
        str(k): (v if isinstance(v, str | int | float | bool) or v is None else str(v))
        for k, v in dict(value).items()
    }


# --- Reading ----------------------------------------------------------------------------------


def get_item(actor: User, item_id: int) -> LibraryItem:
    """An item the actor may see, or NotFound (items of other branches are not revealed)."""
    require(actor, Permission.LIBRARY_VIEW)
    item = db.session.get(LibraryItem, item_id)
    if item is None or not (in_scope(actor, item.unit) or item.unit.contains(actor.unit)):
        raise NotFound("Mục thư viện không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    return item


@dataclass
class ItemFilter:
    """Search and filters of the library list."""

    q: str = ""
    kind: LibraryKind | None = None
    unit: Unit | None = None
    include_archived: bool = False


def _like_escape(term: str) -> str:
    """Escape LIKE wildcards in a search term."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def items_query(actor: User, filters: ItemFilter):
    """Items the actor may see that match the filters, newest first.

    Search is a folded LIKE per word over search_text (accents and case ignored, every word
    must occur): a unit's library holds hundreds of items, not the tens of thousands that
    made scripts need an index.
    """
    require(actor, Permission.LIBRARY_VIEW)
    query = (
        select(LibraryItem)
        .join(Unit, Unit.id == LibraryItem.unit_id)
        .where(_visible(actor))
        .options(defer(LibraryItem.search_text))
        .order_by(LibraryItem.created_at.desc(), LibraryItem.id.desc())
    )
    for term in fold(nfc(filters.q or "")).split()[:SEARCH_TERMS]:
        query = query.where(LibraryItem.search_text.like(f"%{_like_escape(term)}%", escape="\\"))
    if filters.kind is not None:
        query = query.where(LibraryItem.kind == filters.kind)
    if filters.unit is not None:
        if not (in_scope(actor, filters.unit) or filters.unit.contains(actor.unit)):
            raise ValidationError(
                "Tham số lọc không hợp lệ.",
                {"unit": "Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."},
            )
        query = query.where(LibraryItem.unit_id == filters.unit.id)
    if not filters.include_archived:
        query = query.where(LibraryItem.archived.is_(False))
    return query


# --- Changing -----------------------------------------------------------------------------------


def update_item(actor: User, item: LibraryItem, data: ItemInput, revision: int) -> bool:
    """Change title, kind and licence note; revision must be the one the editor started from.
    Returns False when nothing changed (no audit event). The audio never changes."""
    require_edit(actor, item)
    data = _clean(actor, data, with_unit=False)
    if revision != item.revision:
        raise Conflict(
            "Mục này vừa được người khác sửa; hãy tải lại trang để xem bản mới rồi sửa lại."
        )
    changes = {}
    for name in ("title", "kind", "licence_note"):
        old, new = getattr(item, name), getattr(data, name)
        if old != new:
            changes[name] = [getattr(old, "value", old), getattr(new, "value", new)]
            setattr(item, name, new)
    if not changes:
        return False
    item.updated_at = clock.now()
    item.search_text = _search_text(item)
    record_event(
        "library.edit",
        "library_item",
        item.id,
        f"Sửa mục thư viện: {item.title} ({', '.join(_FIELD_LABELS[n] for n in changes)})",
        actor=actor,
        unit_id=item.unit_id,
        details={"changes": changes},
    )
    _commit_or_conflict()
    return True


_FIELD_LABELS = {"title": "tên", "kind": "loại", "licence_note": "bản quyền, nguồn"}


def programmes_airing(item: LibraryItem) -> list[str]:
    """Titles of the programmes that may still air the item: approved with it in their approved
    rundown (as an item or the bed), or with an active schedule of a version holding it."""
    from app.programmes.service import versions_using  # programmes build on the library
    from app.schedules.models import Schedule, ScheduleStatus
    from app.scripts.models import Script, ScriptStatus

    versions = versions_using(library_item_id=item.id)
    scheduled = select(Schedule.script_id).where(
        Schedule.status == ScheduleStatus.ACTIVE, Schedule.version_id.in_(versions)
    )
    found = db.session.scalars(
        select(Script.title)
        .where(
            or_(
                (Script.status == ScriptStatus.APPROVED) & Script.approved_version_id.in_(versions),
                Script.id.in_(scheduled),
            )
        )
        .order_by(Script.title)
    )
    return [f"“{title}”" for title in found]


def set_archived(actor: User, item: LibraryItem, archived: bool) -> None:
    """Archive an item (it leaves the list and new programmes) or bring it back.

    An item an approved or scheduled programme still airs is not archived: the programme
    must first be changed (archiving it would not stop the mix, which already holds it).
    """
    require_edit(actor, item)
    if item.archived == archived:
        state = "đã được lưu trữ" if archived else "đang dùng"
        raise Conflict(f"Mục này {state} rồi; không có gì thay đổi.")
    in_use = programmes_airing(item) if archived else []
    if in_use:
        raise Conflict(
            f"Chưa lưu trữ được “{item.title}”: mục này nằm trong chương trình đã duyệt hoặc "
            f"đang có lịch phát: {', '.join(in_use)}. Hãy bỏ mục khỏi các chương trình đó "
            "(hoặc lưu trữ chương trình) trước."
        )
    item.archived = archived
    item.archived_at = clock.now() if archived else None
    item.archived_by_id = actor.id if archived else None
    item.updated_at = clock.now()
    action, verb = ("library.archive", "Lưu trữ") if archived else ("library.restore", "Khôi phục")
    record_event(
        action,
        "library_item",
        item.id,
        f"{verb} mục thư viện: {item.title}",
        actor=actor,
        unit_id=item.unit_id,
        details={"audio_sha256": item.audio_sha256},
    )
    _commit_or_conflict()


def _commit_or_conflict() -> None:
    """Commit, turning a concurrent change of the same row into Conflict."""
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict("Mục này vừa được người khác sửa; hãy tải lại trang rồi thử lại.") from exc


def kind_choices() -> list[tuple[str, str]]:
    """(value, label) pairs for select boxes."""
    return [(k.value, KIND_LABELS[k]) for k in LibraryKind]
