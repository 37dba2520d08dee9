"""Admin pages for units, stations and their broadcast sessions."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.decorators import permission_required
from app.auth.permissions import Permission, require_scope
from app.core.errors import DomainError, NotFound
from app.core.forms import apply_errors, flash_form_errors
from app.extensions import db
from app.org import service
from app.org.forms import WEEKDAYS, SessionForm, StationForm, UnitForm
from app.org.models import BroadcastSession, Station, StationKind, Unit
from app.speech.engines import engine_choices
from app.speech.views import voice_choices

bp = Blueprint("org", __name__, url_prefix="/admin")


def _scoped(model, object_id: int, what: str):
    """Load a unit or station of the admin's subtree."""
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(f"Không tìm thấy {what.lower()}.")
    require_scope(current_user, obj if isinstance(obj, Unit) else obj.unit, what)
    return obj


@bp.get("/units")
@permission_required(Permission.ADMIN)
def units():
    """The unit tree of the admin's subtree."""
    rows = service.subtree_units(current_user.unit)
    return render_template("org/units.html", units=rows, base_depth=current_user.unit.depth)


@bp.route("/units/new", methods=["GET", "POST"])
@permission_required(Permission.ADMIN)
def new_unit():
    """Create a unit."""
    form = UnitForm()
    form.parent_id.choices = service.unit_choices(current_user.unit)
    if form.validate_on_submit():
        try:
            unit = service.create_unit(
                current_user,
                service.UnitInput(
                    code=form.code.data,
                    name=form.name.data,
                    level=form.level.data,
                    parent=db.session.get(Unit, form.parent_id.data),
                    active=form.active.data,
                ),
            )
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"Đã tạo đơn vị {unit.name}.", "success")
            return redirect(url_for("org.units"))
    else:
        flash_form_errors(form)
    return render_template("org/unit_form.html", form=form, unit=None)


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@permission_required(Permission.ADMIN)
def edit_unit(unit_id: int):
    """Edit or move a unit."""
    unit = _scoped(Unit, unit_id, "Đơn vị")
    form = UnitForm(obj=unit)
    if unit.id == current_user.unit_id:
        # An admin's own unit stays where it is; its parent lies outside their reach.
        form.parent_id.choices = [(unit.parent_id or 0, unit.parent.name if unit.parent else "—")]
    else:
        form.parent_id.choices = service.unit_choices(current_user.unit, exclude=unit)
    if form.validate_on_submit():
        parent = db.session.get(Unit, form.parent_id.data) if form.parent_id.data else None
        try:
            service.update_unit(
                current_user,
                unit,
                service.UnitInput(
                    code=form.code.data,
                    name=form.name.data,
                    level=form.level.data,
                    parent=parent,
                    active=form.active.data,
                ),
            )
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"Đã lưu đơn vị {unit.name}.", "success")
            return redirect(url_for("org.units"))
    else:
        flash_form_errors(form)
    return render_template("org/unit_form.html", form=form, unit=unit)


@bp.get("/stations")
@permission_required(Permission.ADMIN)
def stations():
    """Stations of the admin's subtree."""
    rows = db.session.scalars(
        select(Station)
        .join(Unit)
        .where(Unit.path.startswith(current_user.unit.path))
        .order_by(Unit.path, Station.code)
    ).all()
    return render_template("org/stations.html", stations=rows)


def _station_choices(form: StationForm) -> None:
    """Fill the select boxes of the station form."""
    form.unit_id.choices = service.unit_choices(current_user.unit)
    form.speech_engine.choices = [("", "Theo cấu hình chung"), *engine_choices()]
    form.speech_voice.choices = [("", "Giọng mặc định của bộ đọc"), *voice_choices()]


def _station_input(form: StationForm) -> service.StationInput:
    """The station as the form describes it, speech defaults included."""
    return service.StationInput(
        code=form.code.data,
        name=form.name.data,
        kind=StationKind(form.kind.data),
        unit=db.session.get(Unit, form.unit_id.data),
        active=form.active.data,
        intro_text=form.intro_text.data or "",
        speech_engine=form.speech_engine.data or "",
        speech_voice=form.speech_voice.data or "",
        target_lufs=-16.0 if form.target_lufs.data is None else form.target_lufs.data,
        true_peak_db=-1.0 if form.true_peak_db.data is None else form.true_peak_db.data,
        misfire_policy=form.misfire_policy.data or "late",
        grace_s=None if form.grace_minutes.data is None else form.grace_minutes.data * 60.0,
        interrupt_policy=form.interrupt_policy.data or "requeue",
    )


def _default_grace() -> str:
    """The runner's grace (PLAYOUT_GRACE_S) in minutes, as the form's hint shows it."""
    minutes = current_app.config.get("PLAYOUT_GRACE_S", 300.0) / 60
    return f"{minutes:g}".replace(".", ",")


def _station_form(station: Station) -> StationForm:
    """The form of an existing station; the grace is shown in whole minutes."""
    grace = None if station.grace_s is None else round(station.grace_s / 60)
    return StationForm(obj=station, kind=station.kind.value, grace_minutes=grace)


def _apply_station_errors(form: StationForm, exc: DomainError) -> None:
    """Show a service error on the form; the grace is kept in seconds there, minutes here."""
    if "grace_s" in exc.fields:
        exc.fields = {("grace_minutes" if k == "grace_s" else k): v for k, v in exc.fields.items()}
    apply_errors(form, exc)


@bp.route("/stations/new", methods=["GET", "POST"])
@permission_required(Permission.ADMIN)
def new_station():
    """Create a station."""
    form = StationForm()
    _station_choices(form)
    if form.validate_on_submit():
        try:
            station = service.create_station(
                current_user,
                _station_input(form),
            )
        except DomainError as exc:
            db.session.rollback()
            _apply_station_errors(form, exc)
        else:
            flash(f"Đã tạo đài {station.name}. Hãy thêm các buổi phát.", "success")
            return redirect(url_for("org.edit_station", station_id=station.id))
    else:
        flash_form_errors(form)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "org/station_form.html", form=form, station=None, default_grace=_default_grace()
    ), status


@bp.route("/stations/<int:station_id>", methods=["GET", "POST"])
@permission_required(Permission.ADMIN)
def edit_station(station_id: int):
    """Edit a station and list its sessions."""
    station = _scoped(Station, station_id, "Đài")
    form = _station_form(station)
    _station_choices(form)
    if form.validate_on_submit():
        try:
            service.update_station(
                current_user,
                station,
                _station_input(form),
            )
        except DomainError as exc:
            db.session.rollback()
            _apply_station_errors(form, exc)
        else:
            flash(f"Đã lưu đài {station.name}.", "success")
            return redirect(url_for("org.edit_station", station_id=station.id))
    else:
        flash_form_errors(form)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "org/station_form.html",
        form=form,
        station=station,
        session_form=SessionForm(formdata=None),
        weekdays=dict(WEEKDAYS),
        default_grace=_default_grace(),
    ), status


@bp.post("/stations/<int:station_id>/sessions")
@permission_required(Permission.ADMIN)
def add_session(station_id: int):
    """Add a broadcast session to a station."""
    station = _scoped(Station, station_id, "Đài")
    session_form = SessionForm()
    if session_form.validate_on_submit():
        try:
            service.add_session(
                current_user,
                station,
                session_form.name.data,
                session_form.start_time.data,
                session_form.end_time.data,
                session_form.cap_minutes.data,
                "".join(session_form.weekdays.data or []),
            )
        except DomainError as exc:
            db.session.rollback()
            apply_errors(session_form, exc)
        else:
            flash("Đã thêm buổi phát.", "success")
            return redirect(url_for("org.edit_station", station_id=station.id))
    else:
        flash("Buổi phát chưa thêm được: hãy sửa các ô được đánh dấu.", "error")
    form = _station_form(station)
    _station_choices(form)
    return render_template(
        "org/station_form.html",
        form=form,
        station=station,
        session_form=session_form,
        weekdays=dict(WEEKDAYS),
        default_grace=_default_grace(),
    ), 422


@bp.post("/sessions/<int:session_id>/delete")
@permission_required(Permission.ADMIN)
def delete_session(session_id: int):
    """Remove a broadcast session."""
    session = db.session.get(BroadcastSession, session_id)
    if session is None:
        raise NotFound("Không tìm thấy buổi phát.")
    require_scope(current_user, session.station.unit, "Buổi phát")
    station_id = session.station_id
    service.remove_session(current_user, session)
    flash("Đã xóa buổi phát.", "success")
    return redirect(url_for("org.edit_station", station_id=station_id))
