"""Make dispatch files for the tests: PDFs with a text layer (fpdf2), DOCX (python-docx), and
scans and photos (Pillow): PNG pages, image-only PDFs, JPEG photos; all in the project's
Vietnamese font (DejaVu Sans, shipped in app/reports/fonts)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.shared import Pt
from fpdf import FPDF
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

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


# The page as render_pdf sets it: A4, margins 30 mm left and 20 mm top and bottom, 6 mm lines.
A4_MM = (210, 297)
LEFT_MM, TOP_MM, LINE_MM = 30, 20, 6
LINES_PER_PAGE = int((A4_MM[1] - 2 * TOP_MM) / LINE_MM)


def _page_image(lines: list[str], dpi: int, font_size: float, number: int | None, height_mm):
    """One white page with the lines drawn in black, the page number at the top if given."""
    scale = dpi / 25.4
    font = ImageFont.truetype(str(FONT), round(font_size / 72 * dpi))
    image = Image.new("L", (round(A4_MM[0] * scale), round(height_mm * scale)), 255)
    draw = ImageDraw.Draw(image)
    if number is not None:
        draw.text((A4_MM[0] / 2 * scale, 14 * scale), str(number), font=font, fill=0, anchor="mt")
    y = TOP_MM + 2
    for line in lines:
        draw.text((LEFT_MM * scale, y * scale), line, font=font, fill=0)
        y += LINE_MM
    return image


def _png(image: Image.Image, dpi: int) -> bytes:
    """An image as PNG bytes stating its resolution."""
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def render_png(text: str, *, dpi: int = 300, font_size: float = 11) -> bytes:
    """The whole text as one scanned page (PNG, grayscale, `dpi` dots per inch): A4 wide, as
    long as the text needs and at least A4, laid out line by line as render_pdf lays it."""
    lines = text.split("\n")
    height = max(A4_MM[1], 2 * TOP_MM + 2 + LINE_MM * len(lines))
    return _png(_page_image(lines, dpi, font_size, None, height), dpi)


def scan_pages(
    text: str, *, dpi: int = 300, font_size: float = 11, skew: float = 0.0
) -> list[Image.Image]:
    """The text on A4 pages as images, broken into pages and numbered as render_pdf does, each
    turned by `skew` degrees as a page fed into a scanner a little crooked."""
    lines = text.split("\n")
    chunks = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    pages = []
    for index, chunk in enumerate(chunks):
        page = _page_image(chunk, dpi, font_size, index + 1 if index else None, A4_MM[1])
        if skew:
            page = page.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=255)
        pages.append(page)
    return pages


def render_png_pages(text: str, **options) -> list[bytes]:
    """The text as scanned A4 pages, one PNG each (see scan_pages for the options)."""
    dpi = options.get("dpi", 300)
    return [_png(page, dpi) for page in scan_pages(text, **options)]


def render_scanned_pdf(text: str, **options) -> bytes:
    """The text as a scanned PDF: A4 page images and no text layer (see scan_pages)."""
    dpi = options.get("dpi", 300)
    pages = scan_pages(text, **options)
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out.getvalue()


def render_photo(
    text: str,
    *,
    dpi: int = 200,
    font_size: float = 11,
    orientation: int = 6,
    quality: int = 80,
    shade: int = 0,
    tilt: float = 0.0,
    blur: float = 0.0,
) -> bytes:
    """The text as a phone photo (JPEG, colour) of an A4 page, stored on its side with the EXIF
    orientation that turns it upright (6: turn 90° clockwise to view, as a phone held upright
    writes it). As a photo taken on a desk: grey paper lit from the left and darker by `shade`
    (0-255) at the right, the page turned `tilt` degrees on a dark desk, out of focus by `blur`
    pixels."""
    page = _page_image(text.split("\n"), dpi, font_size, None, A4_MM[1])
    if shade:
        light = Image.linear_gradient("L").rotate(90).resize(page.size)
        light = light.point(lambda v: 255 - shade * v // 255)
        page = ImageChops.multiply(page.point(lambda v: 40 + v * 190 // 255), light)
    if tilt:
        page = page.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=90)
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(blur))
    page = page.convert("RGB")
    stored = {
        1: page,
        3: page.transpose(Image.Transpose.ROTATE_180),
        6: page.transpose(Image.Transpose.ROTATE_90),
        8: page.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, format="JPEG", quality=quality, exif=exif)
    return out.getvalue()


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
