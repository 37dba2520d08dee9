"""Several render workers at once, as real `flask speech worker` processes on one host (the
deploy guide's loa-worker@1, @2, …): each queued render is claimed and made by exactly one of
them, and a worker starting while another is busy leaves the other's render alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.speech import service
from app.speech.models import Render, RenderStatus
from tests.factories import make_script

ROOT = Path(__file__).resolve().parents[2]
FLASK = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "speech", "worker"]
DONE = re.compile(r"bản âm thanh #(\d+): Hoàn tất")


def _env(app) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "LOA_INSTANCE_PATH": app.instance_path,
        "AUDIO_DIR": str(app.config["AUDIO_DIR"]),
        "SCRIPTS_DIR": str(app.config["SCRIPTS_DIR"]),
        "SCHEDULES_DIR": str(app.config["SCHEDULES_DIR"]),
    }
    env.pop("TEST_DATABASE_URL", None)
    env.pop("LOA_CLOCK_FILE", None)
    return env


def _statuses() -> dict[int, RenderStatus]:
    db.session.expire_all()
    result = dict(db.session.execute(select(Render.id, Render.status)).all())
    db.session.rollback()  # end the read, so the workers' writes are not held up (SQLite)
    return result


def test_three_workers_make_each_render_exactly_once(app, users, org):
    queued = []
    for i in range(6):
        script = make_script(
            users["writer"], org.district, title=f"Tin {i}", body=f"Thưa bà con, tin số {i}."
        )
        request = service.RenderRequest(settings={"chime": False})
        queued.append(service.request_render(users["writer"], script, request).id)
    db.session.commit()
    env = _env(app)
    procs = [
        subprocess.Popen(
            [*FLASK, "--poll", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    ]
    try:
        # The second and third start while the first is busy: starting, a worker requeues
        # only renders whose worker is gone, never a live one's.
        deadline = time.monotonic() + 60
        while RenderStatus.RUNNING not in _statuses().values():
            assert time.monotonic() < deadline, "the first worker never started a render"
            assert procs[0].poll() is None, procs[0].stdout.read()
            time.sleep(0.05)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [*FLASK, "--poll", "0.2"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        deadline = time.monotonic() + 120
        while set(_statuses().values()) != {RenderStatus.DONE}:
            assert time.monotonic() < deadline, _statuses()
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.terminate()
        outputs = [proc.communicate(timeout=30)[0] for proc in procs]
    made = [int(n) for output in outputs for n in DONE.findall(output)]
    assert sorted(made) == sorted(queued), outputs
    assert not any("Đưa lại" in output for output in outputs), outputs
    for render in db.session.scalars(select(Render)):
        assert service.verify_audio(render)
