"""API tokens (shown once, stored hashed, revocable) and the users CLI."""

import hashlib

from sqlalchemy import func, select

from app.auth.models import ApiToken, Role, User
from app.auth.service import create_token
from app.extensions import db
from app.scripts.models import Script, ScriptVersion
from app.speech.models import Render
from tests.auth.conftest import from_address
from tests.conftest import login
from tests.factories import make_script


def test_token_is_shown_once_and_stored_hashed(login_as, users):
    client = login_as("writer")
    page = client.post("/account/tokens", data={"name": "Máy phòng phát"}).get_data(as_text=True)
    token = db.session.query(ApiToken).one()
    plaintext = page.split('id="new-token">')[1].split("<")[0]
    assert plaintext.startswith("loa_")
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in token.token_hash
    assert plaintext not in client.get("/account/tokens").get_data(as_text=True)


def test_revoked_token_no_longer_works(client, login_as, users):
    token, plaintext = create_token(users["writer"], "thử")
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/scripts", headers=headers).status_code == 200
    login_as("writer").post(f"/account/tokens/{token.id}/revoke")
    response = client.get("/api/v1/scripts", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "unauthorized",
        "message": "Mã truy cập API không hợp lệ hoặc đã bị thu hồi.",
        "fields": {},
    }


def test_revoked_token_cannot_write_and_nothing_is_stored(client, login_as, users, org):
    script = make_script(users["writer"], org.district)
    token, plaintext = create_token(users["writer"], "thử")
    login_as("writer").post(f"/account/tokens/{token.id}/revoke")
    assert token.revoked_at is not None
    headers = {"Authorization": f"Bearer {plaintext}"}

    def count(model):
        return db.session.scalar(select(func.count()).select_from(model))

    before = (count(Script), count(ScriptVersion), count(Render))
    new_script = {"title": "Thông báo", "body": "Nội dung thông báo.", "unit": "D"}
    created = client.post("/api/v1/scripts", json=new_script, headers=headers)
    rendered = client.post(f"/api/v1/scripts/{script.id}/renders", json={}, headers=headers)
    for response in (created, rendered):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="loa"'
        assert response.get_json() == {
            "error": "unauthorized",
            "message": "Mã truy cập API không hợp lệ hoặc đã bị thu hồi.",
            "fields": {},
        }
    assert (count(Script), count(ScriptVersion), count(Render)) == before
    # The same requests with a live token do write: the 401s above are the revocation's.
    _, live = create_token(users["writer"], "mới")
    headers = {"Authorization": f"Bearer {live}"}
    assert client.post("/api/v1/scripts", json=new_script, headers=headers).status_code == 201
    assert client.post(f"/api/v1/scripts/{script.id}/renders", headers=headers).status_code == 202
    assert (count(Script), count(Render)) == (before[0] + 1, before[2] + 1)


def test_user_cannot_revoke_someone_elses_token(login_as, users):
    token, _ = create_token(users["writer2"], "của người khác")
    response = login_as("writer").post(f"/account/tokens/{token.id}/revoke")
    assert response.status_code == 404
    assert token.revoked_at is None


def test_admin_revokes_token_of_user_in_subtree(login_as, users):
    token, _ = create_token(users["writer"], "máy cũ")
    login_as("admin").post(f"/account/tokens/{token.id}/revoke")
    assert token.revoked_at is not None


def test_deactivated_users_token_stops_working(client, users):
    _, plaintext = create_token(users["writer"], "thử")
    users["writer"].active = False
    db.session.commit()
    response = client.get("/api/v1/scripts", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 401


def test_cli_creates_user_with_password_from_stdin(runner, org, client):
    result = runner.invoke(
        args=["users", "create", "canbo", "--role", "writer", "--unit", "D", "--password-stdin"],
        input="mat-khau-dai-2026\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(username="canbo").one()
    assert (user.role, user.unit.code) == (Role.WRITER, "D")
    login(client, "canbo", "mat-khau-dai-2026")


def test_cli_create_refuses_bad_input_and_saves_nothing(runner, org):
    cases = [
        (["--role", "writer", "--unit", "KHONG"], "mat-khau-dai-2026", "No unit"),
        (["--role", "writer", "--unit", "D"], "ngan", "ít nhất 10 ký tự"),
        (["--role", "boss", "--unit", "D"], "mat-khau-dai-2026", "Invalid value"),
    ]
    for options, password, message in cases:
        result = runner.invoke(
            args=["users", "create", "canbo", *options, "--password-stdin"], input=password + "\n"
        )
        assert result.exit_code != 0
        assert message in result.output
    assert db.session.query(User).filter_by(username="canbo").count() == 0


def test_cli_prompts_for_password_when_not_piped(runner, org):
    result = runner.invoke(
        args=["users", "create", "canbo", "--role", "operator", "--unit", "D"],
        input="mat-khau-dai-2026\nmat-khau-dai-2026\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output


def test_cli_token_prints_a_working_token(runner, users, client):
    result = runner.invoke(args=["users", "token", "writer"])
    assert result.exit_code == 0
    plaintext = result.output.strip()
    response = client.get("/api/v1/scripts", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 200
    assert runner.invoke(args=["users", "token", "nobody"]).exit_code != 0


def test_cli_units_create_builds_a_tree(runner, app):
    assert (
        runner.invoke(
            args=["units", "create", "BT", "Tỉnh Bình Thuận", "--level", "Tỉnh"]
        ).exit_code
        == 0
    )
    result = runner.invoke(args=["units", "create", "BT-X", "Xã A", "--parent", "BT"])
    assert result.exit_code == 0, result.output
    duplicate = runner.invoke(args=["units", "create", "BT-X", "Xã B", "--parent", "BT"])
    assert duplicate.exit_code != 0
    assert "đã được dùng" in duplicate.output


def test_admin_creates_user_through_the_page(login_as, org):
    response = login_as("admin").post(
        "/admin/users/new",
        data={
            "username": "vanhanh2",
            "full_name": "Lê Văn Hai",
            "role": "operator",
            "unit_id": org.commune.id,
            "active": "y",
            "password": "tam-thoi-2026",
        },
    )
    assert response.status_code == 302
    user = db.session.query(User).filter_by(username="vanhanh2").one()
    assert user.must_change_password


def test_admin_cannot_create_user_with_taken_name_or_short_password(login_as, org):
    client = login_as("admin")
    base = {"full_name": "A", "role": "writer", "unit_id": org.commune.id, "active": "y"}
    taken = client.post(
        "/admin/users/new", data={**base, "username": "writer", "password": "tam-thoi-2026"}
    )
    assert "đã có người dùng" in taken.get_data(as_text=True)
    short = client.post("/admin/users/new", data={**base, "username": "moi", "password": "x"})
    assert "ít nhất 10 ký tự" in short.get_data(as_text=True)
    assert db.session.query(User).filter_by(username="moi").count() == 0


def test_admin_cannot_demote_themselves(login_as, users, org):
    admin = users["admin"]
    response = login_as("admin").post(
        f"/admin/users/{admin.id}",
        data={
            "username": "admin",
            "full_name": "A",
            "role": "writer",
            "unit_id": org.province.id,
            "active": "y",
        },
    )
    assert "không thể tự đổi vai trò" in response.get_data(as_text=True)
    assert admin.role == Role.ADMIN


def test_admin_reset_password_forces_change(login_as, users, client):
    login_as("admin").post(
        f"/admin/users/{users['writer'].id}/reset-password", data={"password": "tam-thoi-2026"}
    )
    assert users["writer"].must_change_password
    login(client, "writer", "tam-thoi-2026")
    assert client.get("/scripts").headers["Location"] == "/account/password"


def test_an_address_sending_wrong_tokens_is_slowed_but_valid_tokens_count_nothing(
    limited, app, users
):
    _, plaintext = create_token(users["writer"], "thử")
    good = {"Authorization": f"Bearer {plaintext}"}
    bad = {"Authorization": "Bearer loa_doan-mo"}
    client = from_address(app.test_client(), "203.0.113.9")
    for _ in range(40):
        assert client.get("/api/v1/scripts", headers=good).status_code == 200
    for _ in range(30):
        assert client.get("/api/v1/scripts", headers=bad).status_code == 401
    throttled = client.get("/api/v1/scripts", headers=good)
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 60
    body = throttled.get_json()
    assert body["error"] == "too_many_requests"
    assert body["fields"] == {}
    assert body["message"].startswith(
        "Quá nhiều lần gửi mã truy cập API sai hoặc thiếu từ địa chỉ này. Vui lòng thử lại sau "
    )
    other = from_address(app.test_client(), "198.51.100.7")
    assert other.get("/api/v1/scripts", headers=good).status_code == 200
