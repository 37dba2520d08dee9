"""Recorded spots: a person's recording of a script version, mastered and kept as a Render."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO

from flask import current_app

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, require, require_scope
from app.core import clock
from app.core.errors import DomainError, ValidationError
from app.extensions import db
from app.scripts.models import Script, ScriptStatus
from app.speech import service as speech
from app.speech.audio import AssemblySettings, AudioError, AudioToolMissing
from app.speech.ingest import ACCEPTED_FORMATS, ingest_audio
from app.speech.models import Render, RenderStatus
from app.speech.pipeline import sha256_file, sha256_text

ENGINE = "recording"
SOURCES = ("upload", "browser")
ORIGINALS = "recordings/originals"
MB = 1024 * 1024
_SUFFIX = re.compile(r"^[a-z0-9]{1,5}$")
_MEASURES = ("duration_s", "integrated_lufs", "true_peak_dbtp", "sample_rate", "bitrate_kbps")
_MEASURES += ("audio_sha256",)


class RecordingRefused(ValidationError):
    """A recording Loa does not take; `code` says why, the message says what to do."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message, {"file": message})
        self.code = code
        self.status = status


class AudioUnavailable(DomainError):
    """ffmpeg is missing or failed: the server cannot process audio right now."""

    status = 503
    code = "audio_unavailable"


def max_bytes() -> int:
    """The largest recording upload (RECORDING_MAX_MB)."""
    return int(float(current_app.config.get("RECORDING_MAX_MB", 100)) * MB)


def request_limit() -> int:
    """The request body limit of the recording routes: the file plus room for the form."""
    return max_bytes() + 64 * 1024


def size_text(size: float) -> str:
    """A size as the officer reads it: '100 MB', or '30 KB' under a megabyte."""
    return f"{size / MB:.0f} MB" if size >= MB else f"{max(1, round(size / 1024))} KB"


def too_large(size: int | None = None) -> RecordingRefused:
    """The refusal of an upload over RECORDING_MAX_MB."""
    said = f" ({size_text(size)})" if size else ""
    return RecordingRefused(
        "file_too_large",
        f"Tệp ghi âm quá lớn{said}: tối đa {size_text(max_bytes())}. Không có gì được lưu; "
        "hãy nén lại (ví dụ MP3 hoặc M4A) hoặc cắt ngắn bản ghi.",
        413,
    )


def recording_facts(render: Render) -> dict | None:
    """What a recording render keeps about its original, or None for a synthesised render."""
    if render.engine != ENGINE:
        return None
    return dict((render.settings or {}).get("recording") or {})


def mastering_settings(script: Script) -> tuple[AssemblySettings, object]:
    """The script's default station and its loudness targets; no chime or repeat is added."""
    station = speech.default_station(script)
    base: dict = {"chime": False, "repeats": 1}
    if station is not None:
        base |= {"target_lufs": station.target_lufs, "true_peak_db": station.true_peak_db}
    return AssemblySettings.from_dict(base), station


def _check_script(script: Script) -> None:
    """A recording is taken for a draft, rejected or approved script, as renders are."""
    if script.status == ScriptStatus.ARCHIVED:
        raise ValidationError("Kịch bản đã lưu trữ, không thêm bản ghi âm được nữa.")
    if script.is_programme:
        raise ValidationError("Chương trình phát thanh không nhận bản ghi âm; hãy thêm mục.")
    if script.status == ScriptStatus.SUBMITTED:
        raise ValidationError(
            "Kịch bản đang chờ duyệt: âm thanh gửi duyệt không được thay đổi. "
            "Hãy đợi người duyệt quyết định."
        )


def _suffix(name: str) -> str:
    """The original's file suffix for its stored copy (only short alphanumerics)."""
    suffix = Path(name).suffix.lower().lstrip(".")
    return suffix if _SUFFIX.match(suffix) else "audio"


def _copy(stream: IO[bytes], out: IO[bytes]) -> int:
    """Copy a stream in blocks, refusing it as soon as it passes RECORDING_MAX_MB."""
    limit = max_bytes()
    size = 0
    for block in iter(lambda: stream.read(1 << 20), b""):
        size += len(block)
        if size > limit:
            raise too_large()
        out.write(block)
    return size


def _receive(upload: IO[bytes] | Path | str, folder: Path) -> tuple[Path, int]:
    """Copy the upload into a hidden temporary file under AUDIO_DIR (the orphan sweep skips
    hidden files) and return it with its size."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".loa-recording-", suffix=".upload")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(upload, str | Path):
                with Path(upload).open("rb") as stream:
                    size = _copy(stream, out)
            else:
                size = _copy(getattr(upload, "stream", upload), out)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size


def _upload_name(upload: IO[bytes] | Path | str) -> str:
    """The file name the user gave (a FileStorage's filename, or the path's name)."""
    if isinstance(upload, str | Path):
        return Path(upload).name
    return os.path.basename(getattr(upload, "filename", "") or "")[:200]


def add_recording(
    actor: User, script: Script, upload: IO[bytes] | Path | str, *, source: str = "upload"
) -> Render:
    """Master a recording of the current version and keep it as a finished render.

    Nothing is stored when anything fails: no render row, no mastered file, no original.
    """
    require(actor, Permission.SCRIPT_EDIT)
    require_scope(actor, script.unit, "Kịch bản")
    _check_script(script)
    if source not in SOURCES:
        raise ValidationError("Nguồn bản ghi không hợp lệ.", {"source": "upload hoặc browser."})
    name = _upload_name(upload)
    root = speech.audio_dir()
    created: list[Path] = []
    received, size = _receive(upload, root)
    try:
        render = _store(actor, script, received, name, size, source, created)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in created:
            path.unlink(missing_ok=True)
        raise
    finally:
        received.unlink(missing_ok=True)
    return render


def _store(
    actor: User,
    script: Script,
    received: Path,
    name: str,
    size: int,
    source: str,
    created: list[Path],
) -> Render:
    """Ingest the received file and add its render row (the caller commits or cleans up)."""
    if size == 0:
        raise RecordingRefused("empty_file", f"Tệp “{name}” trống (0 byte). Không có gì được lưu.")
    settings, station = mastering_settings(script)
    original_sha = sha256_file(received)
    key = sha256_text(
        json.dumps(
            {"engine": ENGINE, "original_sha256": original_sha, "settings": settings.as_dict()},
            sort_keys=True,
        )
    )
    relative = f"{key[:2]}/{key}.{settings.format}"
    root = speech.audio_dir()
    version = script.current_version
    reused = _reusable(key)
    if reused is not None:
        facts = recording_facts(reused) or {}
        measures = {field: getattr(reused, field) for field in _MEASURES}
        warnings = list(reused.warnings or [])
        relative = reused.audio_path
    else:
        out_path = root / relative
        existed = out_path.exists()
        try:
            ingested = ingest_audio(
                received,
                out_path,
                settings,
                name=name,
                max_seconds=float(current_app.config.get("RECORDING_MAX_SECONDS", 1800)),
                config=current_app.config,
            )
        except AudioToolMissing as exc:
            raise AudioUnavailable(exc.message) from exc
        except AudioError as exc:
            code = type(exc).__name__
            codes = {"NotAudio": "not_audio", "TooLong": "too_long", "SilentAudio": "silent"}
            if code not in codes:
                raise RecordingRefused(
                    "audio_failed", f"Không xử lý được bản ghi: {exc.message} Không có gì được lưu."
                ) from exc
            raise RecordingRefused(codes[code], f"{exc.message} Không có gì được lưu.") from exc
        if not existed:
            created.append(out_path)
        m = ingested.measurement
        facts = {
            "original_sha256": original_sha,
            "original_name": name,
            "original_size": size,
            "codec": ingested.original["codec"],
            "sample_rate": ingested.original["sample_rate"],
            "channels": ingested.original["channels"],
            "original_duration_s": ingested.original["duration_s"],
            "original_lufs": ingested.original["integrated_lufs"],
            "original_true_peak_dbtp": ingested.original["true_peak_dbtp"],
            "trimmed_lead_s": ingested.trimmed_lead_s,
            "trimmed_tail_s": ingested.trimmed_tail_s,
        }
        measures = {
            "duration_s": round(m.duration_s, 3),
            "integrated_lufs": round(m.integrated_lufs, 2),
            "true_peak_dbtp": round(m.true_peak_dbtp, 2),
            "sample_rate": m.sample_rate,
            "bitrate_kbps": m.bitrate_kbps,
            "audio_sha256": sha256_file(out_path),
        }
        warnings = [{"code": "recording", "message": w} for w in ingested.warnings]
    facts["source"] = source
    facts["original_name"] = name
    facts["original_path"] = _keep_original(received, original_sha, name, created)
    now = clock.now()
    render = Render(
        script_id=script.id,
        version_id=script.current_version_id,
        station_id=station.id if station else None,
        status=RenderStatus.DONE,
        progress=1.0,
        cache_key=key,
        cached=reused is not None,
        spoken_text=version.body,
        spoken_sha256=sha256_text(version.body),
        manual_spoken=False,
        warnings=warnings,
        intro_text="",
        engine_requested=ENGINE,
        allow_fallback=False,
        engine=ENGINE,
        voice="",
        speed=100,
        settings=settings.as_dict() | {"recording": facts},
        audio_path=relative,
        audio_format=settings.format,
        requested_by_id=actor.id,
        created_at=now,
        started_at=now,
        finished_at=now,
        **measures,
    )
    db.session.add(render)
    db.session.flush()
    record_event(
        "script.recording",
        "script",
        script.id,
        f"Tải bản ghi âm “{name or 'ghi từ micrô'}” cho “{script.title}” phiên bản "
        f"{script.version_number}",
        actor=actor,
        unit_id=script.unit_id,
        details={
            "render": render.id,
            "source": source,
            "original_sha256": original_sha,
            "audio_sha256": render.audio_sha256,
            "duration_s": render.duration_s,
            "warnings": [w["message"] for w in warnings],
        },
    )
    approved = script.approved_render
    if approved is not None and approved.cache_key != key:
        speech._reopen_if_approved(actor, script, "có bản ghi âm mới")
    return render


def _reusable(key: str) -> Render | None:
    """A recording render with the same original and settings whose file is intact."""
    found = speech._reusable(key)
    if found is None or not speech.verify_audio(found):
        return None
    return found


def _keep_original(received: Path, sha256: str, name: str, created: list[Path]) -> str:
    """Keep the upload as recordings/originals/<sha256>.<suffix> so it can be re-mastered."""
    relative = f"{ORIGINALS}/{sha256}.{_suffix(name)}"
    target = speech.audio_dir() / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        shutil.copyfile(received, partial)
        os.replace(partial, target)
        created.append(target)
    return relative


def original_paths() -> set[str]:
    """Paths (relative to AUDIO_DIR) of the originals that recording renders keep."""
    rows = db.session.execute(db.select(Render.settings).where(Render.engine == ENGINE)).scalars()
    return {
        (s.get("recording") or {}).get("original_path", "") for s in rows if isinstance(s, dict)
    } - {""}


def accepted_formats() -> str:
    """The formats a recording may come in, for forms and messages."""
    return ACCEPTED_FORMATS
