"""CSRF protection on every form."""

import re

import pytest

from app.extensions import db
from app.scripts.models import Script
from tests.conftest import build_test_app
from tests.factories import PASSWORD, make_unit, make_user


@pytest.fixture
def csrf_app(tmp_path, clock):
    """An app with CSRF checks on, as in production."""
    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page)
    return match.group(1)


def test_login_without_csrf_token_is_refused(csrf_app):
    unit = make_unit("D", "Phan Thiết")
    make_user(unit, username="writer")
    response = csrf_app.test_client().post(
        "/login", data={"username": "writer", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_forged_csrf_token_is_refused_and_nothing_saved(csrf_app):
    unit = make_unit("D", "Phan Thiết")
    make_user(unit, username="writer")
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    assert (
        client.post(
            "/login", data={"username": "writer", "password": PASSWORD, "csrf_token": token}
        ).status_code
        == 302
    )
    form = {
        "title": "Giả mạo",
        "body": "Nội dung",
        "priority": "normal",
        "unit_id": unit.id,
        "targets": [unit.id],
    }
    forged = client.post("/scripts/new", data={**form, "csrf_token": "forged-token"})
    page = forged.get_data(as_text=True)
    assert forged.status_code == 400
    assert "mã chống giả mạo CSRF sai" in page
    missing = client.post("/scripts/new", data=form)
    assert missing.status_code == 400
    assert db.session.query(Script).count() == 0
    real = _token(client.get("/scripts/new").get_data(as_text=True))
    assert client.post("/scripts/new", data={**form, "csrf_token": real}).status_code == 302


def test_logout_button_carries_csrf_token(csrf_app):
    unit = make_unit("D", "Phan Thiết")
    make_user(unit, username="writer")
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "writer", "password": PASSWORD, "csrf_token": token})
    assert client.post("/logout").status_code == 400
    page = client.get("/scripts").get_data(as_text=True)
    assert 'action="/logout"' in page
    assert client.post("/logout", data={"csrf_token": _token(page)}).status_code == 302
