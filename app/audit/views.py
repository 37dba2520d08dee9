"""The audit trail page for supervisors and admins."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from app.audit.service import events_query
from app.auth.decorators import permission_required
from app.auth.permissions import Permission
from app.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
@permission_required(Permission.AUDIT_VIEW)
def index():
    """Audit events of the user's subtree, filterable by user, action and object."""
    object_id = request.args.get("object_id", "")
    query = events_query(
        current_user.unit.path,
        actor=request.args.get("actor", "").strip().lower(),
        action=request.args.get("action", "").strip(),
        object_type=request.args.get("object_type", "").strip(),
        object_id=int(object_id) if object_id.isdigit() else None,
    )
    page = db.paginate(query, per_page=50, error_out=False)
    return render_template("audit/index.html", page=page, args=request.args)
