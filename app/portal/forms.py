"""The admin's form for issuing a feed token."""

from wtforms import SelectField, StringField
from wtforms.validators import Length

from app.core.forms import Form


class FeedTokenForm(Form):
    """A new feed token for one unit's subtree."""

    unit_id = SelectField("Đơn vị (mã đọc được đơn vị này và các đơn vị trực thuộc)", coerce=int)
    name = StringField(
        "Tên mã (để nhận ra nơi dùng)",
        validators=[Length(max=100, message="Tối đa 100 ký tự.")],
    )
