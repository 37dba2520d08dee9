"""Report pages: the airtime dashboard, the log rows behind a figure, a campaign's proof, a
station's printable logbook, their exports and the log's integrity check.

Every page is a GET with its filters in the query string, so a report can be bookmarked,
sent to a colleague and printed; `format=csv|xlsx|pdf|json` on the same address downloads
it (audited by exports.send_export), and `verify=1` adds the hash-chain check of the log
rows written in the period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import and_, func, or_, select, type_coerce
from werkzeug.datastructures import MultiDict

from app.auth.models import User
from app.auth.permissions import in_scope
from app.broadcast.models import BroadcastLog
from app.broadcast.service import LogFilter, log_query, log_time, verify_chain
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import DomainError, NotFound, ValidationError
from app.core.text import parse_id
from app.core.types import UTCDateTime
from app.dispatches.models import Dispatch
from app.extensions import db
from app.org.models import Station, Unit
from app.playout.runner import format_span
from app.reports import charts
from app.reports.exports import (
    COMPLIANCE_LABEL,
    FORMAT_LABELS,
    FORMATS,
    Column,
    Document,
    Table,
    campaign_document,
    dashboard_document,
    drill_document,
    filter_pairs,
    logbook_document,
    send_export,
    slugify,
)
from app.reports.service import (
    PERIOD_KINDS,
    WEEKDAY_NAMES,
    Period,
    ReportFilter,
    airtime_dashboard,
    campaign_label,
    campaign_report,
    campaigns,
    check_filter,
    drill_rows,
    filed_under,
    group_by_day,
    pending_airings,
    period_from_args,
    source_documents,
    station_in_reach,
)
from app.reports.service import logbook as station_logbook
from app.schedules import console as playout_console
from app.schedules.models import Airing
from app.scripts.models import Priority, Script

bp = Blueprint("reports", __name__, url_prefix="/reports")

PER_PAGE = 50
# In the query string, campaign=- means "rows of scripts outside any campaign" and script=-
# "rows with no script" (live reads), so those table lines can be drilled into too.
NONE_ARG = "-"
ALL_TIME = "all"
LOGBOOK_KINDS = ("day", "week")
# What a dashboard's link to a campaign's report keeps: the period and the unit (the campaign
# page has no station, script or priority filter to show or undo).
CAMPAIGN_LINK_ARGS = ("period", "date", "end", "unit")

# The figures a drill-down can list, worded as on the dashboard (which rows each lists:
# reports.service.FIGURE_ROWS).
FIGURES: dict[str, str] = {
    "planned": "Kế hoạch",
    "pending": "Chờ phát",
    "on_air": "Đã phát",
    "aired": "Phát đúng giờ",
    "aired_late": "Phát muộn",
    "missed": "Bỏ lỡ",
    "failed": "Lỗi",
    "incomplete": "Bị ngắt, phát một phần hoặc bỏ qua",
    "cancelled": "Đã hủy",
    "manual": "Phát ngoài lịch",
    "airtime": "Có thời lượng phát",
}

# --- template helpers -------------------------------------------------------------------------


def report_url(endpoint: str, base: dict, **changes) -> str:
    """The address of a report page with the page's filters, some changed (None drops one)."""
    args = dict(base)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(endpoint, **args)


def span(seconds: float | None) -> str:
    """A duration in Vietnamese words, or "—"."""
    return "—" if seconds is None else format_span(round(seconds))


@bp.context_processor
def helpers() -> dict:
    """Formatting helpers and labels for the report templates."""
    return {
        "report_url": report_url,
        "span": span,
        "vn_number": charts.vn_number,
        "campaign_label": campaign_label,
        "FIGURES": FIGURES,
        "FORMATS": FORMATS,
        "FORMAT_LABELS": FORMAT_LABELS,
        "PERIOD_KINDS": PERIOD_KINDS,
        "WEEKDAY_NAMES": WEEKDAY_NAMES,
        "NONE_ARG": NONE_ARG,
        "priorities": list(Priority),
    }


# --- reading the filters ----------------------------------------------------------------------


@dataclass
class Parsed:
    """The filters read from the query string, the canonical query string for links, and a
    Vietnamese message per bad argument."""

    filters: ReportFilter
    base: dict
    errors: dict[str, str]
    not_found: bool = False
    no_script: bool = False
    # The station picked, when it is now outside the actor's subtree and the report counts
    # its earlier rows, filed under the subtree (pages say so).
    moved_station: Station | None = None
    # The dispatch whose scripts the report is narrowed to (dispatch=<id>).
    dispatch: Dispatch | None = None

    @property
    def status(self) -> int:
        """The HTTP status of a page that could not be made from these filters."""
        if not self.errors:
            return 200
        return 404 if self.not_found else 422


def today() -> date:
    """Today in Vietnam."""
    return clock.now().astimezone(LOCAL_TZ).date()


def scope_units(actor: User) -> list[Unit]:
    """The units a report may cover: the actor's unit and its subtree, in tree order."""
    query = select(Unit).where(Unit.path.startswith(actor.unit.path)).order_by(Unit.path)
    return list(db.session.scalars(query))


def scope_stations(actor: User, unit: Unit | None = None) -> list[Station]:
    """Stations of the unit's subtree (default: the actor's), closed ones too."""
    path = (unit or actor.unit).path
    query = (
        select(Station)
        .join(Unit, Station.unit_id == Unit.id)
        .where(Unit.path.startswith(path))
        .order_by(Unit.path, Station.code)
    )
    return list(db.session.scalars(query))


def read_filters(
    actor: User,
    args,
    *,
    all_time: bool = False,
    kinds: tuple[str, ...] | None = None,
) -> Parsed:
    """The report filters in args: period=day|week|month|custom (or all when allowed), date,
    end, unit and station codes, campaign, source, script id, priority."""
    errors: dict[str, str] = {}
    not_found = False
    moved = None
    filters = ReportFilter(period=None)
    kind = (args.get("period") or "").strip() or (ALL_TIME if all_time else "month")
    if kinds is not None and kind not in kinds:
        names = " hoặc ".join(PERIOD_KINDS[k].lower() for k in kinds)
        errors["period"] = f"Kỳ không hợp lệ; ở đây chỉ chọn được {names}."
    elif not (all_time and kind == ALL_TIME):
        try:
            filters.period = period_from_args({**args.to_dict(), "period": kind}, today())
        except ValidationError as exc:
            errors.update(exc.fields or {"period": exc.message})

    def scoped(model, name: str, what: str, lookup):
        nonlocal not_found
        value = (args.get(name) or "").strip()
        if not value:
            return None
        found = db.session.scalar(select(model).where(lookup(value)))
        unit = (found.unit if model is not Unit else found) if found is not None else None
        if found is None or not in_scope(actor, unit):
            errors[name] = f"{what} “{value}” không tồn tại hoặc nằm ngoài phạm vi của bạn."
            not_found = True
            return None
        return found

    filters.unit = scoped(Unit, "unit", "Đơn vị", lambda v: Unit.code == v)
    # A station that moved out of the subtree can be picked for its rows filed under it.
    code = (args.get("station") or "").strip().upper()
    station = db.session.scalar(select(Station).where(Station.code == code)) if code else None
    if (
        station is not None
        and "unit" not in errors
        and not in_scope(actor, station.unit)
        and station_in_reach(actor, station, filters.unit)
    ):
        moved = filters.station = station
    if moved is None:
        filters.station = scoped(Station, "station", "Đài", lambda v: Station.code == v.upper())
    station = filters.station
    if (
        filters.unit is not None
        and station is not None
        and not filters.unit.contains(station.unit)
        and not filed_under(station, filters.unit)
    ):
        errors["station"] = (
            f"Đài {station.code} không thuộc {filters.unit.name}; "
            "hãy chọn đài của đơn vị đó hoặc bỏ chọn đài."
        )
    campaign = args.get("campaign")
    if campaign is not None and campaign.strip():
        filters.campaign = "" if campaign.strip() == NONE_ARG else campaign.strip()
    filters.source_number = (args.get("source") or "").strip() or None
    script = (args.get("script") or "").strip()
    no_script = script == NONE_ARG
    if script and not no_script:
        if parse_id(script) is None:
            errors["script"] = f"Mã kịch bản “{script}” không hợp lệ."
        else:
            filters.script = db.session.get(Script, parse_id(script))
            if filters.script is None or not in_scope(actor, filters.script.unit):
                errors["script"] = "Kịch bản không tồn tại hoặc nằm ngoài phạm vi của bạn."
                filters.script = None
                not_found = True
    priority = (args.get("priority") or "").strip()
    if priority:
        try:
            filters.priority = Priority(priority)
        except ValueError:
            errors["priority"] = "Mức ưu tiên không hợp lệ."
    dispatch = None
    dispatch_arg = (args.get("dispatch") or "").strip()
    if dispatch_arg:
        # Nine digits at most: a larger id is none (and out of an INTEGER column's range).
        plausible = parse_id(dispatch_arg)
        found = db.session.get(Dispatch, plausible) if plausible is not None else None
        if found is None or not in_scope(actor, found.unit):
            errors["dispatch"] = "Văn bản không tồn tại hoặc nằm ngoài phạm vi của bạn."
            not_found = True
        else:
            dispatch = found
            filters.dispatch_id = found.id
    if not errors:
        check_filter(actor, filters)
    base = canonical_args(actor, filters, no_script)
    return Parsed(filters, base, errors, not_found, no_script, moved, dispatch)


def canonical_args(actor: User, filters: ReportFilter, no_script: bool = False) -> dict:
    """The query string that names these filters (for links, exports and the next period)."""
    args: dict = {}
    period = filters.period
    if period is None:
        args["period"] = ALL_TIME
    else:
        args["period"] = period.kind
        args["date"] = period.start.isoformat()
        if period.kind == "custom":
            args["end"] = period.end.isoformat()
    if filters.unit is not None and filters.unit.id != actor.unit_id:
        args["unit"] = filters.unit.code
    if filters.station is not None:
        args["station"] = filters.station.code
    if filters.campaign is not None:
        args["campaign"] = filters.campaign or NONE_ARG
    if filters.source_number:
        args["source"] = filters.source_number
    if filters.script is not None:
        args["script"] = filters.script.id
    elif no_script:
        args["script"] = NONE_ARG
    if filters.priority is not None:
        args["priority"] = filters.priority.value
    if filters.dispatch_id is not None:
        args["dispatch"] = filters.dispatch_id
    return args


def period_links(endpoint: str, base: dict, period: Period | None) -> dict:
    """Links to the period before and after, and to the day, week and month around it."""
    if period is None:
        return {}

    def at(p: Period) -> str:
        end = p.end.isoformat() if p.kind == "custom" else None
        return report_url(endpoint, base, period=p.kind, date=p.start.isoformat(), end=end)

    anchor = today() if period.start <= today() <= period.end else period.start
    kinds = {
        kind: report_url(endpoint, base, period=kind, date=anchor.isoformat(), end=None)
        for kind in ("day", "week", "month")
    }
    previous, following = period.previous(), period.next()
    return {
        "previous": (previous.label, at(previous)),
        "next": (following.label, at(following)),
        "kinds": kinds,
    }


def form_values(parsed: Parsed) -> dict:
    """What the filter form shows: what was typed when it was wrong, else the canonical one."""
    typed = request.args.to_dict()
    if parsed.errors:
        return typed
    return {**typed, **{k: str(v) for k, v in parsed.base.items()}}


def export_or_error(parsed: Parsed, make_doc, stem: str):
    """The download when format= is asked for, or None; a bad format becomes a page error."""
    fmt = request.args.get("format")
    if fmt is None or parsed.errors:
        return None
    try:
        return send_export(current_user, make_doc(), fmt, stem)
    except ValidationError as exc:
        parsed.errors.update(exc.fields or {"format": exc.message})
        return None


def period_stem(period: Period | None) -> str:
    """The period part of an export's file name."""
    if period is None:
        return "toan-bo"
    if period.start == period.end:
        return period.start.isoformat()
    return f"{period.start.isoformat()}-den-{period.end.isoformat()}"


# --- integrity --------------------------------------------------------------------------------


@dataclass
class IntegrityCheck:
    """The hash-chain check of the stations' rows written in a period, in the page's words."""

    ok: bool
    checked: int
    stations: int
    period: Period | None
    station: Station | None = None
    seq: int | None = None
    problem: str = ""


def written_spans(
    stations: list[Station], period: Period | None
) -> dict[int, tuple[datetime, datetime]]:
    """Per station, when its first and last log row filed in the period were written."""
    filed = func.coalesce(BroadcastLog.planned_at, BroadcastLog.started_at)
    query = (
        select(
            BroadcastLog.station_id,
            type_coerce(func.min(BroadcastLog.created_at), UTCDateTime()),
            type_coerce(func.max(BroadcastLog.created_at), UTCDateTime()),
        )
        .where(BroadcastLog.station_id.in_([s.id for s in stations]))
        .group_by(BroadcastLog.station_id)
    )
    if period is not None:
        start, end = period.utc_bounds
        query = query.where(filed >= start, filed < end)
    return {sid: (first, last) for sid, first, last in db.session.execute(query)}


def check_integrity(stations: list[Station], period: Period | None) -> IntegrityCheck:
    """Verify the chains behind a report: for each station, every row written from its first
    to its last row of the period (so rows in between are covered too) and the link into
    them; stop at the first broken row."""
    spans = written_spans(stations, period)
    checked = 0
    for station in stations:
        if station.id not in spans:
            continue
        first, last = spans[station.id]
        result = verify_chain(station.id, first, last + timedelta(microseconds=1))
        checked += result.checked
        if not result.ok:
            bad = result.first_bad
            return IntegrityCheck(
                False, checked, len(spans), period, station, bad.seq, result.problem
            )
    return IntegrityCheck(True, checked, len(spans), period)


def _integrity_for(parsed: Parsed) -> IntegrityCheck | None:
    """The check when verify=1 was asked for on a page whose filters are valid."""
    if not request.args.get("verify") or parsed.errors:
        return None
    filters = parsed.filters
    stations = (
        [filters.station]
        if filters.station is not None
        else scope_stations(current_user, filters.unit)
    )
    return check_integrity(stations, filters.period)


def _pickers(actor: User) -> dict:
    """The options of the unit, station, campaign and source pickers."""
    units = scope_units(actor)
    base_depth = actor.unit.depth
    return {
        "units": [(u, u.depth - base_depth) for u in units],
        "stations": scope_stations(actor),
        "in_scope": lambda station: in_scope(actor, station.unit),
        "campaigns": campaigns(actor),
        "sources": source_documents(actor),
    }


def _page(template: str, parsed: Parsed, **context):
    """Render a report page with its filters; bad filters give their status code."""
    return (
        render_template(
            template,
            parsed=parsed,
            filters=parsed.filters,
            base=parsed.base,
            errors=parsed.errors,
            form=form_values(parsed),
            **_pickers(current_user),
            **context,
        ),
        parsed.status,
    )


# --- pages ------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index():
    """The airtime dashboard: planned against aired by station, campaign, script, priority."""
    parsed = read_filters(current_user, request.args)
    board = None
    if not parsed.errors:
        board = airtime_dashboard(current_user, parsed.filters)
        stem = f"bao-cao-phat-song-{period_stem(parsed.filters.period)}"
        download = export_or_error(parsed, lambda: dashboard_document(board), stem)
        if download is not None:
            return download
    chart_set = dashboard_charts(board) if board is not None and not parsed.errors else None
    return _page(
        "reports/index.html",
        parsed,
        board=board if not parsed.errors else None,
        chart_set=chart_set,
        campaign_base={k: v for k, v in parsed.base.items() if k in CAMPAIGN_LINK_ARGS},
        links=period_links("reports.index", parsed.base, parsed.filters.period),
        integrity=_integrity_for(parsed),
    )


def dashboard_charts(board) -> dict:
    """The dashboard's three charts: airtime per day, airtime per station, compliance."""
    return {
        "airtime_days": charts.day_bars(
            [(d, t.airtime_minutes) for d, t in board.by_day],
            chart_id="chart-airtime-days",
            title="Thời lượng phát sóng theo ngày (phút)",
        ),
        "airtime_stations": charts.station_bars(
            [(f"{s.code} · {s.name}", t.airtime_minutes) for s, t in board.by_station],
            chart_id="chart-airtime-stations",
            title="Thời lượng phát sóng theo đài (phút)",
        ),
        "compliance": charts.compliance_line(
            [(d, _day_compliance(d, t)) for d, t in board.by_day],
            chart_id="chart-compliance",
            title=f"{COMPLIANCE_LABEL} theo ngày (%)",
        ),
    }


def _day_compliance(day: date, tally) -> float | None:
    """A day's compliance in percent for the chart; none for a day still to come (today
    included) while airings are pending, which would read as a miss."""
    if tally.compliance is None or (tally.pending and day >= today()):
        return None
    return tally.compliance * 100


@bp.get("/airings")
@login_required
def airings():
    """The log rows behind one figure of a report, paginated, with the same filters."""
    parsed = read_filters(current_user, request.args, all_time=True)
    figure = (request.args.get("figure") or "").strip() or None
    if figure is not None and figure not in FIGURES:
        parsed.errors["figure"] = f"Số liệu “{figure}” không có trong báo cáo."
        figure = None
    if figure is not None:
        parsed.base["figure"] = figure
    page = pending_count = None
    if not parsed.errors:
        if figure == "pending":
            query = _pending_query(parsed)
            make_doc = lambda: _pending_document(parsed, query)  # noqa: E731
        else:
            query = _drill_query(parsed, figure)
            make_doc = lambda: _drill_document(parsed, figure, query)  # noqa: E731
        stem = f"chi-tiet-phat-song-{figure or 'tat-ca'}-{period_stem(parsed.filters.period)}"
        download = export_or_error(parsed, make_doc, stem)
        if download is not None:
            return download
        if not parsed.errors:
            page = db.paginate(query, per_page=PER_PAGE, error_out=False)
            if figure == "planned" and not parsed.no_script:
                pending_count = db.session.scalar(
                    select(func.count()).select_from(_pending_query(parsed).subquery())
                )
    rows = []
    if page is not None:
        rows = page.items if figure == "pending" else _drill_rows(page.items)
    return _page(
        "reports/airings.html",
        parsed,
        figure=figure,
        page=page,
        rows=rows,
        pending_count=pending_count,
        links=period_links("reports.airings", parsed.base, parsed.filters.period),
        back_url=_dashboard_url(parsed.base),
    )


def _dashboard_url(base: dict) -> str:
    """The dashboard with a drill-down's filters (the dashboard has no figure, no all-time)."""
    args = {k: v for k, v in base.items() if k != "figure"}
    if args.get("period") == ALL_TIME:
        args.pop("period")
    if args.get("script") == NONE_ARG:
        args.pop("script")
    return url_for("reports.index", **args)


def _drill_query(parsed: Parsed, figure: str | None):
    """drill_rows narrowed to one figure's rows (and to rows without a script if asked)."""
    query = drill_rows(current_user, parsed.filters, figure)
    if parsed.no_script:
        query = query.where(BroadcastLog.script_id.is_(None))
    return query


def _pending_query(parsed: Parsed):
    """The period's scheduled airings the runner has not logged yet."""
    filters = check_filter(current_user, parsed.filters)
    query = pending_airings(current_user, filters).add_columns(Airing)
    if parsed.no_script:
        query = query.where(Airing.script_id.is_(None))
    return query.order_by(Airing.sequenced_at, Airing.id)


def _figure_pairs(parsed: Parsed, figure: str | None) -> list[tuple[str, str]]:
    pairs = filter_pairs(parsed.filters)
    if figure is not None:
        pairs.append(("Số liệu", FIGURES[figure]))
    if parsed.no_script:
        pairs.append(("Kịch bản", "(không gắn kịch bản)"))
    return pairs


def _drill_document(parsed: Parsed, figure: str | None, query) -> Document:
    doc = drill_document(parsed.filters, query)
    doc.filters = _figure_pairs(parsed, figure)
    if figure is not None:
        doc.subtitle = f"{FIGURES[figure]} · {doc.subtitle}"
    return doc


def _pending_document(parsed: Parsed, query) -> Document:
    """The pending airings as an export (they have no log row yet)."""
    columns = [
        Column("planned", "Dự kiến", "datetime"),
        Column("station_code", "Mã đài"),
        Column("station", "Tên đài"),
        Column("title", "Bản tin"),
        Column("session", "Buổi"),
        Column("priority", "Mức ưu tiên"),
        Column("status", "Trạng thái"),
    ]
    rows = (
        [
            a.sequenced_at,
            a.station.code,
            a.station.name,
            a.script.title if a.script else "",
            a.session_name,
            a.priority.label,
            "chờ phát",
        ]
        for a in db.session.scalars(query)
    )
    filters = parsed.filters
    return Document(
        title="Lượt phát chờ phát",
        subtitle=f"{FIGURES['pending']} · "
        + (filters.period.label if filters.period else "Toàn bộ thời gian"),
        filters=_figure_pairs(parsed, "pending"),
        tables=[Table("pending", "Lượt phát chưa ghi nhật ký", columns, rows)],
        report="drill",
        unit_id=filters.unit.id if filters.unit is not None else None,
    )


@dataclass
class DrillRow:
    """One log row as the drill-down shows it."""

    row: BroadcastLog
    title: str
    # The row on the station's broadcast log page of that day (/playout/log#log-<id>).
    log_url: str


def _local_day(row: BroadcastLog) -> date:
    """The Vietnamese day a log row is filed under (as the broadcast log page files it)."""
    return (row.planned_at or row.started_at).astimezone(LOCAL_TZ).date()


def _filed_on(station_id: int, day: date):
    """Rows of a station filed under a local day, on columns an index can serve (the same
    rows as log_time() in the day, which no index can)."""
    start = datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)
    end = start + timedelta(days=1)
    planned, started = BroadcastLog.planned_at, BroadcastLog.started_at
    return and_(
        BroadcastLog.station_id == station_id,
        or_(
            and_(planned >= start, planned < end),
            and_(planned.is_(None), started >= start, started < end),
        ),
    )


def _log_pages(rows: list[BroadcastLog]) -> dict[int, int]:
    """For each row, the page of its station's day on /playout/log it is listed on (newest
    first, as that page orders them), so a busy day's older rows are linked to the right page.
    Rows of stations now outside the actor's units are not on that page and have none."""
    wanted = {(r.station_id, _local_day(r)) for r in rows}
    if not wanted:
        return {}
    query = (
        log_query(current_user, LogFilter())
        .where(or_(*(_filed_on(station_id, day) for station_id, day in wanted)))
        .with_only_columns(
            BroadcastLog.id,
            BroadcastLog.station_id,
            type_coerce(log_time(), UTCDateTime()),
            maintain_column_froms=True,
        )
    )
    seen: dict[tuple[int, date], int] = defaultdict(int)
    pages = {}
    for row_id, station_id, when in db.session.execute(query):
        key = (station_id, when.astimezone(LOCAL_TZ).date())
        pages[row_id] = seen[key] // playout_console.LOG_PER_PAGE + 1
        seen[key] += 1
    return pages


def _drill_rows(rows: list[BroadcastLog]) -> list[DrillRow]:
    ids = {r.script_id for r in rows if r.script_id}
    titles = dict(
        db.session.execute(select(Script.id, Script.title).where(Script.id.in_(ids))).all()
    )
    pages = _log_pages(rows)
    found = []
    for row in rows:
        title = titles.get(row.script_id) or row.reason or "Đọc trực tiếp"
        day = _local_day(row).isoformat()
        page = pages.get(row.id, 1)
        log_url = url_for(
            "playout.log",
            station=row.station.code,
            date_from=day,
            date_to=day,
            page=page if page > 1 else None,
            _anchor=f"log-{row.id}",
        )
        found.append(DrillRow(row, title, log_url))
    return found


@bp.get("/campaign")
@login_required
def campaign():
    """A campaign's or a source document's proof: per station and script, and every miss."""
    parsed = read_filters(current_user, request.args, all_time=True)
    report = None
    chosen = (
        parsed.filters.campaign is not None
        or bool(parsed.filters.source_number)
        or parsed.filters.dispatch_id is not None
    )
    if chosen and not parsed.errors:
        try:
            report = campaign_report(current_user, parsed.filters)
        except DomainError as exc:
            parsed.errors.update(exc.fields or {"campaign": exc.message})
            parsed.not_found = isinstance(exc, NotFound)
    if report is not None:
        if parsed.filters.campaign is not None:
            name = campaign_label(parsed.filters.campaign)
        else:
            name = parsed.filters.source_number or parsed.dispatch.reference or "van-ban"
        stem = f"chien-dich-{slugify(name)}-{period_stem(parsed.filters.period)}"
        download = export_or_error(parsed, lambda: campaign_document(report), stem)
        if download is not None:
            return download
    elif request.args.get("format") and not parsed.errors:
        message = "Chọn một chiến dịch hoặc một văn bản nguồn trước khi xuất báo cáo."
        parsed.errors["campaign"] = message
    source = parsed.filters.source_number
    return _page(
        "reports/campaign.html",
        parsed,
        report=report if not parsed.errors else None,
        source_label=dict(source_documents(current_user)).get(source, source),
        miss_total=sum(len(line.misses) for line in report.lines) if report else 0,
        links=period_links("reports.campaign", parsed.base, parsed.filters.period),
    )


@bp.get("/logbook")
@login_required
def logbook():
    """A station's logbook (sổ nhật ký phát sóng) for a day or a week, ready to print."""
    args = request.args.to_dict()
    args.setdefault("period", "week")
    parsed = read_filters(current_user, MultiDict(args), kinds=LOGBOOK_KINDS)
    station = parsed.filters.station
    days = None
    if station is not None and not parsed.errors:
        period = parsed.filters.period
        lines = station_logbook(current_user, station, period)
        stem = f"so-nhat-ky-{station.code}-{period_stem(period)}"
        download = export_or_error(parsed, lambda: logbook_document(station, period, lines), stem)
        if download is not None:
            return download
        grouped = dict(group_by_day(lines))
        days = [(d, grouped.get(d, [])) for d in period.days]
    return _page(
        "reports/logbook.html",
        parsed,
        station=station,
        days=days if not parsed.errors else None,
        printed_at=clock.now(),
        links=period_links("reports.logbook", parsed.base, parsed.filters.period),
        integrity=_integrity_for(parsed) if station is not None else None,
    )
