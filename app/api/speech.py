"""Speech endpoints: normalise text, start a render, follow it, download its audio."""

from __future__ import annotations

from flask import request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.api import bp
from app.api.scripts import _payload
from app.auth.permissions import Permission, in_scope, require
from app.core.errors import ValidationError
from app.core.text import nfc
from app.extensions import db
from app.org.models import Station, Unit
from app.scripts import service as scripts_service
from app.speech import service
from app.speech.views import audio_response, render_status

MAX_NORMALIZE_CHARS = 100_000


@bp.post("/speech/normalize")
def normalize_text():
    """{"text", "unit"?} -> {"spoken", "spans", "warnings"} with the unit's lexicon."""
    require(current_user, Permission.SCRIPT_VIEW)
    data = _payload()
    text = data.get("text")
    if not isinstance(text, str):
        raise ValidationError("Thiếu “text” (chuỗi ký tự).", {"text": "Bắt buộc."})
    if len(text) > MAX_NORMALIZE_CHARS:
        raise ValidationError("Văn bản quá dài (tối đa 100.000 ký tự).", {"text": "Quá dài."})
    unit = current_user.unit
    if data.get("unit"):
        unit = db.session.scalar(select(Unit).where(Unit.code == str(data["unit"])))
        if unit is None or not in_scope(current_user, unit):
            raise ValidationError("Đơn vị không tồn tại hoặc ngoài phạm vi.", {"unit": "?"})
    return service.normalize_for(unit, nfc(text)).as_dict()


def _render_json(render) -> dict:
    """A render's status with links to itself and its audio."""
    data = render_status(render)
    data["url"] = url_for("api.get_render", render_id=render.id)
    data["script"] = render.script_id
    data["audio_url"] = (
        url_for("api.render_audio", render_id=render.id) if render.audio_path else None
    )
    return data


@bp.post("/scripts/<int:script_id>/renders")
def start_render(script_id: int):
    """Queue a render of the current version; answers 202 with the render's id."""
    require(current_user, Permission.SPEECH_RENDER)
    script = scripts_service.get_script(current_user, script_id)
    data = request.get_json(silent=True)
    data = {} if data is None and not request.data else _payload()
    errors: dict[str, str] = {}
    station = None
    if data.get("station"):
        station = db.session.scalar(select(Station).where(Station.code == str(data["station"])))
        if station is None or not in_scope(current_user, station.unit):
            # The same answer for both, so codes of other units cannot be probed.
            errors["station"] = "Không có đài mã này trong phạm vi của bạn."
            station = None
    speed = data.get("speed", 100)
    if not isinstance(speed, int) or isinstance(speed, bool):
        errors["speed"] = "Số nguyên (phần trăm)."
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        errors["settings"] = "Phải là một đối tượng JSON."
    if not isinstance(data.get("allow_fallback", True), bool):
        errors["allow_fallback"] = "true hoặc false."
    for key in ("engine", "voice", "intro_text"):
        if data.get(key) is not None and not isinstance(data[key], str):
            errors[key] = "Chuỗi ký tự."
    if errors:
        raise ValidationError("Yêu cầu tạo âm thanh chưa hợp lệ.", errors)
    req = service.RenderRequest(
        engine=data.get("engine"),
        voice=data.get("voice"),
        speed=speed,
        station=station,
        intro_text=data.get("intro_text"),
        settings=settings,
        allow_fallback=data.get("allow_fallback", True),
    )
    render = service.request_render(current_user, script, req)
    return _render_json(render), 200 if render.cached else 202


@bp.get("/renders/<int:render_id>")
def get_render(render_id: int):
    """Status, progress, engine, voice, measurements, sha256 and the audio URL of a render."""
    return _render_json(service.get_render(current_user, render_id))


@bp.get("/renders/<int:render_id>/audio")
def render_audio(render_id: int):
    """The audio file of a finished render."""
    return audio_response(service.get_render(current_user, render_id))
