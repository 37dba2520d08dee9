"""Public portal pages and feeds."""

from app.portal.blueprint import bp  # noqa: F401
