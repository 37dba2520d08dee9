"""Audio library endpoints: list and search, one item, add an item (multipart), its audio."""

from __future__ import annotations

from typing import Annotated, Literal

from flask import current_app, request, url_for
from flask_login import current_user
from pydantic import BeforeValidator, Field
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import bp
from app.api.openapi import AUDIO, operation, page_response
from app.api.schemas import (
    Flag,
    Paged,
    QueryCode,
    QueryText,
    Schema,
    UnknownFields,
    choice,
    is_clean,
    optional_query,
    read_query,
    text,
    validate,
)
from app.auth.permissions import Permission, require
from app.core.errors import ValidationError
from app.extensions import db
from app.library import service
from app.library.models import LICENCE_CHARS, TITLE_CHARS, LibraryItem, LibraryKind
from app.library.views import audio_response, size_text, upload_limit_text
from app.org.models import Unit

BAD_INPUT = "Dữ liệu gửi lên chưa hợp lệ."
BAD_FILTER = "Tham số lọc không hợp lệ."
KINDS = tuple(k.value for k in LibraryKind)


class LibraryQuery(Paged):
    """Filters of GET /library."""

    q: QueryText = ""
    kind: optional_query(choice(*KINDS)) = None
    unit: optional_query(QueryCode) = None
    include_archived: Flag = False


def _form_value(value):
    """A multipart field is text; an empty one means "not given"."""
    return value if value != "" else None


class LibraryUploadFields(Schema):
    """The fields of POST /library, sent as multipart/form-data beside the file."""

    title: Annotated[text(TITLE_CHARS, strict=False), Field(min_length=1)]
    kind: Literal[KINDS]
    licence_note: text(LICENCE_CHARS, strict=False) = ""
    unit: Annotated[text(40, strict=False) | None, BeforeValidator(_form_value)] = None


# The upload form of POST /library as the OpenAPI description gives it.
UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["file", "title", "kind"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "title": {"type": "string", "minLength": 1, "maxLength": TITLE_CHARS},
        "kind": {"type": "string", "enum": list(KINDS)},
        "licence_note": {"type": "string", "maxLength": LICENCE_CHARS},
        "unit": {"type": "string", "maxLength": 40},
    },
    "additionalProperties": False,
}


def _iso(value):
    """ISO 8601 text of a datetime, or None."""
    return value.isoformat() if value else None


def item_json(item: LibraryItem) -> dict:
    """A library item as the API gives it: what it is, its mastered audio and the original."""
    return {
        "id": item.id,
        "title": item.title,
        "kind": item.kind.value,
        "licence_note": item.licence_note,
        "unit": item.unit.code,
        "archived": item.archived,
        "archived_at": _iso(item.archived_at),
        "audio": {
            "sha256": item.audio_sha256,
            "format": item.audio_format,
            "size": item.audio_size,
            "duration_s": item.duration_s,
            "integrated_lufs": item.integrated_lufs,
            "true_peak_dbtp": item.true_peak_dbtp,
            "sample_rate": item.sample_rate,
            "bitrate_kbps": item.bitrate_kbps,
            "target_lufs": item.target_lufs,
            "trimmed": item.trimmed,
            "trimmed_lead_s": item.trimmed_lead_s,
            "trimmed_tail_s": item.trimmed_tail_s,
            "url": url_for("api.library_audio", item_id=item.id),
        },
        "original": {
            "name": item.original_name,
            "sha256": item.original_sha256,
            "size": item.original_size,
            "measures": dict(item.original_measures or {}),
        },
        "warnings": list(item.warnings or []),
        "created_by": item.created_by.username if item.created_by else None,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
        "revision": item.revision,
    }


def _unit(code: str | None, key: str) -> Unit | None:
    """Resolve a unit code; an unknown one is a field error."""
    if code is None:
        return None
    unit = db.session.scalar(select(Unit).where(Unit.code == code.strip().upper()))
    if unit is None:
        raise ValidationError(
            BAD_INPUT, {key: "Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."}
        )
    return unit


@bp.get("/library")
@operation(query=LibraryQuery, response=page_response())
def list_library():
    """Library items of the caller's units and those above, newest first, with search."""
    args = read_query(LibraryQuery, BAD_FILTER)
    try:
        unit = _unit(args.unit, "unit")
    except ValidationError as exc:
        raise ValidationError(BAD_FILTER, exc.fields) from None
    filters = service.ItemFilter(
        q=args.q,
        kind=LibraryKind(args.kind) if args.kind else None,
        unit=unit,
        include_archived=args.include_archived,
    )
    query = service.items_query(current_user, filters)
    page, per_page = args.page, args.per_page or current_app.config["SCRIPTS_PER_PAGE"]
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": [item_json(i) for i in items],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


@bp.get("/library/<int:item_id>")
@operation()
def get_library_item(item_id: int):
    """One library item: fields, measures of the mastered audio and of the original."""
    return item_json(service.get_item(current_user, item_id))


def _upload():
    """The file and fields of a multipart body; unknown fields are refused."""
    try:
        files, form = request.files, request.form
    except RequestEntityTooLarge:
        raise service.LibraryRefused(
            "file_too_large",
            f"Tệp quá lớn ({size_text(request.content_length or 0)}): máy chủ nhận tối đa "
            f"{upload_limit_text()} mỗi lần tải lên. Không có gì được lưu.",
            413,
        ) from None
    names = [*files.keys(), *form.keys()]
    unknown = [n for n in names if n not in UPLOAD_SCHEMA["properties"]]
    if unknown:
        shown = [n if is_clean(n) else "?" for n in unknown][:10]
        raise UnknownFields(
            "Trường không được hỗ trợ: " + ", ".join(f"“{n[:60]}”" for n in shown) + ".",
            {n[:60]: "Trường không được hỗ trợ." for n in shown},
        )
    fields = validate(LibraryUploadFields, {k: form.get(k) for k in form}, BAD_INPUT)
    upload = files.get("file")
    if upload is None:
        raise ValidationError(BAD_INPUT, {"file": "Bắt buộc: tệp âm thanh (trường “file”)."})
    if not is_clean(upload.filename or ""):
        raise ValidationError(BAD_INPUT, {"file": "Tên tệp chứa ký tự không hợp lệ."})
    return upload, fields


@bp.post("/library")
@operation(multipart=UPLOAD_SCHEMA, status=201, extra_statuses=(200,))
def create_library_item():
    """Add an item: multipart "file" with title, kind, licence_note and unit (201; 200 and
    "duplicate": true when the unit already has this exact file)."""
    require(current_user, Permission.LIBRARY_EDIT)
    if request.mimetype != "multipart/form-data":
        raise ValidationError(
            "Gửi tệp bằng multipart/form-data: trường “file” cùng title, kind, licence_note.",
            {"file": "Bắt buộc: tệp âm thanh (trường “file”)."},
        )
    upload, fields = _upload()
    data = service.ItemInput(
        title=fields.title,
        kind=fields.kind,
        licence_note=fields.licence_note,
        unit=_unit(fields.unit, "unit"),
    )
    added = service.add_item(current_user, data, upload.stream, upload.filename or "", origin="api")
    answer = item_json(added.item)
    answer["duplicate"] = added.duplicate
    return answer, 200 if added.duplicate else 201


@bp.get("/library/<int:item_id>/audio")
@operation(response={"audio/mpeg": AUDIO, "audio/wav": AUDIO}, extra_statuses=(206, 304, 416))
def library_audio(item_id: int):
    """The mastered audio file of a library item (Range and If-None-Match work)."""
    return audio_response(service.get_item(current_user, item_id))
