"""Text out of a dispatch: a PDF (its text layer, or OCR of its scanned pages), a DOCX, a photo
or scan (JPEG/PNG, by OCR) or pasted text, checked before reading.

The real type comes from the bytes, never from the file name. Every refusal is a
`DispatchFileError` subclass with a stable `code` and a Vietnamese `message` for the officer.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from app.core.text import nfc
from app.dispatches import ocr

MB = 1024 * 1024

# pypdf logs each fault it repairs in a broken file ("EOF marker not found"); a refusal says
# what matters, so only its errors are let through to the log.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Limits:
    """What a dispatch file may be (bytes on disk, PDF pages, what a DOCX may unpack to, the
    pixels of an image) and how scans are read (pages OCR may take, its time per page, the
    Tesseract program: a name or path, "" for `tesseract` on the PATH)."""

    max_bytes: int = 20 * MB
    max_pages: int = 50
    max_unzipped_bytes: int = 100 * MB
    max_zip_ratio: int = 100
    max_zip_entries: int = 2000
    # A 48-megapixel phone photo passes; A4 at 300 dpi is 8.7 million pixels.
    max_pixels: int = 60_000_000
    # OCR takes seconds a page: a longer scan would hold an upload for minutes.
    max_ocr_pages: int = 10
    ocr_timeout: float = 120.0
    tesseract: str = ""

    @classmethod
    def from_config(cls, config) -> Limits:
        """Limits from the config (DISPATCH_MAX_BYTES, DISPATCH_MAX_PAGES, DISPATCH_MAX_PIXELS,
        DISPATCH_MAX_OCR_PAGES, DISPATCH_OCR_TIMEOUT, TESSERACT_BINARY), defaults otherwise."""
        return cls(
            max_bytes=int(config.get("DISPATCH_MAX_BYTES", cls.max_bytes)),
            max_pages=int(config.get("DISPATCH_MAX_PAGES", cls.max_pages)),
            max_pixels=int(config.get("DISPATCH_MAX_PIXELS", cls.max_pixels)),
            max_ocr_pages=int(config.get("DISPATCH_MAX_OCR_PAGES", cls.max_ocr_pages)),
            ocr_timeout=float(config.get("DISPATCH_OCR_TIMEOUT", cls.ocr_timeout)),
            tesseract=str(config.get("TESSERACT_BINARY") or ""),
        )


class DispatchFileError(Exception):
    """A dispatch file that cannot be read; `message` is shown to the officer."""

    code = "unreadable"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FileTooLargeError(DispatchFileError):
    """The file is over the size limit."""

    code = "file_too_large"


class EmptyFileError(DispatchFileError):
    """The file or the pasted text holds nothing."""

    code = "empty"


class UnsupportedTypeError(DispatchFileError):
    """The bytes are of a kind Loa does not read (an old .doc, a spreadsheet, a binary)."""

    code = "unsupported_type"


class TypeMismatchError(DispatchFileError):
    """The file is not what its name says (a .pdf that is really a zip, …)."""

    code = "type_mismatch"


class EncryptedPdfError(DispatchFileError):
    """The PDF needs a password to open."""

    code = "pdf_encrypted"


class TooManyPagesError(DispatchFileError):
    """The PDF has more pages than a dispatch may have."""

    code = "pdf_too_many_pages"


class ZipBombError(DispatchFileError):
    """The DOCX would unpack to far more than it weighs."""

    code = "docx_zip_bomb"


class CorruptFileError(DispatchFileError):
    """The file says it is a PDF or a DOCX but cannot be parsed as one."""

    code = "corrupt_file"


class OcrUnavailableError(DispatchFileError):
    """The file is a scan or a photo and Tesseract (or its Vietnamese data) is not installed."""

    code = "ocr_unavailable"


class OcrFailedError(DispatchFileError):
    """Tesseract stopped with an error or ran past its time on a page."""

    code = "ocr_failed"


class NoTextError(DispatchFileError):
    """A photo or scan in which OCR found no text at all."""

    code = "no_text"


class ImageTooLargeError(DispatchFileError):
    """An image (or a scanned page) with more pixels than may be decoded: a decompression bomb."""

    code = "image_too_large"


@dataclass
class Extracted:
    """The text of a dispatch page by page, with what it came from; `ocr` is True when some of
    it was read from images by OCR (the officer should check it against the original)."""

    kind: str  # "pdf", "docx", "text", "png" or "jpeg"
    pages: list[str]
    sha256: str
    size: int
    warnings: list[str] = field(default_factory=list)
    ocr: bool = False
    ocr_pages: list[int] = field(default_factory=list)  # 1-based pages read by OCR
    ocr_confidence: float | None = None  # Tesseract's mean word confidence (0-100)

    @property
    def page_count(self) -> int:
        """How many pages the source had (1 for DOCX and pasted text)."""
        return len(self.pages)


# The names a file may carry for each kind Loa reads or recognises.
_EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".doc": "doc",
    ".zip": "zip",
}

_KIND_NAMES = {
    "pdf": "PDF",
    "docx": "Word (DOCX)",
    "text": "văn bản thuần (TXT)",
    "png": "ảnh PNG",
    "jpeg": "ảnh JPEG",
    "doc": "Word 97–2003 (DOC)",
    "zip": "tệp nén ZIP",
    "xlsx": "Excel (XLSX)",
    "unknown": "không xác định",
}


def _size_text(size: int) -> str:
    """A size as the officer reads it: '20 MB'."""
    return f"{size / MB:.0f} MB" if size >= MB else f"{size / 1024:.0f} KB"


def detect_type(data: bytes) -> str:
    """The real kind of a file from its first bytes: pdf, docx, xlsx, zip, doc, png, jpeg, text or
    unknown."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "zip"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "unknown"
        return "text"
    return "unknown"


def extract_path(path: str | Path, limits: Limits | None = None) -> Extracted:
    """Extract a dispatch file from disk, checking its size before reading it."""
    limits = limits or Limits()
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DispatchFileError(f"Không mở được tệp “{path.name}”.") from exc
    _check_size(size, limits)
    return extract_file(path.read_bytes(), path.name, limits)


def _check_size(size: int, limits: Limits) -> None:
    """Refuse a file over the size limit."""
    if size > limits.max_bytes:
        raise FileTooLargeError(
            f"Tệp quá lớn ({_size_text(size)}): công văn được tải lên tối đa "
            f"{_size_text(limits.max_bytes)}."
        )


def extract_file(
    data: bytes, filename: str | None = None, limits: Limits | None = None
) -> Extracted:
    """Extract the text of an uploaded dispatch; refuse what is not a readable PDF, DOCX or text."""
    limits = limits or Limits()
    _check_size(len(data), limits)
    if not data.strip():
        raise EmptyFileError("Tệp rỗng: không có nội dung để đọc.")
    real = detect_type(data)
    claimed = _EXTENSIONS.get(Path(filename).suffix.lower()) if filename else None
    if claimed and claimed != real:
        raise TypeMismatchError(
            f"Tệp “{filename}” không đúng như tên của nó: tên là tệp {_KIND_NAMES[claimed]} "
            f"nhưng nội dung là {_KIND_NAMES.get(real, real)}."
        )
    if real == "pdf":
        return extract_pdf(data, limits)
    if real == "docx":
        return extract_docx(data, limits)
    if real == "text":
        return extract_text(data.decode("utf-8-sig"), kind="text")
    if real in {"png", "jpeg"}:
        return extract_image(data, limits, kind=real)
    if real == "doc":
        raise UnsupportedTypeError(
            "Tệp Word 97–2003 (.doc) chưa đọc được: hãy lưu lại thành .docx hoặc PDF rồi tải lên."
        )
    raise UnsupportedTypeError(
        f"Không đọc được loại tệp này ({_KIND_NAMES.get(real, real)}): hãy tải lên công văn dạng "
        "PDF, DOCX, ảnh chụp (JPEG, PNG) hoặc dán nội dung văn bản."
    )


def extract_text(text: str, kind: str = "text") -> Extracted:
    """Wrap pasted text (or a text file) as one page, in NFC."""
    text = nfc(text).replace("\x00", "")
    if not text.strip():
        raise EmptyFileError("Chưa có nội dung: hãy dán văn bản của công văn.")
    raw = text.encode("utf-8")
    # Form feeds are page breaks in text taken from a PDF (pdftotext writes them).
    pages = text.split("\f")
    return Extracted(kind=kind, pages=pages, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw))


def extract_pdf(data: bytes, limits: Limits | None = None) -> Extracted:
    """The text layer of a PDF page by page, its scanned pages (no text layer, something drawn)
    read by OCR; refuse an encrypted, oversized or blank one."""
    limits = limits or Limits()
    with warnings.catch_warnings():
        # pypdf warns about the small faults it repairs; they are not the officer's concern.
        warnings.simplefilter("ignore")
        pages = _pdf_pages(data, limits)
    extracted = Extracted(
        kind="pdf", pages=pages, sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    if all(page.strip() for page in pages):
        return extracted
    _ocr_pdf(data, extracted, limits)
    if not "".join(extracted.pages).strip():
        raise NoTextError(
            "PDF không có chữ nào đọc được: các trang đều trắng hoặc bản scan quá mờ. Hãy quét "
            "lại rõ nét, hoặc tải lên bản có lớp chữ, DOCX, hoặc dán nội dung văn bản."
        )
    return extracted


_SCAN = "PDF này là bản scan (không có lớp chữ)"


def _ocr_pdf(data: bytes, extracted: Extracted, limits: Limits) -> None:
    """Read by OCR the pages that have no text layer but draw something (a scan, or letters
    drawn as shapes); blank pages stay blank."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise CorruptFileError("Tệp PDF bị hỏng hoặc sai định dạng, không đọc được.") from exc
    try:
        scanned = [
            index
            for index, text in enumerate(extracted.pages)
            if not text.strip() and _draws_something(document[index], limits)
        ]
        if not scanned:
            return
        if len(scanned) > limits.max_ocr_pages:
            raise TooManyPagesError(
                f"PDF có {len(scanned)} trang scan cần nhận dạng chữ (OCR), quá giới hạn "
                f"{limits.max_ocr_pages} trang: hãy tải lên bản có lớp chữ, hoặc tách thành "
                "các tệp ít trang hơn."
            )
        binary = _tesseract(limits, _SCAN)
        confidences = []
        for index in scanned:
            try:
                image, dpi = ocr.render_pdf_page(document[index], limits.max_pixels)
            except ocr.ImageError as exc:
                raise ImageTooLargeError(
                    f"Trang {index + 1} của PDF quá lớn để nhận dạng chữ "
                    f"({_megapixels(exc.pixels)} ở {ocr.MIN_DPI} dpi)."
                ) from exc
            except pypdfium2.PdfiumError as exc:
                raise CorruptFileError(
                    f"Tệp PDF bị hỏng, không vẽ được trang {index + 1} để nhận dạng chữ."
                ) from exc
            page = _recognise(image, dpi, binary, limits, f"trang {index + 1}")
            if page.readable:
                extracted.pages[index] = page.text
                extracted.ocr_pages.append(index + 1)
                confidences.append(page.confidence)
    finally:
        document.close()
    if extracted.ocr_pages:
        extracted.ocr = True
        extracted.ocr_confidence = round(sum(confidences) / len(confidences), 1)
        listed = ", ".join(str(number) for number in extracted.ocr_pages)
        extracted.warnings.append(
            f"Trang {listed} là bản scan, chữ được nhận dạng (OCR): hãy đối chiếu với bản gốc."
        )


def _draws_something(page, limits: Limits) -> bool:
    """True for a page that holds images or shapes; refuse an embedded image whose pixels
    would exceed the limit once decoded."""
    import pypdfium2.raw as pdfium_c

    found = False
    for item in page.get_objects(max_depth=4):
        found = True
        if item.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            width, height = item.get_px_size()
            if width * height > limits.max_pixels:
                raise ImageTooLargeError(
                    f"PDF chứa ảnh quá lớn ({_megapixels(width * height)}): tối đa "
                    f"{_megapixels(limits.max_pixels)}, có thể là “bom giải nén”: không đọc."
                )
    return found


def _seconds(value: float) -> str:
    """Seconds with a decimal comma: '120', '0,3'."""
    return f"{value:g}".replace(".", ",")


def _megapixels(pixels: int) -> str:
    """A pixel count as the officer reads it: '8,7 triệu điểm ảnh'."""
    return f"{pixels / 1e6:.1f}".replace(".", ",") + " triệu điểm ảnh"


def extract_image(data: bytes, limits: Limits | None = None, kind: str = "png") -> Extracted:
    """The text of a photo or scanned page (JPEG, PNG) by OCR, upright as its EXIF says."""
    limits = limits or Limits()
    try:
        image = ocr.open_image(data, limits.max_pixels)
    except ocr.ImageError as exc:
        if exc.reason == "too_large":
            raise ImageTooLargeError(
                f"Ảnh quá lớn ({_megapixels(exc.pixels)}): tối đa "
                f"{_megapixels(limits.max_pixels)}, có thể là “bom giải nén”: không đọc. Hãy "
                "chụp hoặc quét lại ở độ phân giải thấp hơn."
            ) from exc
        raise CorruptFileError("Tệp ảnh bị hỏng hoặc sai định dạng, không đọc được.") from exc
    binary = _tesseract(limits, "Tệp này là ảnh chụp hoặc bản scan")
    prepared, dpi = ocr.prepare_photo(image, limits.max_pixels)
    page = _recognise(prepared, dpi, binary, limits, "ảnh")
    if not page.readable:
        raise NoTextError(
            "Không đọc được chữ nào trong ảnh: hãy chụp lại rõ nét, đủ sáng, cả trang giấy "
            "và thẳng, hoặc tải lên bản PDF, DOCX."
        )
    return Extracted(
        kind=kind,
        pages=[page.text],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        # No warning of its own: the reader flags every OCR text (problem "ocr").
        ocr=True,
        ocr_pages=[1],
        ocr_confidence=page.confidence,
    )


def _tesseract(limits: Limits, what: str) -> str:
    """The Tesseract program to run, or a clear refusal saying what to install."""
    try:
        return ocr.check_tesseract(limits.tesseract)
    except ocr.OcrError as exc:
        if exc.reason == "no_language":
            raise OcrUnavailableError(
                f"{what}: cần nhận dạng chữ (OCR) nhưng máy chủ chưa có dữ liệu tiếng Việt cho "
                "OCR (gói tesseract-ocr-vie). Hãy nhờ quản trị cài gói này, hoặc tải lên PDF "
                "có lớp chữ, DOCX, hoặc dán nội dung văn bản."
            ) from exc
        raise OcrUnavailableError(
            f"{what}: cần nhận dạng chữ (OCR) nhưng OCR chưa được cài đặt trên máy chủ (gói "
            "tesseract-ocr và tesseract-ocr-vie). Hãy nhờ quản trị cài các gói này, hoặc tải "
            "lên PDF có lớp chữ, DOCX, hoặc dán nội dung văn bản."
        ) from exc


def _recognise(image, dpi: int, binary: str, limits: Limits, where: str) -> ocr.PageText:
    """OCR one page image, turning Tesseract's failures into clear refusals."""
    try:
        return ocr.recognise(image, dpi, binary, limits.ocr_timeout)
    except ocr.OcrError as exc:
        if exc.reason == "timeout":
            raise OcrFailedError(
                f"Nhận dạng chữ (OCR) {where} quá {_seconds(limits.ocr_timeout)} giây nên đã "
                "dừng: "
                "hãy tải lên ảnh rõ hơn hoặc bản có lớp chữ."
            ) from exc
        if exc.reason == "missing":
            raise OcrUnavailableError(
                "Không chạy được chương trình nhận dạng chữ (OCR) tesseract: hãy nhờ quản trị "
                "cài gói tesseract-ocr và tesseract-ocr-vie."
            ) from exc
        raise OcrFailedError(
            f"Nhận dạng chữ (OCR) {where} bị lỗi ({exc.detail or 'không rõ lý do'}): hãy tải "
            "lên ảnh khác hoặc bản có lớp chữ."
        ) from exc


def _pdf_pages(data: bytes, limits: Limits) -> list[str]:
    """The text of each page, after the checks on encryption and page count."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # A PDF locked only against editing opens with the empty password: that one is read.
            try:
                opened = reader.decrypt("")
            except (DependencyError, FileNotDecryptedError, NotImplementedError):
                opened = 0
            if not opened:
                raise EncryptedPdfError(
                    "PDF có mật khẩu nên không đọc được: hãy tải lên bản không đặt mật khẩu."
                )
        count = len(reader.pages)
    except DispatchFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise CorruptFileError("Tệp PDF bị hỏng hoặc sai định dạng, không đọc được.") from exc
    if count > limits.max_pages:
        raise TooManyPagesError(
            f"PDF có {count} trang, quá giới hạn {limits.max_pages} trang của một công văn."
        )
    try:
        return [nfc(page.extract_text() or "") for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError("Tệp PDF bị hỏng, không lấy được chữ từ các trang.") from exc


def check_zip(data: bytes, limits: Limits | None = None) -> zipfile.ZipFile:
    """Open a DOCX's zip after checking what it would unpack to, without unpacking anything."""
    limits = limits or Limits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CorruptFileError("Tệp DOCX bị hỏng hoặc không đúng định dạng.") from exc
    bomb = ZipBombError(
        "Tệp DOCX bất thường (giải nén ra quá lớn so với kích thước tệp), có thể là “bom nén”: "
        "không đọc."
    )
    if len(entries) > limits.max_zip_entries:
        raise bomb
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        # Small parts compress well (XML of repeated tags); only a big part at a huge ratio counts.
        if entry.file_size > MB and ratio > limits.max_zip_ratio:
            raise bomb
    if total > limits.max_unzipped_bytes:
        raise bomb
    return archive


def extract_docx(data: bytes, limits: Limits | None = None) -> Extracted:
    """The paragraphs and table cells of a DOCX in reading order (text boxes after their
    paragraph); section headers and footers (running heads, page numbers) are left out."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CorruptFileError("Tệp DOCX bị hỏng hoặc không đúng định dạng.") from exc
    except Exception as exc:  # lxml raises its own XMLSyntaxError on a broken part
        raise CorruptFileError("Tệp DOCX bị hỏng, không đọc được nội dung.") from exc
    lines: list[str] = []
    _docx_blocks(document.element.body, lines)
    text = nfc("\n".join(lines))
    if not text.strip():
        raise EmptyFileError("Tệp DOCX không có chữ nào để đọc.")
    return Extracted(
        kind="docx", pages=[text], sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_blocks(container, lines: list[str]) -> None:
    """Append the text of the paragraphs and tables under an XML element, in order."""
    for child in container.iterchildren():
        if child.tag == f"{_W}p":
            _docx_paragraph(child, lines)
        elif child.tag == f"{_W}tbl":
            for row in child.iterchildren(f"{_W}tr"):
                for cell in row.iterchildren(f"{_W}tc"):
                    _docx_blocks(cell, lines)
                    lines.append("")
        elif child.tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                _docx_blocks(content, lines)


def _docx_paragraph(paragraph, lines: list[str]) -> None:
    """Append one paragraph's text (breaks and tabs kept), then the text of its text boxes."""
    parts: list[str] = []
    boxes = []
    for node in paragraph.iter():
        if node.tag == f"{_W}txbxContent":
            boxes.append(node)
            continue
        if any(ancestor.tag == f"{_W}txbxContent" for ancestor in node.iterancestors()):
            continue
        if node.tag == f"{_W}t":
            parts.append(node.text or "")
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        elif node.tag in {f"{_W}br", f"{_W}cr"}:
            parts.append("\n")
    # A blank line after each paragraph: DOCX paragraphs are real ones, never joined.
    lines.append("".join(parts))
    lines.append("")
    for box in boxes:
        lines.append("")
        _docx_blocks(box, lines)
        lines.append("")
