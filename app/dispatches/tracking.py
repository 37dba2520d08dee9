"""What a dispatch has led to so far, for each unit it asks to act: scripts drafted, approved
and scheduled, airings aired and missed, minutes aired, and what is overdue.

The airing figures are the airtime reports' own (app.reports.service, narrowed to the scripts
drafted from the dispatch with ReportFilter.dispatch_id): the tracking page, the report back
and the report pages count the same rows the same way. Script counts are read here, from the
scripts linked to the dispatch (Script.dispatch_id) and their schedules.

Which scripts concern a unit asked to act: a script with target units concerns the units
related to one of them (the target itself, a unit above it or below it); a script without
targets concerns the units related to its own unit. Airings count for a unit when they are
filed under its subtree (the stations it has, as the reports file them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import Role, User
from app.auth.permissions import Permission, in_scope, require
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import NotFound
from app.dispatches.models import Dispatch, DispatchStatus
from app.extensions import db
from app.org.models import Station, Unit
from app.reports.service import (
    MAX_CUSTOM_DAYS,
    CampaignReport,
    Period,
    ReportFilter,
    Tally,
    campaign_report,
    pending_airings,
    sees_only_own_scripts,
)
from app.schedules.models import Airing, Schedule, ScheduleStatus
from app.scripts.models import Script, ScriptStatus

# The audit action a report back's download is recorded under (with the other exports').
REPORT_ACTION = "report.export"
REPORT_KIND = "dispatch_report"
NOT_FOUND_MESSAGE = "Văn bản không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."


def today() -> date:
    """Today in Vietnam."""
    return clock.now().astimezone(LOCAL_TZ).date()


def get_dispatch(actor: User, dispatch_id: int) -> Dispatch:
    """The dispatch, if the actor may see scripts and its receiving unit is in their subtree;
    NotFound otherwise (a dispatch of another unit is not even revealed)."""
    require(actor, Permission.SCRIPT_VIEW)
    dispatch = db.session.get(Dispatch, dispatch_id) if dispatch_id else None
    if dispatch is None or not in_scope(actor, dispatch.unit):
        raise NotFound(NOT_FOUND_MESSAGE)
    return dispatch


def start_date(dispatch: Dispatch) -> date:
    """The first day a dispatch's work can be counted from: its date or the start of its
    validity, whichever is earlier, or the day it was received."""
    found = [d for d in (dispatch.issued_on, dispatch.valid_from) if d is not None]
    if found:
        return min(found)
    return dispatch.received_at.astimezone(LOCAL_TZ).date()


def tracking_period(dispatch: Dispatch, on: date) -> Period:
    """From the dispatch's start to `on` (both included), at most MAX_CUSTOM_DAYS long, so
    the airtime report pages accept the same period in their links."""
    start = min(start_date(dispatch), on)
    start = max(start, on - timedelta(days=MAX_CUSTOM_DAYS - 1))
    return Period("custom", start, on)


def acting_units(dispatch: Dispatch) -> list[Unit]:
    """The units asked to act: the dispatch's targets, or the receiving unit when it has none."""
    return list(dispatch.targets) or [dispatch.unit]


def dispatch_scripts(actor: User, dispatch: Dispatch) -> list[Script]:
    """The scripts drafted from the dispatch that the actor may see, oldest first."""
    query = select(Script).where(Script.dispatch_id == dispatch.id).order_by(Script.id)
    return [s for s in db.session.scalars(query) if in_scope(actor, s.unit)]


def related(a: Unit, b: Unit) -> bool:
    """Whether one unit lies in the other's subtree."""
    return a.contains(b) or b.contains(a)


def concerns(script: Script, unit: Unit) -> bool:
    """Whether the script is meant for the unit (see the module docstring)."""
    reach = list(script.targets) or [script.unit]
    return any(related(target, unit) for target in reach)


def is_approved(script: Script) -> bool:
    """Whether the script has an approved version (it may have been edited or archived since:
    what was approved is what airs)."""
    return script.approved_version_id is not None


def scheduled_script_ids(scripts: list[Script], unit: Unit) -> set[int]:
    """The scripts with an active schedule on stations of the unit's subtree (or on units
    related to it), or with scheduled airings there already."""
    ids = [s.id for s in scripts]
    if not ids:
        return set()
    found: set[int] = set()
    schedules = db.session.scalars(
        select(Schedule).where(
            Schedule.script_id.in_(ids), Schedule.status == ScheduleStatus.ACTIVE
        )
    )
    for schedule in schedules:
        if any(unit.contains(s.unit) for s in schedule.stations) or any(
            related(u, unit) for u in schedule.units
        ):
            found.add(schedule.script_id)
    aired_here = (
        select(Airing.script_id)
        .distinct()
        .join(Station, Station.id == Airing.station_id)
        .join(Unit, Unit.id == Station.unit_id)
        .where(
            Airing.script_id.in_(ids),
            Airing.schedule_id.is_not(None),
            Unit.path.startswith(unit.path),
        )
    )
    found.update(db.session.scalars(aired_here))
    return found


def not_aired(tally: Tally) -> int:
    """Planned airings that did not air at all: missed, failed or skipped."""
    return tally.missed + tally.failed + tally.skipped


def report_filter(dispatch: Dispatch, period: Period, unit: Unit) -> ReportFilter:
    """The airtime reports' filter for the dispatch's scripts in a unit's subtree."""
    return ReportFilter(period=period, unit=unit, dispatch_id=dispatch.id)


def overdue_pending(actor: User, filters: ReportFilter, now) -> int:
    """Planned airings of the filter whose time and grace have passed with no log row yet
    (the runner or the station's agent has not reported them)."""
    grace = timedelta(seconds=float(current_app.config.get("PLAYOUT_GRACE_S", 300)))
    query = (
        pending_airings(actor, filters)
        .add_columns(func.count())
        .where(Airing.sequenced_at < now - grace)
    )
    return int(db.session.scalar(query) or 0)


@dataclass
class UnitLine:
    """What one unit asked to act has done so far."""

    unit: Unit
    # False when the unit lies outside the viewer's subtree: no figures are shown for it.
    reachable: bool
    scripts: list[Script] = field(default_factory=list)
    approved: int = 0
    scheduled: int = 0
    tally: Tally | None = None
    overdue_airings: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def drafted(self) -> int:
        """Scripts drafted for the unit."""
        return len(self.scripts)

    @property
    def not_aired(self) -> int:
        """Planned airings that did not air (missed, failed, skipped)."""
        return not_aired(self.tally) if self.tally else 0


@dataclass
class ScriptLine:
    """One script of the dispatch and its airings in the receiving unit's subtree."""

    script: Script
    approved: bool
    scheduled: bool
    tally: Tally


@dataclass
class Tracking:
    """The tracking page's figures for one dispatch."""

    dispatch: Dispatch
    period: Period
    lines: list[UnitLine]
    scripts: list[ScriptLine]
    total: CampaignReport
    # Dispatch-wide overdue items, worded for the page.
    overdue: list[str]
    # The last report back issued (an audit event), if any.
    last_report: AuditEvent | None
    # Writers' airing figures count their own scripts only, as on the report pages.
    own_scripts_only: bool

    @property
    def started(self) -> date:
        """The dispatch's first day (see start_date)."""
        return start_date(self.dispatch)

    @property
    def clamped(self) -> bool:
        """Whether the period starts later than the dispatch (it is at most a year long)."""
        return self.started < self.period.start

    @property
    def reported(self) -> bool:
        """Whether a report back was issued or the dispatch was closed as reported."""
        return self.last_report is not None or self.dispatch.status == DispatchStatus.CLOSED


def last_report_event(dispatch: Dispatch) -> AuditEvent | None:
    """The latest download of the dispatch's report back."""
    query = (
        select(AuditEvent)
        .where(
            AuditEvent.action == REPORT_ACTION,
            AuditEvent.object_type == "dispatch",
            AuditEvent.object_id == dispatch.id,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def _unit_line(actor: User, dispatch: Dispatch, unit: Unit, scripts, period, now) -> UnitLine:
    if not in_scope(actor, unit):
        return UnitLine(unit, reachable=False)
    mine = [s for s in scripts if concerns(s, unit)]
    line = UnitLine(unit, reachable=True, scripts=mine)
    line.approved = sum(1 for s in mine if is_approved(s))
    line.scheduled = len(scheduled_script_ids(mine, unit))
    filters = report_filter(dispatch, period, unit)
    line.tally = campaign_report(actor, filters).total
    line.overdue_airings = overdue_pending(actor, filters, now)
    if not mine:
        line.problems.append("Chưa có kịch bản nào được soạn.")
    elif not line.approved:
        line.problems.append("Chưa có kịch bản nào được duyệt.")
    elif not line.scheduled:
        line.problems.append("Chưa có lịch phát.")
    if line.not_aired:
        line.problems.append(f"{line.not_aired} lượt không phát được (bỏ lỡ, lỗi hoặc bỏ qua).")
    if line.overdue_airings:
        line.problems.append(
            f"{line.overdue_airings} lượt đã quá giờ mà chưa có nhật ký phát sóng."
        )
    ended = dispatch.valid_until is not None and dispatch.valid_until < period.end
    if ended and mine and not line.tally.on_air:
        line.problems.append("Đã hết thời hạn thực hiện mà chưa phát lượt nào.")
    return line


def dispatch_tracking(actor: User, dispatch: Dispatch) -> Tracking:
    """Everything the tracking page shows, from the dispatch's start to today."""
    now = clock.now()
    on = today()
    period = tracking_period(dispatch, on)
    scripts = dispatch_scripts(actor, dispatch)
    lines = [
        _unit_line(actor, dispatch, unit, scripts, period, now) for unit in acting_units(dispatch)
    ]
    total = campaign_report(actor, report_filter(dispatch, period, dispatch.unit))
    by_script: dict[int, Tally] = {}
    for line in total.lines:
        if line.script is not None:
            by_script.setdefault(line.script.id, Tally()).add(line.tally)
    scheduled = scheduled_script_ids(scripts, dispatch.unit)
    script_lines = [
        ScriptLine(s, is_approved(s), s.id in scheduled, by_script.get(s.id, Tally()))
        for s in scripts
    ]
    last = last_report_event(dispatch)
    tracking = Tracking(
        dispatch=dispatch,
        period=period,
        lines=lines,
        scripts=script_lines,
        total=total,
        overdue=[],
        last_report=last,
        own_scripts_only=sees_only_own_scripts(actor),
    )
    tracking.overdue = overdue_items(tracking, on)
    return tracking


def overdue_items(tracking: Tracking, on: date) -> list[str]:
    """What is late for the dispatch as a whole, worded for the page."""
    dispatch = tracking.dispatch
    items = []
    if dispatch.report_due is not None and not tracking.reported:
        due = f"{dispatch.report_due:%d/%m/%Y}"
        if dispatch.report_due < on:
            late = (on - dispatch.report_due).days
            items.append(f"Quá hạn báo cáo kết quả {late} ngày (hạn {due}) mà chưa lập báo cáo.")
        elif dispatch.report_due == on:
            items.append(f"Hôm nay ({due}) là hạn báo cáo kết quả; chưa lập báo cáo.")
    if dispatch.valid_until is not None and dispatch.valid_until < on:
        ended = f"Đã hết thời hạn thực hiện (đến {dispatch.valid_until:%d/%m/%Y})"
        items.append(ended + ("." if tracking.reported else "; chưa lập báo cáo kết quả."))
    if not tracking.scripts:
        items.append("Chưa có kịch bản nào được soạn từ văn bản này.")
    waiting = sum(1 for s in tracking.scripts if s.script.status == ScriptStatus.SUBMITTED)
    if waiting:
        items.append(f"{waiting} kịch bản đang chờ duyệt.")
    missed = not_aired(tracking.total.total)
    if missed:
        items.append(f"{missed} lượt phát theo lịch không phát được (bỏ lỡ, lỗi hoặc bỏ qua).")
    idle = [ln.unit.name for ln in tracking.lines if ln.reachable and ln.problems]
    if idle:
        items.append("Đơn vị cần đôn đốc: " + ", ".join(idle) + ".")
    return items


def may_issue_report(actor: User) -> bool:
    """Only supervisors (the unit's leadership, the editorial board) issue a report back."""
    return actor.is_authenticated and actor.role == Role.SUPERVISOR
