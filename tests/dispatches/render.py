"""Make dispatch files for the tests: PDFs with a text layer (fpdf2) and DOCX (python-docx),
in the project's Vietnamese font (DejaVu Sans, shipped in app/reports/fonts)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.shared import Pt
from fpdf import FPDF

FONT = Path(__file__).resolve().parents[2] / "app" / "reports" / "fonts" / "DejaVuSans.ttf"
SEED = Path(__file__).with_name("dispatch-855-BCD-TBTTTT-2021.txt")


def seed_text() -> str:
    """The seed dispatch as its text was taken from the PDF that arrived."""
    return SEED.read_text(encoding="utf-8")


def _pdf(size: float = 11) -> FPDF:
    """An A4 document with the margins of NĐ 30/2020 and the Vietnamese font."""
    pdf = FPDF(format="A4")
    pdf.set_margins(30, 20, 15)
    pdf.set_auto_page_break(True, 20)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", "", size)
    # Fixed dates keep the bytes of every run the same.
    pdf.set_creation_date(datetime(2021, 8, 30, tzinfo=UTC))
    return pdf


def render_pdf(
    text: str,
    *,
    page_numbers: bool = True,
    running_head: str | None = None,
    password: str | None = None,
    owner_password: str | None = None,
) -> bytes:
    """The text line by line on A4 pages, a page number at the top of pages after the first (as
    NĐ 30 places it) and an optional running head; optionally encrypted."""
    pdf = _pdf()

    def header() -> None:
        if running_head:
            pdf.set_y(10)
            pdf.cell(0, 5, running_head, align="R")
        if page_numbers and pdf.page_no() > 1:
            pdf.set_y(14)
            pdf.cell(0, 5, str(pdf.page_no()), align="C")
        pdf.set_y(22)

    pdf.header = header
    if password is not None or owner_password is not None:
        pdf.set_encryption(owner_password=owner_password or "owner", user_password=password or "")
    pdf.add_page()
    for line in text.split("\n"):
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render_columns_pdf(
    head: list[tuple[str, str]], body: list[str], tail: list[tuple[str, str]]
) -> bytes:
    """A PDF laid out as NĐ 30 draws it: the header's and the signature's two columns side by
    side on the same baselines, so their text comes out run together line by line."""
    pdf = _pdf()
    pdf.add_page()

    def row(left: str, right: str, left_x: float, width: float, align: str) -> None:
        y = pdf.get_y()
        pdf.set_xy(left_x, y)
        pdf.cell(width, 6, left, align=align)
        pdf.set_xy(105, y)
        pdf.cell(90, 6, right, align="C")
        pdf.ln(6)

    for left, right in head:
        row(left, right, 20, 80, "C")
    for line in body:
        pdf.set_x(30)
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    for left, right in tail:
        row(left, right, 30, 70, "L")
    return bytes(pdf.output())


def render_blank_pdf(pages: int) -> bytes:
    """A PDF of empty pages: no text layer at all, as a scan without OCR looks."""
    pdf = _pdf()
    for _ in range(pages):
        pdf.add_page()
    return bytes(pdf.output())


def render_docx(
    left_head: list[str],
    right_head: list[str],
    before: list[str],
    body: list[str],
    left_tail: list[str],
    right_tail: list[str],
) -> bytes:
    """A DOCX laid out as a clerk types one: a two-column header table, paragraphs (a "\\n"
    inside one is a line break), and the distribution list beside the signature in a table."""
    document = docx.Document()
    document.styles["Normal"].font.name = "Times New Roman"
    document.styles["Normal"].font.size = Pt(13)
    document.core_properties.created = datetime(2021, 8, 30)

    def fill(cell, lines: list[str]) -> None:
        cell.paragraphs[0].text = lines[0]
        for line in lines[1:]:
            cell.add_paragraph(line)

    head = document.add_table(rows=1, cols=2)
    fill(head.cell(0, 0), left_head)
    fill(head.cell(0, 1), right_head)
    for text in before + body:
        paragraph = document.add_paragraph()
        parts = text.split("\n")
        run = paragraph.add_run(parts[0])
        for part in parts[1:]:
            run.add_break()
            run = paragraph.add_run(part)
    tail = document.add_table(rows=1, cols=2)
    fill(tail.cell(0, 0), left_tail)
    fill(tail.cell(0, 1), right_tail)
    section = document.sections[0]
    section.footer.paragraphs[0].text = "Trang 1"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def seed_docx() -> bytes:
    """The seed as the DOCX it was typed in: header and signature in tables, each paragraph of
    the body one Word paragraph (its lines joined), the HỎA TỐC stamp a paragraph of its own."""
    lines = seed_text().split("\n")
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Thực hiện"))
    end = next(i for i, line in enumerate(lines) if line.strip().startswith("Trân trọng"))
    blocks = [
        re.sub(
            r"(?<=\S-) (?=\d)",
            "",
            " ".join(line.strip() for line in block.split("\n") if line.strip()),
        )
        for block in re.split(r"\n\s*\n", "\n".join(lines[start:end]))
    ]
    blocks = [block for block in blocks if block and block != "HỎA TỐC"]
    # "… Quỹ vắc xin phòng Covid-19 Việt" / "Nam." were one paragraph split by the stamp.
    joined: list[str] = []
    for block in blocks:
        if joined and block[:1].isupper() and not re.search(r"[.;:!)]$", joined[-1]):
            joined[-1] = f"{joined[-1]} {block}"
        else:
            joined.append(block)
    return render_docx(
        left_head=[
            "BCĐ PHÒNG CHỐNG DỊCH COVID-19\nTỈNH BÌNH THUẬN",
            "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN",
            "Số:     855   /BCĐ-TBTTTT",
            "V/v đẩy mạnh truyền thông chiến dịch tiêm\nvắc xin và cài đặt Sổ sức khỏe điện tử"
            " để\ntheo dõi tiêm vắc xin phòng Covid-19",
        ],
        right_head=[
            "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "Bình Thuận, ngày   30    tháng  8  năm  2021",
        ],
        before=[
            "HỎA TỐC",
            "Kính gửi:",
            "- Ủy ban MTTQVN tỉnh;",
            "- Các sở, ban, ngành, hội, đoàn thể thuộc tỉnh;",
            "- Các cơ quan báo chí của tỉnh;",
            "- UBND các huyện, thị xã, thành phố.",
        ],
        body=[*joined, "Trân trọng!"],
        left_tail=[
            "Nơi nhận:",
            "- Như trên;",
            "- UBND tỉnh (b/c);",
            "- Ban Tuyên giáo Tỉnh ủy;",
            "- Sở Y tế - Thường trực BCĐ Covid-19 tỉnh;",
            "- Trung tâm thông tin -VPUBND tỉnh;",
            "- Trung tâm VHTT&TT các huyện, thị xã;",
            "- Đài Truyền thanh thành phố Phan Thiết;",
            "- Lãnh đạo Sở (qlvb);",
            "- Phòng BCVT&CNTT;",
            "- Lưu: VT, TTBCXB, Trinh.",
        ],
        right_tail=["TRƯỞNG TIỂU BAN", "PHÓ GIÁM ĐỐC SỞ TT VÀ TT", "", "", "Dương Tự"],
    )
