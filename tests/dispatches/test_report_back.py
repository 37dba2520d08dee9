"""The report back on a dispatch, as DOCX and PDF: its figures are the airtime reports', its
layout the decree's (NĐ 30/2020/NĐ-CP), its downloads audited; bad input is refused with a
Vietnamese message and nothing downloaded.

The world is test_tracking's: two stations, two scripts of the dispatch, a day of aired,
missed, skipped and failed rows, and a script outside the dispatch that aired too.
"""

from __future__ import annotations

import io
import re
from datetime import date

import docx
import pytest
from docx.shared import Pt
from pypdf import PdfReader
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.dispatches import report_back
from app.dispatches.report_back import place_of, sentence_case
from app.reports import service as reports
from app.reports.charts import vn_number
from app.reports.service import Period, ReportFilter
from tests.dispatches.test_tracking import ISSUED, TODAY, World, build_world, make_dispatch

SIGNER = "Nguyễn Thị Hồng Nhung"
TITLE = "Báo cáo kết quả thực hiện Công văn số 855/BCĐ-TBTTTT ngày 20/11/2026"


@pytest.fixture
def world(org, users, clock) -> World:
    """test_tracking's world under the fixture district."""
    return build_world(org.district, users["writer"], users["supervisor"], users["operator"], clock)


def form(**changes) -> dict:
    """The report form as a supervisor of the district sends it."""
    data = {
        "issuer_parent": "Tỉnh Bình Thuận",
        "issuer_name": "Thành phố Phan Thiết",
        "number": "12",
        "code": "BC-PTH",
        "place": "Phan Thiết",
        "issued_on": TODAY.isoformat(),
        "start": ISSUED.isoformat(),
        "end": TODAY.isoformat(),
        "cited_issuer": "Tiểu ban Thông tin tuyên truyền - BCĐ phòng chống dịch COVID-19 tỉnh "
        "Bình Thuận",
        "signer_authority": "KT. CHỦ TỊCH",
        "signer_title": "Phó Chủ tịch",
        "signer_name": SIGNER,
        "recipients": "Tiểu ban Thông tin tuyên truyền (b/c)\n- UBND tỉnh (b/c);\n",
        "archive": "VT, PTH",
        "format": "docx",
    }
    data.update(changes)
    return data


def download(client, dispatch, **changes):
    """POST the form; the response."""
    return client.post(f"/dispatches/{dispatch.id}/report", data=form(**changes))


def station_table(document) -> list[list[str]]:
    """The per-station table of the DOCX, as text (header first)."""
    for table in document.tables:
        head = [c.text for c in table.rows[0].cells]
        if head[:2] == ["STT", "Đài"]:
            return [[c.text for c in row.cells] for row in table.rows]
    raise AssertionError("no station table")


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace collapsed."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.split())


def expected_rows(sup, dispatch) -> list[list[str]]:
    """The per-station rows as the airtime reports give them for the same filter."""
    period = Period("custom", ISSUED, TODAY)
    board = reports.airtime_dashboard(
        sup, ReportFilter(period=period, unit=dispatch.unit, dispatch_id=dispatch.id)
    )
    proof = reports.campaign_report(
        sup, ReportFilter(period=period, unit=dispatch.unit, dispatch_id=dispatch.id)
    )
    assert proof.total.as_dict() == board.total.as_dict()

    def figures(t):
        missed = t.missed + t.failed + t.skipped
        return [str(t.planned), str(t.on_air), str(missed), vn_number(t.airtime_minutes)]

    rows = [[str(n), s.name, *figures(t)] for n, (s, t) in enumerate(board.by_station, 1)]
    return [*rows, ["", "Tổng cộng", *figures(board.total)]]


# --- figures --------------------------------------------------------------------------------


def test_docx_and_pdf_figures_equal_the_airtime_reports(world, users, login_as):
    sup = users["supervisor2"]
    expected = expected_rows(sup, world.dispatch)
    # By hand: PT-B aired 4 of 4 (5 minutes), PT-C 1 of 4 (skipped, missed, failed); the
    # script outside the dispatch that aired on PT-B is not counted.
    assert expected == [
        ["1", "Đài Truyền thanh phường Phú Thủy", "4", "4", "0", "5"],
        ["2", "Đài Truyền thanh phường Đức Nghĩa", "4", "1", "3", "1"],
        ["", "Tổng cộng", "8", "5", "3", "6"],
    ]
    client = login_as("supervisor2")
    response = download(client, world.dispatch)
    assert response.status_code == 200
    assert response.mimetype == report_back.MIMETYPES["docx"]
    disposition = response.headers["Content-Disposition"]
    assert "bao-cao-ket-qua-855-bcd-tbtttt-2026-11-27.docx" in disposition
    document = docx.Document(io.BytesIO(response.data))
    rows = station_table(document)
    assert rows[0] == [
        "STT",
        "Đài",
        "Kế hoạch (lượt)",
        "Đã phát (lượt)",
        "Không phát được (lượt)",
        "Thời lượng (phút)",
    ]
    assert rows[1:] == expected
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Các bản tin đã được phát 5 lượt trên 2 đài, trên tổng số 8 lượt" in text
    assert "tỉ lệ thực hiện 62,5 %" in text
    # The misses, with their reasons, in time order (the times as sequenced in the sessions,
    # which pack a session's spots from its start).
    misses = [p.text for p in document.paragraphs if p.text.startswith("- 27/11/2026")]
    assert misses == [
        "- 27/11/2026 08:00, Đài Truyền thanh phường Đức Nghĩa, “Cài đặt Sổ sức khỏe điện tử”: "
        "bỏ lỡ (mất điện lưới khu phố 3)",
        "- 27/11/2026 17:00, Đài Truyền thanh phường Đức Nghĩa, “Kêu gọi tiêm vắc xin mũi 3”: "
        "bỏ qua (trễ quá thời gian cho phép)",
        "- 27/11/2026 17:00, Đài Truyền thanh phường Đức Nghĩa, “Cài đặt Sổ sức khỏe điện tử”: "
        "lỗi (tệp âm thanh không mở được)",
    ]

    pdf = download(client, world.dispatch, format="pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    for row in expected:
        assert " ".join(cell for cell in row if cell) in text, row
    assert "bỏ lỡ (mất điện lưới khu phố 3)" in text


def test_a_shorter_period_counts_only_its_days(world, users, login_as):
    """A period that ends the day before the airings has none of them, as the reports."""
    client = login_as("supervisor2")
    response = download(client, world.dispatch, end="2026-11-26")
    rows = station_table(docx.Document(io.BytesIO(response.data)))
    assert rows[1:] == [["", "Tổng cộng", "0", "0", "0", "0"]]


def test_both_downloads_are_audited(world, users, login_as):
    client = login_as("supervisor2")
    download(client, world.dispatch)
    download(client, world.dispatch, format="pdf")
    events = db_events()
    assert [(e.actor_name, e.object_type, e.object_id) for e in events] == [
        ("supervisor2", "dispatch", world.dispatch.id),
        ("supervisor2", "dispatch", world.dispatch.id),
    ]
    first, second = (e.details for e in events)
    assert (first["format"], second["format"]) == ("docx", "pdf")
    assert first["report"] == "dispatch_report"
    assert first["title"] == f"{TITLE} của {form()['cited_issuer']}"
    assert first["number"] == "12/BC-PTH"
    assert first["signer"] == SIGNER
    assert first["filters"]["Thực hiện văn bản"] == "công văn số 855/BCĐ-TBTTTT ngày 20/11/2026"
    page = client.get(f"/dispatches/{world.dispatch.id}/tracking").get_data(as_text=True)
    assert "đã xuất lần cuối 27/11/2026 18:00 (12/BC-PTH, supervisor2)" in page


def db_events() -> list[AuditEvent]:
    """The report downloads audited so far."""
    from app.extensions import db

    query = select(AuditEvent).where(AuditEvent.action == "report.export").order_by(AuditEvent.id)
    return db.session.scalars(query).all()


# --- layout ---------------------------------------------------------------------------------


def test_the_docx_has_the_decrees_layout(world, login_as):
    response = download(login_as("supervisor2"), world.dispatch)
    document = docx.Document(io.BytesIO(response.data))
    section = document.sections[0]
    # Word stores lengths in twentieths of a point: within a hundredth of a millimetre.
    for found, mm in (
        (section.page_width, 210),
        (section.page_height, 297),
        (section.top_margin, 20),
        (section.bottom_margin, 20),
        (section.left_margin, 30),
        (section.right_margin, 15),
    ):
        assert found.mm == pytest.approx(mm, abs=0.01)
    normal = document.styles["Normal"].font
    assert (normal.name, normal.size) == ("Times New Roman", Pt(14))

    head = document.tables[0]
    issuer, motto = head.rows[0].cells
    lines = [p for p in issuer.paragraphs if p.text]
    assert [p.text for p in lines] == ["TỈNH BÌNH THUẬN", "THÀNH PHỐ PHAN THIẾT", "Số: 12/BC-PTH"]
    assert not lines[0].runs[0].bold and lines[1].runs[0].bold
    # The short rule under the issuer: a bottom border on the paragraph after its name.
    assert issuer.paragraphs[2]._p.xpath("./w:pPr/w:pBdr/w:bottom")
    mottos = [p for p in motto.paragraphs if p.text]
    assert [p.text for p in mottos] == [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Phan Thiết, ngày 27 tháng 11 năm 2026",
    ]
    assert mottos[0].runs[0].bold
    assert mottos[1].runs[0].bold and mottos[1].runs[0].underline
    assert mottos[2].runs[0].italic

    paragraphs = [p for p in document.paragraphs if p.text]
    kind, subject = paragraphs[0], paragraphs[1]
    assert kind.text == "BÁO CÁO" and kind.runs[0].bold
    assert subject.text.startswith("Kết quả thực hiện Công văn số 855/BCĐ-TBTTTT ngày 20/11/2026")
    assert subject.runs[0].bold
    assert paragraphs[2].text.startswith(
        "Thực hiện Công văn số 855/BCĐ-TBTTTT ngày 20/11/2026 của Tiểu ban Thông tin tuyên "
        "truyền - BCĐ phòng chống dịch COVID-19 tỉnh Bình Thuận về việc đẩy mạnh truyền thông"
    )
    assert paragraphs[-1].text.endswith("./.")

    foot = document.tables[-1]
    recipients, signer = foot.rows[0].cells
    texts = [p.text for p in recipients.paragraphs if p.text]
    assert texts == [
        "Nơi nhận:",
        "- Tiểu ban Thông tin tuyên truyền (b/c);",
        "- UBND tỉnh (b/c);",
        "- Lưu: VT, PTH.",
    ]
    label = recipients.paragraphs[0].runs[0]
    assert label.bold and label.italic and label.font.size == Pt(12)
    signs = [p for p in signer.paragraphs if p.text]
    assert [p.text for p in signs] == ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", SIGNER]
    assert all(p.runs[0].bold for p in signs)


def test_vietnamese_diacritics_are_intact_in_both(world, login_as):
    client = login_as("supervisor2")
    document = docx.Document(io.BytesIO(download(client, world.dispatch).data))
    docx_text = "\n".join(
        [p.text for p in document.paragraphs]
        + [c.text for t in document.tables for row in t.rows for c in row.cells]
    )
    text = pdf_text(download(client, world.dispatch, format="pdf").data)
    for found in (docx_text, text):
        for phrase in (
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "Phan Thiết, ngày 27 tháng 11 năm 2026",
            "BÁO CÁO",
            "Kết quả thực hiện Công văn số 855/BCĐ-TBTTTT ngày 20/11/2026",
            "Đài Truyền thanh phường Đức Nghĩa",
            "Nơi nhận:",
            "Lưu: VT, PTH.",
            SIGNER,
        ):
            assert phrase in found, phrase
    assert "Số: 12/BC-PTH" in text


def test_without_a_number_the_clerk_has_room_to_write_it(world, login_as):
    response = download(login_as("supervisor2"), world.dispatch, number="")
    issuer = docx.Document(io.BytesIO(response.data)).tables[0].rows[0].cells[0]
    assert issuer.paragraphs[-1].text == "Số:      /BC-PTH"


def test_the_form_opens_with_defaults_from_the_unit_and_the_dispatch(world, login_as):
    page = login_as("supervisor2").get(f"/dispatches/{world.dispatch.id}/report")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert TITLE in html
    for name, value in (
        ("issuer_parent", "Tỉnh Bình Thuận"),
        ("issuer_name", "Thành phố Phan Thiết"),
        ("code", "BC-D"),
        ("place", "Phan Thiết"),
        ("issued_on", "2026-11-27"),
        ("start", "2026-11-20"),
        ("end", "2026-11-27"),
        (
            "cited_issuer",
            "Tiểu ban thông tin tuyên truyền - BCĐ phòng chống dịch COVID-19 tỉnh Bình Thuận",
        ),
    ):
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"', html), name
    assert (
        "Tiểu ban thông tin tuyên truyền - BCĐ phòng chống dịch COVID-19 tỉnh Bình Thuận (b/c)"
        in html
    )
    assert "Đài Truyền thanh phường Đức Nghĩa" in html  # the preview of the figures


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issued_on": "31/02/2026"}, "Ngày “31/02/2026” không hợp lệ; hãy viết như 27/11/2026."),
        ({"start": "hôm qua"}, "Ngày “hôm qua” không hợp lệ"),
        (
            {"start": "2026-11-25", "end": "2026-11-21"},
            "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu.",
        ),
        ({"end": "2026-11-28"}, "Kỳ báo cáo chỉ tính đến hôm nay (27/11/2026)"),
        ({"signer_name": "  "}, "Hãy nhập họ tên người ký."),
        ({"signer_title": ""}, "Hãy nhập chức vụ người ký."),
        ({"number": "12a"}, "Số văn bản chỉ gồm chữ số"),
        ({"number": "1²"}, "Số văn bản chỉ gồm chữ số"),
        ({"code": "BC PTH?"}, "Ký hiệu chỉ gồm chữ in hoa, chữ số và dấu gạch nối"),
        ({"code": "KH-PTH"}, "Ký hiệu của báo cáo bắt đầu bằng “BC-”"),
        ({"recipients": " \n - \n"}, "Hãy ghi ít nhất một nơi nhận"),
        ({"place": "x" * 81}, "Địa danh dài tối đa 80 ký tự."),
        ({"format": "xlsx"}, "Không xuất được dạng “xlsx”; hãy chọn Word (DOCX) hoặc PDF."),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_downloaded(
    world, login_as, changes, message
):
    response = download(login_as("supervisor2"), world.dispatch, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    assert message in html
    assert db_events() == []


def test_a_writer_may_not_issue_and_an_outsider_sees_nothing(world, login_as):
    refused = download(login_as("writer"), world.dispatch)
    assert refused.status_code == 403
    assert "Chỉ người duyệt" in refused.get_data(as_text=True)
    hidden = download(login_as("outside_supervisor"), world.dispatch)
    assert hidden.status_code == 404
    assert "855" not in hidden.get_data(as_text=True)
    assert db_events() == []


def test_an_empty_dispatch_reports_that_nothing_aired(org, users, login_as):
    dispatch = make_dispatch(org.district, number=858)
    response = download(login_as("supervisor2"), dispatch)
    document = docx.Document(io.BytesIO(response.data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Chưa biên soạn bản tin nào từ văn bản này." in text
    assert "Trong kỳ báo cáo chưa có lượt phát nào theo lịch." in text
    assert "Không có lượt phát nào bị bỏ lỡ, lỗi hoặc phát không trọn." in text


# --- wording --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TIỂU BAN THÔNG TIN TUYÊN TRUYỀN", "Tiểu ban thông tin tuyên truyền"),
        (
            "BCĐ PHÒNG CHỐNG DỊCH COVID-19 TỈNH BÌNH THUẬN",
            "BCĐ phòng chống dịch COVID-19 tỉnh Bình Thuận",
        ),
        ("UBND THÀNH PHỐ PHAN THIẾT", "UBND thành phố Phan Thiết"),
        ("SỞ THÔNG TIN VÀ TRUYỀN THÔNG", "Sở thông tin và truyền thông"),
        ("Sở Y tế", "Sở Y tế"),
        ("ỦY BAN MTTQVN TỈNH", "Ủy ban MTTQVN tỉnh"),
    ],
)
def test_an_upper_case_issuer_is_cited_in_sentence_case(text, expected):
    assert sentence_case(text) == expected


def test_the_place_is_the_units_name_without_its_level():
    assert place_of("Thành phố Phan Thiết", "Thành phố") == "Phan Thiết"
    assert place_of("Tỉnh Bình Thuận", "Tỉnh") == "Bình Thuận"
    assert place_of("Thị xã La Gi", "Thị xã") == "La Gi"
    assert place_of("Đài Truyền thanh", "Đài") == "Truyền thanh"


def test_the_date_line_pads_days_under_ten_and_january_and_february(world, users):
    data = report_back.parse_input(form(issued_on="2027-01-05", end="2026-11-27"), TODAY)
    report = report_back.build_report(users["supervisor2"], world.dispatch, data)
    assert report.date_line == "Phan Thiết, ngày 05 tháng 01 năm 2027"
    data.issued_on = date(2026, 3, 9)
    assert report.date_line == "Phan Thiết, ngày 09 tháng 3 năm 2026"


def test_scripts_of_several_campaigns_get_a_table_per_campaign(world, users, login_as):
    from app.extensions import db

    world.scripts[1].campaign = "Sổ sức khỏe điện tử"
    db.session.commit()
    response = download(login_as("supervisor2"), world.dispatch)
    document = docx.Document(io.BytesIO(response.data))
    tables = [t for t in document.tables if t.rows[0].cells[1].text == "Chiến dịch"]
    assert len(tables) == 1
    rows = [[c.text for c in row.cells] for row in tables[0].rows[1:]]
    board = reports.airtime_dashboard(
        users["supervisor2"],
        ReportFilter(
            period=Period("custom", ISSUED, TODAY),
            unit=world.dispatch.unit,
            dispatch_id=world.dispatch.id,
        ),
    )
    assert [(name, t.on_air) for name, t in board.by_campaign] == [
        ("Sổ sức khỏe điện tử", 2),
        ("Tiêm chủng COVID-19 đợt 6", 3),
    ]
    assert rows == [
        ["1", "Sổ sức khỏe điện tử", "4", "2", "2", "3"],
        ["2", "Tiêm chủng COVID-19 đợt 6", "4", "3", "1", "3"],
        ["", "Tổng cộng", "8", "5", "3", "6"],
    ]
