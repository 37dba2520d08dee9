"""The admin's feed tokens page: issue a token per unit for the provincial source information
system (shown once), see who issued which and when it was last used, revoke one."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.decorators import permission_required
from app.auth.permissions import Permission
from app.core.errors import DomainError, NotFound
from app.core.forms import apply_errors, flash_form_errors
from app.extensions import db
from app.org.models import Unit
from app.portal import tokens
from app.portal.blueprint import bp
from app.portal.forms import FeedTokenForm


def _page(form: FeedTokenForm, new=None, status: int = 200):
    """The page with the issue form as given (and a new token's plaintext, once)."""
    units = tokens.units_in_scope(current_user)
    form.unit_id.choices = [(u.id, f"{'· ' * u.depth}{u.name} ({u.code})") for u in units]
    return render_template(
        "portal/tokens.html",
        form=form,
        tokens=tokens.tokens_in_scope(current_user),
        new=new,
        feed_root=request.url_root.rstrip("/") + "/feed/v1",
    ), status


@bp.get("/admin/feed-tokens")
@permission_required(Permission.ADMIN)
def feed_tokens():
    """Feed tokens of the admin's subtree and the form to issue one."""
    return _page(FeedTokenForm(formdata=None))


@bp.post("/admin/feed-tokens")
@permission_required(Permission.ADMIN)
def issue_feed_token():
    """Issue a feed token and show it once."""
    form = FeedTokenForm()
    form.unit_id.choices = [(u.id, u.name) for u in tokens.units_in_scope(current_user)]
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _page(form, status=422)
    try:
        unit = db.session.get(Unit, form.unit_id.data)
        if unit is None:
            raise NotFound("Không tìm thấy đơn vị.", {"unit_id": "Không tìm thấy đơn vị."})
        new = tokens.issue_feed_token(current_user, unit, form.name.data or "")
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _page(form, status=422)
    flash(f"Đã cấp mã “{new[0].name}” cho {new[0].unit.name}.", "success")
    # Rendered, not redirected: the token must not travel in a URL or the session.
    return _page(FeedTokenForm(formdata=None), new=new)


@bp.post("/admin/feed-tokens/<int:token_id>/revoke")
@permission_required(Permission.ADMIN)
def revoke_feed_token(token_id: int):
    """Revoke a feed token: it stops working at once."""
    try:
        token = tokens.revoke_feed_token(current_user, token_id)
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, NotFound):
            raise
        flash(exc.message, "error")
    else:
        flash(f"Đã thu hồi mã “{token.name}”: nó không đọc được nguồn tin nữa.", "success")
    return redirect(url_for("portal.feed_tokens"))
