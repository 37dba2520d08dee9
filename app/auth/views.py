"""Login, logout, own password and API tokens, and the admin's user pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from app.auth import service, throttle
from app.auth.decorators import permission_required
from app.auth.forms import ChangePasswordForm, LoginForm, ResetPasswordForm, TokenForm, UserForm
from app.auth.models import Role, User
from app.auth.permissions import Permission, require_scope
from app.core.errors import DomainError, NotFound
from app.core.forms import apply_errors, flash_form_errors
from app.extensions import db, login_manager
from app.org.models import Unit
from app.org.service import unit_choices

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the user of a session cookie while its login session is live on the server."""
    return service.user_for_session(user_id)


def _safe_next(target: str | None) -> str:
    """Only follow local redirects after login."""
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("scripts.index")


@bp.route("/login", methods=["GET", "POST"])
@throttle.per_address
@throttle.per_account
def login():
    """Log in with user name and password."""
    if current_user.is_authenticated:
        return redirect(url_for("scripts.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.username.data, form.password.data)
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("auth/login.html", form=form), 401
        throttle.forget_failures()
        session.clear()
        login_user(user)
        flash(f"Xin chào {user.full_name}.", "success")
        if user.must_change_password:
            return redirect(url_for("auth.change_password"))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Log out, ending the login session on the server."""
    service.end_session(current_user)
    logout_user()
    session.clear()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (forced after a reset or on first login)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(
                current_user, form.current.data, form.new.data, form.confirm.data
            )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash("Đã đổi mật khẩu.", "success")
            return redirect(url_for("scripts.index"))
    else:
        flash_form_errors(form)
    return render_template("auth/password.html", form=form)


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """List, create and revoke one's own API tokens."""
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            _, new_token = service.create_token(current_user, form.name.data or "")
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash("Đã tạo mã truy cập. Hãy chép lại ngay: mã chỉ hiện một lần.", "success")
            form = TokenForm(formdata=None)
    return render_template(
        "auth/tokens.html", form=form, new_token=new_token, tokens=current_user.tokens
    )


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke an API token."""
    token = service.revoke_token(current_user, token_id)
    flash(f"Đã thu hồi mã “{token.name}”.", "success")
    if token.user_id != current_user.id:
        return redirect(url_for("auth.edit_user", user_id=token.user_id))
    return redirect(url_for("auth.tokens"))


def _scoped_user(user_id: int) -> User:
    """A user of the admin's subtree."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("Không tìm thấy người dùng.")
    require_scope(current_user, user.unit, "Người dùng")
    return user


@bp.get("/admin/users")
@permission_required(Permission.ADMIN)
def users():
    """Users of the admin's subtree."""
    rows = db.session.scalars(
        select(User)
        .join(Unit)
        .where(Unit.path.startswith(current_user.unit.path))
        .order_by(Unit.path, User.username)
    ).all()
    return render_template("auth/users.html", users=rows)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@permission_required(Permission.ADMIN)
def new_user():
    """Create a user."""
    form = UserForm()
    form.unit_id.choices = unit_choices(current_user.unit)
    if form.validate_on_submit():
        try:
            user = service.create_user(
                current_user,
                service.UserInput(
                    username=form.username.data,
                    full_name=form.full_name.data,
                    role=Role(form.role.data),
                    unit=db.session.get(Unit, form.unit_id.data),
                    active=form.active.data,
                ),
                form.password.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"Đã tạo người dùng {user.username}.", "success")
            return redirect(url_for("auth.users"))
    else:
        flash_form_errors(form)
    return render_template("auth/user_form.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@permission_required(Permission.ADMIN)
def edit_user(user_id: int):
    """Edit a user, reset their password, revoke their tokens."""
    user = _scoped_user(user_id)
    form = UserForm(obj=user, role=user.role.value)
    form.unit_id.choices = unit_choices(current_user.unit)
    del form.password
    form.username.render_kw = {"readonly": True}
    if form.validate_on_submit():
        try:
            service.update_user(
                current_user,
                user,
                service.UserInput(
                    username=user.username,
                    full_name=form.full_name.data,
                    role=Role(form.role.data),
                    unit=db.session.get(Unit, form.unit_id.data),
                    active=form.active.data,
                ),
            )
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"Đã lưu người dùng {user.username}.", "success")
            return redirect(url_for("auth.users"))
    else:
        flash_form_errors(form)
    return render_template(
        "auth/user_form.html", form=form, user=user, reset_form=ResetPasswordForm(formdata=None)
    )


@bp.post("/admin/users/<int:user_id>/reset-password")
@permission_required(Permission.ADMIN)
def reset_password(user_id: int):
    """Give a user a temporary password."""
    user = _scoped_user(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            service.reset_password(current_user, user, form.password.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(
                f"Đã đặt mật khẩu tạm cho {user.username}; họ phải đổi khi đăng nhập. "
                "Các phiên đăng nhập và mã truy cập API của họ đã bị thu hồi.",
                "success",
            )
    else:
        flash("Hãy nhập mật khẩu tạm mới.", "error")
    return redirect(url_for("auth.edit_user", user_id=user.id))
