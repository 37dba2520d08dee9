"""Unit, station and broadcast-session forms."""

from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields import TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.forms import Form
from app.org.models import STATION_KIND_LABELS

REQUIRED = "Bắt buộc."
MISFIRE_LABELS = {
    "late": "Phát muộn nếu trễ trong thời gian cho phép",
    "skip": "Bỏ qua nếu trễ",
}
INTERRUPT_LABELS = {
    "requeue": "Phát lại sau tin khẩn cấp",
    "drop": "Bỏ luôn",
}
WEEKDAYS = [
    ("1", "T2"),
    ("2", "T3"),
    ("3", "T4"),
    ("4", "T5"),
    ("5", "T6"),
    ("6", "T7"),
    ("7", "CN"),
]


class UnitForm(Form):
    """A unit of the organisation tree."""

    code = StringField("Mã", validators=[DataRequired(REQUIRED), Length(max=40)])
    name = StringField("Tên đơn vị", validators=[DataRequired(REQUIRED), Length(max=200)])
    level = StringField("Cấp (ví dụ: Tỉnh, Xã, Phường)", validators=[Length(max=60)])
    parent_id = SelectField("Đơn vị cấp trên", coerce=int)
    active = BooleanField("Đang hoạt động", default=True)


class StationForm(Form):
    """A station."""

    code = StringField("Mã đài", validators=[DataRequired(REQUIRED), Length(max=40)])
    name = StringField("Tên đài", validators=[DataRequired(REQUIRED), Length(max=200)])
    kind = SelectField("Loại", choices=[(k.value, v) for k, v in STATION_KIND_LABELS.items()])
    unit_id = SelectField("Thuộc đơn vị", coerce=int)
    active = BooleanField("Đang hoạt động", default=True)
    intro_text = StringField("Câu giới thiệu trước bản tin", validators=[Length(max=300)])
    speech_engine = SelectField("Bộ đọc mặc định", default="")
    speech_voice = SelectField("Giọng mặc định", default="")
    target_lufs = FloatField(
        "Độ to mục tiêu (LUFS)",
        default=-16.0,
        validators=[Optional(), NumberRange(-30, -10, "Từ −30 đến −10.")],
    )
    true_peak_db = FloatField(
        "Đỉnh tối đa (dBTP)",
        default=-1.0,
        validators=[Optional(), NumberRange(-9, 0, "Từ −9 đến 0.")],
    )
    # Playout policy. A post without these fields keeps the station's current values.
    misfire_policy = RadioField(
        "Khi bộ phát tới lượt phát muộn",
        choices=list(MISFIRE_LABELS.items()),
        default="late",
        validators=[Optional()],
    )
    # Minutes in the form, seconds in the database (Station.grace_s); empty is the default.
    grace_minutes = IntegerField(
        "Thời gian cho phép trễ (phút)",
        validators=[Optional(), NumberRange(0, 60, "Từ 0 đến 60 phút.")],
    )
    interrupt_policy = RadioField(
        "Bản tin bị tin khẩn cấp ngắt ngang",
        choices=list(INTERRUPT_LABELS.items()),
        default="requeue",
        validators=[Optional()],
    )


class SessionForm(Form):
    """A daily broadcast session of a station."""

    name = StringField("Tên buổi", validators=[DataRequired(REQUIRED), Length(max=80)])
    start_time = TimeField("Bắt đầu", validators=[InputRequired("Nhập giờ dạng HH:MM.")])
    end_time = TimeField("Kết thúc", validators=[InputRequired("Nhập giờ dạng HH:MM.")])
    cap_minutes = IntegerField(
        "Tối đa (phút)",
        validators=[InputRequired("Nhập số phút."), NumberRange(1, 1440, "Từ 1 đến 1440 phút.")],
    )
    weekdays = SelectMultipleField(
        "Ngày phát",
        choices=WEEKDAYS,
        default=[d for d, _ in WEEKDAYS],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
