"""Script desk pages: list, editor, detail, versions and diff, review."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.auth.decorators import permission_required
from app.auth.permissions import Permission, can
from app.core.errors import Conflict, DomainError, ValidationError
from app.core.forms import apply_errors, flash_form_errors
from app.core.text import count_syllables, parse_id, reading_seconds
from app.extensions import db
from app.org.models import Unit
from app.org.service import subtree_units, unit_choices
from app.scripts import service
from app.scripts.forms import ApproveForm, RejectForm, ScriptForm
from app.scripts.models import PRIORITY_LABELS, STATUS_LABELS, Priority, ScriptStatus
from app.speech.views import panel_context

bp = Blueprint("scripts", __name__)


def _status_counts() -> dict[ScriptStatus, int]:
    """Scripts per status in the user's subtree, counted once per request."""
    if "loa_status_counts" not in g:
        g.loa_status_counts = service.count_by_status(current_user)
    return g.loa_status_counts


@bp.app_context_processor
def inject_labels():
    """Labels and counters used across templates."""
    pending = 0
    if current_user.is_authenticated and can(current_user, Permission.SCRIPT_REVIEW):
        pending = _status_counts().get(ScriptStatus.SUBMITTED, 0)
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "PRIORITY_LABELS": PRIORITY_LABELS,
        "pending_reviews": pending,
    }


def _reading(body: str) -> dict:
    """Character count and reading-time estimate for the editor and detail page."""
    spm = current_app.config["READING_SYLLABLES_PER_MINUTE"]
    return {
        "chars": len(body),
        "syllables": count_syllables(body),
        "seconds": reading_seconds(body, spm),
    }


@bp.get("/")
@login_required
def home():
    """Start page: the script list."""
    return redirect(url_for("scripts.index"))


def _parse_filters() -> service.ScriptFilter:
    """Read the list's filters from the query string, ignoring values that make no sense."""
    args = request.args
    filters = service.ScriptFilter(
        q=args.get("q", "").strip(), campaign=args.get("campaign", "").strip()
    )
    if args.get("status") in {s.value for s in ScriptStatus}:
        filters.status = ScriptStatus(args["status"])
    if args.get("priority") in {p.value for p in Priority}:
        filters.priority = Priority(args["priority"])
    if parse_id(args.get("unit", "")) is not None:
        filters.unit_id = parse_id(args["unit"])
    return filters


@bp.get("/scripts")
@permission_required(Permission.SCRIPT_VIEW)
def index():
    """Search and filter the scripts of the user's units."""
    filters = _parse_filters()
    try:
        query = service.scripts_query(current_user, filters)
    except ValidationError as exc:
        flash(exc.message, "error")
        filters.unit_id = None
        query = service.scripts_query(current_user, filters)
    page = db.paginate(query, per_page=current_app.config["SCRIPTS_PER_PAGE"], error_out=False)
    return render_template(
        "scripts/index.html",
        page=page,
        filters=filters,
        campaigns=service.campaigns_for(current_user),
        units=subtree_units(current_user.unit),
        base_depth=current_user.unit.depth,
        counts=_status_counts(),
    )


def _form_choices(form: ScriptForm) -> None:
    """Units of the user's subtree for the owner and target selectors."""
    choices = unit_choices(current_user.unit)
    form.unit_id.choices = choices
    form.targets.choices = choices


def _fixed_targets(script) -> list[Unit]:
    """Targets outside the user's subtree: not offered in the form, kept as they are."""
    if script is None:
        return []
    return [u for u in script.targets if not current_user.unit.contains(u)]


def _input_from_form(form: ScriptForm, script=None) -> service.ScriptInput:
    """Build the service input from a validated form."""
    unit = db.session.get(Unit, form.unit_id.data)
    targets = [db.session.get(Unit, uid) for uid in form.targets.data or []]
    targets += _fixed_targets(script)
    return service.ScriptInput(
        title=form.title.data or "",
        body=form.body.data or "",
        unit=unit,
        priority=Priority(form.priority.data),
        campaign=form.campaign.data or "",
        category=form.category.data or "",
        source_kind=form.source_kind.data or "",
        source_number=form.source_number.data or "",
        source_date=form.source_date.data,
        source_issuer=form.source_issuer.data or "",
        valid_from=form.valid_from.data,
        valid_until=form.valid_until.data,
        targets=[t for t in targets if t is not None],
    )


@bp.route("/scripts/new", methods=["GET", "POST"])
@permission_required(Permission.SCRIPT_EDIT)
def new():
    """Draft a new script."""
    form = ScriptForm()
    _form_choices(form)
    if request.method == "GET":
        form.unit_id.data = current_user.unit_id
        form.targets.data = [current_user.unit_id]
        form.priority.data = Priority.NORMAL.value
    if form.validate_on_submit():
        try:
            script = service.create_script(current_user, _input_from_form(form))
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash("Đã lưu bản nháp (phiên bản 1).", "success")
            return redirect(url_for("scripts.show", script_id=script.id))
    else:
        flash_form_errors(form)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "scripts/edit.html", form=form, script=None, reading=_reading(form.body.data or "")
    ), status


@bp.route("/scripts/<int:script_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.SCRIPT_EDIT)
def edit(script_id: int):
    """Edit a script; a changed body becomes a new version."""
    script = service.get_script(current_user, script_id)
    if script.is_programme:
        return redirect(url_for("programmes.edit", script_id=script.id))
    if script.status == ScriptStatus.ARCHIVED:
        flash("Kịch bản đã lưu trữ, không sửa được nữa.", "error")
        return redirect(url_for("scripts.show", script_id=script.id))
    form = ScriptForm(obj=script)
    _form_choices(form)
    if request.method == "GET":
        form.priority.data = script.priority.value
        form.targets.data = [u.id for u in script.targets]
        form.body.data = script.current_version.body
        form.revision.data = str(script.revision)
    stale = False
    if form.validate_on_submit():
        revision = parse_id(form.revision.data)
        revision = -1 if revision is None else revision
        try:
            _, changed = service.update_script(
                current_user, script, _input_from_form(form, script), revision
            )
        except Conflict as exc:
            db.session.rollback()
            apply_errors(form, exc)
            # Keep the editor's text; saving again now knowingly replaces the newer version.
            form.revision.data = str(script.revision)
            stale = True
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            if changed:
                flash(
                    f"Đã lưu. Phiên bản hiện tại: {script.version_number}; trạng thái: "
                    f"{script.status.label}.",
                    "success",
                )
            else:
                flash("Không có gì thay đổi.", "info")
            return redirect(url_for("scripts.show", script_id=script.id))
    else:
        flash_form_errors(form)
    status = 409 if stale else (422 if request.method == "POST" else 200)
    return render_template(
        "scripts/edit.html",
        form=form,
        script=script,
        stale=stale,
        fixed_targets=_fixed_targets(script),
        reading=_reading(form.body.data or ""),
    ), status


@bp.get("/scripts/<int:script_id>")
@permission_required(Permission.SCRIPT_VIEW)
def show(script_id: int):
    """A script with its current text, versions, decisions and available actions."""
    script = service.get_script(current_user, script_id)
    if script.is_programme:
        return redirect(url_for("programmes.show", script_id=script.id))
    version = script.current_version
    return render_template(
        "scripts/show.html",
        script=script,
        dispatch=_dispatch_of(script),
        version=version,
        reading=_reading(version.body),
        speech=panel_context(script),
        approve_form=ApproveForm(formdata=None, version_id=version.id),
        reject_form=RejectForm(formdata=None, version_id=version.id),
    )


def _dispatch_of(script):
    """The dispatch the script was drafted from, when the user may see it."""
    from app.dispatches.models import Dispatch

    dispatch = db.session.get(Dispatch, script.dispatch_id) if script.dispatch_id else None
    return dispatch if dispatch is not None and current_user.unit.contains(dispatch.unit) else None


@bp.get("/scripts/<int:script_id>/versions/<int:number>")
@permission_required(Permission.SCRIPT_VIEW)
def version(script_id: int, number: int):
    """One past version, read-only."""
    script = service.get_script(current_user, script_id)
    ver = service.get_version(script, number)
    return render_template(
        "scripts/version.html", script=script, version=ver, reading=_reading(ver.body)
    )


@bp.get("/scripts/<int:script_id>/diff")
@permission_required(Permission.SCRIPT_VIEW)
def diff(script_id: int):
    """Compare any two versions word by word."""
    script = service.get_script(current_user, script_id)
    numbers = [v.number for v in script.versions]
    a = request.args.get("a", type=int) or (numbers[-2] if len(numbers) > 1 else numbers[-1])
    b = request.args.get("b", type=int) or numbers[-1]
    old, new = service.get_version(script, a), service.get_version(script, b)
    return render_template(
        "scripts/diff.html",
        script=script,
        old=old,
        new=new,
        numbers=numbers,
        chunks=service.diff_versions(old.body, new.body),
    )


@bp.post("/scripts/<int:script_id>/submit")
@permission_required(Permission.SCRIPT_EDIT)
def submit(script_id: int):
    """Send the current version for review."""
    script = service.get_script(current_user, script_id)
    try:
        service.submit_script(current_user, script)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Đã gửi duyệt phiên bản {script.version_number}.", "success")
    return redirect(url_for("scripts.show", script_id=script_id))


@bp.get("/review")
@permission_required(Permission.SCRIPT_REVIEW)
def queue():
    """Scripts waiting for the supervisor's decision."""
    return render_template("scripts/queue.html", scripts=service.pending_reviews(current_user))


@bp.get("/scripts/<int:script_id>/review")
@permission_required(Permission.SCRIPT_REVIEW)
def review(script_id: int):
    """The review page: the submitted text, what changed since the last approval, decisions."""
    script = service.get_script(current_user, script_id)
    return _review_page(script, RejectForm(formdata=None, version_id=script.current_version_id))


def _review_page(script, reject_form: RejectForm, status: int = 200):
    """Render the review page: text, changes since the last approval, decision forms."""
    version = script.current_version
    chunks = None
    if script.approved_version and script.approved_version.id != version.id:
        chunks = service.diff_versions(script.approved_version.body, version.body)
    page = render_template(
        "scripts/review.html",
        script=script,
        version=version,
        chunks=chunks,
        reading=_reading(version.body),
        approve_form=ApproveForm(formdata=None, version_id=version.id),
        reject_form=reject_form,
        rundown=_programme_rundown(script),
    )
    return page, status


def _programme_rundown(script) -> dict | None:
    """A programme's submitted rundown with each item's start in the submitted mix."""
    if not script.is_programme:
        return None
    from app.programmes.views import rundown_context  # programmes build on scripts

    return rundown_context(script.current_version_id, script.submitted_render)


def _version_id(form) -> int | None:
    """The version the supervisor was looking at."""
    value = form.version_id.data or ""
    return parse_id(value)


@bp.post("/scripts/<int:script_id>/approve")
@permission_required(Permission.SCRIPT_REVIEW)
def approve(script_id: int):
    """Approve the version shown on the review page."""
    script = service.get_script(current_user, script_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        service.approve_script(current_user, script, _version_id(form))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Đã duyệt phiên bản {script.current_version.number}.", "success")
    return redirect(url_for("scripts.show", script_id=script_id))


@bp.post("/scripts/<int:script_id>/reject")
@permission_required(Permission.SCRIPT_REVIEW)
def reject(script_id: int):
    """Reject the version shown, with a reason."""
    script = service.get_script(current_user, script_id)
    form = RejectForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        service.reject_script(current_user, script, form.reason.data or "", _version_id(form))
    except ValidationError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _review_page(script, form, 422)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash("Đã từ chối; người soạn sẽ thấy lý do.", "success")
    return redirect(url_for("scripts.show", script_id=script_id))


@bp.post("/scripts/<int:script_id>/archive")
@permission_required(Permission.SCRIPT_ARCHIVE)
def archive(script_id: int):
    """Archive a script."""
    script = service.get_script(current_user, script_id)
    try:
        service.archive_script(current_user, script)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash("Đã lưu trữ kịch bản.", "success")
    return redirect(url_for("scripts.show", script_id=script_id))
