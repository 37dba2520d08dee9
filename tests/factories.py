"""Plain make_* helpers that create test data with a default for every field."""

from __future__ import annotations

import math
import struct
import wave
from itertools import count
from pathlib import Path

from flask import current_app

from app.auth.models import Role, User
from app.auth.service import UserInput, create_user
from app.core import clock
from app.extensions import db
from app.org.models import Station, StationKind, Unit
from app.org.service import StationInput, UnitInput, create_station, create_unit
from app.scripts.models import Priority, Script
from app.scripts.service import ScriptInput, create_script, submit_script
from app.speech import service as speech_service
from app.speech.models import Render, RenderStatus
from app.speech.pipeline import RenderOptions, sha256_file

PASSWORD = "correct-horse-battery"
_seq = count(1)

BODY = (
    "Thưa bà con, thực hiện Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021, "
    "bà con hãy đi tiêm vắc xin phòng Covid-19 khi đến lượt."
)


def make_unit(
    code: str | None = None, name: str | None = None, parent: Unit | None = None, level: str = "Xã"
) -> Unit:
    """Create a unit."""
    n = next(_seq)
    return create_unit(
        None,
        UnitInput(code=code or f"U{n}", name=name or f"Đơn vị {n}", level=level, parent=parent),
    )


def make_station(
    unit: Unit,
    code: str | None = None,
    name: str | None = None,
    kind: StationKind = StationKind.COMMUNE_LOUDSPEAKER,
) -> Station:
    """Create a station."""
    n = next(_seq)
    return create_station(
        None, StationInput(code=code or f"ST{n}", name=name or f"Đài {n}", kind=kind, unit=unit)
    )


def make_user(
    unit: Unit,
    role: Role = Role.WRITER,
    username: str | None = None,
    password: str = PASSWORD,
    must_change_password: bool = False,
) -> User:
    """Create a user who can log in with PASSWORD."""
    n = next(_seq)
    return create_user(
        None,
        UserInput(
            username=username or f"{role.value}{n}",
            full_name=f"Người dùng {n}",
            role=role,
            unit=unit,
        ),
        password,
        must_change_password=must_change_password,
    )


def make_script(
    author: User | None, unit: Unit, title: str = "Kêu gọi tiêm chủng", body: str = BODY, **fields
) -> Script:
    """Create a draft script with one version."""
    data = ScriptInput(
        title=title,
        body=body,
        unit=unit,
        priority=fields.pop("priority", Priority.HIGH),
        campaign=fields.pop("campaign", "Tiêm chủng COVID-19 đợt 6"),
        **fields,
    )
    return create_script(author, data)


def make_render(script: Script, actor: User | None = None) -> Render:
    """A finished render of the script's current version, with a short real WAV tone.

    For tests about the workflow, where the audio itself is not the point; speech tests
    render with the real engine.
    """
    spoken = speech_service.spoken_for(script)
    options = RenderOptions(engine="espeak", voice="vi")
    key = options.key(spoken.text + f"#{next(_seq)}")
    relative = f"{key[:2]}/{key}.wav"
    path = Path(current_app.config["AUDIO_DIR"]) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        tone = (int(8000 * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(1600))
        out.writeframes(b"".join(struct.pack("<h", s) for s in tone))
    now = clock.now()
    render = Render(
        script_id=script.id,
        version_id=script.current_version_id,
        status=RenderStatus.DONE,
        progress=1.0,
        cache_key=key,
        spoken_text=spoken.text,
        spoken_sha256=spoken.sha256,
        manual_spoken=spoken.manual,
        warnings=spoken.warnings,
        engine_requested="espeak",
        engine="espeak",
        voice="vi",
        settings=options.settings.as_dict(),
        audio_path=relative,
        audio_sha256=sha256_file(path),
        audio_format="wav",
        duration_s=0.2,
        integrated_lufs=-16.0,
        true_peak_dbtp=-1.5,
        sample_rate=8000,
        requested_by_id=actor.id if actor else None,
        created_at=now,
        started_at=now,
        finished_at=now,
    )
    db.session.add(render)
    db.session.commit()
    return render


def submit(actor: User, script: Script) -> Script:
    """Submit a script for review, rendering its current version first if needed."""
    latest = speech_service.latest_done_render(script)
    if latest is None or latest.spoken_sha256 != speech_service.spoken_for(script).sha256:
        make_render(script, actor)
    return submit_script(actor, script)
