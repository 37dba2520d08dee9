"""Helpers shared by the web forms."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from app.core.errors import DomainError


def apply_errors(form: FlaskForm, exc: DomainError) -> None:
    """Show a service error on the fields that caused it and as a flash message."""
    for name, message in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors), message]
    flash(exc.message, "error")


def flash_form_errors(form: FlaskForm) -> None:
    """Summarise field validation errors in one flash message."""
    if form.errors:
        flash("Chưa lưu được: hãy sửa các ô được đánh dấu bên dưới.", "error")
