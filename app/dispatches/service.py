"""Rules for the dispatch desk: receiving a dispatch and keeping its original, confirming what it
says, finding it again, and drafting scripts from it."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, in_scope, require, require_scope
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import Conflict, NotFound, ValidationError
from app.core.text import fold, nfc
from app.dispatches import extract, reader
from app.dispatches.extract import DispatchFileError, Limits
from app.dispatches.models import Dispatch, DispatchStatus
from app.extensions import db
from app.org.models import Station, Unit
from app.scripts import service as scripts
from app.scripts.models import Priority, Script

# What the bytes really are (extract.detect_type) -> the model's file_kind and media type.
FILE_KINDS = {"pdf": "pdf", "docx": "docx", "png": "image", "jpeg": "image", "text": "text"}
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "text": "text/plain; charset=utf-8",
}
PASTED_NAME = "van-ban-dan.txt"

URGENCIES = ("HỎA TỐC", "THƯỢNG KHẨN", "KHẨN")
SECRECIES = ("MẬT", "TỐI MẬT", "TUYỆT MẬT")
CONTACT_TYPES = ("phone", "url", "email")
MAX_LIST_ITEMS = 100
MAX_NUMBER = 2**31 - 1

NO_NUMBER_HINT = (
    " Không có gì được lưu. Hãy kiểm tra lại tệp (đúng công văn, có trang đầu với dòng "
    "“Số: …/…”); nếu dán văn bản, hãy bổ sung số và ký hiệu vào dòng “Số:” rồi gửi lại."
)


class DispatchRefused(ValidationError):
    """A file or text the desk does not take in; `code` is the reader's refusal code."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message, {"file": message})
        self.code = code
        self.status = status


# --- The original file --------------------------------------------------------------------


def originals_dir() -> Path:
    """Where originals live (DISPATCHES_DIR, by default <instance>/dispatches)."""
    return Path(current_app.config["DISPATCHES_DIR"])


def original_path(dispatch: Dispatch) -> Path:
    """The original file of a dispatch, named by its sha256."""
    return originals_dir() / dispatch.sha256


def _store_original(sha256: str, data: bytes) -> bool:
    """Write the original atomically under its sha256; False when it was already there."""
    folder = originals_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sha256
    if target.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _drop_original_if_unused(sha256: str) -> None:
    """Delete an original no dispatch row points at (after a failed save)."""
    used = db.session.scalar(select(Dispatch.id).where(Dispatch.sha256 == sha256).limit(1))
    if used is None:
        (originals_dir() / sha256).unlink(missing_ok=True)


# --- Receiving ----------------------------------------------------------------------------


@dataclass
class Received:
    """What intake did: the dispatch, and whether it was already there (nothing stored)."""

    dispatch: Dispatch
    duplicate: bool = False


def find_duplicate(unit: Unit, sha256: str) -> Dispatch | None:
    """The dispatch the unit already received with these exact bytes, if any."""
    return db.session.scalar(
        select(Dispatch).where(Dispatch.unit_id == unit.id, Dispatch.sha256 == sha256)
    )


def _refused(exc: DispatchFileError) -> DispatchRefused:
    """The reader's refusal as a domain error (413 for a file over the size limit)."""
    if isinstance(exc, reader.MissingNumberError):
        return DispatchRefused(exc.code, exc.message + NO_NUMBER_HINT)
    status = 413 if isinstance(exc, extract.FileTooLargeError) else 422
    return DispatchRefused(exc.code, exc.message, status)


def receive_dispatch(
    actor: User,
    *,
    data: bytes | None = None,
    filename: str | None = None,
    text: str | None = None,
    origin: str = "web",
) -> Received:
    """Take in an uploaded file or pasted text: keep the original, read its fields (status
    received). The same bytes received again by the unit store nothing and give the existing
    dispatch; a file that cannot be read, or a dispatch without a number, stores nothing."""
    require(actor, Permission.SCRIPT_EDIT)
    limits = Limits.from_config(current_app.config)
    unit = actor.unit
    try:
        if text is not None:
            extracted = extract.extract_text(text)
            if extracted.size > limits.max_bytes:
                raise extract.FileTooLargeError(
                    "Văn bản dán vào quá dài để là một công văn: tối đa "
                    f"{limits.max_bytes // extract.MB} MB."
                )
            raw, real, filename = "\f".join(extracted.pages).encode("utf-8"), "text", PASTED_NAME
        else:
            raw = data or b""
            if not raw:
                raise extract.EmptyFileError("Chưa chọn tệp nào, hoặc tệp rỗng.")
            existing = find_duplicate(unit, hashlib.sha256(raw).hexdigest())
            if existing is not None:
                return Received(existing, duplicate=True)
            extracted = extract.extract_file(raw, filename, limits)
            real = extract.detect_type(raw)
        sha256 = hashlib.sha256(raw).hexdigest()
        existing = find_duplicate(unit, sha256)
        if existing is not None:
            return Received(existing, duplicate=True)
        read = reader.require_number(reader.read_extracted(extracted))
    except DispatchFileError as exc:
        raise _refused(exc) from exc
    dispatch = _new_dispatch(actor, unit, read, extracted, raw, real, sha256, filename)
    written = False
    try:
        db.session.add(dispatch)
        db.session.flush()
        record_event(
            "dispatch.receive",
            "dispatch",
            dispatch.id,
            f"Nhận {dispatch.label} ({dispatch.file_name}, {dispatch.size} byte)",
            actor=actor,
            unit_id=unit.id,
            details={"sha256": sha256, "file_kind": dispatch.file_kind, "origin": origin},
        )
        written = _store_original(sha256, raw)
        db.session.commit()
    except IntegrityError as exc:
        # Another request took the same file in for the unit first: that one is the dispatch.
        db.session.rollback()
        if written:
            _drop_original_if_unused(sha256)
        existing = find_duplicate(unit, sha256)
        if existing is None:
            raise Conflict("Không lưu được công văn vì dữ liệu vừa thay đổi; hãy thử lại.") from exc
        return Received(existing, duplicate=True)
    except BaseException:
        db.session.rollback()
        if written:
            _drop_original_if_unused(sha256)
        raise
    return Received(dispatch)


def _clip(value: str | None, limit: int) -> str:
    """A reader's value in NFC, cut to fit its column."""
    return nfc(value or "").strip()[:limit]


def _capitalised(text: str | None) -> str:
    """'công văn' -> 'Công văn'."""
    text = (text or "").strip()
    return text[:1].upper() + text[1:]


def _new_dispatch(actor, unit, read, extracted, raw, real, sha256, filename) -> Dispatch:
    """A received dispatch row from what the reader found."""
    now = clock.now()
    problems = [{"code": "extract", "message": w} for w in extracted.warnings]
    problems += [asdict(p) for p in read.problems]
    dispatch = Dispatch(
        unit_id=unit.id,
        status=DispatchStatus.RECEIVED,
        file_name=_clip(Path(filename or "").name or PASTED_NAME, 255),
        file_kind=FILE_KINDS.get(real, extracted.kind),
        media_type=MEDIA_TYPES.get(real, "application/octet-stream"),
        sha256=sha256,
        size=len(raw),
        pages=extracted.page_count,
        ocr=bool(getattr(extracted, "ocr", False)),
        text=read.full_text or read.text,
        problems=problems,
        kind=_clip(_capitalised(read.kind), 60),
        number=read.number if read.number is not None and read.number <= MAX_NUMBER else None,
        code=_clip(read.code, 80),
        issuer=_clip(read.issuer, 300),
        parent_issuer=_clip(read.parent_issuer, 300),
        place=_clip(read.place, 120),
        issued_on=date.fromisoformat(read.date) if read.date else None,
        subject=nfc(read.subject or ""),
        urgency=_clip(read.urgency, 40),
        secrecy=_clip(read.secrecy, 40),
        addressees=[_clip(a, 300) for a in read.addressees][:MAX_LIST_ITEMS],
        distribution=[_clip(a, 300) for a in read.distribution][:MAX_LIST_ITEMS],
        signer_title=_clip(read.signer_title, 300),
        signer_name=_clip(read.signer_name, 120),
        cites=[asdict(c) for c in read.cites][:MAX_LIST_ITEMS],
        contacts=[asdict(c) for c in read.contacts][:MAX_LIST_ITEMS],
        deadlines=[asdict(d) for d in read.deadlines][:MAX_LIST_ITEMS],
        points=[asdict(p) for p in read.points],
        received_at=now,
        received_by_id=actor.id,
        updated_at=now,
    )
    dispatch.campaign = suggest_campaign(dispatch, actor)
    dispatch.valid_from = now.astimezone(LOCAL_TZ).date()
    dispatch.report_due = suggest_report_due(dispatch)
    _refresh_search_text(dispatch)
    return dispatch


def _refresh_search_text(dispatch: Dispatch) -> None:
    """Keep the folded search column in step with reference, issuer, subject, text, campaign."""
    dispatch.search_text = fold(
        " ".join(
            [
                dispatch.label,
                dispatch.reference,
                dispatch.issuer,
                dispatch.parent_issuer,
                dispatch.subject,
                dispatch.signer_name,
                dispatch.campaign,
                dispatch.text,
            ]
        )
    )


# --- Suggestions for the confirm page -----------------------------------------------------


def suggested_priority(urgency: str) -> Priority:
    """The priority a dispatch's urgency suggests for its scripts.

    HỎA TỐC / THƯỢNG KHẨN / KHẨN say how fast the document must be delivered and handled,
    not that its content is an emergency: they suggest "ưu tiên". "Khẩn cấp" (aired at once,
    cutting in) is for disasters, fires and epidemics (TT 39/2020) and is chosen by hand.
    """
    urgent = fold(urgency or "").strip() in {fold(u) for u in URGENCIES}
    return Priority.HIGH if urgent else Priority.NORMAL


def suggest_campaign(dispatch: Dispatch, actor: User) -> str:
    """An existing campaign of the user's units the dispatch names, else its subject."""
    haystack = fold(f"{dispatch.subject} {dispatch.text}")
    for name in sorted(scripts.campaigns_for(actor), key=len, reverse=True):
        if len(name) >= 6 and fold(name) in haystack:
            return name
    subject = _capitalised(" ".join((dispatch.subject or "").split()))
    if len(subject) > 120:
        subject = subject[:120].rsplit(" ", 1)[0] + "…"
    return subject


def suggest_report_due(dispatch: Dispatch) -> date | None:
    """The latest deadline that speaks of a report, else the latest deadline, else none."""
    days = []
    for item in dispatch.deadlines or []:
        try:
            day = date.fromisoformat(item.get("date") or "")
        except (TypeError, ValueError):
            continue
        days.append((("bao cao" in fold(item.get("text") or "")), day))
    reports = [day for is_report, day in days if is_report]
    chosen = reports or [day for _, day in days]
    return max(chosen) if chosen else None


_LIST_AFTER_CAC = re.compile(r"\bcac\s+([^;()]+)")


def _mentioned(entry: str) -> bool:
    """Whether a distribution entry names someone asked to act (not the archive, not a
    superior sent a copy for report: "(b/c)")."""
    folded = fold(entry)
    return not (folded.startswith("luu") or "b/c" in folded or folded.startswith("nhu tren"))


def suggest_targets(dispatch: Dispatch, actor: User) -> list[Unit]:
    """Units of the user's subtree the addressees and distribution list name: a unit or one
    of its stations by name ("Đài Truyền thanh thành phố Phan Thiết"), or every unit of a level
    ("UBND các huyện, thị xã, thành phố"). None named: the receiving unit."""
    from app.org.service import subtree_units

    units = subtree_units(actor.unit)
    entries = [fold(e) for e in [*dispatch.addressees, *dispatch.distribution] if _mentioned(e)]
    stations = db.session.scalars(
        select(Station).where(Station.unit_id.in_([u.id for u in units]))
    ).all()
    named: dict[int, Unit] = {}
    by_id = {u.id: u for u in units}

    def names(text: str, entry: str) -> bool:
        return bool(text) and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", entry) is not None

    for entry in entries:
        for unit in units:
            if names(fold(unit.name), entry):
                named[unit.id] = unit
        for station in stations:
            if names(fold(station.name), entry):
                named[station.unit_id] = by_id[station.unit_id]
        for match in _LIST_AFTER_CAC.finditer(entry):
            pieces = {p.strip() for p in re.split(r",|\bva\b", match.group(1))}
            for unit in units:
                if unit.id != actor.unit_id and fold(unit.level) in pieces:
                    named[unit.id] = unit
    if not named:
        return [dispatch.unit] if in_scope(actor, dispatch.unit) else []
    return sorted(named.values(), key=lambda u: u.path)


# --- Confirming ---------------------------------------------------------------------------


@dataclass
class DispatchInput:
    """Everything the officer confirms or corrects on the confirm page."""

    number: int | None
    code: str = ""
    kind: str = ""
    issuer: str = ""
    parent_issuer: str = ""
    place: str = ""
    issued_on: date | None = None
    subject: str = ""
    urgency: str = ""
    secrecy: str = ""
    addressees: list[str] = field(default_factory=list)
    distribution: list[str] = field(default_factory=list)
    signer_title: str = ""
    signer_name: str = ""
    cites: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    deadlines: list[dict] = field(default_factory=list)
    campaign: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    report_due: date | None = None
    targets: list[Unit] = field(default_factory=list)


_TEXT_LIMITS = {
    "code": 80,
    "kind": 60,
    "issuer": 300,
    "parent_issuer": 300,
    "place": 120,
    "subject": 2000,
    "signer_title": 300,
    "signer_name": 120,
    "campaign": 200,
}


def _clean_rows(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Rows with their texts in NFC and trimmed; rows left wholly blank are dropped."""
    cleaned = []
    for row in rows:
        item = {}
        for key in keys:
            value = row.get(key)
            item[key] = nfc(value).strip() if isinstance(value, str) else value
        if any(v not in (None, "") for v in item.values()):
            cleaned.append(item)
    return cleaned


def clean_dispatch_input(data: DispatchInput) -> DispatchInput:
    """Normalise the officer's fields and raise ValidationError naming each bad one."""
    errors: dict[str, str] = {}
    for name, limit in _TEXT_LIMITS.items():
        value = " ".join(nfc(getattr(data, name) or "").split())
        setattr(data, name, value)
        if len(value) > limit:
            errors[name] = f"Tối đa {limit} ký tự."
    if data.number is None:
        errors["number"] = "Công văn phải có số (ví dụ 855)."
    elif not 1 <= data.number <= MAX_NUMBER:
        errors["number"] = "Số phải là số nguyên dương."
    if not data.code:
        errors["code"] = "Hãy nhập ký hiệu (ví dụ BCĐ-TBTTTT)."
    data.urgency = nfc(data.urgency or "").strip().upper()
    if data.urgency and data.urgency not in URGENCIES:
        errors["urgency"] = "Độ khẩn là một trong: " + ", ".join(URGENCIES) + "."
    data.secrecy = nfc(data.secrecy or "").strip().upper()
    if data.secrecy and data.secrecy not in SECRECIES:
        errors["secrecy"] = "Độ mật là một trong: " + ", ".join(SECRECIES) + "."
    for name in ("addressees", "distribution"):
        items = [" ".join(nfc(x).split()) for x in getattr(data, name) if x and x.strip()]
        setattr(data, name, items)
        if len(items) > MAX_LIST_ITEMS:
            errors[name] = f"Tối đa {MAX_LIST_ITEMS} dòng."
        elif any(len(x) > 300 for x in items):
            errors[name] = "Mỗi dòng tối đa 300 ký tự."
    data.cites = _clean_rows(data.cites, ("kind", "number", "code", "date", "issuer"))
    for row in data.cites:
        if not isinstance(row["number"], int) or not 1 <= row["number"] <= MAX_NUMBER:
            errors["cites"] = "Mỗi văn bản được dẫn cần có số (số nguyên dương)."
        elif not row["code"]:
            errors["cites"] = "Mỗi văn bản được dẫn cần có ký hiệu (ví dụ KH-UBND)."
        elif any(len(str(row[k] or "")) > 300 for k in ("kind", "code", "issuer")):
            errors["cites"] = "Mỗi ô tối đa 300 ký tự."
    data.contacts = _clean_rows(data.contacts, ("type", "value", "text", "name"))
    for row in data.contacts:
        if row["type"] not in CONTACT_TYPES:
            errors["contacts"] = "Loại liên hệ là điện thoại, đường dẫn hoặc thư điện tử."
        elif not row["value"]:
            errors["contacts"] = "Mỗi liên hệ cần có số điện thoại hoặc địa chỉ."
        elif any(len(str(row[k] or "")) > 300 for k in ("value", "text", "name")):
            errors["contacts"] = "Mỗi ô tối đa 300 ký tự."
        row["text"] = row["text"] or row["value"]
    data.deadlines = _clean_rows(data.deadlines, ("date", "time", "text"))
    for row in data.deadlines:
        if not row["date"]:
            errors["deadlines"] = "Mỗi thời hạn cần có ngày."
        elif len(row["text"] or "") > 500:
            errors["deadlines"] = "Nội dung thời hạn tối đa 500 ký tự."
    for name in ("cites", "contacts", "deadlines"):
        if len(getattr(data, name)) > MAX_LIST_ITEMS:
            errors[name] = f"Tối đa {MAX_LIST_ITEMS} dòng."
    if data.valid_from and data.valid_until and data.valid_until < data.valid_from:
        errors["valid_until"] = "Ngày hết hiệu lực không được trước ngày bắt đầu hiệu lực."
    if errors:
        raise ValidationError("Chưa xác nhận được: hãy sửa các ô được đánh dấu.", errors)
    return data


def _plain(value):
    """A JSON value for the audit trail."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def confirm_dispatch(
    actor: User, dispatch: Dispatch, data: DispatchInput, expected_revision: int | None
) -> Dispatch:
    """Save the officer's fields and mark the dispatch confirmed; a revision other than the
    one the officer started from is a Conflict, and nothing is saved."""
    require(actor, Permission.SCRIPT_EDIT)
    require_scope(actor, dispatch.unit, "Công văn")
    if dispatch.status == DispatchStatus.CLOSED:
        raise ValidationError("Công văn đã báo cáo và đóng, không sửa được nữa.")
    data = clean_dispatch_input(data)
    before = {u.id: u for u in dispatch.targets}
    after = {u.id: u for u in data.targets}
    outside = sorted(
        (after.get(i) or before[i]).name
        for i in set(before) ^ set(after)
        if not in_scope(actor, after.get(i) or before[i])
    )
    if outside:
        raise ValidationError(
            "Đơn vị thực hiện nằm ngoài phạm vi của bạn: " + ", ".join(outside),
            {"targets": "Có đơn vị ngoài phạm vi."},
        )
    stale = Conflict(
        "Công văn vừa được người khác sửa hoặc xác nhận trong lúc bạn xem. Những gì bạn nhập "
        "vẫn còn bên dưới: hãy xem lại bản mới nhất rồi lưu lại.",
        {"revision": "Đã có thay đổi mới hơn."},
    )
    if expected_revision is not None and expected_revision != dispatch.revision:
        raise stale
    changed: dict[str, list] = {}
    for name in (
        "number", "code", "kind", "issuer", "parent_issuer", "place", "issued_on", "subject",
        "urgency", "secrecy", "addressees", "distribution", "signer_title", "signer_name",
        "cites", "contacts", "deadlines", "campaign", "valid_from", "valid_until", "report_due",
    ):  # fmt: skip
        old, new = getattr(dispatch, name), getattr(data, name)
        if old != new:
            changed[name] = [_plain(old), _plain(new)]
            setattr(dispatch, name, new)
    if sorted(before) != sorted(after):
        changed["targets"] = [
            [u.code for u in dispatch.targets],
            [u.code for u in sorted(after.values(), key=lambda u: u.code)],
        ]
        dispatch.targets = list(after.values())
    first = dispatch.status == DispatchStatus.RECEIVED
    now = clock.now()
    dispatch.status = DispatchStatus.CONFIRMED
    dispatch.confirmed_at = now
    dispatch.confirmed_by_id = actor.id
    dispatch.updated_at = now
    _refresh_search_text(dispatch)
    record_event(
        "dispatch.confirm" if first else "dispatch.update",
        "dispatch",
        dispatch.id,
        (f"Xác nhận {dispatch.label}" if first else f"Sửa thông tin {dispatch.label}")
        + (f" ({len(changed)} trường sửa)" if changed else ""),
        actor=actor,
        unit_id=dispatch.unit_id,
        details={"changed": changed},
    )
    try:
        db.session.commit()
    except (IntegrityError, StaleDataError) as exc:
        db.session.rollback()
        raise stale from exc
    return dispatch


# --- Finding ------------------------------------------------------------------------------


def get_dispatch(actor: User, dispatch_id: int) -> Dispatch:
    """A dispatch of the user's units, or NotFound."""
    require(actor, Permission.SCRIPT_VIEW)
    dispatch = db.session.get(Dispatch, dispatch_id)
    if dispatch is None:
        raise NotFound("Công văn không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    require_scope(actor, dispatch.unit, "Công văn")
    return dispatch


def _like_escape(term: str) -> str:
    """Escape LIKE wildcards in a search term."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def dispatches_query(actor: User, q: str = "", status: DispatchStatus | None = None):
    """Dispatches of the user's subtree, newest first; every folded word of q must occur in
    reference, issuer, subject or text (accents and case ignored)."""
    require(actor, Permission.SCRIPT_VIEW)
    query = (
        select(Dispatch)
        .join(Unit, Unit.id == Dispatch.unit_id)
        .where(Unit.path.startswith(actor.unit.path))
        .order_by(Dispatch.received_at.desc(), Dispatch.id.desc())
    )
    if status is not None:
        query = query.where(Dispatch.status == status)
    for term in fold(nfc(q)).split()[:10]:
        query = query.where(Dispatch.search_text.like(f"%{_like_escape(term)}%", escape="\\"))
    return query


def scripts_of(dispatch: Dispatch) -> list[Script]:
    """The scripts drafted from a dispatch, oldest first."""
    return list(
        db.session.scalars(
            select(Script).where(Script.dispatch_id == dispatch.id).order_by(Script.id)
        )
    )


# --- Drafts -------------------------------------------------------------------------------

_PLACE_LEVELS = ("tỉnh", "thành phố", "thị xã", "huyện", "quận", "xã", "phường", "thị trấn")


def _keep_upper(word: str) -> bool:
    """Abbreviations and codes keep their capitals (UBND, BCĐ, COVID-19, TT&TT)."""
    from app.speech.lexicon_seed import SEED_LEXICON_ENTRIES

    bare = word.strip(",.;:()")
    known = {term for term, _, _ in SEED_LEXICON_ENTRIES}
    return bare in known or any(ch.isdigit() or ch == "&" for ch in bare)


def spoken_name(name: str, text: str) -> str:
    """An issuer's name as a sentence writes it: as the dispatch's own text spells it when it
    does ("Tiểu Ban Thông tin Tuyên truyền"), else from its capitals (place names kept)."""
    name = " ".join((name or "").split())
    if not name:
        return ""
    if not name.isupper():
        return name
    folded_text = "".join(fold(ch) or ch for ch in (text or ""))
    spaced = " ".join(folded_text.split())
    original = " ".join((text or "").split())
    wanted = "".join(fold(ch) or ch for ch in name)
    at = spaced.find(wanted)
    while at >= 0 and len(spaced) == len(original):
        found = original[at : at + len(name)]
        if not found.isupper():
            return found
        at = spaced.find(wanted, at + 1)
    words = name.split()
    out: list[str] = []
    place = False
    index = 0
    while index < len(words):
        word = words[index]
        pair = f"{word} {words[index + 1]}".lower() if index + 1 < len(words) else ""
        if pair in _PLACE_LEVELS:
            out += [pair.split()[0] if out else pair.split()[0].capitalize(), pair.split()[1]]
            place = True
            index += 2
            continue
        if word.lower() in _PLACE_LEVELS:
            out.append(word.lower() if out else word.capitalize())
            place = True
        elif _keep_upper(word):
            out.append(word)
        elif place:
            out.append(word.capitalize())
        else:
            out.append(word.lower() if out else word.capitalize())
        index += 1
    return " ".join(out)


def opening_of(dispatch: Dispatch) -> str:
    """The sentence a draft opens with, written as a voice reads it well: "Thực hiện Công văn
    số 855/BCĐ-TBTTTT ngày 30/8/2021 của …, về việc …," (the normaliser reads the number, the
    date in full, and abbreviations from the lexicon)."""
    parts = [f"Thực hiện {_capitalised(dispatch.kind) or 'Văn bản'}"]
    if dispatch.reference:
        parts.append(f"số {dispatch.reference}")
    if dispatch.issued_on:
        d = dispatch.issued_on
        parts.append(f"ngày {d.day}/{d.month}/{d.year}")
    issuer = spoken_name(dispatch.issuer, dispatch.text)
    parent = spoken_name(dispatch.parent_issuer, dispatch.text)
    if issuer and parent:
        parts.append(f"của {issuer}, {parent}")
    elif issuer or parent:
        parts.append(f"của {issuer or parent}")
    subject = " ".join((dispatch.subject or "").split()).rstrip(".;,")
    if subject:
        parts.append(f"về việc {subject[:1].lower() + subject[1:]}")
    return " ".join(parts) + ","


def _title_from(text: str, limit: int = 90) -> str:
    """A short title from a point's text, cut at a word."""
    text = " ".join(text.split()).rstrip(":;., ")
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _script_input(actor: User, dispatch: Dispatch, title: str, body: str) -> scripts.ScriptInput:
    """A draft carrying the dispatch's source, campaign, priority, validity and targets."""
    targets = [u for u in dispatch.targets if in_scope(actor, u)] or [dispatch.unit]
    return scripts.ScriptInput(
        title=title[:300],
        body=body,
        unit=dispatch.unit,
        priority=suggested_priority(dispatch.urgency),
        campaign=dispatch.campaign,
        source_kind=_capitalised(dispatch.kind),
        source_number=dispatch.reference[:80],
        source_date=dispatch.issued_on,
        source_issuer=(dispatch.issuer or dispatch.parent_issuer)[:300],
        valid_from=dispatch.valid_from,
        valid_until=dispatch.valid_until,
        targets=targets,
        dispatch_id=dispatch.id,
    )


def make_drafts(
    actor: User, dispatch: Dispatch, *, opening: bool = False, points: list[int] | None = None
) -> list[Script]:
    """Draft scripts from a confirmed dispatch: one opening draft (the opening and every point)
    and/or one draft per chosen point (the opening and that point)."""
    require(actor, Permission.SCRIPT_EDIT)
    require_scope(actor, dispatch.unit, "Công văn")
    if dispatch.status != DispatchStatus.CONFIRMED:
        raise ValidationError(
            "Chỉ tạo bản nháp từ công văn đã xác nhận: hãy xác nhận thông tin công văn trước."
            if dispatch.status == DispatchStatus.RECEIVED
            else "Công văn đã báo cáo và đóng, không tạo thêm bản nháp."
        )
    chosen = sorted(set(points or []))
    if any(not 0 <= i < len(dispatch.points) for i in chosen):
        raise ValidationError("Mục đã chọn không có trong công văn.", {"points": "Mục lạ."})
    if not opening and not chosen:
        raise ValidationError(
            "Hãy chọn ít nhất một mục để tạo bản nháp.", {"points": "Chưa chọn mục nào."}
        )
    head = opening_of(dispatch)
    inputs = []
    if opening:
        items = [p["text"] for p in dispatch.points if p.get("level", 0) >= 1] or [
            p["text"] for p in dispatch.points
        ]
        body = "\n\n".join([f"{head} xin thông báo đến toàn thể nhân dân:", *items])
        if not items:
            body = f"{head} xin thông báo đến toàn thể nhân dân."
        title = _capitalised(dispatch.subject) or dispatch.label
        inputs.append(_script_input(actor, dispatch, title, body))
    for index in chosen:
        text = dispatch.points[index]["text"]
        body = f"{head} xin thông báo:\n\n{text}"
        inputs.append(_script_input(actor, dispatch, _title_from(text), body))
    for data in inputs:
        scripts.clean_input(data)
    made = [scripts.create_script(actor, data) for data in inputs]
    record_event(
        "dispatch.drafts",
        "dispatch",
        dispatch.id,
        f"Tạo {len(made)} bản nháp từ {dispatch.label}",
        actor=actor,
        unit_id=dispatch.unit_id,
        details={"scripts": [s.id for s in made], "opening": opening, "points": chosen},
    )
    db.session.commit()
    return made
