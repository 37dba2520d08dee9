"""Programme endpoint: a programme's rundown of its current version, its mix and approval."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user

from app.api import bp
from app.api.openapi import operation
from app.api.scripts import script_json
from app.programmes import service
from app.programmes.mix import mix_offsets
from app.speech.service import latest_done_render


def _mix_json(render) -> dict | None:
    """A finished mix: its audio, measures and each item's place in it."""
    if render is None:
        return None
    return {
        "render": render.id,
        "version_id": render.version_id,
        "sha256": render.audio_sha256,
        "format": render.audio_format,
        "duration_s": render.duration_s,
        "integrated_lufs": render.integrated_lufs,
        "true_peak_dbtp": render.true_peak_dbtp,
        "url": url_for("api.render_audio", render_id=render.id),
        "items": [
            {"position": o["position"], "start_s": o["start_s"], "end_s": o["end_s"]}
            for o in mix_offsets(render)
        ],
    }


def programme_json(script) -> dict:
    """A programme: the script's fields, the current version's rundown, its mix, the approval."""
    settings = service.version_settings(script.current_version_id)
    data = script_json(script, with_body=False)
    session = service.find_session(settings.station, settings.session_name) if settings else None
    items = settings.items if settings else []
    data["programme"] = {
        "rundown_sha256": settings.rundown_sha256 if settings else None,
        "total_s": settings.total_s if settings else 0.0,
        "station": settings.station.code if settings and settings.station else None,
        "session": settings.session_name if settings and settings.session_name else None,
        "session_length_s": service.session_length_s(session) if session else None,
        "bed": (
            {
                "library_item": settings.bed_item_id,
                "title": settings.bed.title,
                "sha256": settings.bed_sha256,
            }
            if settings and settings.bed_item_id
            else None
        ),
        "duck_db": settings.duck_db if settings else None,
        "items": [
            {
                "position": item.position,
                "kind": item.kind.value,
                "title": item.title,
                "script": item.script_id,
                "render": item.render_id,
                "library_item": item.library_item_id,
                "audio_sha256": item.audio_sha256,
                "duration_s": item.duration_s,
                "start_s": start,
                "gap_ms": item.gap_ms,
                "crossfade_ms": item.crossfade_ms,
            }
            for item, start in zip(items, service.start_offsets(items), strict=True)
        ],
    }
    data["mix"] = _mix_json(latest_done_render(script))
    data["approved_mix"] = _mix_json(script.approved_render) if script.approved_render else None
    return data


@bp.get("/programmes/<int:script_id>")
@operation()
def get_programme(script_id: int):
    """One programme: its current rundown with each item's start, its mix and approved mix."""
    return programme_json(service.get_programme(current_user, script_id))
