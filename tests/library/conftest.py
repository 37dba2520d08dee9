"""Real audio for the library tests, made once per session by ffmpeg: tones with silence
around them, a bed, a quiet and a clipped original, silence, and files that are not audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.auth.service import create_token
from app.speech.audio import run_ffmpeg


def _make(path: Path, source: str, *, seconds: float, af: str = "", codec: list[str]) -> Path:
    """Write seconds of a lavfi source to path, through an optional filter chain."""
    args = ["-y", "-f", "lavfi", "-t", f"{seconds}", "-i", source]
    if af:
        args += ["-af", af]
    run_ffmpeg([*args, "-ac", "1", "-ar", "44100", *codec, str(path)])
    return path


WAV = ["-c:a", "pcm_s16le"]
MP3 = ["-c:a", "libmp3lame", "-b:a", "128k"]


@pytest.fixture(scope="session")
def sounds(tmp_path_factory) -> dict[str, Path]:
    """name -> file. "jingle" is 0.6 s of silence, 1.2 s of a chord and 0.6 s of silence."""
    folder = tmp_path_factory.mktemp("library-sounds")
    chord = "aevalsrc=0.3*sin(2*PI*523*t)+0.2*sin(2*PI*659*t)+0.2*sin(2*PI*784*t):s=44100"
    padded = "adelay=600:all=1,apad=pad_dur=0.6"
    files = {
        "jingle": _make(folder / "nhac-hieu.wav", chord, seconds=1.2, af=padded, codec=WAV),
        "jingle_mp3": _make(folder / "nhac-hieu.mp3", chord, seconds=1.2, af=padded, codec=MP3),
        "bed": _make(
            folder / "nhac-nen.wav",
            "sine=frequency=220:sample_rate=44100",
            seconds=1.2,
            af=f"volume=-12dB,{padded}",
            codec=WAV,
        ),
        "quiet": _make(
            folder / "nho.wav",
            "sine=frequency=440:sample_rate=44100",
            seconds=1.5,
            af=f"volume=-25dB,{padded}",
            codec=WAV,
        ),
        "clipped": _make(
            folder / "meo.wav",
            "sine=frequency=440:sample_rate=44100",
            seconds=1.5,
            af="volume=18dB",
            codec=WAV,
        ),
        "silent": _make(folder / "im-lang.wav", "anullsrc=r=44100:cl=mono", seconds=1.5, codec=WAV),
        "long": _make(
            folder / "dai.mp3", "sine=frequency=330:sample_rate=44100", seconds=4, codec=MP3
        ),
    }
    text = folder / "thong-bao.mp3"
    text.write_text("Đây là văn bản, không phải âm thanh.\n" * 40, encoding="utf-8")
    files["text_as_mp3"] = text
    noise = folder / "rac.wav"
    noise.write_bytes(bytes(range(256)) * 64)
    files["garbage"] = noise
    return files


@pytest.fixture
def api(app, users):
    """Call the API as a named user: api("writer").post(url, data=...)."""

    def caller(name: str):
        _, token = create_token(users[name], "test")
        client = app.test_client()

        class Call:
            def __getattr__(self, method):
                def call(url, **kwargs):
                    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                    return getattr(client, method)(url, headers=headers, **kwargs)

                return call

        return Call()

    return caller
