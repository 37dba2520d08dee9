"""Programme test material: tones from ffmpeg (made once), library items, approved spots and
a station with a short session."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from app.library.models import LibraryKind
from app.library.service import ItemInput, add_item
from app.org.service import add_session
from app.programmes import service
from app.scripts.service import approve_script, submit_script
from app.speech import service as speech
from app.speech.audio import run_ffmpeg
from tests.factories import make_script, make_station, submit


def tone(path: Path, source: str, seconds: float, af: str = "") -> Path:
    """seconds of a lavfi source as a 44.1 kHz mono WAV."""
    args = ["-y", "-f", "lavfi", "-t", f"{seconds}", "-i", source]
    if af:
        args += ["-af", af]
    run_ffmpeg([*args, "-ac", "1", "-ar", "44100", "-c:a", "pcm_s16le", str(path)])
    return path


@pytest.fixture(scope="session")
def tones(tmp_path_factory) -> dict[str, Path]:
    """A 1.5 s chord (jingle), a 2 s 220 Hz bed, a 1 s 1 kHz ident."""
    folder = tmp_path_factory.mktemp("programme-tones")
    chord = "aevalsrc=0.3*sin(2*PI*523*t)+0.2*sin(2*PI*659*t)+0.2*sin(2*PI*784*t):s=44100"
    return {
        "jingle": tone(folder / "nhac-hieu.wav", chord, 1.5),
        "bed": tone(folder / "nhac-nen.wav", "sine=frequency=220:sample_rate=44100", 2.0),
        "ident": tone(folder / "nhan-dien.wav", "sine=frequency=1000:sample_rate=44100", 1.0),
    }


def library_item(actor, path: Path, title: str, kind: LibraryKind):
    """Add a tone to the library as actor."""
    with path.open("rb") as stream:
        return add_item(actor, ItemInput(title=title, kind=kind), stream, path.name).item


def espeak_spot(users, unit, title: str, body: str):
    """A short spot rendered by eSpeak NG, submitted and approved."""
    script = make_script(
        users["writer"], unit, title=title, body=body, valid_until=date(2026, 12, 31)
    )
    speech.request_render(users["writer"], script, speech.RenderRequest(engine="espeak"))
    while speech.process_next_render() is not None:
        pass
    submit_script(users["writer"], script)
    return approve_script(users["supervisor"], script)


def tone_spot(users, unit, title: str = "Thông báo lịch tiêm"):
    """A spot with a short tone render (tests where the voice is not the point), approved."""
    script = make_script(users["writer"], unit, title=title, valid_until=date(2026, 12, 31))
    submit(users["writer"], script)
    return approve_script(users["supervisor"], script)


@pytest.fixture
def station(org):
    """A district station with a 15-minute morning and a 1-minute evening session."""
    st = make_station(org.district, "PT-CITY", "Đài Truyền thanh Phan Thiết")
    add_session(None, st, "Buổi sáng", time(5, 30), time(6, 15), 15, "1234567")
    add_session(None, st, "Bản tin ngắn", time(17, 0), time(17, 1), 1, "1234567")
    return st


@pytest.fixture
def items(users, org, tones):
    """A jingle, a bed and an ident in the district's library."""
    writer = users["writer"]
    return {
        "jingle": library_item(writer, tones["jingle"], "Nhạc hiệu đài", LibraryKind.JINGLE),
        "bed": library_item(writer, tones["bed"], "Nhạc nền nhẹ", LibraryKind.BED),
        "ident": library_item(writer, tones["ident"], "Nhận diện đài", LibraryKind.IDENT),
    }


def entry(kind: str, ref, gap_ms: int = 0, crossfade_ms: int = 0) -> service.RundownEntry:
    """A rundown entry for a script or a library item."""
    return service.RundownEntry(kind, ref.id, gap_ms, crossfade_ms)


def mix_now(actor, script):
    """Queue the programme's mix and run the worker until it is done."""
    from app.programmes.mix import request_mix

    render = request_mix(actor, script)
    while speech.process_next_render() is not None:
        pass
    from app.extensions import db

    db.session.expire_all()
    return db.session.get(type(render), render.id)
