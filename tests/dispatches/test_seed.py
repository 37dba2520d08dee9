"""The seed dispatch 855/BCĐ-TBTTTT reads the same, field by field, as text, as a PDF with a
text layer and as a DOCX made from it."""

from __future__ import annotations

import pytest

from app.dispatches.extract import extract_file
from app.dispatches.layout import repair
from app.dispatches.reader import read_file
from tests.dispatches.render import render_pdf, seed_docx, seed_text

SEED = {
    "kind": "công văn",
    "number": 855,
    "code": "BCĐ-TBTTTT",
    "issuer": "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN",
    "parent_issuer": "BCĐ PHÒNG CHỐNG DỊCH COVID-19 TỈNH BÌNH THUẬN",
    "place": "Bình Thuận",
    "date": "2021-08-30",
    "subject": "đẩy mạnh truyền thông chiến dịch tiêm vắc xin và cài đặt Sổ sức khỏe điện tử "
    "để theo dõi tiêm vắc xin phòng Covid-19",
    "urgency": "HỎA TỐC",
    "addressees": [
        "Ủy ban MTTQVN tỉnh",
        "Các sở, ban, ngành, hội, đoàn thể thuộc tỉnh",
        "Các cơ quan báo chí của tỉnh",
        "UBND các huyện, thị xã, thành phố",
    ],
    "distribution": [
        "Như trên",
        "UBND tỉnh (b/c)",
        "Ban Tuyên giáo Tỉnh ủy",
        "Sở Y tế - Thường trực BCĐ Covid-19 tỉnh",
        "Trung tâm thông tin -VPUBND tỉnh",
        "Trung tâm VHTT&TT các huyện, thị xã",
        "Đài Truyền thanh thành phố Phan Thiết",
        "Lãnh đạo Sở (qlvb)",
        "Phòng BCVT&CNTT",
        "Lưu: VT, TTBCXB, Trinh",
    ],
    "signer_title": "TRƯỞNG TIỂU BAN / PHÓ GIÁM ĐỐC SỞ TT VÀ TT",
    "signer_name": "Dương Tự",
    "cites": [
        {
            "kind": "kế hoạch",
            "number": 1286,
            "code": "KH-UBND",
            "date": "2021-04-16",
            "issuer": "Ủy ban Nhân dân tỉnh Bình Thuận",
        },
        {
            "kind": "kế hoạch",
            "number": 3476,
            "code": "KH-SYT",
            "date": "2021-08-26",
            "issuer": "Sở Y tế",
        },
        {
            "kind": "nghị quyết",
            "number": 21,
            "code": "NQ-CP",
            "date": "2021-02-26",
            "issuer": "Chính phủ",
        },
    ],
    "contacts": [
        {
            "type": "url",
            "value": "https://bit.ly/nentangcovid19",
            "text": "https://bit.ly/nentangcovid19",
            "name": None,
        },
        {"type": "phone", "value": "0937938383", "text": "0937 93 83 83", "name": "Võ Duy Phong"},
    ],
    "deadlines": [],
}

SOURCES = {
    "text": lambda: (seed_text().encode("utf-8"), "dispatch.txt"),
    "pdf": lambda: (render_pdf(seed_text()), "dispatch.pdf"),
    "docx": lambda: (seed_docx(), "dispatch.docx"),
}


@pytest.fixture(params=sorted(SOURCES), scope="module")
def seed(request):
    """The seed read from one of its forms."""
    data, name = SOURCES[request.param]()
    return read_file(data, name)


@pytest.mark.parametrize("name", sorted(SEED))
def test_seed_field(seed, name):
    assert seed.to_dict()[name] == SEED[name]


def test_seed_body_is_repaired(seed):
    lines = seed.text.split("\n")
    assert lines[0].startswith("Thực hiện Kế hoạch số 1286/KH-UBND ngày 16/4/2021 của Ủy ban")
    assert "giai đoạn 2021-2022;" in lines[0]
    # The stamp that fell between "Việt" and "Nam." is gone and the sentence whole again.
    assert any(line.endswith("ủng hộ Quỹ vắc xin phòng Covid-19 Việt Nam.") for line in lines)
    assert "HỎA TỐC" not in seed.text
    assert "Tiểu ban Thông tin Tuyên truyền kính đề nghị cac cơ quan" in seed.text
    assert "  " not in seed.text
    assert lines[-1].endswith("tốt cac nội dung trên./.")
    assert len(lines) == 14
    assert "Nơi nhận" not in seed.text and "Trân trọng" not in seed.text


def test_seed_points_are_the_numbered_and_dashed_items(seed):
    assert [(point.label, point.level) for point in seed.points] == [
        ("1.", 0),
        ("2.", 0),
        ("-", 1),
        ("-", 1),
        ("-", 1),
        ("-", 1),
        ("-", 1),
        ("3.", 0),
    ]
    assert seed.points[3].text.startswith("Truyền thông và vận động người dân ủng hộ")
    assert seed.points[-1].text.endswith("các điểm công cộng… trên địa bàn quản lý.")


def test_seed_reference_and_no_problems(seed):
    assert seed.reference == "Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021"
    assert seed.problems == []
    assert seed.secrecy is None
    assert seed.ocr is False


def test_seed_pdf_has_pages_and_loses_its_page_numbers():
    extracted = extract_file(render_pdf(seed_text()), "seed.pdf")
    assert extracted.kind == "pdf" and extracted.page_count == 3
    assert extracted.pages[1].lstrip().startswith("2\n")
    layout = repair(extracted.pages)
    assert layout.dropped == ["2", "3"]
    assert layout.stamps == ["HỎA TỐC"]
