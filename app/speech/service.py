"""Speech rules: the lexicon, what a version will sound like, render requests and their jobs."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, can, in_scope, require, require_scope
from app.core import clock
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.core.text import nfc
from app.extensions import db
from app.org.models import Station, Unit
from app.scripts.models import Script, ScriptStatus, ScriptVersion
from app.speech.audio import AssemblySettings, AudioError, AudioToolMissing
from app.speech.engines import ENGINES, EngineError, get_engine
from app.speech.lexicon_seed import SEED_LEXICON
from app.speech.models import LexiconEntry, Render, RenderStatus, SpokenOverride
from app.speech.normalizer import Normalized, ReadingOptions, normalize
from app.speech.pipeline import (
    RenderOptions,
    check_speed,
    produce_audio,
    sha256_file,
    sha256_text,
)

MAX_TERM_CHARS = 100
MAX_SPOKEN_CHARS = 400
MAX_OVERRIDE_CHARS = 40_000
INTRO_MAX = 300  # characters of the intro line, as typed and as read (Render.intro_text)
PROGRESS_STEP = 0.05
_DIGIT_RUN = re.compile(r"[0-9]+")


# --- Reading options and the lexicon ---------------------------------------------------------


def _ancestors(unit: Unit) -> list[Unit]:
    """The unit's chain from the root down to the unit itself."""
    ids = [int(part) for part in unit.path.strip("/").split("/") if part]
    if not ids:
        return [unit]
    found = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def reading_options_for(unit: Unit) -> ReadingOptions:
    """Regional reading choices: the nearest unit that set a choice decides it."""
    merged: dict = {}
    for u in _ancestors(unit):
        merged.update(u.reading_options or {})
    return ReadingOptions.from_dict(merged)


def set_reading_options(actor: User, unit: Unit, choices: dict[str, str]) -> Unit:
    """Save a unit's regional reading choices; an empty choice inherits from the parent."""
    require(actor, Permission.LEXICON_EDIT)
    require_scope(actor, unit, "Đơn vị")
    cleaned = {k: v for k, v in choices.items() if v}
    try:
        ReadingOptions.from_dict(cleaned)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    before = dict(unit.reading_options or {})
    if before == cleaned:
        return unit
    unit.reading_options = cleaned
    record_event(
        "unit.reading_options",
        "unit",
        unit.id,
        f"Đổi cách đọc của “{unit.name}”",
        actor=actor,
        unit_id=unit.id,
        details={"before": before, "after": cleaned},
    )
    db.session.commit()
    return unit


def lexicon_for(unit: Unit | None) -> dict[str, str]:
    """Seed terms, then global entries, then entries of the unit's chain (nearest wins)."""
    lexicon = dict(SEED_LEXICON)
    chain = _ancestors(unit) if unit is not None else []
    order = {None: -1} | {u.id: i for i, u in enumerate(chain)}
    entries = db.session.scalars(
        select(LexiconEntry).where(
            LexiconEntry.unit_id.is_(None) | LexiconEntry.unit_id.in_([u.id for u in chain])
        )
    ).all()
    for entry in sorted(entries, key=lambda e: order[e.unit_id]):
        lexicon[entry.term] = entry.spoken
    return lexicon


def normalize_for(unit: Unit | None, text: str) -> Normalized:
    """Normalise text the way it will be read for this unit."""
    options = reading_options_for(unit) if unit is not None else ReadingOptions()
    lexicon = tuple(sorted(lexicon_for(unit).items()))
    return _normalize_cached(nfc(text), lexicon, options)


@lru_cache(maxsize=128)
def _normalize_cached(
    text: str, lexicon: tuple[tuple[str, str], ...], options: ReadingOptions
) -> Normalized:
    """The normaliser is pure: the same text, lexicon and options give the same reading.

    Pages, submissions and cached renders all ask for the current version's reading; keeping
    the last ones spares normalising a 20,000-character body again on every request.
    """
    return normalize(text, dict(lexicon), options)


@dataclass
class LexiconInput:
    """A lexicon entry as submitted from a form, the API or the command line."""

    term: str
    spoken: str
    note: str = ""
    unit: Unit | None = None


def _clean_entry(data: LexiconInput) -> LexiconInput:
    """Trim and check an entry; collect every problem at once."""
    term = nfc(data.term or "").strip()
    spoken = " ".join(nfc(data.spoken or "").split())
    note = nfc(data.note or "").strip()
    errors = {}
    if not term:
        errors["term"] = "Bắt buộc."
    elif len(term) > MAX_TERM_CHARS:
        errors["term"] = f"Tối đa {MAX_TERM_CHARS} ký tự."
    if not spoken:
        errors["spoken"] = "Bắt buộc: ghi cách đọc bằng chữ."
    elif len(spoken) > MAX_SPOKEN_CHARS:
        errors["spoken"] = f"Tối đa {MAX_SPOKEN_CHARS} ký tự."
    elif any(ch.isdigit() for ch in spoken):
        errors["spoken"] = "Cách đọc phải viết bằng chữ, không dùng chữ số."
    if len(note) > 300:
        errors["note"] = "Tối đa 300 ký tự."
    if errors:
        raise ValidationError("Mục từ điển chưa hợp lệ; hãy sửa các ô được đánh dấu.", errors)
    return LexiconInput(term, spoken, note, data.unit)


def check_entry_scope(actor: User, unit: Unit | None) -> None:
    """Global entries belong to admins; unit entries to supervisors of that subtree."""
    require(actor, Permission.LEXICON_EDIT)
    if unit is None:
        if not can(actor, Permission.ADMIN):
            raise PermissionDenied("Chỉ quản trị viên mới sửa được mục từ điển dùng chung.")
    elif not in_scope(actor, unit):
        raise PermissionDenied("Đơn vị này nằm ngoài phạm vi của bạn.")


def _duplicate(term: str, unit: Unit | None, exclude_id: int | None = None) -> bool:
    """Tell whether the unit (or the global list) already has the term."""
    query = select(LexiconEntry.id).where(LexiconEntry.term == term)
    query = query.where(
        LexiconEntry.unit_id.is_(None) if unit is None else LexiconEntry.unit_id == unit.id
    )
    if exclude_id is not None:
        query = query.where(LexiconEntry.id != exclude_id)
    return db.session.scalar(query) is not None


def create_lexicon_entry(actor: User, data: LexiconInput) -> LexiconEntry:
    """Add a reading for a term; it applies to previews at once."""
    data = _clean_entry(data)
    check_entry_scope(actor, data.unit)
    if _duplicate(data.term, data.unit):
        raise ValidationError(
            f"“{data.term}” đã có trong từ điển của đơn vị này; hãy sửa mục đó.",
            {"term": "Đã có."},
        )
    now = clock.now()
    entry = LexiconEntry(
        unit_id=data.unit.id if data.unit else None,
        term=data.term,
        spoken=data.spoken,
        note=data.note,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    record_event(
        "lexicon.create",
        "lexicon",
        entry.id,
        f"Thêm “{entry.term}” → “{entry.spoken}” vào từ điển phát âm",
        actor=actor,
        unit_id=entry.unit_id,
        details={"term": entry.term, "spoken": entry.spoken},
    )
    db.session.commit()
    return entry


def update_lexicon_entry(actor: User, entry: LexiconEntry, data: LexiconInput) -> LexiconEntry:
    """Change a term's reading."""
    check_entry_scope(actor, entry.unit)
    data = _clean_entry(LexiconInput(data.term, data.spoken, data.note, entry.unit))
    if _duplicate(data.term, entry.unit, exclude_id=entry.id):
        raise ValidationError(f"“{data.term}” đã có trong từ điển.", {"term": "Đã có."})
    before = {"term": entry.term, "spoken": entry.spoken, "note": entry.note}
    entry.term, entry.spoken, entry.note = data.term, data.spoken, data.note
    entry.updated_at = clock.now()
    record_event(
        "lexicon.update",
        "lexicon",
        entry.id,
        f"Sửa mục từ điển “{entry.term}” → “{entry.spoken}”",
        actor=actor,
        unit_id=entry.unit_id,
        details={"before": before, "after": {"term": entry.term, "spoken": entry.spoken}},
    )
    db.session.commit()
    return entry


def delete_lexicon_entry(actor: User, entry: LexiconEntry) -> None:
    """Remove a term's reading; the seed reading, if any, applies again."""
    check_entry_scope(actor, entry.unit)
    record_event(
        "lexicon.delete",
        "lexicon",
        entry.id,
        f"Xóa mục từ điển “{entry.term}”",
        actor=actor,
        unit_id=entry.unit_id,
        details={"term": entry.term, "spoken": entry.spoken},
    )
    db.session.delete(entry)
    db.session.commit()


def get_lexicon_entry(actor: User, entry_id: int) -> LexiconEntry:
    """Load an entry the actor may see."""
    entry = db.session.get(LexiconEntry, entry_id)
    if entry is None or (entry.unit is not None and not in_scope(actor, entry.unit)):
        raise NotFound("Mục từ điển không tồn tại hoặc nằm ngoài phạm vi của bạn.")
    return entry


def lexicon_entries(actor: User, search: str = "") -> list[LexiconEntry]:
    """Global entries and those of the actor's subtree, by term."""
    query = (
        select(LexiconEntry)
        .outerjoin(Unit, Unit.id == LexiconEntry.unit_id)
        .where(LexiconEntry.unit_id.is_(None) | Unit.path.startswith(actor.unit.path))
        .order_by(LexiconEntry.term, LexiconEntry.id)
    )
    if search:
        query = query.where(LexiconEntry.term.contains(search, autoescape=True))
    return list(db.session.scalars(query))


# --- What a version will sound like ----------------------------------------------------------


@dataclass
class Spoken:
    """The text an engine will read for a version, and where it came from."""

    text: str
    sha256: str
    manual: bool
    normalized: Normalized | None = None
    override: SpokenOverride | None = None
    warnings: list[dict] = field(default_factory=list)


def latest_override(version: ScriptVersion) -> SpokenOverride | None:
    """The newest hand-typed spoken text of a version, if it still applies."""
    override = db.session.scalar(
        select(SpokenOverride)
        .where(SpokenOverride.version_id == version.id)
        .order_by(SpokenOverride.id.desc())
        .limit(1)
    )
    return override if override is not None and override.text else None


def spoken_for(script: Script, version: ScriptVersion | None = None) -> Spoken:
    """The spoken text of a version: the writer's override, or the normaliser's reading."""
    version = version or script.current_version
    normalized = normalize_for(script.unit, version.body)
    override = latest_override(version)
    warnings = [asdict(w) for w in normalized.warnings]
    if override is not None:
        # A reading typed before digits were refused still tells the writer about them.
        digits = [
            {
                "start": m.start(),
                "end": m.end(),
                "token": m.group(),
                "code": "unread_digits",
                "message": f"Văn bản đọc sửa tay còn chữ số “{m.group()}”: hãy viết ra bằng chữ.",
            }
            for m in _DIGIT_RUN.finditer(override.text)
        ]
        return Spoken(override.text, override.sha256, True, normalized, override, digits)
    return Spoken(
        normalized.spoken, sha256_text(normalized.spoken), False, normalized, None, warnings
    )


def _reopen_if_approved(actor: User, script: Script, why: str) -> None:
    """A change of what listeners hear sends an approved script back to draft."""
    if script.status != ScriptStatus.APPROVED:
        return
    script.status = ScriptStatus.DRAFT
    script.updated_at = clock.now()
    record_event(
        "script.reopen",
        "script",
        script.id,
        f"“{script.title}” cần duyệt lại: {why}",
        actor=actor,
        unit_id=script.unit_id,
        details={"reason": why},
    )


def set_spoken_override(actor: User, script: Script, text: str) -> SpokenOverride:
    """Keep a hand-typed spoken text with the current version; empty text withdraws it."""
    require(actor, Permission.SCRIPT_EDIT)
    require_scope(actor, script.unit, "Kịch bản")
    if script.status in {ScriptStatus.ARCHIVED, ScriptStatus.SUBMITTED}:
        raise ValidationError(
            f"Không sửa được văn bản đọc khi kịch bản đang “{script.status.label}”."
        )
    text = " ".join(nfc(text or "").split())
    if len(text) > MAX_OVERRIDE_CHARS:
        raise ValidationError(
            f"Văn bản đọc tối đa {MAX_OVERRIDE_CHARS:,} ký tự.".replace(",", "."),
            {"spoken": "Quá dài."},
        )
    digits = _DIGIT_RUN.search(text)
    if digits:
        # The voice would guess at them; the point of a hand-typed reading is exact words.
        raise ValidationError(
            "Văn bản đọc sửa tay phải viết số bằng chữ, không dùng chữ số.",
            {"spoken": f"Còn chữ số: “{digits.group()}”."},
        )
    version = script.current_version
    current = spoken_for(script, version)
    if text == (current.text if current.manual else ""):
        raise ValidationError("Văn bản đọc không thay đổi.", {"spoken": "Không có gì mới."})
    override = SpokenOverride(
        version_id=version.id,
        text=text,
        sha256=sha256_text(text),
        author_id=actor.id,
        created_at=clock.now(),
    )
    db.session.add(override)
    db.session.flush()
    summary = "Sửa tay văn bản đọc" if text else "Bỏ văn bản đọc sửa tay, dùng cách đọc tự động"
    record_event(
        "script.spoken_override",
        "script",
        script.id,
        f"{summary} của “{script.title}” phiên bản {version.number}",
        actor=actor,
        unit_id=script.unit_id,
        details={"version": version.number, "sha256": override.sha256, "manual": bool(text)},
    )
    _reopen_if_approved(actor, script, "văn bản đọc đã thay đổi")
    db.session.commit()
    return override


# --- Render requests -------------------------------------------------------------------------


@dataclass
class RenderRequest:
    """What a user asks for when rendering a script version."""

    engine: str | None = None
    voice: str | None = None
    speed: int = 100
    station: Station | None = None
    intro_text: str | None = None
    settings: dict = field(default_factory=dict)
    allow_fallback: bool = True


def default_station(script: Script) -> Station | None:
    """The first active station of the script's unit: its intro line and loudness are used."""
    return db.session.scalar(
        select(Station)
        .where(Station.unit_id == script.unit_id, Station.active.is_(True))
        .order_by(Station.code)
        .limit(1)
    )


def resolve_options(request: RenderRequest) -> RenderOptions:
    """Fill a request from the station's and the configuration's defaults, and check it."""
    config = current_app.config
    station = request.station
    errors: dict[str, str] = {}
    engine_name = (
        request.engine
        or (station.speech_engine if station else "")
        or config.get("SPEECH_ENGINE", "espeak")
    )
    voice = request.voice or ""
    engine = None
    revision = ""
    if engine_name not in ENGINES:
        errors["engine"] = f"Không có bộ đọc “{engine_name}”."
    else:
        engine = get_engine(engine_name, config)
        if not voice and station and station.speech_engine == engine_name:
            voice = station.speech_voice
        voice = voice or engine.default_voice
        try:
            engine.check_voice(voice)
            revision = engine.cache_token(voice)
        except EngineError as exc:
            errors["voice"] = exc.message
    try:
        check_speed(int(request.speed))
    except (TypeError, ValueError) as exc:
        errors["speed"] = str(exc) if isinstance(exc, ValueError) else "Phải là số."
    base = {}
    if station is not None:
        base = {"target_lufs": station.target_lufs, "true_peak_db": station.true_peak_db}
    try:
        settings = AssemblySettings.from_dict(base | dict(request.settings or {}))
    except ValueError as exc:
        errors["settings"] = str(exc)
        settings = AssemblySettings()
    intro = request.intro_text
    if intro is None:
        intro = station.intro_text if station else ""
    intro = " ".join(nfc(intro).split())
    if len(intro) > INTRO_MAX:
        errors["intro_text"] = f"Câu giới thiệu tối đa {INTRO_MAX} ký tự."
    if errors:
        raise ValidationError("Thiết lập tạo âm thanh chưa hợp lệ.", errors)
    return RenderOptions(
        engine=engine_name,
        voice=voice,
        speed=int(request.speed),
        intro_text=intro,
        settings=settings,
        allow_fallback=bool(request.allow_fallback),
        voice_revision=revision,
    )


def _reusable(cache_key: str) -> Render | None:
    """A finished render with the same key whose file is still on disk, unchanged."""
    render = db.session.scalar(
        select(Render)
        .where(Render.cache_key == cache_key, Render.status == RenderStatus.DONE)
        .order_by(Render.id.desc())
        .limit(1)
    )
    if render is None:
        return None
    path = audio_dir() / render.audio_path
    if not path.is_file() or path.stat().st_size == 0:
        return None
    return render


def request_render(actor: User, script: Script, request: RenderRequest) -> Render:
    """Queue a render of the current version (or reuse identical audio at once)."""
    require(actor, Permission.SPEECH_RENDER)
    require_scope(actor, script.unit, "Kịch bản")
    if script.status == ScriptStatus.ARCHIVED:
        raise ValidationError("Kịch bản đã lưu trữ, không tạo âm thanh được nữa.")
    if script.is_programme:
        raise ValidationError(
            "Âm thanh của chương trình được trộn từ các mục trong trang Chương trình."
        )
    if request.station is not None and not in_scope(actor, request.station.unit):
        raise ValidationError("Đài này nằm ngoài phạm vi của bạn.", {"station": "Ngoài phạm vi."})
    options = resolve_options(request)
    if options.intro_text:
        options = replace(options, intro_text=spoken_intro(script.unit, options.intro_text))
        # Numbers and abbreviations read out grow the line: the spoken one must fit too.
        if len(options.intro_text) > INTRO_MAX:
            message = (
                f"Câu giới thiệu khi đọc thành lời dài {len(options.intro_text)} ký tự, "
                f"quá {INTRO_MAX} ký tự: hãy rút ngắn câu giới thiệu."
            )
            raise ValidationError(message, {"intro_text": message})
    spoken = spoken_for(script)
    if not spoken.text.strip():
        raise ValidationError(
            "Văn bản đọc trống: nội dung không còn chữ nào đọc được sau khi chuẩn hóa. "
            "Hãy sửa nội dung kịch bản.",
            {"body": "Không có gì để đọc."},
        )
    if script.status == ScriptStatus.SUBMITTED:
        raise ValidationError(
            "Kịch bản đang chờ duyệt: âm thanh gửi duyệt không được thay đổi. "
            "Hãy đợi người duyệt quyết định."
        )
    render = _new_render(actor, script, spoken, options, request.station)
    approved = script.approved_render
    if approved is not None and approved.cache_key != render.cache_key:
        _reopen_if_approved(actor, script, "âm thanh được tạo lại với thiết lập khác")
    db.session.commit()
    return render


def _voice_warnings(options: RenderOptions) -> list[dict]:
    """What the engine says the reviewer should know about the voice (e.g. another language)."""
    if options.engine not in ENGINES:
        return []
    return get_engine(options.engine, current_app.config).voice_warnings(options.voice)


def _new_render(
    actor: User | None,
    script: Script,
    spoken: Spoken,
    options: RenderOptions,
    station: Station | None = None,
):
    """Add a render row: done at once from the cache, otherwise queued for the worker."""
    key = options.key(spoken.text)
    now = clock.now()
    render = Render(
        script_id=script.id,
        version_id=script.current_version_id,
        station_id=station.id if station else None,
        status=RenderStatus.QUEUED,
        cache_key=key,
        spoken_text=spoken.text,
        spoken_sha256=spoken.sha256,
        manual_spoken=spoken.manual,
        warnings=spoken.warnings + _voice_warnings(options),
        intro_text=options.intro_text,
        engine_requested=options.engine,
        allow_fallback=options.allow_fallback,
        voice=options.voice,
        speed=options.speed,
        settings=options.settings.as_dict(),
        requested_by_id=actor.id if actor else None,
        created_at=now,
    )
    cached = _reusable(key)
    if cached is not None:
        _copy_result(render, cached)
        render.cached = True
        render.started_at = render.finished_at = now
    db.session.add(render)
    db.session.flush()
    record_event(
        "render.request",
        "script",
        script.id,
        f"Tạo âm thanh cho “{script.title}” phiên bản {script.version_number}"
        + (" (dùng lại tệp đã có)" if cached else ""),
        actor=actor,
        unit_id=script.unit_id,
        details={"render": render.id, "engine": options.engine, "voice": options.voice},
    )
    return render


def _copy_result(render: Render, source: Render) -> None:
    """Point a render at another render's finished audio."""
    render.status = RenderStatus.DONE
    render.progress = 1.0
    for name in (
        "engine",
        "voice",
        "audio_path",
        "audio_sha256",
        "audio_format",
        "duration_s",
        "integrated_lufs",
        "true_peak_dbtp",
        "sample_rate",
        "bitrate_kbps",
    ):
        setattr(render, name, getattr(source, name))


def get_render(actor: User, render_id: int) -> Render:
    """Load a render of a script the actor may see."""
    render = db.session.get(Render, render_id)
    script = db.session.get(Script, render.script_id) if render and render.script_id else None
    if render is None or script is None or not in_scope(actor, script.unit):
        raise NotFound("Bản âm thanh không tồn tại hoặc nằm ngoài phạm vi của bạn.")
    require(actor, Permission.SCRIPT_VIEW)
    return render


def renders_of(script: Script, limit: int = 10) -> list[Render]:
    """The script's latest renders, newest first."""
    return list(
        db.session.scalars(
            select(Render)
            .where(Render.script_id == script.id)
            .order_by(Render.id.desc())
            .limit(limit)
        )
    )


def latest_done_render(script: Script) -> Render | None:
    """The newest finished render of the current version."""
    return db.session.scalar(
        select(Render)
        .where(Render.version_id == script.current_version_id, Render.status == RenderStatus.DONE)
        .order_by(Render.id.desc())
        .limit(1)
    )


def render_for_submission(script: Script) -> Render:
    """The finished render that will be reviewed; its spoken text must still be current."""
    render = latest_done_render(script)
    if render is None:
        raise ValidationError(
            "Chưa có âm thanh hoàn tất cho phiên bản này. Hãy tạo âm thanh, nghe thử, "
            "rồi mới gửi duyệt.",
            {"render": "Cần tạo âm thanh trước."},
        )
    if render.engine in {"recording", "programme"}:
        # A person read the version aloud, or it is a programme's mix (app.programmes): the
        # lexicon does not change it. It is of the current version (latest_done_render).
        return render
    if render.spoken_sha256 != spoken_for(script).sha256:
        raise ValidationError(
            "Văn bản đọc đã thay đổi sau lần tạo âm thanh gần nhất (từ điển hoặc sửa tay). "
            "Hãy tạo lại âm thanh trước khi gửi duyệt.",
            {"render": "Âm thanh đã cũ."},
        )
    return render


# --- The worker --------------------------------------------------------------------------------


def audio_dir() -> Path:
    """Where rendered audio lives (AUDIO_DIR)."""
    return Path(current_app.config["AUDIO_DIR"])


def worker_name() -> str:
    """host:pid of this process, recorded on the jobs it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_next_render() -> Render | None:
    """Take the oldest queued render; a row only one worker can win."""
    while True:
        render_id = db.session.scalar(
            select(Render.id)
            .where(Render.status == RenderStatus.QUEUED)
            .order_by(Render.created_at, Render.id)
            .limit(1)
        )
        if render_id is None:
            db.session.rollback()
            return None
        won = db.session.execute(
            update(Render)
            .where(Render.id == render_id, Render.status == RenderStatus.QUEUED)
            .values(status=RenderStatus.RUNNING, started_at=clock.now(), worker=worker_name())
        ).rowcount
        db.session.commit()
        if won:
            return db.session.get(Render, render_id)


def _save_progress(render_id: int, fraction: float) -> None:
    """Record progress in its own short transaction, so pages can show it."""
    db.session.execute(
        update(Render)
        .where(Render.id == render_id, Render.status == RenderStatus.RUNNING)
        .values(progress=round(min(max(fraction, 0.0), 1.0), 3))
    )
    db.session.commit()


def run_render(render: Render) -> Render:
    """Produce the audio of a claimed render; failures are recorded, never raised."""
    if render.engine_requested == "programme":
        from app.programmes.mix import run_programme_render  # programmes build on this module

        return run_programme_render(render)
    key = render.cache_key
    settings = AssemblySettings.from_dict(render.settings)
    options = RenderOptions(
        engine=render.engine_requested,
        voice=render.voice,
        speed=render.speed,
        intro_text=render.intro_text,
        settings=settings,
        allow_fallback=render.allow_fallback,
    )
    relative = f"{key[:2]}/{key}.{settings.format}"
    render_id = render.id
    spoken_text = render.spoken_text
    last = [0.0]

    def progress(fraction: float) -> None:
        if fraction - last[0] >= PROGRESS_STEP or fraction >= 1.0:
            last[0] = fraction
            _save_progress(render_id, fraction)

    try:
        if _voice_changed_since_queued(render, options):
            return _finish_failed(
                render_id,
                "Tệp giọng đọc đã được thay sau khi xếp hàng tạo âm thanh: "
                "hãy bấm tạo âm thanh lại để dùng giọng mới.",
            )
        produced = produce_audio(
            spoken_text,
            options,
            audio_dir() / relative,
            config=current_app.config,
            on_progress=progress,
        )
    except (EngineError, AudioToolMissing, AudioError) as exc:
        return _finish_failed(render_id, exc.message)
    except Exception as exc:  # a job must never die silently
        current_app.logger.exception("render %s failed", render_id)
        return _finish_failed(render_id, f"Lỗi không mong đợi khi tạo âm thanh: {exc}")
    render = db.session.get(Render, render_id)
    m = produced.measurement
    render.status = RenderStatus.DONE
    render.progress = 1.0
    render.engine = produced.engine
    render.voice = produced.voice
    render.audio_path = relative
    render.audio_sha256 = produced.sha256
    render.audio_format = settings.format
    render.duration_s = round(m.duration_s, 3)
    render.integrated_lufs = round(m.integrated_lufs, 2)
    render.true_peak_dbtp = round(m.true_peak_dbtp, 2)
    render.sample_rate = m.sample_rate
    render.bitrate_kbps = m.bitrate_kbps
    render.finished_at = clock.now()
    db.session.commit()
    return render


def _voice_changed_since_queued(render: Render, options: RenderOptions) -> bool:
    """Whether the voice files (a Piper model) changed since the key was made from them.

    The audio would otherwise be kept under a key that names the old model. A voice that no
    longer loads is left to the render itself, which fails or falls back with the reason.
    """
    if render.engine_requested not in ENGINES:
        return False
    try:
        token = get_engine(render.engine_requested, current_app.config).cache_token(render.voice)
    except EngineError:
        return False
    revised = replace(options, voice_revision=token)
    return bool(token) and revised.key(render.spoken_text) != render.cache_key


def _finish_failed(render_id: int, message: str) -> Render:
    """Mark a render failed with the reason; earlier audio stays as it was."""
    db.session.rollback()
    render = db.session.get(Render, render_id)
    render.status = RenderStatus.FAILED
    render.error = message
    render.finished_at = clock.now()
    db.session.commit()
    return render


def process_next_render() -> Render | None:
    """Claim and run one queued render; None when the queue is empty."""
    render = claim_next_render()
    return run_render(render) if render is not None else None


def _worker_gone(worker: str) -> bool:
    """Whether the worker named host:pid is known to have stopped: a process of this host that
    no longer runs. A worker of another host is not known to be gone (only its age tells)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or worker == worker_name():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, as another user
    return False


def requeue_abandoned(max_age_minutes: int = 30) -> int:
    """Give a render whose worker died another chance; called when a worker starts.

    A render is abandoned when its worker's process on this host is gone, or it has run past
    max_age_minutes (a worker on another host). A worker busy beside this one (loa-worker@1,
    @2, …) keeps its render.
    """
    stale = db.session.scalars(select(Render).where(Render.status == RenderStatus.RUNNING)).all()
    count = 0
    now = clock.now()
    for render in stale:
        same_host_dead = _worker_gone(render.worker)
        too_old = render.started_at and (now - render.started_at).total_seconds() > (
            max_age_minutes * 60
        )
        if same_host_dead or too_old:
            render.status = RenderStatus.QUEUED
            render.progress = 0.0
            render.worker = ""
            count += 1
    db.session.commit()
    return count


def remove_orphan_audio() -> list[Path]:
    """Delete finished-looking files no render points to; work in progress is left alone."""
    root = audio_dir()
    if not root.is_dir():
        return []
    kept = {p for (p,) in db.session.execute(select(Render.audio_path)) if p}
    from app.speech.recording import original_paths  # recording builds on this module

    kept |= original_paths()
    # A queued or running render writes to <key[:2]>/<key>.<format>, through temporary files
    # in the same folder, and commits its path only once the file is in place.
    busy = set(
        db.session.scalars(
            select(Render.cache_key).where(
                Render.status.in_([RenderStatus.QUEUED, RenderStatus.RUNNING])
            )
        )
    )
    removed = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == "README.md":
            continue
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or path.stem in busy:
            continue
        if relative.as_posix() not in kept:
            path.unlink()
            removed.append(path)
    return removed


def authored_by(render: Render, actor: User) -> bool:
    """Tell whether the actor wrote what the render reads besides the version's body.

    A hand-typed spoken text is part of what listeners hear, and so is an intro line typed for
    this render instead of the station's: their author may not approve them either, nor may
    the person who uploaded a recording.
    """
    if render.engine == "recording":
        return render.requested_by_id == actor.id
    if render.manual_spoken:
        authors = db.session.scalars(
            select(SpokenOverride.author_id).where(
                SpokenOverride.version_id == render.version_id,
                SpokenOverride.sha256 == render.spoken_sha256,
            )
        ).all()
        if actor.id in authors:
            return True
    if not render.intro_text or render.requested_by_id != actor.id:
        return False
    script = db.session.get(Script, render.script_id)
    station_intro = render.station.intro_text if render.station else ""
    return render.intro_text != spoken_intro(script.unit, station_intro)


def spoken_intro(unit: Unit, text: str) -> str:
    """The intro line as it will be read, with the unit's lexicon ("UBND xã" and the like)."""
    return normalize_for(unit, text).spoken if text.strip() else ""


def audio_file(render: Render) -> Path:
    """The finished audio of a render, checked against its recorded sha256."""
    if render.status != RenderStatus.DONE:
        raise Conflict("Âm thanh chưa tạo xong.")
    path = audio_dir() / render.audio_path
    if not path.is_file():
        raise NotFound("Tệp âm thanh không còn trên máy chủ; hãy tạo lại âm thanh.")
    return path


def verify_audio(render: Render) -> bool:
    """Tell whether the file on disk is exactly the audio that was rendered and approved."""
    path = audio_dir() / render.audio_path
    return path.is_file() and sha256_file(path) == render.audio_sha256
