"""Script endpoints: list, get, create, update, submit, approve, reject."""

from __future__ import annotations

from datetime import date

from flask import current_app, request
from flask_login import current_user
from sqlalchemy import func, select

from app.api import bp
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


def _payload() -> dict:
    """The JSON body, which must be an object."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("Nội dung yêu cầu phải là một đối tượng JSON.", {"body": "JSON?"})
    return data


def _date_field(data: dict, key: str, errors: dict, default=None):
    """Read an ISO date field."""
    if key not in data:
        return default
    value = data[key]
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors[key] = "Ngày phải có dạng YYYY-MM-DD."
        return None


def _unit_field(code, key: str, errors: dict) -> Unit | None:
    """Resolve a unit code."""
    unit = db.session.scalar(select(Unit).where(Unit.code == str(code).strip().upper()))
    if unit is None:
        errors[key] = f"Không có đơn vị mã “{code}”."
    return unit


def _input_from_json(data: dict, script: Script | None = None) -> service.ScriptInput:
    """Merge a JSON payload over the script's current values (for PATCH) or defaults."""
    errors: dict[str, str] = {}
    for key in ("title", "body", "campaign", "category"):
        if key in data and not isinstance(data[key], str):
            errors[key] = "Phải là chuỗi ký tự."
    source = data.get("source", {})
    if not isinstance(source, dict):
        errors["source"] = "Phải là đối tượng {kind, number, date, issuer}."
        source = {}
    priority = script.priority if script else Priority.NORMAL
    if "priority" in data:
        try:
            priority = Priority(data["priority"])
        except ValueError:
            errors["priority"] = "Một trong: normal, priority, emergency."
    unit = script.unit if script else current_user.unit
    if "unit" in data:
        unit = _unit_field(data["unit"], "unit", errors) or unit
    targets = list(script.targets) if script else []
    if "targets" in data:
        if not isinstance(data["targets"], list):
            errors["targets"] = "Phải là danh sách mã đơn vị."
        else:
            targets = [u for c in data["targets"] if (u := _unit_field(c, "targets", errors))]
    valid_from = _date_field(data, "valid_from", errors, script.valid_from if script else None)
    valid_until = _date_field(data, "valid_until", errors, script.valid_until if script else None)
    source_date = _date_field(source, "date", errors, script.source_date if script else None)
    if errors:
        raise ValidationError("Dữ liệu gửi lên chưa hợp lệ.", errors)

    def pick(key, current, container=data):
        return container.get(key, current)

    return service.ScriptInput(
        title=pick("title", script.title if script else ""),
        body=pick("body", script.current_version.body if script else ""),
        unit=unit,
        priority=priority,
        campaign=pick("campaign", script.campaign if script else "") or "",
        category=pick("category", script.category if script else "") or "",
        source_kind=str(pick("kind", script.source_kind if script else "", source) or ""),
        source_number=str(pick("number", script.source_number if script else "", source) or ""),
        source_date=source_date,
        source_issuer=str(pick("issuer", script.source_issuer if script else "", source) or ""),
        valid_from=valid_from,
        valid_until=valid_until,
        targets=targets,
    )


@bp.get("/scripts")
def list_scripts():
    """List scripts in the caller's units, with the web list's search and filters."""
    args = request.args
    errors: dict[str, str] = {}
    filters = service.ScriptFilter(q=args.get("q", ""), campaign=args.get("campaign", ""))
    if args.get("status"):
        try:
            filters.status = ScriptStatus(args["status"])
        except ValueError:
            errors["status"] = "Một trong: " + ", ".join(s.value for s in ScriptStatus)
    if args.get("priority"):
        try:
            filters.priority = Priority(args["priority"])
        except ValueError:
            errors["priority"] = "Một trong: normal, priority, emergency."
    if args.get("unit"):
        unit = _unit_field(args["unit"], "unit", errors)
        filters.unit_id = unit.id if unit else None
    page = args.get("page", "1")
    per_page = args.get("per_page", str(current_app.config["SCRIPTS_PER_PAGE"]))
    if not page.isdigit() or int(page) < 1:
        errors["page"] = "Số trang phải là số nguyên dương."
    if not per_page.isdigit() or not 1 <= int(per_page) <= 100:
        errors["per_page"] = "Từ 1 đến 100."
    if errors:
        raise ValidationError("Tham số lọc không hợp lệ.", errors)
    query = service.scripts_query(current_user, filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(
        query.limit(int(per_page)).offset((int(page) - 1) * int(per_page))
    ).all()
    return {
        "items": [script_json(s, with_body=False) for s in items],
        "page": int(page),
        "per_page": int(per_page),
        "total": total,
    }


@bp.get("/scripts/<int:script_id>")
def get_script(script_id: int):
    """One script with its current version and decisions."""
    return script_json(service.get_script(current_user, script_id))


@bp.post("/scripts")
def create_script():
    """Create a draft script."""
    data = _payload()
    script = service.create_script(current_user, _input_from_json(data), origin="api")
    return script_json(script), 201


@bp.route("/scripts/<int:script_id>", methods=["PATCH", "PUT"])
def update_script(script_id: int):
    """Change a script; "revision" must be the one the client last read."""
    script = service.get_script(current_user, script_id)
    data = _payload()
    revision = data.get("revision")
    if not isinstance(revision, int):
        raise ValidationError(
            "Thiếu “revision”: gửi số revision của lần đọc gần nhất để tránh ghi đè.",
            {"revision": "Bắt buộc, số nguyên."},
        )
    script, _ = service.update_script(
        current_user, script, _input_from_json(data, script), revision, origin="api"
    )
    return script_json(script)


def _expected_version(script: Script) -> int | None:
    """Map an optional {"version": N} in the body to that version's id."""
    data = request.get_json(silent=True) or {}
    number = data.get("version") if isinstance(data, dict) else None
    if number is None:
        return None
    if not isinstance(number, int):
        raise ValidationError("“version” phải là số nguyên.", {"version": "Số nguyên."})
    return service.get_version(script, number).id


@bp.post("/scripts/<int:script_id>/submit")
def submit_script(script_id: int):
    """Send the current version for review."""
    script = service.get_script(current_user, script_id)
    return script_json(service.submit_script(current_user, script))


@bp.post("/scripts/<int:script_id>/approve")
def approve_script(script_id: int):
    """Approve the current version; {"version": N} guards against approving a newer one."""
    script = service.get_script(current_user, script_id)
    expected = _expected_version(script)
    return script_json(service.approve_script(current_user, script, expected))


@bp.post("/scripts/<int:script_id>/reject")
def reject_script(script_id: int):
    """Reject the current version with {"reason": "..."}."""
    script = service.get_script(current_user, script_id)
    data = _payload()
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise ValidationError("“reason” phải là chuỗi ký tự.", {"reason": "Chuỗi ký tự."})
    expected = _expected_version(script)
    return script_json(service.reject_script(current_user, script, reason, expected))
