"""The dispatch desk's forms: intake, the confirm page and drafting."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    DateField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms import Form as PlainForm
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.forms import Form, VietnameseTranslations
from app.dispatches.service import SECRECIES, URGENCIES

BAD_DATE = "Ngày không hợp lệ."


class IntakeForm(Form):
    """A dispatch file, or its text pasted."""

    file = FileField(
        "Tệp công văn",
        render_kw={"accept": ".pdf,.docx,.jpg,.jpeg,.png,.txt,application/pdf,image/*"},
    )
    text = TextAreaField("Hoặc dán nội dung công văn", render_kw={"rows": 10})


class _Row(PlainForm):
    """A row of a table on the confirm page (no CSRF of its own; the page's form has it)."""

    class Meta:
        def get_translations(self, form):
            """Vietnamese messages."""
            return VietnameseTranslations()


class CiteRow(_Row):
    """A document the dispatch cites."""

    kind = StringField("Loại")
    number = IntegerField("Số", validators=[Optional()])
    code = StringField("Ký hiệu")
    date = DateField("Ngày", validators=[Optional()])
    issuer = StringField("Cơ quan ban hành")


class ContactRow(_Row):
    """A phone number, link or e-mail address."""

    type = SelectField(
        "Loại",
        choices=[("phone", "Điện thoại"), ("url", "Đường dẫn"), ("email", "Thư điện tử")],
    )
    value = StringField("Số / địa chỉ")
    name = StringField("Người liên hệ")


class DeadlineRow(_Row):
    """A date the dispatch sets."""

    date = DateField("Ngày", validators=[Optional()])
    time = StringField("Giờ")
    text = StringField("Việc phải xong")


class ConfirmForm(Form):
    """Every field of a dispatch, as read, for the officer to confirm or correct."""

    parent_issuer = StringField("Cơ quan chủ quản (cấp trên)")
    issuer = StringField("Cơ quan ban hành")
    kind = StringField("Loại văn bản")
    number = IntegerField("Số", validators=[Optional()])
    code = StringField("Ký hiệu")
    place = StringField("Địa danh")
    issued_on = DateField("Ngày ban hành", validators=[Optional()])
    subject = TextAreaField("Trích yếu (V/v …)", render_kw={"rows": 3})
    urgency = SelectField("Độ khẩn", choices=[("", "Không đánh dấu")] + [(u, u) for u in URGENCIES])
    secrecy = SelectField("Độ mật", choices=[("", "Không đánh dấu")] + [(s, s) for s in SECRECIES])
    addressees = TextAreaField("Kính gửi (mỗi dòng một nơi)", render_kw={"rows": 5})
    distribution = TextAreaField("Nơi nhận (mỗi dòng một nơi)", render_kw={"rows": 8})
    signer_title = StringField("Chức vụ người ký")
    signer_name = StringField("Người ký")
    cites = FieldList(FormField(CiteRow), min_entries=1)
    contacts = FieldList(FormField(ContactRow), min_entries=1)
    deadlines = FieldList(FormField(DeadlineRow), min_entries=1)
    campaign = StringField("Chiến dịch")
    valid_from = DateField("Phát từ ngày", validators=[Optional()])
    valid_until = DateField("Phát đến ngày", validators=[Optional()])
    report_due = DateField("Hạn báo cáo kết quả", validators=[Optional()])
    targets = SelectMultipleField(
        "Đơn vị thực hiện",
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    revision = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        """Give date fields a Vietnamese message."""
        ok = super().validate(extra_validators)
        for name in ("issued_on", "valid_from", "valid_until", "report_due"):
            field = getattr(self, name)
            if field.errors:
                field.errors = [BAD_DATE]
        return ok


class DraftsForm(Form):
    """Make drafts: the chosen points come as `points` values (their positions)."""
