"""A dispatch's tracking page and its report back (DOCX and PDF)."""

from app.dispatches.blueprint import bp  # noqa: F401
