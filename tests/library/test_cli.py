"""`flask library add`: files taken in from the station PC as a named user."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.library.models import LibraryItem, LibraryKind
from tests.library.test_service import nothing_stored


def test_add_takes_files_in_and_reports_each_one(app, runner, users, sounds):
    result = runner.invoke(
        args=[
            "library",
            "add",
            "--user",
            "operator",
            "--kind",
            "bed",
            str(sounds["bed"]),
            str(sounds["quiet"]),
            str(sounds["garbage"]),
        ]
    )
    assert result.exit_code == 1, result.output
    assert "mục #1 “nhac-nen” (Nhạc nền)" in result.output and "LUFS" in result.output
    assert "cảnh báo: Bản ghi rất nhỏ tiếng" in result.output
    assert "rac.wav: không thêm được:" in result.output
    items = db.session.scalars(select(LibraryItem).order_by(LibraryItem.id)).all()
    assert [(i.title, i.kind) for i in items] == [
        ("nhac-nen", LibraryKind.BED),
        ("nho", LibraryKind.BED),
    ]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "library.add"))
    assert event.actor_name == "operator" and event.details["origin"] == "cli"
    again = runner.invoke(
        args=["library", "add", "--user", "writer", "--kind", "bed", str(sounds["bed"])]
    )
    assert again.exit_code == 0 and "đã có trong thư viện (mục #1" in again.output


def test_add_refuses_a_supervisor_and_unknown_people(app, runner, users, sounds):
    denied = runner.invoke(
        args=["library", "add", "--user", "supervisor", "--kind", "jingle", str(sounds["jingle"])]
    )
    assert denied.exit_code == 1 and "không thêm được" in denied.output
    unknown = runner.invoke(
        args=["library", "add", "--user", "ai-do", "--kind", "jingle", str(sounds["jingle"])]
    )
    assert unknown.exit_code != 0 and "Không có người dùng “ai-do”" in unknown.output
    assert nothing_stored()
