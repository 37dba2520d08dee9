"""The agent API under /api/v1/agent: a station's agent trades its one-time enrolment code for a
credential, then pulls its station's plan and the audio the plan needs.

The credential is an agent's, never a user's: user tokens open nothing here and agent
credentials nothing under the rest of /api/v1. No endpoint names a station; the station is the
credential's, so an agent reaches only its own.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request, send_file
from flask_limiter import RequestLimit

from app.agents import service
from app.agents.models import Agent
from app.api.errors import json_error
from app.api.openapi import AUDIO, JSON, operation, refuse_unknown_query
from app.api.schemas import AgentPlanQuery, EnrolIn, read_body, read_query
from app.auth.throttle import client_address, retry_after
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
    "required": ["sha256", "size", "format", "duration_s"],
    "properties": {
        "sha256": {"type": ["string", "null"]},
        "size": {"type": ["integer", "null"]},
        "format": {"type": ["string", "null"]},
        "duration_s": {"type": ["number", "null"]},
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
                ],
                "properties": {"audio": _AUDIO_SCHEMA},
            },
        },
        "audio": {"type": "array", "items": _AUDIO_SCHEMA},
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
    raw, digest = service.plan_document(current_agent(), args.days, clock.now())
    if request.if_none_match.contains_weak(digest):
        response = Response(status=304)
    else:
        response = Response(raw, mimetype="application/json")
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
