"""The audit trail is append-only and visible to supervisors and admins of the subtree."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEvent
from app.core.models import AppendOnlyViolation
from app.extensions import db
from app.scripts import service
from app.scripts.models import ScriptReview, ScriptVersion
from tests.factories import make_script, submit


def test_audit_events_cannot_be_changed_or_deleted(users, org):
    make_script(users["writer"], org.district)
    event = db.session.query(AuditEvent).first()
    event.summary = "sửa lén"
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AppendOnlyViolation):
        db.session.delete(db.session.query(AuditEvent).first())
        db.session.flush()
    db.session.rollback()


def test_versions_and_reviews_are_append_only(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    db.session.query(ScriptVersion).one().body = "đổi nội dung đã duyệt"
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()
    db.session.rollback()
    db.session.query(ScriptReview).one().reason = "x"
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()
    db.session.rollback()


def test_supervisor_sees_audit_of_subtree_only(login_as, users, org):
    make_script(users["writer"], org.district, title="Trong phạm vi")
    make_script(users["outsider"], org.other_district, title="Của La Gi")
    page = login_as("supervisor2").get("/audit/").get_data(as_text=True)
    assert "Trong phạm vi" in page
    assert "Của La Gi" not in page
    assert "Của La Gi" in login_as("supervisor").get("/audit/").get_data(as_text=True)


def test_audit_filters_by_user_action_and_object(login_as, users, org):
    first = make_script(users["writer"], org.district, title="Bài một")
    make_script(users["writer2"], org.district, title="Bài hai")
    submit(users["writer"], first)
    client = login_as("supervisor")

    def summaries(query):
        page = client.get(f"/audit/?{query}").get_data(as_text=True)
        return [line for line in ("Bài một", "Bài hai") if line in page]

    assert summaries("actor=writer2") == ["Bài hai"]
    assert summaries("action=script.submit") == ["Bài một"]
    assert summaries(f"object_type=script&object_id={first.id}") == ["Bài một"]


def test_admin_changes_are_audited_with_address(login_as, users, org):
    login_as("admin").post(
        f"/admin/users/{users['writer'].id}",
        data={
            "username": "writer",
            "full_name": "Tên mới",
            "role": "writer",
            "unit_id": org.commune.id,
            "active": "y",
        },
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    event = db.session.query(AuditEvent).filter_by(action="user.update").one()
    assert event.actor_name == "admin"
    assert event.ip == "10.0.0.7"
    assert event.details["changed"]["unit"] == ["D", "C"]


@pytest.mark.parametrize("table", ["audit_events", "script_versions", "script_reviews"])
def test_database_itself_refuses_changes_to_append_only_tables(users, org, table):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar() > 0


def test_audit_filters_by_vietnamese_dates(login_as, users, org, clock):
    from datetime import UTC, datetime

    client = login_as("supervisor")
    # 23:30 on 27/11 in Vietnam is 16:30 UTC: still the 27th; 00:10 on the 28th is the 28th.
    clock.current = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    make_script(users["writer"], org.district, title="Bài tối 27")
    clock.current = datetime(2026, 11, 27, 17, 10, tzinfo=UTC)
    make_script(users["writer"], org.district, title="Bài sáng 28")
    clock.current = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    make_script(users["writer2"], org.district, title="Bài ngày 30")

    def summaries(query):
        response = client.get(f"/audit/?{query}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        return [t for t in ("Bài tối 27", "Bài sáng 28", "Bài ngày 30") if t in page]

    assert summaries("date_to=2026-11-27") == ["Bài tối 27"]
    assert summaries("date_from=2026-11-28&date_to=2026-11-28") == ["Bài sáng 28"]
    assert summaries("date_from=28/11/2026") == ["Bài sáng 28", "Bài ngày 30"]
    # Dates combine with the other filters.
    assert summaries("date_from=2026-11-28&actor=writer") == ["Bài sáng 28"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=31/02/2026", "Ngày “31/02/2026” không hợp lệ"),
        ("date_to=hôm-nay", "Ngày “hôm-nay” không hợp lệ"),
        ("date_from=2026-11-28&date_to=2026-11-27", "Ngày kết thúc phải sau hoặc bằng ngày"),
    ],
)
def test_bad_audit_dates_are_refused_in_vietnamese(login_as, users, org, query, message):
    make_script(users["writer"], org.district, title="Bài một")
    response = login_as("supervisor").get(f"/audit/?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert "Bài một" not in page  # no unfiltered list passed off as the filtered one


@pytest.mark.parametrize("object_id", ["²", "①", "9" * 30])
def test_an_object_id_in_other_digits_is_ignored_not_a_server_error(
    login_as, users, org, object_id
):
    make_script(users["writer"], org.district, title="Bài một")
    response = login_as("supervisor").get(f"/audit/?object_id={object_id}")
    assert response.status_code == 200
    assert "Bài một" in response.get_data(as_text=True)
