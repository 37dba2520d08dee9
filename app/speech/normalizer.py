"""Vietnamese text normaliser: written administrative Vietnamese in, text to be spoken out.

Decisions a reader of the spoken text should know:

- Input is taken in Unicode NFC; every offset (spans, warnings) is an offset into that NFC text.
- Tone marks in the rhymes oa, oe, uy without a final consonant are put on the first vowel
  ("hoà" -> "hòa", "khoẻ" -> "khỏe", "thuý" -> "thúy"), the placement the founding dispatch and
  most administrative text use; "quý" keeps its mark because "qu" is the onset.
- An unknown all-caps code (TBTTTT, XYZQ) gives an "unknown_abbreviation" warning and is spoken
  letter by letter ("tê bê tê tê tê tê") so that what the listener hears is predictable and the
  writer can correct it; all-caps Vietnamese words (CỘNG HÒA, BAN CHỈ ĐẠO) are left as written.
- Document numbers: "1286/KH-UBND" always reads the number (prefixed with "số" when the text
  does not say it) and never reads the slash; the code is dropped ("skip"), spelled letter by
  letter ("read": "ca hát, u bê en đê") or expanded through the lexicon ("expand":
  "kế hoạch, Ủy ban nhân dân"; an unknown segment is spelled and warned about).
- A slash between two numbers with a four-digit year ("1/3/2021"), or after a date word
  ("ngày 1/3", "sáng 1/3", "Thứ Hai, 1/3"), is a date. A bare "1/3" is a date too, except that
  a proper fraction (first number smaller) directly followed by a noun of quantity ("1/3 dân
  số", "2/3 số hộ", "3/4 diện tích"; the list is _FRACTION_NOUN_AHEAD) is "một phần ba". A bare
  "35/8" that cannot be a date stays a fraction.
- A date or time that cannot exist ("ngày 32/13/2021", "31/4/2021", "tháng 13/2021", "25:00",
  "7h75") is read as written ("ngày ba mươi hai tháng mười ba ...", "hai mươi lăm giờ") with an
  "impossible_date" / "impossible_time" warning; never "phần" and never a raw colon. "48h"
  without minutes is a duration ("bốn mươi tám giờ") and is not warned about.
- "7g30" is "bảy giờ ba mươi phút"; a bare "7g" is a time only after lúc/từ/đến/tới/vào/
  trước/sau, before sáng/trưa/chiều/tối/đêm/ngày/hôm/hằng/hàng, or in a range with another
  "9g"; otherwise it is seven grams ("5g muối" -> "năm gam muối").
- A dot followed by one or two digits and then a unit or "%" ("10.5 km", "3.5%") is a
  decimal point ("mười phẩy năm ki lô mét"); "1.500 km" keeps its thousands dot. "1m75" is
  "một mét bảy mươi lăm".
- A numbered item at a line start ("1. Tiêm chủng", "2) ...", "II. NHIỆM VỤ" before a capitals
  heading) is read as an announcer lists points: a full stop before it, the number, a comma
  ("... Tiêm chủng. hai, Khai báo"), not "hai." run into the previous line.
- Roman numerals are read after context words (quý, khóa, đại hội ...); after "thứ" ("lần thứ
  VI", "kỳ họp thứ IV") they are ordinals ("thứ sáu", "thứ tư"). A lone "VI" is left as is.
- The look-alike Icelandic eth "Ð"/"ð" is read as "Đ"/"đ" (span rule "letter").
- Numbers joined by commas without spaces are a list when there are three or more ("khu phố
  1,2,3 và 4" -> "một, hai, ba và bốn"), or two after a noun that numbers places or items
  (khu phố, tổ, ấp, thôn, điều, khoản...; _LIST_NOUNS); after "thứ" and "tháng" the items are
  weekdays/ordinals and months ("thứ 2,4,6" -> "thứ hai, tư, sáu"). Otherwise "3,5" and
  "95,5%" are decimals. "1,234,567" (commas every three digits, the English way) is read as
  one number with an "ambiguous_number" warning.
- A number glued to a comma or full stop after a word ("Hà Nội,15/12/2021") is read like any
  other. A digit no rule can read (left over between other readings) is still never passed to
  the voice: it is read as a number and raised as an "unread_digits" warning naming it; any
  ASCII digit that still reaches the spoken text (a lexicon entry, a web address) is warned
  about the same way.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache

from app.speech.lexicon_seed import SEED_LEXICON
from app.speech.numbers import (
    read_cardinal,
    read_decimal,
    read_digits,
    read_fraction_digits,
    read_integer_text,
    read_ordinal,
    roman_to_int,
)

# --------------------------------------------------------------------------- public types

_OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "thousand": ("nghìn", "ngàn"),
    "zero_tens": ("linh", "lẻ"),
    "four_after_tens": ("tư", "bốn"),
    "code_policy": ("skip", "read", "expand"),
}


@dataclass(frozen=True)
class ReadingOptions:
    """Regional and house choices for reading numbers and document codes."""

    thousand: str = "nghìn"
    zero_tens: str = "linh"
    four_after_tens: str = "tư"
    code_policy: str = "skip"

    def __post_init__(self) -> None:
        """Refuse values the reader does not know, with a message a user can act on."""
        for name, choices in _OPTION_CHOICES.items():
            value = getattr(self, name)
            if not isinstance(value, str) or value not in choices:
                allowed = ", ".join(f'"{choice}"' for choice in choices)
                raise ValueError(
                    f'Giá trị "{value}" không hợp lệ cho "{name}": hãy chọn một trong {allowed}.'
                )

    @classmethod
    def from_dict(cls, data: Mapping) -> ReadingOptions:
        """Build options from stored settings, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        values = {}
        for key, value in data.items():
            if key in known:
                # Settings typed on a Mac or pasted from Word may arrive decomposed.
                values[key] = (
                    unicodedata.normalize("NFC", value) if isinstance(value, str) else value
                )
        return cls(**values)

    def as_dict(self) -> dict:
        """Return the options as a plain dict for storage."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def number_style(self) -> dict[str, str]:
        """Keyword arguments for the readers in app.speech.numbers."""
        return {
            "thousand": self.thousand,
            "zero_tens": self.zero_tens,
            "four_after_tens": self.four_after_tens,
        }


RULE_LABELS: dict[str, str] = {
    "date": "Ngày tháng",
    "time": "Giờ",
    "number": "Số",
    "lexicon": "Từ điển phát âm",
    "phone": "Số điện thoại",
    "url": "Địa chỉ web",
    "email": "Thư điện tử",
    "percent": "Phần trăm",
    "range": "Khoảng",
    "ordinal": "Số thứ tự",
    "roman": "Số La Mã",
    "fraction": "Phân số",
    "unit": "Đơn vị đo",
    "doc_number": "Số hiệu văn bản",
    "alnum": "Chữ và số",
    "spelled": "Đọc từng chữ cái",
    "symbol": "Ký hiệu",
    "tone_mark": "Chuẩn hóa dấu thanh",
    "letter": "Chuẩn hóa chữ cái",
    "pause": "Ngắt nghỉ",
    "removed": "Đã bỏ",
    "number_list": "Các số liệt kê",
}


@dataclass(frozen=True)
class Span:
    """One piece of the input and what is spoken for it."""

    start: int
    end: int
    spoken_start: int
    spoken_end: int
    original: str
    spoken: str
    rule: str

    @property
    def rule_label(self) -> str:
        """Vietnamese name of the rule, for hover text."""
        return RULE_LABELS.get(self.rule, self.rule)

    def as_dict(self) -> dict:
        """Return the span as a JSON-ready dict."""
        return {
            "start": self.start,
            "end": self.end,
            "spoken_start": self.spoken_start,
            "spoken_end": self.spoken_end,
            "original": self.original,
            "spoken": self.spoken,
            "rule": self.rule,
            "rule_label": self.rule_label,
        }


@dataclass(frozen=True)
class Warning:
    """Something the normaliser could not read with confidence."""

    start: int
    end: int
    token: str
    code: str
    message: str

    def as_dict(self) -> dict:
        """Return the warning as a JSON-ready dict."""
        return {
            "start": self.start,
            "end": self.end,
            "token": self.token,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class Normalized:
    """The spoken text, what changed, and what the writer should look at."""

    spoken: str
    spans: list[Span]
    warnings: list[Warning]

    def as_dict(self) -> dict:
        """Return the result as a JSON-ready dict."""
        return {
            "spoken": self.spoken,
            "spans": [span.as_dict() for span in self.spans],
            "warnings": [warning.as_dict() for warning in self.warnings],
        }


# --------------------------------------------------------------------------- tone marks

_TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


def _build_tone_table() -> dict[str, str]:
    """Map "oà"-style pairs to "òa"-style pairs for the rhymes oa, oe and uy."""
    table = {}
    for first, seconds in (("o", "ae"), ("u", "y")):
        for second in seconds:
            for tone in _TONES:
                for f, s in ((first, second), (first.upper(), second.upper())):
                    old = f + unicodedata.normalize("NFC", s + tone)
                    new = unicodedata.normalize("NFC", f + tone) + s
                    table[old] = new
                    # Mixed case as in "Hoà" at the start of a heading word.
                    table[f + unicodedata.normalize("NFC", s.swapcase() + tone)] = (
                        unicodedata.normalize("NFC", f + tone) + s.swapcase()
                    )
    return table


_TONE_TABLE = _build_tone_table()
# "qu" is an onset, so "quý" keeps its mark; a following letter means a final consonant
# (hoàn, khuyên) where both styles agree.
# A leading character class (not an alternation) lets the regex engine skip ahead quickly.
_TONE_RE = re.compile(
    r"(?<![qQ])([oOuU][" + "".join(sorted({pair[1] for pair in _TONE_TABLE})) + r"])(?![^\W\d_])"
)


def normalize_tone_marks(text: str) -> str:
    """Move tone marks in open oa/oe/uy rhymes to the first vowel; the length is unchanged."""
    return _TONE_RE.sub(lambda m: _TONE_TABLE.get(m.group(1), m.group(1)), text)


# Look-alike letters pasted from fonts and old encodings: the Icelandic eth "Ð"/"ð"
# (U+00D0/U+00F0) stands for "Đ"/"đ" (U+0110/U+0111). One character each, so offsets hold.
_LETTER_FOLD = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})


def fold_letters(text: str) -> str:
    """Replace look-alike letters by the Vietnamese ones ("Ðà" -> "Đà"); the length is unchanged."""
    return text.translate(_LETTER_FOLD)


# --------------------------------------------------------------------------- letters, syllables

_UPPER_CHARS = "".join(
    ch
    for ch in map(chr, [*range(0x41, 0x5B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00)])
    if ch.isupper()
)
_UPPER = "[" + re.escape(_UPPER_CHARS) + "]"

_LETTER_NAMES = {
    "a": "a", "ă": "á", "â": "ớ", "b": "bê", "c": "xê", "d": "dê", "đ": "đê", "e": "e",
    "ê": "ê", "f": "ép", "g": "giê", "h": "hát", "i": "i", "j": "gi", "k": "ca", "l": "e lờ",
    "m": "em", "n": "en", "o": "o", "ô": "ô", "ơ": "ơ", "p": "pê", "q": "qui", "r": "e rờ",
    "s": "ét", "t": "tê", "u": "u", "ư": "ư", "v": "vê", "w": "vê kép", "x": "ích",
    "y": "i dài", "z": "dét",
}  # fmt: skip


@lru_cache(maxsize=512)
def _base_letter(ch: str) -> str:
    """Lower-case letter without its tone mark (keeps ă â ê ô ơ ư đ)."""
    decomposed = unicodedata.normalize("NFD", ch.lower())
    kept = "".join(c for c in decomposed if c not in _TONES)
    return unicodedata.normalize("NFC", kept)


def spell(text: str) -> str:
    """Spell letters and digits the way Vietnamese read abbreviations: "PCR" -> "pê xê e rờ"."""
    words = []
    for ch in text:
        if ch.isdecimal():
            words.append(read_digits(ch))
        elif ch == "&":
            words.append("và")
        else:
            name = _LETTER_NAMES.get(_base_letter(ch))
            if name:
                words.append(name)
    return " ".join(words)


_NUCLEI = [
    "a", "e", "i", "o", "u", "y", "ai", "ao", "au", "ay", "eo", "eu", "ia", "ie", "iu", "oa",
    "oe", "oi", "oo", "ua", "ue", "ui", "uo", "uu", "uy", "ieu", "oai", "oay", "oao", "oeo",
    "uay", "uoi", "uou", "uya", "uye", "uyu", "ye", "yeu",
]  # fmt: skip
_SYLLABLE_RE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdghklmnprstvx])?"
    r"(?:" + "|".join(sorted(_NUCLEI, key=len, reverse=True)) + r")"
    r"(?:ch|ng|nh|[cmnpt])?"
)


def _fold(word: str) -> str:
    """Lower-case ASCII skeleton of a word: "ĐẠO" -> "dao"."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def is_vietnamese_syllable(word: str) -> bool:
    """Whether a letter string can be one Vietnamese syllable (BAN, TIỂU) rather than a code."""
    return _SYLLABLE_RE.fullmatch(_fold(word)) is not None


# --------------------------------------------------------------------------- addresses

_URL_WORDS = {
    "http": "hát tê tê pê",
    "https": "hát tê tê pê ét",
    "www": "vê kép vê kép vê kép",
    "gov": "gờ o vê",
    "vn": "vê en",
    "com": "com",
    "net": "nét",
    "org": "o rờ gờ",
    "edu": "e đu",
    "info": "in phô",
    "bit": "bít",
    "ly": "li",
    "covid": "cô vít",
    "gmail": "gờ meo",
    "yahoo": "da hu",
    "zalo": "da lô",
    "facebook": "phây búc",
    "fb": "ép bê",
    "youtube": "diu túp",
    "google": "gu gồ",
    "html": "hát tê em e lờ",
    "php": "pê hát pê",
    "app": "áp",
    "tiemchung": "tiêm chủng",
    "suckhoe": "sức khỏe",
    "nentang": "nền tảng",
    "binhthuan": "Bình Thuận",
    "phanthiet": "Phan Thiết",
    "chinhphu": "chính phủ",
    "baochinhphu": "báo chính phủ",
    "dichvucong": "dịch vụ công",
    "thongtin": "thông tin",
    "tuyentruyen": "tuyên truyền",
    "yte": "y tế",
    "moh": "em o hát",
    "vtv": "vê tê vê",
    "vov": "vê o vê",
}
_URL_SYMBOLS = {
    ".": "chấm",
    "/": "gạch chéo",
    "-": "gạch ngang",
    "_": "gạch dưới",
    "@": "a còng",
    ":": "hai chấm",
    "?": "dấu hỏi",
    "=": "bằng",
    "&": "và",
    "%": "phần trăm",
    "#": "thăng",
    "+": "cộng",
    "~": "dấu ngã",
}
# Segmenting is quadratic in the word length; longer runs are spelled instead.
_MAX_SEGMENTED = 40
_URL_PIECE = re.compile(r"[A-Za-z]+|\d+|.")
_SCHEME = re.compile(r"https?://", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _segment_url_word(word: str) -> tuple[str, ...] | None:
    """Split run-together letters into known words or plausible syllables, fewest pieces first."""
    if len(word) > _MAX_SEGMENTED:
        return None
    best: dict[int, tuple[str, ...] | None] = {len(word): ()}
    for start in range(len(word) - 1, -1, -1):
        choice = None
        for end in range(len(word), start, -1):
            piece = word[start:end]
            rest = best[end]
            if rest is None:
                continue
            if piece in _URL_WORDS or (end - start <= 7 and is_vietnamese_syllable(piece)):
                candidate = (piece, *rest)
                if choice is None or len(candidate) < len(choice):
                    choice = candidate
        best[start] = choice
    return best[0]


def read_address(address: str) -> str:
    """Read a URL or e-mail address aloud: "abc@binhthuan.gov.vn" -> "a bê xê a còng ..."."""
    # The scheme carries no information for a listener; the host and path do.
    rest = _SCHEME.sub("", address, count=1)
    words: list[str] = []
    for piece in _URL_PIECE.findall(rest):
        if piece.isdigit():
            short = len(piece) <= 4 and (piece == "0" or not piece.startswith("0"))
            words.append(read_cardinal(int(piece)) if short else read_digits(piece))
        elif piece.isalpha():
            lower = piece.lower()
            segments = _segment_url_word(lower)
            if segments is None:
                words.append(spell(lower))
            else:
                words.extend(_URL_WORDS.get(segment, segment) for segment in segments)
        elif piece in _URL_SYMBOLS:
            words.append(_URL_SYMBOLS[piece])
        elif not piece.isspace():
            words.append(spell(piece) or piece)
    return " ".join(word for word in words if word)


# --------------------------------------------------------------------------- the scanner

_ALLOWED = (
    r"\t\n\r\x0b\x0c\x20-\x7e\u00a0-\u024f\u0300-\u036f\u1e00-\u1eff"
    r"\u2010-\u2027\u2030-\u205e\u20ab\u20ac\u2116"
)
_UNITS = {
    "km/h": "ki lô mét mỗi giờ",
    "km²": "ki lô mét vuông",
    "km2": "ki lô mét vuông",
    "km": "ki lô mét",
    "kg": "ki lô gam",
    "mg": "mi li gam",
    "mm": "mi li mét",
    "cm": "xăng ti mét",
    "m²": "mét vuông",
    "m2": "mét vuông",
    "m³": "mét khối",
    "m3": "mét khối",
    "ml": "mi li lít",
    "ha": "héc ta",
    "kWh": "ki lô oát giờ",
    "kW": "ki lô oát",
    "°C": "độ C",
    "°F": "độ F",
    "°": "độ",
    "VNĐ": "đồng",
    "VND": "đồng",
    "vnđ": "đồng",
    "USD": "đô la Mỹ",
    "đ": "đồng",
    "m": "mét",
    "g": "gam",
}
_UNIT_RE = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_LETTERS = r"[^\W\d_]"
_NUMBER = r"\d{1,3}(?:\.\d{3})+(?!\d)(?:,\d+)?|\d+(?:,\d+)?"
# Not inside a word or after a slash, and not the digits after a decimal comma or a thousands
# dot ("3,5", "1.500"); after a word and a comma ("Hà Nội,15/12") a number starts.
_NO_NUM_BEFORE = r"(?<![\w/])(?<!\d[.,])"
_NO_NUM_AFTER = r"(?![\w/]|[.,]\d)"
_NUM = (
    rf"(?<!\d)(?<!\d[.,])(?P<num_v>{_NUMBER})"
    rf"(?:(?P<num_pct>[^\S\n]*%)|[^\S\n]?(?P<num_unit>{_UNIT_RE})(?![\w²³]))?"
)
_PER_WORDS = "người|hộ|ngày|tháng|năm|tuần|giờ|lần|suất|con|kg|km|lít|tấn|ha|m2"
_ROMAN_KEYWORDS = (
    "quý|giai đoạn|khóa|thế kỷ|thế kỉ|chương|phần|mục|đại hội|kỳ họp|kỳ|tập|phụ lục|hạng|loại"
    "|nhóm|cấp|vùng|khu vực|đợt|thứ"
)

# Alternatives are tried in order at each position, so the specific ones come first.
_PATTERNS: list[tuple[str, str]] = [
    # "1. Tiêm chủng" / "II. NHIỆM VỤ" at a line start: a numbered item, not a sentence stop.
    (
        "item",
        r"(?:\A|(?<=\n))[^\S\n]*(?:(?P<item_n>\d{1,2})[.)]|(?P<item_r>[IVX]{1,4})\.)"
        r"[^\S\n]+(?=[^\W\d_])",
    ),
    ("bullet", r"(?:\A|(?<=\n))[^\S\n]*[-•*+–—·▪●◦►][^\S\n]+"),
    ("ws", r"\s*\n|[^\S\n]{2,}|[^\S \n]"),
    ("invisible", r"[\u200b-\u200f\u2060\ufeff]+"),
    # A minus sign after a space, a bracket or at a line start ("-5°C"): a bullet "-" is
    # always followed by a space, so "-" glued to a digit is a sign.
    ("minus", r"(?<![^\s(])[-−](?=\d)"),
    ("bad", rf"[^{_ALLOWED}]+"),
    ("url", r"(?:https?://|www\.)[^\s<>\"“”()\[\]]*[^\s<>\"“”()\[\].,;:!?'’]"),
    ("email", r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    (
        "domain",
        r"(?<![\w@./-])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:vn|com|net|org|gov|edu|info|io|ly)"
        r"(?:/[^\s<>\"“”()]*[^\s<>\"“”().,;:!?'’])?(?![\w@-]|\.[a-z0-9])",
    ),
    (
        "doc",
        rf"{_NO_NUM_BEFORE}(?P<doc_n>\d+)[^\S\n]*/[^\S\n]*(?:(?P<doc_y>\d{{4}})/)?"
        r"(?P<doc_c>[A-ZĐ][\w&]*(?:-[A-ZĐ][\w&]*)*)(?![\w&-])",
    ),
    (
        "doc2",
        rf"{_NO_NUM_BEFORE}(?P<doc2_n>\d+)-(?P<doc2_c>[A-ZĐ][\w]*(?:/[A-ZĐ][\w]*)+)(?![\w&/-])",
    ),
    ("dotabbr", r"(?<![\w.])(?P<dot_w>Tp|TP|tp|Tx|TX|tx|Q|P)\.(?=[^\S\n]*[\dA-ZĐ])"),
    ("lex", ""),  # filled per lexicon
    ("covid", r"(?<!\w)(?i:covid)(?:[- ]?(?P<covid_19>19))?(?!\w)"),
    (
        "date",
        rf"{_NO_NUM_BEFORE}(?P<d_d>\d{{1,2}})(?P<d_sep>[/.-])(?P<d_m>\d{{1,2}})(?P=d_sep)"
        rf"(?P<d_y>\d{{4}}){_NO_NUM_AFTER}",
    ),
    ("monthyear", rf"{_NO_NUM_BEFORE}(?P<my_m>\d{{1,2}})/(?P<my_y>\d{{4}}){_NO_NUM_AFTER}"),
    ("daymonth", rf"{_NO_NUM_BEFORE}(?P<dm_d>\d{{1,2}})/(?P<dm_m>\d{{1,2}}){_NO_NUM_AFTER}"),
    (
        "time",
        r"(?<![\w/:])(?:(?<!\d[.,])|(?<=[hHg:]\d\d,))(?P<t_h>\d{1,2})"
        r"(?:(?P<t_u>[hHg])(?P<t_hm>\d{2})?|:(?P<t_m>\d{2})(?::(?P<t_s>\d{2}))?)"
        # "7h30,8h30" is a list of times; "7:30,5" is not a time.
        r"(?![\w:]|[.,]\d(?!\d?(?:[hHg:]\d|[hH](?!\w))))",
    ),
    (
        "hotline",
        rf"{_NO_NUM_BEFORE}(?P<hot_p>1[89]00)[ .]?(?P<hot_r>\d{{3,4}}(?:[ .]\d{{2,4}})?)"
        rf"{_NO_NUM_AFTER}",
    ),
    # A landline with its area code in brackets: "(0252) 3822 123".
    (
        "phone_paren",
        r"\((?P<pp_a>0\d{1,3})\)[^\S\n]?(?P<pp_r>\d{2,4}(?:[ .-]?\d{2,4}){0,3})"
        rf"{_NO_NUM_AFTER}",
    ),
    ("phone", rf"(?<![\w/.,+])(?:\+84[ .-]?|0)\d{{2,3}}(?:[ .-]?\d{{2,4}}){{1,4}}{_NO_NUM_AFTER}"),
    # "10.5 km", "3.5%": a dot with one or two digits after it, then a unit, is a decimal
    # point written the English way ("1.500 km" keeps its thousands dot).
    (
        "dotdec",
        r"(?<![\d.,])(?P<dd_v>\d+\.\d{1,2})"
        rf"(?:(?P<dd_pct>[^\S\n]*%)|[^\S\n]?(?P<dd_unit>{_UNIT_RE})(?![\w²³]))",
    ),
    # "1,2,3": numbers listed with commas and no spaces (_list decides it is not "1,2").
    ("numlist", rf"{_NO_NUM_BEFORE}(?P<nl>\d{{1,4}}(?:,\d{{1,4}})+)(?![\w/%]|[.,]\d)"),
    ("section", r"(?<!\d)(?<!\d[.,])\d+(?:\.\d+)+(?!\d)"),
    # A height: "1m75" is "một mét bảy mươi lăm".
    ("height", r"(?<![\w.,])(?P<ht_m>\d)m(?P<ht_c>\d{2})(?!\w)"),
    (
        "alnum",
        r"(?<!\w)(?=[A-Za-zĐđ]*\d)(?=\d*[A-Za-zĐđ])"
        rf"(?!\d+(?:,\d+)?(?:{_UNIT_RE})(?![\w²³]))[A-Za-zĐđ\d]+(?!\w)",
    ),
    ("num", _NUM),
    ("range", r"(?:(?<=\d)|(?<=\d[hHg%]))[^\S\n]*[-–][^\S\n]*\n?[^\S\n]*(?=\d)"),
    ("endmark", r"\./\."),
    # "v.v." (vân vân, etc.); "v.v..." leaves its ellipsis to the pause rule.
    ("etc", r"(?<![\w.])v\.[^\S\n]?v(?P<etc_dot>\.(?!\.))?(?!\w)"),
    ("ellipsis", r"\.{3,}|…"),
    (
        "dash",
        r"[^\S\n]*[–—][^\S\n]*|[^\S\n]+-(?:[^\S\n]+|(?=[^\W\d_]))|(?<=[^\W\d_])-[^\S\n]+",
    ),
    # Inside a code ("KH-UBND") or between a figure and letters ("2019-nCoV").
    ("hyphen", r"(?<=[A-ZĐ0-9])-(?=[A-ZĐ])|(?<=\d)-(?=[^\W\d_])"),
    ("amp", r"&"),
    ("at", r"@"),
    ("quote", r"[\"“”„«»]|(?<![^\W_])['‘’]|['‘’](?![^\W_])"),
    ("fraction", r"(?<=\d)/(?=\d)"),
    # "đồng/người/tháng" is "đồng mỗi người mỗi tháng"; "và/hoặc" is just two words.
    ("per", rf"(?<={_LETTERS})/(?=(?:{_PER_WORDS})(?!\w))"),
    ("slash", rf"(?<={_LETTERS})/(?={_LETTERS})"),
    # Words of two or more capitals (codes, headings) and lone Roman numerals; ordinary
    # capitalised words need nothing and are left in the gaps.
    ("cap", rf"(?<!\w)(?:{_UPPER}{{2}}{_LETTERS}*|[IVXLC](?!\w))"),
]
# Every alternative starts at a symbol, a line break, a space run, a digit, or a word that
# may be a lexicon term, an address, a code or Covid; testing that first lets the scanner
# skip ordinary lower-case words at C speed. LEX is replaced by the lexicon trie.
_TRIGGER = (
    rf"(?=[^\w \n,;:()!?]|[^{_ALLOWED}]|\n|\d|\(0|[ ](?=[\s\-–—])"
    r"|(?<!\w)(?:(?<!&)LEX|[A-Za-z0-9_%+-]*(?:[@:/\d]|\.[A-Za-z0-9])|[cC][oO][vV]|[tT][pPxX]\."
    rf"|{_UPPER}(?:{_UPPER}|(?!\w))))"
)
_ROMAN_CONTEXT = re.compile(rf"(?<!\w)(?i:{_ROMAN_KEYWORDS})[^\S\n]+\Z")
_ROMAN_YEAR = re.compile(r"/(\d{4})(?![\w/])")
_FALLBACK_NUMBER = re.compile(_NUM)
_WORD_RE = re.compile(rf"{_LETTERS}+")
_PREV_WORD = re.compile(rf"({_LETTERS}+)[^\S\n]*:?[^\S\n]*\Z")
_PHONE_CONTEXT = re.compile(
    r"(?i:gọi|tổng đài|đường dây nóng|hotline|điện thoại|số máy|khẩn cấp|cấp cứu|cứu hỏa)"
    r"(?:[^\S\n]+(?i:số|đến|tới|ngay|cho))*[^\S\n]*:?[^\S\n]*\Z"
)
_PHONE_CONTEXT_LAST_WORDS = {
    "gọi", "đài", "nóng", "hotline", "thoại", "máy", "cấp", "cứu", "hỏa",
    "số", "đến", "tới", "ngay", "cho",
}  # fmt: skip
_PHONE_LIST_GAP = re.compile(r"[,;]?[^\S\n]*(?:(?:và|hoặc)[^\S\n]+)?")
_THOUSANDS_ONLY = re.compile(r"\d{1,3}(?:\.\d{3})+")
_SENTENCE_AHEAD = re.compile(rf"\s*(?:\Z|\n|{_UPPER})")
_RANK_WORDS = {"hạng", "giải"}
# Nouns after which two numbers joined by a comma are two places or items ("tổ 1,2"), not
# a decimal.
_LIST_NOUNS = {
    "phố", "tổ", "ấp", "thôn", "khóm", "xóm", "bản", "buôn", "làng", "khu", "khối", "đội",
    "xã", "phường", "quận", "lô", "dãy", "điều", "khoản", "mục", "chương", "phần", "câu",
    "bước", "tầng", "lớp", "phòng", "đợt", "thứ", "tháng", "hạng", "giải", "kỳ", "khóa",
}  # fmt: skip
_ENGLISH_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")
_DIGIT_RUN = re.compile(r"\d+")
_ASCII_DIGIT = re.compile(r"[0-9]")
_EMERGENCY = {"111", "112", "113", "114", "115"}
_DIGIT_AHEAD = re.compile(r"[^\S\n]*\d")
_WORD_AHEAD = re.compile(rf"[^\S\n]+{_LETTERS}")
# A bare "1/3" is a day and month unless a noun of quantity follows it ("1/3 dân số") and
# nothing before it says date: "ngày", a part of the day, or a weekday ("thứ Hai, 1/3").
_DATE_CONTEXT_BEFORE = re.compile(
    r"(?<!\w)(?i:ngày|hôm|nay|mai|sáng|trưa|chiều|tối|đêm|lúc|vào|chủ nhật"
    r"|thứ[^\S\n]+(?:hai|ba|tư|năm|sáu|bảy|[2-7]))(?:[^\S\n]*[,(])?[^\S\n]*\Z"
)
_FRACTION_NOUN_AHEAD = re.compile(
    r"[^\S\n]+(?i:dân số|số|tổng|hộ|người|nhân khẩu|diện tích|dung tích|khối lượng|lượng"
    r"|sản lượng|lực lượng|quân số|thời gian|thời lượng|kinh phí|ngân sách|vốn|giá trị|chiều dài"
    r"|quãng đường|đoạn|chặng|phần|học sinh|sinh viên|cán bộ|công chức|đảng viên|đại biểu"
    r"|thành viên|cử tri|lao động|trường hợp|ca|bệnh nhân|doanh nghiệp|gia đình|đơn vị|địa phương"
    r"|xã|phường|thôn|ấp|trường|lớp|cơ sở|dự án|nhiệm kỳ|đất|rừng|còn lại)(?!\w)"
)
# "7g" is seven o'clock only where a time is expected; elsewhere it is seven grams.
_G_TIME_BEFORE = re.compile(
    r"(?:(?<!\w)(?i:lúc|từ|đến|tới|vào|trước|sau)|\dg(?:\d\d)?[^\S\n]*[-–])[^\S\n]*\Z"
)
_G_TIME_AFTER = re.compile(
    r"[^\S\n]*(?:[-–][^\S\n]*\d{1,2}g|(?i:sáng|trưa|chiều|tối|đêm|ngày|hôm|hằng|hàng)(?!\w))"
)
_PAUSE_END = ".,;:!?…"
_NO_SPACE_BEFORE = ".,;:!?)…"


def _trie_pattern(terms: list[str]) -> str:
    """Regex matching any of the terms, longest first, factored as a trie for speed."""
    trie: dict = {}
    for term in terms:
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alternatives = [re.escape(ch) + build(child) for ch, child in node.items() if ch]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie) if trie else "(?!)"


def _prepare_lexicon(lexicon: Mapping[str, str]) -> dict[str, str]:
    """Normalise lexicon keys like the text (NFC, tone marks) so that they match it."""
    prepared = {}
    for term, spoken in lexicon.items():
        key = normalize_tone_marks(fold_letters(unicodedata.normalize("NFC", str(term)).strip()))
        if key:
            prepared[key] = unicodedata.normalize("NFC", str(spoken)).strip()
    return prepared


@lru_cache(maxsize=32)
def _compile(lexicon_items: frozenset[tuple[str, str]]) -> tuple[re.Pattern, dict[str, str]]:
    """Compile the scanner for one lexicon; cached because lexicons change rarely."""
    lexicon = dict(lexicon_items)
    terms = sorted(lexicon, key=len, reverse=True)
    trie = _trie_pattern(terms)
    lex = r"(?<![\w&])" + trie + r"(?![\w&]|[/.,]\d)"
    parts = [f"(?P<{name}>{lex if name == 'lex' else pattern})" for name, pattern in _PATTERNS]
    trigger = _TRIGGER.replace("LEX", trie)
    return re.compile(trigger + "(?:" + "|".join(parts) + ")"), lexicon


@lru_cache(maxsize=1)
def _seed_scanner() -> tuple[re.Pattern, dict[str, str]]:
    """Scanner for the seed lexicon, built on first use."""
    return _compile(frozenset(_prepare_lexicon(SEED_LEXICON).items()))


# --------------------------------------------------------------------------- output builder


class _Output:
    """Accumulates spoken text with spans, owning spaces and pauses between pieces."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.parts: list[str] = []
        self.length = 0
        self.last = ""
        self.last_rule = False
        # 0: nothing pending, 1: a space, 2: a paragraph break (a sentence pause).
        self.pending = 0
        self.pending_range = (0, 0)
        self.spans: list[Span] = []
        # Written ranges whose spoken text still holds an ASCII digit.
        self.digit_pieces: list[tuple[int, int]] = []

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)
        self.last = text[-1]

    def space(self, start: int, end: int, paragraph: bool) -> None:
        """Remember whitespace; it is written only when something follows it."""
        if paragraph and self.pending < 2:
            self.pending = 2
            self.pending_range = (start, end)
        elif not paragraph:
            self.pending = max(self.pending, 1)

    def _flush(self, first: str) -> None:
        pending, self.pending = self.pending, 0
        if not self.length or not pending:
            return
        if pending == 2 and self.last not in _PAUSE_END and first not in _NO_SPACE_BEFORE:
            start, end = self.pending_range
            self._span(start, end, ".", "pause", self.length)
            self._append(". ")
        elif first not in _NO_SPACE_BEFORE:
            self._append(" ")

    def _span(self, start: int, end: int, spoken: str, rule: str, spoken_start: int) -> None:
        self.spans.append(
            Span(
                start,
                end,
                spoken_start,
                spoken_start + len(spoken),
                self.original[start:end],
                spoken,
                rule,
            )
        )

    def emit(self, start: int, end: int, spoken: str, rule: str | None) -> None:
        """Write the spoken form of original[start:end]; rule None means unchanged text."""
        if not spoken:
            if rule:
                self._span(start, end, "", rule, self.length)
                # A removed piece still separates its neighbours.
                self.pending = max(self.pending, 1)
            return
        if self.pending:
            self._flush(spoken[0])
        elif (
            self.length
            and (rule or self.last_rule)
            and (self.last.isalnum() or self.last in ",;")
            and spoken[0].isalnum()
        ):
            # A reading glued to a word or to a comma ("Hà Nội,15/12") is its own word.
            self._append(" ")
        if rule and spoken != self.original[start:end]:
            self._span(start, end, spoken, rule, self.length)
        if _ASCII_DIGIT.search(spoken):
            self.digit_pieces.append((start, end))
        self._append(spoken)
        self.last_rule = bool(rule)

    def pause(self, start: int, end: int, mark: str) -> None:
        """Turn a bullet, dash or ellipsis into a comma or full stop, never a spoken word."""
        if not self.length or self.last in _PAUSE_END:
            self._span(start, end, "", "pause", self.length)
        else:
            if self.pending == 2:
                mark = "."
            self.pending = 0
            self._span(start, end, mark, "pause", self.length)
            self._append(mark)
        self.pending = max(self.pending, 1)
        self.last_rule = True

    def text(self) -> str:
        """The spoken text so far."""
        return "".join(self.parts)

    def ordered_spans(self) -> list[Span]:
        """Spans in written order, each starting in the spoken text where the one before ended.

        A paragraph pause is recorded when the text after it is written, after any removed
        piece between them; a removed piece (nothing spoken) is placed after the pause.
        """
        spans = sorted(self.spans, key=lambda span: (span.start, span.end))
        ordered: list[Span] = []
        reached = 0
        for span in spans:
            if span.spoken_start < reached and span.spoken_start == span.spoken_end:
                span = replace(span, spoken_start=reached, spoken_end=reached)
            ordered.append(span)
            reached = max(reached, span.spoken_end)
        return ordered


# --------------------------------------------------------------------------- normaliser


class _Normalizer:
    """One normalisation run over one text."""

    def __init__(
        self, text: str, lexicon: dict[str, str], scanner: re.Pattern, options: ReadingOptions
    ) -> None:
        self.text = text
        self.work = normalize_tone_marks(fold_letters(text))
        self.lexicon = lexicon
        self.scanner = scanner
        self.options = options
        self.style = options.number_style()
        self.out = _Output(text)
        self.warnings: list[Warning] = []
        self.last_phone_end = -1
        self.handlers: dict[str, Callable[[re.Match], int | None]] = {
            "item": self._item,
            "bullet": self._bullet,
            "ws": self._ws,
            "invisible": self._removed,
            "bad": self._bad,
            "url": self._address,
            "email": self._address,
            "domain": self._address,
            "doc": self._doc,
            "doc2": self._doc2,
            "dotabbr": self._dotabbr,
            "lex": self._lex,
            "covid": self._covid,
            "date": self._date,
            "monthyear": self._monthyear,
            "daymonth": self._daymonth,
            "time": self._time,
            "hotline": self._hotline,
            "phone_paren": self._phone_paren,
            "phone": self._phone,
            "dotdec": self._dotdec,
            "numlist": self._list,
            "section": self._section,
            "height": self._height,
            "alnum": self._alnum,
            "num": self._num,
            "range": self._range,
            "minus": self._symbol("âm"),
            "endmark": self._endmark,
            "etc": self._etc,
            "ellipsis": self._ellipsis,
            "dash": self._dash,
            "hyphen": self._removed,
            "amp": self._symbol("và"),
            "at": self._symbol("a còng"),
            "quote": self._removed,
            "fraction": self._symbol("phần"),
            "per": self._symbol("mỗi"),
            "slash": self._removed,
            "cap": self._cap,
        }

    # ---- driver

    def run(self) -> Normalized:
        """Scan the text once, left to right, emitting unchanged gaps and rule output."""
        pos = 0
        work = self.work
        search = self.scanner.search
        while True:
            match = search(work, pos)
            if match is None:
                self._gap(pos, len(work))
                break
            start = match.start()
            if start > pos:
                self._gap(pos, start)
            end = self.handlers[match.lastgroup](match)
            if end is None:
                end = self._declined(start)
            pos = end
        spoken = self.out.text()
        for start, end in self.out.digit_pieces:
            self._warn(
                start,
                end,
                "unread_digits",
                f"Lời đọc của “{self.text[start:end]}” còn chữ số: giọng đọc có thể đọc sai, "
                "hãy viết ra bằng chữ.",
            )
        if not spoken.strip():
            self.warnings.append(
                Warning(
                    0,
                    len(self.text),
                    self.text,
                    "empty",
                    "Văn bản không có gì đọc được: hãy nhập nội dung bằng chữ.",
                )
            )
            spoken = ""
        return Normalized(
            spoken, self.out.ordered_spans(), sorted(self.warnings, key=lambda w: w.start)
        )

    def _declined(self, start: int) -> int:
        """A specific rule refused its match (e.g. 35/8): read a plain number or one character."""
        match = _FALLBACK_NUMBER.match(self.work, start)
        if match:
            return self._num(match)
        # A digit run no rule takes goes to the gap whole, never digit by digit.
        run = _DIGIT_RUN.match(self.work, start)
        end = run.end() if run else start + 1
        self._gap(start, end)
        return end

    def _gap(self, start: int, end: int) -> None:
        """Copy unchanged text, turning its edge spaces into pending spaces."""
        if start >= end:
            return
        if _DIGIT_RUN.search(self.work, start, end):
            self._gap_with_digits(start, end)
            return
        self._plain_gap(start, end)

    def _gap_with_digits(self, start: int, end: int) -> None:
        """A gap holding digits no rule read: the digits are read as a number and warned about."""
        pos = start
        for run in _DIGIT_RUN.finditer(self.work, start, end):
            self._plain_gap(pos, run.start())
            digits = run.group()
            spoken = read_integer_text(digits, **self.style)
            if self.out.length and self.out.last in _PAUSE_END:
                # "2,3" leaves "3" here: the comma before it is a breath, then the number.
                self.out.space(run.start(), run.start(), False)
            self._warn(
                run.start(),
                run.end(),
                "unread_digits",
                f"Không rõ cách đọc số “{digits}” ở đây nên đã đọc là “{spoken}”: hãy kiểm tra, "
                "thêm dấu cách sau dấu câu hoặc viết ra bằng chữ.",
            )
            self.out.emit(run.start(), run.end(), spoken, "number")
            pos = run.end()
        self._plain_gap(pos, end)

    def _plain_gap(self, start: int, end: int) -> None:
        if start >= end:
            return
        work = self.work
        if work[start] == " ":
            self.out.space(start, start + 1, False)
            start += 1
        trailing = end > start and work[end - 1] == " "
        if trailing:
            end -= 1
        if start < end:
            if self.text[start:end] == work[start:end]:
                self.out.emit(start, end, work[start:end], None)
            else:
                self._gap_with_tone_marks(start, end)
        if trailing:
            self.out.space(end, end + 1, False)

    def _gap_with_tone_marks(self, start: int, end: int) -> None:
        """Emit a gap word by word so that each re-marked word gets its own span."""
        pos = start
        for word in _WORD_RE.finditer(self.work, start, end):
            written = self.text[word.start() : word.end()]
            if written != word.group():
                if word.start() > pos:
                    self.out.emit(pos, word.start(), self.work[pos : word.start()], None)
                rule = "letter" if fold_letters(written) != written else "tone_mark"
                self.out.emit(word.start(), word.end(), word.group(), rule)
                pos = word.end()
        if pos < end:
            self.out.emit(pos, end, self.work[pos:end], None)

    def _warn(self, start: int, end: int, code: str, message: str) -> None:
        self.warnings.append(Warning(start, end, self.text[start:end], code, message))

    def _prev_word(self, start: int) -> str:
        """The word just before a match, lower-cased, ignoring a colon ("Số: 855" -> "số")."""
        match = _PREV_WORD.search(self.work, max(0, start - 24), start)
        return match.group(1).lower() if match else ""

    # ---- whitespace and punctuation

    def _ws(self, match: re.Match) -> int:
        self.out.space(match.start(), match.end(), match.group().count("\n") >= 2)
        return match.end()

    def _bullet(self, match: re.Match) -> int:
        self.out.pause(match.start(), match.end(), ".")
        return match.end()

    def _dash(self, match: re.Match) -> int:
        self.out.pause(match.start(), match.end(), ",")
        return match.end()

    def _ellipsis(self, match: re.Match) -> int:
        # At the end of a sentence the trailing dots end it; inside one they are a breath.
        ends_sentence = _SENTENCE_AHEAD.match(self.work, match.end()) is not None
        self.out.pause(match.start(), match.end(), "." if ends_sentence else ",")
        return match.end()

    def _item(self, match: re.Match) -> int | None:
        """A numbered item at a line start: a stop before it, the number and a breath after."""
        if match.group("item_n"):
            value = int(match.group("item_n"))
        else:
            value = roman_to_int(match.group("item_r"))
            # "V. Lê" may be an initial; a Roman heading number comes before a capitals heading.
            if value is None or not self.work[match.end() : match.end() + 2].isupper():
                return None
        spoken = read_cardinal(value, **self.style) + ","
        if self.out.length and self.out.last not in _PAUSE_END:
            spoken = ". " + spoken
        self.out.emit(match.start(), match.end(), spoken, "ordinal")
        self.out.space(match.end(), match.end(), False)
        return match.end()

    def _etc(self, match: re.Match) -> int:
        # A final "v.v." also ends its sentence.
        ends_sentence = match.group("etc_dot") and _SENTENCE_AHEAD.match(self.work, match.end())
        self.out.emit(
            match.start(), match.end(), "vân vân." if ends_sentence else "vân vân", "lexicon"
        )
        return match.end()

    def _endmark(self, match: re.Match) -> int:
        # "./." closes an administrative document: one full stop.
        self.out.emit(match.start(), match.end(), ".", "pause")
        return match.end()

    def _removed(self, match: re.Match) -> int:
        self.out.emit(match.start(), match.end(), "", "removed")
        return match.end()

    def _bad(self, match: re.Match) -> int:
        token = match.group()
        self._warn(
            match.start(),
            match.end(),
            "unreadable_character",
            f"Không đọc được “{token}” nên đã bỏ qua: hãy xóa hoặc viết ra bằng chữ.",
        )
        self.out.emit(match.start(), match.end(), "", "removed")
        return match.end()

    def _symbol(self, spoken: str) -> Callable[[re.Match], int]:
        def handle(match: re.Match) -> int:
            self.out.emit(match.start(), match.end(), spoken, "symbol")
            return match.end()

        return handle

    # ---- words and codes

    def _lex(self, match: re.Match) -> int:
        self.out.emit(match.start(), match.end(), self.lexicon[match.group()], "lexicon")
        return match.end()

    def _dotabbr(self, match: re.Match) -> int | None:
        word = match.group("dot_w")
        # "Q. 1" is a district; "Q. Bình" may be someone's initial, so it is left alone.
        if word in ("Q", "P") and not _DIGIT_AHEAD.match(self.work, match.end()):
            return None
        spoken = {"q": "quận", "p": "phường", "tp": "thành phố", "tx": "thị xã"}[word.lower()]
        self.out.emit(match.start(), match.end(), spoken, "lexicon")
        return match.end()

    def _unknown_code(self, start: int, end: int) -> str:
        """Warn about a code nobody taught us and spell it, so the listener hears letters."""
        token = self.text[start:end]
        self._warn(
            start,
            end,
            "unknown_abbreviation",
            f"Không biết đọc “{token}”: hãy thêm vào từ điển phát âm hoặc viết ra chữ.",
        )
        return spell(self.work[start:end])

    def _cap(self, match: re.Match) -> int:
        word = match.group()
        start, end = match.span()
        if set(word) <= set("IVXLC") and _ROMAN_CONTEXT.search(
            self.work, max(0, start - 16), start
        ):
            return self._roman(start, end)
        if (
            len(word) >= 2
            and word.isupper()
            and not is_vietnamese_syllable(word)
            # Roman numerals out of context (VI, XV) are left alone, not guessed.
            and not (set(word) <= set("IVX") and roman_to_int(word))
        ):
            self.out.emit(start, end, self._unknown_code(start, end), "spelled")
            return end
        written = self.text[start:end]
        rule = None
        if written != word:
            rule = "letter" if fold_letters(written) != written else "tone_mark"
        self.out.emit(start, end, word, rule)
        return end

    def _covid(self, match: re.Match) -> int:
        spoken = "cô vít mười chín" if match.group("covid_19") else "cô vít"
        self.out.emit(match.start(), match.end(), spoken, "alnum")
        return match.end()

    def _alnum(self, match: re.Match) -> int:
        words = []
        for piece in re.findall(r"\d+|[^\W\d_]+", match.group()):
            if piece.isdigit():
                words.append(read_integer_text(piece, **self.style))
            elif piece.isupper() or len(piece) == 1:
                words.append(spell(piece))
            else:
                words.append(piece)
        self.out.emit(match.start(), match.end(), " ".join(words), "alnum")
        return match.end()

    def _address(self, match: re.Match) -> int:
        rule = "email" if match.lastgroup == "email" else "url"
        self.out.emit(match.start(), match.end(), read_address(match.group()), rule)
        return match.end()

    # ---- numbers

    def _num(self, match: re.Match) -> int:
        start, end = match.span()
        written = match.group("num_v")
        percent, unit = match.group("num_pct"), match.group("num_unit")
        plain = written.isdigit()
        prev = self._prev_word(start)
        rule = "number"
        if plain and not unit and not percent and self._is_phone_number(written, start, end):
            spoken, rule = read_digits(written), "phone"
            self.last_phone_end = end
        elif plain and not unit and not percent and prev == "thứ":
            spoken, rule = read_ordinal(int(written), **self.style), "ordinal"
        elif plain and not unit and not percent and prev in _RANK_WORDS:
            spoken, rule = read_ordinal(int(written), rank=True, **self.style), "ordinal"
        elif plain and prev == "tháng" and 1 <= int(written) <= 12:
            spoken, rule = self._month(int(written)), "date"
        else:
            spoken = read_decimal(written, **self.style)
        if percent:
            spoken, rule = spoken + " phần trăm", "percent"
        elif unit:
            spoken, rule = f"{spoken} {_UNITS[unit]}", "unit"
        self.out.emit(start, end, spoken, rule)
        return end

    def _is_phone_number(self, written: str, start: int, end: int) -> bool:
        """Short numbers after "gọi", "đường dây nóng"..., in a list of such numbers, or 113."""
        # 111-115 are the emergency lines; followed by a word they are a count ("115 người").
        if written in _EMERGENCY and not _WORD_AHEAD.match(self.work, end):
            return True
        # The full context search is only worth it after one of the context phrases' last words.
        if self._prev_word(start) not in _PHONE_CONTEXT_LAST_WORDS:
            return self._follows_phone_number(start)
        if _PHONE_CONTEXT.search(self.work, max(0, start - 40), start):
            return True
        return self._follows_phone_number(start)

    def _follows_phone_number(self, start: int) -> bool:
        """Whether a number continues a list of phone numbers: "113, 114 hoặc 115"."""
        return (
            self.last_phone_end >= 0
            and start - self.last_phone_end <= 8
            and _PHONE_LIST_GAP.fullmatch(self.work, self.last_phone_end, start) is not None
        )

    def _month(self, month: int) -> str:
        # The fourth month is "tháng tư", never "tháng bốn".
        return "tư" if month == 4 else read_cardinal(month, **self.style)

    def _year(self, year: str) -> str:
        return read_cardinal(int(year), **self.style)

    def _dotdec(self, match: re.Match) -> int:
        spoken = read_decimal(match.group("dd_v").replace(".", ","), **self.style)
        if match.group("dd_pct"):
            spoken, rule = spoken + " phần trăm", "percent"
        else:
            spoken, rule = f"{spoken} {_UNITS[match.group('dd_unit')]}", "unit"
        self.out.emit(match.start(), match.end(), spoken, rule)
        return match.end()

    def _height(self, match: re.Match) -> int:
        metres = read_cardinal(int(match.group("ht_m")), **self.style)
        spoken = f"{metres} mét {read_fraction_digits(match.group('ht_c'), **self.style)}"
        self.out.emit(match.start(), match.end(), spoken, "unit")
        return match.end()

    def _list(self, match: re.Match) -> int | None:
        """ "1,2,3" is three numbers; "tổ 1,2" two; "3,5" is left to the decimal reading."""
        written = match.group("nl")
        start, end = match.span()
        if _ENGLISH_THOUSANDS.fullmatch(written) and written.count(",") >= 2:
            plain = written.replace(",", "")
            spoken = read_integer_text(plain, **self.style)
            dotted = written.replace(",", ".")
            self._warn(
                start,
                end,
                "ambiguous_number",
                f"“{written}” viết dấu phẩy ngăn hàng nghìn nên đã đọc là “{spoken}”: "
                f"hãy viết {dotted} (dấu chấm ngăn hàng nghìn) nếu đúng, "
                "hoặc thêm dấu cách sau dấu phẩy nếu là các số liệt kê.",
            )
            self.out.emit(start, end, spoken, "number")
            return end
        items = written.split(",")
        prev = self._prev_word(start)
        if len(items) == 2 and prev not in _LIST_NOUNS:
            return None
        if prev == "thứ":
            words = [read_ordinal(int(item), **self.style) for item in items]
        elif prev in _RANK_WORDS:
            words = [read_ordinal(int(item), rank=True, **self.style) for item in items]
        elif prev == "tháng" and all(1 <= int(item) <= 12 for item in items):
            words = [self._month(int(item)) for item in items]
        else:
            words = [read_integer_text(item, **self.style) for item in items]
        self.out.emit(start, end, ", ".join(words), "number_list")
        return end

    def _section(self, match: re.Match) -> int | None:
        if _THOUSANDS_ONLY.fullmatch(match.group()):
            return None
        spoken = " chấm ".join(
            read_integer_text(part, **self.style) for part in match.group().split(".")
        )
        self.out.emit(match.start(), match.end(), spoken, "number")
        return match.end()

    def _range(self, match: re.Match) -> int:
        self.out.emit(match.start(), match.end(), "đến", "range")
        return match.end()

    def _date(self, match: re.Match) -> int | None:
        day, month, year = int(match.group("d_d")), int(match.group("d_m")), match.group("d_y")
        if not _is_real_date(day, month, int(year)):
            # "30.15.2021" may be a section number; "32/13/2021" is a date nobody can keep.
            if match.group("d_sep") == ".":
                return None
            self._warn_impossible_date(match)
        spoken = f"{read_cardinal(day, **self.style)} tháng {self._month(month)}"
        spoken += f" năm {self._year(year)}"
        self._emit_date(match, spoken, "ngày")
        return match.end()

    def _daymonth(self, match: re.Match) -> int | None:
        day, month = int(match.group("dm_d")), int(match.group("dm_m"))
        end = match.end()
        dated = _DATE_CONTEXT_BEFORE.search(self.work, max(0, match.start() - 24), match.start())
        if not dated and day < month and _FRACTION_NOUN_AHEAD.match(self.work, end):
            # "2/3 số hộ": a proper fraction before a noun of quantity; a quarter is "phần tư".
            spoken = f"{read_cardinal(day, **self.style)} phần {self._month(month)}"
            self.out.emit(match.start(), end, spoken, "fraction")
            return end
        if not _is_real_date(day, month):
            if not dated:
                # "35/8" with nothing saying date is a fraction.
                return None
            self._warn_impossible_date(match)
        self._emit_date(
            match, f"{read_cardinal(day, **self.style)} tháng {self._month(month)}", "ngày"
        )
        return end

    def _warn_impossible_date(self, match: re.Match) -> None:
        self._warn(
            match.start(),
            match.end(),
            "impossible_date",
            f"Không có ngày “{match.group()}”: hãy kiểm tra lại ngày và tháng.",
        )

    def _monthyear(self, match: re.Match) -> int | None:
        month = int(match.group("my_m"))
        if not 1 <= month <= 12:
            if self._prev_word(match.start()) != "tháng":
                return None
            # "tháng 13/2021" is read as written and shown to the writer.
            self._warn_impossible_date(match)
        year = self._year(match.group("my_y"))
        if self._prev_word(match.start()) == "quý" and month <= 4:
            # "quý 3/2021" is a quarter, not March.
            spoken = f"{read_cardinal(month, **self.style)} năm {year}"
            self.out.emit(match.start(), match.end(), spoken, "date")
            return match.end()
        spoken = f"{self._month(month)} năm {year}"
        self._emit_date(match, spoken, "tháng")
        return match.end()

    def _emit_date(self, match: re.Match, spoken: str, lead: str) -> None:
        # "ngày 30/8/2021" must not become "ngày ngày ba mươi...".
        if self._prev_word(match.start()) != lead:
            spoken = f"{lead} {spoken}"
        self.out.emit(match.start(), match.end(), spoken, "date")

    def _time(self, match: re.Match) -> int | None:
        hour = int(match.group("t_h"))
        minute = match.group("t_hm") or match.group("t_m")
        second = match.group("t_s")
        if match.group("t_u") == "g" and not minute and not self._is_g_time(match):
            return None
        impossible = (
            hour > 24
            or (minute and int(minute) > 59)
            or (second and int(second) > 59)
            or (hour == 24 and bool((minute and int(minute)) or (second and int(second))))
        )
        if impossible:
            if match.group("t_u") == "g" and not minute:
                return None
            # "48h" without minutes is a duration: forty-eight hours.
            if minute or second:
                self._warn(
                    match.start(),
                    match.end(),
                    "impossible_time",
                    f"Không có giờ “{match.group()}”: hãy kiểm tra lại giờ và phút.",
                )
        spoken = f"{read_cardinal(hour, **self.style)} giờ"
        if minute and int(minute):
            spoken += f" {read_cardinal(int(minute), **self.style)} phút"
        if second and int(second):
            spoken += f" {read_cardinal(int(second), **self.style)} giây"
        self.out.emit(match.start(), match.end(), spoken, "time")
        return match.end()

    def _phone(self, match: re.Match) -> int | None:
        written = match.group()
        international = written.startswith("+84")
        body = written[3:] if international else written
        groups = [g for g in re.split(r"[ .-]", body) if g]
        # Take as many written groups as make a Vietnamese number; a following count
        # ("0937938383 15 lần") is not part of it.
        wanted = (9, 10) if international else (10, 11)
        taken, total = 0, 0
        for index, group in enumerate(groups):
            total += len(group)
            if total in wanted:
                taken = index + 1
            if total > wanted[-1]:
                break
        if not taken:
            return None
        groups = groups[:taken]
        if len(groups) == 1:
            digits = groups[0]
            cuts = (4, 7) if len(digits) == 10 else (4, 8) if len(digits) == 11 else (2, 5)
            groups = [digits[: cuts[0]], digits[cuts[0] : cuts[1]], digits[cuts[1] :]]
        spoken = ", ".join(read_digits(group) for group in groups)
        if international:
            spoken = "cộng tám bốn, " + spoken
        end = match.start() + self._span_of_groups(written, taken, international)
        self.out.emit(match.start(), end, spoken, "phone")
        self.last_phone_end = end
        return end

    def _is_g_time(self, match: re.Match) -> bool:
        """Whether "7g" is a time ("lúc 7g", "7g sáng", "7g-9g") rather than grams."""
        start = match.start()
        return bool(
            _G_TIME_BEFORE.search(self.work, max(0, start - 16), start)
            or _G_TIME_AFTER.match(self.work, match.end())
        )

    def _phone_paren(self, match: re.Match) -> int | None:
        area, rest = match.group("pp_a"), match.group("pp_r")
        groups = [area, *(g for g in re.split(r"[ .-]", rest) if g)]
        if sum(len(group) for group in groups) not in (10, 11):
            return None
        if len(groups) == 2:
            # "(028) 38221234": the subscriber number is said in two halves.
            cut = len(rest) - 4
            groups = [area, rest[:cut], rest[cut:]]
        spoken = ", ".join(read_digits(group) for group in groups)
        self.out.emit(match.start(), match.end(), spoken, "phone")
        self.last_phone_end = match.end()
        return match.end()

    @staticmethod
    def _span_of_groups(written: str, taken: int, international: bool) -> int:
        """Length of the written phone number that holds its first `taken` digit groups."""
        pos = 3 if international else 0
        for _ in range(taken):
            while pos < len(written) and not written[pos].isdigit():
                pos += 1
            while pos < len(written) and written[pos].isdigit():
                pos += 1
        return pos

    def _hotline(self, match: re.Match) -> int:
        groups = [match.group("hot_p"), *match.group("hot_r").replace(".", " ").split()]
        spoken = ", ".join(read_digits(group) for group in groups)
        self.out.emit(match.start(), match.end(), spoken, "phone")
        self.last_phone_end = match.end()
        return match.end()

    def _roman(self, start: int, end: int) -> int:
        """A Roman numeral after quý, giai đoạn, khóa...: "Quý III/2021" -> "Quý ba năm ..."."""
        value = roman_to_int(self.work[start:end])
        if value is None:
            self.out.emit(start, end, self.work[start:end], None)
            return end
        prev = self._prev_word(start)
        if prev == "hạng":
            spoken = read_ordinal(value, rank=True, **self.style)
        elif prev == "thứ":
            # "Đại hội lần thứ VI", "kỳ họp thứ IV": thứ sáu, thứ tư, thứ nhất.
            spoken = read_ordinal(value, **self.style)
        else:
            spoken = read_cardinal(value, **self.style)
        year = _ROMAN_YEAR.match(self.work, end)
        if year:
            spoken += f" năm {self._year(year.group(1))}"
            end = year.end()
        self.out.emit(start, end, spoken, "roman")
        return end

    # ---- document numbers

    def _doc(self, match: re.Match) -> int | None:
        code = match.group("doc_c")
        upper = sum(ch.isupper() for ch in code)
        if upper < 2 or upper < sum(ch.islower() for ch in code):
            return None
        spoken = read_integer_text(match.group("doc_n"), **self.style)
        if match.group("doc_y"):
            spoken += f", năm {self._year(match.group('doc_y'))}"
        spoken += self._code_reading(match.start("doc_c"), code, "-")
        self._emit_doc(match, spoken)
        return match.end()

    def _doc2(self, match: re.Match) -> int:
        spoken = read_integer_text(match.group("doc2_n"), **self.style)
        spoken += self._code_reading(match.start("doc2_c"), match.group("doc2_c"), "/")
        self._emit_doc(match, spoken)
        return match.end()

    def _emit_doc(self, match: re.Match, spoken: str) -> None:
        if self._prev_word(match.start()) != "số":
            spoken = "số " + spoken
        self.out.emit(match.start(), match.end(), spoken, "doc_number")

    def _code_reading(self, start: int, code: str, separator: str) -> str:
        """The code part of a document number under the chosen policy, with a leading comma."""
        policy = self.options.code_policy
        if policy == "skip":
            return ""
        segments = [(m.start() + start, m.group()) for m in re.finditer(rf"[^{separator}]+", code)]
        if policy == "read":
            return ", " + ", ".join(spell(segment) for _, segment in segments)
        words = []
        index = 0
        while index < len(segments):
            # Longest run of segments the lexicon knows: "NĐ-CP" before "NĐ" and "CP".
            for stop in range(len(segments), index, -1):
                term = separator.join(segment for _, segment in segments[index:stop])
                if term in self.lexicon:
                    words.append(self.lexicon[term])
                    index = stop
                    break
            else:
                offset, segment = segments[index]
                words.append(self._expand_unknown_segment(offset, segment))
                index += 1
        return ", " + ", ".join(words)

    def _expand_unknown_segment(self, offset: int, segment: str) -> str:
        """Expand "AB&CD" part by part; spell and warn about what the lexicon lacks."""
        words = []
        pos = offset
        for part in segment.split("&"):
            if part in self.lexicon:
                words.append(self.lexicon[part])
            elif part:
                words.append(self._unknown_code(pos, pos + len(part)))
            pos += len(part) + 1
        return " và ".join(words)


def _is_real_date(day: int, month: int, year: int = 2024) -> bool:
    """Whether a day and month exist (in the year if given; 29/2 without a year is allowed)."""
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def normalize(
    text: str, lexicon: Mapping[str, str] | None = None, options: ReadingOptions | None = None
) -> Normalized:
    """Turn written Vietnamese into the text an engine should speak, with spans and warnings."""
    text = unicodedata.normalize("NFC", text)
    if lexicon is None:
        scanner, prepared = _seed_scanner()
    else:
        scanner, prepared = _compile(frozenset(_prepare_lexicon(lexicon).items()))
    return _Normalizer(text, prepared, scanner, options or ReadingOptions()).run()
