"""Pages for the pronunciation lexicon, spoken text, renders and their audio."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select

from app.auth.decorators import permission_required
from app.auth.permissions import Permission, can, in_scope
from app.core.errors import DomainError, ValidationError
from app.core.forms import apply_errors, flash_form_errors
from app.extensions import db
from app.org.models import Station, Unit
from app.org.service import unit_choices
from app.scripts import service as scripts_service
from app.scripts.models import Script
from app.speech import service
from app.speech.engines import ENGINES, engine_choices, get_engine
from app.speech.forms import LexiconForm, ReadingOptionsForm, RenderForm, SpokenForm
from app.speech.lexicon_seed import SEED_LEXICON_ENTRIES
from app.speech.models import Render, RenderStatus
from app.speech.normalizer import Normalized

bp = Blueprint("speech", __name__)


def highlight(text: str, normalized: Normalized) -> Markup:
    """The spoken text with every changed span marked, its rule and original on hover."""
    parts, at = [], 0
    for span in sorted(normalized.spans, key=lambda s: s.spoken_start):
        if span.spoken_start < at:
            continue
        parts.append(escape(text[at : span.spoken_start]))
        title = f"{span.rule_label}: “{span.original}”"
        parts.append(
            Markup('<mark class="span-{}" title="{}" tabindex="0">{}</mark>').format(
                span.rule, title, text[span.spoken_start : span.spoken_end]
            )
        )
        at = span.spoken_end
    parts.append(escape(text[at:]))
    return Markup("").join(parts)


def _station_choices(script: Script) -> list[tuple[int, str]]:
    """Stations of the user's subtree, the script's own unit's first."""
    stations = db.session.scalars(
        select(Station)
        .join(Unit)
        .where(Unit.path.startswith(current_user.unit.path), Station.active.is_(True))
        .order_by(Station.code)
    ).all()
    stations.sort(key=lambda s: (s.unit_id != script.unit_id, s.code))
    return [(0, "Không có câu giới thiệu")] + [(s.id, f"{s.name} ({s.code})") for s in stations]


def voice_choices() -> list[tuple[str, str]]:
    """One option per voice id, naming every engine that has it."""
    labels: dict[str, list[str]] = {}
    for name in ENGINES:
        engine = get_engine(name, current_app.config)
        for voice in engine.voices():
            labels.setdefault(voice.id, []).append(f"{voice.label} ({name})")
    return [(voice_id, " · ".join(names)) for voice_id, names in labels.items()]


def engine_notices() -> list[tuple[str, list[str]]]:
    """(engine label, notes) for the picker: unusable voices and why, how to add a voice."""
    found = []
    for name in ENGINES:
        notes = get_engine(name, current_app.config).notices()
        if notes:
            found.append((ENGINES[name].label, notes))
    return found


def render_form(script: Script, formdata=None) -> RenderForm:
    """The render form with its choices filled and defaults from the script's station."""
    form = RenderForm(formdata=formdata)
    form.station_id.choices = _station_choices(script)
    form.engine.choices = engine_choices()
    form.voice.choices = voice_choices()
    if formdata is None:
        station = service.default_station(script)
        form.station_id.data = station.id if station else 0
        form.engine.data = (station.speech_engine if station else "") or "espeak"
        form.voice.data = (station.speech_voice if station else "") or "vi"
        form.speed.data = 100
        form.repeats.data = 1
    return form


def panel_context(script: Script) -> dict:
    """What the script page shows about speech: spoken text, warnings, renders, forms."""
    spoken = service.spoken_for(script)
    renders = service.renders_of(script)
    return {
        "spoken": spoken,
        "spoken_html": highlight(spoken.normalized.spoken, spoken.normalized),
        "renders": renders,
        "latest_done": service.latest_done_render(script),
        "render_form": render_form(script),
        "spoken_form": SpokenForm(formdata=None, spoken=spoken.text),
        "engine_notices": engine_notices(),
    }


def _script(script_id: int) -> Script:
    """The script, if the user may see it."""
    return scripts_service.get_script(current_user, script_id)


@bp.post("/scripts/<int:script_id>/spoken")
@permission_required(Permission.SCRIPT_EDIT)
def save_spoken(script_id: int):
    """Keep a hand-typed spoken text with the current version, or withdraw it."""
    script = _script(script_id)
    form = SpokenForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("scripts.show", script_id=script_id))
    text = "" if "withdraw" in request.form else (form.spoken.data or "")
    try:
        service.set_spoken_override(current_user, script, text)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(
            "Đã lưu văn bản đọc sửa tay; hãy tạo lại âm thanh."
            if text.strip()
            else "Đã bỏ văn bản đọc sửa tay; dùng lại cách đọc tự động.",
            "success",
        )
    return redirect(url_for("scripts.show", script_id=script_id) + "#spoken-panel")


@bp.post("/scripts/<int:script_id>/renders")
@permission_required(Permission.SPEECH_RENDER)
def start_render(script_id: int):
    """Queue a render of the current version with the chosen settings."""
    script = _script(script_id)
    form = render_form(script, request.form)
    if not form.validate_on_submit():
        flash_form_errors(form)
        for name, errors in form.errors.items():
            flash(f"{getattr(form, name).label.text}: {'; '.join(errors)}", "error")
        return redirect(url_for("scripts.show", script_id=script_id) + "#audio")
    station = db.session.get(Station, form.station_id.data) if form.station_id.data else None
    req = service.RenderRequest(
        engine=form.engine.data,
        voice=form.voice.data,
        speed=form.speed.data or 100,
        station=station,
        intro_text=None if station else "",
        settings={"repeats": form.repeats.data, "chime": form.chime.data},
        allow_fallback=form.allow_fallback.data,
    )
    try:
        render = service.request_render(current_user, script, req)
    except ValidationError as exc:
        db.session.rollback()
        details = "; ".join(exc.fields.values())
        flash(exc.message + (f" ({details})" if details else ""), "error")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        if render.cached:
            flash("Âm thanh với đúng thiết lập này đã có sẵn; dùng lại ngay.", "success")
        else:
            flash("Đã xếp hàng tạo âm thanh. Trang sẽ tự cập nhật khi xong.", "success")
    return redirect(url_for("scripts.show", script_id=script_id) + "#audio")


def render_status(render: Render) -> dict:
    """Status of a render for polling pages and the API."""
    data = {
        "id": render.id,
        "status": render.status.value,
        "status_label": render.status.label,
        "progress": render.progress,
        "error": render.error,
        "engine": render.engine or None,
        "engine_requested": render.engine_requested,
        "voice": render.voice,
        "speed": render.speed,
        "duration_s": render.duration_s,
        "integrated_lufs": render.integrated_lufs,
        "true_peak_dbtp": render.true_peak_dbtp,
        "sha256": render.audio_sha256 or None,
        "spoken_sha256": render.spoken_sha256,
        "cached": render.cached,
        "format": render.audio_format or None,
    }
    return data


@bp.get("/renders/<int:render_id>/status")
@permission_required(Permission.SCRIPT_VIEW)
def status(render_id: int):
    """Poll a render's progress (used by the script page's script)."""
    render = service.get_render(current_user, render_id)
    data = render_status(render)
    if render.status == RenderStatus.DONE:
        data["audio_url"] = url_for("speech.audio", render_id=render.id)
    return jsonify(data)


def audio_response(render: Render):
    """Send a render's finished audio, cacheable by its sha256."""
    path = service.audio_file(render)
    mimetype = "audio/mpeg" if render.audio_format == "mp3" else "audio/wav"
    response = send_file(
        path,
        mimetype=mimetype,
        download_name=f"loa-kich-ban-{render.script_id}-am-thanh-{render.id}.{render.audio_format}",
        conditional=True,
        etag=render.audio_sha256,
        max_age=3600,
    )
    # Only the user's own browser may keep it: other units must not get it from a shared cache.
    response.cache_control.public = False
    response.cache_control.private = True
    return response


@bp.get("/renders/<int:render_id>/audio")
@permission_required(Permission.SCRIPT_VIEW)
def audio(render_id: int):
    """The finished audio file of a render."""
    return audio_response(service.get_render(current_user, render_id))


# --- Lexicon -----------------------------------------------------------------------------------


def _lexicon_unit_choices() -> list[tuple[int, str]]:
    """Where an entry may apply: the shared list (admins) and units of one's subtree."""
    choices = [(0, "Dùng chung mọi đơn vị")] if can(current_user, Permission.ADMIN) else []
    return choices + unit_choices(current_user.unit)


def _lexicon_page(form: LexiconForm, options_form: ReadingOptionsForm, status: int = 200):
    """The lexicon page: entries of one's scope, the seed terms, regional readings."""
    search = request.args.get("q", "").strip()
    entries = service.lexicon_entries(current_user, search)
    seed = [e for e in SEED_LEXICON_ENTRIES if not search or search.lower() in e[0].lower()]
    preview = None
    text = request.args.get("thu", "")
    if text:
        preview = service.normalize_for(current_user.unit, text)
    return render_template(
        "speech/lexicon.html",
        form=form,
        options_form=options_form,
        entries=entries,
        seed=seed,
        search=search,
        preview=preview,
        preview_html=highlight(preview.spoken, preview) if preview else "",
        preview_text=text,
        can_edit=can(current_user, Permission.LEXICON_EDIT),
    ), status


def _options_form(unit: Unit | None = None, formdata=None) -> ReadingOptionsForm:
    """The regional reading form for a unit of one's subtree."""
    form = ReadingOptionsForm(formdata=formdata)
    form.unit_id.choices = unit_choices(current_user.unit)
    if formdata is None:
        unit = unit or current_user.unit
        form.unit_id.data = unit.id
        for key, value in (unit.reading_options or {}).items():
            if hasattr(form, key):
                getattr(form, key).data = value
    return form


@bp.get("/lexicon")
@permission_required(Permission.SCRIPT_VIEW)
def lexicon():
    """The pronunciation lexicon with a try-it box."""
    form = LexiconForm(formdata=None)
    form.unit_id.choices = _lexicon_unit_choices()
    form.unit_id.data = current_user.unit.id
    unit = db.session.get(Unit, request.args.get("unit", type=int) or current_user.unit.id)
    if unit is None or not in_scope(current_user, unit):
        unit = current_user.unit
    return _lexicon_page(form, _options_form(unit))


@bp.post("/lexicon")
@permission_required(Permission.LEXICON_EDIT)
def add_lexicon_entry():
    """Add an entry; it applies to previews at once."""
    form = LexiconForm()
    form.unit_id.choices = _lexicon_unit_choices()
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data) if form.unit_id.data else None
        data = service.LexiconInput(form.term.data, form.spoken.data, form.note.data or "", unit)
        try:
            entry = service.create_lexicon_entry(current_user, data)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"Đã thêm “{entry.term}” → “{entry.spoken}”.", "success")
            back = request.form.get("next", "")
            if back.startswith("/") and not back.startswith("//"):
                return redirect(back)
            return redirect(url_for("speech.lexicon"))
    else:
        flash_form_errors(form)
    return _lexicon_page(form, _options_form(), 422)


@bp.route("/lexicon/<int:entry_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.LEXICON_EDIT)
def edit_lexicon_entry(entry_id: int):
    """Change one entry's reading."""
    entry = service.get_lexicon_entry(current_user, entry_id)
    service.check_entry_scope(current_user, entry.unit)
    form = LexiconForm(obj=entry) if request.method == "GET" else LexiconForm()
    form.unit_id.choices = [(entry.unit_id or 0, entry.unit.name if entry.unit else "Dùng chung")]
    form.unit_id.data = entry.unit_id or 0
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            data = service.LexiconInput(form.term.data, form.spoken.data, form.note.data or "")
            try:
                service.update_lexicon_entry(current_user, entry, data)
            except DomainError as exc:
                db.session.rollback()
                apply_errors(form, exc)
                status = 422
            else:
                flash(f"Đã sửa “{entry.term}”.", "success")
                return redirect(url_for("speech.lexicon"))
        else:
            flash_form_errors(form)
            status = 422
    return render_template("speech/lexicon_edit.html", form=form, entry=entry), status


@bp.post("/lexicon/<int:entry_id>/delete")
@permission_required(Permission.LEXICON_EDIT)
def delete_lexicon_entry(entry_id: int):
    """Remove an entry."""
    entry = service.get_lexicon_entry(current_user, entry_id)
    service.check_entry_scope(current_user, entry.unit)
    term = entry.term
    try:
        service.delete_lexicon_entry(current_user, entry)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Đã xóa “{term}” khỏi từ điển.", "success")
    return redirect(url_for("speech.lexicon"))


@bp.post("/lexicon/reading")
@permission_required(Permission.LEXICON_EDIT)
def save_reading_options():
    """Save a unit's regional reading choices."""
    form = _options_form(formdata=request.form)
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data)
        choices = {
            key: getattr(form, key).data
            for key in ("thousand", "zero_tens", "four_after_tens", "code_policy")
        }
        try:
            service.set_reading_options(current_user, unit, choices)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(f"Đã lưu cách đọc của “{unit.name}”.", "success")
        return redirect(url_for("speech.lexicon", unit=form.unit_id.data))
    flash_form_errors(form)
    return redirect(url_for("speech.lexicon"))
