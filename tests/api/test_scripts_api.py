"""The JSON API for scripts: token auth, CRUD, workflow, errors as {error, message, fields}."""

import pytest

from app.extensions import db
from app.scripts.models import Script, ScriptStatus, ScriptVersion
from app.speech import service as speech
from tests.api.conftest import assert_error
from tests.factories import make_script, submit

NEW = {
    "title": "Kêu gọi ủng hộ Quỹ vắc xin",
    "body": "Thưa bà con, hãy chung tay ủng hộ Quỹ vắc xin phòng Covid-19.",
    "campaign": "Tiêm chủng COVID-19 đợt 6",
    "priority": "normal",
    "unit": "D",
    "targets": ["D", "C"],
    "source": {"kind": "Công văn", "number": "855/BCĐ-TBTTTT", "date": "2021-08-30"},
    "valid_from": "2021-08-30",
    "valid_until": "2021-12-31",
}


def test_full_workflow_through_the_api(api):
    writer, supervisor = api("writer"), api("supervisor")
    created = writer.post("/api/v1/scripts", json=NEW)
    assert created.status_code == 201
    script = created.get_json()
    assert script["status"] == "draft"
    assert script["current_version"]["number"] == 1
    assert script["targets"] == ["C", "D"]
    assert script["source"]["date"] == "2021-08-30"
    sid = script["id"]
    updated = writer.patch(
        f"/api/v1/scripts/{sid}", json={"body": "Nội dung mới.", "revision": script["revision"]}
    ).get_json()
    assert updated["version"] == 2
    assert updated["title"] == NEW["title"]
    refused = writer.post(f"/api/v1/scripts/{sid}/submit")
    assert_error(refused, 422, "validation_failed", "render")
    started = writer.post(f"/api/v1/scripts/{sid}/renders", json={"voice": "vi-vn-x-central"})
    assert started.status_code == 202
    render_id = started.get_json()["id"]
    speech.process_next_render()
    render = writer.get(f"/api/v1/renders/{render_id}").get_json()
    assert (render["status"], render["voice"]) == ("done", "vi-vn-x-central")
    assert writer.post(f"/api/v1/scripts/{sid}/submit").get_json()["status"] == "submitted"
    approved = supervisor.post(f"/api/v1/scripts/{sid}/approve", json={"version": 2}).get_json()
    assert approved["status"] == "approved"
    assert approved["approved_version"] == 2
    assert approved["approved_render"] == render_id
    assert approved["reviews"][0]["reviewer"] == "supervisor"
    assert approved["reviews"][0]["audio_sha256"] == render["sha256"]
    listed = writer.get("/api/v1/scripts?q=quy vac xin&status=approved").get_json()
    assert [s["id"] for s in listed["items"]] == [sid]
    assert listed["total"] == 1


def test_reject_through_the_api_needs_reason(api, users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    supervisor = api("supervisor")
    assert_error(
        supervisor.post(f"/api/v1/scripts/{script.id}/reject", json={}),
        422,
        "validation_failed",
        "reason",
    )
    assert script.status == ScriptStatus.SUBMITTED
    rejected = supervisor.post(
        f"/api/v1/scripts/{script.id}/reject", json={"reason": "Thiếu địa điểm tiêm."}
    )
    assert rejected.get_json()["reviews"][-1]["reason"] == "Thiếu địa điểm tiêm."


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**NEW, "body": "   "}, "body"),
        ({**NEW, "body": "x" * 20_001}, "body"),
        ({**NEW, "title": ""}, "title"),
        ({**NEW, "valid_from": "2021-09-10", "valid_until": "2021-09-01"}, "valid_until"),
        ({**NEW, "valid_from": "10/09/2021"}, "valid_from"),
        ({**NEW, "priority": "rất gấp"}, "priority"),
        ({**NEW, "unit": "KHONG-CO"}, "unit"),
        ({**NEW, "targets": ["D2"]}, "targets"),
        ({**NEW, "body": 42}, "body"),
    ],
)
def test_bad_create_payload_gets_field_errors_and_saves_nothing(api, payload, field):
    assert_error(
        api("writer").post("/api/v1/scripts", json=payload), 422, "validation_failed", field
    )
    assert db.session.query(Script).count() == 0


def test_non_json_body_is_refused(api):
    response = api("writer").post("/api/v1/scripts", data="title=x")
    assert_error(response, 422, "validation_failed")


def test_update_needs_current_revision(api, users, org):
    script = make_script(users["writer"], org.district, body="Gốc.")
    writer = api("writer")
    assert_error(
        writer.patch(f"/api/v1/scripts/{script.id}", json={"body": "Mới."}),
        422,
        "validation_failed",
        "revision",
    )
    stale = writer.patch(
        f"/api/v1/scripts/{script.id}", json={"body": "Mới.", "revision": script.revision - 1}
    )
    assert_error(stale, 409, "conflict", "revision")
    assert [v.body for v in script.versions] == ["Gốc."]


def test_approving_twice_through_the_api_is_a_conflict(api, users, org):
    script = make_script(users["writer"], org.district)
    submit(users["writer"], script)
    api("supervisor").post(f"/api/v1/scripts/{script.id}/approve")
    again = api("supervisor2").post(f"/api/v1/scripts/{script.id}/approve")
    assert_error(again, 409, "conflict")
    assert len(script.reviews) == 1


def test_approving_own_version_through_the_api_is_forbidden(api, users, org):
    script = make_script(users["supervisor2"], org.district)
    submit(users["supervisor2"], script)
    assert_error(api("supervisor2").post(f"/api/v1/scripts/{script.id}/approve"), 403, "forbidden")
    assert script.status == ScriptStatus.SUBMITTED


def test_other_units_script_is_not_found_for_writer(api, users, org):
    script = make_script(users["writer"], org.district, body="Gốc.")
    outsider = api("outsider")
    assert_error(outsider.get(f"/api/v1/scripts/{script.id}"), 404, "not_found")
    assert_error(
        outsider.patch(f"/api/v1/scripts/{script.id}", json={"body": "X", "revision": 1}),
        404,
        "not_found",
    )
    assert_error(outsider.post(f"/api/v1/scripts/{script.id}/submit"), 404, "not_found")
    assert db.session.query(ScriptVersion).count() == 1
    assert outsider.get("/api/v1/scripts").get_json()["items"] == []


def test_missing_or_malformed_token_is_unauthorised(client, users):
    for headers in [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer loa_khong-ton-tai"},
    ]:
        response = client.get("/api/v1/scripts", headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_cookie_does_not_authenticate_the_api(login_as):
    response = login_as("writer").post("/api/v1/scripts", json=NEW)
    assert_error(response, 401, "unauthorized")
    assert db.session.query(Script).count() == 0


def test_unknown_api_path_answers_json(api):
    assert_error(api("writer").get("/api/v1/khong-co"), 404, "http_404")


def test_list_validates_filters(api):
    body = assert_error(
        api("writer").get("/api/v1/scripts?status=xyz&page=0&per_page=500"),
        422,
        "validation_failed",
    )
    assert set(body["fields"]) == {"status", "page", "per_page"}
