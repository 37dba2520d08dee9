"""The script editor and the review forms."""

from wtforms import (
    DateField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from app.core.forms import Form
from app.scripts.models import MAX_BODY_CHARS, PRIORITY_LABELS

REQUIRED = "Bắt buộc."
BAD_DATE = "Ngày không hợp lệ."


class ScriptForm(Form):
    """Metadata and body of a script."""

    title = StringField("Tiêu đề", validators=[DataRequired(REQUIRED), Length(max=300)])
    campaign = StringField("Chiến dịch", validators=[Length(max=200)])
    category = StringField("Chuyên mục", validators=[Length(max=120)])
    priority = SelectField(
        "Mức ưu tiên", choices=[(p.value, label) for p, label in PRIORITY_LABELS.items()]
    )
    unit_id = SelectField("Đơn vị soạn", coerce=int)
    targets = SelectMultipleField("Đơn vị nhận", coerce=int)
    source_kind = StringField("Loại văn bản", validators=[Length(max=60)])
    source_number = StringField("Số hiệu", validators=[Length(max=80)])
    source_date = DateField("Ngày văn bản", validators=[Optional()], render_kw={"type": "date"})
    source_issuer = StringField("Cơ quan ban hành", validators=[Length(max=300)])
    valid_from = DateField("Hiệu lực từ", validators=[Optional()])
    valid_until = DateField("Hiệu lực đến", validators=[Optional()])
    # Length is checked by the service after NFC, so the message names the real count.
    body = TextAreaField("Nội dung", render_kw={"rows": 18, "data-max": MAX_BODY_CHARS})
    revision = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        """Give date fields a Vietnamese message."""
        ok = super().validate(extra_validators)
        for name in ("source_date", "valid_from", "valid_until"):
            field = getattr(self, name)
            if field.errors:
                field.errors = [BAD_DATE]
        return ok


class RejectForm(Form):
    """A rejection reason."""

    reason = TextAreaField("Lý do từ chối", render_kw={"rows": 4})
    version_id = HiddenField()


class ApproveForm(Form):
    """Approve the version shown."""

    version_id = HiddenField()
