"""Authentication, password rules, user administration and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit.service import record_event
from app.auth.models import ApiToken, LoginSession, Role, User
from app.core import clock
from app.core.errors import NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.org.models import Unit

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "loa_"


class LoginFailed(ValidationError):
    """Wrong user name or password, or an inactive account."""

    status = 401
    code = "login_failed"


def hash_password(password: str) -> str:
    """Hash a password with the configured method (scrypt unless tests ask for a faster one)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def check_password_rules(password: str, username: str, field: str = "password") -> None:
    """Raise ValidationError unless the password is long enough and not the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
            {field: f"Ít nhất {MIN_PASSWORD_LENGTH} ký tự."},
        )
    if username and username.lower() in password.lower():
        raise ValidationError(
            "Mật khẩu không được chứa tên đăng nhập.", {field: "Không được chứa tên đăng nhập."}
        )


def authenticate(username: str, password: str) -> User:
    """Return the user for valid credentials, signed in to a new login session."""
    # An unknown user name and a wrong password get the same message after the same work (one
    # password hash check), so answers do not tell which user names exist. Guessing is slowed
    # by app/auth/throttle.py, never by locking the account, which a stranger could trigger.
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    if not check_password_hash(user.password_hash, password):
        raise LoginFailed(LOGIN_FAILED_MESSAGE)
    if not user.active:
        # Only said to someone who knows the password.
        raise LoginFailed("Tài khoản đã bị vô hiệu hóa. Hãy liên hệ quản trị viên.")
    user.last_login_at = clock.now()
    _start_session(user)
    record_event(
        "user.login",
        "user",
        user.id,
        f"{user.username} đăng nhập",
        actor=user,
        unit_id=user.unit_id,
    )
    db.session.commit()
    return user


LOGIN_FAILED_MESSAGE = "Tên đăng nhập hoặc mật khẩu không đúng."
_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash made with the configured method, so checking it costs what a real check does."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _dummy_hashes:
        _dummy_hashes[method] = hash_password(secrets.token_urlsafe(16))
    return _dummy_hashes[method]


# Ended sessions are kept this long (who was signed in when), then deleted at the next login.
_ENDED_SESSIONS_KEPT = timedelta(days=30)


def _hash_key(key: str) -> str:
    """Session keys are long and random, so a plain sha256 is enough and allows lookup."""
    return hashlib.sha256(key.encode()).hexdigest()


def _start_session(user: User) -> None:
    """Open a login session for the user; its key goes into the signed session cookie."""
    now = clock.now()
    db.session.execute(
        delete(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.ended_at < now - _ENDED_SESSIONS_KEPT
        )
    )
    key = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, key_hash=_hash_key(key), created_at=now))
    user.session_key = key


def user_for_session(session_id: str) -> User | None:
    """Return the active user of a live login session ("<user id>.<key>"), or None."""
    uid, _, key = session_id.partition(".")
    if not (uid.isascii() and uid.isdigit()) or not key:
        return None
    user = db.session.scalar(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.key_hash == _hash_key(key),
            LoginSession.user_id == int(uid),
            LoginSession.ended_at.is_(None),
            User.active.is_(True),
        )
    )
    if user is not None:
        user.session_key = key
    return user


def _end_sessions(user: User, keep_key: str | None = None) -> int:
    """End the user's live login sessions, except the one with keep_key; return how many."""
    query = (
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    )
    if keep_key:
        query = query.where(LoginSession.key_hash != _hash_key(keep_key))
    return db.session.execute(query).rowcount


def end_session(user: User) -> None:
    """Log out: end this login session on the server, so a copy of its cookie stops working."""
    if user.session_key:
        db.session.execute(
            update(LoginSession)
            .where(
                LoginSession.key_hash == _hash_key(user.session_key),
                LoginSession.ended_at.is_(None),
            )
            .values(ended_at=clock.now())
        )
    record_event(
        "user.logout",
        "user",
        user.id,
        f"{user.username} đăng xuất",
        actor=user,
        unit_id=user.unit_id,
    )
    db.session.commit()


def _revoke_all_tokens(actor: User, user: User, why: str) -> int:
    """Revoke every live API token of the user, each with its audit event; return how many."""
    now = clock.now()
    live = [token for token in user.tokens if token.revoked_at is None]
    for token in live:
        token.revoked_at = now
        record_event(
            "token.revoke",
            "api_token",
            token.id,
            f"Thu hồi mã truy cập API “{token.name}” của {user.username} ({why})",
            actor=actor,
            unit_id=user.unit_id,
        )
    return len(live)


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    """Change the user's own password after checking the current one; other sessions end."""
    if not check_password_hash(user.password_hash, current):
        raise ValidationError(
            "Mật khẩu hiện tại không đúng.", {"current": "Mật khẩu hiện tại không đúng."}
        )
    if new != confirm:
        raise ValidationError("Hai lần nhập mật khẩu mới không khớp.", {"confirm": "Không khớp."})
    if new == current:
        raise ValidationError(
            "Mật khẩu mới phải khác mật khẩu cũ.", {"new": "Phải khác mật khẩu cũ."}
        )
    check_password_rules(new, user.username, field="new")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    ended = _end_sessions(user, keep_key=user.session_key)
    record_event(
        "user.password_changed",
        "user",
        user.id,
        f"{user.username} đổi mật khẩu",
        actor=user,
        unit_id=user.unit_id,
        details={"other_sessions_ended": ended},
    )
    db.session.commit()


@dataclass
class UserInput:
    """Fields an admin sets on a user."""

    username: str
    full_name: str
    role: Role
    unit: Unit
    active: bool = True


def _check_admin_scope(actor: User | None, unit: Unit) -> None:
    """An admin manages users of their own subtree only."""
    if actor is not None and not actor.unit.contains(unit):
        raise PermissionDenied(
            "Đơn vị này nằm ngoài phạm vi quản trị của bạn.", {"unit": "Ngoài phạm vi."}
        )


def create_user(
    actor: User | None, data: UserInput, password: str, must_change_password: bool = True
) -> User:
    """Create a user; actor None means the command line."""
    username = data.username.strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise ValidationError(
            "Tên đăng nhập chỉ gồm chữ không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang.",
            {"username": "Tên đăng nhập không hợp lệ."},
        )
    if not username.isascii():
        raise ValidationError(
            "Tên đăng nhập phải là chữ không dấu.", {"username": "Dùng chữ không dấu."}
        )
    if db.session.scalar(select(func.count()).where(User.username == username)):
        raise ValidationError(
            f"Tên đăng nhập “{username}” đã có người dùng.", {"username": "Đã có người dùng."}
        )
    if not data.full_name.strip():
        raise ValidationError("Hãy nhập họ tên.", {"full_name": "Bắt buộc."})
    _check_admin_scope(actor, data.unit)
    check_password_rules(password, username)
    user = User(
        username=username,
        full_name=data.full_name.strip(),
        role=data.role,
        unit=data.unit,
        active=data.active,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        created_at=clock.now(),
    )
    db.session.add(user)
    db.session.flush()
    record_event(
        "user.create",
        "user",
        user.id,
        f"Tạo người dùng {username} ({data.role.label}, {data.unit.name})",
        actor=actor,
        unit_id=data.unit.id,
    )
    db.session.commit()
    return user


def update_user(actor: User, user: User, data: UserInput) -> User:
    """Change a user's name, role, unit or active flag; disabling ends sessions and tokens."""
    _check_admin_scope(actor, user.unit)
    _check_admin_scope(actor, data.unit)
    if user.id == actor.id and (data.role != user.role or not data.active):
        raise ValidationError(
            "Bạn không thể tự đổi vai trò hoặc tự vô hiệu hóa tài khoản của mình.",
            {"role": "Không thể tự đổi."},
        )
    if not data.full_name.strip():
        raise ValidationError("Hãy nhập họ tên.", {"full_name": "Bắt buộc."})
    before = {
        "full_name": user.full_name,
        "role": user.role.value,
        "unit": user.unit.code,
        "active": user.active,
    }
    user.full_name = data.full_name.strip()
    user.role = data.role
    user.unit = data.unit
    disabled = user.active and not data.active
    user.active = data.active
    revoked = {}
    if disabled:
        revoked = {
            "sessions_ended": _end_sessions(user),
            "tokens_revoked": _revoke_all_tokens(actor, user, "tài khoản bị vô hiệu hóa"),
        }
    after = {
        "full_name": user.full_name,
        "role": user.role.value,
        "unit": data.unit.code,
        "active": user.active,
    }
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    record_event(
        "user.update",
        "user",
        user.id,
        f"Sửa người dùng {user.username}",
        actor=actor,
        unit_id=data.unit.id,
        details={"changed": changed, **revoked},
    )
    db.session.commit()
    return user


def reset_password(actor: User, user: User, password: str) -> None:
    """Set a temporary password to change at next login; end sessions and revoke API tokens."""
    # A reset usually means the old password leaked: whatever it opened is closed too.
    _check_admin_scope(actor, user.unit)
    check_password_rules(password, user.username)
    user.password_hash = hash_password(password)
    user.must_change_password = True
    sessions_ended = _end_sessions(
        user, keep_key=actor.session_key if actor.id == user.id else None
    )
    tokens_revoked = _revoke_all_tokens(actor, user, "đặt lại mật khẩu")
    record_event(
        "user.password_reset",
        "user",
        user.id,
        f"Đặt lại mật khẩu cho {user.username}",
        actor=actor,
        unit_id=user.unit_id,
        details={"sessions_ended": sessions_ended, "tokens_revoked": tokens_revoked},
    )
    db.session.commit()


def _hash_token(token: str) -> str:
    """Tokens are long and random, so a plain sha256 is enough and allows lookup by hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """Create an API token; return the row and the plaintext, which is never stored."""
    name = name.strip() or "Mã truy cập API"
    if len(name) > 100:
        raise ValidationError("Tên mã truy cập quá dài (tối đa 100 ký tự).", {"name": "Quá dài."})
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        prefix=plaintext[:12],
        token_hash=_hash_token(plaintext),
        created_at=clock.now(),
    )
    db.session.add(token)
    db.session.flush()
    record_event(
        "token.create",
        "api_token",
        token.id,
        f"Tạo mã truy cập API “{name}” cho {user.username}",
        actor=actor or user,
        unit_id=user.unit_id,
    )
    db.session.commit()
    return token, plaintext


def revoke_token(actor: User, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (admins may revoke tokens in their subtree)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (
        token.user_id != actor.id
        and not (actor.role == Role.ADMIN and actor.unit.contains(token.user.unit))
    ):
        raise NotFound("Không tìm thấy mã truy cập này.")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        record_event(
            "token.revoke",
            "api_token",
            token.id,
            f"Thu hồi mã truy cập API “{token.name}” của {token.user.username}",
            actor=actor,
            unit_id=token.user.unit_id,
        )
        db.session.commit()
    return token


def user_for_token(plaintext: str) -> User | None:
    """Return the active user owning a valid, unrevoked token, and note its use."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(plaintext)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = clock.now()
    db.session.commit()
    return token.user
