"""Enrolment: a one-time code, stored hashed, valid for AGENT_CODE_HOURS, used at most once,
traded for a credential stored only as its sha256."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.agents import service
from app.agents.models import Agent, AgentStatus, EnrolmentCode
from app.audit.models import AuditEvent
from app.extensions import db
from tests.agents.conftest import enrol
from tests.api.conftest import assert_error
from tests.conftest import build_test_app
from tests.factories import make_station


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def raw(code: str) -> str:
    return code.replace("-", "")


@pytest.fixture
def station(org):
    return make_station(org.commune, "PT-PHUTHUY", "Đài Phú Thủy")


def stored() -> tuple:
    """Agents, codes and audit events as they stand, read fresh."""
    db.session.expire_all()
    agents = [
        (a.id, a.status, a.token_hash, a.enrolled_at) for a in db.session.scalars(select(Agent))
    ]
    codes = [(c.id, c.used_at) for c in db.session.scalars(select(EnrolmentCode))]
    return agents, codes, db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_code_is_stored_only_as_its_hash_and_expires_after_a_day(station, clock):
    new = service.add_agent(None, station)
    row = db.session.scalars(select(EnrolmentCode)).one()
    assert len(raw(new.code)) == 16 and new.code.count("-") == 3
    assert row.code_hash == sha256(raw(new.code))
    assert raw(new.code) not in row.code_hash
    assert row.expires_at == new.expires_at == clock.now() + timedelta(hours=24)
    assert new.agent.token_hash is None and new.agent.name == "Máy trạm PT-PHUTHUY"


def test_enrolment_gives_a_credential_stored_only_hashed(client, station, clock):
    new = service.add_agent(None, station, "Máy phòng truyền thanh")
    response = enrol(client, new.code)
    assert response.status_code == 201
    body = response.get_json()
    credential = body["credential"]
    assert credential.startswith("loa_agent_") and len(credential) > 40
    assert body["token_type"] == "Bearer"
    assert body["agent"] == {
        "id": new.agent.id,
        "name": "Máy phòng truyền thanh",
        "station": {"id": station.id, "code": "PT-PHUTHUY", "name": "Đài Phú Thủy"},
    }
    assert response.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    agent = db.session.get(Agent, new.agent.id)
    assert agent.token_hash == sha256(credential)
    assert agent.token_prefix == credential[:16]
    assert agent.enrolled_at == clock.now()
    assert db.session.scalars(select(EnrolmentCode)).one().used_at == clock.now()
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "agent.enrol")).one()
    assert event.object_id == agent.id and event.unit_id == station.unit_id


def test_code_is_read_without_dashes_case_or_misread_letters(client, station):
    new = service.add_agent(None, station)
    typed = " ".join(raw(new.code).lower()[i : i + 4] for i in range(0, 16, 4))
    typed = typed.replace("0", "o").replace("1", "l")
    assert enrol(client, typed).status_code == 201


def test_code_used_twice_is_refused_and_changes_nothing(client, station):
    new = service.add_agent(None, station)
    first = enrol(client, new.code).get_json()["credential"]
    before = stored()
    body = assert_error(enrol(client, new.code), 401, "code_used")
    assert "đã được dùng lúc 08:00 ngày 27/11/2026" in body["message"]
    assert stored() == before
    # The first credential still works; the refused retry made no second one.
    plan = client.get("/api/v1/agent/plan", headers={"Authorization": f"Bearer {first}"})
    assert plan.status_code == 200


def test_expired_code_is_refused(client, station, clock):
    new = service.add_agent(None, station)
    clock.advance(hours=24)
    before = stored()
    body = assert_error(enrol(client, new.code), 401, "code_expired")
    assert "hết hạn lúc 08:00 ngày 28/11/2026" in body["message"]
    assert stored() == before


def test_code_works_until_the_last_second(client, station, clock):
    new = service.add_agent(None, station)
    clock.advance(hours=23, minutes=59, seconds=59)
    assert enrol(client, new.code).status_code == 201


def test_code_lifetime_is_configurable(client, station, clock, app):
    app.config["AGENT_CODE_HOURS"] = 2
    new = service.add_agent(None, station)
    clock.advance(hours=2)
    assert_error(enrol(client, new.code), 401, "code_expired")


def test_code_of_a_revoked_agent_is_refused(client, station):
    new = service.add_agent(None, station)
    service.revoke_agent(None, new.agent)
    before = stored()
    assert_error(enrol(client, new.code), 403, "agent_revoked")
    assert stored() == before


def test_unknown_code_is_refused(client, station):
    service.add_agent(None, station)
    before = stored()
    assert_error(enrol(client, "ABCD-EFGH-JKMN-PQRS"), 401, "code_invalid")
    assert stored() == before


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 422, "validation_failed", "code"),
        ({"code": "ABCD-EFGH"}, 422, "validation_failed", "code"),
        ({"code": "ABCD-EFGH-JKMN-PQRU"}, 422, "validation_failed", "code"),
        ({"code": 1234}, 422, "validation_failed", "code"),
        ({"code": "A" * 41}, 422, "validation_failed", "code"),
        ({"code": "ABCD\u0000EFGH"}, 422, "validation_failed", "code"),
        ({"code": "ABCD-EFGH-JKMN-PQRS", "station": "PT-CITY"}, 400, "unknown_fields", "station"),
    ],
)
def test_bad_enrolment_bodies_are_refused(client, station, body, status, code, field):
    service.add_agent(None, station)
    before = stored()
    assert_error(client.post("/api/v1/agent/enrol", json=body), status, code, field)
    assert stored() == before


def test_enrolment_refuses_query_parameters_and_non_json(client, station):
    new = service.add_agent(None, station)
    assert_error(
        client.post("/api/v1/agent/enrol?station=X", json={"code": new.code}),
        400,
        "unknown_fields",
        "station",
    )
    assert_error(
        client.post("/api/v1/agent/enrol", data="code=x", content_type="text/plain"),
        422,
        "validation_failed",
        "body",
    )


def test_a_station_has_one_active_agent_at_a_time(station, org):
    first = service.add_agent(None, station)
    with pytest.raises(service.ValidationError, match="thu hồi máy cũ"):
        service.add_agent(None, station)
    db.session.rollback()
    service.revoke_agent(None, first.agent)
    second = service.add_agent(None, station)
    assert second.agent.status == AgentStatus.ACTIVE
    other = service.add_agent(None, make_station(org.district, "PT-CITY"))
    assert other.agent.station.code == "PT-CITY"


def test_the_database_itself_refuses_a_second_active_agent(station, clock):
    service.add_agent(None, station)
    db.session.add(
        Agent(station=station, name="x", status=AgentStatus.ACTIVE, created_at=clock.now())
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_wrong_codes_are_throttled_per_address(tmp_path, clock):
    app = build_test_app(
        tmp_path, clock, RATELIMIT_ENABLED=True, API_AUTH_FAILURE_LIMIT="3 per minute"
    )
    with app.app_context():
        client = app.test_client()
        for _ in range(3):
            assert_error(enrol(client, "ABCD-EFGH-JKMN-PQRS"), 401, "code_invalid")
        response = enrol(client, "ABCD-EFGH-JKMN-PQRS")
        assert response.status_code == 429
        assert response.get_json()["error"] == "too_many_requests"
        assert int(response.headers["Retry-After"]) > 0
        db.session.remove()
        db.engine.dispose()
