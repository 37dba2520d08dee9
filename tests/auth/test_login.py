"""Login, throttling, forced password change, session and cookie security."""

import stat

from app import create_app
from app.audit.models import AuditEvent
from app.auth.models import Role, User
from app.extensions import db
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def test_login_with_valid_credentials_reaches_scripts(client, users):
    response = client.post(
        "/login", data={"username": "Writer ", "password": PASSWORD}, follow_redirects=True
    )
    assert "Kịch bản phát thanh" in response.get_data(as_text=True)
    assert users["writer"].last_login_at is not None


def test_pages_require_login(client):
    response = client.get("/scripts")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_wrong_password_says_how_many_tries_remain(client, users):
    response = client.post("/login", data={"username": "writer", "password": "sai-mat-khau"})
    assert response.status_code == 401
    assert "Còn 4 lần thử" in response.get_data(as_text=True)


def test_unknown_user_gets_the_same_message_as_wrong_password(client, users):
    response = client.post("/login", data={"username": "khong-co", "password": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in page


def test_repeated_failures_lock_the_account_for_a_while(client, users, clock):
    for _ in range(5):
        response = client.post("/login", data={"username": "writer", "password": "sai"})
    assert "tài khoản bị tạm khóa 15 phút" in response.get_data(as_text=True)
    locked = client.post("/login", data={"username": "writer", "password": PASSWORD})
    assert locked.status_code == 401
    assert "thử lại sau 15 phút" in locked.get_data(as_text=True)
    clock.advance(minutes=14)
    still = client.post("/login", data={"username": "writer", "password": PASSWORD})
    assert "thử lại sau 1 phút" in still.get_data(as_text=True)
    clock.advance(minutes=1, seconds=1)
    assert (
        client.post("/login", data={"username": "writer", "password": PASSWORD}).status_code == 302
    )
    assert db.session.query(AuditEvent).filter_by(action="user.locked").count() == 1


def test_admin_can_unlock_a_locked_account(client, login_as, users):
    for _ in range(5):
        client.post("/login", data={"username": "writer", "password": "sai"})
    login_as("admin").post(f"/admin/users/{users['writer'].id}/unlock")
    assert (
        client.post("/login", data={"username": "writer", "password": PASSWORD}).status_code == 302
    )


def test_deactivated_user_cannot_log_in(client, users):
    users["writer"].active = False
    db.session.commit()
    response = client.post("/login", data={"username": "writer", "password": PASSWORD})
    assert response.status_code == 401
    assert "vô hiệu hóa" in response.get_data(as_text=True)


def test_first_login_forces_a_password_change(client, org):
    make_user(org.district, Role.WRITER, "moi", must_change_password=True)
    login(client, "moi")
    response = client.get("/scripts")
    assert response.headers["Location"] == "/account/password"
    bad = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "ngắn", "confirm": "ngắn"},
    )
    assert "Mật khẩu phải có ít nhất 10 ký tự." in bad.get_data(as_text=True)
    client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "mat-khau-rieng-2026", "confirm": "mat-khau-rieng-2026"},
    )
    assert client.get("/scripts").status_code == 200
    user = db.session.query(User).filter_by(username="moi").one()
    assert not user.must_change_password
    assert user.password_hash.startswith("pbkdf2:")


def test_password_change_rejects_mismatch_and_wrong_current(login_as, users):
    client = login_as("writer")
    before = users["writer"].password_hash
    wrong = client.post(
        "/account/password",
        data={"current": "sai", "new": "abcdefghijk1", "confirm": "abcdefghijk1"},
    )
    assert "Mật khẩu hiện tại không đúng." in wrong.get_data(as_text=True)
    mismatch = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "abcdefghijk1", "confirm": "abcdefghijk2"},
    )
    assert "không khớp" in mismatch.get_data(as_text=True)
    assert users["writer"].password_hash == before


def test_password_change_logs_out_other_sessions(app, users):
    laptop, phone = login(app.test_client(), "writer"), login(app.test_client(), "writer")
    laptop.post(
        "/account/password",
        data={"current": PASSWORD, "new": "mat-khau-moi-2026", "confirm": "mat-khau-moi-2026"},
    )
    assert laptop.get("/scripts").status_code == 200
    assert phone.get("/scripts").status_code == 302


def test_logout_needs_post_and_ends_the_session(login_as):
    client = login_as("writer")
    assert client.get("/logout").status_code == 405
    client.post("/logout")
    assert client.get("/scripts").status_code == 302


def test_login_redirect_only_follows_local_paths(client, users):
    response = client.post(
        "/login?next=https://evil.example/x", data={"username": "writer", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/scripts"


def test_passwords_are_hashed(users):
    assert PASSWORD not in users["writer"].password_hash


def test_production_config_uses_scrypt_and_secure_cookies(tmp_path, clock, monkeypatch):
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app(
        {"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert "PASSWORD_HASH_METHOD" not in app.config


def test_session_cookie_carries_security_flags(app, client, users):
    app.config["SESSION_COOKIE_SECURE"] = True
    response = client.post("/login", data={"username": "writer", "password": PASSWORD})
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=Lax" in cookie


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    first = create_app(dict(config)).config["SECRET_KEY"]
    second = create_app(dict(config)).config["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert first == second == key_file.read_text().strip()
    assert len(first) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_secret_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    app = create_app({"INSTANCE_PATH": tmp_path, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "secret_key").exists()
