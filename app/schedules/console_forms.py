"""Forms of the operator console: air now, skip or cancel an airing, log a live read."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.fields import TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.forms import Form
from app.playout.manual import MAX_NOTE_CHARS

NOTE_TOO_LONG = f"Tối đa {MAX_NOTE_CHARS} ký tự."


class AirNowForm(Form):
    """Air an approved script at once, as khẩn cấp, on the chosen stations."""

    # Choices are not checked by the form: the service says why a script or station is
    # refused (not approved, expired, outside the user's units) next to the field.
    script_id = SelectField(
        "Kịch bản đã duyệt",
        coerce=int,
        validate_choice=False,
        validators=[InputRequired("Chọn kịch bản cần phát.")],
    )
    stations = SelectMultipleField(
        "Phát trên đài",
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    note = TextAreaField(
        "Ghi chú (lý do phát ngay)", validators=[Length(max=MAX_NOTE_CHARS, message=NOTE_TOO_LONG)]
    )
    confirm = BooleanField(
        "Tôi hiểu: phát ngay sẽ ngắt bản tin đang phát trên các đài đã chọn.",
        validators=[DataRequired("Hãy đánh dấu ô xác nhận trước khi phát ngay.")],
    )


class ReasonForm(Form):
    """Skip an airing or cancel an occurrence: the reason is required (checked by the service)."""

    reason = TextAreaField("Lý do", validators=[Length(max=MAX_NOTE_CHARS, message=NOTE_TOO_LONG)])
    back = HiddenField()


class LiveReadForm(Form):
    """A spot the operator read on air by hand, logged after it happened."""

    station_id = HiddenField()
    day = DateField("Ngày đọc", validators=[Optional()])
    start = TimeField("Giờ bắt đầu đọc", validators=[InputRequired("Nhập giờ bắt đầu dạng HH:MM.")])
    minutes = IntegerField(
        "Thời lượng: phút",
        validators=[Optional(), NumberRange(0, 180, "Từ 0 đến 180 phút.")],
    )
    seconds = IntegerField("giây", validators=[Optional(), NumberRange(0, 59, "Từ 0 đến 59 giây.")])
    script_id = SelectField("Kịch bản đã đọc", coerce=int, validate_choice=False, default=0)
    airing_id = SelectField("Đọc thay cho lượt phát", coerce=int, validate_choice=False, default=0)
    note = TextAreaField(
        "Nội dung đã đọc / ghi chú",
        validators=[Length(max=MAX_NOTE_CHARS, message=NOTE_TOO_LONG)],
    )
    back = HiddenField()

    @property
    def duration_s(self) -> int:
        """The duration the two boxes add up to, in seconds."""
        return (self.minutes.data or 0) * 60 + (self.seconds.data or 0)
