"""GET /api/v1/agent/broker: where and how an agent listens for its station's wakes (MQTT).

A view of the agent blueprint (app/api/agent.py), so the agent's credential opens it and
nothing else does; the rules are app/push.py's.
"""

from __future__ import annotations

from app import push
from app.api.agent import AGENT_AUTH, bp, current_agent
from app.api.errors import json_error
from app.api.openapi import JSON, operation

BROKER_SCHEMA = {
    "type": "object",
    "required": ["url", "username", "password", "topic"],
    "properties": {
        "url": {"type": "string", "description": "mqtt://host:port or mqtts://host:port"},
        "username": {"type": "string"},
        "password": {"type": "string"},
        "topic": {"type": "string", "description": "<prefix>/<station code>/wake"},
    },
}
PUSH_OFF = "Máy chủ không dùng máy chủ tin nhắn (MQTT): máy trạm tự hỏi lịch phát theo chu kỳ."


@bp.get("/broker")
@operation(
    blueprint=bp.name,
    security=AGENT_AUTH,
    extra_statuses=(403,),
    response={JSON: {"schema": BROKER_SCHEMA}},
)
def broker():
    """The MQTT broker, the agent's own broker user and its station's wake topic."""
    settings = push.broker_settings(current_agent())
    if settings is None:
        return json_error("push_disabled", PUSH_OFF, 404)
    return settings
