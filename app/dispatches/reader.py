"""Read the fields of a Vietnamese administrative document (NĐ 30/2020/NĐ-CP layout).

The reader works on the paragraphs of `layout.repair`: the header (issuing body and its
parent, "Số:", the motto, place and date, "V/v" or the kind's title and its subject), "Kính gửi",
the body, and the tail ("Nơi nhận", the signer's title and name). Every element is looked for
anywhere within its paragraph, so a header whose two columns were run together still reads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from app.dispatches import extract
from app.dispatches.extract import DispatchFileError, Extracted, Limits
from app.dispatches.layout import (
    _ENDS_SENTENCE,
    _MOTTO,
    _MOTTO_2,
    _SEPARATOR,
    _SIGNED,
    Layout,
    is_upper_line,
    join_lines,
    repair,
)

# Kinds of document: name, the title as printed, and the abbreviation in the code (KH-UBND).
KINDS = (
    ("công văn", "CÔNG VĂN", None),
    ("kế hoạch", "KẾ HOẠCH", "KH"),
    ("thông báo", "THÔNG BÁO", "TB"),
    ("chỉ thị", "CHỈ THỊ", "CT"),
    ("quyết định", "QUYẾT ĐỊNH", "QĐ"),
    ("công điện", "CÔNG ĐIỆN", "CĐ"),
    ("báo cáo", "BÁO CÁO", "BC"),
    ("hướng dẫn", "HƯỚNG DẪN", "HD"),
    ("nghị quyết", "NGHỊ QUYẾT", "NQ"),
    ("chương trình", "CHƯƠNG TRÌNH", "CTr"),
    ("tờ trình", "TỜ TRÌNH", "TTr"),
    ("giấy mời", "GIẤY MỜI", "GM"),
    ("thông cáo", "THÔNG CÁO", "TC"),
    ("phương án", "PHƯƠNG ÁN", "PA"),
    ("đề án", "ĐỀ ÁN", "ĐA"),
    ("quy chế", "QUY CHẾ", "QC"),
    ("biên bản", "BIÊN BẢN", "BB"),
    ("nghị định", "NGHỊ ĐỊNH", "NĐ"),
    ("thông tư", "THÔNG TƯ", "TT"),
)
_KIND_BY_TITLE = {title: name for name, title, _ in KINDS}
_KIND_BY_CODE = {abbr: name for name, _, abbr in KINDS if abbr}

_CODE = r"[A-ZĐ0-9][A-Za-zĐđ0-9&.]*(?:-[A-Za-zĐđ0-9&.]+)*"
_NUMBER = re.compile(rf"\bSố\s*:?\s*(\d+)?\s*/\s*((?:\d{{4}}/)?{_CODE})")
_NUMBER_BARE = re.compile(r"^Số\s*:\s*\S*")
_CODE_JUNK = re.compile(r"[\]\[|!]+")
# What OCR reads in place of a capital of the code (I for T, l for I, a bracket or a bar).
_OCR_LOOKALIKES = set("Il1|][!)}J")
_DATE_TEXT = r"(\d{1,2})\s*(?:tháng\s*|/|-|\.)\s*(\d{1,2})\s*(?:năm\s*|/|-|\.)\s*(\d{4})"
_PLACE_DATE = re.compile(rf"([^,]{{0,60}}),\s*ngày\s+{_DATE_TEXT}", re.IGNORECASE)
# A date line left to be filled in by hand: "Phan Thiết, ngày    tháng 9 năm 2021".
_PLACE_BLANK_DATE = re.compile(
    r"([^,]{0,60}),\s*ngày\s*[._…]*\s*tháng\s*[._…]*\s*\d{0,2}\s*năm\s*\d{0,4}", re.IGNORECASE
)
_SUBJECT = re.compile(r"^(?:V/v|V/V|v/v|Về việc|Vv\.?)\s*:?\s*", re.IGNORECASE)
_ADDRESSEE = re.compile(r"^(?:Đồng\s+)?Kính\s+gửi\s*:?\s*", re.IGNORECASE)
_RECIPIENTS = re.compile(r"^Nơi\s+nhận\s*:?\s*", re.IGNORECASE)
_CLOSING = re.compile(r"^(?:Trân\s+trọng|Xin\s+trân\s+trọng|Rất\s+mong)", re.IGNORECASE)
_ITEM = re.compile(r"^(?:[-+•*–—▪●○])\s*")
_SIGN_PREFIX = re.compile(r"^(?:KT|TM|TL|TUQ|Q|PP|Q\.\s*TRƯỞNG)\.\s", re.IGNORECASE)
_POINT = re.compile(
    r"^(?:(?P<article>Điều\s+\d{1,3})\s*[.:]|(?P<roman>[IVXLC]{1,6})\s*[.)]"
    r"|(?P<num>\d{1,2}(?:\.\d{1,2})*)\s*[.)]"
    r"|(?P<letter>[a-zđ])\s*\)|(?P<dash>[-–—•])|(?P<plus>\+))\s+"
)
_UNIT_START = re.compile(
    r"^(?:TỈNH ỦY|HUYỆN ỦY|THÀNH ỦY|THỊ ỦY|ĐẢNG ỦY|ĐẢNG BỘ|CHI BỘ|ỦY BAN|UBND|UB MTTQ|"
    r"HỘI ĐỒNG|SỞ|PHÒNG|BAN|TIỂU BAN|BCĐ|TRUNG TÂM|ĐÀI|BỘ|CỤC|CHI CỤC|TỔNG CỤC|VĂN PHÒNG|"
    r"HỘI|ĐOÀN|LIÊN ĐOÀN|TỔ|MẶT TRẬN|CÔNG AN|BỘ CHỈ HUY|BAN CHỈ HUY|TRƯỜNG|BỆNH VIỆN|"
    r"THƯỜNG TRỰC|BAN THƯỜNG VỤ|BAN CHỈ ĐẠO|BAN QUẢN LÝ|QUỸ|NGÂN HÀNG|KHO BẠC|CHI NHÁNH|"
    r"TRẠM|HẠT|ĐỘI|BỘ ĐỘI|BAN TUYÊN GIÁO|BAN DÂN VẬN)\b"
)
_AUTHORITY = re.compile(
    r"^(?:CHỦ TỊCH|GIÁM ĐỐC|TRƯỞNG BAN|BỘ TRƯỞNG|THỦ TRƯỞNG|TỔNG GIÁM ĐỐC|CỤC TRƯỞNG|"
    r"ỦY BAN NHÂN DÂN|BAN CHỈ ĐẠO|BAN THƯỜNG VỤ|HỘI ĐỒNG NHÂN DÂN)\b"
)

_CITE_KIND = (
    r"(?P<kind>Công văn|Kế hoạch|Quyết định|Chỉ thị|Thông báo|Nghị quyết|Nghị định|"
    r"Thông tư liên tịch|Thông tư|Công điện|Hướng dẫn|Báo cáo|Văn bản|Chương trình|Luật|"
    r"Quy định|Tờ trình|Giấy mời|Điện)"
)
_CITE = re.compile(
    rf"{_CITE_KIND}\s+(?:số\s*:?\s*)?(?P<number>\d+)\s*/\s*(?P<code>(?:\d{{4}}/)?{_CODE})"
    rf"(?:[,\s]*(?:ban hành\s+)?ngày\s+(?P<date>{_DATE_TEXT}))?",
    re.IGNORECASE,
)
_DATE_ANY = re.compile(_DATE_TEXT, re.IGNORECASE)
_ISSUER_STOP = {
    "về", "v/v", "đã", "đang", "nhằm", "trong", "theo", "tại", "đến", "cho", "để", "với",
    "thì", "là", "được", "do", "gồm", "sau", "như", "khi", "nay", "và", "số",
}  # fmt: skip
# The first words of a body's name, as a second issuer after a comma is written.
_ISSUER_HEAD = re.compile(
    r"(?:Ủy ban|UBND|UB MTTQ|Ban|Sở|Bộ|Hội|Mặt trận|Tỉnh ủy|Huyện ủy|Thành ủy|Đảng ủy|"
    r"Công an|Bộ Chỉ huy|Ban Chỉ huy|Liên đoàn|Đoàn|Trung tâm|Phòng|Văn phòng|Chính phủ|"
    r"Thủ tướng|Cục|Tổng cục|Chi cục|Bảo hiểm|Ngân hàng|Kho bạc|Viện|Trường|Bệnh viện)"
    r"(?=\s|$)"
)
# Verbs that show the words after a comma open the sentence's own clause.
_CLAUSE_VERBS = {
    "đề nghị", "yêu cầu", "hướng dẫn", "thông báo", "xây dựng", "ban hành", "triển khai",
    "kính", "chỉ đạo", "đã", "đang", "sẽ", "giao", "tổ chức", "phối hợp", "báo cáo",
    "tiếp tục", "quyết định", "đề xuất", "trân trọng", "thống nhất", "lập", "gửi",
}  # fmt: skip
# Two-word verbs that end an issuer's name: "ban hành", "quy định", "hướng dẫn", "triển khai".
_ISSUER_STOP_PAIRS = {"ban": "hành", "quy": "định", "hướng": "dẫn", "triển": "khai"}
_PLACE_WORDS = {"tỉnh", "thành", "phố", "huyện", "thị", "xã", "quận", "phường", "trấn"}

# A date something is to be reported, sent or done by, without a cue word: "Báo cáo kết quả
# về UBND huyện ngày 25/10/2021", "gửi về Phòng Văn hóa vào ngày 20/10".
_DEADLINE_ACT = re.compile(
    r"\b(?:báo cáo|gửi|nộp|hoàn thành|hoàn tất)\b(?P<between>[^.;:\n]{0,80}?)"
    r"(?<!từ )(?<!đến )(?:vào\s+)?"
    r"(?:(?P<hour>\d{1,2})\s*(?:giờ|h)\s*(?P<minute>\d{2})?\s*(?:phút)?\s*,?\s*)?"
    r"(?:(?:sáng|chiều|tối)\s+)?ngày\s+"
    r"(?P<day>\d{1,2})\s*(?:tháng\s*|/|-|\.)\s*(?P<month>\d{1,2})"
    r"(?:\s*(?:năm\s*|/|-|\.)\s*(?P<year>\d{4}))?(?!\d)",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\d/.,])(?:\+84[ .-]?|0)\d(?:[ .-]?\d){7,9}(?![\d/])")
_HOTLINE = re.compile(r"(?<!\d)1[89]00[ .]?\d{2}[ .]?\d{2}(?:[ .]?\d{2})?(?!\d)")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()“”\"']+", re.IGNORECASE)
_DOMAIN = re.compile(
    r"(?<![@/\w.])(?:[a-z0-9-]+\.)+(?:gov\.vn|org\.vn|com\.vn|edu\.vn|vn|com|org|net)"
    r"(?:/[^\s<>()“”\"']*)?(?![\w@])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PERSON = re.compile(r"\b(?:ông|bà|đồng chí|đ/c|anh|chị)\s+", re.IGNORECASE)
_DEADLINE = re.compile(
    r"(?P<cue>trước|chậm nhất(?:\s+là)?|muộn nhất(?:\s+là)?|hạn chót|hạn cuối"
    r"|thời hạn(?:\s+hoàn thành)?(?:\s+là)?|hạn nộp|không quá|kết thúc|trong ngày(?=\s+\d))"
    r"\s*:?\s*"
    r"(?:(?P<hour>\d{1,2})\s*(?:giờ|h|g)\s*(?P<minute>\d{2})?\s*(?:phút)?\s*,?\s*)?"
    r"(?:(?:sáng|chiều|tối)\s+)?(?:ngày\s+)?(?:thứ\s+\w+\s*,?\s*(?:ngày\s+)?)?"
    r"(?P<day>\d{1,2})\s*(?:tháng\s*|/|-|\.)\s*(?P<month>\d{1,2})"
    r"(?:\s*(?:năm\s*|/|-|\.)\s*(?P<year>\d{4}))?(?!\d)",
    re.IGNORECASE,
)


class MissingNumberError(DispatchFileError):
    """A dispatch without a number cannot be registered."""

    code = "no_number"


@dataclass
class Cite:
    """A document the dispatch cites."""

    kind: str
    number: int
    code: str
    date: str | None
    issuer: str | None


@dataclass
class Contact:
    """A phone number, link or e-mail address given in the dispatch."""

    type: str  # "phone", "url" or "email"
    value: str
    text: str
    name: str | None = None


@dataclass
class Deadline:
    """A date the dispatch sets for doing or reporting something."""

    date: str
    time: str | None
    text: str


@dataclass
class Point:
    """A numbered or dashed item of the body: a candidate message to broadcast."""

    label: str
    level: int
    text: str


@dataclass
class Problem:
    """Something the officer must know about what was read."""

    code: str
    message: str


FIELDS = (
    "kind", "number", "code", "issuer", "parent_issuer", "place", "date", "subject", "urgency",
    "addressees", "distribution", "signer_title", "signer_name", "cites", "contacts",
    "deadlines", "text",
)  # fmt: skip


@dataclass
class Dispatch:
    """What a dispatch says; `to_dict` gives exactly the fields of `flask dispatches read`."""

    kind: str | None = None
    number: int | None = None
    code: str | None = None
    issuer: str | None = None
    parent_issuer: str | None = None
    place: str | None = None
    date: str | None = None
    subject: str | None = None
    urgency: str | None = None
    secrecy: str | None = None
    addressees: list[str] = field(default_factory=list)
    distribution: list[str] = field(default_factory=list)
    signer_title: str | None = None
    signer_name: str | None = None
    cites: list[Cite] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    text: str = ""
    points: list[Point] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    full_text: str = ""
    ocr: bool = False  # read from images by OCR: the officer checks it against the original

    def to_dict(self) -> dict:
        """The printed fields, in the documented order, as plain JSON values."""
        data = asdict(self)
        return {name: data[name] for name in FIELDS}

    @property
    def reference(self) -> str | None:
        """How the dispatch is cited: "Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021"."""
        if self.number is None:
            return None
        text = f"{(self.kind or 'văn bản').capitalize()} số {self.number}/{self.code}"
        if self.date:
            day = date.fromisoformat(self.date)
            text += f" ngày {day.day}/{day.month}/{day.year}"
        return text


def _iso(day: str | int, month: str | int, year: str | int) -> str | None:
    """An ISO date, or None for an impossible one (31/2)."""
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _clean_item(text: str) -> str:
    """A list entry without its dash and its closing ';' or '.'."""
    text = _ITEM.sub("", text.strip())
    return re.sub(r"\s*[;.,]+$", "", text).strip()


def _place(before: str) -> str | None:
    """The place before ", ngày": its last capitalised words ("Bình Thuận", "TP. Phan Thiết")."""
    words = before.split()
    kept: list[str] = []
    for word in reversed(words):
        bare = word.strip("()")
        if not bare:
            break
        capitalised = bare[0].isupper() and not (len(bare) > 1 and bare.isupper())
        if (
            bare in {"TP.", "Tp.", "TX.", "Tx."}
            or capitalised
            or (bare.lower() in _PLACE_WORDS and kept)
        ):
            kept.append(word)
        else:
            break
    return " ".join(reversed(kept)) or None


def _split_units(lines: list[str]) -> list[str]:
    """Group the header's capitalised lines into bodies: a line naming a new kind of body starts
    one, a line such as "TỈNH BÌNH THUẬN" continues the one above."""
    units: list[str] = []
    for line in lines:
        if units and not _UNIT_START.match(line):
            units[-1] = f"{units[-1]} {line}"
        else:
            units.append(line)
    return units


def _is_name(text: str) -> bool:
    """True for a person's name as signed: two to six capitalised words ("Dương Tự")."""
    words = text.split()
    if not 2 <= len(words) <= 6 or is_upper_line(text):
        return False
    return all(word[0].isupper() and word.replace("-", "").isalpha() for word in words)


@dataclass
class _Header:
    """What the header paragraphs said, and where the rest begins."""

    end: int = 0
    issuer_lines: list[str] = field(default_factory=list)
    number: int | None = None
    code: str | None = None
    has_number_line: bool = False
    place: str | None = None
    date: str | None = None
    subject: str | None = None
    title_kind: str | None = None
    vv: bool = False
    code_junk: str = ""


def _read_header(paragraphs: list[str], groups: list[list[str]]) -> _Header:
    """Walk the first paragraphs while they are header elements."""
    head = _Header()
    index = 0
    limit = min(len(paragraphs), 40)
    while index < limit:
        text = paragraphs[index]
        rest = _MOTTO_2.sub(" ", _MOTTO.sub(" ", text))
        number = _NUMBER.search(rest)
        if number and head.number is None and not head.has_number_line:
            head.has_number_line = True
            head.number = int(number.group(1)) if number.group(1) else None
            head.code = number.group(2)
            # OCR reads the last of a run of like letters as a bracket or bar ("TBTTT]").
            junk = _CODE_JUNK.match(rest, number.end())
            head.code_junk = junk.group(0) if junk else ""
            rest = rest[: number.start()] + " " + rest[number.end() + len(head.code_junk) :]
        elif _NUMBER_BARE.match(rest.strip()) and not head.has_number_line:
            head.has_number_line = True
            rest = _NUMBER_BARE.sub(" ", rest.strip())
        dated = _PLACE_DATE.search(rest)
        if dated and head.date is None:
            head.date = _iso(dated.group(2), dated.group(3), dated.group(4))
            head.place = _place(dated.group(1))
            before = dated.group(1)
            if head.place and before.rstrip().endswith(head.place):
                before = before.rstrip()[: -len(head.place)]
            rest = f"{rest[: dated.start()]} {before} {rest[dated.end() :]}"
        blank_date = _PLACE_BLANK_DATE.search(rest)
        if blank_date and head.date is None and head.place is None:
            head.place = _place(blank_date.group(1))
            rest = f"{rest[: blank_date.start()]} {rest[blank_date.end() :]}"
        rest = " ".join(rest.split()).strip(" -–—_")
        if not rest or _SEPARATOR.match(rest):
            index += 1
            continue
        if _SUBJECT.match(rest) and head.subject is None:
            head.subject = _SUBJECT.sub("", rest).strip() or None
            head.vv = True
            index += 1
            continue
        title = _KIND_BY_TITLE.get(rest.rstrip(" .:"))
        if title and head.title_kind is None:
            head.title_kind = title
            index += 1
            index = _read_title_subject(paragraphs, groups, index, head)
            continue
        if is_upper_line(rest) and head.date is None and head.title_kind is None:
            head.issuer_lines.append(rest)
            index += 1
            continue
        break
    head.end = index
    return head


def _continues_title(line: str) -> bool:
    """True for a source line that goes on with a title's subject: it starts in lower case, with
    a digit or with an acronym ("COVID-19"), not with a capitalised word that opens a sentence."""
    first = line.split(" ", 1)[0]
    return not first[:1].isupper() or is_upper_line(first)


def _read_title_subject(
    paragraphs: list[str], groups: list[list[str]], index: int, head: _Header
) -> int:
    """Read the subject under a kind's title ("KẾ HOẠCH" / "Tuyên truyền …"), and skip the
    authority line of a decision ("CHỦ TỊCH ỦY BAN NHÂN DÂN XÃ …").

    The subject has no closing mark, so a body line wrapped onto it is split off again.
    """
    if index < len(paragraphs):
        text = paragraphs[index]
        starts_body = re.match(
            r"^(?:Căn cứ|Thực hiện|Kính gửi|Theo|Xét|Nhằm|Để|Ngày\s+\d|Vừa qua|Điều\s+\d|"
            r"[IVX]+\.|\d+\.)",
            text,
        )
        if not starts_body and not (is_upper_line(text) and _AUTHORITY.match(text)):
            lines = groups[index] if index < len(groups) else [text]
            take = 1
            while take < len(lines) and _continues_title(lines[take]):
                take += 1
            # A capitalised line goes on with the subject too when what is left has no closing
            # mark: the subject has none, a body paragraph wrapped onto it ends in one.
            rest = join_lines(lines[take:]) if take < len(lines) else ""
            if rest and len(lines) - take <= 2 and not _ENDS_SENTENCE.search(rest):
                take = len(lines)
            head.subject = _SUBJECT.sub("", join_lines(lines[:take])).strip()
            if take < len(lines):
                paragraphs[index] = join_lines(lines[take:])
                groups[index] = lines[take:]
            else:
                index += 1
    while index < len(paragraphs) and is_upper_line(paragraphs[index]):
        if not _AUTHORITY.match(paragraphs[index]):
            break
        index += 1
    return index


def _read_addressees(paragraphs: list[str], index: int) -> tuple[list[str], int]:
    """The "Kính gửi" list at `index`, if any, and where the body begins."""
    if index >= len(paragraphs) or not _ADDRESSEE.match(paragraphs[index]):
        return [], index
    names: list[str] = []
    inline = _ADDRESSEE.sub("", paragraphs[index]).strip()
    if inline:
        names.extend(_clean_item(part) for part in re.split(r";\s*(?=[-–•]?\s*\S)", inline))
    index += 1
    while index < len(paragraphs) and _ITEM.match(paragraphs[index]):
        names.append(_clean_item(paragraphs[index]))
        index += 1
    return [name for name in names if name], index


def _tail_start(paragraphs: list[str], start: int) -> int:
    """Where the body ends: the closing formula, "Nơi nhận", or the signature block."""
    end = len(paragraphs)
    for index in range(start, len(paragraphs)):
        text = paragraphs[index]
        if _RECIPIENTS.match(text) or _CLOSING.match(text) or _SIGN_PREFIX.match(text):
            end = index
            break
        if text.endswith("./."):
            end = index + 1
            break
    # Without a closing mark the signature block is the run of titles and names at the end.
    index = end
    while index > start:
        text = paragraphs[index - 1]
        if (
            _is_name(text)
            or _SIGNED.match(text)
            or _URL.fullmatch(text)
            or (is_upper_line(text) and not _POINT.match(text))
        ):
            index -= 1
        else:
            break
    if any(is_upper_line(text) for text in paragraphs[index:end]):
        end = index
    return end


def _split_signer_column(text: str) -> tuple[str, str | None, str | None]:
    """Split "- Phòng BCVT&CNTT; PHÓ GIÁM ĐỐC SỞ" or "- Lưu: VT. Trần Minh Quang" into the entry
    and the signer's title or name run into it from the other column, if any."""
    for mark in re.finditer(r"[;.,]\s+", text):
        rest = text[mark.end() :].strip()
        if is_upper_line(rest) and len(rest.split()) >= 2:
            return text[: mark.start() + 1], rest, None
        if mark.group(0)[0] in ";." and _is_name(rest):
            return text[: mark.start() + 1], None, rest
    return text, None, None


def _read_tail(paragraphs: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The distribution list, the signer's title lines and names, from the tail paragraphs.

    The signature block ends at the signer's name: what follows it (an annex's "PHỤ LỤC" and
    its headings and lists) is neither a title nor a distribution entry, though a "Nơi nhận"
    placed after the signature still is.
    """
    distribution: list[str] = []
    titles: list[str] = []
    names: list[str] = []
    listing = False
    signed = False
    for text in paragraphs:
        if _RECIPIENTS.match(text):
            listing = True
            rest = _RECIPIENTS.sub("", text).strip()
            if not rest:
                continue
            text = rest if is_upper_line(rest) or _ITEM.match(rest) else f"- {rest}"
        if _CLOSING.match(text) or _SIGNED.match(text) or _URL.fullmatch(text):
            continue
        if listing and _ITEM.match(text):
            item, title, name = _split_signer_column(text)
            if title and not signed:
                titles.append(title)
            if name and not signed:
                names.append(name)
                signed = bool(titles)
            distribution.append(_clean_item(item))
        elif signed:
            listing = False
        elif is_upper_line(text) or _SIGN_PREFIX.match(text):
            titles.append(text)
        elif _is_name(text):
            names.append(text)
            signed = bool(titles)
            listing = listing and not signed
        elif listing and distribution and text[:1].islower():
            distribution[-1] = _clean_item(f"{distribution[-1]} {text}")
    return [item for item in distribution if item], titles, names


def _read_points(paragraphs: list[str]) -> list[Point]:
    """The numbered, lettered and dashed items of the body, with their nesting level."""
    found: list[tuple[str, int, str]] = []
    for text in paragraphs:
        match = _POINT.match(text)
        if not match:
            continue
        if match["article"]:
            label, rank = f"{match['article']}.", 0
        elif match["roman"]:
            label, rank = f"{match['roman']}.", 0
        elif match["num"]:
            label, rank = f"{match['num']}.", 1 + match["num"].count(".")
        elif match["letter"]:
            label, rank = f"{match['letter']})", 5
        elif match["dash"]:
            label, rank = "-", 6
        else:
            label, rank = "+", 7
        body = text[match.end() :].strip()
        if body:
            found.append((label, rank, body))
    ranks = sorted({rank for _, rank, _ in found})
    return [Point(label, ranks.index(rank), body) for label, rank, body in found]


def _joint_issuer(following: str) -> bool:
    """True when the text after a comma in a citation's issuer names a second issuer ("Ủy ban
    MTTQVN huyện về …"), not the subject of the sentence that goes on ("Sở Y tế đề nghị …"):
    a body's name that reaches "về" or a clause mark within a few words, with no verb in it."""
    if not _ISSUER_HEAD.match(following):
        return False
    words = re.findall(r"[^\s,;:.()“”\"]+|[;:.()“”\"]", following)[:12]
    for index, word in enumerate(words):
        if word.lower() in {"về", "v/v"} or word in {";", ".", ":", "(", ")"}:
            return index > 0
        # Verbs in lower case only: a name capitalises its words ("Ban Chỉ đạo").
        if word in _CLAUSE_VERBS or " ".join(words[index : index + 2]) in _CLAUSE_VERBS:
            return False
    return len(words) < 12


def _issuer_after(text: str) -> str | None:
    """The issuing body named after "của" in a citation: up to "về", a clause break or a cap."""
    match = re.match(r"\s*,?\s*của\s+", text)
    if not match:
        return None
    words: list[str] = []
    for token in re.finditer(r"[^\s,;:.()“”\"]+|[,;:.()“”\"]", text[match.end() :]):
        word = token.group(0)
        if word in {";", ":", "(", ")", "“", "”", '"'}:
            break
        if word in {",", "."}:
            following = text[match.end() + token.end() :].lstrip()
            # A comma inside a name comes before its last part ("Sở Văn hóa, Thể thao và Du
            # lịch"), inside "phòng, chống", or between joint issuers ("UBND huyện, Ủy ban
            # MTTQVN huyện").
            inside = (
                re.match(r"[A-ZĐ]\w*(?:\s+\w+){0,2}\s+(?:và|&)\s", following)
                or (words and words[-1].lower() == "phòng" and following.startswith("chống "))
                or _joint_issuer(following)
            )
            if word == "." or not inside:
                break
            words.append(",")
            continue
        following = text[match.end() + token.end() :].lstrip()
        pair = _ISSUER_STOP_PAIRS.get(word)
        if pair and following.split(" ", 1)[0] == pair:
            break
        # "và" inside a name ("Sở Thông tin và Truyền thông"), not before a clause.
        inner_and = word == "và" and following[:1].isupper() and not re.match(_CITE_KIND, following)
        if word in _ISSUER_STOP and words and not inner_and:
            break
        words.append(word)
        if len(words) >= 24:
            break
    issuer = " ".join(words).replace(" ,", ",").strip(" ,")
    return issuer or None


def _read_cites(text: str) -> list[Cite]:
    """The documents cited: kind, number, code, date and issuer."""
    cites: list[Cite] = []
    seen: set[tuple[int, str]] = set()
    for match in _CITE.finditer(text):
        number, code = int(match["number"]), match["code"]
        if (number, code) in seen:
            continue
        seen.add((number, code))
        kind = match["kind"].lower()
        if kind in {"văn bản", "điện"}:
            abbr = code.split("/")[-1].split("-")[0]
            kind = _KIND_BY_CODE.get(abbr, "công văn" if kind == "văn bản" else "công điện")
        when = None
        if match["date"]:
            parts = _DATE_ANY.match(match["date"])
            when = _iso(parts.group(1), parts.group(2), parts.group(3))
        issuer = _issuer_after(text[match.end() :])
        cites.append(Cite(kind=kind, number=number, code=code, date=when, issuer=issuer))
    return cites


def _person_before(paragraph: str, position: int) -> str | None:
    """The person named ("ông Võ Duy Phong") closest before a phone number in its paragraph."""
    name = None
    for match in _PERSON.finditer(paragraph, 0, position):
        words = []
        for word in paragraph[match.end() : position].split():
            bare = word.rstrip(",;:–-")
            if bare and bare[0].isupper() and bare.isalpha() and len(words) < 5:
                words.append(bare)
                if bare != word:
                    break
            else:
                break
        if len(words) >= 2:
            name = " ".join(words)
    return name


def _read_contacts(paragraphs: list[str]) -> list[Contact]:
    """Phones (with the person named before them), links and e-mail addresses, each once."""
    contacts: list[Contact] = []
    seen: set[tuple[str, str]] = set()

    def add(contact: Contact) -> None:
        key = (contact.type, contact.value.lower())
        if key not in seen:
            seen.add(key)
            contacts.append(contact)

    for paragraph in paragraphs:
        emails = list(_EMAIL.finditer(paragraph))
        for match in emails:
            add(Contact("email", match.group(0).rstrip("."), match.group(0).rstrip(".")))
        spans = [match.span() for match in emails]
        for match in _URL.finditer(paragraph):
            url = match.group(0).rstrip(".,;:!?")
            spans.append(match.span())
            add(Contact("url", url, url))
        for match in _DOMAIN.finditer(paragraph):
            if any(start <= match.start() < end for start, end in spans):
                continue
            url = match.group(0).rstrip(".,;:!?")
            add(Contact("url", url, url))
        phones = [*_PHONE.finditer(paragraph), *_HOTLINE.finditer(paragraph)]
        for match in sorted(phones, key=lambda found: found.start()):
            written = match.group(0).strip()
            digits = re.sub(r"\D", "", written)
            if digits.startswith("84") and written.startswith("+"):
                digits = "0" + digits[2:]
            hotline = digits.startswith(("1800", "1900"))
            if not hotline and not (
                (len(digits) == 10 and digits[1] in "35789")
                or (len(digits) == 11 and digits.startswith("02"))
            ):
                continue
            name = _person_before(paragraph, match.start())
            add(Contact("phone", digits, written, name))
    return contacts


def _clause_around(text: str, start: int, end: int) -> str:
    """The clause holding a match: from the previous ';' or sentence end to the next."""
    left = max(text.rfind(mark, 0, start) for mark in (";", ". ", ": ", "\n"))
    right_marks = [text.find(mark, end) for mark in (";", ". ", "\n")]
    right = min([pos for pos in right_marks if pos != -1] or [len(text)])
    clause = re.sub(r"\s*\./\.$", "", text[left + 1 : right]).strip(" -:;.")
    return re.sub(r"^\d+\.\s*|^[-+•]\s*", "", clause).strip()


def _read_deadlines(text: str, year: int | None) -> list[Deadline]:
    """Dates the dispatch sets as limits: "trước ngày 5/9/2021", "chậm nhất 16 giờ ngày 3/9",
    "báo cáo … ngày 25/10/2021"; never a cited document's date or the start of a period."""
    cited = [match.span() for match in _CITE.finditer(text)]
    found = []
    for match in [*_DEADLINE.finditer(text), *_DEADLINE_ACT.finditer(text)]:
        if match.re is _DEADLINE_ACT and (
            re.search(r"\b(?:số|từ|đến|ngày)\b|\d", match["between"], re.IGNORECASE)
            or any(start <= match.start("day") < end for start, end in cited)
        ):
            continue
        found.append(match)
    deadlines: list[Deadline] = []
    for match in sorted(found, key=lambda m: m.start("day")):
        when = _iso(match["day"], match["month"], match["year"] or year or 0)
        if when is None:
            continue
        time = None
        if match["hour"] and int(match["hour"]) < 24:
            time = f"{int(match['hour']):02d}:{int(match['minute'] or 0):02d}"
        clause = _clause_around(text, match.start(), match.end())
        if all(d.date != when or d.text != clause for d in deadlines):
            deadlines.append(Deadline(date=when, time=time, text=clause))
    return deadlines


def _initials(unit: str) -> str:
    """The capitals a body's name gives its code: "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN" → "TBTTTT"
    (a word that is an abbreviation already, "BCĐ", "UBND", is kept whole)."""
    letters = []
    for word in unit.split():
        bare = re.sub(r"[^\wĐđ&]", "", word)
        if not bare or bare[0].isdigit():
            continue
        letters.append(bare if not _is_syllable(bare) else bare[0])
    return "".join(letters).upper()


def _is_syllable(word: str) -> bool:
    """True for a word that reads as a Vietnamese syllable ("BAN", "TỈNH"), not an acronym
    ("UBND", "BCĐ", "MTTQ"): it has a vowel."""
    return bool(re.search(r"[AĂÂEÊIOÔƠUƯY]", nfd_base(word.upper())))


def nfd_base(text: str) -> str:
    """The letters of a text without their diacritics (Đ stays Đ)."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def repair_ocr_code(code: str, junk: str, units: list[str]) -> str:
    """A code as OCR read it, with a part that is one slip away from the initials of the issuing
    body (or its parent) put right: a look-alike in place of a letter ("TBTTTI", "TBTTT]"), a
    look-alike slipped in ("TBTTTIT"), or a letter of a run dropped ("TBTTT")."""
    wanted = {_initials(unit) for unit in units if unit}
    parts = code.split("-")
    parts[-1] += junk
    fixed = [next((i for i in wanted if _one_ocr_slip(part, i)), part) for part in parts]
    return "-".join(fixed).rstrip("".join(_OCR_LOOKALIKES - set("Il1J")))


def _one_ocr_slip(read: str, initials: str) -> bool:
    """True when `read` is `initials` with one of OCR's slips (see repair_ocr_code)."""
    if read == initials or not initials:
        return False
    if len(read) == len(initials):
        wrong = [(a, b) for a, b in zip(read, initials, strict=True) if a != b]
        return len(wrong) == 1 and wrong[0][0] in _OCR_LOOKALIKES
    if len(read) == len(initials) + 1:
        return any(
            read[i] in _OCR_LOOKALIKES and read[:i] + read[i + 1 :] == initials
            for i in range(len(read))
        )
    if len(read) + 1 == len(initials):
        # A letter dropped from a run of the same letter ("TTTT" read "TTT").
        return any(
            initials[:i] + initials[i + 1 :] == read and initials[i] == initials[i - 1]
            for i in range(1, len(initials))
        )
    return False


def read_layout(layout: Layout, ocr: bool = False) -> Dispatch:
    """Read the fields of a dispatch from its repaired paragraphs; `ocr` says the text was read
    from images (its code may then be put right from the issuer's name, and it is flagged)."""
    paragraphs = list(layout.paragraphs)
    groups = [list(lines) for lines in layout.lines] or [[text] for text in paragraphs]
    head = _read_header(paragraphs, groups)
    addressees, body_start = _read_addressees(paragraphs, head.end)
    tail = _tail_start(paragraphs, body_start)
    body = paragraphs[body_start:tail]
    distribution, titles, names = _read_tail(paragraphs[tail:])
    units = _split_units(head.issuer_lines)
    kind = head.title_kind
    if kind is None and head.code:
        abbr = head.code.split("/")[-1].split("-")[0]
        kind = _KIND_BY_CODE.get(abbr)
    if kind is None and (head.vv or head.code):
        kind = "công văn"
    code = head.code
    if ocr and code:
        code = repair_ocr_code(code, head.code_junk, units[-2:])
    year = int(head.date[:4]) if head.date else None
    searchable = "\n".join(([head.subject] if head.subject else []) + body)
    dispatch = Dispatch(
        kind=kind,
        number=head.number,
        code=code,
        issuer=units[-1] if units else None,
        parent_issuer=units[-2] if len(units) > 1 else None,
        place=head.place,
        date=head.date,
        subject=head.subject,
        urgency=layout.urgency,
        secrecy=layout.secrecy,
        addressees=addressees,
        distribution=distribution,
        signer_title=" / ".join(titles) or None,
        signer_name=names[-1] if names else None,
        cites=_read_cites(searchable),
        contacts=_read_contacts(paragraphs),
        deadlines=_read_deadlines(searchable, year),
        text="\n".join(body),
        points=_read_points(body),
        full_text=layout.text,
        ocr=ocr,
    )
    _check(dispatch, head)
    if ocr:
        if code != head.code:
            dispatch.problems.append(
                Problem(
                    "ocr_code",
                    f"Ký hiệu nhận dạng được là “{head.code}{head.code_junk}”, đã sửa thành "
                    f"“{code}” theo tên cơ quan ban hành: hãy kiểm tra với bản gốc.",
                )
            )
        dispatch.problems.append(
            Problem(
                "ocr",
                "Văn bản được đọc từ ảnh bằng nhận dạng chữ (OCR): hãy đối chiếu số, ngày, tên "
                "người, số điện thoại và các con số với bản gốc trước khi xác nhận.",
            )
        )
    return dispatch


def _check(dispatch: Dispatch, head: _Header) -> None:
    """Record what the officer must supply or confirm."""
    if dispatch.number is None:
        where = "dòng “Số: …” để trống số" if head.has_number_line else "không có dòng “Số: …”"
        dispatch.problems.append(
            Problem("no_number", f"Văn bản không có số ({where}): cần có số và ký hiệu.")
        )
    if dispatch.date is None:
        dispatch.problems.append(
            Problem("no_date", "Không đọc được ngày ban hành (“…, ngày … tháng … năm …”).")
        )
    if dispatch.issuer is None:
        dispatch.problems.append(Problem("no_issuer", "Không đọc được cơ quan ban hành."))


def require_number(dispatch: Dispatch) -> Dispatch:
    """Refuse a dispatch that has no number; return it otherwise."""
    if dispatch.number is None:
        problem = next(p for p in dispatch.problems if p.code == "no_number")
        raise MissingNumberError(problem.message)
    return dispatch


def read_text(text: str) -> Dispatch:
    """Read pasted text."""
    return read_extracted(extract.extract_text(text))


def read_extracted(extracted: Extracted) -> Dispatch:
    """Read extracted pages (flagged as OCR when they were read from images)."""
    return read_layout(repair(extracted.pages), ocr=extracted.ocr)


def read_file(data: bytes, filename: str | None = None, limits: Limits | None = None) -> Dispatch:
    """Read an uploaded file (PDF, DOCX, photo or text); raises `DispatchFileError` for bad
    input."""
    return read_extracted(extract.extract_file(data, filename, limits))


def read_path(path: str | Path, limits: Limits | None = None) -> Dispatch:
    """Read a file on disk; raises `DispatchFileError` for bad input."""
    return read_extracted(extract.extract_path(path, limits))
