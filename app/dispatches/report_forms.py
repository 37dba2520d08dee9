"""The report back's form: who issues it, its number, place and date, the period, the signer
and the recipients (checked by report_back.parse_input, which words the messages)."""

from __future__ import annotations

from wtforms import StringField, TextAreaField

from app.core.forms import Form
from app.dispatches.report_back import ReportInput


class ReportForm(Form):
    """Fields of the report back; the dates are typed as YYYY-MM-DD or dd/mm/yyyy."""

    issuer_parent = StringField("Cơ quan chủ quản")
    issuer_name = StringField("Cơ quan ban hành báo cáo")
    number = StringField("Số")
    code = StringField("Ký hiệu")
    place = StringField("Địa danh")
    issued_on = StringField("Ngày báo cáo")
    start = StringField("Từ ngày")
    end = StringField("Đến ngày")
    cited_issuer = StringField("Cơ quan ban hành văn bản đến (như trích dẫn trong báo cáo)")
    signer_authority = StringField("Quyền hạn ký (nếu có)")
    signer_title = StringField("Chức vụ người ký")
    signer_name = StringField("Họ và tên người ký")
    recipients = TextAreaField("Nơi nhận (mỗi dòng một nơi)")
    archive = StringField("Lưu")

    def fill(self, data: ReportInput) -> None:
        """Show a report input (the defaults) in the form."""
        for name in (
            "issuer_parent",
            "issuer_name",
            "number",
            "code",
            "place",
            "cited_issuer",
            "signer_authority",
            "signer_title",
            "signer_name",
            "archive",
        ):
            getattr(self, name).data = getattr(data, name)
        for name in ("issued_on", "start", "end"):
            getattr(self, name).data = getattr(data, name).isoformat()
        self.recipients.data = "\n".join(data.recipients)
