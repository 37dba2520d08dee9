"""The review workflow: draft → submitted → approved or rejected → archived."""

import threading

import pytest
from sqlalchemy import text

from app.audit.models import AuditEvent
from app.core.errors import Conflict, PermissionDenied, ValidationError
from app.extensions import db
from app.scripts import service
from app.scripts.models import Decision, Script, ScriptReview, ScriptStatus
from tests.factories import make_script, submit


def _edit(script, actor, **changes):
    """Save an edit through the service with the script's current revision."""
    data = service.ScriptInput(
        title=changes.pop("title", script.title),
        body=changes.pop("body", script.current_version.body),
        unit=script.unit,
        priority=script.priority,
        campaign=script.campaign,
        targets=list(script.targets),
        **changes,
    )
    return service.update_script(actor, script, data, script.revision)


def test_new_script_is_a_draft_with_version_one(users, org):
    script = make_script(users["writer"], org.district)
    assert script.status == ScriptStatus.DRAFT
    assert [v.number for v in script.versions] == [1]
    assert script.current_version.author_id == users["writer"].id
    assert len(script.current_version.sha256) == 64
    assert [u.id for u in script.targets] == [org.district.id]


def test_body_edit_makes_new_immutable_version(users, org):
    script = make_script(users["writer"], org.district, body="Bản đầu.")
    first = script.current_version
    _edit(script, users["writer2"], body="Bản thứ hai.")
    assert script.version_number == 2
    assert [v.body for v in script.versions] == ["Bản đầu.", "Bản thứ hai."]
    assert first.body == "Bản đầu."
    assert script.current_version.author_id == users["writer2"].id
    assert script.current_version.sha256 == service.body_sha256("Bản thứ hai.")


def test_metadata_only_edit_keeps_version_number(users, org):
    script = make_script(users["writer"], org.district)
    _, changed = _edit(script, users["writer"], title="Tiêu đề mới")
    assert changed
    assert script.version_number == 1
    assert script.title == "Tiêu đề mới"


def test_saving_unchanged_script_changes_nothing(users, org):
    script = make_script(users["writer"], org.district)
    revision = script.revision
    _, changed = _edit(script, users["writer"])
    assert not changed
    assert script.revision == revision


def test_supervisor_approves_submitted_version(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    assert script.status == ScriptStatus.SUBMITTED
    service.approve_script(users["supervisor"], script, script.current_version_id)
    assert script.status == ScriptStatus.APPROVED
    assert script.approved_version_id == script.current_version_id
    review = script.reviews[-1]
    assert (review.decision, review.reviewer_id) == (Decision.APPROVED, users["supervisor"].id)


def test_supervisor_of_the_unit_itself_may_approve(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.approve_script(users["supervisor2"], script)
    assert script.status == ScriptStatus.APPROVED


def test_supervisor_of_another_branch_cannot_approve(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    with pytest.raises(Exception, match="ngoài phạm vi"):
        service.approve_script(users["outside_supervisor"], script)
    assert script.status == ScriptStatus.SUBMITTED


def test_supervisor_of_a_lower_unit_cannot_approve_province_script(users, org):
    script = make_script(users["supervisor"], org.province)
    submit(users["supervisor"], script)
    with pytest.raises(Exception, match="ngoài phạm vi"):
        service.approve_script(users["supervisor2"], script)


def test_writer_cannot_approve(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    with pytest.raises(PermissionDenied):
        service.approve_script(users["writer2"], script)
    assert script.status == ScriptStatus.SUBMITTED


def test_supervisor_cannot_approve_own_version(users, org):
    script = make_script(users["supervisor2"], org.district)
    submit(users["supervisor2"], script)
    with pytest.raises(PermissionDenied, match="chính mình"):
        service.approve_script(users["supervisor2"], script)
    db.session.rollback()
    assert db.session.get(Script, script.id).status == ScriptStatus.SUBMITTED
    assert not db.session.query(ScriptReview).count()


def test_supervisor_may_approve_version_written_by_someone_else_after_own_edit(users, org):
    script = make_script(users["supervisor2"], org.district, body="Bản của người duyệt.")
    _edit(script, users["writer"], body="Bản của người soạn.")
    submit(users["writer"], script)
    service.approve_script(users["supervisor2"], script)
    assert script.status == ScriptStatus.APPROVED


def test_approving_twice_is_refused(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    with pytest.raises(Conflict, match="đã được duyệt"):
        service.approve_script(users["supervisor2"], script)
    assert db.session.query(ScriptReview).count() == 1


def test_rejection_needs_a_reason(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    for reason in ["", "   ", "ok"]:
        with pytest.raises(ValidationError) as info:
            service.reject_script(users["supervisor"], script, reason)
        assert "reason" in info.value.fields
    assert script.status == ScriptStatus.SUBMITTED
    service.reject_script(users["supervisor"], script, "Thiếu số điện thoại trạm y tế.")
    assert script.status == ScriptStatus.REJECTED
    assert script.reviews[-1].reason == "Thiếu số điện thoại trạm y tế."


def test_rejected_script_can_be_fixed_and_resubmitted(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.reject_script(users["supervisor"], script, "Sửa lại câu mở đầu.")
    _edit(script, users["writer"], body="Câu mở đầu mới.")
    assert script.status == ScriptStatus.DRAFT
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    assert [r.decision for r in script.reviews] == [Decision.REJECTED, Decision.APPROVED]
    assert [r.version.number for r in script.reviews] == [1, 2]


def test_edit_after_approval_makes_new_draft_and_approval_does_not_carry_over(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    approved_id = script.current_version_id
    _edit(script, users["writer"], body="Nội dung sửa sau khi duyệt.")
    assert script.status == ScriptStatus.DRAFT
    assert script.version_number == 2
    assert script.approved_version_id == approved_id
    assert script.current_version_id != script.approved_version_id


def test_metadata_edit_after_approval_needs_new_approval(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    _edit(script, users["writer"], title="Tiêu đề đổi sau khi duyệt")
    assert script.status == ScriptStatus.DRAFT


def test_edit_while_submitted_withdraws_the_submission(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    _edit(script, users["writer"], body="Sửa khi đang chờ duyệt.")
    assert script.status == ScriptStatus.DRAFT
    with pytest.raises(Conflict):
        service.approve_script(users["supervisor"], script)


def test_approval_of_a_superseded_version_is_refused(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    shown_version = script.current_version_id
    _edit(script, users["writer"], body="Bản mới hơn.")
    submit(users["writer"], script)
    with pytest.raises(Conflict, match="phiên bản mới"):
        service.approve_script(users["supervisor"], script, shown_version)
    assert script.status == ScriptStatus.SUBMITTED


def test_submitting_twice_is_refused(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    with pytest.raises(Conflict, match="đã được gửi"):
        submit(users["writer"], script)
    assert script.submission_seq == 1


def test_archived_script_cannot_be_edited_or_submitted(users, org):
    script = make_script(users["writer"], org.district)
    service.archive_script(users["supervisor"], script)
    assert script.status == ScriptStatus.ARCHIVED
    with pytest.raises(ValidationError, match="lưu trữ"):
        _edit(script, users["writer"], body="Sửa bản lưu trữ.")
    with pytest.raises(ValidationError):
        submit(users["writer"], script)
    assert script.version_number == 1


def test_writer_cannot_archive(users, org):
    script = make_script(users["writer"], org.district)
    with pytest.raises(PermissionDenied):
        service.archive_script(users["writer"], script)


def test_every_transition_is_in_the_audit_trail(users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    service.reject_script(users["supervisor"], script, "Cần nêu rõ địa điểm tiêm.")
    _edit(script, users["writer"], body="Địa điểm: trạm y tế phường.")
    submit(users["writer"], script)
    service.approve_script(users["supervisor"], script)
    service.archive_script(users["supervisor"], script)
    events = (
        db.session.query(AuditEvent)
        .filter_by(object_type="script", object_id=script.id)
        .order_by(AuditEvent.id)
        .all()
    )
    assert [(e.action, e.actor_name) for e in events] == [
        ("script.create", "writer"),
        ("script.submit", "writer"),
        ("script.reject", "supervisor"),
        ("script.update", "writer"),
        ("script.submit", "writer"),
        ("script.approve", "supervisor"),
        ("script.archive", "supervisor"),
    ]
    assert events[5].details["sha256"] == script.approved_version.sha256


def test_two_supervisors_approving_at_once_record_one_decision(app, users, org):
    """The second approver works from a stale copy loaded before the first one committed."""
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    script_id, second_id = script.id, users["supervisor2"].id
    loaded, first_done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def second_supervisor():
        with app.app_context():
            from app.auth.models import User

            stale = db.session.get(Script, script_id)
            _ = stale.current_version, stale.unit
            actor = db.session.get(User, second_id)
            _ = actor.unit
            loaded.set()
            first_done.wait(timeout=30)
            try:
                service.approve_script(actor, stale)
                outcome["result"] = "approved"
            except Conflict as exc:
                outcome["result"] = exc.message
            finally:
                db.session.remove()

    worker = threading.Thread(target=second_supervisor)
    worker.start()
    assert loaded.wait(timeout=30)
    service.approve_script(users["supervisor"], script)
    first_done.set()
    worker.join(timeout=30)
    assert "duyệt" in str(outcome["result"]) and outcome["result"] != "approved"
    db.session.expire_all()
    reviews = db.session.query(ScriptReview).filter_by(script_id=script_id).all()
    assert [(r.decision, r.reviewer_id) for r in reviews] == [
        (Decision.APPROVED, users["supervisor"].id)
    ]


def _other_connection(sql: str, **params) -> None:
    """Write through a second connection, as another web worker would."""
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_edit_racing_a_commit_by_another_worker_is_a_conflict(users, org):
    script = make_script(users["writer"], org.district, body="Gốc.")
    seen_revision = script.revision
    _other_connection("UPDATE scripts SET revision = revision + 1 WHERE id = :id", id=script.id)
    data = service.ScriptInput(
        title=script.title,
        body="Sửa muộn.",
        unit=org.district,
        priority=script.priority,
        targets=[org.district],
    )
    with pytest.raises(Conflict, match="vừa được người khác thay đổi"):
        service.update_script(users["writer2"], script, data, seen_revision)
    db.session.expire_all()
    assert [v.body for v in script.versions] == ["Gốc."]


def test_version_number_clash_at_flush_is_a_conflict_not_a_crash(users, org, clock):
    script = make_script(users["writer"], org.district, body="Gốc.")
    _other_connection(
        "INSERT INTO script_versions (script_id, number, body, sha256, origin, created_at) "
        "VALUES (:id, 2, 'Của người khác.', 'x', 'web', :at)",
        id=script.id,
        at=clock.now().replace(tzinfo=None),
    )
    data = service.ScriptInput(
        title=script.title,
        body="Của tôi.",
        unit=org.district,
        priority=script.priority,
        targets=[org.district],
    )
    with pytest.raises(Conflict, match="vừa được người khác thay đổi"):
        service.update_script(users["writer2"], script, data, script.revision)
    db.session.expire_all()
    assert db.session.get(Script, script.id).version_number == 1


def test_race_at_flush_shows_the_editor_with_text_kept(login_as, users, org):
    script = make_script(users["writer"], org.district, body="Gốc.")
    client = login_as("writer2")
    client.get(f"/scripts/{script.id}/edit")
    revision = script.revision
    _other_connection("UPDATE scripts SET revision = revision + 1 WHERE id = :id", id=script.id)
    response = client.post(
        f"/scripts/{script.id}/edit",
        data={
            "title": script.title,
            "body": "Văn bản không được mất.",
            "priority": "normal",
            "unit_id": org.district.id,
            "targets": [org.district.id],
            "revision": revision,
        },
    )
    assert response.status_code == 409
    assert "Văn bản không được mất." in response.get_data(as_text=True)


def test_target_set_by_higher_supervisor_is_kept_when_writer_edits(login_as, users, org):
    script = make_script(users["supervisor"], org.district, body="Gốc.")
    script.targets = [org.district, org.other_district]
    db.session.commit()
    data = service.ScriptInput(
        title=script.title,
        body="Sửa.",
        unit=org.district,
        priority=script.priority,
        targets=[org.district, org.other_district],
    )
    service.update_script(users["writer"], script, data, script.revision)
    assert sorted(u.code for u in script.targets) == ["D", "D2"]
    removal = service.ScriptInput(
        title=script.title,
        body="Sửa.",
        unit=org.district,
        priority=script.priority,
        targets=[org.district],
    )
    with pytest.raises(ValidationError, match="Thị xã La Gi"):
        service.update_script(users["writer"], script, removal, script.revision)
