"""Recorded spots over the API: POST a recording of a script's current version."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import bp
from app.api.openapi import operation
from app.api.schemas import UnknownFields, is_clean
from app.api.speech import _render_json
from app.auth.permissions import Permission, require
from app.core.errors import ValidationError
from app.scripts import service as scripts_service
from app.speech import recording

BAD_UPLOAD = "Bản ghi âm gửi lên chưa hợp lệ."
# The upload form as the OpenAPI description gives it.
RECORDING_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": f"Bản ghi âm: {recording.accepted_formats()}.",
        }
    },
    "additionalProperties": False,
}


def _upload():
    """The multipart "file" of the request, read under the recording routes' own size limit."""
    if request.mimetype != "multipart/form-data":
        raise ValidationError(
            BAD_UPLOAD, {"file": "Gửi tệp dạng multipart/form-data, trường “file”."}
        )
    # The app-wide limit is the dispatch desk's; a recording may be larger (RECORDING_MAX_MB).
    request.max_content_length = recording.request_limit()
    try:
        files, form = request.files, request.form
    except RequestEntityTooLarge:
        raise recording.too_large(request.content_length) from None
    unknown = [n for n in [*files.keys(), *form.keys()] if n != "file"]
    if unknown:
        shown = [n if is_clean(n) else "?" for n in unknown][:10]
        raise UnknownFields(
            "Trường không được hỗ trợ: " + ", ".join(f"“{n[:60]}”" for n in shown) + ".",
            {n[:60]: "Trường không được hỗ trợ." for n in shown},
        )
    upload = files.get("file")
    if upload is None:
        raise ValidationError(BAD_UPLOAD, {"file": "Bắt buộc: tệp ghi âm (trường “file”)."})
    if not is_clean(upload.filename or ""):
        raise ValidationError(BAD_UPLOAD, {"file": "Tên tệp chứa ký tự không hợp lệ."})
    return upload


@bp.post("/scripts/<int:script_id>/recording")
@operation(multipart=RECORDING_SCHEMA, status=201)
def add_recording(script_id: int):
    """Voice the current version with a recording (multipart "file"); 201 with the render."""
    require(current_user, Permission.SCRIPT_EDIT)
    script = scripts_service.get_script(current_user, script_id)
    render = recording.add_recording(current_user, script, _upload(), source="upload")
    return _render_json(render), 201
