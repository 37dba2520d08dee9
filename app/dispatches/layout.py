"""Repair the layout of text taken from a dispatch: paragraphs joined back, page furniture and
stamps taken out of the running text, spacing fixed, NFC.

Input is the text page by page. A blank line is a paragraph break, except where only page
furniture (a page number, a running head, a stamp, the page end) separated two lines: there,
as at every single line break, the lines are joined unless one of them plainly stands alone
(a heading, a list item, a "Số:" or date line, a line that ends a sentence).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from app.core.text import nfc

# Urgency marks from the most to the least urgent, then secrecy marks (NĐ 30/2020, Điều 15).
URGENCY_STAMPS = ("HỎA TỐC", "THƯỢNG KHẨN", "KHẨN")
SECRECY_STAMPS = ("TUYỆT MẬT", "TỐI MẬT", "MẬT")
STAMPS = URGENCY_STAMPS + SECRECY_STAMPS

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_SPACES = dict.fromkeys(map(ord, "\t\u00a0\u2007\u202f\u2002\u2003\u2009\u3000"), " ")

# A gap of three or more spaces between two non-blank runs: where two columns met.
_COLUMN_GAP = re.compile(r"(?<=\S) {3,}(?=\S)")
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—]\s*\d{1,3}\s*[-–—]|\d{1,3}|(?:trang|page)\s+\d{1,3}(?:\s*(?:/|trên|of)\s*\d{1,3})?"
    r"|\d{1,3}\s*/\s*\d{1,3})$",
    re.IGNORECASE,
)
_NUMBER_LINE = re.compile(r"\bSố\s*:?\s*(\d*)\s*/\s*(?=[A-ZĐ0-9])")
_DATE_WORDS = re.compile(r"\bngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})\b", re.IGNORECASE)
_LIST_ITEM = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2})*\s*[.)]|[a-zđ]\s*[).]|[IVXLC]{1,6}\s*[.)]|[-+•*–—▪●○]|Điều\s+\d)"
    r"(?:\s|$)",
)
# Words that begin a paragraph of an administrative document and never continue a sentence.
_STARTERS = re.compile(
    r"^(?:Căn cứ|Thực hiện|Theo đề nghị|Theo|Xét|Nhằm|Để|Trong|Ngày(?=\s+\d)|Vừa qua|"
    r"Hiện nay|Qua|Nay|"
    r"Tiếp theo|Sau khi|Kính gửi|Nơi nhận|Trân trọng|V/v|Về việc|Số\s*:|Chương|Mục|Phần|Điều|"
    r"QUYẾT ĐỊNH|Ghi chú|Lưu ý|Đề nghị|Yêu cầu|Giao|Chỉ đạo)\b"
)
_ENDS_SENTENCE = re.compile(r"(?:[.;:!?…]|\./\.|\.”|\.\"|!”)\s*$")
_MOTTO = re.compile(r"CỘNG\s+H(?:OÀ|ÒA)\s+XÃ\s+HỘI\s+CHỦ\s+NGHĨA\s+VIỆT\s+NAM", re.IGNORECASE)
_MOTTO_2 = re.compile(r"Độc\s+lập\s*[-–—]\s*Tự\s+do\s*[-–—]\s*Hạnh\s+phúc", re.IGNORECASE)
_SEPARATOR = re.compile(r"^[-_=*.–—~\s]{3,}$")
_DATE_LINE = re.compile(r",\s*ngày\s+\d{1,2}\s+tháng\s+\d{1,2}\s+năm\s+\d{4}")
_SIGNED = re.compile(r"^[(\[]?\s*(?:đã\s+ký|ký\s+tên|ký,?\s+ghi\s+rõ|ký,\s*đóng\s+dấu)", re.I)


@dataclass
class Layout:
    """The repaired text as paragraphs, with the stamps found and the furniture dropped."""

    paragraphs: list[str]
    stamps: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    lines: list[list[str]] = field(default_factory=list)  # each paragraph's source lines

    @property
    def text(self) -> str:
        """The paragraphs, one a line."""
        return "\n".join(self.paragraphs)

    @property
    def urgency(self) -> str | None:
        """The most urgent mark among the stamps (HỎA TỐC, THƯỢNG KHẨN, KHẨN), or None."""
        return next((mark for mark in URGENCY_STAMPS if mark in self.stamps), None)

    @property
    def secrecy(self) -> str | None:
        """The highest secrecy mark among the stamps (TUYỆT MẬT, TỐI MẬT, MẬT), or None."""
        return next((mark for mark in SECRECY_STAMPS if mark in self.stamps), None)


def is_upper_line(text: str) -> bool:
    """True for a line in capitals ("TIỂU BAN THÔNG TIN TUYÊN TRUYỀN"): a heading or a title."""
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def stamp_of(text: str) -> list[str] | None:
    """The marks a line consists of ("HỎA TỐC", "KHẨN - MẬT"), or None if it says anything else."""
    core = text.strip(" \t*[](){}<>“”\"'!.:")
    if not core:
        return None
    parts = [part.strip() for part in re.split(r"\s*[-–—,/|]\s*|\s{2,}", core) if part.strip()]
    marks = []
    for part in parts:
        upper = unicodedata.normalize("NFC", " ".join(part.split())).upper()
        upper = upper.replace("HOẢ", "HỎA")
        if upper not in STAMPS:
            return None
        marks.append(upper)
    return marks


def fix_spacing(text: str) -> str:
    """One space between words and none before punctuation; "Số: 855/BCĐ" and dates tightened."""
    text = text.translate(_SPACES)
    text = _NUMBER_LINE.sub(lambda m: f"Số: {m.group(1)}/" if m.group(1) else "Số: /", text)
    text = _DATE_WORDS.sub(
        lambda m: f"ngày {int(m.group(1))} tháng {int(m.group(2))} năm {m.group(3)}", text
    )
    text = re.sub(r" {2,}", " ", text).strip()
    text = re.sub(r"\s+([,;:.!?)\]])", r"\1", text)
    text = re.sub(r"([(\[])\s+", r"\1", text)
    # A document number and its code: "855 /BCĐ-TBTTTT", "1286/ KH-UBND".
    text = re.sub(r"(?<=\d)\s*/\s+(?=[A-ZĐ])|(?<=\d)\s+/\s*(?=[A-ZĐ])", "/", text)
    # "./ ." and ". /." at the end of a document.
    text = re.sub(r"\.\s*/\s*\.", "./.", text)
    return text


def _clean_line(line: str) -> str:
    """A raw line without invisible characters, with tabs and odd spaces as spaces."""
    return line.translate(_INVISIBLE).translate(_SPACES).rstrip()


def _fragments(line: str) -> list[str]:
    """Split a line where two columns were run together by a wide gap of spaces.

    A line with many wide gaps is justified body text, not columns, and stays whole.
    """
    line = line.strip()
    # Tighten the gaps that belong inside a number line or a date before looking for columns.
    line = _NUMBER_LINE.sub(lambda m: f"Số: {m.group(1)}/" if m.group(1) else "Số: /", line)
    line = _DATE_WORDS.sub(
        lambda m: f"ngày {int(m.group(1))} tháng {int(m.group(2))} năm {m.group(3)}", line
    )
    gaps = _COLUMN_GAP.findall(line)
    if not gaps or len(gaps) > 2:
        return [line]
    return [part for part in _COLUMN_GAP.split(line) if part.strip()]


_STAMP_WORDS = "|".join(sorted(STAMPS, key=len, reverse=True))
_STAMP_HEAD = re.compile(rf"^({_STAMP_WORDS})\s+(?=\S)")
_STAMP_TAIL = re.compile(rf"(?<=\S)\s+({_STAMP_WORDS})$")


def _split_stamps(fragment: str) -> list[str]:
    """Split a stamp run into the start or end of a line of ordinary text by a single space
    ("V/v phát thanh lịch tiêm KHẨN"); a line in capitals is left whole ("TIẾN ĐỘ KHẨN")."""
    head = _STAMP_HEAD.match(fragment)
    if head and not is_upper_line(fragment[head.end() :]):
        return [head.group(1), *_split_stamps(fragment[head.end() :])]
    tail = _STAMP_TAIL.search(fragment)
    if tail and not is_upper_line(fragment[: tail.start()]):
        return [fragment[: tail.start()], tail.group(1)]
    return [fragment]


def _furniture_key(line: str) -> str:
    """A line as compared across pages for running heads: digits masked, case and spaces folded."""
    return re.sub(r"\d+", "#", " ".join(line.split())).casefold()


def _running_heads(pages: list[list[str]]) -> set[str]:
    """Keys of lines that open or close most pages (running heads and feet)."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        filled = [line for line in lines if line.strip()]
        edge = {_furniture_key(line) for line in filled[:2] + filled[-2:]}
        counts.update(edge)
    need = max(2, math.ceil(len(pages) / 2))
    return {key for key, count in counts.items() if count >= need and len(key) > 3}


def is_standalone(text: str) -> bool:
    """True for a line never joined to its neighbour: headings, "Số:", dates, the motto."""
    return bool(
        is_upper_line(text)
        or _MOTTO.search(text)
        or _MOTTO_2.search(text)
        or _SEPARATOR.match(text)
        or _DATE_LINE.search(text)
        or re.match(r"^Số\s*:", text)
        or _SIGNED.match(text)
    )


def _joins(previous: str, line: str) -> bool:
    """True when `line` continues the paragraph whose last line is `previous`."""
    if is_standalone(previous) or is_standalone(line):
        return False
    if _ENDS_SENTENCE.search(previous):
        return False
    if previous.startswith("(") and previous.rstrip().endswith(")"):
        return False
    return not (_LIST_ITEM.match(line) or _STARTERS.match(line))


def _join(paragraph: str, line: str) -> str:
    """Glue a wrapped line to its paragraph: no space after a hyphen that split a token."""
    if re.search(r"\S-$", paragraph) and line[:1].isalnum():
        return paragraph + line
    return f"{paragraph} {line}"


def repair(pages: list[str] | str) -> Layout:
    """Repair text extracted page by page into paragraphs; see the module docstring."""
    if isinstance(pages, str):
        pages = [pages]
    split_pages = [nfc(page).split("\n") for page in pages]
    heads = _running_heads([[_clean_line(line) for line in lines] for lines in split_pages])
    stamps: list[str] = []
    dropped: list[str] = []
    # A stream of ("text", line), ("blank", "") and ("furniture", what) tokens.
    tokens: list[tuple[str, str]] = []
    for index, lines in enumerate(split_pages):
        if index:
            tokens.append(("furniture", "\f"))
        for raw in lines:
            line = _clean_line(raw)
            if not line.strip():
                tokens.append(("blank", ""))
                continue
            if heads and _furniture_key(line) in heads:
                dropped.append(line.strip())
                tokens.append(("furniture", line))
                continue
            for fragment in (part for f in _fragments(line) for part in _split_stamps(f)):
                marks = stamp_of(fragment)
                if marks:
                    stamps.extend(mark for mark in marks if mark not in stamps)
                    tokens.append(("furniture", fragment))
                elif _PAGE_NUMBER.match(fragment.strip()):
                    dropped.append(fragment.strip())
                    tokens.append(("furniture", fragment))
                else:
                    tokens.append(("text", fragment))
    paragraphs: list[str] = []
    groups: list[list[str]] = []
    current: list[str] = []  # the raw lines of the paragraph being built
    pending_break = "hard"
    run: set[str] = set()
    for kind, value in tokens:
        if kind != "text":
            run.add(kind)
            continue
        if run:
            pending_break = "soft" if "furniture" in run else "hard"
        run = set()
        line = fix_spacing(value)
        if not line:
            continue
        if current and pending_break == "soft" and _joins(fix_spacing(current[-1]), line):
            current.append(line)
        else:
            if current:
                paragraphs.append(_paragraph(current))
                groups.append(current)
            current = [line]
        pending_break = "soft"
    if current:
        paragraphs.append(_paragraph(current))
        groups.append(current)
    return Layout(paragraphs=paragraphs, stamps=stamps, dropped=dropped, lines=groups)


def join_lines(lines: list[str]) -> str:
    """Join source lines of one paragraph as `repair` does."""
    return _paragraph(lines)


def _paragraph(lines: list[str]) -> str:
    """The lines of one paragraph joined and spaced."""
    text = lines[0]
    for line in lines[1:]:
        text = _join(text, line)
    return fix_spacing(text)
