"""Fixtures of the station agent tests: the server app served over real HTTP on 127.0.0.1
(a thread), and agents enrolled through the real enrolment endpoint into their own state
directories."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from app.agents import service
from app.org.models import Station
from app.station_agent.client import Client
from app.station_agent.state import Settings, StateDir
from app.station_agent.sync import StationAgent
from tests.agents.conftest import approved_with_own_audio, desk, schedule_on  # noqa: F401


class Served:
    """The server app on a port; errors any request raised."""

    def __init__(self, app) -> None:
        self.app = app
        self.errors: list[BaseException] = []
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"


@pytest.fixture
def served(app) -> Iterator[Served]:
    """The test's app served on 127.0.0.1 from a daemon thread."""
    server = Served(app)

    def record(sender, exception, **extra):
        server.errors.append(exception)

    got_request_exception.connect(record, app)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
    assert server.errors == []


@pytest.fixture
def make_agent(served, tmp_path, clock):
    """Add an agent for a station, enrol it over HTTP into its own state directory and
    return the StationAgent (not started)."""

    def _make(station: Station, *, url: str | None = None, **options) -> StationAgent:
        new = service.add_agent(None, station, "")
        state = StateDir(tmp_path / f"agent-{station.code}")
        answer = Client(served.url).enrol(new.code)
        state.create()
        state.save_credential(answer["credential"])
        state.save(
            Settings(
                server=url or served.url,
                agent_id=answer["agent"]["id"],
                station_id=station.id,
                station_code=station.code,
            )
        )
        return StationAgent(state, clock=clock, **options)

    return _make
