"""The varied dispatch texts of cases.py read as expected, field by field."""

from __future__ import annotations

import pytest

from app.dispatches.reader import FIELDS, MissingNumberError, read_file, read_text, require_number
from tests.dispatches.cases import CASES, COLUMNS, NO_NUMBER, Case
from tests.dispatches.render import render_columns_pdf


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_case_reads_as_expected(case: Case):
    dispatch = read_text(case.text)
    fields = dispatch.to_dict()
    wrong = {
        name: (fields[name], want) for name, want in case.expected.items() if fields[name] != want
    }
    assert not wrong, "\n".join(
        f"{name}: got {got!r}, want {want!r}" for name, (got, want) in wrong.items()
    )
    if case.points:
        assert [(p.label, p.level) for p in dispatch.points] == case.points
    for text in case.body_has:
        assert text in dispatch.text
    for text in case.body_lacks:
        assert text not in dispatch.text


def test_cases_cover_every_kind_asked_for():
    kinds = {read_text(case.text).kind for case in CASES}
    assert {"công văn", "kế hoạch", "thông báo", "chỉ thị", "quyết định"} <= kinds
    assert len(CASES) >= 10


def test_dispatch_without_number_is_reported_and_refused():
    dispatch = read_text(NO_NUMBER.text)
    assert [p.code for p in dispatch.problems][:1] == ["no_number"]
    with pytest.raises(MissingNumberError) as caught:
        require_number(dispatch)
    assert caught.value.code == "no_number"
    assert "không có số" in caught.value.message


def test_dispatch_with_number_passes_require_number():
    dispatch = read_text(CASES[0].text)
    assert require_number(dispatch) is dispatch
    assert dispatch.problems == []


def test_pdf_with_columns_side_by_side_reads():
    data = render_columns_pdf(**COLUMNS)
    fields = read_file(data, "cong-van.pdf").to_dict()
    assert {name: fields[name] for name in FIELDS if name != "cites"} == {
        "kind": "công văn",
        "number": 77,
        "code": "TTVHTT-NV",
        "issuer": "TRUNG TÂM VĂN HÓA - THÔNG TIN",
        "parent_issuer": "UBND HUYỆN HÀM TÂN",
        "place": "Hàm Tân",
        "date": "2021-09-08",
        "subject": "phát thanh lịch tiêm chủng",
        "urgency": "KHẨN",
        "addressees": ["Đài Truyền thanh các xã, thị trấn"],
        "distribution": ["Như trên", "Lưu: VT"],
        "signer_title": "GIÁM ĐỐC",
        "signer_name": "Trần Minh Quang",
        "contacts": [],
        "deadlines": [
            {
                "date": "2021-09-10",
                "time": None,
                "text": "Trung tâm đề nghị các đài phát lịch tiêm chủng mỗi ngày hai lần, báo "
                "cáo kết quả trước ngày 10/9/2021",
            }
        ],
        "text": "Trung tâm đề nghị các đài phát lịch tiêm chủng mỗi ngày hai lần, báo cáo kết "
        "quả trước ngày 10/9/2021./.",
    }
