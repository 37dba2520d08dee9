"""The agent API under /api/v1/agent: a station's agent trades its one-time enrolment code for a
credential, pulls its station's plan and the audio the plan needs, uploads the log rows it
wrote (continuing the station's chain) and reports its health.

The credential is an agent's, never a user's: user tokens open nothing here and agent
credentials nothing under the rest of /api/v1. No endpoint names a station; the station is the
credential's, so an agent reaches only its own.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from flask_limiter import RequestLimit

from app.agents import health, ingest, service
from app.agents.models import Agent
from app.api.errors import json_error
from app.api.openapi import AUDIO, JSON, operation, refuse_unknown_query
from app.api.schemas import (
    MAX_LOG_BATCH,
    AgentPlanQuery,
    EnrolIn,
    HealthIn,
    LogBatchIn,
    PayloadTooLarge,
    ReleaseIn,
    SyncIn,
    read_body,
    read_object,
    read_query,
    validate,
)
from app.auth.throttle import client_address, retry_after
from app.broadcast.service import ROW_JSON_FIELDS
from app.core import clock
from app.extensions import limiter

bp = Blueprint("agent_api", __name__, url_prefix="/api/v1/agent")

AGENT_AUTH = [{"agentAuth": []}]
# A year: audio is named by its sha256, so a URL's content never changes.
AUDIO_MAX_AGE_S = 365 * 24 * 3600
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "required": False,
    "description": "The ETag of the plan the agent holds: 304 when it is still current.",
    "schema": {"type": "string", "maxLength": 200},
}
RANGE = {
    "name": "Range",
    "required": False,
    "description": "bytes=N- to resume a download.",
    "schema": {"type": "string", "maxLength": 100},
}
_AUDIO_SCHEMA = {
    "type": "object",
    "required": ["sha256", "size", "format", "duration_s", "spoken_sha256"],
    "properties": {
        "sha256": {"type": ["string", "null"]},
        "size": {"type": ["integer", "null"]},
        "format": {"type": ["string", "null"]},
        "duration_s": {"type": ["number", "null"]},
        "spoken_sha256": {"type": ["string", "null"]},
    },
}
PLAN_SCHEMA = {
    "type": "object",
    "required": ["station", "agent", "playout", "days", "from", "until", "items", "audio"],
    "properties": {
        "station": {"type": "object"},
        "agent": {"type": "object"},
        "playout": {
            "type": "object",
            "required": ["mode", "misfire_policy", "grace_s", "interrupt_policy", "output"],
            "properties": {"mode": {"enum": ["central", "agent"]}},
        },
        "days": {"type": "integer"},
        "from": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "id",
                    "airing_key",
                    "status",
                    "planned_at",
                    "start_at",
                    "duration_s",
                    "priority",
                    "script",
                    "version",
                    "audio",
                    "operator",
                    "requeued_from",
                ],
                "properties": {"audio": _AUDIO_SCHEMA},
            },
        },
        "audio": {"type": "array", "items": _AUDIO_SCHEMA},
    },
}
_ROW_PROPERTIES = {
    name: {"type": ["string", "integer", "number", "null"]} for name in (*ROW_JSON_FIELDS, "id")
}
HEAD_SCHEMA = {
    "type": "object",
    "required": ["seq", "row_hash", "row", "chain_flag"],
    "properties": {
        "seq": {"type": "integer", "minimum": 0},
        "row_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "row": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": sorted(_ROW_PROPERTIES),
                    "properties": _ROW_PROPERTIES,
                },
            ]
        },
        "chain_flag": {"type": ["object", "null"]},
    },
}
INGEST_SCHEMA = {
    "type": "object",
    "required": ["accepted", "duplicates", "head"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0},
        "duplicates": {"type": "integer", "minimum": 0},
        "head": {
            "type": "object",
            "required": ["seq", "row_hash"],
            "properties": {"seq": {"type": "integer"}, "row_hash": {"type": "string"}},
        },
    },
}
HEALTH_SCHEMA = {
    "type": "object",
    "required": ["received_at", "clock_offset_s"],
    "properties": {
        "received_at": {"type": "string", "format": "date-time"},
        "clock_offset_s": {"type": "number"},
    },
}
ENROL_SCHEMA = {
    "type": "object",
    "required": ["agent", "credential", "token_type"],
    "properties": {
        "agent": {"type": "object"},
        "credential": {"type": "string"},
        "token_type": {"const": "Bearer"},
    },
}


def _too_many_failures(limit: RequestLimit) -> Response:
    """Answer 429 once an address has sent too many wrong codes or credentials."""
    wait = retry_after(limit)
    response = json_error(
        "too_many_requests",
        "Quá nhiều lần gửi mã đăng ký hoặc mã máy trạm sai từ địa chỉ này. "
        f"Vui lòng thử lại sau {wait} giây.",
        429,
    )
    response.headers["Retry-After"] = str(wait)
    return response


# As for user tokens: only 401s count, so agents with a valid credential never use up their
# address's allowance (many agents may share one address behind a 4G carrier's NAT).
limiter.shared_limit(
    lambda: current_app.config["API_AUTH_FAILURE_LIMIT"],
    scope="agent-auth",
    key_func=client_address,
    deduct_when=lambda response: response.status_code == 401,
    on_breach=_too_many_failures,
)(bp)


@bp.before_request
def authenticate_agent():
    """Resolve the agent credential (every call but enrolment), or answer 401/403."""
    if request.endpoint == f"{bp.name}.enrol":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return json_error(
            "unauthorized",
            "Thiếu mã máy trạm. Gửi tiêu đề “Authorization: Bearer <mã máy trạm>” "
            "(mã nhận được khi đăng ký).",
            401,
        )
    g.agent = service.agent_for_credential(credential.strip())
    return None


bp.before_request(refuse_unknown_query)


def current_agent() -> Agent:
    """The agent whose credential this request carries."""
    return g.agent


def agent_json(agent: Agent) -> dict:
    """An agent and its station."""
    station = agent.station
    return {
        "id": agent.id,
        "name": agent.name,
        "station": {"id": station.id, "code": station.code, "name": station.name},
    }


@bp.post("/enrol")
@operation(
    blueprint=bp.name,
    body=EnrolIn,
    status=201,
    security=[],
    response={JSON: {"schema": ENROL_SCHEMA}},
)
def enrol():
    """Trade a one-time enrolment code for the agent's credential (answered only this once)."""
    data = read_body(EnrolIn, "Thiếu “code” (mã đăng ký) hoặc dữ liệu chưa hợp lệ.")
    agent, credential = service.enrol_agent(data.code)
    return {
        "agent": agent_json(agent),
        "credential": credential,
        "token_type": "Bearer",
    }, 201


@bp.get("/plan")
@operation(
    blueprint=bp.name,
    query=AgentPlanQuery,
    security=AGENT_AUTH,
    extra_statuses=(304, 403),
    headers=(IF_NONE_MATCH,),
    response={JSON: {"schema": PLAN_SCHEMA}},
)
def plan():
    """The station's plan for the next days (?days=1–14, default 7); 304 when unchanged."""
    args = read_query(AgentPlanQuery, "Tham số không hợp lệ.")
    raw, digest = service.plan_document(
        current_agent(), args.days, clock.now(), held=request.if_none_match.contains_weak
    )
    response = Response(status=304) if raw is None else Response(raw, mimetype="application/json")
    response.set_etag(digest)
    # The agent keeps its copy and asks again with If-None-Match; no shared cache keeps one.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


@bp.get("/audio/<sha256:sha256>")
@operation(
    blueprint=bp.name,
    security=AGENT_AUTH,
    extra_statuses=(206, 304, 403, 416),
    headers=(RANGE,),
    response={"audio/mpeg": AUDIO, "audio/wav": AUDIO},
)
def audio(sha256: str):
    """An audio file of the station's plan by its sha256; Range resumes a download."""
    render, path = service.audio_for(current_agent(), sha256)
    response = send_file(
        path,
        mimetype="audio/mpeg" if render.audio_format == "mp3" else "audio/wav",
        download_name=f"{sha256}.{render.audio_format}",
        conditional=True,
        etag=sha256,
        max_age=AUDIO_MAX_AGE_S,
    )
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.immutable = True
    return response


@bp.get("/log")
@operation(
    blueprint=bp.name,
    security=AGENT_AUTH,
    extra_statuses=(403,),
    response={JSON: {"schema": HEAD_SCHEMA}},
)
def log_head():
    """The station's chain head as the server holds it: seq, row_hash and the row."""
    return ingest.head_json(current_agent())


@bp.post("/log")
@operation(
    blueprint=bp.name,
    body=LogBatchIn,
    security=AGENT_AUTH,
    response={JSON: {"schema": INGEST_SCHEMA}},
)
def upload_log():
    """Upload log rows the agent wrote: stored all together if they continue the chain."""
    data = read_object()
    rows = data.get("rows")
    if isinstance(rows, list) and len(rows) > MAX_LOG_BATCH:
        raise PayloadTooLarge(
            f"Lô có {len(rows)} dòng nhật ký; mỗi lô tối đa {MAX_LOG_BATCH} dòng. "
            "Hãy gửi thành nhiều lô nhỏ hơn. Không dòng nào được ghi."
        )
    batch = validate(LogBatchIn, data, "Lô nhật ký có dòng thiếu trường hoặc sai kiểu.")
    try:
        result = ingest.ingest_batch(current_agent(), [row.model_dump() for row in batch.rows])
    except ingest.ChainRefused as exc:
        # The usual error body, and the seq at fault as a number for the agent's own log.
        body = {"error": exc.code, "message": exc.message, "fields": exc.fields, "seq": exc.seq}
        return jsonify(body), exc.status
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "head": {"seq": result.head_seq, "row_hash": result.head_hash},
    }


RELEASE_SCHEMA = {
    "type": "object",
    "required": ["station", "mode", "released"],
    "properties": {
        "station": {"type": "string"},
        "mode": {"type": "string", "enum": ["central", "agent"]},
        "released": {"type": "boolean"},
    },
}


@bp.post("/release")
@operation(
    blueprint=bp.name,
    body=ReleaseIn,
    security=AGENT_AUTH,
    extra_statuses=(409,),
    response={JSON: {"schema": RELEASE_SCHEMA}},
)
def release():
    """Hand a station switched back to central over: the agent has stopped airing and
    uploaded every row up to head_seq."""
    data = read_body(ReleaseIn, "Yêu cầu bàn giao thiếu trường hoặc sai kiểu.")
    return service.release_station(current_agent(), data.head_seq)


@bp.post("/health")
@operation(
    blueprint=bp.name,
    body=HealthIn,
    security=AGENT_AUTH,
    response={JSON: {"schema": HEALTH_SCHEMA}},
)
def report_health():
    """Report the agent's health: version, plan held, audio missing, output, disk, clock."""
    data = read_body(HealthIn, "Báo cáo tình trạng máy trạm thiếu trường hoặc sai kiểu.")
    received = clock.now()
    offset = _record(data, received)
    return {"received_at": received.isoformat(), "clock_offset_s": offset}


def _record(data: HealthIn, received) -> float:
    """Keep a health report as the agent's latest (and commit); its clock offset."""
    return health.record_health(
        current_agent(),
        health.HealthReport(
            agent_version=data.agent_version,
            plan_until=data.plan_until,
            audio_missing=data.audio_missing,
            output_name=data.output.name,
            output_ok=data.output.ok,
            output_message=data.output.message,
            disk_free_bytes=data.disk_free_bytes,
            disk_total_bytes=data.disk_total_bytes,
            agent_time=data.agent_time,
        ),
        received,
    )


@bp.post("/sync")
@operation(
    blueprint=bp.name,
    body=SyncIn,
    security=AGENT_AUTH,
    extra_statuses=(204, 403),
    response={JSON: {"schema": PLAN_SCHEMA}},
)
def sync():
    """One sync in one request: the health report and the ETag of the plan held; answered
    with the plan (200, as GET /plan) when it changed, 204 when the agent's copy is current.
    Both carry the plan's ETag, and the report's receipt time and clock offset in the headers
    Loa-Received-At and Loa-Clock-Offset."""
    data = read_body(SyncIn, "Yêu cầu đồng bộ thiếu trường hoặc sai kiểu.")
    received = clock.now()
    raw, digest = service.plan_document(
        current_agent(), data.days, received, held=lambda held: held == data.plan_etag
    )
    offset = _record(data.health, received)
    response = Response(status=204) if raw is None else Response(raw, mimetype="application/json")
    response.set_etag(digest)
    response.headers["Loa-Received-At"] = received.isoformat()
    response.headers["Loa-Clock-Offset"] = f"{offset:.3f}"
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response
