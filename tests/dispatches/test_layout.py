"""Layout repair: paragraphs joined back, lists and headings kept, furniture and stamps out."""

from __future__ import annotations

import unicodedata

from app.dispatches.layout import fix_spacing, repair, stamp_of


def test_lines_broken_at_the_page_width_are_joined():
    layout = repair(
        "Thực hiện Kế hoạch số 12/KH-UBND của Ủy ban nhân\n"
        "dân huyện về tiêm chủng giai đoạn 2021-\n"
        "2022, Ủy ban nhân dân xã đề nghị:\n"
    )
    assert layout.paragraphs == [
        "Thực hiện Kế hoạch số 12/KH-UBND của Ủy ban nhân dân huyện về tiêm chủng giai đoạn "
        "2021-2022, Ủy ban nhân dân xã đề nghị:"
    ]


def test_list_items_and_headings_stay_on_their_own_lines():
    layout = repair(
        "I. MỤC ĐÍCH\n1. Phát thanh mỗi ngày\nba lần\na) Buổi sáng\n- Thôn 1\n+ Xóm Bến\n"
        "Đề nghị các thôn thực hiện\n"
    )
    assert layout.paragraphs == [
        "I. MỤC ĐÍCH",
        "1. Phát thanh mỗi ngày ba lần",
        "a) Buổi sáng",
        "- Thôn 1",
        "+ Xóm Bến",
        "Đề nghị các thôn thực hiện",
    ]


def test_blank_line_is_a_paragraph_break():
    assert repair("Tiêu đề không dấu chấm\n\ncòn đây là đoạn khác.").paragraphs == [
        "Tiêu đề không dấu chấm",
        "còn đây là đoạn khác.",
    ]


def test_stamp_dropped_mid_sentence_is_taken_out_and_reported():
    layout = repair("vận động người dân ủng hộ Quỹ vắc xin Việt\n\nHỎA TỐC\n\n\n\nNam.\n")
    assert layout.paragraphs == ["vận động người dân ủng hộ Quỹ vắc xin Việt Nam."]
    assert layout.stamps == ["HỎA TỐC"]
    assert layout.urgency == "HỎA TỐC"


def test_urgency_is_the_most_urgent_stamp_and_secrecy_apart():
    layout = repair("KHẨN\nTHƯỢNG KHẨN\nMẬT\nNội dung.")
    assert layout.urgency == "THƯỢNG KHẨN"
    assert layout.secrecy == "MẬT"
    assert layout.paragraphs == ["Nội dung."]
    assert stamp_of("[Hỏa tốc]") == ["HỎA TỐC"]
    assert stamp_of("KHẨN - MẬT") == ["KHẨN", "MẬT"]
    assert stamp_of("TỐI MẬT") == ["TỐI MẬT"]
    assert stamp_of("KHẨN TRƯƠNG THỰC HIỆN") is None


def test_page_numbers_and_running_heads_are_dropped_across_pages():
    head = "UBND huyện Tuy Phong - Kế hoạch 45/KH-UBND"
    pages = [
        f"{head}\nĐoạn một kéo dài sang\n",
        f"{head}\n- 2 -\ntrang sau vẫn là đoạn một.\nĐoạn hai.\nTrang 2/3",
        f"{head}\n3\nĐoạn ba.",
    ]
    layout = repair(pages)
    assert layout.paragraphs == [
        "Đoạn một kéo dài sang trang sau vẫn là đoạn một.",
        "Đoạn hai.",
        "Đoạn ba.",
    ]
    assert "- 2 -" in layout.dropped and "3" in layout.dropped and head in layout.dropped


def test_columns_run_together_are_split_at_wide_gaps():
    layout = repair("Nơi nhận:          KT. CHỦ TỊCH\n- Như trên;        PHÓ CHỦ TỊCH\n")
    assert layout.paragraphs == ["Nơi nhận:", "KT. CHỦ TỊCH", "- Như trên;", "PHÓ CHỦ TỊCH"]


def test_spacing_is_fixed_in_numbers_dates_and_text():
    assert fix_spacing("Số:     855   /BCĐ-TBTTTT") == "Số: 855/BCĐ-TBTTTT"
    assert fix_spacing("Bình Thuận, ngày   30    tháng  8  năm  2021") == (
        "Bình Thuận, ngày 30 tháng 8 năm 2021"
    )
    assert fix_spacing("tải  ứng dụng ( Sổ sức khỏe ) , xong ./.") == (
        "tải ứng dụng (Sổ sức khỏe), xong./."
    )
    layout = repair("Tiểu  ban  kính  đề  nghị  các  cơ  quan,  đơn  vị,  địa\nphương.")
    assert layout.paragraphs == ["Tiểu ban kính đề nghị các cơ quan, đơn vị, địa phương."]


def test_text_comes_out_in_nfc():
    layout = repair(unicodedata.normalize("NFD", "Kính gửi: Ủy ban nhân dân xã."))
    assert layout.text == "Kính gửi: Ủy ban nhân dân xã."
    assert unicodedata.is_normalized("NFC", layout.text)


def test_stamp_run_into_a_line_by_one_space_is_split_off():
    layout = repair("V/v phát thanh lịch tiêm KHẨN\nHỎA TỐC Số: 12/UBND-VX\nTIẾN ĐỘ KHẨN\n")
    assert layout.paragraphs == ["V/v phát thanh lịch tiêm", "Số: 12/UBND-VX", "TIẾN ĐỘ KHẨN"]
    assert layout.stamps == ["KHẨN", "HỎA TỐC"]
    assert layout.urgency == "HỎA TỐC"
