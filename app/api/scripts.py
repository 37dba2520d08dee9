"""Script endpoints: list, get, create, update, submit, approve, reject."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user
from sqlalchemy import func, select

from app.api import bp
from app.api.openapi import operation, page_response
from app.api.schemas import (
    ApproveIn,
    NoBody,
    RejectIn,
    ScriptCreate,
    ScriptQuery,
    ScriptUpdate,
    SourceIn,
    read_body,
    read_query,
)
from app.core.errors import ValidationError
from app.extensions import db
from app.org.models import Unit
from app.scripts import service
from app.scripts.models import Priority, Script, ScriptStatus


def _iso(value):
    """ISO 8601 text of a date or datetime, or None."""
    return value.isoformat() if value else None


def script_json(script: Script, with_body: bool = True) -> dict:
    """Serialise a script with its current version."""
    version = script.current_version
    data = {
        "id": script.id,
        "title": script.title,
        "campaign": script.campaign,
        "category": script.category,
        "priority": script.priority.value,
        "status": script.status.value,
        "unit": script.unit.code,
        "targets": [u.code for u in script.targets],
        "source": {
            "kind": script.source_kind,
            "number": script.source_number,
            "date": _iso(script.source_date),
            "issuer": script.source_issuer,
        },
        "valid_from": _iso(script.valid_from),
        "valid_until": _iso(script.valid_until),
        "revision": script.revision,
        "version": script.version_number,
        "approved_version": script.approved_version.number if script.approved_version else None,
        "submitted_render": script.submitted_render_id,
        "approved_render": script.approved_render_id,
        "created_at": _iso(script.created_at),
        "updated_at": _iso(script.updated_at),
    }
    if with_body and version is not None:
        data["current_version"] = {
            "number": version.number,
            "body": version.body,
            "sha256": version.sha256,
            "author": version.author.username if version.author else None,
            "origin": version.origin,
            "created_at": _iso(version.created_at),
        }
        data["reviews"] = [
            {
                "version": r.version.number,
                "decision": r.decision.value,
                "reason": r.reason,
                "reviewer": r.reviewer.username,
                "render": r.render_id,
                "spoken_sha256": r.spoken_sha256 or None,
                "audio_sha256": r.audio_sha256 or None,
                "created_at": _iso(r.created_at),
            }
            for r in script.reviews
        ]
    return data


BAD_INPUT = "Dữ liệu gửi lên chưa hợp lệ."
BAD_FILTER = "Tham số lọc không hợp lệ."


def _unit_field(code: str, key: str, errors: dict) -> Unit | None:
    """Resolve a unit code."""
    unit = db.session.scalar(select(Unit).where(Unit.code == code.strip().upper()))
    if unit is None:
        errors[key] = f"Không có đơn vị mã “{code}”."
    return unit


def _input_from_json(
    data: ScriptCreate | ScriptUpdate, script: Script | None = None
) -> service.ScriptInput:
    """Merge a validated body over the script's current values (for PATCH) or defaults."""
    errors: dict[str, str] = {}
    given = data.model_fields_set
    source = data.source or SourceIn()
    source_given = source.model_fields_set

    def pick(name: str, current, container=data, names=given):
        return getattr(container, name) if name in names else current

    unit = script.unit if script else current_user.unit
    if data.unit is not None:
        unit = _unit_field(data.unit, "unit", errors) or unit
    targets = list(script.targets) if script else []
    if data.targets is not None:
        targets = [u for c in data.targets if (u := _unit_field(c, "targets", errors))]
    if errors:
        raise ValidationError(BAD_INPUT, errors)
    priority = script.priority if script else Priority.NORMAL
    if data.priority is not None:
        priority = Priority(data.priority)

    def from_source(name: str, attribute: str):
        return pick(name, getattr(script, attribute) if script else None, source, source_given)

    return service.ScriptInput(
        title=pick("title", script.title if script else "") or "",
        body=pick("body", script.current_version.body if script else "") or "",
        unit=unit,
        priority=priority,
        campaign=pick("campaign", script.campaign if script else "") or "",
        category=pick("category", script.category if script else "") or "",
        source_kind=from_source("kind", "source_kind") or "",
        source_number=from_source("number", "source_number") or "",
        source_date=from_source("date", "source_date"),
        source_issuer=from_source("issuer", "source_issuer") or "",
        valid_from=pick("valid_from", script.valid_from if script else None),
        valid_until=pick("valid_until", script.valid_until if script else None),
        targets=targets,
    )


@bp.get("/scripts")
@operation(query=ScriptQuery, response=page_response())
def list_scripts():
    """List scripts in the caller's units, with the web list's search and filters."""
    args = read_query(ScriptQuery, BAD_FILTER)
    errors: dict[str, str] = {}
    filters = service.ScriptFilter(q=args.q, campaign=args.campaign)
    if args.status:
        filters.status = ScriptStatus(args.status)
    if args.priority:
        filters.priority = Priority(args.priority)
    if args.unit:
        unit = _unit_field(args.unit, "unit", errors)
        filters.unit_id = unit.id if unit else None
    if errors:
        raise ValidationError(BAD_FILTER, errors)
    page, per_page = args.page, args.per_page or current_app.config["SCRIPTS_PER_PAGE"]
    query = service.scripts_query(current_user, filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": [script_json(s, with_body=False) for s in items],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


@bp.get("/scripts/<int:script_id>")
@operation()
def get_script(script_id: int):
    """One script with its current version and decisions."""
    return script_json(service.get_script(current_user, script_id))


@bp.post("/scripts")
@operation(body=ScriptCreate, status=201)
def create_script():
    """Create a draft script."""
    data = read_body(ScriptCreate, BAD_INPUT)
    script = service.create_script(current_user, _input_from_json(data), origin="api")
    return script_json(script), 201


@bp.route("/scripts/<int:script_id>", methods=["PATCH", "PUT"])
@operation(body=ScriptUpdate)
def update_script(script_id: int):
    """Change a script; "revision" must be the one the client last read."""
    script = service.get_script(current_user, script_id)
    data = read_body(ScriptUpdate, BAD_INPUT)
    script, _ = service.update_script(
        current_user, script, _input_from_json(data, script), data.revision, origin="api"
    )
    return script_json(script)


def _expected_version(script: Script, number: int | None) -> int | None:
    """Map an optional {"version": N} to that version's id."""
    return None if number is None else service.get_version(script, number).id


@bp.post("/scripts/<int:script_id>/submit")
@operation(body=NoBody, body_optional=True)
def submit_script(script_id: int):
    """Send the current version for review."""
    script = service.get_script(current_user, script_id)
    read_body(NoBody, BAD_INPUT, optional=True)
    return script_json(service.submit_script(current_user, script))


@bp.post("/scripts/<int:script_id>/approve")
@operation(body=ApproveIn, body_optional=True)
def approve_script(script_id: int):
    """Approve the current version; {"version": N} guards against approving a newer one."""
    script = service.get_script(current_user, script_id)
    data = read_body(ApproveIn, BAD_INPUT, optional=True)
    expected = _expected_version(script, data.version)
    return script_json(service.approve_script(current_user, script, expected))


@bp.post("/scripts/<int:script_id>/reject")
@operation(body=RejectIn)
def reject_script(script_id: int):
    """Reject the current version with {"reason": "..."}."""
    script = service.get_script(current_user, script_id)
    data = read_body(RejectIn, BAD_INPUT)
    expected = _expected_version(script, data.version)
    return script_json(service.reject_script(current_user, script, data.reason, expected))
