"""Script sources: Markdown files with YAML front matter under SCRIPTS_DIR, imported as versions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select

from app.core.errors import DomainError, ValidationError
from app.core.text import nfc
from app.extensions import db
from app.org.models import Unit
from app.scripts.models import PRIORITY_LABELS, Priority, Script, ScriptStatus
from app.scripts.service import ScriptInput, create_script, update_script

PRIORITY_WORDS = {label: p for p, label in PRIORITY_LABELS.items()} | {p.value: p for p in Priority}


@dataclass
class ImportResult:
    """What importing one file did."""

    path: Path
    outcome: str  # "created", "updated", "unchanged" or "error"
    message: str = ""


def parse_source(text: str, name: str) -> tuple[dict, str]:
    """Split a file into its front matter mapping and its body."""
    text = nfc(text.lstrip("\ufeff"))
    if not text.startswith("---\n"):
        raise ValidationError(f"{name}: thiếu phần đầu YAML (bắt đầu bằng dòng ---).")
    try:
        head, body = text[4:].split("\n---", 1)
    except ValueError as exc:
        raise ValidationError(f"{name}: phần đầu YAML không có dòng --- kết thúc.") from exc
    try:
        meta = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"{name}: YAML không đọc được: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValidationError(f"{name}: phần đầu YAML phải là một bảng khóa: giá trị.")
    return meta, body.split("\n", 1)[1] if "\n" in body else ""


def _date(meta: dict, key: str, name: str) -> date | None:
    """Read an ISO date from the front matter."""
    value = meta.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError(f"{name}: {key} phải là ngày dạng YYYY-MM-DD.") from exc


def _unit(code: str, name: str) -> Unit:
    """Resolve a unit code from the front matter."""
    unit = db.session.scalar(select(Unit).where(Unit.code == str(code).strip().upper()))
    if unit is None:
        raise ValidationError(f"{name}: không có đơn vị mã “{code}”.")
    return unit


def input_from_source(meta: dict, body: str, name: str) -> ScriptInput:
    """Build a ScriptInput from parsed front matter and body."""
    if not meta.get("title"):
        raise ValidationError(f"{name}: thiếu title.")
    if not meta.get("unit"):
        raise ValidationError(f"{name}: thiếu unit (mã đơn vị soạn).")
    priority_word = str(meta.get("priority", "thông thường")).strip().lower()
    if priority_word not in PRIORITY_WORDS:
        raise ValidationError(f"{name}: priority phải là thông thường, ưu tiên hoặc khẩn cấp.")
    source = meta.get("source") or {}
    if not isinstance(source, dict):
        raise ValidationError(f"{name}: source phải gồm kind, number, date, issuer.")
    unit = _unit(meta["unit"], name)
    targets = [_unit(code, name) for code in (meta.get("targets") or [])]
    return ScriptInput(
        title=str(meta["title"]),
        body=body,
        unit=unit,
        priority=PRIORITY_WORDS[priority_word],
        campaign=str(meta.get("campaign") or ""),
        category=str(meta.get("category") or ""),
        source_kind=str(source.get("kind") or ""),
        source_number=str(source.get("number") or ""),
        source_date=_date(source, "date", name),
        source_issuer=str(source.get("issuer") or ""),
        valid_from=_date(meta, "valid_from", name),
        valid_until=_date(meta, "valid_until", name),
        targets=targets or [unit],
    )


def import_file(path: Path) -> ImportResult:
    """Import one file: create the script, add a version, or change nothing."""
    key = path.stem
    try:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        script = db.session.scalar(select(Script).where(Script.source_key == key))
        if script is not None and script.source_sha256 == digest:
            return ImportResult(path, "unchanged")
        meta, body = parse_source(raw.decode("utf-8"), path.name)
        data = input_from_source(meta, body, path.name)
        if script is None:
            script = create_script(None, data, origin=f"import:{path.name}", source_key=key)
            outcome = ImportResult(path, "created")
        elif script.status == ScriptStatus.ARCHIVED:
            return ImportResult(path, "unchanged", "đã lưu trữ, bỏ qua")
        else:
            _, changed = update_script(None, script, data, None, origin=f"import:{path.name}")
            outcome = ImportResult(
                path,
                "updated" if changed else "unchanged",
                f"phiên bản {script.version_number}" if changed else "",
            )
        script.source_sha256 = digest
        db.session.commit()
        return outcome
    except DomainError as exc:
        db.session.rollback()
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        return ImportResult(path, "error", exc.message + (f" ({detail})" if detail else ""))
    except UnicodeDecodeError:
        db.session.rollback()
        return ImportResult(path, "error", f"{path.name}: tệp không phải UTF-8.")
    except (ValueError, OSError) as exc:
        # PyYAML raises ValueError for impossible dates such as 2021-02-30.
        db.session.rollback()
        return ImportResult(path, "error", f"{path.name}: {exc}")


def import_folder(folder: Path) -> list[ImportResult]:
    """Import every *.md file of a folder (README.md excluded), in name order."""
    files = sorted(p for p in folder.glob("*.md") if p.name.lower() != "readme.md")
    return [import_file(p) for p in files]
