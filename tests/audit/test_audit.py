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
