"""Text of scans and photos by Tesseract OCR with its Vietnamese data, page by page.

Tesseract runs as a program (one process per page, one thread each, with a timeout); its word
boxes (TSV) are laid out again as lines, with a blank line where the page shows a paragraph gap
and a wide gap of spaces where two columns meet, so `layout.repair` treats OCR text as it
treats a PDF's text layer. Images are checked for their pixel count before they are decoded.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import os
import re
import shutil
import statistics
import subprocess
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.text import nfc

LANGUAGE = "vie"
PDF_DPI = 300
MIN_DPI = 100  # below this a rasterised page is too coarse to read
A4_WIDTH_INCHES = 8.27
SMALL_WIDTH = 1600  # narrower photos are upscaled: Tesseract wants letters 20+ pixels high
TARGET_WIDTH = 2480  # A4 at 300 dpi
MAX_UPSCALE = 3.0
NOISE_CONFIDENCE = 25  # real words scored 40-97 on blurred photos; desk-edge specks 0-7
# Letters Tesseract confuses with Vietnamese ones: the Icelandic eth for Đ/đ.
_CONFUSABLES = str.maketrans({"Ð": "Đ", "ð": "đ", "ƒ": "f"})


class OcrError(Exception):
    """OCR could not run or gave nothing; `extract` turns it into a `DispatchFileError`."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason  # "missing", "no_language", "failed", "timeout"
        self.detail = detail


@dataclass(frozen=True)
class Word:
    """One word Tesseract read, with its box in pixels and its confidence (0-100)."""

    text: str
    left: int
    top: int
    width: int
    height: int
    conf: float

    @property
    def right(self) -> int:
        """The word's right edge."""
        return self.left + self.width

    @property
    def bottom(self) -> int:
        """The word's bottom edge."""
        return self.top + self.height


@dataclass
class PageText:
    """What OCR read on one page: the text laid out as lines, and how sure it was."""

    text: str
    words: int
    confidence: float | None  # mean word confidence, None without words

    @property
    def readable(self) -> bool:
        """True when the page holds some real text, not specks read as stray letters."""
        return bool(self.text.strip()) and self.words >= 2


def tesseract_binary(configured: str = "") -> str | None:
    """The Tesseract program to run: the configured one (a name or a path, never replaced by
    another when it is missing), else `tesseract` on the PATH; None when there is none."""
    return shutil.which(configured.strip() or "tesseract")


@functools.lru_cache(maxsize=8)
def _languages(binary: str, tessdata: str | None) -> frozenset[str]:
    """The languages a Tesseract has data for (cached per program and data folder)."""
    try:
        done = subprocess.run(
            [binary, "--list-langs"], capture_output=True, timeout=30, check=False, env=_env()
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = (done.stdout + done.stderr).decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and " " not in line.strip())


def check_tesseract(configured: str = "") -> str:
    """The Tesseract program to run, after checking it has Vietnamese data; raises OcrError."""
    binary = tesseract_binary(configured)
    if binary is None:
        raise OcrError("missing")
    if LANGUAGE not in _languages(binary, os.environ.get("TESSDATA_PREFIX")):
        raise OcrError("no_language")
    return binary


def _env() -> dict[str, str]:
    """Tesseract's environment: one thread per process, so pages in parallel do not swamp the
    cores (OpenMP would start one thread per core for each page)."""
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


class ImageError(Exception):
    """An image that cannot be decoded ("corrupt") or has too many pixels ("too_large")."""

    def __init__(self, reason: str, pixels: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.pixels = pixels


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode a photo or scan after checking its pixel count from its header; raises
    ImageError."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns first; either way the header said too many pixels.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError("too_large", width * height)
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError("too_large", _header_pixels(data)) from exc
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("corrupt") from exc
    return image


def _header_pixels(data: bytes) -> int:
    """The pixel count an image's header claims, without decoding it (0 if unknown)."""
    previous = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        width, height = Image.open(io.BytesIO(data)).size
        return width * height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return 0
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def prepare_photo(image: Image.Image, max_pixels: int) -> tuple[Image.Image, int]:
    """A photo made ready for OCR: turned upright as the camera's EXIF says, on white if it is
    transparent, in grayscale, and upscaled when small (within `max_pixels`); with the
    resolution to tell Tesseract."""
    # A broken orientation tag: the photo is read as stored.
    with contextlib.suppress(OSError, ValueError, SyntaxError, KeyError, TypeError):
        image = ImageOps.exif_transpose(image)
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    image = image.convert("L")
    dpi = _stated_dpi(image) or max(70, round(image.width / A4_WIDTH_INCHES))
    if image.width < SMALL_WIDTH and image.width * image.height * 2 <= max_pixels:
        factor = min(MAX_UPSCALE, TARGET_WIDTH / max(image.width, 1))
        factor = min(factor, (max_pixels / max(image.width * image.height, 1)) ** 0.5)
        size = (round(image.width * factor), round(image.height * factor))
        image = image.resize(size, Image.Resampling.LANCZOS)
        dpi = round(dpi * factor)
    return image, dpi


def _stated_dpi(image: Image.Image) -> int | None:
    """The resolution an image file states, when it is a plausible one for a scan."""
    value = image.info.get("dpi")
    try:
        dpi = round(float(value[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return dpi if 100 <= dpi <= 1200 else None


def recognise(image: Image.Image, dpi: int, binary: str, timeout: float) -> PageText:
    """OCR one page image with Tesseract (Vietnamese) and lay its words out as lines."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    # Sauvola's local threshold (thresholding_method=2), not one threshold for the page: a
    # phone photo lit from one side lost the dark half of every line to the global Otsu.
    command = [binary, "-", "-", "-l", LANGUAGE, "--dpi", str(dpi), "--psm", "3"]
    command += ["-c", "thresholding_method=2", "tsv"]
    try:
        done = subprocess.run(
            command, input=buffer.getvalue(), capture_output=True, timeout=timeout, env=_env()
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrError("timeout") from exc
    except OSError as exc:
        raise OcrError("missing", str(exc)) from exc
    if done.returncode != 0:
        raise OcrError("failed", _last_line(done.stderr.decode("utf-8", "replace")))
    return layout_words(parse_tsv(done.stdout.decode("utf-8", "replace")))


def _last_line(text: str) -> str:
    """The last non-blank line of Tesseract's messages, where it says why it stopped."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def parse_tsv(tsv: str) -> list[list[Word]]:
    """Tesseract's TSV as lines of words, in its reading order."""
    lines: dict[tuple[int, int, int, int], list[Word]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t", 11)
        if len(cells) < 12 or cells[0] != "5":
            continue
        text = cells[11].strip()
        try:
            conf = float(cells[10])
            left, top, width, height = (int(value) for value in cells[6:10])
            key = tuple(int(value) for value in cells[1:5])
        except ValueError:
            continue
        # Below NOISE_CONFIDENCE a "word" is a speck, a fold or the desk at the photo's edge.
        if not text or conf < NOISE_CONFIDENCE:
            continue
        lines.setdefault(key, []).append(Word(text, left, top, width, height, conf))
    return [words for words in lines.values() if words]


def layout_words(lines: list[list[Word]]) -> PageText:
    """Words laid out as text: one line each, a blank line where the gap above a line is clearly
    wider than between the page's lines, three spaces where words stand a column apart."""
    words = [word for line in lines for word in line]
    if not words:
        return PageText("", 0, None)
    height = statistics.median(word.height for word in words)
    spaces = [
        right.left - left.right
        for line in lines
        for left, right in itertools.pairwise(line)
        if right.left > left.right
    ]
    space = statistics.median(spaces) if spaces else height / 3
    boxes = [(min(w.top for w in line), max(w.bottom for w in line)) for line in lines]
    gaps = [
        below[0] - above[1] for above, below in itertools.pairwise(boxes) if below[0] > above[1]
    ]
    # The gap between lines of one paragraph: the lower quartile, since a page of short
    # paragraphs has as many blank-line gaps as line gaps; never more than a line's height.
    usual_gap = min(sorted(gaps)[len(gaps) // 4], height) if gaps else height / 2
    out: list[str] = []
    for index, line in enumerate(lines):
        if index:
            top = boxes[index][0]
            above_bottom = boxes[index - 1][1]
            # A line that starts above the previous line's foot is the next column.
            if top < above_bottom - height / 2 or top - above_bottom > usual_gap + 0.6 * height:
                out.append("")
        text = line[0].text
        for left, right in itertools.pairwise(line):
            gap = right.left - left.right
            wide = gap > max(3 * space, 1.2 * height)
            text += ("   " if wide else " ") + right.text
        out.append(text)
    text = clean_text("\n".join(out))
    confidence = statistics.fmean(word.conf for word in words)
    readable = [word for word in words if word.conf >= 40 and re.search(r"\w", word.text)]
    return PageText(text, len(readable), round(confidence, 1))


def clean_text(text: str) -> str:
    """OCR output in NFC, with look-alike letters read as the Vietnamese ones: the eth for Đ
    (alone, or doubled onto a Đ: "BCĐÐ"), a capital I inside a lower-case word for an l."""
    text = nfc(text).replace("ĐÐ", "Đ").replace("đð", "đ").translate(_CONFUSABLES)
    return re.sub(r"(?<=[a-z])I(?=[a-z])", "l", text)


def render_pdf_page(page, max_pixels: int, dpi: int = PDF_DPI) -> tuple[Image.Image, int]:
    """A PDF page (pypdfium2) as a grayscale image at `dpi`, or coarser so it stays within
    `max_pixels`; raises ImageError when even MIN_DPI would be too many pixels."""
    width, height = page.get_size()  # points, 1/72 inch
    pixels = width * height * (dpi / 72) ** 2
    if pixels > max_pixels:
        dpi = int(dpi * (max_pixels / pixels) ** 0.5)
        if dpi < MIN_DPI:
            raise ImageError("too_large", round(pixels))
    bitmap = page.render(scale=dpi / 72, grayscale=True)
    return bitmap.to_pil().convert("L"), dpi
