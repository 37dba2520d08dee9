"""Broadcast log endpoints: the log with the console's filters, and verifying its hash chains."""

from __future__ import annotations

from datetime import timedelta

from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.api import bp
from app.api.openapi import operation, page_response
from app.api.schedules import BAD_FILTER, local_midnight, log_json, station_field
from app.api.schemas import LogQuery, VerifyQuery, read_query
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import LogFilter, log_query, verify_chain
from app.core.errors import ValidationError
from app.extensions import db
from app.org.models import Station, Unit
from app.scripts.models import Script, ScriptVersion

LOGS_PER_PAGE = 50


def _period(args: VerifyQuery, errors: dict) -> tuple:
    """date_from and date_to (local days, both included); from after to is refused."""
    if args.date_from and args.date_to and args.date_from > args.date_to:
        errors["date_from"] = "Ngày bắt đầu lọc phải trước hoặc bằng ngày kết thúc."
    return args.date_from, args.date_to


@bp.get("/logs")
@operation(query=LogQuery, response=page_response())
def list_logs():
    """Log rows of the caller's stations, newest first, with the console's filters."""
    args = read_query(LogQuery, BAD_FILTER)
    errors: dict[str, str] = {}
    filters = LogFilter(campaign=args.campaign.strip())
    if args.station:
        filters.station = station_field(args.station, "station", errors)
    filters.date_from, filters.date_to = _period(args, errors)
    if args.status:
        filters.status = LogStatus(args.status)
    page, per_page = args.page, args.per_page or LOGS_PER_PAGE
    if errors:
        raise ValidationError(BAD_FILTER, errors)
    query = log_query(current_user, filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(
        query.options(selectinload(BroadcastLog.station), selectinload(BroadcastLog.operator))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    # Load the page's scripts and versions in two queries; log_json then finds them in the
    # session instead of asking once per row.
    script_ids = {r.script_id for r in rows if r.script_id}
    version_ids = {r.version_id for r in rows if r.version_id}
    if script_ids:
        db.session.scalars(select(Script).where(Script.id.in_(script_ids))).all()
    if version_ids:
        db.session.scalars(select(ScriptVersion).where(ScriptVersion.id.in_(version_ids))).all()
    return {
        "items": [log_json(r) for r in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


@bp.get("/logs/verify")
@operation(query=VerifyQuery)
def verify_logs():
    """Check the hash chains of the caller's stations (or one), optionally of a period."""
    args = read_query(VerifyQuery, BAD_FILTER)
    errors: dict[str, str] = {}
    station = station_field(args.station, "station", errors) if args.station else None
    date_from, date_to = _period(args, errors)
    if errors:
        raise ValidationError(BAD_FILTER, errors)
    start = local_midnight(date_from) if date_from else None
    end = local_midnight(date_to + timedelta(days=1)) if date_to else None
    if station is not None:
        stations = [station]
    else:
        # verify_chain() without a station checks every station; the API checks only the
        # caller's, one at a time, in code order.
        with_rows = select(BroadcastLog.station_id).distinct()
        stations = db.session.scalars(
            select(Station)
            .join(Unit, Station.unit_id == Unit.id)
            .where(Unit.path.startswith(current_user.unit.path), Station.id.in_(with_rows))
            .order_by(Station.code)
        ).all()
    checked, codes = 0, []
    for item in stations:
        result = verify_chain(item.id, start, end)
        checked += result.checked
        codes.append(item.code)
        if not result.ok:
            bad = result.first_bad
            return {
                "ok": False,
                "checked": checked,
                "stations": codes,
                "first_bad": {"station": bad.station_code, "seq": bad.seq, "row_id": bad.row_id},
                "problem": result.problem,
            }
    return {"ok": True, "checked": checked, "stations": codes, "first_bad": None, "problem": ""}
