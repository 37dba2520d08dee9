"""Fixtures of the station agent tests: the server app served over real HTTP on 127.0.0.1
(a thread), and agents enrolled through the real enrolment endpoint into their own state
directories."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from app.agents import service
from app.extensions import db
from app.org.models import Station
from app.station_agent.client import Client
from app.station_agent.state import Settings, StateDir
from app.station_agent.sync import StationAgent
from tests.agents.conftest import approved_with_own_audio, desk, schedule_on  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


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


class ServerProcess:
    """The server app as its own process (tests/station_agent/serve.py) on the test's
    database and its own file clock, behind a proxy whose address stays the same across
    restarts: agents reach it at proxy.url."""

    def __init__(self, app, tmp_path) -> None:
        from app.core.clock import FileClock
        from tests.station_agent.proxy import Proxy

        self.tmp_path = tmp_path
        self.clock = FileClock(tmp_path / "server-clock")
        self.clock.set(app.extensions["loa.clock"].now())
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LOA_", "DATABASE_"))},
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "LOA_TEST_TMP": str(tmp_path),
            "LOA_CLOCK_FILE": str(self.clock.path),
            "PYTHONUNBUFFERED": "1",
        }
        self.proxy = Proxy(0)
        self.url = self.proxy.url
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        """Start the server and wait until it listens."""
        with open(self.tmp_path / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.station_agent.serve"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        line = self.process.stdout.readline()
        self.process.stdout.close()
        assert line.startswith("port "), (self.tmp_path / "server.log").read_text()
        self.proxy.target_port = int(line.split()[1])

    def kill(self) -> None:
        """SIGKILL the server: the link answers nothing until start()."""
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def server_process(app, served) -> Iterator[ServerProcess]:
    """The test's app as a separate server process on 127.0.0.1 (see ServerProcess)."""
    db.session.commit()  # the test's data so far is what the process reads
    server = ServerProcess(app, Path(app.config["AUDIO_DIR"]).parent)
    yield server
    if server.process.poll() is None:
        server.kill()
    server.proxy.close()
