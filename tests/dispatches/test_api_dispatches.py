"""The dispatch endpoints of /api/v1: taking a dispatch in by file or text, reading it back,
searching, and the refusals as {error, message, fields} with nothing stored."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.auth.service import create_token
from app.dispatches import service
from app.dispatches.models import Dispatch
from app.extensions import db
from tests.dispatches.render import render_pdf, seed_text
from tests.dispatches.test_desk import make_confirmed_dispatch


@pytest.fixture(scope="module")
def seed_pdf() -> bytes:
    return render_pdf(seed_text())


@pytest.fixture
def api(app, users):
    """Call the API as a named user: api("writer").post(url, json=...)."""

    def caller(name: str):
        _, token = create_token(users[name], "test")
        client = app.test_client()

        class Call:
            def __getattr__(self, method):
                def call(url, **kwargs):
                    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                    return getattr(client, method)(url, headers=headers, **kwargs)

                return call

        return Call()

    return caller


def nothing_stored() -> bool:
    folder = service.originals_dir()
    files = list(folder.iterdir()) if folder.exists() else []
    return db.session.scalar(select(func.count()).select_from(Dispatch)) == 0 and not files


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error", "message", "fields"}
    assert body["error"] == code and body["message"]
    if field:
        assert field in body["fields"]
    return body


def test_upload_a_file_then_read_it_back(api, users, seed_pdf):
    response = api("writer").post(
        "/api/v1/dispatches",
        data={"file": (io.BytesIO(seed_pdf), "cv-855.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["duplicate"] is False
    assert (body["number"], body["code"], body["reference"]) == (
        855,
        "BCĐ-TBTTTT",
        "855/BCĐ-TBTTTT",
    )
    assert (body["date"], body["urgency"], body["suggested_priority"]) == (
        "2021-08-30",
        "HỎA TỐC",
        "priority",
    )
    assert body["status"] == "received" and body["unit"] == "D"
    assert body["file"]["name"] == "cv-855.pdf" and body["file"]["media_type"] == "application/pdf"
    assert body["cites"][0]["code"] == "KH-UBND"
    assert body["contacts"][1]["value"] == "0937938383"
    assert len(body["points"]) == 8 and body["scripts"] == []
    assert body["received_by"] == users["writer"].username
    got = api("operator").get(f"/api/v1/dispatches/{body['id']}")
    assert got.status_code == 200 and got.get_json()["subject"] == body["subject"]
    assert_error(api("outsider").get(f"/api/v1/dispatches/{body['id']}"), 404, "not_found")


def test_pasted_text_as_json_and_a_duplicate_answers_the_existing_one(api):
    first = api("writer").post("/api/v1/dispatches", json={"text": seed_text()})
    assert first.status_code == 201
    again = api("writer2").post("/api/v1/dispatches", json={"text": seed_text()})
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True
    assert again.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(Dispatch)) == 1


@pytest.mark.parametrize(
    ("payload", "code", "status"),
    [
        ({"text": "Kính gửi: UBND các xã.\nĐề nghị tuyên truyền."}, "no_number", 422),
        ({"text": "   "}, "empty", 422),
        ({"text": "x", "number": 5}, "unknown_fields", 400),
        ({"text": 5}, "validation_failed", 422),
        ({}, "validation_failed", 422),
    ],
)
def test_bad_json_is_refused_and_nothing_stored(api, payload, code, status):
    assert_error(api("writer").post("/api/v1/dispatches", json=payload), status, code)
    assert nothing_stored()


def test_bad_files_are_refused_with_the_readers_code(api, seed_pdf):
    writer = api("writer")

    def send(data: bytes, name: str, **fields):
        return writer.post(
            "/api/v1/dispatches",
            data={"file": (io.BytesIO(data), name), **fields},
            content_type="multipart/form-data",
        )

    locked = render_pdf(seed_text(), password="khoa")
    assert_error(send(locked, "khoa.pdf"), 422, "pdf_encrypted", "file")
    assert_error(send(seed_text().encode(), "cv.docx"), 422, "type_mismatch", "file")
    assert_error(send(seed_pdf, "cv.pdf", note="x"), 400, "unknown_fields")
    missing = writer.post("/api/v1/dispatches", data={}, content_type="multipart/form-data")
    assert_error(missing, 422, "validation_failed", "file")
    assert nothing_stored()


def test_file_over_the_request_limit_is_a_json_413(app, api, seed_pdf):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    big = seed_pdf + b"%" * (100 * 1024)
    response = api("writer").post(
        "/api/v1/dispatches",
        data={"file": (io.BytesIO(big), "lon.pdf")},
        content_type="multipart/form-data",
    )
    body = assert_error(response, 413, "file_too_large")
    assert "công văn được tải lên tối đa 20 MB" in body["message"]
    assert nothing_stored()


def test_operator_and_admin_cannot_take_dispatches_in(api):
    for name in ("operator", "admin"):
        response = api(name).post("/api/v1/dispatches", json={"text": seed_text()})
        assert_error(response, 403, "forbidden")
    assert nothing_stored()


def test_list_searches_without_accents_within_the_callers_units(api, users, org):
    dispatch, scripts = make_confirmed_dispatch(users["writer"])
    listed = api("supervisor").get("/api/v1/dispatches?q=SO+SUC+KHOE&status=confirmed")
    body = listed.get_json()
    assert listed.status_code == 200 and body["total"] == 1
    assert body["items"][0]["id"] == dispatch.id and "text" not in body["items"][0]
    assert api("writer").get("/api/v1/dispatches?q=xam+nhap+man").get_json()["total"] == 0
    assert api("outsider").get("/api/v1/dispatches").get_json()["total"] == 0
    assert_error(api("writer").get("/api/v1/dispatches?status=done"), 422, "validation_failed")
    assert_error(api("writer").get("/api/v1/dispatches?page=0"), 422, "validation_failed")
    assert_error(api("writer").get("/api/v1/dispatches?sort=x"), 400, "unknown_fields")
    detail = api("writer").get(f"/api/v1/dispatches/{dispatch.id}").get_json()
    assert [s["id"] for s in detail["scripts"]] == [s.id for s in scripts]
    assert detail["targets"] == ["D"] and detail["status"] == "confirmed"


def test_api_needs_a_token(app):
    response = app.test_client().get("/api/v1/dispatches")
    assert_error(response, 401, "unauthorized")
