"""Airtime reports: planned against aired, per station, campaign, script, priority and day.

Definitions (the same on every page, export and API answer):
- A row counts in a period when its planned time (or, for a live read with no plan, its start)
  falls in the period's local days (Asia/Ho_Chi_Minh, whatever the server's zone).
- A row counts for the unit its station belonged to when the row was written (log rows keep
  it, hash version 2); older rows without it count for the station's current unit.
- Only effective rows count: a row that a later correction points at is replaced by that
  correction.
- planned: rows of scheduled airings (schedule_id set), except cancelled ones and re-queued
  repeats of a spot an emergency cut off (the repeat is the same planned airing), plus the
  period's scheduled airings the runner has not logged yet (pending).
- aired: scheduled rows that aired on time or late; the repeat of a cut-off spot counts here.
  compliance = aired ÷ planned.
- manual: rows with no schedule (phát ngay, live reads) that aired; outside the plan, so not
  in compliance.
- airtime: seconds actually played (aired, late, partial, interrupted), manual included.

The counts and airtime are read from the log's daily totals (LogTotal, app/broadcast/totals.py),
kept as rows are written and grouped exactly as these definitions need; the drill-down, the
misses and the logbook read the log rows themselves.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from app.auth.models import Role, User
from app.auth.permissions import in_scope
from app.broadcast.models import BroadcastLog, LogStatus, LogTotal
from app.broadcast.totals import local_day, log_time
from app.core.clock import LOCAL_TZ
from app.core.errors import NotFound, ValidationError
from app.extensions import db
from app.org.models import BroadcastSession, Station, Unit
from app.schedules.models import Airing, AiringStatus
from app.schedules.plan import priority_rank
from app.scripts.models import Priority, Script

PERIOD_KINDS = {"day": "Ngày", "week": "Tuần", "month": "Tháng", "custom": "Khoảng tùy chọn"}
MAX_CUSTOM_DAYS = 366
PLAYED = (LogStatus.AIRED, LogStatus.AIRED_LATE, LogStatus.PARTIAL, LogStatus.INTERRUPTED)
ON_AIR = (LogStatus.AIRED, LogStatus.AIRED_LATE)
COUNTED = (
    "planned",
    "pending",
    "aired",
    "aired_late",
    "partial",
    "interrupted",
    "failed",
    "missed",
    "skipped",
    "cancelled",
    "manual",
)
NO_CAMPAIGN = "(không thuộc chiến dịch)"
WEEKDAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


# --- periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days from start to end (both included)."""

    kind: str
    start: date
    end: date

    @property
    def label(self) -> str:
        """How the period is named on pages and in exports."""
        if self.kind == "day":
            return f"Ngày {self.start:%d/%m/%Y}"
        if self.kind == "month":
            return f"Tháng {self.start:%m/%Y}"
        if self.kind == "week":
            return f"Tuần {self.start:%d/%m} – {self.end:%d/%m/%Y}"
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"

    @property
    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of the first day to that after the last."""
        first = datetime.combine(self.start, time(), LOCAL_TZ).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time(), LOCAL_TZ).astimezone(UTC)
        return first, after

    @property
    def days(self) -> list[date]:
        """Every day of the period."""
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def previous(self) -> Period:
        """The period of the same kind just before."""
        if self.kind == "month":
            before = self.start - timedelta(days=1)
            return make_period("month", before)
        length = (self.end - self.start).days + 1
        return Period(self.kind, self.start - timedelta(days=length), self.start - timedelta(1))

    def next(self) -> Period:
        """The period of the same kind just after."""
        if self.kind == "month":
            return make_period("month", self.end + timedelta(days=1))
        length = (self.end - self.start).days + 1
        return Period(self.kind, self.end + timedelta(days=1), self.end + timedelta(days=length))


def make_period(kind: str, day: date, end: date | None = None) -> Period:
    """The day, the Monday-to-Sunday week or the month holding `day`, or day..end (custom)."""
    if kind == "day":
        return Period("day", day, day)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period("week", monday, monday + timedelta(days=6))
    if kind == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return Period("month", day.replace(day=1), day.replace(day=last))
    if kind == "custom":
        if end is None:
            message = "Hãy chọn ngày kết thúc của khoảng thời gian."
            raise ValidationError(message, {"end": message})
        if end < day:
            message = "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu."
            raise ValidationError(message, {"end": message})
        if (end - day).days + 1 > MAX_CUSTOM_DAYS:
            message = f"Khoảng thời gian dài nhất là {MAX_CUSTOM_DAYS} ngày."
            raise ValidationError(message, {"end": message})
        return Period("custom", day, end)
    message = "Kỳ báo cáo không hợp lệ; chọn ngày, tuần, tháng hoặc khoảng tùy chọn."
    raise ValidationError(message, {"period": message})


def parse_date(text: str | None, name: str) -> date | None:
    """A date from the form (YYYY-MM-DD, or dd/mm/yyyy as people type it); None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    message = f"Ngày “{text}” không hợp lệ; hãy viết như 27/11/2026."
    raise ValidationError(message, {name: message})


def period_from_args(args, today: date) -> Period:
    """The period named by query arguments: period=day|week|month|custom, date=, end=."""
    kind = (args.get("period") or "month").strip()
    day = parse_date(args.get("date"), "date") or today
    end = parse_date(args.get("end"), "end")
    return make_period(kind, day, end)


# --- scope and filters ------------------------------------------------------------------------


@dataclass
class ReportFilter:
    """What a report covers. unit None means the actor's own unit (and its subtree)."""

    period: Period | None
    unit: Unit | None = None
    station: Station | None = None
    campaign: str | None = None
    source_number: str | None = None
    script: Script | None = None
    priority: Priority | None = None
    status: LogStatus | None = None
    # The scripts drafted from one dispatch (app.dispatches): its tracking page and report back.
    dispatch_id: int | None = None


def check_filter(actor: User, filters: ReportFilter) -> ReportFilter:
    """Fill the default unit and refuse units and stations outside the actor's subtree.

    A station that has moved out of the subtree can still be picked when some of its rows
    were filed under the report's unit (from before it moved): only those rows count.
    """
    if filters.unit is None:
        filters.unit = actor.unit
    elif not in_scope(actor, filters.unit):
        message = "Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."
        raise NotFound(message, {"unit": message})
    if filters.station is not None and not station_in_reach(actor, filters.station, filters.unit):
        message = "Đài không tồn tại hoặc nằm ngoài phạm vi của bạn."
        raise NotFound(message, {"station": message})
    return filters


def filed_under(station: Station, unit: Unit) -> bool:
    """Whether some of the station's log rows were filed under the unit's subtree."""
    units = select(Unit.id).where(Unit.path.startswith(unit.path))
    query = select(BroadcastLog.id).where(
        BroadcastLog.station_id == station.id, BroadcastLog.unit_id.in_(units)
    )
    return db.session.scalar(query.limit(1)) is not None


def station_in_reach(actor: User, station: Station, unit: Unit | None = None) -> bool:
    """Whether the actor may report on the station under unit (default: the actor's own):
    it is in the actor's subtree, or it moved away and rows filed under unit remain."""
    unit = unit or actor.unit
    if in_scope(actor, station.unit):
        return True
    return in_scope(actor, unit) and filed_under(station, unit)


def sees_only_own_scripts(actor: User) -> bool:
    """Writers see the airings of the scripts they wrote; other roles their whole subtree."""
    return actor.role == Role.WRITER


def _as_date(value) -> date:
    """SQLite returns date() as text, PostgreSQL as a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def effective_rows(actor: User, filters: ReportFilter):
    """A select of the effective log rows the filters cover, joined to station and script.

    Columns are added by the callers (select_from this); see the module docstring for which
    rows count.
    """
    return (
        _log_rows(actor, filters)
        .join(Station, BroadcastLog.station_id == Station.id)
        .outerjoin(Script, BroadcastLog.script_id == Script.id)
    )


def _log_rows(actor: User, filters: ReportFilter):
    """effective_rows() without its joins: every condition is on the row's own columns.

    The tallies read only log columns; without joins a pass over a month of a province is
    a scan of the period's index and the rows (bench/reports.py).
    """
    corrected = aliased(BroadcastLog)
    query = (
        select()
        .select_from(BroadcastLog)
        .where(
            _filed_under_subtree(filters.unit, BroadcastLog, BroadcastLog.unit_id.is_(None)),
            ~exists().where(corrected.corrects_id == BroadcastLog.id),
        )
    )
    if filters.period is not None:
        start, end = filters.period.utc_bounds
        query = query.where(
            or_(
                and_(BroadcastLog.planned_at >= start, BroadcastLog.planned_at < end),
                and_(
                    BroadcastLog.planned_at.is_(None),
                    BroadcastLog.started_at >= start,
                    BroadcastLog.started_at < end,
                ),
            )
        )
    return _narrow(query, actor, filters, BroadcastLog)


def _filed_under_subtree(unit: Unit, model, kept_no_unit):
    """Rows (or totals) filed under the unit's subtree: by the unit their station had when
    they were written, or, for older rows that did not keep it (kept_no_unit), by the
    station's unit now."""
    subtree = select(Unit.id).where(Unit.path.startswith(unit.path)).correlate(None)
    subtree_stations = select(Station.id).where(Station.unit_id.in_(subtree)).correlate(None)
    return or_(
        model.unit_id.in_(subtree),
        and_(kept_no_unit, model.station_id.in_(subtree_stations)),
    )


def pending_airings(actor: User, filters: ReportFilter):
    """A select of the period's scheduled airings not logged yet (planned or being played)."""
    query = (
        select()
        .select_from(Airing)
        .join(Station, Airing.station_id == Station.id)
        .join(Unit, Unit.id == Station.unit_id)
        .join(Script, Airing.script_id == Script.id)
        .where(
            Unit.path.startswith(filters.unit.path),
            Airing.status.in_((AiringStatus.PLANNED, AiringStatus.CLAIMED)),
            Airing.schedule_id.is_not(None),
            Airing.requeued_from_id.is_(None),
        )
    )
    if filters.period is not None:
        start, end = filters.period.utc_bounds
        query = query.where(Airing.sequenced_at >= start, Airing.sequenced_at < end)
    return _narrow(query, actor, filters, Airing)


def _narrow(query, actor: User, filters: ReportFilter, model):
    """The filters every report shares: station, campaign, source, script, priority, writer."""
    if filters.station is not None:
        query = query.where(model.station_id == filters.station.id)
    # Script conditions need no join to the script, so the tallies read log rows alone. A
    # campaign or source names few scripts: their ids, found by the scripts' own indexes,
    # lead to their rows. "No campaign" and "my scripts" hold for most rows: checked per row,
    # so the period's index still leads.
    if filters.campaign:
        query = query.where(model.script_id.in_(_script_ids(Script.campaign == filters.campaign)))
    elif filters.campaign is not None:
        # Outside any campaign: no script (a live read), or a script without a campaign.
        no_script = model.script_id == 0 if model is LogTotal else model.script_id.is_(None)
        query = query.where(or_(no_script, _script_is(model, lambda s: s.campaign == "")))
    if filters.source_number:
        source = _script_ids(Script.source_number == filters.source_number)
        query = query.where(model.script_id.in_(source))
    if filters.dispatch_id is not None:
        drafted = _script_ids(Script.dispatch_id == filters.dispatch_id)
        query = query.where(model.script_id.in_(drafted))
    if filters.script is not None:
        query = query.where(model.script_id == filters.script.id)
    if filters.priority is not None:
        query = query.where(model.priority == filters.priority)
    if sees_only_own_scripts(actor):
        query = query.where(_script_is(model, lambda s: s.created_by_id == actor.id))
    return query


def _script_ids(condition):
    """The ids of the scripts meeting condition, as an uncorrelated subquery."""
    return select(Script.id).where(condition).correlate(None)


def _script_is(model, condition):
    """The row's script meets condition (a function of the script), checked row by row."""
    script = aliased(Script)
    return exists().where(script.id == model.script_id, condition(script))


# --- tallies ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts and airtime of one group of rows."""

    planned: int = 0
    pending: int = 0
    aired: int = 0
    aired_late: int = 0
    partial: int = 0
    interrupted: int = 0
    failed: int = 0
    missed: int = 0
    skipped: int = 0
    cancelled: int = 0
    manual: int = 0
    airtime_s: float = 0.0

    @property
    def on_air(self) -> int:
        """Planned airings that aired, on time or late."""
        return self.aired + self.aired_late

    @property
    def compliance(self) -> float | None:
        """aired ÷ planned, or None when nothing was planned."""
        return self.on_air / self.planned if self.planned else None

    @property
    def compliance_label(self) -> str:
        """ "93,5 %" or "—"."""
        value = self.compliance
        return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")

    @property
    def airtime_minutes(self) -> float:
        """Airtime in minutes, one decimal."""
        return round(self.airtime_s / 60, 1)

    @property
    def problems(self) -> int:
        """Missed and failed airings: what makes a station stand out."""
        return self.missed + self.failed

    def add(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        for name in (*COUNTED, "airtime_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        """The counts, airtime and compliance for JSON and exports."""
        data = {name: getattr(self, name) for name in COUNTED}
        data["airtime_minutes"] = self.airtime_minutes
        data["compliance"] = None if self.compliance is None else round(self.compliance, 4)
        return data


# What decides the figures a row counts in: its status, whether it was scheduled, and
# whether it repeats a spot an emergency cut off (see the module docstring).
KIND_NAMES = ("status", "scheduled", "repeat")
KINDS = (LogTotal.status, LogTotal.scheduled, LogTotal.is_repeat)


def _totals(actor: User, filters: ReportFilter):
    """A select of the daily totals (LogTotal) of the effective rows the filters cover.

    The totals group the rows by local day, station, unit, script, priority and kind, so
    every condition of _log_rows() holds for a total as for its rows; a period is whole
    local days.
    """
    query = (
        select()
        .select_from(LogTotal)
        .where(_filed_under_subtree(filters.unit, LogTotal, LogTotal.unit_id == 0))
    )
    if filters.period is not None:
        query = query.where(
            LogTotal.day >= filters.period.start, LogTotal.day <= filters.period.end
        )
    return _narrow(query, actor, filters, LogTotal)


def _total_keys() -> dict:
    """The group keys of a total as the reports name them (script None for a live read)."""
    return {
        "station": LogTotal.station_id,
        "script": func.nullif(LogTotal.script_id, 0),
        "priority": LogTotal.priority,
        "day": LogTotal.day,
    }


def _total_groups(actor: User, filters: ReportFilter, keys: list[str], *aggregates):
    """The effective rows grouped by the named keys (of _total_keys()) and by kind, with n
    (rows), seconds (their durations) and any further aggregate columns over the totals.

    One pass over the totals gives every figure of every group: _count_rows() folds the
    groups into tallies. filters.status is applied there too, so aggregates over all
    statuses stay possible.
    """
    columns = [_total_keys()[name] for name in keys]
    query = _totals(actor, filters).add_columns(
        *(column.label(name) for name, column in zip(keys, columns, strict=True)),
        *(column.label(name) for name, column in zip(KIND_NAMES, KINDS, strict=True)),
        func.sum(LogTotal.n).label("n"),
        func.sum(LogTotal.seconds).label("seconds"),
        *aggregates,
    )
    return query.group_by(*columns, *KINDS)


# The log rows behind each figure of a tally (the drill-down lists them): the conditions
# _count_rows() applies, on broadcast_log's columns.
_scheduled = BroadcastLog.schedule_id.is_not(None)
_repeat = func.coalesce(BroadcastLog.airing_key, "").like("%~r%")
_status = BroadcastLog.status
FIGURE_ROWS = {
    "planned": and_(_scheduled, ~_repeat, _status != LogStatus.CANCELLED),
    "on_air": and_(_scheduled, _status.in_(ON_AIR)),
    "aired": and_(_scheduled, _status == LogStatus.AIRED),
    "aired_late": and_(_scheduled, _status == LogStatus.AIRED_LATE),
    "missed": and_(_scheduled, _status == LogStatus.MISSED),
    "failed": and_(_scheduled, _status == LogStatus.FAILED),
    "incomplete": and_(
        _scheduled,
        _status.in_((LogStatus.PARTIAL, LogStatus.INTERRUPTED, LogStatus.SKIPPED)),
    ),
    "cancelled": and_(_scheduled, _status == LogStatus.CANCELLED),
    "manual": and_(~_scheduled, _status.in_(ON_AIR)),
    "airtime": _status.in_(PLAYED),
}


def _count_rows(tallies: dict, key, filters: ReportFilter, row) -> None:
    """Add a group of rows of one status and kind (row.status, scheduled, repeat, n,
    seconds) to the tally under key, as the module docstring defines the figures.

    Groups of another status than filters.status are left out (no tally is made for them).
    """
    status = LogStatus(row.status)
    if filters.status is not None and status != filters.status:
        return
    tally = tallies.setdefault(key, Tally())
    n = int(row.n or 0)
    if row.scheduled:
        if status == LogStatus.CANCELLED:
            tally.cancelled += n
        else:
            if not row.repeat:
                tally.planned += n
            setattr(tally, status.value, getattr(tally, status.value) + n)
    elif status in ON_AIR:
        tally.manual += n
    if status in PLAYED:
        tally.airtime_s += float(row.seconds or 0)


def _pending_counts(actor: User, filters: ReportFilter, keys: list) -> dict[tuple, int]:
    """The period's pending airings counted by key columns; none with a status filter."""
    if filters.status is not None:
        return {}
    labels = [k.label(f"k{n}") for n, k in enumerate(keys)]
    query = pending_airings(actor, filters).add_columns(*labels, func.count().label("n"))
    if keys:
        query = query.group_by(*keys)
    found = {}
    for row in db.session.execute(query):
        if row.n:
            found[tuple(_key(row[n]) for n in range(len(keys)))] = int(row.n)
    return found


def _add_pending(tallies: dict, pending: dict[tuple, int]) -> None:
    """Pending airings are planned and pending (keys unwrapped from 1-tuples)."""
    for key, n in pending.items():
        tally = tallies.setdefault(key[0] if len(key) == 1 else key, Tally())
        tally.pending += n
        tally.planned += n


def _key(value):
    """Group keys as Python values (dates come back as text from SQLite)."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


@dataclass
class OverCap:
    """A session whose spots played longer than its cap on one day."""

    station: Station
    day: date
    session: str
    minutes: float
    cap_minutes: int


@dataclass
class Dashboard:
    """Everything the dashboard shows for one period and subtree."""

    filters: ReportFilter
    total: Tally
    by_station: list[tuple[Station, Tally]]
    by_campaign: list[tuple[str, Tally]]
    by_script: list[tuple[Script | None, Tally]]
    by_priority: list[tuple[Priority, Tally]]
    by_day: list[tuple[date, Tally]]
    over_cap: list[OverCap] = field(default_factory=list)

    @property
    def stations_with_misses(self) -> list[tuple[Station, Tally]]:
        """Stations with missed or failed airings, worst first."""
        found = [(s, t) for s, t in self.by_station if t.problems]
        return sorted(found, key=lambda st: (-st[1].problems, st[0].code))


def airtime_dashboard(actor: User, filters: ReportFilter) -> Dashboard:
    """Counts and airtime by station, campaign, script, priority and day, and over-cap sessions."""
    filters = check_filter(actor, filters)
    if filters.period is None:
        raise ValueError("the dashboard needs a period")
    groups, session_seconds = _dashboard_groups(actor, filters)
    stations, scripts = groups["station"], groups["script"]
    priorities, days = groups["priority"], groups["day"]
    _add_pending(stations, _pending_counts(actor, filters, [Airing.station_id]))
    _add_pending(scripts, _pending_counts(actor, filters, [Airing.script_id]))
    _add_pending(priorities, _pending_counts(actor, filters, [Airing.priority]))
    _add_pending(days, _pending_counts(actor, filters, [local_day(Airing.sequenced_at)]))
    station_rows = _load(Station, stations)
    script_rows = _load(Script, scripts)
    # Every row has a station, and a script's campaign is its own: the total and the
    # campaigns are sums of those groups.
    total = Tally()
    for tally in stations.values():
        total.add(tally)
    campaigns: dict[str, Tally] = defaultdict(Tally)
    for script_id, tally in scripts.items():
        script = script_rows.get(script_id)
        campaigns[script.campaign if script is not None else ""].add(tally)
    by_day = {d: days.get(d, Tally()) for d in filters.period.days}
    return Dashboard(
        filters=filters,
        total=total,
        by_station=sorted(
            ((station_rows[k], t) for k, t in stations.items()), key=lambda st: st[0].code
        ),
        by_campaign=sorted(campaigns.items(), key=lambda ct: (ct[0] == "", ct[0])),
        by_script=sorted(
            ((script_rows.get(k), t) for k, t in scripts.items()),
            key=lambda st: (st[0] is None, st[0].title if st[0] else "", st[0].id if st[0] else 0),
        ),
        by_priority=sorted(
            ((Priority(k), t) for k, t in priorities.items()),
            key=lambda pt: priority_rank(pt[0]),
        ),
        by_day=sorted(by_day.items()),
        over_cap=_over_cap(session_seconds),
    )


DASHBOARD_GROUPINGS = ("station", "script", "priority", "day")


def _dashboard_groups(actor: User, filters: ReportFilter) -> tuple[dict, list]:
    """Logged tallies by station, script, priority and local day, from one pass over the
    period's rows, and the seconds played per station, day and session where a session can
    be over its cap.

    One statement: the rows are grouped once by all those keys and _kinds() (a common table
    expression); those groups are summed by station, script and priority, and by station
    and day (two smaller ones); each figure's grouping sums one of these. Sessions come from
    the rows' airings, looked up only for stations that played longer on some day than
    their smallest session cap (only they can pass a cap).
    """
    keys = _total_keys()
    # The totals are fine groups already (by day, station, script, priority and kind; a
    # station's unit only splits them when it moved): no need to group them again.
    fine = (
        _totals(actor, filters)
        .add_columns(
            *(column.label(name) for name, column in keys.items()),
            *(column.label(name) for name, column in zip(KIND_NAMES, KINDS, strict=True)),
            LogTotal.n.label("n"),
            LogTotal.seconds.label("seconds"),
        )
        .cte("fine")
    )
    by_what = _regroup(fine, ["station", "script", "priority"]).cte("by_what")
    by_when = _regroup(fine, ["station", "day"]).cte("by_when")

    # The union's columns must have one type in every branch: typed NULLs where a branch has
    # no such key (PostgreSQL reads a bare NULL as text).
    types = {
        "station": Integer(),
        "script": Integer(),
        "priority": BroadcastLog.priority.type,
        "day": Date(),
        "status": BroadcastLog.status.type,
        "scheduled": Boolean(),
        "repeat": Boolean(),
    }

    def branch(grouping: str, source, by: list[str], *sums):
        columns = [(source.c[k] if k in by else cast(null(), types[k])).label(k) for k in keys]
        # The grouping's name as SQL text: a bound parameter would have no type in a UNION.
        label = literal_column(f"'{grouping}'", String).label("grouping")
        return select(label, *columns, *sums).group_by(*(source.c[k] for k in by))

    branches = []
    for grouping, source in (
        ("station", by_what),
        ("script", by_what),
        ("priority", by_what),
        ("day", by_when),
    ):
        kinds = [source.c[k] for k in KIND_NAMES]
        sums = [func.sum(source.c.n).label("n"), func.sum(source.c.seconds).label("seconds")]
        branches.append(branch(grouping, source, [grouping, *KIND_NAMES], *kinds, *sums))
    # Whatever the status filter: the over-cap list never took it into account.
    no_kinds = [cast(null(), types[k]).label(k) for k in KIND_NAMES]
    played = func.sum(case((by_when.c.status.in_(PLAYED), by_when.c.seconds), else_=0.0))
    smallest_cap = (
        select(func.min(BroadcastSession.cap_minutes) * 60)
        .where(BroadcastSession.station_id == by_when.c.station, BroadcastSession.cap_minutes != 0)
        .scalar_subquery()
    )
    branches.append(
        branch(
            "long_day",
            by_when,
            ["station", "day"],
            *no_kinds,
            literal_column("0").label("n"),
            played.label("seconds"),
        ).having(played > smallest_cap)
    )
    groups: dict[str, dict] = {name: {} for name in DASHBOARD_GROUPINGS}
    long_days = set()
    for row in db.session.execute(union_all(*branches)):
        if row.grouping == "long_day":
            long_days.add(row.station)
        else:
            key = _key(getattr(row, row.grouping))
            if row.grouping == "priority":
                key = Priority(key)
            _count_rows(groups[row.grouping], key, filters, row)
    return groups, _session_seconds(actor, filters, long_days)


def _regroup(groups, names: list[str]):
    """Groups of _total_groups() summed by fewer keys (and the same kinds)."""
    columns = [groups.c[k] for k in (*names, *KIND_NAMES)]
    return select(
        *columns,
        func.sum(groups.c.n).label("n"),
        func.sum(groups.c.seconds).label("seconds"),
    ).group_by(*columns)


def _session_seconds(actor: User, filters: ReportFilter, station_ids: set[int]) -> list:
    """Seconds played per station, local day and session (the rows' airings name it)."""
    if not station_ids:
        return []
    day = local_day(log_time())
    played = case(
        (BroadcastLog.status.in_(PLAYED), func.coalesce(BroadcastLog.duration_s, 0.0)),
        else_=0.0,
    )
    query = (
        _log_rows(actor, filters)
        .join(Airing, Airing.airing_key == BroadcastLog.airing_key)
        .where(Airing.session_name != "", BroadcastLog.station_id.in_(sorted(station_ids)))
        .add_columns(
            BroadcastLog.station_id, day.label("day"), Airing.session_name, func.sum(played)
        )
        .group_by(BroadcastLog.station_id, day, Airing.session_name)
    )
    return db.session.execute(query).all()


def _over_cap(session_seconds: list) -> list[OverCap]:
    """Sessions whose played seconds on a day exceeded their cap, by day, station, session."""
    caps: dict[tuple[int, str], int] = {
        (s.station_id, s.name): s.cap_minutes
        for s in db.session.scalars(select(BroadcastSession))
        if s.cap_minutes
    }
    found = []
    for station_id, when, session, seconds in session_seconds:
        cap = caps.get((station_id, session))
        if cap and (seconds or 0) > cap * 60:
            found.append((station_id, _as_date(when), session, seconds / 60, cap))
    stations = _load(Station, {f[0]: None for f in found})
    return [
        OverCap(stations[sid], day_, session, round(minutes, 1), cap)
        for sid, day_, session, minutes, cap in sorted(found, key=lambda f: (f[1], f[0], f[2]))
    ]


def _load(model, keyed: dict) -> dict:
    """Rows of model by id for the non-null keys."""
    ids = [k for k in keyed if k is not None]
    if not ids:
        return {}
    return {r.id: r for r in db.session.scalars(select(model).where(model.id.in_(ids)))}


def campaign_label(value: str) -> str:
    """A campaign's name, or the label for rows outside any campaign."""
    return value or NO_CAMPAIGN


# --- drill-down -------------------------------------------------------------------------------


def drill_rows(actor: User, filters: ReportFilter, figure: str | None = None):
    """The effective log rows behind a figure (a key of FIGURE_ROWS; None: every row), in
    airing order (a select of BroadcastLog)."""
    filters = check_filter(actor, filters)
    query = effective_rows(actor, filters).add_columns(BroadcastLog)
    if filters.status is not None:
        query = query.where(BroadcastLog.status == filters.status)
    if figure is not None:
        query = query.where(FIGURE_ROWS[figure])
    return query.order_by(log_time(), BroadcastLog.id)


# --- campaign report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Miss:
    """One airing that did not air as planned, with why: the log row's columns the proof
    shows (a campaign can have thousands; whole rows would be read for nothing)."""

    id: int
    planned_at: datetime | None
    started_at: datetime | None
    status: LogStatus
    reason: str


@dataclass
class CampaignLine:
    """One station and script of a campaign."""

    station: Station
    script: Script | None
    tally: Tally
    first_aired: datetime | None
    last_aired: datetime | None
    misses: list[Miss] = field(default_factory=list)


@dataclass
class CampaignReport:
    """Proof for a dispatch: what each station aired of each script, and what it missed."""

    filters: ReportFilter
    total: Tally
    lines: list[CampaignLine]
    scripts: list[Script]


MISS_STATUSES = (
    LogStatus.MISSED,
    LogStatus.FAILED,
    LogStatus.SKIPPED,
    LogStatus.INTERRUPTED,
    LogStatus.PARTIAL,
)


def campaign_report(actor: User, filters: ReportFilter) -> CampaignReport:
    """Per station and script: planned, aired, first and last airing, airtime, misses."""
    filters = check_filter(actor, filters)
    if filters.campaign is None and not filters.source_number and filters.dispatch_id is None:
        message = "Chọn một chiến dịch hoặc một văn bản nguồn."
        raise ValidationError(message, {"campaign": message})
    # One pass: each station and script's rows by status and kind, with their first and
    # last start; first and last airing are those of the groups that aired.
    query = _total_groups(
        actor,
        filters,
        ["station", "script"],
        func.min(LogTotal.first_started).label("first"),
        func.max(LogTotal.last_started).label("last"),
    )
    tallies: dict[tuple, Tally] = {}
    starts: dict[tuple, list[datetime]] = defaultdict(list)
    for row in db.session.execute(query):
        key = (row.station, row.script)
        _count_rows(tallies, key, filters, row)
        if LogStatus(row.status) in ON_AIR:
            starts[key] += [t for t in (_aware(row.first), _aware(row.last)) if t is not None]
    first_last = {key: (min(found), max(found)) for key, found in starts.items() if found}
    _add_pending(tallies, _pending_counts(actor, filters, [Airing.station_id, Airing.script_id]))
    misses: dict[tuple, list[Miss]] = defaultdict(list)
    miss_rows = (
        _log_rows(actor, filters)
        .add_columns(
            BroadcastLog.station_id,
            BroadcastLog.script_id,
            BroadcastLog.id,
            BroadcastLog.planned_at,
            BroadcastLog.started_at,
            BroadcastLog.status,
            BroadcastLog.reason,
        )
        .where(BroadcastLog.status.in_(MISS_STATUSES))
        .order_by(log_time(), BroadcastLog.id)
    )
    for station_id, script_id, *miss in db.session.execute(miss_rows):
        misses[(station_id, script_id)].append(Miss(*miss))
    stations = _load(Station, {sid: None for sid, _ in tallies})
    scripts = _load(Script, {scr: None for _, scr in tallies})
    lines = []
    total = Tally()
    for (sid, scr), tally in tallies.items():
        first, last = first_last.get((sid, scr), (None, None))
        line = CampaignLine(stations[sid], scripts.get(scr), tally, first, last, misses[(sid, scr)])
        lines.append(line)
        total.add(tally)
    lines.sort(
        key=lambda ln: (
            ln.station.code,
            ln.script.title if ln.script else "",
            ln.script.id if ln.script else 0,
        )
    )
    return CampaignReport(filters, total, lines, sorted(scripts.values(), key=lambda s: s.title))


def _aware(value) -> datetime | None:
    """Aggregates bypass the column type: make SQLite's naive UTC text aware, in local time."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)


def campaigns(actor: User) -> list[str]:
    """Campaign names of scripts visible in the actor's subtree (for pickers)."""
    query = (
        select(Script.campaign)
        .distinct()
        .join(Unit, Script.unit_id == Unit.id)
        .where(Script.campaign != "", Unit.path.startswith(actor.unit.path))
    )
    if sees_only_own_scripts(actor):
        query = query.where(Script.created_by_id == actor.id)
    return sorted(db.session.scalars(query))


def source_documents(actor: User) -> list[tuple[str, str]]:
    """(source number, how it is cited) of scripts in the actor's subtree, for pickers."""
    query = (
        select(Script)
        .join(Unit, Script.unit_id == Unit.id)
        .where(Script.source_number != "", Unit.path.startswith(actor.unit.path))
    )
    seen: dict[str, str] = {}
    for script in db.session.scalars(query):
        seen.setdefault(script.source_number, script.source_label)
    return sorted(seen.items())


# --- the station logbook ----------------------------------------------------------------------


@dataclass
class LogbookLine:
    """One line of a station's logbook (sổ nhật ký phát sóng)."""

    row: BroadcastLog
    day: date
    session: str
    planned: datetime | None
    started: datetime | None
    ended: datetime | None
    title: str
    source: str
    approver: str
    version: int | None
    operator: str
    result: str
    notes: str
    # A programme's items, each with its start and sha256 (app.programmes); empty for spots.
    items: list = field(default_factory=list)


def logbook(actor: User, station: Station, period: Period) -> list[LogbookLine]:
    """The station's effective rows of the period in the order they aired."""
    from app.scripts.models import Decision, ScriptReview, ScriptVersion

    filters = check_filter(actor, ReportFilter(period=period, station=station))
    aired_at = func.coalesce(BroadcastLog.started_at, BroadcastLog.planned_at)
    query = (
        effective_rows(actor, filters)
        .add_columns(BroadcastLog, Airing.session_name, ScriptVersion.number)
        .outerjoin(Airing, Airing.airing_key == BroadcastLog.airing_key)
        .outerjoin(ScriptVersion, ScriptVersion.id == BroadcastLog.version_id)
        .order_by(aired_at, BroadcastLog.id)
    )
    rows = db.session.execute(query).all()
    versions = {r[0].version_id for r in rows if r[0].version_id}
    approvers: dict[int, str] = {}
    if versions:
        reviews = db.session.scalars(
            select(ScriptReview).where(
                ScriptReview.version_id.in_(versions),
                ScriptReview.decision == Decision.APPROVED,
            )
        )
        for review in reviews:
            approvers[review.version_id] = review.reviewer.full_name
    scripts = _load(Script, {r[0].script_id: None for r in rows})
    from app.programmes.service import logged_items  # programmes build on the log

    programme_items = logged_items(r[0] for r in rows)
    lines = []
    for row, session, number in rows:
        script = scripts.get(row.script_id)
        when = (row.started_at or row.planned_at).astimezone(LOCAL_TZ)
        operator = row.performed_by
        notes = row.reason
        if row.corrects_id:
            notes = f"{notes} (sửa dòng trước: {row.correction_reason})".strip()
        lines.append(
            LogbookLine(
                row=row,
                day=when.date(),
                session=session or "",
                planned=row.planned_at.astimezone(LOCAL_TZ) if row.planned_at else None,
                started=row.started_at.astimezone(LOCAL_TZ) if row.started_at else None,
                ended=row.ended_at.astimezone(LOCAL_TZ) if row.ended_at else None,
                title=script.title if script else (row.reason or "Đọc trực tiếp"),
                source=script.source_label if script else "",
                approver=approvers.get(row.version_id, ""),
                version=number,
                operator=operator,
                result=row.status.label,
                notes=notes,
                items=programme_items.get(row.id, []),
            )
        )
    return lines


def group_by_day(lines: Iterable[LogbookLine]) -> list[tuple[date, list[LogbookLine]]]:
    """Logbook lines grouped by local day, in order."""
    days: dict[date, list[LogbookLine]] = defaultdict(list)
    for line in lines:
        days[line.day].append(line)
    return sorted(days.items())
