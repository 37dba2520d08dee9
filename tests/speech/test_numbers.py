"""Tests for Vietnamese number reading: cardinals, decimals, ordinals, digits, Roman numerals."""

from __future__ import annotations

import pytest

from app.speech.numbers import (
    read_cardinal,
    read_decimal,
    read_digits,
    read_integer_text,
    read_ordinal,
    roman_to_int,
)

CARDINALS = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (30, "ba mươi"),
    (55, "năm mươi lăm"),
    (99, "chín mươi chín"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (104, "một trăm linh bốn"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (1000, "một nghìn"),
    (1005, "một nghìn không trăm linh năm"),
    (1010, "một nghìn không trăm mười"),
    (1286, "một nghìn hai trăm tám mươi sáu"),
    (2020, "hai nghìn không trăm hai mươi"),
    (2021, "hai nghìn không trăm hai mươi mốt"),
    (3476, "ba nghìn bốn trăm bảy mươi sáu"),
    (10_000, "mười nghìn"),
    (15_000, "mười lăm nghìn"),
    (500_000, "năm trăm nghìn"),
    (1_000_000, "một triệu"),
    (1_000_001, "một triệu không trăm linh một"),
    (1_005_000, "một triệu không trăm linh năm nghìn"),
    (1_234_567, "một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy"),
    (1_000_000_000, "một tỷ"),
    (2_500_000_000, "hai tỷ năm trăm triệu"),
    (1_000_000_000_000, "một nghìn tỷ"),
]


@pytest.mark.parametrize(("value", "spoken"), CARDINALS, ids=[str(v) for v, _ in CARDINALS])
def test_cardinal_follows_vietnamese_rules(value: int, spoken: str) -> None:
    """Cardinals use mốt, tư, lăm, linh, không trăm, mười/mươi, nghìn, triệu, tỷ."""
    assert read_cardinal(value) == spoken


REGIONAL = [
    (105, {"zero_tens": "lẻ"}, "một trăm lẻ năm"),
    (2005, {"zero_tens": "lẻ"}, "hai nghìn không trăm lẻ năm"),
    (24, {"four_after_tens": "bốn"}, "hai mươi bốn"),
    (34, {"four_after_tens": "bốn"}, "ba mươi bốn"),
    (1000, {"thousand": "ngàn"}, "một ngàn"),
    (2021, {"thousand": "ngàn"}, "hai ngàn không trăm hai mươi mốt"),
]


@pytest.mark.parametrize(
    ("value", "style", "spoken"), REGIONAL, ids=[f"{v}-{s}" for v, s, _ in REGIONAL]
)
def test_cardinal_regional_choices(value: int, style: dict, spoken: str) -> None:
    """Southern and house choices (lẻ, bốn, ngàn) change only their own word."""
    assert read_cardinal(value, **style) == spoken


def test_negative_cardinal_is_read_with_am() -> None:
    """A negative number is "âm" followed by its value."""
    assert read_cardinal(-5) == "âm năm"


DECIMALS = [
    ("3,5", "ba phẩy năm"),
    ("95,5", "chín mươi lăm phẩy năm"),
    ("37,5", "ba mươi bảy phẩy năm"),
    ("3,25", "ba phẩy hai mươi lăm"),
    ("3,05", "ba phẩy không năm"),
    ("0,125", "không phẩy một hai năm"),
    ("1.000.000", "một triệu"),
    ("1.234.567", "một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy"),
    ("1.234,5", "một nghìn hai trăm ba mươi tư phẩy năm"),
    ("500.000", "năm trăm nghìn"),
]


@pytest.mark.parametrize(("written", "spoken"), DECIMALS, ids=[w for w, _ in DECIMALS])
def test_decimal_comma_and_thousands_dot(written: str, spoken: str) -> None:
    """A comma is the decimal mark (phẩy) and dots group thousands."""
    assert read_decimal(written) == spoken


def test_decimal_rejects_text_that_is_not_a_number() -> None:
    """The reader refuses input it would otherwise silently misread."""
    with pytest.raises(ValueError):
        read_decimal("12a")


@pytest.mark.parametrize(
    ("digits", "spoken"),
    [("0937", "không chín ba bảy"), ("114", "một một bốn"), ("5", "năm")],
)
def test_digits_are_read_one_by_one_with_bon(digits: str, spoken: str) -> None:
    """Digit-by-digit reading says "bốn", never "tư"."""
    assert read_digits(digits) == spoken


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("05", "năm"),
        ("0123", "không một hai ba"),
        ("1234567890123456", "một hai ba bốn năm sáu bảy tám chín không một hai ba bốn năm sáu"),
    ],
)
def test_identifiers_with_leading_zero_or_many_digits_are_read_digit_wise(
    written: str, spoken: str
) -> None:
    """A leading zero or more than fifteen digits marks an identifier, not a quantity."""
    assert read_integer_text(written) == spoken


ORDINALS = [
    (1, False, "nhất"),
    (2, False, "hai"),
    (3, False, "ba"),
    (4, False, "tư"),
    (10, False, "mười"),
    (1, True, "nhất"),
    (2, True, "nhì"),
    (4, True, "tư"),
]


@pytest.mark.parametrize(
    ("value", "rank", "spoken"),
    ORDINALS,
    ids=[f"{v}-{'rank' if r else 'thu'}" for v, r, _ in ORDINALS],
)
def test_ordinals(value: int, rank: bool, spoken: str) -> None:
    """Ordinals: thứ nhất, thứ tư; ranks: hạng nhất, hạng nhì."""
    assert read_ordinal(value, rank=rank) == spoken


@pytest.mark.parametrize(
    ("roman", "value"),
    [("I", 1), ("II", 2), ("III", 3), ("IV", 4), ("IX", 9), ("XV", 15), ("XXI", 21), ("XL", 40)],
)
def test_roman_numerals_are_parsed(roman: str, value: int) -> None:
    """Well-formed Roman numerals give their value."""
    assert roman_to_int(roman) == value


@pytest.mark.parametrize("text", ["", "IIII", "VX", "IC", "ABC", "iv"])
def test_malformed_roman_numerals_are_refused(text: str) -> None:
    """Anything that is not a canonical upper-case numeral is None."""
    assert roman_to_int(text) is None
