"""The server appends nothing to the chain of a station its agent airs; when a page or an API
call gets that far, the user reads why (409), never a server error.

The console's live read and skip refuse agent-run stations before they write (app/playout/
manual.py). These tests take that first check away to reach the second one, in the broadcast
service, through the same web and API paths: the one a logbook correction would meet.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.agents import service
from app.auth.service import create_token
from app.broadcast.models import BroadcastLog
from app.extensions import db
from app.org.models import PlayoutMode
from app.playout import manual

REFUSAL = "do máy trạm tại đài phát: nhật ký phát sóng của đài chỉ do máy trạm ghi"


@pytest.fixture
def agent_station(desk, enrolled, monkeypatch):
    """The commune aired by its agent, with the console's own check taken away."""
    enrolled(desk.commune).get("/api/v1/agent/plan")
    service.set_playout_mode(None, desk.commune, PlayoutMode.AGENT)
    monkeypatch.setattr(manual, "_aired_centrally", lambda station, what: None)
    return desk.commune


def log_count() -> int:
    return db.session.scalar(select(func.count()).select_from(BroadcastLog))


def test_the_console_shows_why_nothing_was_written(agent_station, login_as):
    response = login_as("operator").post(
        "/playout/live-read",
        data={
            "live-station_id": agent_station.id,
            "live-day": "2026-11-27",
            "live-start": "07:30",
            "live-minutes": "2",
            "live-seconds": "0",
            "live-note": "Thông báo cắt điện",
        },
    )
    assert response.status_code == 422
    assert REFUSAL in response.get_data(as_text=True)
    assert log_count() == 0


def test_the_api_answers_409_with_the_reason(agent_station, users, client):
    _, token = create_token(users["operator"], "thử")
    response = client.post(
        f"/api/v1/stations/{agent_station.code}/live-reads",
        json={
            "started_at": "2026-11-27T07:30:00+07:00",
            "duration_s": 120,
            "note": "Thông báo cắt điện",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.get_json()
    assert response.status_code == 409, body
    assert body["error"] == "aired_by_agent" and REFUSAL in body["message"]
    assert log_count() == 0
