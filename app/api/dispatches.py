"""Dispatch endpoints: take a dispatch in (a file or its text), read one, list and search."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import bp
from app.api.openapi import operation, page_response
from app.api.schemas import (
    DispatchQuery,
    DispatchTextIn,
    UnknownFields,
    is_clean,
    read_body,
    read_query,
)
from app.core.errors import ValidationError
from app.dispatches import service
from app.dispatches.extract import MB
from app.dispatches.models import Dispatch, DispatchStatus
from app.extensions import db

BAD_INPUT = "Dữ liệu gửi lên chưa hợp lệ."
BAD_FILTER = "Tham số lọc không hợp lệ."
# The upload form of POST /dispatches as the OpenAPI description gives it.
UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}},
    "additionalProperties": False,
}


def _iso(value):
    """ISO 8601 text of a date or datetime, or None."""
    return value.isoformat() if value else None


def dispatch_json(dispatch: Dispatch, detail: bool = True) -> dict:
    """A dispatch as the API gives it: the original, what it says, what the desk added."""
    data = {
        "id": dispatch.id,
        "status": dispatch.status.value,
        "unit": dispatch.unit.code,
        "label": dispatch.label,
        "kind": dispatch.kind,
        "number": dispatch.number,
        "code": dispatch.code,
        "reference": dispatch.reference,
        "issuer": dispatch.issuer,
        "parent_issuer": dispatch.parent_issuer,
        "place": dispatch.place,
        "date": _iso(dispatch.issued_on),
        "subject": dispatch.subject,
        "urgency": dispatch.urgency,
        "secrecy": dispatch.secrecy,
        "suggested_priority": service.suggested_priority(dispatch.urgency).value,
        "campaign": dispatch.campaign,
        "valid_from": _iso(dispatch.valid_from),
        "valid_until": _iso(dispatch.valid_until),
        "report_due": _iso(dispatch.report_due),
        "targets": [u.code for u in dispatch.targets],
        "file": {
            "name": dispatch.file_name,
            "kind": dispatch.file_kind,
            "media_type": dispatch.media_type,
            "size": dispatch.size,
            "pages": dispatch.pages,
            "ocr": dispatch.ocr,
            "sha256": dispatch.sha256,
        },
        "received_at": _iso(dispatch.received_at),
        "received_by": dispatch.received_by.username if dispatch.received_by else None,
        "confirmed_at": _iso(dispatch.confirmed_at),
        "confirmed_by": dispatch.confirmed_by.username if dispatch.confirmed_by else None,
        "revision": dispatch.revision,
    }
    if detail:
        data.update(
            {
                "addressees": list(dispatch.addressees or []),
                "distribution": list(dispatch.distribution or []),
                "signer_title": dispatch.signer_title,
                "signer_name": dispatch.signer_name,
                "cites": list(dispatch.cites or []),
                "contacts": list(dispatch.contacts or []),
                "deadlines": list(dispatch.deadlines or []),
                "points": list(dispatch.points or []),
                "problems": list(dispatch.problems or []),
                "text": dispatch.text,
                "scripts": [
                    {"id": s.id, "title": s.title, "status": s.status.value}
                    for s in service.scripts_of(dispatch)
                ],
            }
        )
    return data


def _upload() -> tuple[bytes, str]:
    """The uploaded file of a multipart body; any other field is refused."""
    try:
        files, form = request.files, request.form
    except RequestEntityTooLarge:
        limit = current_app.config["DISPATCH_MAX_BYTES"]
        message = (
            f"Tệp quá lớn: công văn được tải lên tối đa {limit // MB} MB."
            if limit >= MB
            else f"Tệp quá lớn: công văn được tải lên tối đa {limit // 1024} KB."
        )
        raise service.DispatchRefused("file_too_large", message, 413) from None
    unknown = [n for n in [*files.keys(), *form.keys()] if n != "file"]
    if unknown:
        shown = [n if is_clean(n) else "?" for n in unknown][:10]
        raise UnknownFields(
            "Trường không được hỗ trợ: " + ", ".join(f"“{n[:60]}”" for n in shown) + ".",
            {n[:60]: "Trường không được hỗ trợ." for n in shown},
        )
    upload = files.get("file")
    if upload is None:
        raise ValidationError(BAD_INPUT, {"file": "Bắt buộc: tệp công văn (trường “file”)."})
    name = upload.filename or ""
    if not is_clean(name):
        raise ValidationError(BAD_INPUT, {"file": "Tên tệp chứa ký tự không hợp lệ."})
    return upload.read(), name


@bp.post("/dispatches")
@operation(body=DispatchTextIn, multipart=UPLOAD_SCHEMA, status=201, extra_statuses=(200,))
def create_dispatch():
    """Take a dispatch in: a file (multipart "file") or its text (JSON {"text"})."""
    if request.mimetype == "multipart/form-data":
        data, name = _upload()
        received = service.receive_dispatch(current_user, data=data, filename=name, origin="api")
    else:
        body = read_body(DispatchTextIn, BAD_INPUT)
        received = service.receive_dispatch(current_user, text=body.text, origin="api")
    answer = dispatch_json(received.dispatch)
    answer["duplicate"] = received.duplicate
    return answer, 200 if received.duplicate else 201


@bp.get("/dispatches/<int:dispatch_id>")
@operation()
def get_dispatch(dispatch_id: int):
    """One dispatch: its fields, points, problems, text and the scripts drafted from it."""
    return dispatch_json(service.get_dispatch(current_user, dispatch_id))


@bp.get("/dispatches")
@operation(query=DispatchQuery, response=page_response())
def list_dispatches():
    """Dispatches of the caller's units, newest first, with the web list's search."""
    args = read_query(DispatchQuery, BAD_FILTER)
    status = DispatchStatus(args.status) if args.status else None
    query = service.dispatches_query(current_user, args.q, status)
    page, per_page = args.page, args.per_page or current_app.config["SCRIPTS_PER_PAGE"]
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": [dispatch_json(d, detail=False) for d in items],
        "page": page,
        "per_page": per_page,
        "total": total,
    }
