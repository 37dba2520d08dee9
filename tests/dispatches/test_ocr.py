"""Scans and photos read by Tesseract OCR: the seed as a PNG page and as a scanned PDF, a phone
photo turned by its EXIF tag, a mixed PDF; and every refusal (no text, a decompression bomb, a
broken image, OCR not installed, Tesseract failing or too slow).

Tests that run Tesseract are few and small (a page costs about a second here) and not grouped,
so pytest-xdist spreads them over its workers; without Tesseract they skip loudly (and fail in
CI, which installs it).
"""

from __future__ import annotations

import difflib
import io
import os
import struct
import zlib
from pathlib import Path

import pypdfium2
import pytest
from fpdf import FPDF
from PIL import Image

from app.dispatches import ocr
from app.dispatches.extract import (
    CorruptFileError,
    ImageTooLargeError,
    Limits,
    NoTextError,
    OcrFailedError,
    OcrUnavailableError,
    extract_file,
)
from app.dispatches.reader import read_file, read_path, read_text, repair_ocr_code
from tests.dispatches.cases import COLUMNS
from tests.dispatches.render import (
    FONT,
    render_columns_pdf,
    render_photo,
    render_png,
    render_scanned_pdf,
    scan_pages,
    seed_text,
)

MISSING_TESSERACT = (
    "TESSERACT NOT INSTALLED (or its Vietnamese data): OCR of scans and photos NOT tested; "
    "apt-get install tesseract-ocr tesseract-ocr-vie"
)
# Body similarity (difflib ratio) of the seed read by OCR against the seed read as text:
# measured 0.999 for the PNG page and 0.998 for the scanned PDF turned 0.5° (Tesseract 5.3.0);
# the margin is for another Tesseract build. Words alone are not enough: Tesseract's own text
# output reads them as well (0.997) but breaks seven paragraphs mid-sentence with blank lines,
# so the paragraphs are counted too.
BODY_SIMILARITY = 0.97
NO_TESSERACT = "/khong/co/tesseract"


@pytest.fixture(scope="module")
def tesseract():
    """Tesseract with Vietnamese data, or a loud skip (a failure in CI)."""
    try:
        return ocr.check_tesseract()
    except ocr.OcrError:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING_TESSERACT, pytrace=False)
        pytest.skip(MISSING_TESSERACT)


@pytest.fixture(scope="module")
def seed():
    """The seed read from its text, as the OCR results are compared with it."""
    return read_text(seed_text())


def _similarity(got: str, want: str) -> float:
    return difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()


def _assert_reads_as_seed(dispatch, seed):
    assert dispatch.ocr is True
    assert dispatch.number == 855
    assert dispatch.code == "BCĐ-TBTTTT"
    assert dispatch.date == "2021-08-30"
    assert dispatch.urgency == "HỎA TỐC"
    assert dispatch.issuer == "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN"
    assert dispatch.subject == seed.subject
    assert dispatch.addressees == seed.addressees
    assert dispatch.signer_name == "Dương Tự"
    assert [(c.number, c.code, c.date) for c in dispatch.cites] == [
        (c.number, c.code, c.date) for c in seed.cites
    ]
    assert _similarity(dispatch.text, seed.text) > BODY_SIMILARITY
    assert len(dispatch.text.split("\n")) == len(seed.text.split("\n")) == 14
    assert "ocr" in [problem.code for problem in dispatch.problems]


def test_seed_as_a_png_page_reads_back(tesseract, seed):
    dispatch = read_file(render_png(seed_text()), "cong-van-855.png")
    _assert_reads_as_seed(dispatch, seed)
    assert [p.label for p in dispatch.points] == [p.label for p in seed.points]


def test_seed_as_a_scanned_pdf_reads_back(tesseract, seed, tmp_path):
    path = tmp_path / "cong-van-855-scan.pdf"
    path.write_bytes(render_scanned_pdf(seed_text(), skew=0.5))
    dispatch = read_path(path)
    _assert_reads_as_seed(dispatch, seed)
    assert any(c.type == "phone" and c.value == "0937938383" for c in dispatch.contacts)


def test_phone_photo_is_turned_upright_by_its_exif_tag(tesseract):
    # Lit from one side, tilted 2° and a little out of focus: a global threshold lost the
    # date line and the right half of the body here, Sauvola's local one reads them.
    head = "\n".join(seed_text().split("\n")[:40])
    photo = render_photo(head, orientation=6, shade=120, tilt=2, blur=1)
    stored = Image.open(io.BytesIO(photo))
    assert stored.width > stored.height  # stored on its side, as the phone wrote it
    extracted = extract_file(photo, "anh-chup.jpg")
    assert extracted.kind == "jpeg" and extracted.ocr and extracted.ocr_pages == [1]
    assert extracted.warnings == []  # the reader's "ocr" problem says it once
    dispatch = read_file(photo, "anh-chup.jpg")
    assert (dispatch.number, dispatch.code, dispatch.date) == (855, "BCĐ-TBTTTT", "2021-08-30")
    assert dispatch.place == "Bình Thuận"


def test_pdf_with_one_scanned_page_reads_that_page_by_ocr(tesseract):
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", "", 11)
    pdf.add_page()
    pdf.cell(0, 6, "Số: 12/UBND-VX", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, "Trang có lớp chữ.")
    pdf.add_page()
    (page,) = scan_pages("Nơi nhận:\n- Như trên;\n- Lưu: VT.\n\nCHỦ TỊCH\n\nNguyễn Văn An")
    pdf.image(page, x=0, y=0, w=210, h=297)
    extracted = extract_file(bytes(pdf.output()), "hai-trang.pdf")
    assert extracted.ocr and extracted.ocr_pages == [2]
    assert extracted.pages[0].startswith("Số: 12/UBND-VX")
    assert "CHỦ TỊCH" in extracted.pages[1] and "Nguyễn Văn An" in extracted.pages[1]
    assert extracted.warnings == [
        "Trang 2 là bản scan, chữ được nhận dạng (OCR): hãy đối chiếu với bản gốc."
    ]


def test_scan_of_a_page_with_columns_side_by_side_reads_as_its_text_layer(tesseract):
    # The header's and the signature's columns come back a column gap apart, as pypdf gives
    # them from the text layer, so the reader finds the same fields in both.
    text_layer = render_columns_pdf(**COLUMNS)
    document = pypdfium2.PdfDocument(text_layer)
    page = document[0].render(scale=300 / 72, grayscale=True).to_pil()
    document.close()
    out = io.BytesIO()
    page.save(out, format="PNG", dpi=(300, 300))
    scanned = read_file(out.getvalue(), "cot.png").to_dict()
    assert scanned == read_file(text_layer, "cot.pdf").to_dict()
    assert (scanned["issuer"], scanned["signer_name"]) == (
        "TRUNG TÂM VĂN HÓA - THÔNG TIN",
        "Trần Minh Quang",
    )


def test_photo_without_text_is_refused(tesseract):
    paper = Image.linear_gradient("L").resize((1700, 2200)).point(lambda v: 215 + v // 10)
    out = io.BytesIO()
    paper.convert("RGB").save(out, format="JPEG", quality=85)
    with pytest.raises(NoTextError) as caught:
        extract_file(out.getvalue(), "giay-trang.jpg")
    assert caught.value.code == "no_text"
    assert caught.value.message.startswith("Không đọc được chữ nào trong ảnh: hãy chụp lại")


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height grayscale pixels over a tiny compressed body:
    what a decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    body = zlib.compress(b"\x00" * (width + 1) * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", body)
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(9000, 8000), (50000, 50000)])
def test_decompression_bomb_is_refused_before_decoding(width, height):
    with pytest.raises(ImageTooLargeError) as caught:
        extract_file(_png_header(width, height), "bom.png")
    assert caught.value.code == "image_too_large"
    megapixels = f"{width * height / 1e6:.1f}".replace(".", ",")
    assert caught.value.message.startswith(f"Ảnh quá lớn ({megapixels} triệu điểm ảnh): tối đa")
    assert "“bom giải nén”" in caught.value.message


def test_pixel_limit_is_configurable():
    with pytest.raises(ImageTooLargeError, match=r"tối đa 0,1 triệu điểm ảnh"):
        extract_file(render_png("Số: 1/UBND-VX", dpi=100), "a.png", Limits(max_pixels=100_000))


def test_broken_images_are_refused_clearly():
    photo = render_photo("Số: 1/UBND-VX", dpi=60)
    for data, name in [
        (b"\x89PNG\r\n\x1a\n" + b"\x13" * 200, "hong.png"),
        (photo[: len(photo) // 2], "cat-ngang.jpg"),
    ]:
        with pytest.raises(CorruptFileError) as caught:
            extract_file(data, name, Limits(tesseract=NO_TESSERACT))
        assert caught.value.code == "corrupt_file"
        assert caught.value.message == "Tệp ảnh bị hỏng hoặc sai định dạng, không đọc được."


def test_ocr_not_installed_is_said_with_the_packages_to_install(tmp_path, monkeypatch):
    png = render_png("Số: 1/UBND-VX", dpi=100)
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on the PATH
    for limits in (Limits(), Limits(tesseract=NO_TESSERACT)):
        with pytest.raises(OcrUnavailableError) as caught:
            read_file(png, "anh.png", limits)
        assert caught.value.code == "ocr_unavailable"
        assert caught.value.message == (
            "Tệp này là ảnh chụp hoặc bản scan: cần nhận dạng chữ (OCR) nhưng OCR chưa được cài "
            "đặt trên máy chủ (gói tesseract-ocr và tesseract-ocr-vie). Hãy nhờ quản trị cài các "
            "gói này, hoặc tải lên PDF có lớp chữ, DOCX, hoặc dán nội dung văn bản."
        )


def _fake_tesseract(folder: Path, script: str) -> str:
    """A program standing in for tesseract: `--list-langs` answers eng and vie unless the
    script says otherwise, anything else runs `script`."""
    path = folder / "tesseract"
    path.write_text(
        '#!/bin/sh\nif [ "$1" = "--list-langs" ]; then\n'
        '  echo "List of available languages in \\"/x/\\" (2):"; echo eng; echo vie; exit 0\n'
        f"fi\n{script}\n"
    )
    path.chmod(0o755)
    return str(path)


def test_tesseract_without_vietnamese_data_is_said(tmp_path):
    binary = tmp_path / "tesseract"
    binary.write_text("#!/bin/sh\necho 'List of available languages (2):'; echo eng; echo osd\n")
    binary.chmod(0o755)
    with pytest.raises(OcrUnavailableError) as caught:
        extract_file(render_png("Số: 1", dpi=100), "a.png", Limits(tesseract=str(binary)))
    assert "chưa có dữ liệu tiếng Việt cho OCR (gói tesseract-ocr-vie)" in caught.value.message


def test_tesseract_failing_or_too_slow_is_refused_clearly(tmp_path):
    png = render_png("Số: 1", dpi=100)
    failing = _fake_tesseract(tmp_path, "echo 'Error in pixReadMem: Unknown format' >&2; exit 1")
    with pytest.raises(OcrFailedError) as caught:
        extract_file(png, "a.png", Limits(tesseract=failing))
    assert caught.value.code == "ocr_failed"
    assert "bị lỗi (Error in pixReadMem: Unknown format)" in caught.value.message
    slow_folder = tmp_path / "slow"
    slow_folder.mkdir()
    slow = _fake_tesseract(slow_folder, "exec sleep 30")
    with pytest.raises(OcrFailedError, match="quá 0,3 giây nên đã dừng"):
        extract_file(png, "a.png", Limits(tesseract=slow, ocr_timeout=0.3))


def test_photo_is_prepared_upright_in_grayscale_and_upscaled_when_small():
    upright = Image.new("RGBA", (600, 800), (0, 0, 0, 0))  # a transparent screenshot
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(out, format="PNG", exif=exif)
    image, dpi = ocr.prepare_photo(Image.open(out), max_pixels=60_000_000)
    assert image.mode == "L"
    assert image.size == (1800, 2400)  # upright, then three times larger (the most it goes)
    assert dpi == 3 * round(600 / ocr.A4_WIDTH_INCHES)
    assert image.getpixel((10, 10)) == 255  # transparent became white paper
    large, large_dpi = ocr.prepare_photo(Image.new("L", (2480, 3508)), max_pixels=60_000_000)
    assert large.size == (2480, 3508) and large_dpi == 300


def _word(text, left, top, width=40, height=40):
    return ocr.Word(text, left, top, width, height, 95.0)


def test_word_boxes_are_laid_out_with_paragraph_gaps_and_column_gaps():
    lines = [
        [_word("Nơi", 100, 100), _word("nhận:", 150, 100), _word("CHỦ", 900, 100)],
        [_word("Như", 100, 170), _word("trên;", 150, 170)],
        [_word("Đoạn", 100, 330), _word("mới", 150, 330)],  # a blank line's height above it
        [_word("Cột", 900, 160), _word("phải", 950, 160)],  # the next column, higher up
    ]
    page = ocr.layout_words(lines)
    assert page.text == "Nơi nhận:   CHỦ\nNhư trên;\n\nĐoạn mới\n\nCột phải"
    assert page.words == 9 and page.confidence == 95.0


def test_ocr_text_is_nfc_with_vietnamese_letters_for_look_alikes():
    decomposed = "Tho\u0302ng ba\u0301o BCĐÐ Ðà Nẵng (qIvb)"
    assert ocr.clean_text(decomposed) == "Thông báo BCĐ Đà Nẵng (qlvb)"


def test_tsv_rows_become_lines_of_words():
    tsv = (
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf"
        "\ttext\n"
        "4\t1\t1\t1\t1\t0\t10\t10\t200\t40\t-1\t\n"
        "5\t1\t1\t1\t1\t1\t10\t10\t90\t40\t96.5\tKính\n"
        "5\t1\t1\t1\t1\t2\t110\t10\t90\t40\t91.0\tgửi:\n"
        "5\t1\t1\t1\t2\t1\t10\t60\t90\t40\t-1\t \n"
        "5\t1\t2\t1\t1\t1\t10\t90\t90\t40\t88.0\t-\n"
    )
    lines = ocr.parse_tsv(tsv)
    assert [[word.text for word in line] for line in lines] == [["Kính", "gửi:"], ["-"]]


@pytest.mark.parametrize(
    ("read", "junk", "fixed"),
    [
        ("BCĐ-TBTTTI", "", "BCĐ-TBTTTT"),  # a look-alike for the last of a run of T
        ("BCĐ-TBTTT", "]", "BCĐ-TBTTTT"),  # a bracket after the code
        ("BCĐ-TBTTTIT", "", "BCĐ-TBTTTT"),  # a look-alike slipped in
        ("BCĐ-TBTTT", "", "BCĐ-TBTTTT"),  # a letter of the run dropped
        ("BCĐ-TBTTTT", "", "BCĐ-TBTTTT"),
        ("BCĐ-TBTTXI", "", "BCĐ-TBTTXI"),  # two slips away: left for the officer
        ("UBND-VX", "|", "UBND-VX"),  # a code unlike the initials only loses the bar
    ],
)
def test_ocr_code_is_put_right_from_the_issuers_initials(read, junk, fixed):
    units = ["BCĐ PHÒNG CHỐNG DỊCH COVID-19 TỈNH BÌNH THUẬN", "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN"]
    assert repair_ocr_code(read, junk, units) == fixed
