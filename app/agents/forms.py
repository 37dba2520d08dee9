"""Forms of the agents page: add an agent, switch a station's playout mode."""

from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.core.forms import Form
from app.org.models import PLAYOUT_MODE_LABELS


class AgentForm(Form):
    """A new agent for a station."""

    station_id = SelectField("Đài", coerce=int)
    name = StringField(
        "Tên máy trạm (để nhận ra máy)", validators=[Length(max=100, message="Tối đa 100 ký tự.")]
    )


class ModeForm(Form):
    """Who airs a station; the switch needs a tick, it changes where spots air."""

    mode = RadioField(
        "Chế độ phát", choices=[(m.value, label) for m, label in PLAYOUT_MODE_LABELS.items()]
    )
    confirm = BooleanField(
        "Tôi hiểu: từ lúc chuyển, chỉ nơi được chọn phát lịch của đài này.",
        validators=[DataRequired("Hãy đánh dấu xác nhận trước khi chuyển.")],
    )
