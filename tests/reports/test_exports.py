# ruff: noqa: F811 (the world fixture is imported from test_service)
"""Report exports: CSV, XLSX, PDF and JSON against the hand-computed world, streaming of a
large drill-down in flat memory, file names, and one audit event per export."""

from __future__ import annotations

import csv
import io
import json
import re
import tracemalloc
import zipfile
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import insert, select

from app.audit.models import AuditEvent
from app.broadcast.models import BroadcastLog, LogStatus
from app.core.errors import ValidationError
from app.extensions import db
from app.reports import exports
from app.reports import service as reports
from app.reports.exports import Column, Document, Table
from app.reports.service import ReportFilter, make_period
from app.scripts.models import Priority
from tests.factories import make_station
from tests.reports.test_service import NOVEMBER, local, world  # noqa: F401

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def request_ctx(app):
    """A request context: streamed responses keep it while they are read."""
    with app.test_request_context("/reports/export"):
        yield


def body(response) -> bytes:
    """Everything a (possibly streamed) response sends."""
    return b"".join(response.response)


def dashboard_doc(users) -> Document:
    board = reports.airtime_dashboard(users["supervisor2"], ReportFilter(period=NOVEMBER))
    return exports.dashboard_document(board)


def export_events() -> list[AuditEvent]:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "report.export").order_by(AuditEvent.id)
    ).all()


# --- XLSX and PDF readers (standard library and pypdfium2) ----------------------------------

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}


def _column_index(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref).group()
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def read_xlsx(data: bytes) -> dict[str, list[list]]:
    """Sheet name → rows of cell values (strings, floats, None for gaps)."""
    book = zipfile.ZipFile(io.BytesIO(data))
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", NS)}
    shared = []
    if "xl/sharedStrings.xml" in book.namelist():
        strings = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
        shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in strings]
    sheets = {}
    for sheet in workbook.find("m:sheets", NS):
        target = targets[sheet.get(f"{{{NS['r']}}}id")]
        xml = ElementTree.fromstring(book.read(f"xl/{target.lstrip('/').removeprefix('xl/')}"))
        rows: list[list] = []
        for row in xml.iter(f"{{{NS['m']}}}row"):
            index = int(row.get("r")) - 1
            while len(rows) <= index:
                rows.append([])
            cells = rows[index]
            for cell in row.findall("m:c", NS):
                col = _column_index(cell.get("r"))
                while len(cells) <= col:
                    cells.append(None)
                kind = cell.get("t")
                if kind == "inlineStr":
                    cells[col] = "".join(t.text or "" for t in cell.iter(f"{{{NS['m']}}}t"))
                elif kind == "s":
                    cells[col] = shared[int(cell.find("m:v", NS).text)]
                elif cell.find("m:v", NS) is not None:
                    cells[col] = float(cell.find("m:v", NS).text)
        sheets[sheet.get("name")] = rows
    return sheets


def render_page(data: bytes, number: int = 0, scale: float = 1.5):
    """(grey image, extracted text) of one PDF page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[number]
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil().convert("L")
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        pages = len(pdf)
        textpage.close()
        bitmap.close()
        page.close()
    finally:
        pdf.close()
    return image, text, pages


def dark_fraction(image) -> float:
    histogram = image.histogram()
    return sum(histogram[:128]) / (image.width * image.height)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_has_a_bom_vietnamese_headers_and_the_hand_counts(world, users, request_ctx):
    doc = dashboard_doc(users)
    response = exports.export_response(doc, "csv", "báo-cáo-phát-sóng-11-2026")
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    data = body(response)
    assert data.startswith(BOM)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:4] == ["Mã đài", "Tên đài", "Kế hoạch", "Đã phát"]
    assert "Tỉ lệ thực hiện (%)" in header
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    a = by_code["A"]
    # Station A: 10 planned (7 logged + 3 pending), 5 on air (1 late), 1 missed, 1 failed,
    # 1 cancelled, 1 interrupted, 1 live read; 60+60+20+60+90+60+60 s = 6.8 minutes.
    assert a["Kế hoạch"] == "10"
    assert a["Đã phát"] == "5"
    assert a["Trong đó phát muộn"] == "1"
    assert a["Chờ phát"] == "3"
    assert (a["Bỏ lỡ"], a["Lỗi"], a["Đã hủy"], a["Bị ngắt"]) == ("1", "1", "1", "1")
    assert a["Ngoài kế hoạch"] == "1"
    assert a["Tỉ lệ thực hiện (%)"] == "50.0"
    assert a["Thời lượng phát (phút)"] == "6.8"
    assert a["Tên đài"].startswith("Đài ")
    total = dict(zip(header, rows[-1], strict=True))
    assert total["Tên đài"] == "Tổng cộng"
    assert (total["Kế hoạch"], total["Đã phát"]) == ("11", "6")
    assert total["Tỉ lệ thực hiện (%)"] == "54.5"  # 6 ÷ 11, "." decimal for Excel
    assert total["Thời lượng phát (phút)"] == "7.8"  # 470 s


def test_csv_of_several_tables_is_the_main_one_and_its_name_says_so(world, users, request_ctx):
    response = exports.export_response(dashboard_doc(users), "csv", "báo-cáo-11-2026")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert 'filename="bao-cao-11-2026-theo-dai.csv"' in disposition
    assert "filename*=UTF-8''b%C3%A1o-c%C3%A1o-11-2026-theo-dai.csv" in disposition
    body(response)


def test_csv_times_are_local_and_text_cannot_become_a_formula(app, request_ctx):
    doc = Document(
        "Thử",
        "",
        [],
        [
            Table(
                "t",
                "Bảng",
                [
                    Column("at", "Lúc", "datetime"),
                    Column("note", "Ghi chú"),
                    Column("n", "Số", "int"),
                ],
                [[datetime(2026, 11, 26, 22, 45, tzinfo=UTC), "=HYPERLINK(1)", 3]],
            )
        ],
    )
    rows = list(csv.reader(io.StringIO(body(exports.export_response(doc, "csv", "t")).decode())))
    assert rows[1] == ["2026-11-27 05:45:00", "'=HYPERLINK(1)", "3"]


def test_campaign_csv_lists_first_and_last_airing_in_local_time(world, users, request_ctx):
    report = reports.campaign_report(
        users["supervisor2"], ReportFilter(period=None, campaign="Đợt 6")
    )
    doc = exports.campaign_document(report)
    assert doc.subtitle == "Chiến dịch “Đợt 6” · Toàn bộ thời gian"
    text = body(exports.export_response(doc, "csv", "chien-dich")).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    a = next(r for r in rows if r["Mã đài"] == "A")
    assert a["Kịch bản"] == "Kêu gọi tiêm chủng"
    assert (a["Kế hoạch"], a["Đã phát"], a["Bỏ lỡ"]) == ("14", "6", "1")
    assert a["Lần phát đầu"] == "2026-11-10 05:30:00"
    assert a["Lần phát cuối"] == "2026-12-01 00:10:00"  # local, although 30/11 in UTC
    misses = json.loads(body(exports.export_response(doc, "json", "chien-dich")))["tables"]
    assert [
        (m["time"], m["station_code"], m["status"], m["reason"]) for m in misses["misses"]["rows"]
    ] == [
        ("2026-11-11T05:30:00+07:00", "A", "bỏ lỡ", "bỏ lỡ: bộ phát không chạy"),
        ("2026-11-12T17:00:00+07:00", "A", "bị ngắt", ""),
    ]


# --- XLSX -----------------------------------------------------------------------------------


def test_xlsx_has_a_sheet_per_table_with_the_same_figures(world, users, request_ctx):
    response = exports.export_response(dashboard_doc(users), "xlsx", "bao-cao")
    data = body(response)
    assert data[:2] == b"PK"
    assert int(response.headers["Content-Length"]) == len(data)
    sheets = read_xlsx(data)
    assert list(sheets)[:3] == ["Theo đài", "Theo chiến dịch", "Theo kịch bản"]
    rows = sheets["Theo đài"]
    assert rows[0][0] == "Báo cáo kết quả phát sóng"
    top = [r[0] for r in rows[:8] if r]
    assert "Kỳ báo cáo: Tháng 11/2026" in top
    assert any(t and t.startswith("Đơn vị: Thành phố Phan Thiết") for t in top)
    header_at = next(n for n, r in enumerate(rows) if r and r[0] == "Mã đài")
    header = rows[header_at]
    a = dict(zip(header, rows[header_at + 1], strict=False))
    assert a["Mã đài"] == "A"
    assert (a["Kế hoạch"], a["Đã phát"], a["Bỏ lỡ"]) == (10, 5, 1)
    assert a["Tỉ lệ thực hiện (%)"] == 0.5  # an Excel percentage: shown as 50.0%
    assert a["Thời lượng phát (phút)"] == 6.8
    total = dict(zip(header, rows[-1], strict=False))
    assert total["Tên đài"] == "Tổng cộng"
    assert total["Tỉ lệ thực hiện (%)"] == pytest.approx(6 / 11, abs=1e-4)
    campaigns = sheets["Theo chiến dịch"]
    names = [r[0] for r in campaigns if r]
    assert "Đợt 6" in names and "(không thuộc chiến dịch)" in names
    days = sheets["Theo ngày"]
    assert sum(1 for r in days if r and r[1:2] and r[1] in reports.WEEKDAY_NAMES) == 30


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_embeds_dejavu_and_renders_vietnamese(world, users, request_ctx):
    response = exports.export_response(dashboard_doc(users), "pdf", "bao-cao")
    data = body(response)
    assert response.mimetype == "application/pdf"
    assert data.startswith(b"%PDF")
    assert b"/FontFile2" in data
    assert b"DejaVuSansBook" in data and b"DejaVuSansBold" in data
    image, text, pages = render_page(data)
    assert image.width > image.height  # landscape A4 for the wide tally tables
    assert 0.005 < dark_fraction(image) < 0.3  # text and rules on white, not blank or black
    assert "Báo cáo kết quả phát sóng" in text
    assert "Tháng 11/2026 · Thành phố Phan Thiết" in text
    assert "Kỳ báo cáo: Tháng 11/2026" in text
    assert "Đài " in text and "Tổng cộng" in text
    assert "54,5 %" in text  # Vietnamese number style on paper
    assert f"Trang 1/{pages}" in text
    assert "In ngày 27/11/2026 08:00" in text
    _, second, _ = render_page(data, 1)
    assert "Báo cáo kết quả phát sóng · Tháng 11/2026" in second  # running title


def test_pdf_repeats_the_header_row_on_every_page(app, request_ctx):
    columns = [Column("n", "Số thứ tự", "int"), Column("t", "Nội dung tiếng Việt")]
    rows = ([n, f"Dòng số {n}: phát thanh cơ sở"] for n in range(1, 201))
    doc = Document("Thử nhiều trang", "Tháng 11/2026", [("Đài", "Phú Thủy")], [])
    doc.tables.append(Table("t", "Bảng dài", columns, rows))
    data = body(exports.export_response(doc, "pdf", "thu"))
    _, first, pages = render_page(data, 0)
    _, last, _ = render_page(data, pages - 1)
    assert pages > 2
    assert first.count("Nội dung tiếng Việt") == 1
    assert "Nội dung tiếng Việt" in last
    assert "Dòng số 200: phát thanh cơ sở" in last
    assert f"Trang {pages}/{pages}" in last


def test_a_pdf_stops_at_its_row_limit_and_says_so(app, users, request_ctx, monkeypatch):
    monkeypatch.setattr(exports, "PDF_MAX_ROWS", 5)
    columns = [Column("n", "Số", "int")]
    doc = Document("Thử", "", [], [Table("t", "Bảng", columns, ([n] for n in range(8)))])
    doc.tables.append(Table("empty", "Bảng trống", columns, []))
    response = exports.send_export(users["supervisor2"], doc, "pdf", "thu")
    _, text, _ = render_page(body(response))
    assert "Bản PDF chỉ in 5 dòng đầu; còn 3 dòng nữa." in text
    assert "Hãy xuất CSV hoặc XLSX để có đủ dữ liệu." in text
    assert "Không có dòng nào." in text  # the empty table
    assert [e.details["rows"] for e in export_events()] == [5]


def test_logbook_pdf_and_json_in_airing_order(world, users, request_ctx):
    day = make_period("day", date(2026, 11, 12))
    station = world["a"]
    doc = exports.logbook_document(
        station, day, reports.logbook(users["supervisor2"], station, day)
    )
    assert [c.label for c in doc.tables[0].columns] == [
        "Ngày",
        "Buổi",
        "Giờ dự kiến",
        "Bắt đầu",
        "Kết thúc",
        "Tên bản tin",
        "Văn bản nguồn",
        "Người duyệt",
        "Phiên bản đã duyệt",
        "Người thực hiện",
        "Kết quả",
        "Ghi chú",
        "Các mục của chương trình",
    ]
    data = json.loads(body(exports.export_response(doc, "json", "so-nhat-ky")))
    rows = data["tables"]["logbook"]["rows"]
    assert [r["result"] for r in rows] == ["đã hủy", "bị ngắt", "đã phát"]
    cut = rows[1]
    assert cut["day"] == "2026-11-12"
    assert cut["planned"] == "2026-11-12T17:00:00+07:00"
    assert cut["ended"] == "2026-11-12T17:00:20+07:00"
    assert cut["approver"] == users["supervisor"].full_name
    assert cut["version"] == 1
    pdf = body(exports.export_response(doc, "pdf", "so-nhat-ky"))
    _, text, _ = render_page(pdf)
    assert "Sổ nhật ký phát sóng" in text
    assert "Kêu gọi tiêm chủng" in text and "bị ngắt" in text
    assert "17:00:20" in text


# --- JSON -----------------------------------------------------------------------------------


def test_json_has_filters_columns_and_the_same_figures(world, users, request_ctx):
    response = exports.export_response(dashboard_doc(users), "json", "bao-cao")
    assert response.is_streamed
    data = json.loads(body(response))
    assert data["title"] == "Báo cáo kết quả phát sóng"
    assert data["filters"]["Kỳ báo cáo"] == "Tháng 11/2026"
    assert data["printed_at"] == "2026-11-27T08:00:00+07:00"
    stations = data["tables"]["stations"]
    assert stations["columns"][0] == {"key": "station_code", "label": "Mã đài", "kind": "text"}
    a = next(r for r in stations["rows"] if r["station_code"] == "A")
    assert (a["planned"], a["on_air"], a["pending"], a["missed"]) == (10, 5, 3, 1)
    assert a["compliance_percent"] == 50.0
    assert a["airtime_minutes"] == 6.8
    assert stations["rows"][-1]["compliance_percent"] == 54.5
    days = {r["day"]: r for r in data["tables"]["days"]["rows"]}
    assert days["2026-11-30"]["on_air"] == 1 and days["2026-11-30"]["pending"] == 1
    assert days["2026-11-10"]["weekday"] == "Thứ Ba"
    assert [r["station_code"] for r in data["tables"]["stations_with_misses"]["rows"]] == ["A"]
    assert set(data["tables"]) == {
        "stations",
        "campaigns",
        "scripts",
        "priorities",
        "days",
        "over_cap",
        "stations_with_misses",
    }


def test_drill_json_streams_the_log_rows(world, users, request_ctx):
    sup = users["supervisor2"]
    filters = ReportFilter(period=NOVEMBER, station=world["a"])
    doc = exports.drill_document(filters, reports.drill_rows(sup, filters))
    assert ("Đài", f"{world['a'].name} (A)") in doc.filters
    data = json.loads(body(exports.export_response(doc, "json", "chi-tiet")))
    rows = data["tables"]["rows"]["rows"]
    assert len(rows) == 10  # as the drill-down page: the corrected row replaced
    first = rows[0]
    assert first["planned"] == "2026-11-10T05:30:00+07:00"
    assert (first["status"], first["station_code"], first["seq"]) == ("đã phát", "A", 1)
    assert first["title"] == "Kêu gọi tiêm chủng"
    assert first["operator"] == "tự động"
    assert first["duration_s"] == 60.0
    assert re.fullmatch(r"[0-9a-f]{64}", first["row_hash"])
    missed = next(r for r in rows if r["status"] == "bỏ lỡ")
    assert missed["reason"] == "bỏ lỡ: bộ phát không chạy"
    assert missed["started"] is None
    corrected = next(r for r in rows if r["planned"] == "2026-11-14T05:30:00+07:00")
    assert corrected["status"] == "đã phát"


# --- formats and the audit ------------------------------------------------------------------


def test_unknown_format_is_refused_in_vietnamese_and_not_audited(world, users, request_ctx):
    doc = dashboard_doc(users)
    with pytest.raises(ValidationError) as info:
        exports.send_export(users["supervisor2"], doc, "docx", "bao-cao")
    assert "format" in info.value.fields
    assert "docx" in info.value.message and "hãy chọn" in info.value.message
    assert 400 <= info.value.status < 500
    with pytest.raises(ValidationError):
        exports.export_response(doc, "", "bao-cao")
    assert export_events() == []


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_every_export_writes_exactly_one_audit_event(world, users, request_ctx, fmt):
    sup = users["supervisor2"]
    filters = ReportFilter(period=NOVEMBER, station=world["a"], priority=Priority.NORMAL)
    doc = exports.dashboard_document(reports.airtime_dashboard(sup, filters))
    response = exports.send_export(sup, doc, fmt.upper(), "bao-cao")
    # Recorded before the download is read, so an interrupted stream is still on record.
    [event] = export_events()
    assert event.actor_id == sup.id
    assert event.unit_id == sup.unit_id
    assert event.details["format"] == fmt
    assert event.details["report"] == "dashboard"
    assert event.details["filters"]["Đài"] == f"{world['a'].name} (A)"
    assert event.details["filters"]["Mức ưu tiên"] == "thông thường"
    assert "Báo cáo kết quả phát sóng" in event.summary
    assert exports.FORMAT_LABELS[fmt] in event.summary
    assert "Kỳ báo cáo: Tháng 11/2026" in event.summary
    if fmt in ("xlsx", "pdf"):
        assert event.details["rows"] > 0  # written before the event: the count is known
    else:
        assert event.details["rows"] is None
    body(response)
    assert len(export_events()) == 1
    exports.export_response(doc, fmt, "bao-cao").close()  # rendering alone does not audit
    assert len(export_events()) == 1


# --- streaming a large drill-down -----------------------------------------------------------


def many_rows(station, script, count: int) -> None:
    """count log rows on one station in November, written in bulk (the chain is not the
    point here)."""
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    rows = []
    for n in range(count):
        when = start + timedelta(minutes=2 * n)
        rows.append(
            {
                "station_id": station.id,
                "unit_id": station.unit_id,
                "planned_at": when,
                "started_at": when,
                "ended_at": when + timedelta(seconds=61.5),
                "duration_s": 61.5,
                "status": LogStatus.AIRED if n % 7 else LogStatus.AIRED_LATE,
                "reason": "" if n % 7 else "phát muộn 1 phút",
                "script_id": script.id,
                "version_id": script.approved_version_id,
                "airing_key": f"bulk:{n}",
                "priority": Priority.NORMAL,
                "runner_host": "may-phat-1",
                "created_at": when,
                "seq": n + 1,
                "hash_version": 2,
                "prev_hash": f"{n:064x}",
                "row_hash": f"{n + 1:064x}",
            }
        )
    db.session.execute(insert(BroadcastLog), rows)
    db.session.commit()


def read_measured(response) -> dict:
    """Read a streamed body under tracemalloc: peak, memory held after each chunk, size."""
    tracemalloc.start()
    try:
        held, sent, first, last = [], 0, b"", b""
        for chunk in response.response:
            sent += len(chunk)
            first += chunk if len(held) < 2 else b""  # the header and the first rows
            last = chunk
            held.append(tracemalloc.get_traced_memory()[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"peak": peak, "held": held, "sent": sent, "first": first, "last": last}


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_20000_row_drill_export_streams_in_flat_memory(org, users, request_ctx, fmt):
    from tests.schedules.test_service import approved_script

    station = make_station(org.district, "BULK")
    script = approved_script(users, org.district, title="Thông báo lịch tiêm chủng đợt 6")
    many_rows(station, script, 20_000)
    db.session.expire_all()
    sup = users["supervisor2"]
    filters = ReportFilter(period=NOVEMBER, station=station)
    doc = exports.drill_document(filters, reports.drill_rows(sup, filters))
    response = exports.send_export(sup, doc, fmt, "chi-tiet")
    assert response.is_streamed
    measured = read_measured(response)
    peak, held, sent = measured["peak"], measured["held"], measured["sent"]
    first, last = measured["first"], measured["last"]
    # Flat: once the first batch of rows is read, what is held stays level to the end.
    growth = max(held[len(held) // 4 :]) - held[len(held) // 4]
    print(
        f"{fmt}: {sent / 1e6:.1f} MB in {len(held)} chunks; traced peak {peak / 1e6:.2f} MB, "
        f"growth after the first quarter {growth / 1e6:.2f} MB"
    )
    assert len(held) > 20  # written as it is read, not built whole
    assert peak < 30_000_000
    assert growth < 1_000_000
    assert len(export_events()) == 1
    if fmt == "csv":
        lines = first.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("Dự kiến,Bắt đầu,Kết thúc,Thời lượng (giây),Mã đài")
        assert lines[1].split(",")[3:7] == [
            "61.5",
            "BULK",
            "Thông báo lịch tiêm chủng đợt 6",
            "phát muộn",
        ]
        # 1/11 00:00 UTC + 19,999 × 2 min is 28/11 18:38 UTC, 01:38 on 29/11 in Vietnam.
        assert last.decode().splitlines()[-1].startswith("2026-11-29 01:38:00,")
    else:
        assert last == b"}}"
        again = exports.drill_document(filters, reports.drill_rows(sup, filters))  # read once
        whole = json.loads(body(exports.export_response(again, "json", "chi-tiet")))
        rows = whole["tables"]["rows"]["rows"]
        assert len(rows) == 20_000
        assert rows[-1]["planned"] == "2026-11-29T01:38:00+07:00"
