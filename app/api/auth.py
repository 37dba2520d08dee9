"""Every API call needs a valid bearer token; the session cookie is ignored here."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_limiter import RequestLimit

from app.api import bp
from app.api.errors import json_error
from app.auth.service import user_for_token
from app.auth.throttle import client_address, retry_after
from app.extensions import limiter


def _too_many_failures(limit: RequestLimit) -> Response:
    """Answer 429 once an address has sent too many missing or wrong tokens."""
    wait = retry_after(limit)
    response = json_error(
        "too_many_requests",
        "Quá nhiều lần gửi mã truy cập API sai hoặc thiếu từ địa chỉ này. "
        f"Vui lòng thử lại sau {wait} giây.",
        429,
    )
    response.headers["Retry-After"] = str(wait)
    return response


# Checked before authenticate_token (the limiter's hook is the app's). Only 401s count, so
# callers sending valid tokens never use up their address's allowance.
limiter.shared_limit(
    lambda: current_app.config["API_AUTH_FAILURE_LIMIT"],
    scope="api-auth",
    key_func=client_address,
    deduct_when=lambda response: response.status_code == 401,
    on_breach=_too_many_failures,
)(bp)


@bp.before_request
def authenticate_token():
    """Resolve the bearer token to a user, or answer 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return json_error(
            "unauthorized",
            "Thiếu mã truy cập API. Gửi tiêu đề “Authorization: Bearer <mã>”.",
            401,
        )
    user = user_for_token(token.strip())
    if user is None:
        return json_error("unauthorized", "Mã truy cập API không hợp lệ hoặc đã bị thu hồi.", 401)
    # Flask-Login reads the current user from here; no session cookie is written.
    g._login_user = user
    return None
