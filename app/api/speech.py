"""Speech endpoints: normalise text, start a render, follow it, download its audio."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from sqlalchemy import select

from app.api import bp
from app.api.openapi import AUDIO, operation
from app.api.schemas import NormalizeIn, RenderIn, read_body
from app.auth.permissions import Permission, in_scope, require
from app.core.errors import ValidationError
from app.core.text import nfc
from app.extensions import db
from app.org.models import Station, Unit
from app.scripts import service as scripts_service
from app.speech import service
from app.speech.recording import recording_facts
from app.speech.views import audio_response, render_status

BAD_RENDER = "Yêu cầu tạo âm thanh chưa hợp lệ."


@bp.post("/speech/normalize")
@operation(body=NormalizeIn)
def normalize_text():
    """{"text", "unit"?} -> {"spoken", "spans", "warnings"} with the unit's lexicon."""
    require(current_user, Permission.SCRIPT_VIEW)
    data = read_body(NormalizeIn, "Thiếu “text” (chuỗi ký tự) hoặc dữ liệu chưa hợp lệ.")
    unit = current_user.unit
    if data.unit:
        unit = db.session.scalar(select(Unit).where(Unit.code == data.unit))
        if unit is None or not in_scope(current_user, unit):
            raise ValidationError("Đơn vị không tồn tại hoặc ngoài phạm vi.", {"unit": "?"})
    return service.normalize_for(unit, nfc(data.text)).as_dict()


def _render_json(render) -> dict:
    """A render's status with links to itself and its audio."""
    data = render_status(render)
    data["url"] = url_for("api.get_render", render_id=render.id)
    data["script"] = render.script_id
    data["audio_url"] = (
        url_for("api.render_audio", render_id=render.id) if render.audio_path else None
    )
    data["warnings"] = [
        {"code": w.get("code", ""), "message": w.get("message", "")}
        for w in render.warnings or []
        if isinstance(w, dict)
    ]
    # A recording's original and what trimming cut (None for a synthesised render).
    data["recording"] = recording_facts(render)
    return data


@bp.post("/scripts/<int:script_id>/renders")
@operation(body=RenderIn, body_optional=True, status=202, extra_statuses=(200,))
def start_render(script_id: int):
    """Queue a render of the current version; answers 202 with the render's id."""
    require(current_user, Permission.SPEECH_RENDER)
    script = scripts_service.get_script(current_user, script_id)
    data = read_body(RenderIn, BAD_RENDER, optional=True)
    station = None
    if data.station:
        station = db.session.scalar(select(Station).where(Station.code == data.station))
        if station is None or not in_scope(current_user, station.unit):
            # The same answer for both, so codes of other units cannot be probed.
            raise ValidationError(
                BAD_RENDER, {"station": "Không có đài mã này trong phạm vi của bạn."}
            )
    req = service.RenderRequest(
        engine=data.engine,
        voice=data.voice,
        speed=data.speed,
        station=station,
        intro_text=data.intro_text,
        settings=data.settings.model_dump(exclude_none=True),
        allow_fallback=data.allow_fallback,
    )
    render = service.request_render(current_user, script, req)
    return _render_json(render), 200 if render.cached else 202


@bp.get("/renders/<int:render_id>")
@operation()
def get_render(render_id: int):
    """Status, progress, engine, voice, measurements, sha256 and the audio URL of a render."""
    return _render_json(service.get_render(current_user, render_id))


@bp.get("/renders/<int:render_id>/audio")
@operation(response={"audio/mpeg": AUDIO, "audio/wav": AUDIO}, extra_statuses=(409,))
def render_audio(render_id: int):
    """The audio file of a finished render."""
    return audio_response(service.get_render(current_user, render_id))
