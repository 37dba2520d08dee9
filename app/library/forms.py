"""Forms of the audio library: upload, edit, archive."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.core.forms import Form
from app.library.models import LICENCE_CHARS, TITLE_CHARS
from app.library.service import kind_choices

ACCEPT = ".mp3,.wav,.m4a,.aac,.amr,.3gp,.ogg,.opus,.webm,.flac,audio/*"


class ItemFields(Form):
    """Fields a person sets on an item."""

    title = StringField(
        "Tên",
        validators=[DataRequired("Hãy nhập tên mục."), Length(max=TITLE_CHARS)],
        render_kw={"maxlength": TITLE_CHARS},
    )
    kind = SelectField("Loại", choices=kind_choices(), validate_choice=False)
    licence_note = TextAreaField(
        "Bản quyền, nguồn",
        validators=[Length(max=LICENCE_CHARS)],
        render_kw={"rows": 3, "maxlength": LICENCE_CHARS},
    )


class UploadForm(ItemFields):
    """A new item: the file and its fields, and the unit that owns it."""

    file = FileField("Tệp âm thanh", render_kw={"accept": ACCEPT})
    unit_id = SelectField("Đơn vị sở hữu", coerce=int, validate_choice=False)


class EditForm(ItemFields):
    """Changing an item's fields; revision guards against overwriting someone's change."""

    revision = IntegerField(widget=HiddenField.widget)


class ActionForm(Form):
    """A button that only needs its CSRF token (archive, restore)."""
