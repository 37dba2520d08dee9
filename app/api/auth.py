"""Every API call needs a valid bearer token; the session cookie is ignored here."""

from __future__ import annotations

from flask import g, request

from app.api import bp
from app.api.errors import json_error
from app.auth.service import user_for_token


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
