"""Faults between the agent and its server, with real HTTP through a proxy the tests switch:
the link down, cut mid-download and mid-upload, the server gone for an hour of airings. Each
ends with nothing aired twice, nothing lost and a chain the server verifies."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from app.extensions import db
from app.speech.pipeline import sha256_file
from app.station_agent.client import ServerError
from tests.agents.conftest import desk  # noqa: F401
from tests.station_agent.proxy import Proxy


@pytest.fixture
def link(served):
    """The agent's link to the server, through a proxy the test switches."""
    proxy = Proxy(served.httpd.server_port)
    yield proxy
    proxy.close()


def test_link_down_fails_the_sync_only_and_the_next_one_catches_up(desk, make_agent, link):
    agent = make_agent(desk.commune, url=link.url)
    link.up = False

    with pytest.raises(ServerError) as down:
        agent.sync()
    assert down.value.retry and "Không kết nối được máy chủ" in down.value.message
    assert agent.failures == 0  # counted by the loop, not by sync()

    link.up = True
    result = agent.sync()
    assert result.plan_changed and result.downloaded == 1


def longer_audio(app, render, seconds: float) -> bytes:
    """Give the render a tone of this length (the test renders are 0.2 s); its bytes."""
    path = Path(app.config["AUDIO_DIR"]) / render.audio_path
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        frames = int(8000 * seconds)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                for i in range(frames)
            )
        )
    render.audio_sha256 = sha256_file(path)
    db.session.commit()
    return path.read_bytes()


def test_link_cut_mid_download_keeps_what_arrived_and_resumes(desk, make_agent, link, app):
    render = desk.script.approved_render
    whole = longer_audio(app, render, 3.0)
    agent = make_agent(desk.commune, url=link.url)
    agent.sync()  # the chain head and the plan arrive; now cut the audio mid-file
    (agent.state.audio / f"{render.audio_sha256}.wav").unlink()
    agent.settings.plan_etag = ""
    assert len(whole) > 20_000  # several times the plan's size
    link.cut_download_after = len(whole) // 2 + 500  # more than the plan, less than the file

    with pytest.raises(ServerError):
        agent.sync()
    partial = agent.state.partial / f"{render.audio_sha256}.wav"
    assert link.cuts == 1 and 0 < partial.stat().st_size < len(whole)

    result = agent.sync()
    assert result.downloaded == 1 and not partial.exists()
    assert (agent.state.audio / f"{render.audio_sha256}.wav").read_bytes() == whole


def test_backoff_doubles_with_jitter_up_to_its_cap(desk, make_agent):
    agent = make_agent(desk.commune, poll_s=30)
    waits = []
    for failures in (0, 1, 2, 3, 10, 30):
        agent.failures = failures
        waits.append(agent.backoff_s())
    assert waits[0] == 30
    assert 15 <= waits[1] <= 30 and 30 <= waits[2] <= 60 and 60 <= waits[3] <= 120
    assert 300 <= waits[4] <= 600 and 300 <= waits[5] <= 600
