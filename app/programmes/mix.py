"""A programme's audio: its items in order with gaps or cross-fades, a ducked bed, mastered."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, require, require_scope
from app.core import clock
from app.core.errors import NotFound, ValidationError
from app.extensions import db
from app.library.models import LibraryItem
from app.library.service import audio_path as library_audio_path
from app.programmes.models import ENGINE, ProgrammeVersion
from app.programmes.service import version_settings
from app.scripts.models import Script, ScriptStatus
from app.speech import service as speech
from app.speech.audio import (
    AssemblySettings,
    AudioError,
    AudioSegment,
    AudioToolMissing,
    Measurement,
    decode_audio,
    master,
)
from app.speech.models import Render, RenderStatus
from app.speech.pipeline import sha256_file, sha256_text

if TYPE_CHECKING:
    import numpy as np

# Bumped when the mix itself changes, so a new mix is made instead of reusing an old file.
MIX_REVISION = 1
# The mix is summed 3 dB below full scale so a ducked bed under loud speech never clips;
# master() sets the final loudness anyway.
HEADROOM = 10 ** (-3 / 20)
# The bed glides down and up over this long around each item.
DUCK_RAMP_S = 0.3
_ENVELOPE_HOP_S = 0.01
_CHUNK_S = 30


class MixRefused(Exception):
    """An item's audio is gone or changed since the rundown was saved."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Part:
    """One item to mix: its file, its length as saved in the rundown, and what follows it."""

    path: Path
    duration_s: float
    gap_ms: int = 0
    crossfade_ms: int = 0


def _samples(path: Path, rate: int, config: Mapping | None) -> np.ndarray:
    """A file decoded to 16-bit mono at rate, as an int16 array (no copy of the PCM)."""
    import numpy as np  # only the render worker mixes: the web app does without it

    segment = decode_audio(path, sample_rate=rate, config=config)
    return np.frombuffer(segment.raw_data, dtype=np.int16)


def _fit(track: np.ndarray, length: int) -> np.ndarray:
    """A decoded item cut or padded to its saved length.

    Decoding an MP3 can give a few milliseconds more or less than the length measured when
    it was made; the mix keeps the saved lengths so the total the writer saw (and the session
    check) is what airs. The difference falls in the item's trailing silence.
    """
    import numpy as np  # only the render worker mixes: the web app does without it

    if len(track) >= length:
        return track[:length]
    return np.concatenate([track, np.zeros(length - len(track), dtype=np.int16)])


def _bed_envelope(total: int, spans: list[tuple[int, int]], duck_db: float, rate: int):
    """Bed gain at every _ENVELOPE_HOP_S: 1 in gaps, lowered by duck_db under items, ramped."""
    import numpy as np  # only the render worker mixes: the web app does without it

    hop = max(1, int(rate * _ENVELOPE_HOP_S))
    frames = total // hop + 2
    gains = np.ones(frames, dtype=np.float32)
    low = np.float32(10 ** (-duck_db / 20))
    for start, end in spans:
        gains[start // hop : end // hop + 1] = low
    width = max(1, int(DUCK_RAMP_S / _ENVELOPE_HOP_S))
    padded = np.concatenate([np.full(width, gains[0]), gains, np.full(width, gains[-1])])
    smooth = np.convolve(padded, np.ones(width, dtype=np.float32) / width, mode="same")
    return np.arange(frames, dtype=np.float64) * hop, smooth[width:-width]


def layout(parts: list[Part], rate: int) -> list[tuple[int, int]]:
    """Each part's (first, end) sample in the mix: the previous end plus the gap, minus the
    cross-fade."""
    spans, cursor = [], 0
    for i, part in enumerate(parts):
        if i:
            previous = parts[i - 1]
            cursor += round(rate * previous.gap_ms / 1000) - round(
                rate * previous.crossfade_ms / 1000
            )
        start = max(0, cursor)
        spans.append((start, start + round(part.duration_s * rate)))
        cursor = spans[-1][1]
    return spans


def mix_parts(
    parts: list[Part],
    bed: Path | None,
    duck_db: float,
    settings: AssemblySettings,
    out_path: Path,
    *,
    config: Mapping | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[Measurement, list[tuple[float, float]]]:
    """Mix the parts (and the bed under them), master the mix to out_path, measure it.

    Items are decoded one at a time into the mix, so memory holds the mix and one item.
    Returns the measurement and each part's (start_s, end_s) in the mix.
    """
    import numpy as np  # only the render worker mixes: the web app does without it

    rate = settings.sample_rate
    progress = on_progress or (lambda fraction: None)
    spans = layout(parts, rate)
    total = max(end for _, end in spans)
    out = np.zeros(total, dtype=np.int16)
    for i, part in enumerate(parts):
        start, end = spans[i]
        track = _fit(_samples(part.path, rate, config), end - start)
        overlap = 0
        if i:
            overlap = min(spans[i - 1][1] - start, len(track))
        if overlap > 0:
            # Linear fades: the previous item's tail out, this item's head in.
            ramp = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
            tail = out[start : start + overlap].astype(np.float32)
            head = track[:overlap].astype(np.float32) * HEADROOM
            out[start : start + overlap] = np.clip(
                tail * (1 - ramp) + head * ramp, -32768, 32767
            ).astype(np.int16)
        else:
            overlap = 0
        out[start + overlap : end] = (track[overlap:].astype(np.float32) * HEADROOM).astype(
            np.int16
        )
        del track  # one item's PCM at a time
        progress(0.05 + 0.25 * (i + 1) / len(parts))
    progress(0.3)
    if bed is not None:
        loop = _samples(bed, rate, config)
        if len(loop):
            positions, envelope = _bed_envelope(total, spans, duck_db, rate)
            step = rate * _CHUNK_S
            for begin in range(0, total, step):
                index = np.arange(begin, min(total, begin + step))
                gain = np.interp(index, positions, envelope).astype(np.float32)
                under = loop[index % len(loop)].astype(np.float32) * HEADROOM * gain
                mixed = out[index[0] : index[-1] + 1].astype(np.float32) + under
                out[index[0] : index[-1] + 1] = np.clip(mixed, -32768, 32767).astype(np.int16)
    progress(0.4)
    segment = AudioSegment(memoryview(out).cast("B"), sample_width=2, frame_rate=rate, channels=1)
    measurement = master(segment, out_path, settings, config=config)
    progress(1.0)
    return measurement, [(s / rate, e / rate) for s, e in spans]


# --- Requesting and running a mix ------------------------------------------------------------


def mastering_settings(
    script: Script, settings: ProgrammeVersion
) -> tuple[AssemblySettings, object]:
    """The station the programme is for (or the script's default station) and its loudness."""
    station = settings.station or speech.default_station(script)
    base: dict = {"chime": False, "repeats": 1}
    if station is not None:
        base |= {"target_lufs": station.target_lufs, "true_peak_db": station.true_peak_db}
    return AssemblySettings.from_dict(base), station


def mix_key(settings: ProgrammeVersion, assembly: AssemblySettings) -> str:
    """The cache key of a mix: the exact rundown, the mastering settings, the mix revision."""
    data = {
        "engine": ENGINE,
        "rundown_sha256": settings.rundown_sha256,
        "settings": assembly.as_dict(),
        "mix": MIX_REVISION,
    }
    return sha256_text(json.dumps(data, sort_keys=True))


def request_mix(actor: User, script: Script) -> Render:
    """Queue the mix of the programme's current version (or reuse an identical finished one)."""
    require(actor, Permission.SPEECH_RENDER)
    require_scope(actor, script.unit, "Chương trình")
    if not script.is_programme:
        raise NotFound("Không tìm thấy chương trình.")
    if script.status == ScriptStatus.ARCHIVED:
        raise ValidationError("Chương trình đã lưu trữ, không tạo âm thanh được nữa.")
    if script.status == ScriptStatus.SUBMITTED:
        raise ValidationError(
            "Chương trình đang chờ duyệt: âm thanh gửi duyệt không được thay đổi. "
            "Hãy đợi người duyệt quyết định."
        )
    if script.status == ScriptStatus.APPROVED:
        # The approved mix is what airs and what the page shows; a different one needs a new
        # version (and a new approval), never a second mix beside the approved one.
        raise ValidationError(
            "Chương trình đã được duyệt cùng bản trộn này. Muốn trộn lại (ví dụ khi đổi độ to "
            "của đài), hãy sửa danh sách mục để có phiên bản mới, rồi gửi duyệt lại."
        )
    settings = version_settings(script.current_version_id)
    if settings is None or not settings.items:
        raise ValidationError("Chương trình chưa có mục nào để tạo âm thanh.")
    assembly, station = mastering_settings(script, settings)
    key = mix_key(settings, assembly)
    body = script.current_version.body
    now = clock.now()
    render = Render(
        script_id=script.id,
        version_id=script.current_version_id,
        station_id=station.id if station else None,
        status=RenderStatus.QUEUED,
        cache_key=key,
        spoken_text=body,
        spoken_sha256=sha256_text(body),
        manual_spoken=False,
        warnings=[],
        intro_text="",
        engine_requested=ENGINE,
        allow_fallback=False,
        voice="",
        speed=100,
        settings=assembly.as_dict(),
        requested_by_id=actor.id,
        created_at=now,
    )
    cached = speech._reusable(key)
    if cached is not None and speech.verify_audio(cached):
        speech._copy_result(render, cached)
        render.settings = dict(cached.settings)
        render.cached = True
        render.started_at = render.finished_at = now
    db.session.add(render)
    db.session.flush()
    record_event(
        "programme.mix",
        "script",
        script.id,
        f"Tạo âm thanh chương trình “{script.title}” phiên bản {script.version_number}"
        + (" (dùng lại tệp đã có)" if render.cached else ""),
        actor=actor,
        unit_id=script.unit_id,
        details={"render": render.id, "rundown_sha256": settings.rundown_sha256},
    )
    db.session.commit()
    return render


def _parts(settings: ProgrammeVersion) -> tuple[list[Part], Path | None]:
    """The files of the rundown, each checked against the sha256 it was saved with."""
    parts = []
    for item in settings.items:
        if item.render_id:
            source = db.session.get(Render, item.render_id)
            path = speech.audio_dir() / source.audio_path
        else:
            path = library_audio_path(db.session.get(LibraryItem, item.library_item_id))
        if not path.is_file() or sha256_file(path) != item.audio_sha256:
            raise MixRefused(
                f"Âm thanh của mục {item.position} “{item.title}” không còn nguyên như khi soạn "
                "chương trình; hãy sửa danh sách mục."
            )
        parts.append(Part(path, item.duration_s, item.gap_ms, item.crossfade_ms))
    bed = None
    if settings.bed_item_id:
        bed = library_audio_path(settings.bed)
        if not bed.is_file() or sha256_file(bed) != settings.bed_sha256:
            raise MixRefused(f"Tệp nhạc nền “{settings.bed.title}” không còn nguyên trên máy chủ.")
    return parts, bed


def run_programme_render(render: Render) -> Render:
    """Mix a claimed programme render (called by the render worker); failures are recorded."""
    render_id = render.id
    key = render.cache_key
    known = {f.name for f in fields(AssemblySettings)}
    assembly = AssemblySettings.from_dict({k: v for k, v in render.settings.items() if k in known})
    relative = f"{key[:2]}/{key}.{assembly.format}"
    settings = version_settings(render.version_id)
    last = [0.0]

    def progress(fraction: float) -> None:
        if fraction - last[0] >= speech.PROGRESS_STEP or fraction >= 1.0:
            last[0] = fraction
            speech._save_progress(render_id, fraction)

    try:
        if settings is None:
            raise MixRefused("Phiên bản này không có danh sách mục của chương trình.")
        parts, bed = _parts(settings)
        items = [(i.position, i.title, i.kind.value) for i in settings.items]
        duck = settings.duck_db
        measured, spans = mix_parts(
            parts,
            bed,
            duck,
            assembly,
            speech.audio_dir() / relative,
            config=current_app.config,
            on_progress=progress,
        )
    except MixRefused as exc:
        return speech._finish_failed(render_id, exc.message)
    except (AudioToolMissing, AudioError) as exc:
        return speech._finish_failed(render_id, exc.message)
    except Exception as exc:  # a job must never die silently
        current_app.logger.exception("programme mix %s failed", render_id)
        return speech._finish_failed(render_id, f"Lỗi không mong đợi khi tạo âm thanh: {exc}")
    render = db.session.get(Render, render_id)
    render.status = RenderStatus.DONE
    render.progress = 1.0
    render.engine = ENGINE
    render.audio_path = relative
    render.audio_sha256 = sha256_file(speech.audio_dir() / relative)
    render.audio_format = assembly.format
    render.duration_s = round(measured.duration_s, 3)
    render.integrated_lufs = round(measured.integrated_lufs, 2)
    render.true_peak_dbtp = round(measured.true_peak_dbtp, 2)
    render.sample_rate = measured.sample_rate
    render.bitrate_kbps = measured.bitrate_kbps
    render.settings = assembly.as_dict() | {
        "programme": {
            "rundown_sha256": settings.rundown_sha256,
            "bed_sha256": settings.bed_sha256,
            "duck_db": duck,
            "items": [
                {
                    "position": position,
                    "title": title,
                    "kind": kind,
                    "start_s": round(start, 3),
                    "end_s": round(end, 3),
                }
                for (position, title, kind), (start, end) in zip(items, spans, strict=True)
            ],
        }
    }
    render.finished_at = clock.now()
    db.session.commit()
    return render


def mix_offsets(render: Render | None) -> list[dict]:
    """Each item's start and end in a finished mix, as kept in Render.settings."""
    if render is None or render.engine != ENGINE:
        return []
    return list(((render.settings or {}).get("programme") or {}).get("items") or [])


def is_finite(value: float | None) -> bool:
    """A measure that can be shown (silence measures -inf)."""
    return value is not None and math.isfinite(value)
