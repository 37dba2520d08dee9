"""Helpers shared by the web forms."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from app.core.errors import DomainError

# WTForms ships no Vietnamese catalogue; these are the messages its fields and validators use.
VIETNAMESE_MESSAGES = {
    "This field is required.": "Bắt buộc.",
    "Not a valid choice.": "Lựa chọn không hợp lệ.",
    "Invalid Choice: could not coerce.": "Lựa chọn không hợp lệ.",
    "Invalid choice(s): one or more data inputs could not be coerced.": "Lựa chọn không hợp lệ.",
    "'%(value)s' is not a valid choice for this field.": "“%(value)s” không phải lựa chọn hợp lệ.",
    "'%(value)s' are not valid choices for this field.": "“%(value)s” không phải lựa chọn hợp lệ.",
    "Not a valid integer value.": "Phải là số nguyên.",
    "Not a valid decimal value.": "Phải là số.",
    "Not a valid float value.": "Phải là số.",
    "Not a valid date value.": "Ngày không hợp lệ.",
    "Not a valid time value.": "Giờ không hợp lệ (dạng HH:MM).",
    "Not a valid datetime value.": "Thời điểm không hợp lệ.",
    "Field must be at least %(min)d character long.": "Ít nhất %(min)d ký tự.",
    "Field must be at least %(min)d characters long.": "Ít nhất %(min)d ký tự.",
    "Field cannot be longer than %(max)d character.": "Tối đa %(max)d ký tự.",
    "Field cannot be longer than %(max)d characters.": "Tối đa %(max)d ký tự.",
    "Field must be between %(min)d and %(max)d characters long.": "Từ %(min)d đến %(max)d ký tự.",
    "Number must be at least %(min)s.": "Tối thiểu %(min)s.",
    "Number must be at most %(max)s.": "Tối đa %(max)s.",
    "Number must be between %(min)s and %(max)s.": "Từ %(min)s đến %(max)s.",
}


class VietnameseTranslations:
    """gettext interface WTForms asks for its built-in messages."""

    def gettext(self, string: str) -> str:
        """Translate one message."""
        return VIETNAMESE_MESSAGES.get(string, string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Translate a message with a count."""
        return self.gettext(singular if n == 1 else plural)


class Form(FlaskForm):
    """Base of every Loa form: CSRF from Flask-WTF, messages in Vietnamese."""

    class Meta:
        def get_translations(self, form):
            """Use the Vietnamese messages."""
            return VietnameseTranslations()


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
