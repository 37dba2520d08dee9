"""Forms of the programme pages: the rundown editor and the one-button actions."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length

from app.core.forms import Form


class ProgrammeForm(Form):
    """A programme's own fields; its rundown rows are read from the posted form by position."""

    title = StringField(
        "Tên chương trình", validators=[Length(max=300)], render_kw={"maxlength": 300}
    )
    session = SelectField("Buổi phát nhắm tới", validate_choice=False)
    bed_item_id = SelectField("Nhạc nền", validate_choice=False)
    duck_db = StringField(
        "Giảm nhạc nền dưới các mục (dB)",
        default="15",
        render_kw={"inputmode": "decimal", "maxlength": 8},
    )
    q = StringField(
        "Tìm bản tin đã duyệt, bản ghi âm hoặc âm thanh thư viện",
        render_kw={"maxlength": 200, "type": "search"},
    )
    revision = HiddenField()


class ActionForm(Form):
    """A button that only needs its CSRF token (mix, submit)."""
