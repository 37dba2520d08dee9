"""Dispatch desk pages: intake, the list and search, confirming the fields, drafts."""

from app.dispatches.blueprint import bp  # noqa: F401
