"""Server-side login sessions: logout, a reset or disabling ends them (and the API tokens)."""

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import LoginSession
from app.auth.service import create_token
from app.extensions import db
from tests.conftest import login


def _replay(app, cookie: str):
    """A fresh client carrying a copied session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def _signed_in(client) -> bool:
    """Whether the client reaches a page that needs login."""
    return client.get("/scripts").status_code == 200


def test_a_session_cookie_copied_before_logout_does_not_work_after_it(app, users):
    client = login(app.test_client(), "writer")
    copied = client.get_cookie("session").value
    assert _signed_in(_replay(app, copied))
    client.post("/logout")
    assert not _signed_in(client)
    assert not _signed_in(_replay(app, copied))
    row = db.session.scalars(select(LoginSession)).one()
    assert row.ended_at is not None
    assert db.session.query(AuditEvent).filter_by(action="user.logout").count() == 1


def test_logout_ends_only_that_session(app, users):
    laptop, phone = login(app.test_client(), "writer"), login(app.test_client(), "writer")
    laptop.post("/logout")
    assert not _signed_in(laptop)
    assert _signed_in(phone)


def test_session_key_is_stored_hashed(app, users):
    client = login(app.test_client(), "writer")
    with client.session_transaction() as session:
        _, key = session["_user_id"].split(".")
    row = db.session.scalars(select(LoginSession)).one()
    assert key not in row.key_hash and len(row.key_hash) == 64


def test_admin_password_reset_ends_sessions_and_revokes_tokens(app, client, login_as, users):
    writer = login(app.test_client(), "writer")
    _, plaintext = create_token(users["writer"], "máy phòng phát")
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/scripts", headers=headers).status_code == 200
    page = login_as("admin").post(
        f"/admin/users/{users['writer'].id}/reset-password",
        data={"password": "mat-khau-tam-2026"},
        follow_redirects=True,
    )
    assert "Các phiên đăng nhập và mã truy cập API của họ đã bị thu hồi." in page.get_data(
        as_text=True
    )
    assert not _signed_in(writer)
    assert client.get("/api/v1/scripts", headers=headers).status_code == 401
    reset = db.session.query(AuditEvent).filter_by(action="user.password_reset").one()
    assert reset.details == {"sessions_ended": 1, "tokens_revoked": 1}
    revoked = db.session.query(AuditEvent).filter_by(action="token.revoke").one()
    assert revoked.actor_name == "admin"
    assert "(đặt lại mật khẩu)" in revoked.summary


def test_disabling_a_user_ends_sessions_and_revokes_tokens(app, client, login_as, users, org):
    writer = login(app.test_client(), "writer")
    copied = writer.get_cookie("session").value
    token, plaintext = create_token(users["writer"], "máy phòng phát")
    admin = login_as("admin")
    form = {
        "username": "writer",
        "full_name": users["writer"].full_name,
        "role": "writer",
        "unit_id": str(org.district.id),
    }
    assert admin.post(f"/admin/users/{users['writer'].id}", data=form).status_code == 302
    assert not _signed_in(writer)
    assert token.revoked_at is not None
    # Enabling the account again brings back neither the session nor the token.
    admin.post(f"/admin/users/{users['writer'].id}", data={**form, "active": "y"})
    assert users["writer"].active
    assert not _signed_in(_replay(app, copied))
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/scripts", headers=headers).status_code == 401
    update = db.session.query(AuditEvent).filter_by(action="user.update").first()
    assert update.details["sessions_ended"] == 1
    assert update.details["tokens_revoked"] == 1


def test_own_password_change_keeps_this_session_and_ends_the_others(app, users):
    laptop, phone = login(app.test_client(), "writer"), login(app.test_client(), "writer")
    laptop.post(
        "/account/password",
        data={
            "current": "correct-horse-battery",
            "new": "mat-khau-moi-2026",
            "confirm": "mat-khau-moi-2026",
        },
    )
    assert _signed_in(laptop)
    assert not _signed_in(phone)
    event = db.session.query(AuditEvent).filter_by(action="user.password_changed").one()
    assert event.details == {"other_sessions_ended": 1}
