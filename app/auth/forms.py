"""Login, password, token and user-administration forms."""

from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.auth.models import ROLE_LABELS
from app.core.forms import Form

REQUIRED = "Bắt buộc."


class LoginForm(Form):
    """User name and password."""

    username = StringField("Tên đăng nhập", validators=[DataRequired(REQUIRED), Length(max=60)])
    password = PasswordField("Mật khẩu", validators=[DataRequired(REQUIRED)])


class ChangePasswordForm(Form):
    """Change one's own password."""

    current = PasswordField("Mật khẩu hiện tại", validators=[DataRequired(REQUIRED)])
    new = PasswordField("Mật khẩu mới", validators=[DataRequired(REQUIRED)])
    confirm = PasswordField("Nhập lại mật khẩu mới", validators=[DataRequired(REQUIRED)])


class TokenForm(Form):
    """Name a new API token."""

    name = StringField("Tên gợi nhớ", validators=[Length(max=100, message="Tối đa 100 ký tự.")])


class UserForm(Form):
    """An admin's view of a user."""

    username = StringField("Tên đăng nhập", validators=[DataRequired(REQUIRED), Length(max=60)])
    full_name = StringField("Họ tên", validators=[DataRequired(REQUIRED), Length(max=200)])
    role = SelectField("Vai trò", choices=[(r.value, label) for r, label in ROLE_LABELS.items()])
    unit_id = SelectField("Đơn vị", coerce=int)
    active = BooleanField("Đang hoạt động", default=True)
    password = PasswordField("Mật khẩu tạm (người dùng phải đổi khi đăng nhập)")


class ResetPasswordForm(Form):
    """Set a temporary password for a user."""

    password = PasswordField("Mật khẩu tạm mới", validators=[DataRequired(REQUIRED)])
