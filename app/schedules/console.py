"""Operator pages: station rundowns (day and week), M3U export, the console, the broadcast log."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from app.agents import health as agent_health
from app.auth.decorators import permission_required
from app.auth.models import User
from app.auth.permissions import Permission, can, in_scope
from app.broadcast.models import LOG_STATUS_LABELS, BroadcastLog, LogStatus
from app.broadcast.service import (
    LogFilter,
    VerifyResult,
    campaigns_in_scope,
    log_query,
    verify_chain,
)
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import DomainError, NotFound
from app.core.forms import apply_errors
from app.core.text import parse_id
from app.extensions import db
from app.org.models import BroadcastSession, PlayoutMode, Station, Unit
from app.playout import manual as playout
from app.playout.runner import format_span
from app.programmes.service import logged_items
from app.schedules import service
from app.schedules.console_forms import AirNowForm, LiveReadForm, ReasonForm
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import PRIORITY_LABELS, Script, ScriptStatus
from app.speech.service import audio_dir

bp = Blueprint("playout", __name__, url_prefix="/playout")

# How often the console asks for the rundown again, in seconds.
REFRESH_S = 5
LOG_PER_PAGE = 50
WEEKDAY_NAMES = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]
OUTSIDE_SESSIONS = "Ngoài buổi phát"
# Airings that hold airtime in their session, as the sequencer counts them against the cap.
COUNTED = frozenset(
    {
        AiringStatus.PLANNED,
        AiringStatus.CLAIMED,
        AiringStatus.AIRED,
        AiringStatus.AIRED_LATE,
        AiringStatus.PARTIAL,
        AiringStatus.INTERRUPTED,
        AiringStatus.FAILED,
    }
)
# What a day's M3U lists: airings that will air or did (fully or in part).
IN_PLAYLIST = frozenset(
    {
        AiringStatus.PLANNED,
        AiringStatus.CLAIMED,
        AiringStatus.AIRED,
        AiringStatus.AIRED_LATE,
        AiringStatus.PARTIAL,
        AiringStatus.INTERRUPTED,
    }
)


# --- formatting -------------------------------------------------------------------------------


def span(seconds: float | None) -> str:
    """A duration in Vietnamese words, rounded to the second: "2 phút 5 giây"."""
    if seconds is None:
        return "—"
    if 0 < seconds < 0.5:
        return "dưới 1 giây"
    return format_span(round(seconds))


def minutes(seconds: float) -> str:
    """Seconds as minutes with at most one decimal, Vietnamese comma: "4,5"."""
    text = f"{seconds / 60:.1f}".replace(".", ",")
    return text[:-2] if text.endswith(",0") else text


def clock_label(value: datetime) -> str:
    """A local time as HH:MM, with seconds only when they are not zero."""
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def day_label(day: date) -> str:
    """A day as operators say it: "Thứ Sáu 27/11/2026"."""
    return f"{WEEKDAY_NAMES[day.weekday()]} {day:%d/%m/%Y}"


@bp.context_processor
def helpers() -> dict:
    """Formatting helpers and labels for the playout templates."""
    return {
        "span": span,
        "minutes": minutes,
        "clock_label": clock_label,
        "day_label": day_label,
        "LOG_STATUS_LABELS": LOG_STATUS_LABELS,
        "WEEKDAY_NAMES": WEEKDAY_NAMES,
    }


# --- loading ----------------------------------------------------------------------------------


def _now_local() -> datetime:
    """The application clock's time in Vietnam."""
    return clock.now().astimezone(LOCAL_TZ)


def _scope_stations(actor: User, active_only: bool = True) -> list[Station]:
    """Stations of the actor's subtree: their own unit's first, then by code."""
    query = (
        select(Station)
        .join(Unit, Station.unit_id == Unit.id)
        .where(Unit.path.startswith(actor.unit.path))
        .order_by(Unit.path, Station.code)
    )
    if active_only:
        query = query.where(Station.active.is_(True))
    return list(db.session.scalars(query))


def _station(code: str) -> Station:
    """A station of the user's subtree by code, or NotFound."""
    station = db.session.scalar(select(Station).where(Station.code == code.strip().upper()))
    if station is None or not in_scope(current_user, station.unit):
        raise NotFound("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    return station


def _parse_day(value: str | None) -> date | None:
    """A YYYY-MM-DD day from the query string, None when missing; ValueError when malformed."""
    value = (value or "").strip()
    return date.fromisoformat(value) if value else None


def _day_arg(name: str = "date") -> date:
    """The day a page shows: the query's, or today; a malformed one is flashed and ignored."""
    try:
        day = _parse_day(request.args.get(name))
    except ValueError:
        flash("Ngày không hợp lệ (dạng năm-tháng-ngày); đang hiển thị hôm nay.", "error")
        day = None
    return day or _now_local().date()


def _back(value: str | None, fallback: str) -> str:
    """Where a form sends the user back to: a playout page of this site, else fallback."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(f"{bp.url_prefix}/"):
        return fallback
    return value


def _airable_scripts(actor: User, today: date, unexpired: bool = True) -> list[Script]:
    """Approved scripts the actor may air: their subtree's and those sent down from above."""
    ancestors = [int(part) for part in actor.unit.path.strip("/").split("/") if part]
    query = (
        select(Script)
        .join(Unit, Unit.id == Script.unit_id)
        .where(
            Script.status == ScriptStatus.APPROVED,
            or_(Unit.path.startswith(actor.unit.path), Script.unit_id.in_(ancestors)),
        )
        .order_by(Script.title, Script.id)
    )
    if unexpired:
        query = query.where(or_(Script.valid_until.is_(None), Script.valid_until >= today))
    return list(db.session.scalars(query))


def _script_choice(script: Script) -> tuple[int, str]:
    """A script as the pickers show it: title, priority and length of its approved audio."""
    render = script.approved_render
    length = f", {span(render.duration_s)}" if render and render.duration_s else ""
    return script.id, f"{script.title} ({PRIORITY_LABELS[script.priority]}{length})"


# --- the rundown as a timeline ----------------------------------------------------------------


@dataclass
class RowView:
    """One rundown row with what the timeline shows and offers for it."""

    row: service.RundownRow
    note: str = ""
    operator: str = ""
    requeued: bool = False
    log_reason: str = ""
    is_current: bool = False
    is_past: bool = False
    now_before: bool = False
    can_skip: bool = False
    can_cancel: bool = False

    @property
    def counted(self) -> bool:
        """Whether the airing holds airtime in its session."""
        return self.row.status in COUNTED


@dataclass
class Band:
    """A session of the day (or a stretch outside every session) and its rows."""

    name: str
    start: time | None = None
    end: time | None = None
    cap_minutes: int | None = None
    rows: list[RowView] = field(default_factory=list)

    @property
    def in_session(self) -> bool:
        """A real session, not the stretch outside them."""
        return self.start is not None

    @property
    def count(self) -> int:
        """Airings that hold airtime here."""
        return sum(1 for r in self.rows if r.counted)

    @property
    def seconds(self) -> float:
        """Their airtime."""
        return sum(r.row.duration_s for r in self.rows if r.counted)

    @property
    def over(self) -> bool:
        """More airtime than the session's cap."""
        return self.cap_minutes is not None and self.seconds > self.cap_minutes * 60


@dataclass
class Timeline:
    """A station's day as the timeline template draws it."""

    station: Station
    day: date
    now: datetime
    bands: list[Band]
    rows: list[RowView]
    back: str

    @property
    def is_today(self) -> bool:
        """Whether the day is today in Vietnam."""
        return self.day == self.now.date()

    @property
    def current(self) -> RowView | None:
        """The airing on air now."""
        return next((r for r in self.rows if r.is_current), None)

    @property
    def upcoming(self) -> RowView | None:
        """The next airing still waiting to air."""
        return next(
            (
                r
                for r in self.rows
                if r.row.status == AiringStatus.PLANNED and r.row.end >= self.now
            ),
            None,
        )

    @property
    def now_band(self) -> Band | None:
        """The band the now marker goes before: the first whose first row or (when it has no
        rows) whose session start is after now; None when the marker falls elsewhere."""
        if not self.is_today:
            return None
        for band in self.bands:
            if band.rows:
                if band.rows[0].now_before:
                    return band
                if any(r.now_before for r in band.rows):
                    return None  # the marker goes between this band's rows
            elif band.in_session and band.start > self.now.time():
                return band
        return None

    @property
    def now_after_all(self) -> bool:
        """Today, with every row and session before now: the now marker goes last."""
        return self.is_today and self.now_band is None and not any(r.now_before for r in self.rows)


def _details(station: Station, rows: list[service.RundownRow]) -> tuple[dict, dict]:
    """The airings behind the rows by id, and each airing's latest log reason by key."""
    ids = [r.airing_id for r in rows]
    airings = {a.id: a for a in db.session.scalars(select(Airing).where(Airing.id.in_(ids)))}
    reasons: dict[str, str] = {}
    keys = [r.airing_key for r in rows]
    if keys:
        logged = db.session.execute(
            select(BroadcastLog.airing_key, BroadcastLog.reason)
            .where(BroadcastLog.station_id == station.id, BroadcastLog.airing_key.in_(keys))
            .order_by(BroadcastLog.seq)
        )
        reasons = {key: reason for key, reason in logged}
    return airings, reasons


def _own_reason(reason: str, airing: Airing | None) -> str:
    """A log reason without the "phát ngay" note the row already shows."""
    if airing is not None and airing.note:
        prefix = f"ghi chú: {airing.note}"
        if reason.startswith(prefix):
            reason = reason[len(prefix) :].lstrip("; ")
    return reason


def server_writes_log(station: Station) -> bool:
    """Whether the server may write the station's log (skip, live read): not while its agent
    airs it or has still to hand it back (app.playout.manual refuses those anyway)."""
    return station.playout_mode == PlayoutMode.CENTRAL and station.awaiting_agent_since is None


def timeline(station: Station, day: date, back: str) -> Timeline:
    """The station's day: rows with their actions, placed in session bands, in time order."""
    now = _now_local()
    rows = service.rundown(current_user, station, day)
    airings, reasons = _details(station, rows)
    skips = can(current_user, Permission.PLAYOUT_CONTROL) and server_writes_log(station)
    edit = can(current_user, Permission.SCHEDULE_EDIT)
    views = []
    marked = day != now.date()
    for row in rows:
        airing = airings.get(row.airing_id)
        planned = row.status == AiringStatus.PLANNED
        view = RowView(
            row=row,
            note=airing.note if airing else "",
            operator=airing.operator.full_name if airing and airing.operator else "",
            requeued=bool(airing and airing.requeued_from_id),
            log_reason=_own_reason(reasons.get(row.airing_key, ""), airing),
            is_current=row.status == AiringStatus.CLAIMED,
            is_past=row.end < now and row.status != AiringStatus.CLAIMED,
            can_skip=skips and planned,
            can_cancel=(
                edit
                and planned
                and row.schedule_id is not None
                and "~" not in row.airing_key
                and row.planned > now
            ),
        )
        if not marked and row.start > now:
            view.now_before = marked = True
        views.append(view)
    return Timeline(station, day, now, _bands(station, day, views), views, back)


def _bands(station: Station, day: date, views: list[RowView]) -> list[Band]:
    """The day's sessions with their rows, and rows outside sessions in bands of their own."""
    running = [s for s in station.sessions if day.isoweekday() in s.weekday_list]
    by_name = {s.name: Band(s.name, s.start_time, s.end_time, s.cap_minutes) for s in running}
    placed: list[tuple[time, Band]] = [(b.start, b) for b in by_name.values()]
    loose: Band | None = None
    for view in views:
        band = by_name.get(view.row.session)
        if band is not None:
            band.rows.append(view)
            loose = None
            continue
        if loose is None:
            loose = Band(OUTSIDE_SESSIONS)
            placed.append((view.row.start.time(), loose))
        loose.rows.append(view)
    return [band for _, band in sorted(placed, key=lambda item: item[0])]


# --- the console ------------------------------------------------------------------------------


def _air_form(stations: list[Station], station: Station, formdata=None) -> AirNowForm:
    """The "phát ngay" form with its pickers, the current station ticked."""
    form = AirNowForm(formdata=formdata, prefix="now")
    today = _now_local().date()
    form.script_id.choices = [(0, "— Chọn kịch bản —")] + [
        _script_choice(s) for s in _airable_scripts(current_user, today)
    ]
    form.stations.choices = [(s.id, f"{s.name} ({s.code})") for s in stations]
    if formdata is None:
        form.stations.data = [station.id]
    return form


def _live_form(station: Station, formdata=None) -> LiveReadForm:
    """The live-read form for the station, with its script and airing pickers."""
    form = LiveReadForm(formdata=formdata, prefix="live")
    now = clock.now()
    today = now.astimezone(LOCAL_TZ).date()
    form.script_id.choices = [(0, "— Không chọn (ghi nội dung vào ô ghi chú) —")] + [
        _script_choice(s) for s in _airable_scripts(current_user, today, unexpired=False)
    ]
    form.airing_id.choices = [(0, "— Không thay lượt nào —")] + [
        (a.id, f"{clock_label(a.sequenced_at.astimezone(LOCAL_TZ))} {a.script.title}")
        for a in playout.planned_today(station, now)
    ]
    if formdata is None:
        form.station_id.data = str(station.id)
        form.day.data = today
    return form


def _agent_state(station: Station) -> dict | None:
    """The state of the station's active agent (connection, warnings), None without one."""
    return agent_health.station_states([station], clock.now())[station.id]


def _console(
    station: Station | None,
    stations: list[Station],
    air_form: AirNowForm | None = None,
    live_form: LiveReadForm | None = None,
    status: int = 200,
):
    """Render the console for a station, keeping any submitted form with its errors."""
    if station is None:
        return render_template("playout/index.html", station=None, stations=stations), status
    back = url_for("playout.index", station=station.code)
    control = can(current_user, Permission.PLAYOUT_CONTROL)
    if control:
        air_form = air_form or _air_form(stations, station)
    if control and server_writes_log(station):
        live_form = live_form or _live_form(station)
        live_form.back.data = back
    return render_template(
        "playout/index.html",
        station=station,
        stations=stations,
        tl=timeline(station, _now_local().date(), back),
        agent_st=_agent_state(station),
        air_form=air_form,
        live_form=live_form,
        refresh_s=REFRESH_S,
    ), status


@bp.get("/")
@login_required
def index():
    """Today's rundown of one of the user's stations, live, with the operator's actions."""
    stations = _scope_stations(current_user)
    code = request.args.get("station", "").strip()
    default = stations[0] if stations else None
    return _console(_station(code) if code else default, stations)


@bp.post("/air-now")
@permission_required(Permission.PLAYOUT_CONTROL)
def air_now():
    """Queue an approved script as khẩn cấp on the chosen stations; the runner cuts in."""
    stations = _scope_stations(current_user)
    current = _station(request.args.get("station", "")) if request.args.get("station") else None
    current = current or (stations[0] if stations else None)
    if current is None:
        raise NotFound("Chưa có đài nào trong phạm vi đơn vị của bạn.")
    form = _air_form(stations, current, request.form)
    if form.validate_on_submit():
        script = db.session.get(Script, form.script_id.data) if form.script_id.data else None
        chosen = [db.session.get(Station, sid) for sid in form.stations.data or []]
        try:
            if script is None:
                message = "Chọn kịch bản cần phát."
                raise DomainError(message, {"script_id": message})
            if any(s is None for s in chosen):
                raise NotFound("Không tìm thấy đài đã chọn.", {"stations": "Không tìm thấy đài."})
            airings = playout.air_now(current_user, script, chosen, form.note.data or "")
        except DomainError as exc:
            db.session.rollback()
            exc.fields = {("script_id" if k == "script" else k): v for k, v in exc.fields.items()}
            apply_errors(form, exc)
        else:
            codes = ", ".join(a.station.name for a in airings)
            flash(
                f"Đã gửi lệnh phát ngay “{script.title}” trên {codes}. Bộ phát sẽ ngắt bản tin "
                "đang phát và phát trong vài giây; theo dõi trạng thái bên dưới.",
                "success",
            )
            return redirect(url_for("playout.index", station=current.code))
    else:
        flash("Chưa phát ngay được: hãy sửa các ô được đánh dấu bên dưới.", "error")
    return _console(current, stations, air_form=form, status=422)


def _airing_label(airing: Airing) -> str:
    """An airing as messages name it: "05:45 “Title”"."""
    return f"{clock_label(airing.sequenced_at.astimezone(LOCAL_TZ))} “{airing.script.title}”"


def _day_page_of(airing: Airing) -> str:
    """The console for today's airings, the station's day page otherwise."""
    day = airing.sequenced_at.astimezone(LOCAL_TZ).date()
    if day == _now_local().date():
        return url_for("playout.index", station=airing.station.code)
    return url_for("playout.day", code=airing.station.code, date=day.isoformat())


@bp.post("/airings/<int:airing_id>/skip")
@permission_required(Permission.PLAYOUT_CONTROL)
def skip(airing_id: int):
    """Take a planned airing off the air, with a reason."""
    airing = playout.get_airing(current_user, airing_id)
    form = ReasonForm()
    back = _back(form.back.data, _day_page_of(airing))
    label = _airing_label(airing)
    if not form.validate_on_submit():
        flash(f"Chưa bỏ qua được lượt phát {label}: {_first_error(form)}", "error")
        return redirect(back)
    try:
        playout.skip_airing(current_user, airing, form.reason.data or "")
    except DomainError as exc:
        db.session.rollback()
        flash(f"Chưa bỏ qua được lượt phát {label}: {exc.message}", "error")
    else:
        flash(f"Đã bỏ qua lượt phát {label}; nhật ký phát sóng đã ghi lý do.", "success")
    return redirect(back)


@bp.post("/airings/<int:airing_id>/cancel")
@permission_required(Permission.SCHEDULE_EDIT)
def cancel(airing_id: int):
    """Cancel the schedule's occurrence behind a planned airing, on this station only."""
    airing = playout.get_airing(current_user, airing_id)
    form = ReasonForm()
    back = _back(form.back.data, _day_page_of(airing))
    label = _airing_label(airing)
    if not form.validate_on_submit():
        flash(f"Chưa hủy được lần phát {label}: {_first_error(form)}", "error")
        return redirect(back)
    try:
        if airing.schedule_id is None or "~" in airing.airing_key:
            raise DomainError(
                "lượt phát này không phải một lần phát của lịch (phát ngay hoặc phát lại); "
                "hãy dùng “Bỏ qua”."
            )
        schedule = service.get_schedule(current_user, airing.schedule_id)
        service.cancel_occurrence(
            current_user, schedule, airing.station, airing.planned_at, form.reason.data or ""
        )
    except DomainError as exc:
        db.session.rollback()
        flash(f"Chưa hủy được lần phát {label}: {exc.message}", "error")
    else:
        flash(f"Đã hủy lần phát {label} tại {airing.station.name}.", "success")
    return redirect(back)


def _first_error(form) -> str:
    """The first field error of a form, for a flash message."""
    for errors in form.errors.values():
        if errors:
            return errors[0]
    return "Biểu mẫu chưa hợp lệ."


# The service names its fields after LiveRead; the form splits some of them in two.
LIVE_READ_FIELDS = {
    "started_at": "start",
    "duration_s": "minutes",
    "script": "script_id",
    "airing": "airing_id",
    "stations": "station_id",
}


@bp.post("/live-read")
@permission_required(Permission.PLAYOUT_CONTROL)
def live_read():
    """Log a spot read on air by hand, possibly in place of a planned airing."""
    stations = _scope_stations(current_user)
    raw = request.form.get("live-station_id", "")
    station_id = parse_id(raw)
    station = db.session.get(Station, station_id) if station_id is not None else None
    if station is None or not in_scope(current_user, station.unit):
        raise NotFound("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    form = _live_form(station, request.form)
    if form.validate_on_submit():
        day = form.day.data or _now_local().date()
        started = datetime.combine(day, form.start.data, LOCAL_TZ)
        try:
            script = None
            if form.script_id.data:
                script = db.session.get(Script, form.script_id.data)
                if script is None:
                    message = "Không tìm thấy kịch bản đã chọn."
                    raise NotFound(message, {"script": message})
            airing = None
            if form.airing_id.data:
                try:
                    airing = playout.get_airing(current_user, form.airing_id.data)
                except NotFound as exc:
                    raise NotFound(exc.message, {"airing": exc.message}) from exc
            row = playout.record_live_read(
                current_user,
                playout.LiveRead(
                    station=station,
                    started_at=started,
                    duration_s=float(form.duration_s),
                    script=script,
                    note=form.note.data or "",
                    airing=airing,
                ),
            )
        except DomainError as exc:
            db.session.rollback()
            exc.fields = {LIVE_READ_FIELDS.get(k, k): v for k, v in exc.fields.items()}
            apply_errors(form, exc)
        else:
            flash(
                f"Đã ghi lượt đọc trực tiếp lúc {started:%H:%M %d/%m/%Y} tại {station.name} "
                f"(dòng #{row.seq} của nhật ký).",
                "success",
            )
            return redirect(_back(form.back.data, url_for("playout.index", station=station.code)))
    else:
        flash("Chưa ghi được lượt đọc trực tiếp: hãy sửa các ô được đánh dấu bên dưới.", "error")
    return _console(station, stations, live_form=form, status=422)


@bp.get("/stations/<code>/rundown")
@login_required
def rundown_fragment(code: str):
    """The rundown part of a page, for the console's live refresh."""
    station = _station(code)
    day = _day_arg()
    back = _back(request.args.get("back"), url_for("playout.index", station=station.code))
    html = render_template(
        "playout/_rundown.html", tl=timeline(station, day, back), agent_st=_agent_state(station)
    )
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


# --- day and week -----------------------------------------------------------------------------


@bp.get("/stations/<code>")
@login_required
def day(code: str):
    """One day of a station as a timeline, with links to the days around it and its M3U."""
    station = _station(code)
    shown = _day_arg()
    back = url_for("playout.day", code=station.code, date=shown.isoformat())
    return render_template(
        "playout/day.html",
        station=station,
        stations=_scope_stations(current_user, active_only=False),
        tl=timeline(station, shown, back),
        agent_st=_agent_state(station),
        prev_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
        refresh_s=REFRESH_S,
    )


@bp.get("/stations/<code>/<day_text>.m3u8")
@login_required
def m3u(code: str, day_text: str):
    """The day's airings as an extended M3U playlist (UTF-8) of absolute audio file paths.

    Paths, not URLs: the app's audio route needs a logged-in browser session, which a
    station PC's player (VLC, foobar2000, Winamp) does not have, and the files must play
    with the internet down. The paths are those of AUDIO_DIR on the server, which is the
    station PC itself when it runs Loa, or a share mounted at the same place.
    """
    station = _station(code)
    try:
        shown = date.fromisoformat(day_text)
    except ValueError:
        raise NotFound("Ngày không hợp lệ (dạng năm-tháng-ngày).") from None
    rows = [r for r in service.rundown(current_user, station, shown) if r.status in IN_PLAYLIST]
    airings = {
        a.id: a
        for a in db.session.scalars(
            select(Airing).where(Airing.id.in_([r.airing_id for r in rows]))
        )
    }
    root = audio_dir().resolve()
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(station.name)} – {day_label(shown)}"]
    for row in rows:
        render = airings[row.airing_id].render
        title = f"{clock_label(row.start)} {_one_line(row.title)}"
        path = root / render.audio_path if render and render.audio_path else None
        if path is None or not path.is_file():
            lines.append(f"# Thiếu tệp âm thanh, bỏ khỏi danh sách: {title}")
            continue
        lines.append(f"#EXTINF:{math.ceil(row.duration_s)},{title}")
        lines.append(str(path))
    body = "\n".join(lines) + "\n"
    filename = f"loa-{station.code.lower()}-{shown.isoformat()}.m3u8"
    return Response(
        body.encode("utf-8"),
        content_type="audio/x-mpegurl; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _one_line(text: str) -> str:
    """Text safe for one M3U line."""
    return " ".join(text.split())


@dataclass
class WeekCell:
    """One session on one day: its spots, their count and airtime against the cap."""

    runs: bool
    cap_minutes: int | None
    rows: list[service.RundownRow] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Airings that hold airtime."""
        return sum(1 for r in self.rows if r.status in COUNTED)

    @property
    def seconds(self) -> float:
        """Their airtime."""
        return sum(r.duration_s for r in self.rows if r.status in COUNTED)

    @property
    def over(self) -> bool:
        """More airtime than the cap."""
        return self.cap_minutes is not None and self.seconds > self.cap_minutes * 60


@dataclass
class WeekLine:
    """A session (or the time outside sessions) across the seven days."""

    name: str
    session: BroadcastSession | None
    cells: list[WeekCell]


@bp.get("/stations/<code>/week")
@login_required
def week(code: str):
    """Seven days by session: spots, counts and minutes against each session's cap."""
    station = _station(code)
    shown = _day_arg("start")
    monday = shown - timedelta(days=shown.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    per_day = [service.rundown(current_user, station, d) for d in days]
    lines = []
    used: set[int] = set()
    for session in station.sessions:
        cells = []
        for d, rows in zip(days, per_day, strict=True):
            runs = d.isoweekday() in session.weekday_list
            mine = [r for r in rows if runs and r.session == session.name]
            used.update(r.airing_id for r in mine)
            cells.append(WeekCell(runs, session.cap_minutes, mine))
        lines.append(WeekLine(session.name, session, cells))
    loose = [WeekCell(True, None, [r for r in rows if r.airing_id not in used]) for rows in per_day]
    if any(c.rows for c in loose):
        lines.append(WeekLine(OUTSIDE_SESSIONS, None, loose))
    return render_template(
        "playout/week.html",
        station=station,
        stations=_scope_stations(current_user, active_only=False),
        days=days,
        lines=lines,
        totals=[
            (
                sum(1 for r in rows if r.status in COUNTED),
                sum(r.duration_s for r in rows if r.status in COUNTED),
            )
            for rows in per_day
        ],
        today=_now_local().date(),
        monday=monday,
        prev_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
    )


# --- the broadcast log ------------------------------------------------------------------------


def _log_filters(stations: list[Station]) -> tuple[LogFilter, dict[str, str]]:
    """The log's filters from the query string, and a Vietnamese message per bad one."""
    args = request.args
    filters = LogFilter()
    errors: dict[str, str] = {}
    code = args.get("station", "").strip().upper()
    if code:
        filters.station = next((s for s in stations if s.code == code), None)
        if filters.station is None:
            errors["station"] = "Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."
    for name in ("date_from", "date_to"):
        try:
            setattr(filters, name, _parse_day(args.get(name)))
        except ValueError:
            errors[name] = "Ngày không hợp lệ; hãy chọn ngày theo lịch (ngày/tháng/năm)."
    status = args.get("status", "").strip()
    if status:
        try:
            filters.status = LogStatus(status)
        except ValueError:
            errors["status"] = "Trạng thái không hợp lệ."
    filters.campaign = args.get("campaign", "").strip()
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors["date_from"] = "Ngày bắt đầu lọc phải trước hoặc bằng ngày kết thúc."
        filters.date_from = filters.date_to = None
    return filters, errors


@dataclass
class VerifyView:
    """What the "Kiểm tra chuỗi" button found, in the log page's words."""

    result: VerifyResult
    stations: int
    bad_station: Station | None = None
    # When the first broken row was planned (or started), if it can still be read.
    bad_when: datetime | None = None

    @property
    def bad_row_id(self) -> int | None:
        """The id of the first broken row, when it still exists."""
        return self.result.first_bad.row_id if self.result.first_bad else None


def _when_of(row_id: int | None) -> datetime | None:
    """A log row's planned (or started) time, read column by column: a tampered row may not
    load as a model."""
    if row_id is None:
        return None
    try:
        found = db.session.execute(
            select(BroadcastLog.planned_at, BroadcastLog.started_at).where(
                BroadcastLog.id == row_id
            )
        ).first()
    except (LookupError, ValueError, TypeError):
        db.session.rollback()
        return None
    return (found[0] or found[1]) if found else None


def _verify(filters: LogFilter, stations: list[Station]) -> VerifyView:
    """Check the chains of the filtered station (or every station in scope), stopping at the
    first broken one; with dates, only the rows written on those days and the link into them."""
    start = end = None
    if filters.date_from:
        start = datetime.combine(filters.date_from, time(), LOCAL_TZ).astimezone(UTC)
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), LOCAL_TZ)
        end = end.astimezone(UTC)
    targets = [filters.station] if filters.station else stations
    checked = 0
    for station in targets:
        result = verify_chain(station.id, start, end)
        checked += result.checked
        if not result.ok:
            bad = result.first_bad
            combined = VerifyResult(False, checked, bad, result.problem)
            return VerifyView(combined, len(targets), station, _when_of(bad.row_id))
    return VerifyView(VerifyResult(True, checked), len(targets))


def _log_page(verify: bool = False):
    """The log page, optionally with the chain check's result."""
    stations = _scope_stations(current_user, active_only=False)
    filters, errors = _log_filters(stations)
    if errors:
        flash("Bộ lọc chưa hợp lệ: " + " ".join(dict.fromkeys(errors.values())), "error")
    query = log_query(current_user, filters)
    page = db.paginate(query, per_page=LOG_PER_PAGE, error_out=False)
    script_ids = {r.script_id for r in page.items if r.script_id}
    titles = dict(
        db.session.execute(select(Script.id, Script.title).where(Script.id.in_(script_ids))).all()
    )
    return render_template(
        "playout/log.html",
        page=page,
        filters=filters,
        errors=errors,
        args=request.args,
        stations=stations,
        campaigns=campaigns_in_scope(current_user),
        titles=titles,
        programme_items=logged_items(page.items),
        statuses=list(LogStatus),
        check=_verify(filters, stations) if verify else None,
    )


@bp.get("/log")
@login_required
def log():
    """The broadcast log of the user's stations, filtered by station, days, status, campaign."""
    return _log_page()


@bp.get("/log/verify")
@login_required
def verify_log():
    """The log page with the hash-chain check of the filtered rows."""
    return _log_page(verify=True)
