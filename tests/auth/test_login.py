"""Login, throttling, forced password change, session and cookie security."""

import stat

from app import create_app
from app.audit.models import AuditEvent
from app.auth import service
from app.auth.models import Role, User
from app.extensions import db
from tests.auth.conftest import from_address
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


def _flash(page: str) -> str:
    """The text of the page's error message."""
    return page.split('class="flash flash-error"')[1].split(">", 1)[1].split("<")[0]


def test_unknown_user_and_wrong_password_get_the_same_answer(client, users):
    wrong = client.post("/login", data={"username": "writer", "password": "sai-mat-khau"})
    unknown = client.post("/login", data={"username": "khongco", "password": "sai-mat-khau"})
    assert wrong.status_code == unknown.status_code == 401
    assert _flash(wrong.get_data(as_text=True)) == "Tên đăng nhập hoặc mật khẩu không đúng."
    # The whole page is the same but for the user name typed back into the form.
    assert wrong.get_data(as_text=True).replace("writer", "?") == unknown.get_data(
        as_text=True
    ).replace("khongco", "?")


def test_unknown_user_costs_the_same_password_hash_check(app, client, org, monkeypatch):
    # A cheap scrypt, unlike the suite's pbkdf2, so the dummy hash must follow the setting.
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"
    user = make_user(org.district, Role.WRITER, "writer")
    checked = []
    real_check = service.check_password_hash

    def spy(pwhash, password):
        checked.append(pwhash)
        return real_check(pwhash, password)

    monkeypatch.setattr(service, "check_password_hash", spy)
    client.post("/login", data={"username": "khongco", "password": "sai-mat-khau"})
    client.post("/login", data={"username": "writer", "password": "sai-mat-khau"})
    dummy, real = checked
    assert real == user.password_hash
    # Same method and cost parameters, so the same time.
    assert dummy.split("$")[0] == real.split("$")[0] == "scrypt:1024:8:1"


def test_failures_never_lock_the_account_itself(client, users):
    for _ in range(10):
        client.post("/login", data={"username": "writer", "password": "sai"})
    assert users["writer"].locked_until is None
    login(client, "writer")


def test_failures_from_one_address_pause_that_account_there(limited, client, users):
    for _ in range(5):
        assert (
            client.post("/login", data={"username": "writer", "password": "sai"}).status_code == 401
        )
    throttled = client.post("/login", data={"username": "writer", "password": PASSWORD})
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    assert _flash(throttled.get_data(as_text=True)) == (
        "Đăng nhập sai nhiều lần liên tiếp với tên đăng nhập này. Vui lòng thử lại sau 15 phút; "
        "nếu quên mật khẩu, hãy nhờ quản trị viên đặt lại."
    )
    # Another account from the same address is not affected.
    login(client, "operator")


def test_a_stranger_elsewhere_cannot_lock_the_owner_out(limited, app, users):
    stranger = from_address(app.test_client(), "203.0.113.9")
    for _ in range(8):
        stranger.post("/login", data={"username": "admin", "password": "doan-mo"})
    assert (
        stranger.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 429
    )
    login(from_address(app.test_client(), "198.51.100.7"), "admin")


def test_throttling_an_unknown_user_name_says_the_same(limited, client, users):
    pages = {}
    for name in ("writer", "khongco"):
        for _ in range(5):
            client.post("/login", data={"username": name, "password": "sai"})
        response = client.post("/login", data={"username": name, "password": "sai"})
        assert response.status_code == 429
        pages[name] = _flash(response.get_data(as_text=True))
    assert pages["writer"] == pages["khongco"]


def test_a_successful_login_forgets_earlier_failures(limited, client, users):
    for _ in range(4):
        client.post("/login", data={"username": "writer", "password": "sai"})
    login(client, "writer").post("/logout")
    for _ in range(4):
        assert (
            client.post("/login", data={"username": "writer", "password": "sai"}).status_code == 401
        )


def test_each_address_has_a_cap_on_login_attempts(limited, app, users):
    client = from_address(app.test_client(), "203.0.113.9")
    for n in range(10):
        response = client.post("/login", data={"username": f"ten{n}", "password": "sai"})
        assert response.status_code == 401
    capped = client.post("/login", data={"username": "writer", "password": PASSWORD})
    assert capped.status_code == 429
    assert "Có quá nhiều lần đăng nhập từ địa chỉ mạng này." in _flash(
        capped.get_data(as_text=True)
    )
    assert "Retry-After" in capped.headers
    # Looking at the login page is not an attempt; other addresses keep their own allowance.
    assert client.get("/login").status_code == 200
    login(from_address(app.test_client(), "198.51.100.7"), "writer")


def test_throttling_is_audited_once_per_window(limited, client, users):
    for _ in range(9):
        client.post("/login", data={"username": "writer", "password": "sai"})
    events = db.session.query(AuditEvent).filter_by(action="user.login_throttled").all()
    assert len(events) == 1
    assert events[0].object_id == users["writer"].id
    assert events[0].unit_id == users["writer"].unit_id
    assert events[0].ip == "127.0.0.1"
    assert events[0].details["scope"] == "account"
    assert (
        events[0].summary == "Tạm chặn đăng nhập vào “writer” từ 127.0.0.1: sai 5 lần trong 15 phút"
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
    # Throttling is on, counting in this process unless a shared store is configured.
    assert app.config["RATELIMIT_ENABLED"] is True
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


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
