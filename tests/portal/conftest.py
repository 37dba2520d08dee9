"""Helpers for the portal tests: scripts in every state, with real (short WAV) audio."""

from __future__ import annotations

from datetime import date

import pytest

from app.scripts.models import Script
from app.scripts.service import approve_script, archive_script, reject_script
from tests.factories import make_script, submit

# The test clock stands at 08:00 on 27/11/2026 in Vietnam.
TODAY = date(2026, 11, 27)
# Written text the normaliser reads differently ("ngày ba mươi tháng tám…"): the portal shows
# it as written.
WRITTEN = "Thực hiện Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021, UBND phường thông báo"


def text(response) -> str:
    """A response body as text."""
    return response.get_data(as_text=True)


@pytest.fixture
def make(users, org):
    """Make a script of the district (or another unit) in a given state:
    draft, submitted, approved, rejected or archived."""

    def _make(state: str = "approved", title: str = "Thông báo tiêm chủng", **fields) -> Script:
        unit = fields.pop("unit", org.district)
        writer = fields.pop("writer", users["writer"])
        body = fields.pop("body", f"{WRITTEN} về “{title}”. Bà con lưu ý.")
        script = make_script(writer, unit, title=title, body=body, **fields)
        if state == "draft":
            return script
        submit(writer, script)
        if state == "submitted":
            return script
        if state == "rejected":
            return reject_script(users["supervisor"], script, "Cần sửa lại câu mở đầu.")
        approve_script(users["supervisor"], script)
        if state == "archived":
            return archive_script(users["supervisor"], script)
        return script

    return _make
