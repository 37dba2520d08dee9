"""JSON error responses: {"error", "message", "fields"}."""

from __future__ import annotations

from flask import jsonify


def json_error(code: str, message: str, status: int, fields: dict | None = None):
    """Build an error response with a machine code, a Vietnamese message and field errors."""
    response = jsonify({"error": code, "message": message, "fields": fields or {}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="loa"'
    return response
