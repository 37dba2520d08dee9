"""The audit trail page for supervisors and admins."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, render_template, request
from flask_login import current_user

from app.audit.service import events_query
from app.auth.decorators import permission_required
from app.auth.permissions import Permission
from app.core.text import parse_id
from app.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit")

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


def parse_day(text: str) -> date | None:
    """A day typed or picked in the filter (YYYY-MM-DD or dd/mm/yyyy); None when empty;
    ValueError when it is not a date."""
    text = text.strip()
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def read_dates(args) -> tuple[date | None, date | None, dict[str, str]]:
    """The date_from and date_to filters, and a Vietnamese message per bad one."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        try:
            days[name] = parse_day(args.get(name, ""))
        except ValueError:
            days[name] = None
            errors[name] = (
                f"Ngày “{args.get(name, '').strip()}” không hợp lệ; hãy chọn theo lịch "
                "hoặc viết như 27/11/2026."
            )
    if days["date_from"] and days["date_to"] and days["date_from"] > days["date_to"]:
        errors["date_to"] = "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu."
    return days["date_from"], days["date_to"], errors


@bp.get("/")
@permission_required(Permission.AUDIT_VIEW)
def index():
    """Audit events of the user's subtree, filterable by user, action, object and dates."""
    object_id = request.args.get("object_id", "")
    date_from, date_to, errors = read_dates(request.args)
    page = None
    if not errors:
        query = events_query(
            current_user.unit.path,
            actor=request.args.get("actor", "").strip().lower(),
            action=request.args.get("action", "").strip(),
            object_type=request.args.get("object_type", "").strip(),
            object_id=parse_id(object_id),
            date_from=date_from,
            date_to=date_to,
        )
        page = db.paginate(query, per_page=50, error_out=False)
    page_html = render_template("audit/index.html", page=page, args=request.args, errors=errors)
    return page_html, 422 if errors else 200
