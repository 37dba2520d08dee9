"""Recording and querying audit events."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.extensions import db


def record_event(
    action: str,
    object_type: str,
    object_id: int | None,
    summary: str,
    *,
    actor: User | None = None,
    unit_id: int | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Append an audit event in the caller's transaction."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()
    ip = request.remote_addr if has_request_context() else None
    event = AuditEvent(
        created_at=clock.now(),
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "hệ thống",
        ip=ip,
        action=action,
        object_type=object_type,
        object_id=object_id,
        unit_id=unit_id,
        summary=summary,
        details=details or {},
    )
    db.session.add(event)
    return event


def events_query(
    unit_path: str,
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
):
    """Select audit events about the given subtree (or with no unit), newest first; dates are
    local (Asia/Ho_Chi_Minh) days, both included."""
    from app.org.models import Unit

    query = (
        select(AuditEvent)
        .outerjoin(Unit, Unit.id == AuditEvent.unit_id)
        .where((Unit.path.startswith(unit_path)) | (AuditEvent.unit_id.is_(None)))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    if actor:
        query = query.where(AuditEvent.actor_name == actor)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    if date_from is not None:
        query = query.where(AuditEvent.created_at >= local_midnight(date_from))
    if date_to is not None:
        query = query.where(AuditEvent.created_at < local_midnight(date_to + timedelta(days=1)))
    return query


def local_midnight(day: date) -> datetime:
    """The start of a Vietnamese calendar day, in UTC."""
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)
