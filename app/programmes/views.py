"""Programme pages: the list, the rundown editor, the programme with its mix, mix and submit.

The editor is a plain form that posts back to itself: "Thêm", "Lên", "Xuống", "Bỏ" and "Tìm"
change the rundown on the page (nothing is stored), "Lưu chương trình" saves it as a version.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.decorators import permission_required
from app.auth.permissions import Permission, can, in_scope
from app.core.errors import Conflict, DomainError
from app.core.text import parse_id
from app.extensions import db
from app.org.models import Station
from app.programmes import mix as mixing
from app.programmes import service
from app.programmes.forms import ActionForm, ProgrammeForm
from app.scripts import service as scripts
from app.scripts.models import ScriptStatus
from app.speech import service as speech
from app.speech.ingest import format_seconds
from app.speech.models import RenderStatus

bp = Blueprint("programmes", __name__, url_prefix="/programmes")

# Rows read from one post: a little over the service's limit, so the limit's own message shows.
MAX_ROWS = service.MAX_ITEMS + 1
EDITABLE = {ScriptStatus.DRAFT, ScriptStatus.REJECTED, ScriptStatus.APPROVED}
# An approved programme keeps the mix it was approved with (request_mix refuses another).
MIXABLE = {ScriptStatus.DRAFT, ScriptStatus.REJECTED}


@dataclass
class Row:
    """One rundown row as posted: kept as typed so a mistake is shown back as it was."""

    kind: str
    ref: str
    gap: str = "0"
    fade: str = "0"


def seconds_text(ms: int) -> str:
    """Milliseconds as the editor shows seconds: '1,5', '0'."""
    return f"{ms / 1000:g}".replace(".", ",")


def _parse_seconds(text: str) -> int | None:
    """'1,5' or '1.5' seconds as milliseconds; None when it is not a number."""
    value = (text or "").strip().replace(",", ".") or "0"
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number or abs(number) > 1e6:  # NaN, or absurd
        return None
    return round(number * 1000)


def _rows_from_form() -> list[Row]:
    """The rundown rows of the posted editor, in their order."""
    count = min(parse_id(request.form.get("count", "0")) or 0, MAX_ROWS)
    rows = []
    for i in range(count):
        kind = request.form.get(f"kind-{i}", "")
        ref = request.form.get(f"ref-{i}", "")
        if not kind and not ref:
            continue
        rows.append(
            Row(kind, ref, request.form.get(f"gap-{i}", "0"), request.form.get(f"fade-{i}", "0"))
        )
    return rows


def _rows_of(entries: list[service.RundownEntry]) -> list[Row]:
    """Stored entries as editor rows."""
    return [
        Row(e.kind, str(e.ref_id), seconds_text(e.gap_ms), seconds_text(e.crossfade_ms))
        for e in entries
    ]


def _entries(rows: list[Row]) -> tuple[list[service.RundownEntry], dict[str, str]]:
    """Rows as service entries, and the rows whose numbers could not be read."""
    entries, errors = [], {}
    for n, row in enumerate(rows, start=1):
        gap, fade = _parse_seconds(row.gap), _parse_seconds(row.fade)
        if gap is None or fade is None:
            errors[f"item-{n}"] = (
                f"Mục {n}: khoảng nghỉ và chuyển tiếp chồng phải là số giây (ví dụ 1,5)."
            )
        ref = parse_id(row.ref)
        ref = row.ref if ref is None else ref
        entries.append(service.RundownEntry(row.kind, ref, gap or 0, fade or 0))
    return entries, errors


def _apply_op(op: str, rows: list[Row]) -> list[Row]:
    """Add, move or remove a row as the pressed button says."""
    action, _, arg = op.partition(":")
    if action == "add":
        kind, _, ref = arg.partition(":")
        if kind in {"script", "library"} and parse_id(ref) is not None:
            rows.append(Row(kind, ref))
        return rows
    i = parse_id(arg)
    if i is None or not 0 <= i < len(rows):
        return rows
    if action == "remove":
        rows.pop(i)
    elif action == "up" and i > 0:
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif action == "down" and i < len(rows) - 1:
        rows[i + 1], rows[i] = rows[i], rows[i + 1]
    return rows


def _form(script=None, formdata=...) -> ProgrammeForm:
    """The editor's form with the sessions and beds the user may choose."""
    form = ProgrammeForm() if formdata is ... else ProgrammeForm(formdata=formdata)
    form.session.choices = [("", "— Chưa chọn —"), *service.session_choices(current_user)]
    form.bed_item_id.choices = [("", "Không dùng nhạc nền")] + [
        (str(b.id), f"{b.title} ({format_seconds(b.duration_s)}, {b.unit.name})")
        for b in service.beds(current_user)
    ]
    return form


def _settings_from_form(form: ProgrammeForm) -> tuple[dict, dict[str, str]]:
    """The bed, ducking and session the form names, and what could not be read."""
    errors: dict[str, str] = {}
    values: dict = {"station_id": None, "session_name": "", "bed_item_id": None}
    session = form.session.data or ""
    if session:
        station, _, name = session.partition(":")
        station_id = parse_id(station)
        if station_id is not None and name:
            values["station_id"], values["session_name"] = station_id, name
        else:
            errors["session"] = "Buổi phát đã chọn không hợp lệ."
    bed = form.bed_item_id.data or ""
    if bed:
        values["bed_item_id"] = parse_id(bed)
        if values["bed_item_id"] is None:
            errors["bed_item_id"] = "Nhạc nền đã chọn không hợp lệ."
    duck = (form.duck_db.data or "").strip().replace(",", ".")
    try:
        values["duck_db"] = float(duck or "nan")
    except ValueError:
        values["duck_db"] = float("nan")
    if values["duck_db"] != values["duck_db"]:
        errors["duck_db"] = "Mức giảm nhạc nền phải là số dB, ví dụ 15."
    return values, errors


def _session_of(form: ProgrammeForm):
    """The station and session the form names, if they exist."""
    station_id, _, name = (form.session.data or "").partition(":")
    known = parse_id(station_id)
    station = db.session.get(Station, known) if known is not None else None
    if station is None or not in_scope(current_user, station.unit):
        return None, None
    return station, service.find_session(station, name)


def _editor_page(form, rows, script=None, errors=None, message="", status=200):
    """The editor with its rundown preview, the total against the session and the search."""
    entries, _ = _entries(rows)
    preview, total = service.preview(current_user, entries)
    station, session = _session_of(form)
    length = service.session_length_s(session) if session else None
    found_scripts, found_items = service.candidates(current_user, (form.q.data or "").strip()[:200])
    page = render_template(
        "programmes/edit.html",
        form=form,
        script=script,
        rows=list(zip(rows, preview, strict=True)),
        total=total,
        session=session,
        station=station,
        length=length,
        over=length is not None and total > length + 0.5,
        errors=errors or {},
        message=message,
        found_scripts=found_scripts,
        found_items=found_items,
        duration=service.duration_text,
        max_gap=service.MAX_GAP_MS // 1000,
        max_fade=service.MAX_CROSSFADE_MS // 1000,
    )
    return page, status


def _editor(script=None):
    """New and edit share one editor; only saving stores anything."""
    if request.method == "GET":
        form = _form(script, formdata=None)
        rows: list[Row] = []
        if script is not None:
            settings = service.version_settings(script.current_version_id)
            rows = _rows_of(service.entries_of(settings))
            form.title.data = script.title
            form.revision.data = str(script.revision)
            if settings is not None:
                if settings.station_id and settings.session_name:
                    form.session.data = f"{settings.station_id}:{settings.session_name}"
                form.bed_item_id.data = str(settings.bed_item_id or "")
                form.duck_db.data = f"{settings.duck_db:g}".replace(".", ",")
        return _editor_page(form, rows, script)
    form = _form(script)
    if not form.validate_on_submit():
        # Only the CSRF token and the title's length can fail here.
        errors = {name: "; ".join(e) for name, e in form.errors.items()}
        if errors.pop("csrf_token", ""):
            message = (
                "Biểu mẫu đã hết hạn (mã chống giả mạo CSRF sai). Không có gì được lưu; hãy "
                "tải lại trang."
            )
            return _editor_page(form, _rows_from_form(), script, errors, message, 400)
        message = "Chương trình chưa lưu được: " + " ".join(errors.values())
        return _editor_page(form, _rows_from_form(), script, errors, message, 422)
    rows = _rows_from_form()
    op = request.form.get("op", "")
    if op != "save":
        return _editor_page(form, _apply_op(op, rows), script)
    entries, errors = _entries(rows)
    values, more = _settings_from_form(form)
    errors |= more
    if errors:
        message = "Chương trình chưa lưu được: " + " ".join(errors.values())
        return _editor_page(form, rows, script, errors, message, 422)
    data = service.ProgrammeInput(
        title=form.title.data or "", unit=current_user.unit, items=entries, **values
    )
    try:
        if script is None:
            script = service.create_programme(current_user, data)
            flash(f"Đã lưu chương trình “{script.title}” (phiên bản 1, bản nháp).", "success")
        else:
            revision = parse_id(form.revision.data)
            revision = -1 if revision is None else revision
            changed = service.update_programme(current_user, script, data, revision)
            if changed:
                flash(
                    f"Đã lưu phiên bản {script.version_number}; trạng thái: "
                    f"{script.status.label}. Hãy trộn lại chương trình trước khi gửi duyệt.",
                    "success",
                )
            else:
                flash("Không có gì thay đổi.", "info")
    except DomainError as exc:
        db.session.rollback()
        status = 409 if isinstance(exc, Conflict) else exc.status
        return _editor_page(form, rows, script, exc.fields, exc.message, status)
    return redirect(url_for("programmes.show", script_id=script.id))


@bp.get("/")
@permission_required(Permission.SCRIPT_VIEW)
def index():
    """Programmes of the user's subtree with their length, session and status."""
    page = db.paginate(service.programmes_query(current_user), per_page=30, error_out=False)
    settings = {s.id: service.version_settings(s.current_version_id) for s in page.items}
    return render_template(
        "programmes/index.html",
        page=page,
        settings=settings,
        duration=service.duration_text,
        may_write=can(current_user, Permission.SCRIPT_EDIT),
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.SCRIPT_EDIT)
def new():
    """Build a new programme."""
    return _editor()


@bp.route("/<int:script_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.SCRIPT_EDIT)
def edit(script_id: int):
    """Change a programme's rundown: saving makes a new version that needs a new approval."""
    script = service.get_programme(current_user, script_id)
    if script.status not in EDITABLE:
        flash(
            "Chương trình đang chờ duyệt hoặc đã lưu trữ: không sửa được lúc này."
            if script.status == ScriptStatus.SUBMITTED
            else "Chương trình đã lưu trữ, không sửa được nữa.",
            "error",
        )
        return redirect(url_for("programmes.show", script_id=script.id))
    return _editor(script)


def rundown_context(version_id: int | None, mix) -> dict:
    """A stored version's rundown with each item's start (from the mix when it has one)."""
    settings = service.version_settings(version_id)
    items = settings.items if settings else []
    offsets = {o["position"]: o for o in mixing.mix_offsets(mix)}
    starts = service.start_offsets(items)
    rows = [
        {
            "item": item,
            "start_s": offsets[item.position]["start_s"] if item.position in offsets else start,
        }
        for item, start in zip(items, starts, strict=True)
    ]
    session = service.find_session(settings.station, settings.session_name) if settings else None
    length = service.session_length_s(session) if session else None
    return {
        "settings": settings,
        "rows": rows,
        "session": session,
        "length": length,
        "total": mix.duration_s
        if mix and mix.duration_s
        else (settings.total_s if settings else 0),
        "duration": service.duration_text,
        "offset": service.offset_text,
        "seconds_text": seconds_text,
    }


@bp.get("/<int:script_id>")
@permission_required(Permission.SCRIPT_VIEW)
def show(script_id: int):
    """A programme: its rundown with each start, the mix and its measures, its workflow."""
    script = service.get_programme(current_user, script_id)
    mix = speech.latest_done_render(script)
    renders = [r for r in speech.renders_of(script) if r.version_id == script.current_version_id]
    return render_template(
        "programmes/show.html",
        script=script,
        version=script.current_version,
        rundown=rundown_context(script.current_version_id, mix),
        latest=mix,
        pending=[r for r in renders if not r.is_finished],
        failed=next((r for r in renders if r.status == RenderStatus.FAILED), None),
        action_form=ActionForm(),
        may_edit=can(current_user, Permission.SCRIPT_EDIT) and script.status in EDITABLE,
        may_mix=can(current_user, Permission.SPEECH_RENDER) and script.status in MIXABLE,
    )


@bp.post("/<int:script_id>/mix")
@permission_required(Permission.SPEECH_RENDER)
def mix(script_id: int):
    """Trộn chương trình: queue the mix of the current version."""
    script = service.get_programme(current_user, script_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        render = mixing.request_mix(current_user, script)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(
            "Bản trộn với đúng danh sách mục này đã có sẵn; dùng lại ngay."
            if render.cached
            else "Đã xếp hàng trộn chương trình. Trang sẽ tự cập nhật khi xong.",
            "success",
        )
    return redirect(url_for("programmes.show", script_id=script_id) + "#mix")


@bp.post("/<int:script_id>/submit")
@permission_required(Permission.SCRIPT_EDIT)
def submit(script_id: int):
    """Send the current version and its mix for review."""
    script = service.get_programme(current_user, script_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        scripts.submit_script(current_user, script)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Đã gửi duyệt phiên bản {script.version_number}.", "success")
    return redirect(url_for("programmes.show", script_id=script_id))
