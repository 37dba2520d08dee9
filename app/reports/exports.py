"""Report exports: CSV, XLSX, PDF and JSON of any report, with the filters applied, audited.

A report becomes a Document (title, subtitle, the applied filters, tables); a table's rows are
raw values (numbers, aware datetimes, dates, fractions for percentages) in the order of its
columns, and may be a generator so a large drill-down is read from the database as it is
written out. How each format shows them:

- CSV: UTF-8 with a BOM (Excel then reads the diacritics), comma-separated, CRLF, one header
  row of Vietnamese labels and nothing before it, so Excel, LibreOffice and scripts all read
  it as a plain table. One table per file: a document with several tables exports its first
  (the main) table, and the file name says which (…-theo-dai.csv); the other tables are in the
  XLSX, PDF and JSON exports. Times are local (Asia/Ho_Chi_Minh) as "2026-11-27 05:45:00":
  ISO order, which every Excel locale parses the same way (27/11 vs 11/27 cannot be confused).
  Numbers use "." for decimals and no thousands separator; percentages are 0–100 with one
  decimal; durations are seconds. The filters are not written into the CSV (they would break
  it as a table); they are in the file name the caller chooses and in the audit event.
- XLSX (XlsxWriter, constant memory): one sheet per table, named after its Vietnamese title;
  title, subtitle, filters and print date above a frozen, filterable header row; typed cells
  (dates and times as Excel dates in local time, percentages as Excel percentages), so Excel
  formats them in the user's locale. Printed landscape on A4, header repeated.
- PDF (fpdf2, DejaVu Sans embedded): for reading and printing in black and white; landscape
  A4 when a table is wide; title, subtitle, filters and print date on top; the header row
  repeated on every page; "Trang N/M" at the foot. Vietnamese number style (54,5 %; 1.234).
  A table is cut at PDF_MAX_ROWS rows with a note saying so: beyond that a PDF is no longer
  readable and costs memory; CSV and XLSX carry every row.
- JSON: {"title", "subtitle", "printed_at", "filters": {label: value}, "tables": {name:
  {"title", "columns": [{key, label, kind}], "rows": [{key: value}]}}}, written row by row;
  times ISO 8601 with +07:00, dates YYYY-MM-DD, percentages 0–100, durations in seconds.

Auditing: every export is recorded once, as "report.export", before anything is streamed.
Views call send_export(actor, doc, fmt, stem), which checks the format, records the event
and returns the response. export_response() alone does not audit; a caller that uses it
directly calls record_export() itself, exactly once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from urllib.parse import quote

from flask import Response, has_request_context, stream_with_context
from sqlalchemy import func
from sqlalchemy.orm import aliased

from app.audit.service import record_event
from app.auth.models import User
from app.broadcast.models import BroadcastLog, LogStatus, performer_label
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import ValidationError
from app.dispatches.models import Dispatch
from app.extensions import db
from app.org.models import Station
from app.programmes.service import items_text
from app.reports.service import (
    WEEKDAY_NAMES,
    CampaignReport,
    Dashboard,
    LogbookLine,
    Period,
    ReportFilter,
    Tally,
    campaign_label,
)
from app.scripts.models import Script

FORMATS = ("csv", "xlsx", "pdf", "json")
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel (XLSX)", "pdf": "PDF", "json": "JSON"}
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "json": "application/json; charset=utf-8",
}
KINDS = ("text", "int", "float", "percent", "datetime", "date", "time", "duration")
NUMERIC_KINDS = ("int", "float", "percent", "duration")
FONT_DIR = Path(__file__).parent / "fonts"
FONT_FAMILY = "DejaVu"
BOM = "\ufeff"
CHUNK_ROWS = 500  # rows per streamed chunk: few writes, small buffers
FILE_CHUNK = 64 * 1024
PDF_MAX_ROWS = 2000  # about 100 pages; CSV and XLSX carry every row
YIELD_PER = 1000
TOTAL_LABEL = "Tổng cộng"
NO_SCRIPT = "(không gắn kịch bản)"
EMPTY_TABLE = "Không có dòng nào."
# The compliance figure's one name, on pages, charts and exports alike.
COMPLIANCE_LABEL = "Tỉ lệ thực hiện"
COMPLIANCE_COLUMN = f"{COMPLIANCE_LABEL} (%)"


# --- the document model -------------------------------------------------------------------


@dataclass
class Column:
    """One column: a key (JSON), a Vietnamese label, and how its values are shown.

    kind: text, int, float, percent (a fraction 0–1 in the rows), datetime (aware), date,
    time (an aware datetime shown as its local time of day in PDF), duration (seconds).
    """

    key: str
    label: str
    kind: str = "text"


@dataclass
class Table:
    """A titled table. rows may be a generator, read while the export is written: such a
    document can be exported once (build it again for another format)."""

    name: str
    title: str
    columns: list[Column]
    rows: Iterable[Sequence]


@dataclass
class Document:
    """A report ready to export: what it is, which filters made it, and its tables.

    report and unit_id (optional) go into the audit event: which report, and the unit the
    event is filed under (default: the exporting user's unit).
    """

    title: str
    subtitle: str
    filters: list[tuple[str, str]]
    tables: list[Table]
    report: str = ""
    unit_id: int | None = None


# --- builders ---------------------------------------------------------------------------------


TALLY_COLUMNS = [
    Column("planned", "Kế hoạch", "int"),
    Column("on_air", "Đã phát", "int"),
    Column("aired_late", "Trong đó phát muộn", "int"),
    Column("pending", "Chờ phát", "int"),
    Column("missed", "Bỏ lỡ", "int"),
    Column("failed", "Lỗi", "int"),
    Column("interrupted", "Bị ngắt", "int"),
    Column("partial", "Phát một phần", "int"),
    Column("skipped", "Bỏ qua", "int"),
    Column("cancelled", "Đã hủy", "int"),
    Column("manual", "Ngoài kế hoạch", "int"),
    Column("compliance_percent", COMPLIANCE_COLUMN, "percent"),
    Column("airtime_minutes", "Thời lượng phát (phút)", "float"),
]


def tally_values(tally: Tally) -> list:
    """A tally's values in the order of TALLY_COLUMNS."""
    return [
        tally.planned,
        tally.on_air,
        tally.aired_late,
        tally.pending,
        tally.missed,
        tally.failed,
        tally.interrupted,
        tally.partial,
        tally.skipped,
        tally.cancelled,
        tally.manual,
        tally.compliance,
        tally.airtime_minutes,
    ]


def filter_pairs(filters: ReportFilter) -> list[tuple[str, str]]:
    """The applied filters as (label, value), as printed on top of an export."""
    period = filters.period.label if filters.period is not None else "Toàn bộ thời gian"
    pairs = [("Kỳ báo cáo", period)]
    if filters.unit is not None:
        pairs.append(("Đơn vị", filters.unit.name))
    station = filters.station
    if station is not None:
        named = f"{station.name} ({station.code})"
        if filters.unit is not None and not filters.unit.contains(station.unit):
            # A station that moved away: only its rows from before, filed under this unit.
            named += ", các lượt tính cho đơn vị này"
        pairs.append(("Đài", named))
    if filters.campaign is not None:
        pairs.append(("Chiến dịch", campaign_label(filters.campaign)))
    if filters.source_number:
        pairs.append(("Văn bản nguồn", filters.source_number))
    if filters.dispatch_id is not None:
        pairs.append(("Thực hiện văn bản", dispatch_label(filters.dispatch_id)))
    if filters.script is not None:
        pairs.append(("Kịch bản", filters.script.title))
    if filters.priority is not None:
        pairs.append(("Mức ưu tiên", filters.priority.label))
    if filters.status is not None:
        pairs.append(("Trạng thái", filters.status.label))
    return pairs


def dispatch_label(dispatch_id: int) -> str:
    """How a dispatch filter is named: the dispatch as officials cite it."""
    dispatch = db.session.get(Dispatch, dispatch_id)
    return dispatch.label if dispatch is not None else f"Văn bản #{dispatch_id}"


def _unit_id(filters: ReportFilter) -> int | None:
    return filters.unit.id if filters.unit is not None else None


def _subtitle(filters: ReportFilter) -> str:
    period = filters.period.label if filters.period is not None else "Toàn bộ thời gian"
    return f"{period} · {filters.unit.name}" if filters.unit is not None else period


def dashboard_document(board: Dashboard) -> Document:
    """The dashboard: by station (with the total), campaign, script, priority, day; alerts."""
    station_key = [Column("station_code", "Mã đài"), Column("station", "Tên đài")]
    by_station = [[s.code, s.name, *tally_values(t)] for s, t in board.by_station]
    by_station.append(["", TOTAL_LABEL, *tally_values(board.total)])
    tables = [
        Table("stations", "Theo đài", [*station_key, *TALLY_COLUMNS], by_station),
        Table(
            "campaigns",
            "Theo chiến dịch",
            [Column("campaign", "Chiến dịch"), *TALLY_COLUMNS],
            [[campaign_label(c), *tally_values(t)] for c, t in board.by_campaign],
        ),
        Table(
            "scripts",
            "Theo kịch bản",
            [Column("script", "Kịch bản"), Column("source", "Văn bản nguồn"), *TALLY_COLUMNS],
            [
                [s.title if s else NO_SCRIPT, s.source_label if s else "", *tally_values(t)]
                for s, t in board.by_script
            ],
        ),
        Table(
            "priorities",
            "Theo mức ưu tiên",
            [Column("priority", "Mức ưu tiên"), *TALLY_COLUMNS],
            [[p.label, *tally_values(t)] for p, t in board.by_priority],
        ),
        Table(
            "days",
            "Theo ngày",
            [Column("day", "Ngày", "date"), Column("weekday", "Thứ"), *TALLY_COLUMNS],
            [[d, WEEKDAY_NAMES[d.weekday()], *tally_values(t)] for d, t in board.by_day],
        ),
        Table(
            "over_cap",
            "Buổi phát vượt mức tối đa",
            [
                Column("day", "Ngày", "date"),
                *station_key,
                Column("session", "Buổi"),
                Column("minutes", "Đã phát (phút)", "float"),
                Column("cap_minutes", "Tối đa (phút)", "int"),
            ],
            [
                [o.day, o.station.code, o.station.name, o.session, o.minutes, o.cap_minutes]
                for o in board.over_cap
            ],
        ),
        Table(
            "stations_with_misses",
            "Đài có lần bỏ lỡ hoặc lỗi",
            [
                *station_key,
                Column("missed", "Bỏ lỡ", "int"),
                Column("failed", "Lỗi", "int"),
                Column("planned", "Kế hoạch", "int"),
                Column("compliance_percent", COMPLIANCE_COLUMN, "percent"),
            ],
            [
                [s.code, s.name, t.missed, t.failed, t.planned, t.compliance]
                for s, t in board.stations_with_misses
            ],
        ),
    ]
    return Document(
        title="Báo cáo kết quả phát sóng",
        subtitle=_subtitle(board.filters),
        filters=filter_pairs(board.filters),
        tables=tables,
        report="dashboard",
        unit_id=_unit_id(board.filters),
    )


def campaign_document(report: CampaignReport) -> Document:
    """Proof for a campaign: per station and script, then every miss with its reason."""
    filters = report.filters
    lines = []
    for line in report.lines:
        t = line.tally
        lines.append(
            [
                line.station.code,
                line.station.name,
                line.script.title if line.script else NO_SCRIPT,
                t.planned,
                t.on_air,
                t.aired_late,
                t.pending,
                t.missed,
                t.failed,
                t.compliance,
                line.first_aired,
                line.last_aired,
                t.airtime_minutes,
            ]
        )
    total = report.total
    lines.append(
        [
            "",
            TOTAL_LABEL,
            "",
            total.planned,
            total.on_air,
            total.aired_late,
            total.pending,
            total.missed,
            total.failed,
            total.compliance,
            min((ln.first_aired for ln in report.lines if ln.first_aired), default=None),
            max((ln.last_aired for ln in report.lines if ln.last_aired), default=None),
            total.airtime_minutes,
        ]
    )
    misses = []
    for line in report.lines:
        title = line.script.title if line.script else NO_SCRIPT
        for row in line.misses:
            when = row.planned_at or row.started_at
            misses.append([when, line.station.code, title, row.status.label, row.reason])
    misses.sort(key=lambda m: (m[0], m[1]))
    if filters.campaign is not None:
        name = f"Chiến dịch “{campaign_label(filters.campaign)}”"
    elif filters.source_number:
        name = f"Văn bản {filters.source_number}"
    else:
        name = f"Thực hiện {dispatch_label(filters.dispatch_id)}"
    period = filters.period.label if filters.period is not None else "Toàn bộ thời gian"
    return Document(
        title="Báo cáo thực hiện chiến dịch",
        subtitle=f"{name} · {period}",
        filters=filter_pairs(filters),
        tables=[
            Table(
                "lines",
                "Theo đài và kịch bản",
                [
                    Column("station_code", "Mã đài"),
                    Column("station", "Tên đài"),
                    Column("script", "Kịch bản"),
                    Column("planned", "Kế hoạch", "int"),
                    Column("on_air", "Đã phát", "int"),
                    Column("aired_late", "Trong đó phát muộn", "int"),
                    Column("pending", "Chờ phát", "int"),
                    Column("missed", "Bỏ lỡ", "int"),
                    Column("failed", "Lỗi", "int"),
                    Column("compliance_percent", COMPLIANCE_COLUMN, "percent"),
                    Column("first_aired", "Lần phát đầu", "datetime"),
                    Column("last_aired", "Lần phát cuối", "datetime"),
                    Column("airtime_minutes", "Thời lượng phát (phút)", "float"),
                ],
                lines,
            ),
            Table(
                "misses",
                "Bỏ lỡ, lỗi và phát không trọn",
                [
                    Column("time", "Thời gian", "datetime"),
                    Column("station_code", "Mã đài"),
                    Column("script", "Kịch bản"),
                    Column("status", "Trạng thái"),
                    Column("reason", "Lý do"),
                ],
                misses,
            ),
        ],
        report="campaign",
        unit_id=_unit_id(filters),
    )


LOGBOOK_COLUMNS = [
    Column("day", "Ngày", "date"),
    Column("session", "Buổi"),
    Column("planned", "Giờ dự kiến", "time"),
    Column("started", "Bắt đầu", "time"),
    Column("ended", "Kết thúc", "time"),
    Column("title", "Tên bản tin"),
    Column("source", "Văn bản nguồn"),
    Column("approver", "Người duyệt"),
    Column("version", "Phiên bản đã duyệt", "int"),
    Column("operator", "Người thực hiện"),
    Column("result", "Kết quả"),
    Column("notes", "Ghi chú"),
    Column("items", "Các mục của chương trình"),
]


def logbook_document(station: Station, period: Period, lines: list[LogbookLine]) -> Document:
    """A station's logbook (sổ nhật ký phát sóng) for a period, in airing order."""
    rows = [
        [
            ln.day,
            ln.session,
            ln.planned,
            ln.started,
            ln.ended,
            ln.title,
            ln.source,
            ln.approver,
            ln.version,
            ln.operator,
            ln.result,
            ln.notes,
            items_text(ln.items),
        ]
        for ln in lines
    ]
    return Document(
        title="Sổ nhật ký phát sóng",
        subtitle=f"{station.name} ({station.code}) · {period.label}",
        filters=[
            ("Kỳ báo cáo", period.label),
            ("Đài", f"{station.name} ({station.code})"),
            ("Đơn vị", station.unit.name),
        ],
        tables=[Table("logbook", "Nhật ký phát sóng", LOGBOOK_COLUMNS, rows)],
        report="logbook",
        unit_id=station.unit_id,
    )


DRILL_COLUMNS = [
    Column("planned", "Dự kiến", "datetime"),
    Column("started", "Bắt đầu", "datetime"),
    Column("ended", "Kết thúc", "datetime"),
    Column("duration_s", "Thời lượng (giây)", "duration"),
    Column("station_code", "Mã đài"),
    Column("title", "Bản tin"),
    Column("status", "Trạng thái"),
    Column("reason", "Lý do"),
    Column("operator", "Người / máy phát"),
    Column("seq", "Số", "int"),
    Column("row_hash", "Mã băm"),
]


def drill_document(filters: ReportFilter, rows_select) -> Document:
    """The log rows behind a figure (rows_select from drill_rows), streamed as they are read."""
    return Document(
        title="Chi tiết nhật ký phát sóng",
        subtitle=_subtitle(filters),
        filters=filter_pairs(filters),
        tables=[Table("rows", "Các dòng nhật ký", DRILL_COLUMNS, _drill_rows(rows_select))],
        report="drill",
        unit_id=_unit_id(filters),
    )


def _drill_rows(rows_select) -> Iterator[list]:
    """Plain columns instead of ORM rows, read yield_per at a time (flat memory)."""
    operator = aliased(User)
    query = rows_select.outerjoin(operator, operator.id == BroadcastLog.operator_id)
    query = query.with_only_columns(
        BroadcastLog.planned_at,
        BroadcastLog.started_at,
        BroadcastLog.ended_at,
        BroadcastLog.duration_s,
        Station.code,
        func.coalesce(Script.title, BroadcastLog.reason),
        BroadcastLog.status,
        BroadcastLog.reason,
        operator.full_name,
        BroadcastLog.runner_host,
        BroadcastLog.seq,
        BroadcastLog.row_hash,
        maintain_column_froms=True,
    ).execution_options(yield_per=YIELD_PER)
    for row in db.session.execute(query):
        planned, started, ended, duration, code, title, status, reason, name, host = row[:10]
        name = performer_label(name, host)
        label = LogStatus(status).label if status is not None else ""
        title = title or "Đọc trực tiếp"
        yield [planned, started, ended, duration, code, title, label, reason, name, *row[10:]]


# --- formats, names and the audit -------------------------------------------------------------


def check_format(fmt: str | None) -> str:
    """The export format, lower-cased; a Vietnamese ValidationError for anything else."""
    value = (fmt or "").strip().lower()
    if value not in FORMATS:
        message = f"Không xuất được dạng “{fmt or ''}”; hãy chọn CSV, XLSX (Excel), PDF hoặc JSON."
        raise ValidationError(message, {"format": message})
    return value


def record_export(actor: User, doc: Document, fmt: str, rows_written: int | None) -> None:
    """Audit one export (report, format, filters, rows when known) and commit it."""
    fmt = check_format(fmt)
    applied = "; ".join(f"{label}: {value}" for label, value in doc.filters)
    summary = f"Xuất {doc.title} ({doc.subtitle}) dạng {FORMAT_LABELS[fmt]}"
    if applied:
        summary += f"; bộ lọc: {applied}"
    record_event(
        "report.export",
        "report",
        None,
        summary,
        actor=actor,
        unit_id=doc.unit_id if doc.unit_id is not None else actor.unit_id,
        details={
            "report": doc.report or doc.title,
            "title": doc.title,
            "subtitle": doc.subtitle,
            "format": fmt,
            "filters": dict(doc.filters),
            "tables": [t.name for t in doc.tables],
            "rows": rows_written,
        },
    )
    db.session.commit()


def send_export(actor: User, doc: Document, fmt: str, filename_stem: str) -> Response:
    """Check the format, audit the export once, and return the download (the views' entry)."""
    fmt = check_format(fmt)
    if fmt in ("csv", "json"):
        # Streamed: the row count is not known before the rows are read; record first.
        record_export(actor, doc, fmt, None)
        return export_response(doc, fmt, filename_stem)
    response, rows = _file_response(doc, fmt, filename_stem)
    record_export(actor, doc, fmt, rows)
    return response


def export_response(doc: Document, fmt: str, filename_stem: str) -> Response:
    """The download in one format; CSV and JSON stream, XLSX and PDF stream a temp file.

    Does not audit: see send_export and record_export.
    """
    fmt = check_format(fmt)
    if fmt in ("xlsx", "pdf"):
        return _file_response(doc, fmt, filename_stem)[0]
    printed = clock.now()
    if fmt == "csv":
        table = doc.tables[0]
        stem = filename_stem
        if len(doc.tables) > 1:
            stem = f"{filename_stem}-{slugify(table.title)}"
        body = _csv_chunks(table)
    else:
        stem = filename_stem
        body = _json_chunks(doc, printed)
    if has_request_context():  # keep the request (and its database session) while streaming
        body = stream_with_context(body)
    response = Response(body, content_type=MIMETYPES[fmt])
    _download_headers(response, f"{stem}.{fmt}")
    return response


def _file_response(doc: Document, fmt: str, filename_stem: str) -> tuple[Response, int]:
    """Write XLSX or PDF to a temp file, then stream it; the file is gone once it is open."""
    printed = clock.now()
    handle, path = tempfile.mkstemp(prefix="loa-export-", suffix=f".{fmt}")
    os.close(handle)
    try:
        writer = _write_xlsx if fmt == "xlsx" else _write_pdf
        rows = writer(doc, path, printed)
        stream = open(path, "rb")  # noqa: SIM115 (closed by _file_chunks or on close)
    finally:
        # Unlinked at once: the open handle keeps the data until the download ends, and no
        # file is left behind whatever happens to the response.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    size = os.fstat(stream.fileno()).st_size
    response = Response(_file_chunks(stream), content_type=MIMETYPES[fmt])
    response.call_on_close(stream.close)
    response.content_length = size
    _download_headers(response, f"{filename_stem}.{fmt}")
    return response, rows


def _file_chunks(stream) -> Iterator[bytes]:
    try:
        while chunk := stream.read(FILE_CHUNK):
            yield chunk
    finally:
        stream.close()


def slugify(text: str) -> str:
    """ASCII file-name part: "Theo đài" → "theo-dai"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "bao-cao"


def _download_headers(response: Response, filename: str) -> None:
    """attachment with an ASCII filename and the exact name as filename* (RFC 6266)."""
    exact = re.sub(r'[\x00-\x1f/\\"]+', "-", unicodedata.normalize("NFC", filename))
    stem, _, ext = exact.rpartition(".")
    ascii_name = f"{slugify(stem)}.{ext}"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(exact, safe='')}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"


# --- values -----------------------------------------------------------------------------------


def _local(value: datetime) -> datetime:
    """Local time of an aware datetime (naive ones are UTC, as SQLite returns them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)


def _plain_number(value: float, places: int = 3) -> str:
    """Plain number: "6.8", "60", "0.125"; "." decimals, no thousands separator."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _csv_value(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "int":
        return str(int(value))
    if kind in ("float", "duration"):
        return _plain_number(float(value))
    if kind == "percent":
        return f"{float(value) * 100:.1f}"
    if kind in ("datetime", "time"):
        return f"{_local(value):%Y-%m-%d %H:%M:%S}"
    if kind == "date":
        return value.isoformat()
    text = str(value)
    # A cell starting like a formula would run in Excel (CSV injection): keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _json_value(value, kind: str):
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind in ("float", "duration"):
        return round(float(value), 3)
    if kind == "percent":
        return round(float(value) * 100, 1)
    if kind in ("datetime", "time"):
        return _local(value).isoformat()
    if kind == "date":
        return value.isoformat()
    return str(value)


def _vi_number(value: float, places: int) -> str:
    """Vietnamese style: "." between thousands, "," before decimals."""
    text = f"{value:,.{places}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _pdf_value(value, kind: str) -> str:
    if value is None:
        return "—" if kind == "percent" else ""
    if kind == "int":
        return _vi_number(int(value), 0)
    if kind == "float":
        return _vi_number(float(value), 1)
    if kind == "duration":
        number = float(value)
        return _vi_number(number, 0 if number == int(number) else 1)
    if kind == "percent":
        return f"{_vi_number(float(value) * 100, 1)} %"
    if kind == "datetime":
        return f"{_local(value):%d/%m/%Y %H:%M:%S}"
    if kind == "time":
        return f"{_local(value):%H:%M:%S}"
    if kind == "date":
        return f"{value:%d/%m/%Y}"
    # Precomposed letters: DejaVu draws "ế" as one glyph; decomposed marks would sit loosely.
    return unicodedata.normalize("NFC", str(value))


def _printed_label(printed: datetime) -> str:
    return f"{_local(printed):%d/%m/%Y %H:%M}"


def _peek(rows: Iterable[Sequence], count: int = 100) -> tuple[list[Sequence], Iterator]:
    """The first rows (to size columns) and an iterator over all rows, still lazy."""
    iterator = iter(rows)
    head = list(islice(iterator, count))
    return head, chain(head, iterator)


# --- CSV and JSON (streamed) ------------------------------------------------------------------


def _csv_chunks(table: Table) -> Iterator[bytes]:
    """The table as CSV bytes, a chunk per CHUNK_ROWS rows, BOM first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    kinds = [c.kind for c in table.columns]
    writer.writerow([c.label for c in table.columns])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(table.rows, 1):
        writer.writerow([_csv_value(v, k) for v, k in zip(row, kinds, strict=True)])
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_chunks(doc: Document, printed: datetime) -> Iterator[bytes]:
    """The document as one JSON object, written table by table and row by row."""
    head = (
        f'{{"title": {_dumps(doc.title)}, "subtitle": {_dumps(doc.subtitle)}, '
        f'"printed_at": {_dumps(_local(printed).isoformat())}, '
        f'"filters": {_dumps(dict(doc.filters))}, "tables": {{'
    )
    yield head.encode("utf-8")
    for t, table in enumerate(doc.tables):
        columns = [{"key": c.key, "label": c.label, "kind": c.kind} for c in table.columns]
        opening = (
            f'{", " if t else ""}{_dumps(table.name)}: {{"title": {_dumps(table.title)}, '
            f'"columns": {_dumps(columns)}, "rows": ['
        )
        yield opening.encode("utf-8")
        keys = [(c.key, c.kind) for c in table.columns]
        chunk: list[str] = []
        for n, row in enumerate(table.rows):
            record = {key: _json_value(v, kind) for (key, kind), v in zip(keys, row, strict=True)}
            chunk.append((", " if n else "") + _dumps(record))
            if len(chunk) == CHUNK_ROWS:
                yield "".join(chunk).encode("utf-8")
                chunk = []
        chunk.append("]}")
        yield "".join(chunk).encode("utf-8")
    yield b"}}"


# --- XLSX -------------------------------------------------------------------------------------

XLSX_WIDTHS = {
    "int": 10,
    "float": 12,
    "percent": 12,
    "duration": 12,
    "datetime": 20,
    "date": 12,
    "time": 10,
}


def _sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name (31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "-", title).strip("'") or "Bảng"
    base = base[:31]
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _write_xlsx(doc: Document, path: str, printed: datetime) -> int:
    """Write the workbook row by row (constant memory); return how many data rows."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
    workbook.set_properties({"title": doc.title, "subject": doc.subtitle, "author": "Loa"})
    title_fmt = workbook.add_format({"bold": True, "font_size": 14})
    bold = workbook.add_format({"bold": True})
    header_fmt = workbook.add_format(
        {"bold": True, "text_wrap": True, "valign": "top", "border": 1, "bg_color": "#D9D9D9"}
    )
    formats = {
        "int": workbook.add_format({"num_format": "0"}),
        "float": workbook.add_format({"num_format": "0.0"}),
        "duration": workbook.add_format({"num_format": "0.0"}),
        "percent": workbook.add_format({"num_format": "0.0%"}),
        "datetime": workbook.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"}),
        "time": workbook.add_format({"num_format": "hh:mm:ss"}),
        "date": workbook.add_format({"num_format": "dd/mm/yyyy"}),
    }
    taken: set[str] = set()
    total = 0
    try:
        for table in doc.tables:
            sheet = workbook.add_worksheet(_sheet_name(table.title, taken))
            head, rows = _peek(table.rows)
            for c, column in enumerate(table.columns):
                width = XLSX_WIDTHS.get(column.kind)
                if width is None:
                    longest = max((len(str(r[c] or "")) for r in head), default=0)
                    width = min(50, max(12, len(column.label), longest) + 2)
                sheet.set_column(c, c, width)
            r = 0
            sheet.write_string(r, 0, doc.title, title_fmt)
            r += 1
            sheet.write_string(r, 0, f"{doc.subtitle} — {table.title}", bold)
            for label, value in doc.filters:
                r += 1
                sheet.write_string(r, 0, f"{label}: {value}")
            r += 1
            sheet.write_string(r, 0, f"Ngày in: {_printed_label(printed)}")
            header = r + 2
            for c, column in enumerate(table.columns):
                sheet.write_string(header, c, column.label, header_fmt)
            sheet.freeze_panes(header + 1, 0)
            sheet.repeat_rows(header)
            sheet.set_landscape()
            sheet.set_paper(9)  # A4
            sheet.fit_to_pages(1, 0)
            r = header
            for row in rows:
                r += 1
                for c, (column, value) in enumerate(zip(table.columns, row, strict=True)):
                    _xlsx_cell(sheet, r, c, value, column.kind, formats)
            sheet.autofilter(header, 0, r, len(table.columns) - 1)
            total += r - header
    finally:
        workbook.close()
    return total


def _xlsx_cell(sheet, r: int, c: int, value, kind: str, formats: dict) -> None:
    if value is None:
        return
    if kind in ("int", "float", "duration"):
        sheet.write_number(r, c, value, formats[kind])
    elif kind == "percent":
        sheet.write_number(r, c, round(value, 4), formats[kind])
    elif kind in ("datetime", "time"):
        sheet.write_datetime(r, c, _local(value).replace(tzinfo=None), formats[kind])
    elif kind == "date":
        sheet.write_datetime(r, c, value, formats[kind])
    else:
        sheet.write_string(r, c, str(value))


# --- PDF --------------------------------------------------------------------------------------

PDF_FIXED_KINDS = ("int", "float", "percent", "duration", "datetime", "date", "time")


def _make_pdf_class():
    """The FPDF subclass (fpdf2 is imported only when a PDF is made)."""
    from fpdf import FPDF

    class ReportPDF(FPDF):
        """A4 pages with a running title on top and "Trang N/M" and the print date below."""

        def __init__(self, doc: Document, printed: datetime, orientation: str) -> None:
            super().__init__(orientation=orientation, unit="mm", format="A4")
            self.doc = doc
            self.printed = printed
            self.set_margins(10, 12, 10)
            self.set_auto_page_break(True, margin=14)
            self.add_font(FONT_FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
            self.add_font(FONT_FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
            self.set_title(doc.title)
            self.set_subject(doc.subtitle)
            self.set_creator("Loa")
            self.set_lang("vi")

        def header(self) -> None:
            if self.page_no() == 1:
                return
            self.set_font(FONT_FAMILY, "", 7)
            self.cell(0, 4, _pdf_value(f"{self.doc.title} · {self.doc.subtitle}", "text"))
            self.ln(6)

        def footer(self) -> None:
            self.set_y(-10)
            self.set_font(FONT_FAMILY, "", 7)
            self.cell(0, 4, f"In ngày {_printed_label(self.printed)}", align="L")
            self.set_x(self.l_margin)
            self.cell(0, 4, f"Trang {self.page_no()}/{{nb}}", align="R")

    return ReportPDF


def _write_pdf(doc: Document, path: str, printed: datetime) -> int:
    """Render the document to a PDF file; return how many data rows it prints."""
    wide = any(len(t.columns) > 6 for t in doc.tables)
    pdf = _make_pdf_class()(doc, printed, "L" if wide else "P")
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 15)
    pdf.multi_cell(0, 7, _pdf_value(doc.title, "text"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", 10)
    pdf.multi_cell(0, 5, _pdf_value(doc.subtitle, "text"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(FONT_FAMILY, "", 8.5)
    for label, value in doc.filters:
        text = _pdf_value(f"**{label}:** {value}", "text")
        pdf.multi_cell(0, 4.2, text, markdown=True, new_x="LMARGIN", new_y="NEXT")
    printed_line = f"**Ngày in:** {_printed_label(printed)}"
    pdf.multi_cell(0, 4.2, printed_line, markdown=True, new_x="LMARGIN", new_y="NEXT")
    total = 0
    for table in doc.tables:
        pdf.ln(3)
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.set_font(FONT_FAMILY, "B", 10)
        pdf.multi_cell(0, 5, _pdf_value(table.title, "text"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        head, rows = _peek(table.rows)
        if not head:
            pdf.set_font(FONT_FAMILY, "", 8)
            pdf.multi_cell(0, 5, EMPTY_TABLE, new_x="LMARGIN", new_y="NEXT")
            continue
        grid = _Grid(pdf, table.columns, head, 7 if len(table.columns) > 10 else 8)
        grid.heading()
        printed_rows, more = 0, 0
        for row in rows:
            if printed_rows == PDF_MAX_ROWS:
                more += 1
                continue
            grid.row([_pdf_value(v, c.kind) for c, v in zip(table.columns, row, strict=True)])
            printed_rows += 1
        pdf.set_xy(pdf.l_margin, grid.y)
        if more:
            pdf.ln(1)
            pdf.set_font(FONT_FAMILY, "B", 8)
            note = (
                f"Bản PDF chỉ in {_vi_number(PDF_MAX_ROWS, 0)} dòng đầu; còn "
                f"{_vi_number(more, 0)} dòng nữa. Hãy xuất CSV hoặc XLSX để có đủ dữ liệu."
            )
            pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
        total += printed_rows
    pdf.output(path)
    return total


class _Grid:
    """A ruled table drawn line by line, its header repeated at the top of every page.

    fpdf2's own table() lays out every cell with its full line breaker, about a millisecond a
    cell; this wraps words with cached widths and draws with text() and rect(), ten times
    faster, which matters for a drill-down of thousands of rows.
    """

    PAD_X = 1.0
    PAD_Y = 0.9
    HEADING_FILL = 217

    def __init__(self, pdf, columns: list[Column], head: list[Sequence], size: float) -> None:
        self.pdf = pdf
        self.columns = columns
        self.size = size
        pdf.set_font(FONT_FAMILY, "", size)
        self.widths = _pdf_widths(pdf, columns, head)
        self.right = [c.kind in NUMERIC_KINDS for c in columns]
        self.line = size * 0.45  # mm between baselines
        self.labels = [_pdf_value(c.label, "text") for c in columns]
        self.y = pdf.get_y()
        self._width_cache: dict[tuple[str, str], float] = {}

    def _width(self, text: str, style: str) -> float:
        key = (style, text)
        found = self._width_cache.get(key)
        if found is None:
            if len(self._width_cache) > 20_000:  # bounded: drill-downs repeat few strings
                self._width_cache.clear()
            found = self._width_cache[key] = self.pdf.get_string_width(text)
        return found

    def _wrap(self, text: str, width: float, style: str) -> list[str]:
        """Greedy word wrap; a word longer than the cell is cut between characters."""
        lines: list[str] = []
        for paragraph in text.split("\n") or [""]:
            current = ""
            for word in paragraph.split(" "):
                candidate = f"{current} {word}" if current else word
                if self._width(candidate, style) <= width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                current = ""
                for char in word:
                    if current and self._width(current + char, style) > width:
                        lines.append(current)
                        current = ""
                    current += char
            lines.append(current)
        return lines

    def _draw(self, texts: list[str], style: str) -> None:
        pdf = self.pdf
        pdf.set_font(FONT_FAMILY, style, self.size)
        wrapped = [
            self._wrap(t, w - 2 * self.PAD_X, style)
            for t, w in zip(texts, self.widths, strict=True)
        ]
        height = max(len(lines) for lines in wrapped) * self.line + 2 * self.PAD_Y
        if style == "" and self.y + height > pdf.page_break_trigger:
            pdf.add_page()
            self.y = pdf.get_y()
            self.heading()
            pdf.set_font(FONT_FAMILY, style, self.size)
        x = pdf.l_margin
        fill = style == "B"
        if fill:
            pdf.set_fill_color(self.HEADING_FILL)
        for lines, width, right in zip(wrapped, self.widths, self.right, strict=True):
            pdf.rect(x, self.y, width, height, style="DF" if fill else "D")
            baseline = self.y + self.PAD_Y + self.line * 0.78
            for line in lines:
                if line:
                    at = x + self.PAD_X
                    if right and not fill:
                        at = x + width - self.PAD_X - self._width(line, style)
                    pdf.text(at, baseline, line)
                baseline += self.line
            x += width
        self.y += height

    def heading(self) -> None:
        """The header row (bold on grey), also drawn at the top of each new page."""
        self._draw(self.labels, "B")

    def row(self, texts: list[str]) -> None:
        """One row; a new page (with the header) first when it does not fit."""
        self._draw(texts, "")


def _pdf_widths(pdf, columns: list[Column], head: list[Sequence]) -> list[float]:
    """Column widths (mm) across the page: numbers and times wide enough for their header on
    about two lines, text as wide as its values (up to a limit); shrunk or stretched to fit."""
    padding = 2.5
    available = pdf.epw
    natural, least = [], []
    for c, column in enumerate(columns):
        label = pdf.get_string_width(column.label) * 1.12  # the header is bold
        words = max(pdf.get_string_width(w) for w in column.label.split()) * 1.12
        values = max((pdf.get_string_width(_pdf_value(r[c], column.kind)) for r in head), default=0)
        if column.kind in PDF_FIXED_KINDS:
            width = max(words, min(label / 2, 28), values) + padding
            natural.append(width)
            least.append(max(words, values) + padding)
        else:
            natural.append(min(max(words, values) + padding, 80))
            least.append(max(words + padding, 16))
    if sum(natural) <= available:
        return [w * available / sum(natural) for w in natural]
    text = [c for c, column in enumerate(columns) if column.kind not in PDF_FIXED_KINDS]
    widths = list(least)
    room = available - sum(least)
    if room > 0:
        # Share what is left after every column's minimum by how much more each one wants.
        wants = [natural[c] - least[c] for c in range(len(columns))]
        total = sum(wants)
        widths = [least[c] + room * wants[c] / total for c in range(len(columns))]
    elif text:
        fixed = sum(w for c, w in enumerate(widths) if c not in text)
        for c in text:
            widths[c] = max(10.0, (available - fixed) / len(text))
    scale = min(1.0, available / sum(widths))
    return [w * scale for w in widths]


__all__ = [
    "FORMATS",
    "Column",
    "Document",
    "Table",
    "campaign_document",
    "check_format",
    "dashboard_document",
    "drill_document",
    "export_response",
    "filter_pairs",
    "logbook_document",
    "record_export",
    "send_export",
]
