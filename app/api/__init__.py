"""JSON API under /api/v1, authenticated by per-user bearer tokens."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import auth, logs, openapi, reports, schedules, scripts, speech  # noqa: E402,F401
