"""Bad input is refused before anything is read, each case with its own code and message."""

from __future__ import annotations

import io
import unicodedata
import zipfile

import pytest

from app.dispatches.extract import (
    MB,
    CorruptFileError,
    EmptyFileError,
    EncryptedPdfError,
    FileTooLargeError,
    ImageTooLargeError,
    Limits,
    NoTextError,
    OcrFailedError,
    OcrUnavailableError,
    TooManyPagesError,
    TypeMismatchError,
    UnsupportedTypeError,
    ZipBombError,
    detect_type,
    extract_file,
    extract_path,
    extract_text,
)
from tests.dispatches.render import (
    render_blank_pdf,
    render_pdf,
    render_png,
    render_scanned_pdf,
    seed_docx,
    seed_text,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.fixture(scope="module")
def seed_pdf() -> bytes:
    return render_pdf(seed_text())


@pytest.fixture(scope="module")
def docx_bytes() -> bytes:
    return seed_docx()


def _with_entry(docx: bytes, name: str, content: bytes) -> bytes:
    """The DOCX with one more part added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr(name, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_real_type_comes_from_the_bytes(seed_pdf, docx_bytes):
    assert detect_type(seed_pdf) == "pdf"
    assert detect_type(docx_bytes) == "docx"
    assert detect_type(seed_text().encode()) == "text"
    assert detect_type(PNG) == "png"
    assert detect_type(DOC) == "doc"
    assert detect_type(b"\xff\xfe\x00\x01binary") == "unknown"


@pytest.mark.parametrize(
    ("which", "name", "says"),
    [
        ("docx", "cong-van.pdf", "tên là tệp PDF nhưng nội dung là Word (DOCX)"),
        ("pdf", "cong-van.docx", "tên là tệp Word (DOCX) nhưng nội dung là PDF"),
        ("text", "cong-van.pdf", "tên là tệp PDF nhưng nội dung là văn bản thuần (TXT)"),
        ("png", "cong-van.docx", "nội dung là ảnh PNG"),
    ],
)
def test_file_that_is_not_what_its_name_says_is_refused(seed_pdf, docx_bytes, which, name, says):
    data = {"pdf": seed_pdf, "docx": docx_bytes, "text": b"Kinh gui", "png": PNG}[which]
    with pytest.raises(TypeMismatchError) as caught:
        extract_file(data, name)
    assert caught.value.code == "type_mismatch"
    assert f"Tệp “{name}” không đúng như tên của nó" in caught.value.message
    assert says in caught.value.message


def test_name_without_known_extension_is_read_by_its_bytes(seed_pdf):
    assert extract_file(seed_pdf, "tai-lieu").kind == "pdf"
    assert extract_file(seed_pdf, None).kind == "pdf"


def test_encrypted_pdf_is_refused():
    locked = render_pdf("Số: 1/UBND-VX\nNội dung", password="mat-khau")
    with pytest.raises(EncryptedPdfError) as caught:
        extract_file(locked, "khoa.pdf")
    assert caught.value.code == "pdf_encrypted"
    assert caught.value.message == (
        "PDF có mật khẩu nên không đọc được: hãy tải lên bản không đặt mật khẩu."
    )


def test_pdf_locked_only_against_editing_is_read():
    locked = render_pdf("Số: 1/UBND-VX\nNội dung", owner_password="chi-chu-so-huu")
    assert "Nội dung" in extract_file(locked, "han-che.pdf").pages[0]


def test_pdf_over_the_page_limit_is_refused():
    with pytest.raises(TooManyPagesError) as caught:
        extract_file(render_blank_pdf(51), "dai.pdf")
    assert caught.value.code == "pdf_too_many_pages"
    assert caught.value.message == "PDF có 51 trang, quá giới hạn 50 trang của một công văn."


def test_page_limit_is_configurable(seed_pdf):
    with pytest.raises(TooManyPagesError, match="PDF có 3 trang, quá giới hạn 2 trang"):
        extract_file(seed_pdf, "x.pdf", Limits(max_pages=2))
    assert Limits.from_config({"DISPATCH_MAX_PAGES": 2, "DISPATCH_MAX_BYTES": 10}).max_pages == 2
    limits = Limits.from_config(
        {
            "DISPATCH_MAX_PIXELS": 1000,
            "DISPATCH_MAX_OCR_PAGES": 3,
            "DISPATCH_OCR_TIMEOUT": "7.5",
            "TESSERACT_BINARY": "/opt/tesseract",
        }
    )
    assert (limits.max_pixels, limits.max_ocr_pages, limits.ocr_timeout, limits.tesseract) == (
        1000,
        3,
        7.5,
        "/opt/tesseract",
    )
    assert Limits.from_config({}) == Limits()


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "lon.pdf"
    with big.open("wb") as handle:
        handle.truncate(50 * MB)
    monkeypatch.setattr(type(big), "read_bytes", lambda self: pytest.fail("read the file"))
    with pytest.raises(FileTooLargeError) as caught:
        extract_path(big)
    assert caught.value.code == "file_too_large"
    assert caught.value.message == ("Tệp quá lớn (50 MB): công văn được tải lên tối đa 20 MB.")


def test_bytes_over_the_size_limit_are_refused(seed_pdf):
    with pytest.raises(FileTooLargeError, match="tối đa 1 KB"):
        extract_file(seed_pdf, "x.pdf", Limits(max_bytes=1024))


def test_docx_zip_bomb_is_refused_without_unpacking(docx_bytes, monkeypatch):
    bomb = _with_entry(docx_bytes, "word/media/image1.png", b"\x00" * (8 * MB))
    assert len(bomb) < len(docx_bytes) + 64 * 1024
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a: pytest.fail("unpacked a part"))
    with pytest.raises(ZipBombError) as caught:
        extract_file(bomb, "bom.docx")
    assert caught.value.code == "docx_zip_bomb"
    assert "“bom nén”" in caught.value.message


def test_docx_unpacking_to_more_than_the_limit_is_refused(docx_bytes):
    with pytest.raises(ZipBombError):
        extract_file(docx_bytes, "x.docx", Limits(max_unzipped_bytes=10 * 1024))


def test_docx_with_too_many_parts_is_refused(docx_bytes):
    with pytest.raises(ZipBombError):
        extract_file(docx_bytes, "x.docx", Limits(max_zip_entries=3))


def test_broken_files_are_refused_clearly():
    with pytest.raises(CorruptFileError) as caught:
        extract_file(b"%PDF-1.7\n" + b"x" * 2000, "hong.pdf")
    assert caught.value.code == "corrupt_file"
    assert caught.value.message == "Tệp PDF bị hỏng hoặc sai định dạng, không đọc được."
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<not-closed")
    with pytest.raises(CorruptFileError, match="DOCX bị hỏng"):
        extract_file(zipped.getvalue(), "hong.docx")


def test_other_kinds_are_refused_with_what_to_do():
    with pytest.raises(UnsupportedTypeError, match=r"\.doc\) chưa đọc được: hãy lưu lại thành"):
        extract_file(DOC, "cu.doc")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.txt", "x")
    with pytest.raises(UnsupportedTypeError, match="tệp nén ZIP"):
        extract_file(zipped.getvalue(), "nen.zip")


def test_empty_input_is_refused():
    with pytest.raises(EmptyFileError, match="Tệp rỗng"):
        extract_file(b"  \n", "rong.txt")
    with pytest.raises(EmptyFileError, match="hãy dán văn bản"):
        extract_text(" \n\t")


def test_photo_says_ocr_is_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OcrUnavailableError) as caught:
        extract_file(render_png("Số: 1/UBND-VX"), "anh.png")
    assert caught.value.code == "ocr_unavailable"
    assert caught.value.message.startswith("Tệp này là ảnh chụp hoặc bản scan: cần nhận dạng")
    assert "OCR chưa được cài đặt" in caught.value.message
    assert "tesseract-ocr và tesseract-ocr-vie" in caught.value.message


def test_scanned_pdf_without_text_layer_says_ocr_is_not_installed():
    scan = render_scanned_pdf("Số: 1/UBND-VX\nNội dung")
    with pytest.raises(OcrUnavailableError, match=r"bản scan.*OCR chưa được cài đặt"):
        extract_file(scan, "scan.pdf", Limits(tesseract="/khong/co/tesseract"))


def test_pdf_of_blank_pages_has_no_text_to_read():
    # Nothing is drawn on the pages, so there is nothing for OCR either: said without running it.
    with pytest.raises(NoTextError) as caught:
        extract_file(render_blank_pdf(2), "trang.pdf", Limits(tesseract="/khong/co/tesseract"))
    assert caught.value.code == "no_text"
    assert caught.value.message.startswith("PDF không có chữ nào đọc được")


def test_scanned_pdf_over_the_ocr_page_limit_is_refused_before_ocr():
    scan = render_scanned_pdf("\n".join(f"Dòng {n}" for n in range(100)), dpi=100)
    with pytest.raises(TooManyPagesError) as caught:
        extract_file(scan, "scan.pdf", Limits(max_ocr_pages=2, tesseract="/khong/co/tesseract"))
    assert caught.value.message == (
        "PDF có 3 trang scan cần nhận dạng chữ (OCR), quá giới hạn 2 trang: hãy tải lên bản có "
        "lớp chữ, hoặc tách thành các tệp ít trang hơn."
    )


def test_every_refusal_has_its_own_code():
    classes = [
        FileTooLargeError,
        EmptyFileError,
        UnsupportedTypeError,
        TypeMismatchError,
        EncryptedPdfError,
        TooManyPagesError,
        ZipBombError,
        CorruptFileError,
        OcrUnavailableError,
        OcrFailedError,
        NoTextError,
        ImageTooLargeError,
    ]
    assert len({cls.code for cls in classes}) == len(classes)


def test_docx_reads_tables_and_paragraphs_in_order_without_footer(docx_bytes):
    extracted = extract_file(docx_bytes, "seed.docx")
    text = extracted.pages[0]
    assert extracted.kind == "docx" and extracted.page_count == 1
    assert text.index("TIỂU BAN THÔNG TIN") < text.index("CỘNG HOÀ") < text.index("Kính gửi")
    assert text.index("- Lưu: VT, TTBCXB, Trinh.") < text.index("TRƯỞNG TIỂU BAN")
    assert "Trang 1" not in text
    assert len(extracted.sha256) == 64


def test_text_file_with_bom_and_windows_line_ends_is_nfc():
    nfd = unicodedata.normalize("NFD", "Thông báo\r\nKính gửi").encode("utf-8")
    extracted = extract_file(b"\xef\xbb\xbf" + nfd, "tb.txt")
    assert extracted.pages == ["Thông báo\nKính gửi"]
    assert unicodedata.is_normalized("NFC", extracted.pages[0])
