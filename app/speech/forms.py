"""Forms of the speech pages: lexicon entries, regional readings, spoken text, render settings."""

from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.core.forms import Form

REQUIRED = "Bắt buộc."


class LexiconForm(Form):
    """One term and how to read it."""

    term = StringField("Từ viết", validators=[DataRequired(REQUIRED), Length(max=100)])
    spoken = StringField("Cách đọc", validators=[DataRequired(REQUIRED), Length(max=400)])
    note = StringField("Ghi chú", validators=[Length(max=300)])
    # 0 means the shared (global) list, which only admins edit.
    unit_id = SelectField("Áp dụng cho", coerce=int)


class ReadingOptionsForm(Form):
    """A unit's regional reading choices; empty inherits from the parent unit."""

    unit_id = SelectField("Đơn vị", coerce=int)
    thousand = SelectField(
        "Đọc 1.000", choices=[("", "Theo cấp trên"), ("nghìn", "nghìn"), ("ngàn", "ngàn")]
    )
    zero_tens = SelectField(
        "Đọc 105",
        choices=[("", "Theo cấp trên"), ("linh", "một trăm linh năm"), ("lẻ", "một trăm lẻ năm")],
    )
    four_after_tens = SelectField(
        "Đọc 24", choices=[("", "Theo cấp trên"), ("tư", "hai mươi tư"), ("bốn", "hai mươi bốn")]
    )
    code_policy = SelectField(
        "Mã văn bản (1286/KH-UBND)",
        choices=[
            ("", "Theo cấp trên"),
            ("skip", "Bỏ qua phần mã"),
            ("read", "Đọc phần mã"),
            ("expand", "Đọc tên đầy đủ theo từ điển"),
        ],
    )


class SpokenForm(Form):
    """A hand-typed spoken text for the current version."""

    spoken = TextAreaField("Văn bản đọc (sửa tay)", render_kw={"rows": 10})


class RenderForm(Form):
    """Engine, voice and assembly settings of a render."""

    station_id = SelectField("Đài (câu giới thiệu, độ to)", coerce=int)
    engine = SelectField("Bộ đọc")
    voice = SelectField("Giọng đọc")
    speed = IntegerField(
        "Tốc độ (%)",
        default=100,
        validators=[Optional(), NumberRange(min=50, max=200, message="Từ 50 đến 200.")],
    )
    repeats = SelectField("Số lần đọc", coerce=int, choices=[(n, str(n)) for n in range(1, 6)])
    chime = BooleanField("Nhạc hiệu mở đầu và kết thúc", default=True)
    allow_fallback = BooleanField("Dùng bộ đọc ngoại tuyến nếu bộ đọc đã chọn lỗi", default=True)
