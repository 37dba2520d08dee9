"""Report endpoints: the airtime dashboard and a campaign's proof, as JSON or CSV.

The query parameters are the report pages' (app.reports.views.read_filters), so an address
copied from a page works here too; CSV is the pages' export, audited the same way.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.openapi import operation
from app.api.schedules import BAD_FILTER, local_iso
from app.api.schemas import ReportQuery, read_query
from app.core.errors import NotFound, ValidationError
from app.reports.exports import campaign_document, dashboard_document, send_export, slugify
from app.reports.service import (
    CampaignReport,
    Dashboard,
    Period,
    ReportFilter,
    Tally,
    airtime_dashboard,
    campaign_label,
    campaign_report,
)
from app.reports.views import period_stem, read_filters

REPORT_RESPONSE = {"application/json": {"schema": {"type": "object"}}, "text/csv": {}}


def _request(all_time: bool) -> tuple[ReportFilter, str]:
    """The report filters and format of the query string; errors as JSON (400, 404 or 422).

    A unit, station or script that does not exist or lies outside the caller's subtree is 404
    (the same answer for both); other bad values are 422 with every bad field named.
    """
    query = read_query(ReportQuery, BAD_FILTER)
    parsed = read_filters(current_user, request.args, all_time=all_time)
    errors = dict(parsed.errors)
    if parsed.not_found:
        raise NotFound(next(iter(parsed.errors.values())), errors)
    if errors:
        raise ValidationError(BAD_FILTER, errors)
    return parsed.filters, query.format or "json"


def tally_json(tally: Tally) -> dict:
    """A tally's counts, on_air, airtime in minutes and compliance (0–1 or null)."""
    return tally.as_dict() | {"on_air": tally.on_air}


def period_json(period: Period | None) -> dict | None:
    """The period's kind, first and last local day and label; null for all time."""
    if period is None:
        return None
    return {
        "kind": period.kind,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "label": period.label,
    }


def filters_json(filters: ReportFilter) -> dict:
    """The applied filters, by code (unit, station), value or id."""
    return {
        "unit": filters.unit.code if filters.unit is not None else None,
        "station": filters.station.code if filters.station is not None else None,
        "campaign": filters.campaign,
        "source": filters.source_number,
        "script": filters.script.id if filters.script is not None else None,
        "priority": filters.priority.value if filters.priority is not None else None,
    }


def dashboard_json(board: Dashboard) -> dict:
    """The dashboard's figures, as the page shows them."""
    return {
        "period": period_json(board.filters.period),
        "filters": filters_json(board.filters),
        "total": tally_json(board.total),
        "by_station": [
            {"code": s.code, "name": s.name, **tally_json(t)} for s, t in board.by_station
        ],
        "by_campaign": [
            {"campaign": c, "label": campaign_label(c), **tally_json(t)}
            for c, t in board.by_campaign
        ],
        "by_script": [
            {
                "id": s.id if s else None,
                "title": s.title if s else None,
                "source": s.source_label if s else "",
                **tally_json(t),
            }
            for s, t in board.by_script
        ],
        "by_priority": [
            {"priority": p.value, "label": p.label, **tally_json(t)} for p, t in board.by_priority
        ],
        "by_day": [{"date": d.isoformat(), **tally_json(t)} for d, t in board.by_day],
        "over_cap": [
            {
                "date": o.day.isoformat(),
                "station": o.station.code,
                "session": o.session,
                "minutes": o.minutes,
                "cap_minutes": o.cap_minutes,
            }
            for o in board.over_cap
        ],
        "stations_with_misses": [
            {
                "code": s.code,
                "name": s.name,
                "missed": t.missed,
                "failed": t.failed,
                "planned": t.planned,
                "compliance": tally_json(t)["compliance"],
            }
            for s, t in board.stations_with_misses
        ],
    }


def campaign_json(report: CampaignReport) -> dict:
    """A campaign's proof: per station and script, with first and last airing and misses."""
    return {
        "period": period_json(report.filters.period),
        "filters": filters_json(report.filters),
        "total": tally_json(report.total),
        "scripts": [{"id": s.id, "title": s.title} for s in report.scripts],
        "lines": [
            {
                "station": {"code": line.station.code, "name": line.station.name},
                "script": (
                    {"id": line.script.id, "title": line.script.title} if line.script else None
                ),
                **tally_json(line.tally),
                "first_aired": local_iso(line.first_aired),
                "last_aired": local_iso(line.last_aired),
                "misses": [
                    {
                        "at": local_iso(row.planned_at or row.started_at),
                        "status": row.status.value,
                        "reason": row.reason,
                    }
                    for row in line.misses
                ],
            }
            for line in report.lines
        ],
    }


@bp.get("/reports/airtime")
@operation(query=ReportQuery, response=REPORT_RESPONSE)
def airtime_report():
    """Planned against aired by station, campaign, script, priority and day (default: month)."""
    filters, fmt = _request(all_time=False)
    board = airtime_dashboard(current_user, filters)
    if fmt == "csv":
        stem = f"bao-cao-phat-song-{period_stem(filters.period)}"
        return send_export(current_user, dashboard_document(board), "csv", stem)
    return dashboard_json(board)


@bp.get("/reports/campaign")
@operation(query=ReportQuery, response=REPORT_RESPONSE)
def campaign_proof():
    """A campaign's or a source document's proof (default: its whole run, period=all)."""
    filters, fmt = _request(all_time=True)
    report = campaign_report(current_user, filters)
    if fmt == "csv":
        name = (
            campaign_label(filters.campaign)
            if filters.campaign is not None
            else filters.source_number
        )
        stem = f"chien-dich-{slugify(name)}-{period_stem(filters.period)}"
        return send_export(current_user, campaign_document(report), "csv", stem)
    return campaign_json(report)
