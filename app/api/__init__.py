"""JSON API under /api/v1, authenticated by per-user bearer tokens."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import (  # noqa: E402,F401
    auth,
    dispatches,
    library,
    logs,
    openapi,
    programmes,
    recordings,
    reports,
    schedules,
    scripts,
    speech,
)
