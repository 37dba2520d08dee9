"""Dispatch desk pages: intake, the list and search, confirming the fields, drafts."""

from __future__ import annotations

from datetime import date

from flask import (
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

from app.auth.decorators import permission_required
from app.auth.permissions import Permission, can
from app.core.clock import to_local
from app.core.errors import Conflict, DomainError, NotFound
from app.core.forms import apply_errors, flash_form_errors
from app.core.text import parse_id
from app.dispatches import service
from app.dispatches.blueprint import bp
from app.dispatches.extract import MB
from app.dispatches.forms import ConfirmForm, DraftsForm, IntakeForm
from app.dispatches.models import DISPATCH_STATUS_LABELS, Dispatch, DispatchStatus
from app.extensions import db
from app.org.models import Unit
from app.org.service import unit_choices
from app.scripts.models import PRIORITY_LABELS


def _size_text(size: int) -> str:
    """A size as the officer reads it: '50 MB'."""
    return f"{size / MB:.0f} MB" if size >= MB else f"{size / 1024:.0f} KB"


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc):
    """A request body over the limit: the intake page again, saying how large is allowed."""
    limit = current_app.config["DISPATCH_MAX_BYTES"]
    size = request.content_length or 0
    if size > limit:
        message = (
            f"Tệp quá lớn ({_size_text(size)}): công văn được tải lên tối đa "
            f"{_size_text(limit)}. Không có gì được lưu."
        )
    else:
        message = (
            "Nội dung dán vào quá dài để là một công văn. Không có gì được lưu; hãy tải lên "
            "tệp PDF hoặc DOCX."
        )
    return _intake_page(IntakeForm(formdata=None), message, 413)


def _intake_page(form: IntakeForm, error: str | None = None, status: int = 200):
    """The intake page, with the reason the last upload was refused."""
    limit = current_app.config["DISPATCH_MAX_BYTES"]
    page = render_template(
        "dispatches/intake.html",
        form=form,
        error=error,
        max_size=_size_text(limit),
        max_pages=current_app.config["DISPATCH_MAX_PAGES"],
    )
    return page, status


@bp.get("/")
@permission_required(Permission.SCRIPT_VIEW)
def index():
    """Dispatches of the user's units: accent-insensitive search and a status filter."""
    q = request.args.get("q", "").strip()[:200]
    status = request.args.get("status", "")
    chosen = DispatchStatus(status) if status in {s.value for s in DispatchStatus} else None
    page = db.paginate(
        service.dispatches_query(current_user, q, chosen),
        per_page=current_app.config["SCRIPTS_PER_PAGE"],
        error_out=False,
    )
    return render_template(
        "dispatches/index.html", page=page, q=q, status=chosen, labels=DISPATCH_STATUS_LABELS
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.SCRIPT_EDIT)
def new():
    """Nhận công văn: upload a file or paste its text; then the confirm page."""
    form = IntakeForm()
    if request.method == "GET":
        return _intake_page(form)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _intake_page(form, "Biểu mẫu không hợp lệ; hãy tải lại trang và thử lại.", 400)
    upload = form.file.data
    pasted = (form.text.data or "").strip()
    has_file = upload is not None and bool(getattr(upload, "filename", ""))
    if has_file and pasted:
        return _intake_page(
            form, "Chọn một trong hai: tải tệp lên hoặc dán nội dung, không cả hai.", 422
        )
    if not has_file and not pasted:
        return _intake_page(form, "Hãy chọn tệp công văn hoặc dán nội dung của nó.", 422)
    try:
        if has_file:
            received = service.receive_dispatch(
                current_user, data=upload.read(), filename=upload.filename
            )
        else:
            received = service.receive_dispatch(current_user, text=form.text.data)
    except service.DispatchRefused as exc:
        db.session.rollback()
        return _intake_page(form, exc.message, exc.status)
    dispatch = received.dispatch
    if received.duplicate:
        flash(
            f"Công văn này đã được nhận lúc {to_local(dispatch.received_at):%H:%M %d/%m/%Y} "
            f"(cùng nội dung, sha256 {dispatch.sha256[:12]}…): không lưu thêm bản nào. "
            "Đây là công văn đã có.",
            "info",
        )
        return redirect(url_for("dispatches.show", dispatch_id=dispatch.id))
    flash(
        f"Đã nhận {dispatch.label}. Hãy kiểm tra và xác nhận các thông tin Loa đọc được.",
        "success",
    )
    return redirect(url_for("dispatches.confirm", dispatch_id=dispatch.id))


def _units_in_scope(ids: list[int]) -> list[Unit]:
    """The chosen units (the choices are the user's subtree, so each is in scope)."""
    return [u for u in (db.session.get(Unit, i) for i in ids) if u is not None]


def _initial(dispatch: Dispatch) -> dict:
    """The confirm form's values from what is stored (and suggested, before confirming)."""

    def day(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    targets = dispatch.targets
    if dispatch.status == DispatchStatus.RECEIVED and not targets:
        targets = service.suggest_targets(dispatch, current_user)
    return {
        "parent_issuer": dispatch.parent_issuer,
        "issuer": dispatch.issuer,
        "kind": dispatch.kind,
        "number": dispatch.number,
        "code": dispatch.code,
        "place": dispatch.place,
        "issued_on": dispatch.issued_on,
        "subject": dispatch.subject,
        "urgency": dispatch.urgency if dispatch.urgency in service.URGENCIES else "",
        "secrecy": dispatch.secrecy if dispatch.secrecy in service.SECRECIES else "",
        "addressees": "\n".join(dispatch.addressees or []),
        "distribution": "\n".join(dispatch.distribution or []),
        "signer_title": dispatch.signer_title,
        "signer_name": dispatch.signer_name,
        "cites": [{**c, "date": day(c.get("date"))} for c in dispatch.cites or []] + [{}],
        "contacts": [
            {"type": c.get("type"), "value": c.get("value"), "name": c.get("name") or ""}
            for c in dispatch.contacts or []
        ]
        + [{}],
        "deadlines": [{**d, "date": day(d.get("date"))} for d in dispatch.deadlines or []] + [{}],
        "campaign": dispatch.campaign,
        "valid_from": dispatch.valid_from,
        "valid_until": dispatch.valid_until,
        "report_due": dispatch.report_due,
        "targets": [u.id for u in targets],
        "revision": str(dispatch.revision),
    }


def _lines(text: str | None) -> list[str]:
    """A textarea's non-empty lines, list dashes and closing ';' dropped."""
    out = []
    for line in (text or "").splitlines():
        line = line.strip().lstrip("-–•+ ").rstrip(";").strip()
        if line:
            out.append(line)
    return out


def _input_from_form(form: ConfirmForm, dispatch: Dispatch) -> service.DispatchInput:
    """The service input from the submitted form."""
    written = {c.get("value"): c.get("text") for c in dispatch.contacts or []}
    cites = [
        {
            "kind": row.kind.data or "",
            "number": row.number.data,
            "code": row.code.data or "",
            "date": row.date.data.isoformat() if row.date.data else None,
            "issuer": row.issuer.data or "",
        }
        for row in (entry.form for entry in form.cites)
    ]
    contacts = [
        {
            "type": row.type.data,
            "value": (row.value.data or "").strip(),
            "text": written.get((row.value.data or "").strip()) or "",
            "name": row.name.data or "",
        }
        for row in (entry.form for entry in form.contacts)
        if (row.value.data or "").strip() or (row.name.data or "").strip()
    ]
    deadlines = [
        {
            "date": row.date.data.isoformat() if row.date.data else None,
            "time": (row.time.data or "").strip() or None,
            "text": row.text.data or "",
        }
        for row in (entry.form for entry in form.deadlines)
    ]
    return service.DispatchInput(
        number=form.number.data,
        code=form.code.data or "",
        kind=form.kind.data or "",
        issuer=form.issuer.data or "",
        parent_issuer=form.parent_issuer.data or "",
        place=form.place.data or "",
        issued_on=form.issued_on.data,
        subject=form.subject.data or "",
        urgency=form.urgency.data or "",
        secrecy=form.secrecy.data or "",
        addressees=_lines(form.addressees.data),
        distribution=_lines(form.distribution.data),
        signer_title=form.signer_title.data or "",
        signer_name=form.signer_name.data or "",
        cites=cites,
        contacts=contacts,
        deadlines=deadlines,
        campaign=form.campaign.data or "",
        valid_from=form.valid_from.data,
        valid_until=form.valid_until.data,
        report_due=form.report_due.data,
        targets=_units_in_scope(form.targets.data or []),
    )


@bp.route("/<int:dispatch_id>/confirm", methods=["GET", "POST"])
@permission_required(Permission.SCRIPT_EDIT)
def confirm(dispatch_id: int):
    """Xác nhận công văn: every field editable, the text beside it, the reader's problems."""
    dispatch = service.get_dispatch(current_user, dispatch_id)
    if dispatch.status == DispatchStatus.CLOSED:
        flash("Công văn đã báo cáo và đóng, không sửa được nữa.", "error")
        return redirect(url_for("dispatches.show", dispatch_id=dispatch.id))
    form = ConfirmForm() if request.method == "POST" else ConfirmForm(data=_initial(dispatch))
    form.targets.choices = unit_choices(current_user.unit)
    stale = False
    if form.validate_on_submit():
        revision = form.revision.data or ""
        try:
            service.confirm_dispatch(
                current_user,
                dispatch,
                _input_from_form(form, dispatch),
                -1 if parse_id(revision) is None else parse_id(revision),
            )
        except Conflict as exc:
            db.session.rollback()
            apply_errors(form, exc)
            # Saving again now knowingly replaces the newer fields with these.
            form.revision.data = str(dispatch.revision)
            stale = True
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"Đã xác nhận {dispatch.label}.", "success")
            return redirect(url_for("dispatches.show", dispatch_id=dispatch.id))
    elif request.method == "POST":
        flash_form_errors(form)
    status = 409 if stale else (422 if request.method == "POST" else 200)
    suggested = service.suggested_priority(form.urgency.data or dispatch.urgency)
    return render_template(
        "dispatches/confirm.html",
        d=dispatch,
        form=form,
        stale=stale,
        suggested_priority=PRIORITY_LABELS[suggested],
        suggested_targets=service.suggest_targets(dispatch, current_user),
    ), status


@bp.get("/<int:dispatch_id>")
@permission_required(Permission.SCRIPT_VIEW)
def show(dispatch_id: int):
    """A dispatch: what it says, its original, its points and the scripts drafted from it."""
    dispatch = service.get_dispatch(current_user, dispatch_id)
    return render_template(
        "dispatches/show.html",
        d=dispatch,
        scripts=service.scripts_of(dispatch),
        opening=service.opening_of(dispatch),
        priority=PRIORITY_LABELS[service.suggested_priority(dispatch.urgency)],
        may_edit=can(current_user, Permission.SCRIPT_EDIT),
        drafts_form=DraftsForm(formdata=None),
        has_tracking="dispatches.tracking" in current_app.view_functions,
    )


@bp.get("/<int:dispatch_id>/original")
@permission_required(Permission.SCRIPT_VIEW)
def original(dispatch_id: int):
    """The original file as received (inline, or as a download with ?download=1)."""
    dispatch = service.get_dispatch(current_user, dispatch_id)
    path = service.original_path(dispatch)
    if not path.is_file():
        raise NotFound("Không tìm thấy tệp gốc của công văn này trên máy chủ.")
    response = send_file(
        path,
        mimetype=dispatch.media_type or "application/octet-stream",
        as_attachment=request.args.get("download") == "1",
        download_name=dispatch.file_name or f"cong-van-{dispatch.id}",
        conditional=True,
        etag=dispatch.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


@bp.post("/<int:dispatch_id>/drafts")
@permission_required(Permission.SCRIPT_EDIT)
def drafts(dispatch_id: int):
    """Tạo bản nháp: one opening draft, or one draft per chosen point."""
    dispatch = service.get_dispatch(current_user, dispatch_id)
    form = DraftsForm()
    if not form.validate_on_submit():
        flash("Biểu mẫu không hợp lệ; hãy tải lại trang và thử lại.", "error")
        return redirect(url_for("dispatches.show", dispatch_id=dispatch.id))
    raw = request.form.getlist("points")
    if any(parse_id(value) is None for value in raw):
        flash("Mục đã chọn không có trong công văn.", "error")
        return redirect(url_for("dispatches.show", dispatch_id=dispatch.id))
    try:
        made = service.make_drafts(
            current_user,
            dispatch,
            opening=request.form.get("kind") == "opening",
            points=[int(v) for v in raw] if request.form.get("kind") == "points" else [],
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("dispatches.show", dispatch_id=dispatch.id))
    if len(made) == 1:
        flash(f"Đã tạo bản nháp “{made[0].title}”: hãy sửa mở đầu và nội dung.", "success")
        return redirect(url_for("scripts.show", script_id=made[0].id))
    flash(f"Đã tạo {len(made)} bản nháp từ công văn.", "success")
    return redirect(url_for("dispatches.show", dispatch_id=dispatch.id) + "#scripts")
