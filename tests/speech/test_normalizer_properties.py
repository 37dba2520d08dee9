"""Property tests over the normaliser: whatever an officer types or pastes, it never fails, its
spans and warnings point at the right text, and no ASCII digit reaches the voice unwarned.

Inputs are built from the pieces administrative Vietnamese is made of (words with tone marks,
numbers, dates, times, phone numbers, codes, punctuation glued or spaced, line breaks) and from
arbitrary Unicode. Runs are derandomised so that CI sees the same examples every time.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.speech.lexicon_seed import SEED_LEXICON
from app.speech.normalizer import Normalized, normalize

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    max_examples=1500,
    suppress_health_check=[HealthCheck.too_slow],
)
ASCII_DIGIT = re.compile(r"[0-9]")

WORDS = [
    "các", "khu", "phố", "tổ", "thôn", "ngày", "tháng", "năm", "thứ", "hạng", "lúc", "gọi",
    "số", "điện thoại", "đường dây nóng", "Hà Nội", "Bình Thuận", "người", "hộ", "triệu",
    "đồng", "và", "hoặc", "từ", "đến", "quý", "khóa", "lần", "giờ", "sáng", "chiều", "hoà",
    "Covid", "UBND", "TT&TT", "BCĐ", "km", "kg", "v.v.", "tp.", "Q.", "P.", "xã", "điều",
]  # fmt: skip
SYMBOLS = list(",.;:!?/-–—()%&@\"'“”…*+•·°²=#_[]{}<>~^|\\")
SPACES = [" ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u200b"]


@st.composite
def numbers(draw) -> str:
    """A number the way people write them: plain, with dots or commas, glued into lists."""
    kind = draw(st.sampled_from(["int", "dots", "decimal", "list", "big", "zero"]))
    if kind == "int":
        return str(draw(st.integers(0, 99999)))
    if kind == "dots":
        return f"{draw(st.integers(1, 999_999_999)):,}".replace(",", ".")
    if kind == "decimal":
        return f"{draw(st.integers(0, 999))},{draw(st.integers(0, 99))}"
    if kind == "list":
        items = draw(st.lists(st.integers(0, 9999), min_size=2, max_size=6))
        return ",".join(map(str, items))
    if kind == "big":
        return draw(st.text(alphabet="0123456789", min_size=5, max_size=30))
    return "0" + str(draw(st.integers(0, 999)))


@st.composite
def dated(draw) -> str:
    """Dates, times and phone numbers, possible or not."""
    day, month = draw(st.integers(0, 40)), draw(st.integers(0, 15))
    year = draw(st.integers(0, 3000))
    hour, minute = draw(st.integers(0, 30)), draw(st.integers(0, 70))
    return draw(
        st.sampled_from(
            [
                f"{day}/{month}/{year}",
                f"{day}/{month}",
                f"{month}/{year}",
                f"{day}.{month}.{year}",
                f"{hour}h{minute:02d}",
                f"{hour}:{minute:02d}",
                f"{hour}g",
                f"09{draw(st.integers(0, 99_999_999)):08d}",
                f"1900 {draw(st.integers(0, 9999))}",
                f"{draw(st.integers(1, 9999))}/KH-UBND",
            ]
        )
    )


PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(SYMBOLS),
    st.sampled_from(SPACES),
    numbers(),
    dated(),
    st.text(max_size=3),
)
# Pieces joined with nothing between them, so numbers end up glued to commas, words and dots.
TEXTS = st.lists(PIECES, max_size=24).map("".join)


def check(text: str, result: Normalized) -> None:
    """The invariants every normalisation keeps."""
    nfc = unicodedata.normalize("NFC", text)
    spoken = result.spoken
    previous_end, previous_spoken_end = 0, 0
    for span in result.spans:
        assert 0 <= span.start <= span.end <= len(nfc), span
        assert nfc[span.start : span.end] == span.original, span
        assert 0 <= span.spoken_start <= span.spoken_end <= len(spoken), span
        assert spoken[span.spoken_start : span.spoken_end] == span.spoken, span
        # In written order, without overlap, and in the same order in the spoken text.
        assert span.start >= previous_end, (span, result.spans)
        assert span.spoken_start >= previous_spoken_end, (span, result.spans)
        previous_end, previous_spoken_end = span.end, span.spoken_end
    for warning in result.warnings:
        assert 0 <= warning.start <= warning.end <= len(nfc), warning
        assert nfc[warning.start : warning.end] == warning.token, warning
        assert warning.message
    digit_warnings = [w for w in result.warnings if w.code == "unread_digits"]
    for digit in ASCII_DIGIT.finditer(spoken):
        # The digit belongs to a piece of the written text that a warning names.
        [span] = [s for s in result.spans if s.spoken_start <= digit.start() < s.spoken_end]
        assert any(w.start < span.end and span.start < w.end for w in digit_warnings), (
            spoken,
            span,
        )


@SETTINGS
@given(TEXTS)
def test_administrative_looking_text_keeps_every_invariant(text: str) -> None:
    """No crash; spans ordered and true to both texts; no digit for the voice unwarned."""
    check(text, normalize(text))


@SETTINGS
@given(st.text(max_size=80))
def test_any_unicode_keeps_every_invariant(text: str) -> None:
    """Arbitrary Unicode (control characters, other scripts, combining marks) never fails."""
    check(text, normalize(text))


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["F0", "ABC", "TT", "KP", "H5N1"]),
        st.text(alphabet="abcđêơư 0123456789", min_size=1, max_size=12).filter(str.strip),
        max_size=3,
    ),
    TEXTS,
)
def test_a_units_own_lexicon_keeps_every_invariant(lexicon: dict, text: str) -> None:
    """A unit's lexicon may speak digits; they are warned about like any other."""
    text = " ".join([*lexicon, text])
    check(text, normalize(text, {**SEED_LEXICON, **lexicon}))
