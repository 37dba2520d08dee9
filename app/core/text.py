"""Vietnamese text helpers: NFC, accent folding for search, syllable counts."""

from __future__ import annotations

import math
import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)


def nfc(text: str) -> str:
    """Return text in Unicode NFC with Windows line ends turned into plain ones."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics so "tiem chung" matches "tiêm chủng"."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.replace("đ", "d")


def count_syllables(text: str) -> int:
    """Count spoken syllables; a Vietnamese written word is one syllable."""
    return len(_WORD.findall(text))


def reading_seconds(text: str, syllables_per_minute: int) -> int:
    """Estimate how long an announcer takes to read the text aloud."""
    # Half up, as the editor's JavaScript rounds, so both show the same estimate.
    return math.floor(count_syllables(text) * 60 / syllables_per_minute + 0.5)


def parse_id(text: str | None, max_digits: int = 9) -> int | None:
    """A posted id or number as an int, or None: ASCII digits only, at most max_digits.

    str.isdigit() is true for '²' or '①', which int() then refuses; isdecimal() alone lets
    other scripts' digits through. Nine digits keep an id inside a 32-bit column.
    """
    if not text or len(text) > max_digits or not (text.isascii() and text.isdecimal()):
        return None
    return int(text)
