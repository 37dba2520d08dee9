"""Audio library pages: list and search, upload, an item with its player, edit, archive."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.audit.service import events_query
from app.auth.decorators import permission_required
from app.auth.permissions import Permission, can
from app.core.clock import to_local
from app.core.errors import DomainError
from app.core.forms import apply_errors, flash_form_errors
from app.core.text import parse_id
from app.extensions import db
from app.library import service
from app.library.forms import ActionForm, EditForm, UploadForm
from app.library.models import KIND_LABELS, LibraryItem, LibraryKind
from app.org.models import Unit
from app.org.service import unit_choices
from app.speech.ingest import ACCEPTED_FORMATS, format_seconds

bp = Blueprint("library", __name__, url_prefix="/library")

MB = 1024 * 1024


def size_text(size: int) -> str:
    """A size as people read it: '21 MB', '300 KB'."""
    return f"{size / MB:.0f} MB" if size >= MB else f"{max(1, round(size / 1024))} KB"


def number(value: float | None, digits: int = 1) -> str:
    """A measure the Vietnamese way: decimal comma and a real minus sign ("−16,4")."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}".replace(".", ",")
    return text.replace("-", "−") if text.strip("-0,") else text.lstrip("-")


def upload_limit_text() -> str:
    """The largest upload the server takes, in words."""
    return size_text(current_app.config.get("MAX_CONTENT_LENGTH") or 0)


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc):
    """A request body over the server's limit: the upload page again, saying the limit."""
    size = request.content_length or 0
    message = (
        f"Tệp quá lớn ({size_text(size)}): máy chủ nhận tối đa {upload_limit_text()} mỗi lần "
        "tải lên. Không có gì được lưu; hãy nén tệp (ví dụ MP3 128 kb/s) hoặc cắt ngắn lại."
    )
    return _upload_page(_upload_form(formdata=None), message, 413)


def _upload_form(formdata=...) -> UploadForm:
    """The upload form with the units of the user's subtree to choose from."""
    form = UploadForm() if formdata is ... else UploadForm(formdata=formdata)
    form.unit_id.choices = unit_choices(current_user.unit)
    if form.unit_id.data is None:
        form.unit_id.data = current_user.unit_id
    return form


def _upload_page(form: UploadForm, error: str | None = None, status: int = 200):
    """The upload page, with the reason the last upload was refused."""
    limits = {k: format_seconds(service.max_seconds(k)) for k in LibraryKind}
    page = render_template(
        "library/new.html",
        form=form,
        error=error,
        max_size=upload_limit_text(),
        limits=limits,
        labels=KIND_LABELS,
        formats=ACCEPTED_FORMATS,
    )
    return page, status


@bp.get("/")
@permission_required(Permission.LIBRARY_VIEW)
def index():
    """The library: accent-insensitive search, kind and unit filters, archived on request."""
    q = request.args.get("q", "").strip()[:200]
    kind_value = request.args.get("kind", "")
    kind = LibraryKind(kind_value) if kind_value in {k.value for k in LibraryKind} else None
    unit = None
    unit_arg = request.args.get("unit", "")
    if parse_id(unit_arg) is not None:
        unit = db.session.get(Unit, parse_id(unit_arg))
        if unit is not None and not current_user.unit.contains(unit):
            unit = None
    include_archived = request.args.get("archived") == "1"
    filters = service.ItemFilter(q=q, kind=kind, unit=unit, include_archived=include_archived)
    page = db.paginate(
        service.items_query(current_user, filters),
        per_page=current_app.config["SCRIPTS_PER_PAGE"],
        error_out=False,
    )
    return render_template(
        "library/index.html",
        page=page,
        q=q,
        kind=kind,
        unit=unit,
        include_archived=include_archived,
        labels=KIND_LABELS,
        units=unit_choices(current_user.unit),
        may_add=can(current_user, Permission.LIBRARY_EDIT),
        number=number,
        format_seconds=format_seconds,
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.LIBRARY_EDIT)
def new():
    """Thêm vào thư viện: upload a file with its title, kind, licence note and unit."""
    form = _upload_form()
    if request.method == "GET":
        return _upload_page(form)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _upload_page(form, status=422)
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        form.file.errors = ["Hãy chọn tệp âm thanh."]
        return _upload_page(form, "Chưa chọn tệp âm thanh nào.", 422)
    data = service.ItemInput(
        title=form.title.data or "",
        kind=form.kind.data,
        licence_note=form.licence_note.data or "",
        unit=db.session.get(Unit, form.unit_id.data) if form.unit_id.data else None,
    )
    if form.unit_id.data and data.unit is None:
        form.unit_id.errors = ["Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."]
        return _upload_page(form, status=422)
    try:
        added = service.add_item(current_user, data, upload.stream, upload.filename)
    except service.LibraryRefused as exc:
        db.session.rollback()
        return _upload_page(form, exc.message, exc.status)
    except DomainError as exc:
        db.session.rollback()
        if "unit" in exc.fields:
            exc.fields["unit_id"] = exc.fields.pop("unit")
        apply_errors(form, exc)
        return _upload_page(form, status=exc.status)
    item = added.item
    if added.duplicate:
        archived = " (đang ở mục lưu trữ; có thể khôi phục)" if item.archived else ""
        flash(
            f"Tệp này đã có trong thư viện của {item.unit.name}: “{item.title}”, thêm lúc "
            f"{to_local(item.created_at):%H:%M %d/%m/%Y}{archived}. Không lưu thêm bản nào; "
            "đây là mục đã có.",
            "info",
        )
        return redirect(url_for("library.show", item_id=item.id))
    flash(f"Đã thêm “{item.title}” vào thư viện.", "success")
    for warning in added.warnings:
        flash(warning, "warning")
    return redirect(url_for("library.show", item_id=item.id))


@bp.get("/<int:item_id>")
@permission_required(Permission.LIBRARY_VIEW)
def show(item_id: int):
    """One item: the player, its measures and the original's, licence, who added it."""
    item = service.get_item(current_user, item_id)
    history = []
    if can(current_user, Permission.AUDIT_VIEW):
        history = db.session.scalars(
            events_query(current_user.unit.path, object_type="library_item", object_id=item.id)
        ).all()
    return render_template(
        "library/show.html",
        item=item,
        may_edit=service.may_edit(current_user, item),
        action_form=ActionForm(),
        history=history,
        format_seconds=format_seconds,
        number=number,
    )


def _edit_page(item: LibraryItem, form: EditForm, status: int = 200):
    """The edit page."""
    return render_template("library/edit.html", item=item, form=form), status


@bp.route("/<int:item_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.LIBRARY_EDIT)
def edit(item_id: int):
    """Change an item's title, kind and licence note (the audio stays as it is)."""
    item = service.get_item(current_user, item_id)
    service.require_edit(current_user, item)
    if request.method == "GET":
        form = EditForm(
            formdata=None,
            title=item.title,
            kind=item.kind.value,
            licence_note=item.licence_note,
            revision=item.revision,
        )
        return _edit_page(item, form)
    form = EditForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _edit_page(item, form, 422)
    data = service.ItemInput(
        title=form.title.data or "", kind=form.kind.data, licence_note=form.licence_note.data
    )
    try:
        changed = service.update_item(current_user, item, data, form.revision.data or 0)
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _edit_page(service.get_item(current_user, item_id), form, exc.status)
    flash("Đã lưu thay đổi." if changed else "Không có gì thay đổi.", "success")
    return redirect(url_for("library.show", item_id=item.id))


def _set_archived(item_id: int, archived: bool):
    """Archive or restore an item from its page."""
    item = service.get_item(current_user, item_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash("Biểu mẫu không hợp lệ; hãy tải lại trang và thử lại.", "error")
        return redirect(url_for("library.show", item_id=item.id))
    try:
        service.set_archived(current_user, item, archived)
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 403:
            raise
        flash(exc.message, "error")
        return redirect(url_for("library.show", item_id=item.id))
    if archived:
        flash(
            f"Đã lưu trữ “{item.title}”: mục không còn hiện trong danh sách và không dùng được "
            "cho chương trình mới; có thể khôi phục.",
            "success",
        )
    else:
        flash(f"Đã khôi phục “{item.title}”.", "success")
    return redirect(url_for("library.show", item_id=item.id))


@bp.post("/<int:item_id>/archive")
@permission_required(Permission.LIBRARY_EDIT)
def archive(item_id: int):
    """Archive an item."""
    return _set_archived(item_id, True)


@bp.post("/<int:item_id>/restore")
@permission_required(Permission.LIBRARY_EDIT)
def restore(item_id: int):
    """Bring an archived item back."""
    return _set_archived(item_id, False)


def audio_response(item: LibraryItem):
    """Send an item's mastered audio, cacheable by its sha256 in the user's browser only."""
    response = send_file(
        service.audio_file(item),
        mimetype=item.media_type,
        download_name=f"loa-thu-vien-{item.id}.{item.audio_format}",
        conditional=True,
        etag=item.audio_sha256,
        max_age=3600,
    )
    response.cache_control.public = False
    response.cache_control.private = True
    return response


@bp.get("/<int:item_id>/audio")
@permission_required(Permission.LIBRARY_VIEW)
def audio(item_id: int):
    """The mastered audio of an item (Range requests work, for the player)."""
    return audio_response(service.get_item(current_user, item_id))


@bp.get("/<int:item_id>/original")
@permission_required(Permission.LIBRARY_VIEW)
def original(item_id: int):
    """The file as it was uploaded."""
    item = service.get_item(current_user, item_id)
    response = send_file(
        service.original_file(item),
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=item.original_name or f"loa-thu-vien-{item.id}-goc",
        conditional=True,
        etag=item.original_sha256,
    )
    response.cache_control.private = True
    return response
