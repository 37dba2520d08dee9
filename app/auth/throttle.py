"""Login throttling with Flask-Limiter: per client address, and per (account, address)."""

# Failures are counted per account *and* address, never per account alone, so a stranger
# guessing from elsewhere slows only themselves and cannot lock the owner out. Each address
# also has a cap on all its login attempts, however many accounts it tries.

from __future__ import annotations

import math
import time

from flask import Response, current_app, flash, make_response, render_template, request
from flask_limiter import RequestLimit
from limits import RateLimitItemPerSecond
from sqlalchemy import select

from app.audit.service import record_event
from app.auth.models import User
from app.extensions import db, limiter


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For hop when PROXY_FIX is on)."""
    return request.remote_addr or "unknown"


def _submitted_username() -> str:
    """The user name typed in the login form, as authenticate() compares it."""
    return (request.form.get("username") or "").strip().lower()[:60]


def _account_at_address() -> str:
    """Key of the per-account limit: the typed user name (existing or not) and the address."""
    return f"{_submitted_username()}|{client_address()}"


def _address_limit() -> str:
    """All login attempts one address may make, e.g. "10 per minute;100 per hour"."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    """Failed logins allowed for one account from one address."""
    config = current_app.config
    return f"{config['LOGIN_MAX_FAILURES']} per {config['LOGIN_LOCK_MINUTES']} minutes"


def _failed(response: Response) -> bool:
    """Only wrong credentials count against the account."""
    return response.status_code == 401


def retry_after(limit: RequestLimit) -> int:
    """Seconds until the breached limit lets the next attempt through."""
    return max(1, math.ceil(limit.window.reset_time - time.time()))


def _window(seconds: int) -> str:
    """A limit's window in Vietnamese: "15 phút", "1 giờ"."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} giờ"
    if seconds % 60 == 0:
        return f"{seconds // 60} phút"
    return f"{seconds} giây"


def _audit_once(limit: RequestLimit, user: User | None, summary: str, scope: str) -> None:
    """Record a throttling event once per limit window and key (no flood of the audit log)."""
    marker = RateLimitItemPerSecond(1, limit.limit.get_expiry())
    if not limiter.limiter.hit(marker, "audit", limit.key):
        return
    record_event(
        "user.login_throttled",
        "user",
        user.id if user else None,
        summary,
        unit_id=user.unit_id if user else None,
        details={"scope": scope, "limit": str(limit.limit), "ip": client_address()},
    )
    db.session.commit()


def _throttled_page(message: str, limit: RequestLimit) -> Response:
    """The login page with the reason, answered 429 with Retry-After."""
    from app.auth.forms import LoginForm

    flash(message, "error")
    response = make_response(render_template("auth/login.html", form=LoginForm()), 429)
    response.headers["Retry-After"] = str(retry_after(limit))
    return response


def _address_throttled(limit: RequestLimit) -> Response:
    """Too many attempts from this address."""
    minutes = math.ceil(retry_after(limit) / 60)
    window = _window(limit.limit.get_expiry())
    _audit_once(
        limit,
        None,
        f"Tạm chặn đăng nhập từ địa chỉ {client_address()}: quá {limit.limit.amount} lần thử "
        f"trong {window}",
        "address",
    )
    return _throttled_page(
        f"Có quá nhiều lần đăng nhập từ địa chỉ mạng này. Vui lòng thử lại sau {minutes} phút.",
        limit,
    )


def _account_throttled(limit: RequestLimit) -> Response:
    """Too many wrong passwords for this account from this address."""
    minutes = math.ceil(retry_after(limit) / 60)
    username = _submitted_username()
    user = db.session.scalar(select(User).where(User.username == username))
    _audit_once(
        limit,
        user,
        f"Tạm chặn đăng nhập vào “{username}” từ {client_address()}: sai "
        f"{limit.limit.amount} lần trong {_window(limit.limit.get_expiry())}",
        "account",
    )
    # The same words whether the account exists or not.
    return _throttled_page(
        "Đăng nhập sai nhiều lần liên tiếp với tên đăng nhập này. "
        f"Vui lòng thử lại sau {minutes} phút; nếu quên mật khẩu, hãy nhờ quản trị viên "
        "đặt lại.",
        limit,
    )


def forget_failures() -> None:
    """After a successful login, the account's failures from this address count from zero."""
    for current in limiter.current_limits:
        if current.request_args[-1] == "login-account":
            current.limiter.clear(current.limit, *current.request_args)


per_address = limiter.shared_limit(
    _address_limit,
    scope="login-address",
    key_func=client_address,
    methods=["POST"],
    on_breach=_address_throttled,
)
per_account = limiter.shared_limit(
    _account_limit,
    scope="login-account",
    key_func=_account_at_address,
    methods=["POST"],
    deduct_when=_failed,
    on_breach=_account_throttled,
)
