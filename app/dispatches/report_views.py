"""A dispatch's tracking page and its report back (DOCX and PDF)."""

from __future__ import annotations

import io

from flask import current_app, render_template, request, send_file, url_for
from flask_login import current_user

from app.auth.decorators import permission_required
from app.auth.permissions import Permission
from app.core.errors import ValidationError
from app.core.forms import apply_errors
from app.dispatches import report_back
from app.dispatches import tracking as progress
from app.dispatches.blueprint import bp
from app.dispatches.models import Dispatch
from app.dispatches.report_forms import ReportForm
from app.org.models import Unit
from app.reports.charts import vn_number
from app.reports.service import Period

# Where the desk shows a dispatch; linked back to when the desk has that page.
DISPATCH_ENDPOINTS = ("dispatches.show", "dispatches.detail", "dispatches.view")


def report_args(dispatch: Dispatch, period: Period, unit: Unit | None = None) -> dict:
    """The airtime reports' query string for the dispatch's scripts over the period in a unit's
    subtree (the viewer's own unit is the reports' default, so it is left out)."""
    args = {
        "period": "custom",
        "date": period.start.isoformat(),
        "end": period.end.isoformat(),
        "dispatch": dispatch.id,
    }
    unit = unit or dispatch.unit
    if unit.id != current_user.unit_id:
        args["unit"] = unit.code
    return args


def dispatch_url(dispatch: Dispatch) -> str | None:
    """The desk's page of the dispatch, if the desk has one."""
    for endpoint in DISPATCH_ENDPOINTS:
        if endpoint in current_app.view_functions:
            return url_for(endpoint, dispatch_id=dispatch.id)
    return None


@bp.context_processor
def report_helpers() -> dict:
    """Helpers for the tracking and report templates."""
    return {
        "report_args": report_args,
        "vn_number": vn_number,
        "not_aired": progress.not_aired,
        "may_issue_report": progress.may_issue_report,
        "dispatch_url": dispatch_url,
        "cite": report_back.cite,
        "sentence_case": report_back.sentence_case,
    }


@bp.get("/<int:dispatch_id>/tracking")
@permission_required(Permission.SCRIPT_VIEW)
def tracking(dispatch_id: int):
    """Theo dõi thực hiện: per unit asked to act, what was drafted, scheduled and aired."""
    dispatch = progress.get_dispatch(current_user, dispatch_id)
    found = progress.dispatch_tracking(current_user, dispatch)
    return render_template("dispatches/tracking.html", dispatch=dispatch, t=found)


@bp.route("/<int:dispatch_id>/report", methods=["GET", "POST"])
@permission_required(Permission.SCRIPT_VIEW)
def report(dispatch_id: int):
    """The report back: a form with sensible defaults, then the DOCX or PDF download."""
    dispatch = progress.get_dispatch(current_user, dispatch_id)
    report_back.check_may_issue(current_user)
    today = progress.today()
    defaults = report_back.default_input(current_user, dispatch, today)
    form = ReportForm()
    data = defaults
    status = 200
    if request.method == "GET":
        form.fill(defaults)
    elif form.validate_on_submit():
        try:
            data = report_back.parse_input(request.form, today)
            content, name = report_back.issue_report(
                current_user, dispatch, data, request.form.get("format")
            )
        except ValidationError as exc:
            apply_errors(form, exc)
            data = defaults
            status = 422
        else:
            response = send_file(
                io.BytesIO(content),
                mimetype=report_back.MIMETYPES[name.rsplit(".", 1)[1]],
                as_attachment=True,
                download_name=name,
                max_age=0,
            )
            response.headers["Cache-Control"] = "private, no-store"
            return response
    else:
        status = 422
    preview = report_back.build_report(current_user, dispatch, data)
    return render_template(
        "dispatches/report.html", dispatch=dispatch, form=form, preview=preview
    ), status
