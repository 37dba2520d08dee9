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
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, exists, func, literal, not_, or_, select
from sqlalchemy.orm import aliased

from app.auth.models import Role, User
from app.auth.permissions import in_scope
from app.broadcast.models import BroadcastLog, LogStatus
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


def check_filter(actor: User, filters: ReportFilter) -> ReportFilter:
    """Fill the default unit and refuse units and stations outside the actor's subtree."""
    if filters.unit is None:
        filters.unit = actor.unit
    elif not in_scope(actor, filters.unit):
        message = "Đơn vị không tồn tại hoặc nằm ngoài phạm vi của bạn."
        raise NotFound(message, {"unit": message})
    if filters.station is not None and not in_scope(actor, filters.station.unit):
        message = "Đài không tồn tại hoặc nằm ngoài phạm vi của bạn."
        raise NotFound(message, {"station": message})
    return filters


def sees_only_own_scripts(actor: User) -> bool:
    """Writers see the airings of the scripts they wrote; other roles their whole subtree."""
    return actor.role == Role.WRITER


def _log_time():
    """The time a row is filed under: planned, or started for a live read with no plan."""
    return func.coalesce(BroadcastLog.planned_at, BroadcastLog.started_at)


def local_day(column):
    """The local (UTC+7, no daylight saving) calendar day of a UTC timestamp, in SQL."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(literal("Asia/Ho_Chi_Minh"), column))
    return func.date(column, "+7 hours")


def _as_date(value) -> date:
    """SQLite returns date() as text, PostgreSQL as a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def effective_rows(actor: User, filters: ReportFilter):
    """A select of the effective log rows the filters cover, joined to station, unit, script.

    Columns are added by the callers (select_from this); see the module docstring for which
    rows count.
    """
    corrected = aliased(BroadcastLog)
    filed_unit = aliased(Unit)
    unit_id = func.coalesce(BroadcastLog.unit_id, Station.unit_id)
    query = (
        select()
        .select_from(BroadcastLog)
        .join(Station, BroadcastLog.station_id == Station.id)
        .join(filed_unit, filed_unit.id == unit_id)
        .outerjoin(Script, BroadcastLog.script_id == Script.id)
        .where(
            filed_unit.path.startswith(filters.unit.path),
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
    if filters.campaign is not None:
        query = query.where(func.coalesce(Script.campaign, "") == filters.campaign)
    if filters.source_number:
        query = query.where(Script.source_number == filters.source_number)
    if filters.script is not None:
        query = query.where(model.script_id == filters.script.id)
    if filters.priority is not None:
        query = query.where(model.priority == filters.priority)
    if sees_only_own_scripts(actor):
        query = query.where(Script.created_by_id == actor.id)
    return query


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


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def _tally_columns():
    """Conditional sums over effective rows, in the order of Tally's fields."""
    status = BroadcastLog.status
    scheduled = BroadcastLog.schedule_id.is_not(None)
    repeat = func.coalesce(BroadcastLog.airing_key, "").like("%~r%")
    columns = [
        _count(and_(scheduled, not_(repeat), status != LogStatus.CANCELLED)).label("planned"),
        literal(0).label("pending"),
    ]
    for name in ("aired", "aired_late", "partial", "interrupted", "failed", "missed", "skipped"):
        columns.append(_count(and_(scheduled, status == LogStatus(name))).label(name))
    columns.append(_count(and_(scheduled, status == LogStatus.CANCELLED)).label("cancelled"))
    columns.append(_count(and_(not_(scheduled), status.in_(ON_AIR))).label("manual"))
    played = case((status.in_(PLAYED), func.coalesce(BroadcastLog.duration_s, 0.0)), else_=0.0)
    columns.append(func.sum(played).label("airtime_s"))
    return columns


def _tallies(actor: User, filters: ReportFilter, log_keys=(), airing_keys=()) -> dict:
    """Tallies grouped by key columns (log rows' and pending airings' own), keyed by tuples.

    No key columns: one tally under the key ().
    """
    result: dict = defaultdict(Tally)
    labels = [k.label(f"k{n}") for n, k in enumerate(log_keys)]
    logged = effective_rows(actor, filters).add_columns(*labels, *_tally_columns())
    if filters.status is not None:
        logged = logged.where(BroadcastLog.status == filters.status)
    if log_keys:
        logged = logged.group_by(*log_keys)
    for row in db.session.execute(logged):
        tally = result[tuple(_key(row[n]) for n in range(len(log_keys)))]
        for name in (*COUNTED, "airtime_s"):
            setattr(tally, name, getattr(tally, name) + (getattr(row, name) or 0))
    if filters.status is None:
        labels = [k.label(f"k{n}") for n, k in enumerate(airing_keys)]
        pending = pending_airings(actor, filters).add_columns(*labels, func.count().label("n"))
        if airing_keys:
            pending = pending.group_by(*airing_keys)
        for row in db.session.execute(pending):
            if not row.n:
                continue
            tally = result[tuple(_key(row[n]) for n in range(len(airing_keys)))]
            tally.pending += row.n
            tally.planned += row.n
    return dict(result)


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
    total = _tallies(actor, filters).get((), Tally())
    stations = _one_key(_tallies(actor, filters, [BroadcastLog.station_id], [Airing.station_id]))
    campaign_log = func.coalesce(Script.campaign, "")
    campaigns = _one_key(_tallies(actor, filters, [campaign_log], [Script.campaign]))
    scripts = _one_key(_tallies(actor, filters, [BroadcastLog.script_id], [Airing.script_id]))
    priorities = _one_key(_tallies(actor, filters, [BroadcastLog.priority], [Airing.priority]))
    days = _one_key(
        _tallies(actor, filters, [local_day(_log_time())], [local_day(Airing.sequenced_at)])
    )
    station_rows = _load(Station, stations)
    script_rows = _load(Script, scripts)
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
            key=lambda st: (st[0] is None, st[0].title if st[0] else ""),
        ),
        by_priority=sorted(
            ((Priority(k), t) for k, t in priorities.items()),
            key=lambda pt: priority_rank(pt[0]),
        ),
        by_day=sorted(by_day.items()),
        over_cap=sessions_over_cap(actor, filters),
    )


def _one_key(tallies: dict) -> dict:
    """Tallies keyed by one column: unwrap the 1-tuples."""
    return {k[0]: t for k, t in tallies.items()}


def _load(model, keyed: dict) -> dict:
    """Rows of model by id for the non-null keys."""
    ids = [k for k in keyed if k is not None]
    if not ids:
        return {}
    return {r.id: r for r in db.session.scalars(select(model).where(model.id.in_(ids)))}


def campaign_label(value: str) -> str:
    """A campaign's name, or the label for rows outside any campaign."""
    return value or NO_CAMPAIGN


def sessions_over_cap(actor: User, filters: ReportFilter) -> list[OverCap]:
    """Sessions whose played airtime on a day exceeded their cap, by station and day."""
    day = local_day(_log_time())
    played = case(
        (BroadcastLog.status.in_(PLAYED), func.coalesce(BroadcastLog.duration_s, 0.0)),
        else_=0.0,
    )
    query = (
        effective_rows(actor, filters)
        .join(Airing, Airing.airing_key == BroadcastLog.airing_key)
        .where(Airing.session_name != "")
        .add_columns(
            BroadcastLog.station_id, day.label("day"), Airing.session_name, func.sum(played)
        )
        .group_by(BroadcastLog.station_id, day, Airing.session_name)
    )
    caps: dict[tuple[int, str], int] = {
        (s.station_id, s.name): s.cap_minutes
        for s in db.session.scalars(select(BroadcastSession))
        if s.cap_minutes
    }
    found = []
    for station_id, when, session, seconds in db.session.execute(query):
        cap = caps.get((station_id, session))
        if cap and (seconds or 0) > cap * 60:
            found.append((station_id, _as_date(when), session, seconds / 60, cap))
    stations = _load(Station, {f[0]: None for f in found})
    return [
        OverCap(stations[sid], day_, session, round(minutes, 1), cap)
        for sid, day_, session, minutes, cap in sorted(found, key=lambda f: (f[1], f[0], f[2]))
    ]


# --- drill-down -------------------------------------------------------------------------------


def drill_rows(actor: User, filters: ReportFilter):
    """The effective log rows behind a figure, in airing order (a select of BroadcastLog)."""
    filters = check_filter(actor, filters)
    query = effective_rows(actor, filters).add_columns(BroadcastLog)
    if filters.status is not None:
        query = query.where(BroadcastLog.status == filters.status)
    return query.order_by(_log_time(), BroadcastLog.id)


# --- campaign report --------------------------------------------------------------------------


@dataclass
class Miss:
    """One airing that did not air as planned, with why."""

    row: BroadcastLog

    @property
    def when(self) -> datetime:
        return (self.row.planned_at or self.row.started_at).astimezone(LOCAL_TZ)


@dataclass
class CampaignLine:
    """One station and script of a campaign."""

    station: Station
    script: Script | None
    tally: Tally
    first_aired: datetime | None
    last_aired: datetime | None
    misses: list[BroadcastLog] = field(default_factory=list)


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
    if filters.campaign is None and not filters.source_number:
        message = "Chọn một chiến dịch hoặc một văn bản nguồn."
        raise ValidationError(message, {"campaign": message})
    tallies = _tallies(
        actor,
        filters,
        [BroadcastLog.station_id, BroadcastLog.script_id],
        [Airing.station_id, Airing.script_id],
    )
    ontime = BroadcastLog.status.in_(ON_AIR)
    spans = effective_rows(actor, filters).add_columns(
        BroadcastLog.station_id,
        BroadcastLog.script_id,
        func.min(case((ontime, BroadcastLog.started_at))),
        func.max(case((ontime, BroadcastLog.started_at))),
    )
    spans = spans.group_by(BroadcastLog.station_id, BroadcastLog.script_id)
    first_last = {
        (sid, scr): (_aware(a), _aware(b)) for sid, scr, a, b in db.session.execute(spans)
    }
    misses: dict[tuple, list[BroadcastLog]] = defaultdict(list)
    miss_rows = (
        effective_rows(actor, filters)
        .add_columns(BroadcastLog)
        .where(BroadcastLog.status.in_(MISS_STATUSES))
        .order_by(_log_time(), BroadcastLog.id)
    )
    for (row,) in db.session.execute(miss_rows):
        misses[(row.station_id, row.script_id)].append(row)
    stations = _load(Station, {sid: None for sid, _ in tallies})
    scripts = _load(Script, {scr: None for _, scr in tallies})
    lines = []
    total = Tally()
    for (sid, scr), tally in tallies.items():
        first, last = first_last.get((sid, scr), (None, None))
        line = CampaignLine(stations[sid], scripts.get(scr), tally, first, last, misses[(sid, scr)])
        lines.append(line)
        total.add(tally)
    lines.sort(key=lambda ln: (ln.station.code, ln.script.title if ln.script else ""))
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
    lines = []
    for row, session, number in rows:
        script = scripts.get(row.script_id)
        when = (row.started_at or row.planned_at).astimezone(LOCAL_TZ)
        if row.operator is not None:
            operator = row.operator.full_name
        else:
            operator = f"tự động ({row.runner_host})" if row.runner_host else "tự động"
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
            )
        )
    return lines


def group_by_day(lines: Iterable[LogbookLine]) -> list[tuple[date, list[LogbookLine]]]:
    """Logbook lines grouped by local day, in order."""
    days: dict[date, list[LogbookLine]] = defaultdict(list)
    for line in lines:
        days[line.day].append(line)
    return sorted(days.items())
