"""The admin's agents page: every station of the subtree with its playout mode, agents and their
health; add an agent (its one-time code shown once), revoke one, switch a station's mode, clear
a chain flag."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.agents import health, ingest, service
from app.agents.forms import AgentForm, ModeForm
from app.agents.service import NewAgent
from app.auth.decorators import permission_required
from app.auth.permissions import Permission, require_scope
from app.core import clock
from app.core.clock import to_local
from app.core.errors import DomainError, NotFound
from app.core.forms import apply_errors, flash_form_errors
from app.extensions import db
from app.org.models import Station

bp = Blueprint("agents", __name__, url_prefix="/admin")


def _offset(seconds: float) -> str:
    """A clock offset as the page shows it; one that rounds to zero has no sign (not -0,0)."""
    return "0,0" if abs(seconds) < 0.05 else health.offset_text(seconds)


def _page(form: AgentForm, new: NewAgent | None = None, status: int = 200):
    """The agents page with the add form as given (and a new agent's code, once)."""
    stations = service.stations_in_scope(current_user)
    form.station_id.choices = [(s.id, f"{s.name} ({s.code})") for s in stations]
    return render_template(
        "agents/index.html",
        stations=stations,
        agents=service.agents_of(stations),
        states=health.station_states(stations, clock.now()),
        size=health.size_text,
        offset=_offset,
        form=form,
        mode_form=ModeForm(formdata=None),
        new=new,
        code_hours=service.code_hours(),
        # What the technician types after --server: this server as the admin reached it.
        server_url=request.url_root.rstrip("/"),
    ), status


def _station(station_id: int) -> Station:
    """A station of the admin's subtree."""
    station = db.session.get(Station, station_id)
    if station is None:
        raise NotFound("Không tìm thấy đài.")
    require_scope(current_user, station.unit, "Đài")
    return station


@bp.get("/agents")
@permission_required(Permission.ADMIN)
def index():
    """Stations of the subtree with their playout mode and agents."""
    return _page(AgentForm(formdata=None))


@bp.post("/agents")
@permission_required(Permission.ADMIN)
def add():
    """Add an agent for a station and show its one-time enrolment code."""
    form = AgentForm()
    form.station_id.choices = [(s.id, s.name) for s in service.stations_in_scope(current_user)]
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _page(form, status=422)
    try:
        new = service.add_agent(current_user, _station(form.station_id.data), form.name.data or "")
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _page(form, status=422)
    expires = to_local(new.expires_at).strftime("%H:%M ngày %d/%m/%Y")
    flash(f"Đã thêm máy trạm “{new.agent.name}”. Mã đăng ký dùng được đến {expires}.", "success")
    # Rendered, not redirected: the code must not travel in a URL or the session.
    return _page(AgentForm(formdata=None), new=new)


@bp.post("/agents/<int:agent_id>/revoke")
@permission_required(Permission.ADMIN)
def revoke(agent_id: int):
    """Revoke an agent: its credential stops working at once."""
    agent = service.get_agent(current_user, agent_id)
    try:
        service.revoke_agent(current_user, agent)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Đã thu hồi máy trạm “{agent.name}”: nó không tải được lịch nữa.", "success")
    return redirect(url_for("agents.index", _anchor=f"dai-{agent.station_id}"))


@bp.post("/stations/<int:station_id>/playout-mode")
@permission_required(Permission.ADMIN)
def set_mode(station_id: int):
    """Switch who airs a station: the central server or its agent."""
    station = _station(station_id)
    form = ModeForm()
    if not form.validate_on_submit():
        errors = [e for field in form for e in field.errors]
        flash(" ".join(errors) or "Hãy chọn chế độ phát.", "error")
    else:
        try:
            service.set_playout_mode(current_user, station, form.mode.data)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(f"Đài “{station.name}” chuyển sang “{station.playout_mode.label}”.", "success")
    return redirect(url_for("agents.index", _anchor=f"dai-{station.id}"))


@bp.post("/agents/<int:agent_id>/clear-flag")
@permission_required(Permission.ADMIN)
def clear_flag(agent_id: int):
    """Clear an agent's chain flag: its next batch of log rows is checked afresh."""
    agent = service.get_agent(current_user, agent_id)
    try:
        ingest.clear_chain_flag(current_user, agent)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(
            f"Đã gỡ đánh dấu chuỗi nhật ký đứt của máy trạm “{agent.name}”: lô nhật ký sau của "
            "nó sẽ được kiểm tra lại từ đầu.",
            "success",
        )
    return redirect(url_for("agents.index", _anchor=f"dai-{agent.station_id}"))
