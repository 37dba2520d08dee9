"""The admin's feed tokens page: a token per unit shown once and stored hashed, revocable,
audited, for admins of the unit's subtree only, with CSRF on its forms."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.portal.models import FeedToken
from tests.auth.test_csrf import _token
from tests.conftest import build_test_app, login
from tests.factories import PASSWORD, make_unit, make_user
from tests.portal.conftest import text

PAGE = "/admin/feed-tokens"


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(FeedToken))


def test_admin_issues_a_token_shown_once_that_reads_the_feed(login_as, org, client):
    admin = login_as("admin")
    page = text(admin.get(PAGE))
    assert "Mã đọc nguồn tin" in page and "Chưa cấp mã nào." in page
    response = admin.post(PAGE, data={"unit_id": org.district.id, "name": "Hệ thống tỉnh"})
    assert response.status_code == 200
    shown = text(response)
    plaintext = re.search(r'id="new-feed-token">(loa_feed_[^<]+)<', shown).group(1)
    assert "chỉ hiện một lần" in shown
    token = db.session.scalar(select(FeedToken))
    assert token.unit_id == org.district.id and token.name == "Hệ thống tỉnh"
    assert plaintext not in text(admin.get(PAGE))
    feed = client.get("/feed/v1/unit", headers={"Authorization": f"Bearer {plaintext}"})
    assert feed.get_json()["unit"]["code"] == "D"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "feed_token.create"))
    assert event.object_id == token.id and event.unit_id == org.district.id
    assert event.actor_name == "admin"
    assert plaintext not in str(event.details) and plaintext not in event.summary


def test_admin_revokes_a_token_audited_and_it_stops_at_once(login_as, org, client):
    admin = login_as("admin")
    shown = text(admin.post(PAGE, data={"unit_id": org.commune.id, "name": ""}))
    plaintext = re.search(r'id="new-feed-token">(loa_feed_[^<]+)<', shown).group(1)
    token = db.session.scalar(select(FeedToken))
    assert token.name == "Hệ thống thông tin nguồn – Phường Phú Thủy"
    response = admin.post(f"{PAGE}/{token.id}/revoke", follow_redirects=True)
    assert "Đã thu hồi mã" in text(response)
    assert "Đã thu hồi" in text(response)
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/feed/v1/unit", headers=headers).status_code == 401
    again = admin.post(f"{PAGE}/{token.id}/revoke", follow_redirects=True)
    assert "Mã này đã bị thu hồi rồi." in text(again)
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.startswith("feed_token."))
    ).all()
    assert sorted(actions) == ["feed_token.create", "feed_token.revoke"]


def test_only_admins_of_the_units_subtree_issue_or_revoke(app, login_as, org, users):
    for role in ("writer", "supervisor", "operator"):
        assert login_as(role).get(PAGE).status_code == 403
        response = login_as(role).post(PAGE, data={"unit_id": org.district.id})
        assert response.status_code == 403
    assert _count() == 0
    local_admin = make_user(org.other_district, users["admin"].role, "admin_lagi")
    other = login(app.test_client(), local_admin.username)
    page = text(other.get(PAGE))
    assert f'value="{org.district.id}"' not in page
    response = other.post(PAGE, data={"unit_id": org.district.id, "name": "Lạ"})
    assert response.status_code == 422
    assert "Lựa chọn không hợp lệ." in text(response)
    assert _count() == 0
    token_id = re.search(
        r"feed-tokens/(\d+)/revoke",
        text(login_as("admin").post(PAGE, data={"unit_id": org.district.id})),
    ).group(1)
    assert other.post(f"{PAGE}/{token_id}/revoke").status_code == 404
    assert db.session.get(FeedToken, int(token_id)).revoked_at is None


def test_bad_input_is_refused_with_a_message_and_nothing_stored(login_as, org):
    admin = login_as("admin")
    long_name = admin.post(PAGE, data={"unit_id": org.district.id, "name": "x" * 101})
    assert long_name.status_code == 422 and "Tối đa 100 ký tự." in text(long_name)
    no_unit = admin.post(PAGE, data={"name": "Thiếu đơn vị"})
    assert no_unit.status_code == 422
    unknown = admin.post(PAGE, data={"unit_id": 999999, "name": "Không có"})
    assert unknown.status_code == 422
    inactive = make_unit("OLD", "Xã cũ", parent=org.district)
    inactive.active = False
    db.session.commit()
    closed = admin.post(PAGE, data={"unit_id": inactive.id})
    assert closed.status_code == 422
    assert _count() == 0
    assert admin.post(f"{PAGE}/999999/revoke").status_code == 404


def test_forms_need_their_csrf_token(tmp_path, clock):
    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        from app.auth.models import Role

        unit = make_unit("D", "Phan Thiết", level="Thành phố")
        make_user(unit, Role.ADMIN, "admin")
        client = app.test_client()
        login_page = text(client.get("/login"))
        credentials = {"username": "admin", "password": PASSWORD, "csrf_token": _token(login_page)}
        client.post("/login", data=credentials)
        refused = client.post(PAGE, data={"unit_id": unit.id})
        assert refused.status_code == 400
        assert _count() == 0
        page = text(client.get(PAGE))
        ok = client.post(PAGE, data={"unit_id": unit.id, "csrf_token": _token(page)})
        assert ok.status_code == 200 and _count() == 1
        db.session.remove()
        db.engine.dispose()
