"""The agent API in the OpenAPI description (its own credential, enrolment without one), and
schemathesis against it with a real agent's credential: no server error, answers as described."""

from __future__ import annotations

from datetime import time

import pytest
import schemathesis
from flask import g
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.agents import service
from app.auth.service import create_token
from app.extensions import db
from app.playout import manual as playout
from tests.agents.conftest import schedule_on

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def document(app, users) -> dict:
    _, token = create_token(users["writer"], "thử")
    response = app.test_client().get(
        "/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    return response.get_json()


def test_agent_routes_are_described_with_their_own_credential(app, users):
    doc = document(app, users)
    agent_paths = {p: item for p, item in doc["paths"].items() if p.startswith("/api/v1/agent/")}
    assert {
        "/api/v1/agent/enrol",
        "/api/v1/agent/plan",
        "/api/v1/agent/audio/{sha256}",
        "/api/v1/agent/log",
        "/api/v1/agent/health",
    } <= set(agent_paths)
    assert doc["components"]["securitySchemes"]["agentAuth"]["bearerFormat"] == "loa_agent_…"
    enrol = agent_paths["/api/v1/agent/enrol"]["post"]
    assert enrol["security"] == []
    assert doc["components"]["schemas"]["EnrolIn"]["additionalProperties"] is False
    plan = agent_paths["/api/v1/agent/plan"]["get"]
    assert plan["security"] == [{"agentAuth": []}]
    days = next(p for p in plan["parameters"] if p["name"] == "days")
    assert (days["schema"]["minimum"], days["schema"]["maximum"]) == (1, 14)
    assert {"200", "304", "401", "403", "422"} <= set(plan["responses"])
    assert "content" not in plan["responses"]["304"]
    audio = agent_paths["/api/v1/agent/audio/{sha256}"]["get"]
    assert audio["parameters"][0]["schema"]["pattern"] == "^[0-9a-f]{64}$"
    assert {"200", "206", "304", "416"} <= set(audio["responses"])
    log = agent_paths["/api/v1/agent/log"]
    assert log["get"]["security"] == log["post"]["security"] == [{"agentAuth": []}]
    assert {"200", "401", "403", "409", "413", "422"} <= set(log["post"]["responses"])
    batch = doc["components"]["schemas"]["LogBatchIn"]
    assert batch["properties"]["rows"]["maxItems"] == 1000
    row = doc["components"]["schemas"]["LogRowIn"]
    assert row["additionalProperties"] is False and "id" not in row["properties"]
    assert set(row["required"]) == set(row["properties"])
    health = agent_paths["/api/v1/agent/health"]["post"]
    assert health["security"] == [{"agentAuth": []}]
    assert "agent_time" in doc["components"]["schemas"]["HealthIn"]["required"]
    # The rest of the API keeps the user's token and its operation ids.
    scripts = doc["paths"]["/api/v1/scripts"]["get"]
    assert "security" not in scripts and scripts["operationId"] == "list_scripts_get"


@pytest.fixture
def agent_credential(app, desk, users, enrolled):
    """An enrolled agent of a station with a plan (an emergency in it too)."""
    playout.air_now(users["operator"], desk.script, [desk.commune])
    schedule_on(users, desk.script, [desk.commune], time(17, 40))
    caller = enrolled(desk.commune)
    service.add_agent(None, desk.city)  # a code waiting, for enrolment to miss
    return caller.credential


@pytest.fixture
def agent_schema(app, users, agent_credential):
    """The agent paths of the description, run against the app itself (WSGI)."""
    served = app.wsgi_app

    def isolated(environ, start_response):
        for name in list(g):
            g.pop(name)
        try:
            return served(environ, start_response)
        finally:
            db.session.remove()

    app.wsgi_app = isolated
    schema = schemathesis.openapi.from_dict(document(app, users)).include(
        path_regex="^/api/v1/agent/"
    )
    schema.app = app
    return schema


schema = schemathesis.pytest.from_fixture("agent_schema")


@schema.parametrize()
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_agent_api_answers_no_server_error_and_as_documented(case, agent_credential):
    case.call_and_validate(headers={"Authorization": f"Bearer {agent_credential}"}, checks=CHECKS)
