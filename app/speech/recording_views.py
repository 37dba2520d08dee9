"""The script page's recording box: upload a recording, or send one made in the browser."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth.decorators import permission_required
from app.auth.permissions import Permission
from app.core.errors import DomainError, ValidationError
from app.extensions import csrf, db
from app.scripts import service as scripts_service
from app.speech import recording
from app.speech.ingest import format_number, format_seconds

bp = Blueprint("recordings", __name__)

CSRF_MESSAGE = (
    "Biểu mẫu đã hết hạn hoặc không hợp lệ (mã chống giả mạo CSRF sai). Không có gì được lưu; "
    "hãy tải lại trang và thử lại."
)


def _wants_json() -> bool:
    """The page's script sends browser recordings with fetch and reads a JSON answer."""
    return request.accept_mimetypes.best == "application/json"


def _refused(message: str, status: int, code: str = "invalid"):
    """Tell the user why nothing was stored: JSON for the page's script, else a flash."""
    if _wants_json():
        response = jsonify({"error": code, "message": message, "fields": {"file": message}})
        response.status_code = status
        return response
    flash(message, "error")
    return None


def _back(script_id: int):
    """The script page at its recording box."""
    return redirect(url_for("scripts.show", script_id=script_id) + "#recording")


@bp.post("/scripts/<int:script_id>/recording")
@csrf.exempt  # checked below, once the request's own size limit is set
@permission_required(Permission.SCRIPT_EDIT)
def upload(script_id: int):
    """Take an uploaded or browser-made recording of the script's current version."""
    script = scripts_service.get_script(current_user, script_id)
    # The app-wide request limit is the dispatch desk's; a recording may be larger.
    request.max_content_length = recording.request_limit()
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        upload_file = request.files.get("file")
        source = request.form.get("source", "upload")
    except RequestEntityTooLarge:
        refused = recording.too_large(request.content_length)
        return _refused(refused.message, 413, refused.code) or _back(script_id)
    except CSRFError:
        return _refused(CSRF_MESSAGE, 400, "csrf") or _back(script_id)
    if upload_file is None or not upload_file.filename:
        message = "Hãy chọn một tệp ghi âm, hoặc ghi âm từ micrô."
        return _refused(message, 422, "validation_failed") or _back(script_id)
    try:
        render = recording.add_recording(
            current_user, script, upload_file, source=source if source in recording.SOURCES else ""
        )
    except DomainError as exc:
        db.session.rollback()
        details = "" if isinstance(exc, recording.RecordingRefused) else _details(exc)
        return _refused(exc.message + details, exc.status, exc.code) or _back(script_id)
    message = (
        f"Đã nhận bản ghi âm: {format_seconds(render.duration_s or 0)} sau khi cắt khoảng lặng, "
        f"{format_number(render.integrated_lufs)} LUFS, "
        f"đỉnh {format_number(render.true_peak_dbtp)} dBTP."
    )
    if render.warnings:
        message += " Có cảnh báo: hãy nghe lại trước khi gửi duyệt."
    # The page's script reloads the page after a JSON answer: the message shows there too.
    flash(message, "warning" if render.warnings else "success")
    if _wants_json():
        return jsonify(
            {
                "id": render.id,
                "message": message,
                "url": url_for("scripts.show", script_id=script_id) + "#recording",
            }
        ), 201
    return _back(script_id)


def _details(exc: DomainError) -> str:
    """Field messages of a validation error, after its message."""
    if isinstance(exc, ValidationError) and exc.fields:
        return " (" + "; ".join(exc.fields.values()) + ")"
    return ""
