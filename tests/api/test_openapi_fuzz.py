"""The OpenAPI description against the running app: schemathesis sends generated requests (valid
and invalid) to every operation as a province supervisor; none may answer 5xx, and answers
must match what the description documents. Bounded and derandomised: ~1–2 minutes."""

# ruff: noqa: F811  (the schedule tests' fixtures are imported by name)
from __future__ import annotations

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

from app.auth.service import create_token
from app.extensions import db
from app.playout import manual as playout
from tests.api.test_schedules_api import body, call, desk  # noqa: F401
from tests.factories import make_script

MAX_EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_token(app, users, call, desk, org):
    """A supervisor's token, with a draft, a schedule and an airing for the ids to find."""
    make_script(users["writer"], org.district, title="Bản nháp")
    call("operator").post("/api/v1/schedules", json=body(desk))
    playout.air_now(users["operator"], desk["script"], [desk["city"]])
    _, token = create_token(users["supervisor"], "fuzz")
    return token


@pytest.fixture
def api_schema(app, fuzz_token):
    """The description as the app serves it, run against the app itself (WSGI)."""
    served = app.wsgi_app

    def isolated(environ, start_response):
        # Tests keep one app context pushed; as in production, every request starts with an
        # empty flask.g and ends with its database session closed.
        for name in list(g):
            g.pop(name)
        try:
            return served(environ, start_response)
        finally:
            db.session.remove()

    app.wsgi_app = isolated
    response = app.test_client().get(
        "/api/v1/openapi.json", headers={"Authorization": f"Bearer {fuzz_token}"}
    )
    assert response.status_code == 200
    doc = response.get_json()
    schema = schemathesis.openapi.from_dict(doc)
    schema.app = app
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
# schemathesis's WSGI transport leaves the audio file of a send_file answer unclosed.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_no_server_error_and_as_documented(case, fuzz_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_token}"}, checks=CHECKS)
