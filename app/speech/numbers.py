"""Vietnamese number reading: cardinals, decimals, ordinals, digit strings and Roman numerals."""

from __future__ import annotations

import re

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Beyond this many digits a figure is an identifier (account, serial), not a quantity.
MAX_CARDINAL_DIGITS = 15

_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_ROMAN_CANONICAL = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_DECIMAL = re.compile(r"(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?")


def read_digits(digits: str) -> str:
    """Read a string of digits one by one: "0937" -> "không chín ba bảy"."""
    return " ".join(DIGITS[int(ch)] for ch in digits if ch.isdecimal())


def _read_triple(value: int, full: bool, zero_tens: str, four_after_tens: str) -> list[str]:
    """Read 0..999; `full` forces "không trăm" and "linh" as inside a larger number."""
    hundreds, rest = divmod(value, 100)
    tens, ones = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if ones:
            if words:
                words.append(zero_tens)
            words.append(DIGITS[ones])
    elif tens == 1:
        words.append("mười")
        if ones == 5:
            words.append("lăm")
        elif ones:
            words.append(DIGITS[ones])
    else:
        words += [DIGITS[tens], "mươi"]
        if ones == 1:
            words.append("mốt")
        elif ones == 4:
            words.append(four_after_tens)
        elif ones == 5:
            words.append("lăm")
        elif ones:
            words.append(DIGITS[ones])
    return words


def _read_below_billion(
    value: int, leading: bool, thousand: str, zero_tens: str, four_after_tens: str
) -> list[str]:
    """Read 0..999,999,999 as millions, thousands and units, skipping empty groups."""
    words: list[str] = []
    groups = ((value // 1_000_000, "triệu"), (value // 1000 % 1000, thousand), (value % 1000, ""))
    for group, unit in groups:
        if not group:
            continue
        # Only the very first group of the whole number drops "không trăm" / "linh".
        words += _read_triple(group, not (leading and not words), zero_tens, four_after_tens)
        if unit:
            words.append(unit)
    return words


def _read_cardinal_words(
    value: int, leading: bool, thousand: str, zero_tens: str, four_after_tens: str
) -> list[str]:
    """Read any non-negative integer, recursing on "tỷ" for each nine digits."""
    if value >= 1_000_000_000:
        high, low = divmod(value, 1_000_000_000)
        words = _read_cardinal_words(high, leading, thousand, zero_tens, four_after_tens)
        words.append("tỷ")
        if low:
            words += _read_below_billion(low, False, thousand, zero_tens, four_after_tens)
        return words
    return _read_below_billion(value, leading, thousand, zero_tens, four_after_tens)


def read_cardinal(
    value: int, *, thousand: str = "nghìn", zero_tens: str = "linh", four_after_tens: str = "tư"
) -> str:
    """Read an integer the Vietnamese way: 2021 -> "hai nghìn không trăm hai mươi mốt"."""
    if value < 0:
        return "âm " + read_cardinal(
            -value, thousand=thousand, zero_tens=zero_tens, four_after_tens=four_after_tens
        )
    if value == 0:
        return DIGITS[0]
    return " ".join(_read_cardinal_words(value, True, thousand, zero_tens, four_after_tens))


def read_fraction_digits(digits: str, **style: str) -> str:
    """Read the digits after the decimal comma: "25" -> "hai mươi lăm", "05" digit by digit."""
    # Two digits without a leading zero are said as a number ("ba phẩy hai mươi lăm");
    # anything else would change value if read as a number, so it is read digit by digit.
    if len(digits) <= 2 and not digits.startswith("0"):
        return read_cardinal(int(digits), **style)
    return read_digits(digits)


def read_integer_text(digits: str, **style: str) -> str:
    """Read a written integer, keeping identifiers with leading zeros or many digits digit-wise."""
    plain = digits.replace(".", "")
    if len(plain) > MAX_CARDINAL_DIGITS or (len(plain) > 2 and plain.startswith("0")):
        return read_digits(plain)
    return read_cardinal(int(plain), **style)


def read_decimal(text: str, **style: str) -> str:
    """Read a written number with thousands dots and a decimal comma: "1.234,5", "95,5"."""
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise ValueError(f"not a Vietnamese-written number: {text!r}")
    integer, fraction = match.groups()
    spoken = read_integer_text(integer, **style)
    if fraction:
        spoken += " phẩy " + read_fraction_digits(fraction, **style)
    return spoken


def read_ordinal(value: int, *, rank: bool = False, **style: str) -> str:
    """Read an ordinal after "thứ" (1 -> nhất, 4 -> tư) or, with rank, after "hạng" (2 -> nhì)."""
    if value == 1:
        return "nhất"
    if value == 2 and rank:
        return "nhì"
    if value == 4:
        return "tư"
    return read_cardinal(value, **style)


def roman_to_int(text: str) -> int | None:
    """Return the value of a well-formed Roman numeral ("XIV" -> 14), else None."""
    if not text or _ROMAN_CANONICAL.fullmatch(text) is None:
        return None
    total = 0
    for index, letter in enumerate(text):
        value = _ROMAN_VALUES[letter]
        following = _ROMAN_VALUES[text[index + 1]] if index + 1 < len(text) else 0
        total += -value if value < following else value
    return total
