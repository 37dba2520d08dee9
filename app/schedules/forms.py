"""The schedule form, the cancel and delete forms, and a rule written back in the form's words."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import TimeField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.forms import Form
from app.schedules.plan import DEFAULT_GAP_SECONDS
from app.schedules.recurrence import ALL_WEEKDAYS, Recurrence, fmt_int, format_times
from app.scripts.models import PRIORITY_LABELS

BAD_DATE = "Ngày không hợp lệ."
BAD_TIME = "Giờ không hợp lệ (dạng HH:MM)."

KIND_LABELS = {
    "times": "Vào các giờ cố định",
    "per_session": "N lần mỗi buổi phát",
    "every": "Cứ N phút một lần trong khoảng giờ",
}
# Checkbox labels; sentences use WEEKDAY_WORDS (lower-case "thứ", as in running text).
WEEKDAY_LABELS = {
    1: "Thứ Hai",
    2: "Thứ Ba",
    3: "Thứ Tư",
    4: "Thứ Năm",
    5: "Thứ Sáu",
    6: "Thứ Bảy",
    7: "Chủ Nhật",
}
WEEKDAY_WORDS = {
    1: "thứ Hai",
    2: "thứ Ba",
    3: "thứ Tư",
    4: "thứ Năm",
    5: "thứ Sáu",
    6: "thứ Bảy",
    7: "Chủ nhật",
}


class DecimalCommaField(FloatField):
    """A number field that also reads the Vietnamese decimal comma ("2,5")."""

    def process_formdata(self, valuelist):
        """Swap a decimal comma for a point before WTForms reads the number."""
        if valuelist:
            valuelist = [str(v).strip().replace(",", ".") for v in valuelist]
        super().process_formdata(valuelist)

    def _value(self) -> str:
        """Show 5 rather than 5.0, and 2,5 with the decimal comma."""
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return f"{self.data:g}".replace(".", ",")


class ScheduleForm(Form):
    """A new schedule: what airs, where, by which rule, when, and how urgently."""

    # Choices are offered, but any id is read and the service says why it cannot air, so a
    # draft or expired script gets its own message rather than "not a valid choice".
    script = SelectField("Kịch bản đã duyệt", coerce=int, validate_choice=False)
    stations = SelectMultipleField("Đài", coerce=int, validate_choice=False)
    units = SelectMultipleField("Mọi đài của đơn vị", coerce=int, validate_choice=False)
    kind = RadioField(
        "Cách lặp", choices=list(KIND_LABELS.items()), default="times", validate_choice=True
    )
    times = StringField("Giờ phát", render_kw={"placeholder": "05:45, 17:15"})
    per_session = IntegerField("Số lần mỗi buổi", validators=[Optional()])
    every_minutes = IntegerField("Cứ bao nhiêu phút", validators=[Optional()])
    window_start = TimeField("Từ giờ", validators=[Optional()])
    window_end = TimeField("Đến giờ", validators=[Optional()])
    weekdays = SelectMultipleField(
        "Ngày trong tuần",
        coerce=int,
        choices=list(WEEKDAY_LABELS.items()),
        default=sorted(ALL_WEEKDAYS),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    start_date = DateField("Từ ngày", validators=[Optional()])
    end_date = DateField("Đến ngày", validators=[Optional()])
    count = IntegerField("Tổng số lần phát tối đa", validators=[Optional()])
    priority = SelectField(
        "Mức ưu tiên",
        choices=[("", "Theo kịch bản"), *((p.value, n) for p, n in PRIORITY_LABELS.items())],
        default="",
    )
    gap_seconds = DecimalCommaField(
        "Nghỉ giữa hai bản tin (giây)", default=DEFAULT_GAP_SECONDS, validators=[Optional()]
    )
    confirm_warnings = BooleanField("Tôi đã xem các cảnh báo trên và vẫn muốn lưu")
    # Fingerprint of the warnings the page showed: a confirmation only covers those.
    warnings_seen = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        """Give date and time fields a Vietnamese message."""
        ok = super().validate(extra_validators)
        for name, message in (
            ("start_date", BAD_DATE),
            ("end_date", BAD_DATE),
            ("window_start", BAD_TIME),
            ("window_end", BAD_TIME),
        ):
            field = getattr(self, name)
            if field.errors:
                field.errors = [message]
        return ok


class CancelForm(Form):
    """Call off one occurrence, on one station or on all of the schedule's stations."""

    occurs_at = SelectField("Lần phát", validate_choice=False)
    station = SelectField("Tại đài", validate_choice=False)
    reason = TextAreaField("Lý do hủy", render_kw={"rows": 2})


class DeleteForm(Form):
    """Delete a schedule, once the box is ticked."""

    confirm = BooleanField("Tôi hiểu: các lần phát chưa diễn ra của lịch này sẽ bị bỏ")


# --- The rule in words ------------------------------------------------------------------------


def weekdays_in_words(weekdays: Iterable[int]) -> str:
    """ "hằng ngày", "từ thứ Hai đến thứ Sáu", or "thứ Hai, thứ Tư và thứ Sáu"."""
    days = sorted(set(weekdays))
    if set(days) == ALL_WEEKDAYS:
        return "hằng ngày"
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"từ {WEEKDAY_WORDS[days[0]]} đến {WEEKDAY_WORDS[days[-1]]}"
    names = [WEEKDAY_WORDS[d] for d in days]
    if len(names) == 1:
        return f"mỗi {names[0]}"
    return "các ngày " + ", ".join(names[:-1]) + " và " + names[-1]


def dates_in_words(start: date, end: date) -> str:
    """ "từ 01/09 đến 30/09/2021", or "ngày 01/09/2021" for one day."""
    if start == end:
        return f"ngày {start:%d/%m/%Y}"
    if start.year == end.year:
        return f"từ {start:%d/%m} đến {end:%d/%m/%Y}"
    return f"từ {start:%d/%m/%Y} đến {end:%d/%m/%Y}"


def rule_in_words(rec: Recurrence) -> str:
    """The rule as the form would read it: "05:45, 17:15 hằng ngày từ 01/09 đến 30/09/2021"."""
    if rec.kind == "times":
        what = format_times(rec.times)
    elif rec.kind == "per_session":
        what = f"{rec.per_session} lần mỗi buổi phát"
    else:
        start = f"{rec.window_start:%H:%M}" if rec.window_start else "?"
        end = f"{rec.window_end:%H:%M}" if rec.window_end else "?"
        what = f"cứ {rec.every_minutes} phút một lần trong khung {start}–{end},"
    if rec.start_date == rec.end_date:
        # One day: which weekdays it would repeat on says nothing.
        text = f"{what} {dates_in_words(rec.start_date, rec.end_date)}"
    else:
        days = weekdays_in_words(rec.weekdays)
        text = f"{what} {days} {dates_in_words(rec.start_date, rec.end_date)}"
    if rec.count is not None:
        text += f", tối đa {fmt_int(rec.count)} lần mỗi đài"
    return text
