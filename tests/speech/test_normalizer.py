"""Table-driven tests for the Vietnamese normaliser: written text in, spoken text out."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from app.speech.lexicon_seed import SEED_LEXICON, SEED_LEXICON_ENTRIES
from app.speech.normalizer import Normalized, ReadingOptions, Span, normalize

DISPATCH = Path(__file__).with_name("dispatch-855-BCD-TBTTTT-2021.txt")
# The dispatch's codes the seed lexicon deliberately lacks, as a unit would add them.
DISPATCH_LEXICON = {
    **SEED_LEXICON,
    "TBTTTT": "Tiểu ban Thông tin tuyên truyền",
    "TTBCXB": "Thông tin, Báo chí, Xuất bản",
    "TT VÀ TT": "THÔNG TIN VÀ TRUYỀN THÔNG",
}
YEAR_2021 = "hai nghìn không trăm hai mươi mốt"


def spoken(text: str, lexicon: dict | None = None, **options: str) -> str:
    """Spoken form of text under the given options."""
    return normalize(text, lexicon, ReadingOptions(**options)).spoken


def case(written: str, expected: str, case_id: str, **options: str):
    """One table row: written text, expected speech, options, and a readable id."""
    return pytest.param(written, expected, options, id=case_id)


def check_offsets(text: str, result: Normalized) -> None:
    """Every span and warning points at its own text in the input and in the output."""
    nfc = unicodedata.normalize("NFC", text)
    for span in result.spans:
        assert nfc[span.start : span.end] == span.original
        assert result.spoken[span.spoken_start : span.spoken_end] == span.spoken
        assert span.original != span.spoken
    for warning in result.warnings:
        assert nfc[warning.start : warning.end] == warning.token


# --------------------------------------------------------------------------- DOMAIN.md table

DOMAIN_EXAMPLES = [
    case("ngày 30/8/2021", f"ngày ba mươi tháng tám năm {YEAR_2021}", "date-after-ngay"),
    case("16/4/2021", f"ngày mười sáu tháng tư năm {YEAR_2021}", "date-april-is-tu"),
    case("tháng 9/2021", f"tháng chín năm {YEAR_2021}", "month-year"),
    case(
        "Kế hoạch số 1286/KH-UBND",
        "Kế hoạch số một nghìn hai trăm tám mươi sáu",
        "document-number",
    ),
    case("UBND tỉnh", "Ủy ban nhân dân tỉnh", "ubnd"),
    case("Ủy ban MTTQVN tỉnh", "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh", "mttqvn"),
    case("Sở TT&TT", "Sở Thông tin và Truyền thông", "tt-and-tt"),
    case(
        "Phòng BCVT&CNTT",
        "Phòng Bưu chính, Viễn thông và Công nghệ thông tin",
        "bcvt-and-cntt",
    ),
    case("0937 93 83 83", "không chín ba bảy, chín ba, tám ba, tám ba", "phone-groups"),
    case("Covid-19", "cô vít mười chín", "covid"),
    case("17h30", "mười bảy giờ ba mươi phút", "time-17h30"),
    case("6h00", "sáu giờ", "time-6h00"),
    case("95,5%", "chín mươi lăm phẩy năm phần trăm", "percent-decimal"),
    case("500.000 đồng", "năm trăm nghìn đồng", "money-thousands-dot"),
    case("3-5 lần", "ba đến năm lần", "range-times"),
    case("thứ 2, thứ 4, hạng 1", "thứ hai, thứ tư, hạng nhất", "ordinals"),
    case("Quý III/2021", f"Quý ba năm {YEAR_2021}", "quarter-roman-year"),
    case("105", "một trăm linh năm", "105-linh"),
    case("105", "một trăm lẻ năm", "105-le", zero_tens="lẻ"),
    case("21", "hai mươi mốt", "21"),
    case("15", "mười lăm", "15"),
    case("24", "hai mươi tư", "24-tu"),
    case("24", "hai mươi bốn", "24-bon", four_after_tens="bốn"),
    case("37,5°C", "ba mươi bảy phẩy năm độ C", "temperature"),
]


@pytest.mark.parametrize(("written", "expected", "options"), DOMAIN_EXAMPLES)
def test_domain_examples_are_read_as_documented(written: str, expected: str, options: dict) -> None:
    """Every example of DOMAIN.md's table reads exactly as the table says."""
    assert spoken(written, **options) == expected


# --------------------------------------------------------------------------- numbers

NUMBERS = [
    case("2021", YEAR_2021, "year"),
    case("10", "mười", "ten"),
    case("11", "mười một", "eleven"),
    case("1000000", "một triệu", "million-plain"),
    case("1.000.000", "một triệu", "million-dotted"),
    case(
        "1.234.567",
        "một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy",
        "thousands-dots",
    ),
    case("3,5", "ba phẩy năm", "decimal-comma"),
    case("có 1000 người", "có một nghìn người", "thousand-nghin"),
    case("có 1000 người", "có một ngàn người", "thousand-ngan", thousand="ngàn"),
    case("năm 2021", "năm " + YEAR_2021.replace("nghìn", "ngàn"), "year-ngan", thousand="ngàn"),
    case("mục 1.2", "mục một chấm hai", "section-number"),
    case("công nghiệp 4.0", "công nghiệp bốn chấm không", "version-number"),
    case("đợt 6 năm 2021", f"đợt sáu năm {YEAR_2021}", "round-and-year"),
    case("năm2021", f"năm {YEAR_2021}", "glued-number-gets-a-space"),
    case("từ 10-15%", "từ mười đến mười lăm phần trăm", "percent-range"),
]


@pytest.mark.parametrize(("written", "expected", "options"), NUMBERS)
def test_numbers(written: str, expected: str, options: dict) -> None:
    """Cardinals, decimals and thousands are read with Vietnamese rules."""
    assert spoken(written, **options) == expected


PERCENT_AND_UNITS = [
    case("100%", "một trăm phần trăm", "percent-100"),
    case("đạt 95 %", "đạt chín mươi lăm phần trăm", "percent-spaced"),
    case("5 km", "năm ki lô mét", "km"),
    case("5km", "năm ki lô mét", "km-glued"),
    case("20 kg", "hai mươi ki lô gam", "kg"),
    case("3 m", "ba mét", "metre"),
    case("120 m2", "một trăm hai mươi mét vuông", "square-metre"),
    case("120 m²", "một trăm hai mươi mét vuông", "square-metre-superscript"),
    case("2 ha", "hai héc ta", "hectare"),
    case("50 mm", "năm mươi mi li mét", "millimetre"),
    case("39°C", "ba mươi chín độ C", "celsius"),
    case("nhiệt độ -5°C", "nhiệt độ âm năm độ C", "below-zero"),
    case("500.000đ", "năm trăm nghìn đồng", "dong-symbol"),
    case("2.000.000 VNĐ", "hai triệu đồng", "vnd"),
    case("3 tấn", "ba tấn", "tonne-word"),
    case("5 lít", "năm lít", "litre-word"),
    case("2 hay 3", "hai hay ba", "ha-prefix-is-not-hectare"),
    case("-5°C ban đêm", "âm năm độ C ban đêm", "below-zero-at-text-start"),
    case("Nhiệt độ:\n-5°C", "Nhiệt độ: âm năm độ C", "below-zero-at-line-start"),
    case("(-2°C)", "(âm hai độ C)", "below-zero-in-brackets"),
    case("nhiệt độ \u22125°C", "nhiệt độ âm năm độ C", "below-zero-unicode-minus"),
    case("từ -5 đến -2°C", "từ âm năm đến âm hai độ C", "below-zero-range-in-words"),
    case("1m75", "một mét bảy mươi lăm", "height-m"),
    case("cao 1m05", "cao một mét không năm", "height-leading-zero"),
    case("10.5 km", "mười phẩy năm ki lô mét", "dot-decimal-with-unit"),
    case("10.5km", "mười phẩy năm ki lô mét", "dot-decimal-glued-unit"),
    case("2.25 ha", "hai phẩy hai mươi lăm héc ta", "dot-decimal-two-digits"),
    case("3.5%", "ba phẩy năm phần trăm", "dot-decimal-percent"),
    case("1.500 km", "một nghìn năm trăm ki lô mét", "thousands-dot-with-unit"),
    case("1.500m2", "một nghìn năm trăm mét vuông", "thousands-dot-glued-unit"),
    case("1.234,5 kg", "một nghìn hai trăm ba mươi tư phẩy năm ki lô gam", "both-separators"),
    case("mục 1.5 Kế hoạch", "mục một chấm năm Kế hoạch", "dot-without-unit-is-a-section"),
    case("5g muối", "năm gam muối", "grams-are-not-a-time"),
]


@pytest.mark.parametrize(("written", "expected", "options"), PERCENT_AND_UNITS)
def test_percentages_and_units(written: str, expected: str, options: dict) -> None:
    """Units after a number are spoken in full; words that merely start alike are not."""
    assert spoken(written, **options) == expected


# --------------------------------------------------------------------------- dates and times

DATES = [
    case("Ngày 30/8/2021", f"Ngày ba mươi tháng tám năm {YEAR_2021}", "capital-ngay-not-doubled"),
    case("ngày   30/8/2021", f"ngày ba mươi tháng tám năm {YEAR_2021}", "spaces-after-ngay"),
    case("30-8-2021", f"ngày ba mươi tháng tám năm {YEAR_2021}", "dashed-date"),
    case("30.8.2021", f"ngày ba mươi tháng tám năm {YEAR_2021}", "dotted-date"),
    case("26/02/2021", f"ngày hai mươi sáu tháng hai năm {YEAR_2021}", "leading-zero-month"),
    case("01/4/2021", f"ngày một tháng tư năm {YEAR_2021}", "leading-zero-day"),
    case("30/8", "ngày ba mươi tháng tám", "day-month"),
    case("sáng 30/8", "sáng ngày ba mươi tháng tám", "day-month-after-word"),
    case("9/2021", f"tháng chín năm {YEAR_2021}", "month-year-bare"),
    case("tháng 4/2021", f"tháng tư năm {YEAR_2021}", "month-year-april"),
    case("tháng 4", "tháng tư", "month-four-is-tu"),
    case("tháng 12", "tháng mười hai", "month-twelve"),
    case(
        "ngày 30 tháng 8 năm 2021",
        f"ngày ba mươi tháng tám năm {YEAR_2021}",
        "date-in-words",
    ),
    case("quý 3/2021", f"quý ba năm {YEAR_2021}", "quarter-arabic"),
    case("35/8", "ba mươi lăm phần tám", "impossible-date-is-a-fraction"),
    case("1/3 dân số", "một phần ba dân số", "fraction-before-dan-so"),
    case("2/3 số hộ", "hai phần ba số hộ", "fraction-before-so-ho"),
    case("hơn 3/4 diện tích", "hơn ba phần tư diện tích", "fraction-before-dien-tich"),
    case("có đến 2/3 số hộ", "có đến hai phần ba số hộ", "fraction-after-den"),
    case("ngày 1/3", "ngày một tháng ba", "day-month-after-ngay"),
    case("ngày 1/3 dân số", "ngày một tháng ba dân số", "ngay-wins-over-fraction-noun"),
    case("Thứ Hai, 1/3 số hộ", "Thứ Hai, ngày một tháng ba số hộ", "weekday-makes-a-date"),
    case("1/3/2021 dân số", f"ngày một tháng ba năm {YEAR_2021} dân số", "year-makes-a-date"),
    case("1/3", "ngày một tháng ba", "bare-day-month-stays-a-date"),
    case("30/4 là", "ngày ba mươi tháng tư là", "date-before-other-word"),
    case("5/3 số hộ", "ngày năm tháng ba số hộ", "improper-pair-stays-a-date"),
]


@pytest.mark.parametrize(("written", "expected", "options"), DATES)
def test_dates(written: str, expected: str, options: dict) -> None:
    """Full and partial dates get "ngày/tháng/năm" once; April is "tháng tư"."""
    assert spoken(written, **options) == expected


TIMES = [
    case("7h", "bảy giờ", "hour-only"),
    case("17:30", "mười bảy giờ ba mươi phút", "colon"),
    case("17 giờ 30", "mười bảy giờ ba mươi", "in-words"),
    case("lúc 5h30 sáng", "lúc năm giờ ba mươi phút sáng", "in-sentence"),
    case("05:30", "năm giờ ba mươi phút", "leading-zero"),
    case("7h-9h", "bảy giờ đến chín giờ", "range-of-hours"),
    case("17h30 - 19h00", "mười bảy giờ ba mươi phút đến mười chín giờ", "spaced-range"),
    case("8:05:30", "tám giờ năm phút ba mươi giây", "seconds"),
    case("7g30", "bảy giờ ba mươi phút", "g-with-minutes"),
    case("lúc 7g", "lúc bảy giờ", "g-after-luc"),
    case("7g sáng", "bảy giờ sáng", "g-before-part-of-day"),
    case("7g-9g", "bảy giờ đến chín giờ", "g-range"),
    case("trong 48h", "trong bốn mươi tám giờ", "hours-as-duration"),
]


@pytest.mark.parametrize(("written", "expected", "options"), TIMES)
def test_times(written: str, expected: str, options: dict) -> None:
    """Times are read as giờ and phút; a zero minute is not spoken."""
    assert spoken(written, **options) == expected


# --------------------------------------------------------------------------- document numbers

DOCUMENT_NUMBERS = [
    case("Số: 855/BCĐ-TBTTTT", "Số: tám trăm năm mươi lăm", "skip-after-so"),
    case("Số:     855   /BCĐ-TBTTTT", "Số: tám trăm năm mươi lăm", "skip-spaced-as-dispatch"),
    case("Công văn 855/BCĐ-TBTTTT", "Công văn số tám trăm năm mươi lăm", "skip-adds-so"),
    case(
        "Quyết định số 123/QĐ-UBND",
        "Quyết định số một trăm hai mươi ba",
        "skip-decision",
    ),
    case(
        "Nghị định 15/2020/NĐ-CP",
        "Nghị định số mười lăm, năm hai nghìn không trăm hai mươi",
        "skip-with-year",
    ),
    case("Chỉ thị 16/CT-TTg", "Chỉ thị số mười sáu", "skip-mixed-case-code"),
    case("Kế hoạch 12-KH/TU", "Kế hoạch số mười hai", "skip-party-style"),
    case(
        "Kế hoạch số 1286/KH-UBND",
        "Kế hoạch số một nghìn hai trăm tám mươi sáu, ca hát, u bê en dê",
        "read-spells-letters",
        code_policy="read",
    ),
    case(
        "Số: 855/BCĐ-TBTTTT",
        "Số: tám trăm năm mươi lăm, bê xê đê, tê bê tê tê tê tê",
        "read-spells-unknown-without-guessing",
        code_policy="read",
    ),
    case(
        "Kế hoạch số 1286/KH-UBND",
        "Kế hoạch số một nghìn hai trăm tám mươi sáu, Kế hoạch, Ủy ban nhân dân",
        "expand-through-lexicon",
        code_policy="expand",
    ),
    case(
        "Nghị định 15/2020/NĐ-CP",
        "Nghị định số mười lăm, năm hai nghìn không trăm hai mươi, Nghị định Chính phủ",
        "expand-longest-code-first",
        code_policy="expand",
    ),
    case(
        "Quyết định số 123/QĐ-UBND",
        "Quyết định số một trăm hai mươi ba, Quyết định, Ủy ban nhân dân",
        "expand-decision",
        code_policy="expand",
    ),
]


@pytest.mark.parametrize(("written", "expected", "options"), DOCUMENT_NUMBERS)
def test_document_numbers_follow_code_policy(written: str, expected: str, options: dict) -> None:
    """The number is always read; the code is skipped, spelled or expanded; never "trên"."""
    result = spoken(written, **options)
    assert result == expected
    assert "trên" not in result


def test_document_code_is_skipped_by_default() -> None:
    """With default options an unknown code in a document number is dropped without a warning."""
    result = normalize("Công văn 855/BCĐ-TBTTTT")
    assert "tê bê" not in result.spoken
    assert result.warnings == []


def test_expanded_document_code_warns_about_unknown_segment() -> None:
    """Expanding a code the lexicon lacks spells it and points the writer at it."""
    text = "Số: 855/BCĐ-TBTTTT"
    result = normalize(text, options=ReadingOptions(code_policy="expand"))
    assert result.spoken == "Số: tám trăm năm mươi lăm, Ban Chỉ đạo, tê bê tê tê tê tê"
    [warning] = result.warnings
    assert (warning.code, warning.token) == ("unknown_abbreviation", "TBTTTT")
    assert text[warning.start : warning.end] == "TBTTTT"


def test_expanded_document_code_uses_the_callers_lexicon() -> None:
    """Per-unit lexicon entries reach codes inside document numbers."""
    lexicon = {"BCĐ": "Ban Chỉ đạo", "TBTTTT": "Tiểu ban Thông tin tuyên truyền"}
    result = normalize("855/BCĐ-TBTTTT", lexicon, ReadingOptions(code_policy="expand"))
    assert result.spoken == (
        "số tám trăm năm mươi lăm, Ban Chỉ đạo, Tiểu ban Thông tin tuyên truyền"
    )
    assert result.warnings == []


# --------------------------------------------------------------------------- phones, addresses

PHONES = [
    case("0937938383", "không chín ba bảy, chín ba tám, ba tám ba", "mobile-unspaced"),
    case("0937.938.383", "không chín ba bảy, chín ba tám, ba tám ba", "mobile-dotted"),
    case("0252 3822 123", "không hai năm hai, ba tám hai hai, một hai ba", "landline"),
    case("1900 9095", "một chín không không, chín không chín năm", "hotline-1900"),
    case("Gọi 113", "Gọi một một ba", "police"),
    case("gọi 114 khi có cháy", "gọi một một bốn khi có cháy", "fire"),
    case("đường dây nóng 115", "đường dây nóng một một năm", "ambulance"),
    case("113, 114, 115", "một một ba, một một bốn, một một năm", "emergency-list"),
    case("có 115 người", "có một trăm mười lăm người", "count-is-not-a-phone"),
    case(
        "điện thoại: 0937 93 83 83 để",
        "điện thoại: không chín ba bảy, chín ba, tám ba, tám ba để",
        "phone-in-sentence",
    ),
    case(
        "+84 937 938 383",
        "cộng tám bốn, chín ba bảy, chín ba tám, ba tám ba",
        "international",
    ),
    case("(0252) 3822 123", "không hai năm hai, ba tám hai hai, một hai ba", "area-code-brackets"),
    case(
        "ĐT: (028) 38221234.",
        "điện thoại: không hai tám, ba tám hai hai, một hai ba bốn.",
        "area-code-brackets-unspaced",
    ),
]


@pytest.mark.parametrize(("written", "expected", "options"), PHONES)
def test_phone_numbers_are_read_digit_by_digit_in_groups(
    written: str, expected: str, options: dict
) -> None:
    """Phone numbers are digits in their written groups, with a comma pause between groups."""
    assert spoken(written, **options) == expected


ADDRESSES = [
    case(
        "https://tiemchungcovid19.gov.vn",
        "tiêm chủng cô vít mười chín chấm gờ o vê chấm vê en",
        "url-vaccination",
    ),
    case(
        "link: https://bit.ly/nentangcovid19.",
        "linh: bít chấm li gạch chéo nền tảng cô vít mười chín.",
        "url-sentence-stop-is-kept",
    ),
    case(
        "www.binhthuan.gov.vn",
        "vê kép vê kép vê kép chấm Bình Thuận chấm gờ o vê chấm vê en",
        "url-www",
    ),
    case("binhthuan.gov.vn", "Bình Thuận chấm gờ o vê chấm vê en", "bare-domain"),
    case(
        "abc@binhthuan.gov.vn",
        "a bê xê a còng Bình Thuận chấm gờ o vê chấm vê en",
        "email",
    ),
]


@pytest.mark.parametrize(("written", "expected", "options"), ADDRESSES)
def test_urls_and_emails_are_read_out(written: str, expected: str, options: dict) -> None:
    """Addresses are spoken piece by piece, never dropped."""
    assert spoken(written, **options) == expected


# --------------------------------------------------------------------------- mixed, ordinals

MIXED = [
    case("COVID-19", "cô vít mười chín", "covid-caps"),
    case("covid-19", "cô vít mười chín", "covid-lower"),
    case("Covid 19", "cô vít mười chín", "covid-space"),
    case("Covid", "cô vít", "covid-alone"),
    case("F0", "ép không", "f0"),
    case("F1", "ép một", "f1"),
    case("5K", "năm ca", "5k"),
    case("SARS-CoV-2", "sát cô vi hai", "sars"),
    case("PCR", "pê xê e rờ", "pcr"),
    case("H5N1", "hát năm en một", "h5n1"),
    case("mạng 4G", "mạng bốn gờ", "4g"),
    case("tải App", "tải áp", "app"),
    case("ứng dụng PC-Covid", "ứng dụng pê xê cô vít", "pc-covid"),
    case("mã QR", "mã qui a", "qr"),
    case("2019-nCoV", "hai nghìn không trăm mười chín en cô vi", "2019-ncov"),
    case("2019-nCoV", "hai ngàn không trăm mười chín en cô vi", "2019-ncov-ngan", thousand="ngàn"),
    case("vắc xin mRNA", "vắc xin em e rờ en a", "mrna"),
]


@pytest.mark.parametrize(("written", "expected", "options"), MIXED)
def test_mixed_letters_and_digits(written: str, expected: str, options: dict) -> None:
    """Epidemic and technology terms are read the Vietnamese way."""
    assert spoken(written, **options) == expected


ORDINALS_AND_RANGES = [
    case("thứ 1", "thứ nhất", "first"),
    case("Thứ 7", "Thứ bảy", "saturday"),
    case("lần thứ 3", "lần thứ ba", "third-time"),
    case("hạng 2", "hạng nhì", "second-rank"),
    case("giải 1", "giải nhất", "first-prize"),
    case(
        "2021-2022",
        f"{YEAR_2021} đến hai nghìn không trăm hai mươi hai",
        "year-range",
    ),
    case(
        "giai đoạn 2021-\n2022;",
        f"giai đoạn {YEAR_2021} đến hai nghìn không trăm hai mươi hai;",
        "range-broken-across-lines",
    ),
    case("3 - 5 ngày", "ba đến năm ngày", "spaced-range"),
    case("từ 7–10 ngày", "từ bảy đến mười ngày", "en-dash-range"),
]


@pytest.mark.parametrize(("written", "expected", "options"), ORDINALS_AND_RANGES)
def test_ordinals_and_ranges(written: str, expected: str, options: dict) -> None:
    """Ordinals after thứ/hạng/giải and ranges read with "đến"."""
    assert spoken(written, **options) == expected


ROMAN = [
    case("giai đoạn II", "giai đoạn hai", "phase"),
    case("khóa XV", "khóa mười lăm", "term"),
    case("khoá XV", "khóa mười lăm", "term-old-tone-mark"),
    case("thế kỷ XXI", "thế kỷ hai mươi mốt", "century"),
    case("Chương II", "Chương hai", "chapter"),
    case("Quý IV/2021", f"Quý bốn năm {YEAR_2021}", "fourth-quarter"),
    case("hạng I", "hạng nhất", "rank-roman"),
    case("VI", "VI", "alone-untouched"),
    case("Vitamin C", "Vitamin C", "inside-word-untouched"),
    case("Tôi I", "Tôi I", "i-not-one-outside-context"),
    case("đội II", "đội II", "no-context-keyword"),
    case("Đại hội VI", "Đại hội sáu", "congress"),
    case("ĐẠI HỘI VI", "ĐẠI HỘI sáu", "congress-heading"),
    case("\u00d0ại hội VI", "Đại hội sáu", "congress-with-eth"),
    case("Đại hội lần thứ VI", "Đại hội lần thứ sáu", "lan-thu-is-ordinal"),
    case("kỳ họp thứ IV", "kỳ họp thứ tư", "ky-hop-thu"),
    case("khóa VI", "khóa sáu", "term-vi"),
]


@pytest.mark.parametrize(("written", "expected", "options"), ROMAN)
def test_roman_numerals_only_in_context(written: str, expected: str, options: dict) -> None:
    """Roman numerals are read after quý, giai đoạn, khóa, thế kỷ, chương; elsewhere untouched."""
    assert spoken(written, **options) == expected


# --------------------------------------------------------------------------- lexicon, codes

LEXICON = [
    case("V/v đẩy mạnh", "về việc đẩy mạnh", "vv"),
    case("Tp. Phan Thiết", "thành phố Phan Thiết", "tp-dot"),
    case("TP. Phan Thiết", "thành phố Phan Thiết", "tp-caps-dot"),
    case("TP Phan Thiết", "thành phố Phan Thiết", "tp-no-dot"),
    case("Q. 1, P. 5", "quận một, phường năm", "district-and-ward"),
    case("TP.HCM", "thành phố Hồ Chí Minh", "hcmc"),
    case("HTX Nông nghiệp", "hợp tác xã Nông nghiệp", "cooperative"),
    case("HĐND xã", "Hội đồng nhân dân xã", "hdnd"),
    case("Sở GD&ĐT", "Sở Giáo dục và Đào tạo", "gd-dt"),
    case("Sở LĐTB&XH", "Sở Lao động, Thương binh và Xã hội", "ldtbxh"),
    case("Sở NN&PTNT", "Sở Nông nghiệp và Phát triển nông thôn", "nnptnt"),
    case("Trung tâm VHTT&TT", "Trung tâm Văn hóa, Thông tin và Thể thao", "vhtt-tt"),
    case("trường THPT", "trường trung học phổ thông", "thpt"),
    case("thẻ BHYT", "thẻ bảo hiểm y tế", "bhyt"),
    case("Phòng Văn hóa & Thông tin", "Phòng Văn hóa và Thông tin", "ampersand-word"),
    case("UBND tỉnh (b/c)", "Ủy ban nhân dân tỉnh (báo cáo)", "bc"),
    case(
        "Trung tâm thông tin -VPUBND tỉnh",
        "Trung tâm thông tin, Văn phòng Ủy ban nhân dân tỉnh",
        "dash-glued-to-code",
    ),
    case("Đ/c Nguyễn Văn A", "đồng chí Nguyễn Văn A", "dong-chi"),
    case("các đ/c lãnh đạo", "các đồng chí lãnh đạo", "dong-chi-lower"),
    case("chó, mèo v.v. đều phải", "chó, mèo vân vân đều phải", "vv-inside-sentence"),
    case("chó, mèo v.v.", "chó, mèo vân vân.", "vv-ends-sentence"),
    case("chó, mèo v.v. Sau đó", "chó, mèo vân vân. Sau đó", "vv-before-next-sentence"),
    case("chó, mèo v.v...", "chó, mèo vân vân.", "vv-with-ellipsis"),
]


@pytest.mark.parametrize(("written", "expected", "options"), LEXICON)
def test_seed_lexicon(written: str, expected: str, options: dict) -> None:
    """Administrative abbreviations from the seed lexicon are spoken in full."""
    assert spoken(written, **options) == expected


def test_longest_lexicon_entry_wins() -> None:
    """A multiword entry beats its shorter parts."""
    lexicon = {"TT": "tê tê", "TT&TT": "Thông tin và Truyền thông", "Sở TT&TT": "Sở Tê"}
    assert spoken("Sở TT&TT và TT", lexicon) == "Sở Tê và tê tê"


def test_lexicon_is_case_sensitive() -> None:
    """ "KH" is an abbreviation; "Kh" is not in the lexicon and stays."""
    assert spoken("KH và Kh", {"KH": "kế hoạch"}) == "kế hoạch và Kh"


def test_caller_lexicon_replaces_the_seed() -> None:
    """A caller's lexicon is used as given: the caller merges global and unit entries."""
    result = normalize("UBND", {"ABC": "a bê xê"})
    assert result.spoken == "u bê en dê"
    assert result.warnings[0].code == "unknown_abbreviation"


def test_lexicon_keys_in_old_tone_style_still_match() -> None:
    """A lexicon written with "hoà" matches text written with "hòa" and vice versa."""
    assert spoken("Cộng hòa", {"Cộng hoà": "nước cộng hòa"}) == "nước cộng hòa"


UNKNOWN_CODES = [
    case("TBTTTT", "tê bê tê tê tê tê", "tbtttt"),
    case("mã XYZQ", "mã ích i dài dét qui", "xyzq"),
    case("Lưu: VT, TTBCXB", "Lưu: Văn thư, tê tê bê xê ích bê", "dispatch-footer"),
]


@pytest.mark.parametrize(("written", "expected", "options"), UNKNOWN_CODES)
def test_unknown_code_is_spelled_and_warned(written: str, expected: str, options: dict) -> None:
    """An unknown all-caps code is spelled letter by letter and reported, never guessed."""
    result = normalize(written)
    assert result.spoken == expected
    assert [w.code for w in result.warnings] == ["unknown_abbreviation"]
    check_offsets(written, result)


def test_unknown_code_warning_tells_the_writer_what_to_do() -> None:
    """The warning names the token and says how to fix it, in Vietnamese."""
    [warning] = normalize("Tiểu ban TBTTTT").warnings
    assert warning.message == (
        "Không biết đọc “TBTTTT”: hãy thêm vào từ điển phát âm hoặc viết ra chữ."
    )
    assert (warning.start, warning.end, warning.token) == (9, 15, "TBTTTT")


HEADINGS = [
    case("BAN CHỈ ĐẠO PHÒNG CHỐNG DỊCH", "BAN CHỈ ĐẠO PHÒNG CHỐNG DỊCH", "steering-board"),
    case(
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "republic",
    ),
    case("TIỂU BAN THÔNG TIN TUYÊN TRUYỀN", "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN", "subcommittee"),
    case("HỎA TỐC", "HỎA TỐC", "urgent"),
    case("TRUONG THPT NGUYEN HUE", "TRUONG trung học phổ thông NGUYEN HUE", "no-diacritics"),
]


@pytest.mark.parametrize(("written", "expected", "options"), HEADINGS)
def test_all_caps_vietnamese_headings_do_not_warn(
    written: str, expected: str, options: dict
) -> None:
    """Capitalised Vietnamese syllables are words, not abbreviations."""
    result = normalize(written)
    assert result.spoken == expected
    assert result.warnings == []


# --------------------------------------------------------------------------- text shape

PUNCTUATION_AND_LAYOUT = [
    case("- Một;\n- Hai.", "Một; Hai.", "dash-bullets-after-punctuation"),
    case("Kính gửi:\n\n- Ủy ban", "Kính gửi: Ủy ban", "bullet-after-colon"),
    case("• Một\n• Hai", "Một. Hai", "round-bullets-become-stops"),
    case("+ Một\n+ Hai", "Một. Hai", "plus-bullets-never-cong"),
    case("* Một\n* Hai", "Một. Hai", "star-bullets"),
    case("Độc lập - Tự do - Hạnh phúc", "Độc lập, Tự do, Hạnh phúc", "dash-is-a-comma"),
    case("ông Phong – Phó trưởng phòng", "ông Phong, Phó trưởng phòng", "en-dash"),
    case("các điểm công cộng… trên", "các điểm công cộng, trên", "ellipsis-inside"),
    case("và nhiều nữa...", "và nhiều nữa.", "ellipsis-at-end"),
    case("tinh thần “tiêm chủng”;", "tinh thần tiêm chủng;", "curly-quotes"),
    case('gọi là "Sổ sức khỏe"', "gọi là Sổ sức khỏe", "straight-quotes"),
    case("theo dõi tiêm\nvắc xin", "theo dõi tiêm vắc xin", "line-wrap-is-a-space"),
    case("Đoạn một\n\nĐoạn hai", "Đoạn một. Đoạn hai", "blank-line-is-a-stop"),
    case("Đoạn một.\n\n\nĐoạn hai", "Đoạn một. Đoạn hai", "no-double-stop"),
    case("  nhiều     khoảng\ttrắng  ", "nhiều khoảng trắng", "whitespace-collapsed"),
    case("thực hiện tốt./.", "thực hiện tốt.", "document-end-mark"),
    case(
        "1.500.000 đồng/người/tháng",
        "một triệu năm trăm nghìn đồng mỗi người mỗi tháng",
        "slash-per-unit-is-moi",
    ),
    case("cá nhân và/hoặc tổ chức", "cá nhân và hoặc tổ chức", "slash-between-words-is-silent"),
    case(
        "1. Tiêm chủng\n2. Khai báo",
        "một, Tiêm chủng. hai, Khai báo",
        "numbered-items-pause-then-number",
    ),
    case("Gồm:\n1) Tiêm\n2) Khai báo", "Gồm: một, Tiêm. hai, Khai báo", "bracket-numbered-items"),
    case("Kết quả.\n\n2. Khai báo", "Kết quả. hai, Khai báo", "numbered-item-after-stop"),
    case(
        "I. MỤC ĐÍCH\n1. Mục đích",
        "một, MỤC ĐÍCH. một, Mục đích",
        "roman-heading-then-item",
    ),
    case("V. Lê", "V. Lê", "initial-is-not-a-roman-item"),
]


@pytest.mark.parametrize(("written", "expected", "options"), PUNCTUATION_AND_LAYOUT)
def test_layout_becomes_pauses(written: str, expected: str, options: dict) -> None:
    """Bullets, dashes, ellipses and blank lines become pauses; quotes vanish; spaces collapse."""
    result = spoken(written, **options)
    assert result == expected
    # Pauses are punctuation, never the words for plus and minus.
    assert result.count("cộng") == written.count("cộng")
    assert "trừ" not in result


TONE_MARKS = [
    case("hoà bình", "hòa bình", "hoa"),
    case("thuý", "thúy", "thuy"),
    case("khoẻ mạnh", "khỏe mạnh", "khoe"),
    case("oà khóc", "òa khóc", "oa-at-start"),
    case("tuỳ ý", "tùy ý", "tuy"),
    case("quý vị", "quý vị", "qu-is-an-onset"),
    case("hoàn thành", "hoàn thành", "final-consonant-unchanged"),
    case("va\u0300 ca\u0301c", "và các", "decomposed-input-is-composed"),
    case("\u00d0à Lạt", "\u0110à Lạt", "eth-is-folded-to-d-bar"),
    case("\u00f0ồng chí", "\u0111ồng chí", "lower-eth-is-folded"),
]


@pytest.mark.parametrize(("written", "expected", "options"), TONE_MARKS)
def test_tone_marks_use_one_placement(written: str, expected: str, options: dict) -> None:
    """Input is NFC and open oa/oe/uy rhymes carry the mark on the first vowel (hòa)."""
    assert spoken(written, **options) == expected


def test_tone_mark_change_has_a_span() -> None:
    """Moving a tone mark is a visible change with its own span."""
    [span] = normalize("Hoà Bình").spans
    assert (span.original, span.spoken, span.rule) == ("Hoà", "Hòa", "tone_mark")


# --------------------------------------------------------------------------- warnings

IMPOSSIBLE = [
    pytest.param(
        "ngày 32/13/2021",
        f"ngày ba mươi hai tháng mười ba năm {YEAR_2021}",
        "impossible_date",
        id="day-32-month-13",
    ),
    pytest.param(
        "31/4/2021",
        f"ngày ba mươi mốt tháng tư năm {YEAR_2021}",
        "impossible_date",
        id="april-31",
    ),
    pytest.param(
        "29-2-2021",
        f"ngày hai mươi chín tháng hai năm {YEAR_2021}",
        "impossible_date",
        id="feb-29-not-leap",
    ),
    pytest.param("ngày 35/8", "ngày ba mươi lăm tháng tám", "impossible_date", id="ngay-day-35"),
    pytest.param(
        "tháng 13/2021",
        f"tháng mười ba năm {YEAR_2021}",
        "impossible_date",
        id="month-13",
    ),
    pytest.param("25:00", "hai mươi lăm giờ", "impossible_time", id="hour-25"),
    pytest.param("lúc 7h75", "lúc bảy giờ bảy mươi lăm phút", "impossible_time", id="minute-75"),
    pytest.param("24:30", "hai mươi tư giờ ba mươi phút", "impossible_time", id="past-midnight"),
]


@pytest.mark.parametrize(("written", "expected", "code"), IMPOSSIBLE)
def test_impossible_dates_and_times_are_read_as_written_and_warned(
    written: str, expected: str, code: str
) -> None:
    """A date or time that cannot exist is read neutrally, never "phần" or ":", and flagged."""
    result = normalize(written)
    assert result.spoken == expected
    assert "phần" not in result.spoken and ":" not in result.spoken
    [warning] = result.warnings
    assert warning.code == code
    assert warning.token in written and warning.token in warning.message
    assert warning.message.startswith("Không có ")
    check_offsets(written, result)


def test_leap_day_is_a_real_date() -> None:
    """29/2 exists in leap years and, without a year, is not questioned."""
    assert normalize("29/2/2024").warnings == []
    assert normalize("ngày 29/2").warnings == []


def test_emoji_is_removed_with_a_warning() -> None:
    """Emoji cannot be spoken: they are dropped and the writer is told where."""
    text = "Tiêm vắc xin 💉 an toàn"
    result = normalize(text)
    assert result.spoken == "Tiêm vắc xin an toàn"
    [warning] = result.warnings
    assert (warning.code, warning.token) == ("unreadable_character", "💉")
    assert text[warning.start : warning.end] == "💉"
    check_offsets(text, result)


def test_chinese_characters_are_removed_with_a_warning() -> None:
    """Characters outside Vietnamese and Latin script are removed and reported."""
    result = normalize("Xin chào 你好 bà con")
    assert result.spoken == "Xin chào bà con"
    assert [(w.code, w.token) for w in result.warnings] == [("unreadable_character", "你好")]


def test_zero_width_characters_are_dropped_silently() -> None:
    """Invisible characters pasted from the web are not worth a warning."""
    result = normalize("tiêm\u200bchủng")
    assert result.spoken == "tiêm chủng"
    assert result.warnings == []


@pytest.mark.parametrize("text", ["", "   \n\n  ", "😀🎉"], ids=["empty", "blank", "emoji"])
def test_text_with_nothing_to_say_warns_empty(text: str) -> None:
    """Nothing readable gives an empty spoken text and an "empty" warning."""
    result = normalize(text)
    assert result.spoken == ""
    assert result.warnings[-1].code == "empty"


# --------------------------------------------------------------------------- spans


def test_spans_point_at_input_and_output() -> None:
    """Each span's offsets select its original and its spoken text."""
    text = "Ngày 16/4/2021, UBND tỉnh họp lúc 17h30 tại Tp. Phan Thiết; gọi 0937 93 83 83."
    result = normalize(text)
    check_offsets(text, result)
    rules = [span.rule for span in result.spans]
    assert rules == ["date", "lexicon", "time", "lexicon", "phone"]
    date = result.spans[0]
    assert (date.start, date.end, date.original) == (5, 14, "16/4/2021")
    assert date.spoken == f"mười sáu tháng tư năm {YEAR_2021}"
    assert date.rule_label == "Ngày tháng"


def test_review_fixes_keep_offsets_right() -> None:
    """Spans and warnings of the newer rules point at their own text in input and output."""
    text = (
        "\u00d0ại hội VI.\n1. Tiêm chủng cho 2/3 số hộ, -5°C lúc 7g30 ngày 32/13/2021;\n"
        "2. Gọi (0252) 3822 123, Đ/c Lan cao 1m75 chạy 10.5 km, 2019-nCoV, mRNA v.v. 25:00"
    )
    result = normalize(text)
    check_offsets(text, result)
    assert result.spoken == (
        "Đại hội sáu. một, Tiêm chủng cho hai phần ba số hộ, âm năm độ C lúc bảy giờ ba mươi"
        " phút ngày ba mươi hai tháng mười ba năm hai nghìn không trăm hai mươi mốt; hai, Gọi"
        " không hai năm hai, ba tám hai hai, một hai ba, đồng chí Lan cao một mét bảy mươi lăm"
        " chạy mười phẩy năm ki lô mét, hai nghìn không trăm mười chín en cô vi, em e rờ en a"
        " vân vân hai mươi lăm giờ"
    )
    assert [w.code for w in result.warnings] == ["impossible_date", "impossible_time"]
    rules = {span.original: span.rule for span in result.spans}
    assert rules["\u00d0ại"] == "letter"
    assert rules["2/3"] == "fraction"
    assert rules["(0252) 3822 123"] == "phone"
    assert rules["2. "] == "ordinal"


def test_unchanged_text_has_no_spans() -> None:
    """Only pieces whose spoken form differs get a span."""
    result = normalize("bà con tiêm vắc xin đầy đủ")
    assert result.spans == []
    assert result.spoken == "bà con tiêm vắc xin đầy đủ"


def test_pause_spans_cover_bullets_and_paragraphs() -> None:
    """Bullets and paragraph breaks are spans with the "pause" rule."""
    text = "Một\n\n- Hai"
    result = normalize(text)
    check_offsets(text, result)
    assert result.spoken == "Một. Hai"
    assert {span.rule for span in result.spans} == {"pause"}


def test_as_dict_is_json_ready() -> None:
    """The dict form carries spans with labels and warnings with messages."""
    data = normalize("UBND 😀").as_dict()
    assert data["spoken"] == "Ủy ban nhân dân"
    assert data["spans"][0] == {
        "start": 0,
        "end": 4,
        "spoken_start": 0,
        "spoken_end": 15,
        "original": "UBND",
        "spoken": "Ủy ban nhân dân",
        "rule": "lexicon",
        "rule_label": "Từ điển phát âm",
    }
    assert data["warnings"][0]["code"] == "unreadable_character"
    assert set(data["warnings"][0]) == {"start", "end", "token", "code", "message"}


def test_span_label_falls_back_to_rule_name() -> None:
    """An unlabelled rule still has a label to show."""
    assert Span(0, 1, 0, 1, "a", "b", "other").rule_label == "other"


def test_offsets_are_in_the_nfc_text() -> None:
    """Offsets refer to the NFC form even when the input was decomposed."""
    text = "va\u0300 UBND"
    result = normalize(text)
    [span] = result.spans
    assert unicodedata.normalize("NFC", text)[span.start : span.end] == "UBND"
    assert span.start == 3


# --------------------------------------------------------------------------- options


def test_options_round_trip_through_a_dict() -> None:
    """Stored options come back equal; unknown keys are ignored."""
    options = ReadingOptions(thousand="ngàn", zero_tens="lẻ", four_after_tens="bốn")
    data = {**options.as_dict(), "voice": "south"}
    assert ReadingOptions.from_dict(data) == options
    assert options.as_dict() == {
        "thousand": "ngàn",
        "zero_tens": "lẻ",
        "four_after_tens": "bốn",
        "code_policy": "skip",
    }


def test_options_accept_decomposed_values() -> None:
    """A value typed in decomposed Unicode is the same choice."""
    decomposed = unicodedata.normalize("NFD", "lẻ")
    assert ReadingOptions.from_dict({"zero_tens": decomposed}).zero_tens == "lẻ"


@pytest.mark.parametrize(
    "data",
    [{"thousand": "ngan"}, {"zero_tens": "le"}, {"four_after_tens": 4}, {"code_policy": "guess"}],
    ids=["thousand", "zero-tens", "four", "policy"],
)
def test_options_refuse_unknown_values_in_vietnamese(data: dict) -> None:
    """A bad value raises ValueError with a Vietnamese message naming the choices."""
    with pytest.raises(ValueError, match="không hợp lệ"):
        ReadingOptions.from_dict(data)


def test_southern_options_change_every_number() -> None:
    """ngàn, lẻ and bốn apply to dates and money alike."""
    options = ReadingOptions(thousand="ngàn", zero_tens="lẻ", four_after_tens="bốn")
    result = normalize("ngày 24/4/2005 chi 1.104.000 đồng", options=options)
    assert result.spoken == (
        "ngày hai mươi bốn tháng tư năm hai ngàn không trăm lẻ năm "
        "chi một triệu một trăm lẻ bốn ngàn đồng"
    )


# --------------------------------------------------------------------------- seed lexicon


def test_seed_lexicon_is_large_enough_and_has_the_required_terms() -> None:
    """The seed lexicon holds at least 60 terms including the common ones."""
    assert len(SEED_LEXICON_ENTRIES) >= 60
    required = [
        "UBND", "HĐND", "MTTQ", "MTTQVN", "BCĐ", "TT&TT", "VHTT&TT", "BCVT&CNTT", "TTYT", "BYT",
        "SYT", "TTg", "NĐ-CP", "QĐ", "KH", "CV", "THPT", "THCS", "CNTT", "BHYT", "BHXH", "CSGT",
        "PCCC", "ATTP", "KP", "TP", "TX", "UBMTTQ", "BCH", "CA", "QS", "TW", "TƯ", "TTVH-TT",
        "VHTT", "KT-XH", "GD&ĐT", "LĐTB&XH", "TN&MT", "NN&PTNT", "GTVT", "KH&ĐT", "PCTT", "TKCN",
        "PCD",
    ]  # fmt: skip
    assert [term for term in required if term not in SEED_LEXICON] == []
    assert all(note for _term, _spoken, note in SEED_LEXICON_ENTRIES)


def test_seed_lexicon_leaves_tbtttt_out() -> None:
    """TBTTTT is absent so the unknown-code warning shows on the founding dispatch."""
    assert "TBTTTT" not in SEED_LEXICON
    assert any(w.token == "TBTTTT" for w in normalize("Tiểu ban TBTTTT").warnings)


# --------------------------------------------------------------------------- whole documents


def test_seed_dispatch_normalises_without_warnings() -> None:
    """The founding dispatch reads cleanly once the unit's lexicon holds its codes."""
    text = DISPATCH.read_text(encoding="utf-8")
    result = normalize(text, DISPATCH_LEXICON)
    assert result.warnings == []
    check_offsets(text, result)
    out = result.spoken
    assert out.startswith("Ban Chỉ đạo PHÒNG CHỐNG DỊCH cô vít mười chín TỈNH BÌNH THUẬN.")
    assert "Số: tám trăm năm mươi lăm." in out
    assert f"ngày ba mươi tháng tám năm {YEAR_2021}" in out
    assert "về việc đẩy mạnh truyền thông" in out
    assert "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh" in out
    assert (
        f"Kế hoạch số một nghìn hai trăm tám mươi sáu ngày mười sáu tháng tư năm {YEAR_2021}" in out
    )
    assert f"giai đoạn {YEAR_2021} đến hai nghìn không trăm hai mươi hai;" in out
    assert "Nghị quyết số hai mươi mốt ngày hai mươi sáu tháng hai" in out
    assert "tải áp trên thiết bị" in out
    assert "bít chấm li gạch chéo nền tảng cô vít mười chín" in out
    assert "điện thoại: không chín ba bảy, chín ba, tám ba, tám ba để" in out
    assert "Độc lập, Tự do, Hạnh phúc" in out
    assert "CỘNG HÒA XÃ HỘI" in out
    for raw in ("/", "UBND", "BCĐ", "\n", "  ", "“", "…", "Covid"):
        assert raw not in out


def test_seed_dispatch_without_unit_lexicon_warns_about_its_codes() -> None:
    """With only the seed lexicon the dispatch's unknown codes are flagged."""
    result = normalize(DISPATCH.read_text(encoding="utf-8"))
    assert {w.token for w in result.warnings} == {"TT", "TTBCXB"}


def test_seed_dispatch_expanded_codes_read_the_subcommittee() -> None:
    """Expanding codes reads the dispatch's own number in full."""
    text = DISPATCH.read_text(encoding="utf-8")
    result = normalize(text, DISPATCH_LEXICON, ReadingOptions(code_policy="expand"))
    assert result.warnings == []
    assert (
        "Số: tám trăm năm mươi lăm, Ban Chỉ đạo, Tiểu ban Thông tin tuyên truyền" in result.spoken
    )


def test_announcement_sentence_reads_naturally() -> None:
    """A typical notice mixes document numbers, dates and times in one sentence."""
    text = (
        "Thông báo số 12/TB-UBND ngày 5/9/2021 về việc giãn cách từ 0h00 ngày 6/9/2021 "
        "đến 24h00 ngày 20/9/2021."
    )
    assert spoken(text) == (
        f"Thông báo số mười hai ngày năm tháng chín năm {YEAR_2021} về việc giãn cách từ "
        f"không giờ ngày sáu tháng chín năm {YEAR_2021} đến hai mươi tư giờ ngày hai mươi "
        f"tháng chín năm {YEAR_2021}."
    )


def test_long_text_is_normalised_correctly() -> None:
    """A 20,000-character text keeps every reading and every offset right."""
    paragraph = (
        "Ngày 16/4/2021, UBND tỉnh tổ chức tiêm vắc xin phòng Covid-19 cho 1.234 người, "
        "đạt 95,5% kế hoạch; liên hệ 0937 93 83 83.\n\n"
    )
    text = paragraph * (20_000 // len(paragraph) + 1)
    assert len(text) >= 20_000
    result = normalize(text)
    check_offsets(text, result)
    assert result.warnings == []
    expected = (
        f"Ngày mười sáu tháng tư năm {YEAR_2021}, Ủy ban nhân dân tỉnh tổ chức tiêm vắc xin "
        "phòng cô vít mười chín cho một nghìn hai trăm ba mươi tư người, đạt chín mươi lăm "
        "phẩy năm phần trăm kế hoạch; liên hệ không chín ba bảy, chín ba, tám ba, tám ba."
    )
    copies = text.count(paragraph)
    assert result.spoken == " ".join([expected] * copies)


# --------------------------------------------------------------------------- numbers next to commas

GLUED_NUMBERS = [
    case("các khu phố 1,2,3 và 4", "các khu phố một, hai, ba và bốn", "list-of-quarters"),
    case("tổ 1,2 và tổ 3", "tổ một, hai và tổ ba", "two-after-a-list-noun"),
    case("các ngày thứ 2,4,6", "các ngày thứ hai, tư, sáu", "weekdays"),
    case("tháng 1,2,3", "tháng một, hai, ba", "months"),
    case("giải 1,2,3", "giải nhất, nhì, ba", "prizes"),
    case("tăng 95,5%", "tăng chín mươi lăm phẩy năm phần trăm", "decimal-percent-stays"),
    case("3,5 triệu đồng", "ba phẩy năm triệu đồng", "decimal-stays"),
    case("còn 1,2", "còn một phẩy hai", "two-numbers-are-a-decimal"),
    case(
        "Hà Nội,15/12/2021",
        f"Hà Nội, ngày mười lăm tháng mười hai năm {YEAR_2021}",
        "date-after-a-glued-comma",
    ),
    case(
        "lúc 7h30,8h30",
        "lúc bảy giờ ba mươi phút, tám giờ ba mươi phút",
        "list-of-times",
    ),
]


@pytest.mark.parametrize(("written", "expected", "options"), GLUED_NUMBERS)
def test_numbers_glued_to_commas_are_read(written: str, expected: str, options: dict) -> None:
    result = normalize(written, None, ReadingOptions(**options))
    assert result.spoken == expected
    assert result.warnings == []
    check_offsets(written, result)


def test_commas_every_three_digits_are_one_number_and_warned() -> None:
    result = normalize("giá 1,234,567 đồng")
    assert result.spoken == ("giá một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy đồng")
    [warning] = result.warnings
    assert (warning.code, warning.token) == ("ambiguous_number", "1,234,567")
    assert "1.234.567" in warning.message


@pytest.mark.parametrize(
    ("written", "expected", "token"),
    [
        ("số 12.3,4", "số mười hai chấm ba, bốn", "4"),
        ("2.3.4.5,6", "hai chấm ba chấm bốn chấm năm, sáu", "6"),
    ],
)
def test_a_digit_no_rule_reads_is_read_as_a_number_and_warned(
    written: str, expected: str, token: str
) -> None:
    result = normalize(written)
    assert result.spoken == expected
    [warning] = result.warnings
    assert (warning.code, warning.token) == ("unread_digits", token)
    assert f"“{token}”" in warning.message
    check_offsets(written, result)


def test_a_lexicon_entry_that_speaks_digits_is_warned() -> None:
    result = normalize("Gọi F0 ngay", {"F0": "ép 0"})
    assert result.spoken == "Gọi ép 0 ngay"
    [warning] = result.warnings
    assert (warning.code, warning.token) == ("unread_digits", "F0")


def test_a_removed_character_after_a_paragraph_keeps_spans_in_order() -> None:
    result = normalize("a\n\n\u200b b")
    assert result.spoken == "a. b"
    assert [(s.start, s.spoken_start, s.spoken_end, s.rule) for s in result.spans] == [
        (1, 1, 2, "pause"),
        (3, 2, 2, "removed"),
    ]
