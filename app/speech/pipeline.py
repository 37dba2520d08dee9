"""From spoken text to a mastered audio file: synthesise, assemble, normalise loudness, encode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.speech.audio import AssemblySettings, Measurement, assemble, configure_pydub, master
from app.speech.engines import MAX_SPEED, MIN_SPEED, EngineError, SpeechEngine, get_engine
from app.speech.engines import check_speed as engine_check_speed

OFFLINE_ENGINE = "espeak"
REPEAT_LINE = "Xin nhắc lại"


@dataclass(frozen=True)
class RenderOptions:
    """Everything besides the text that decides what the audio sounds like."""

    engine: str
    voice: str
    speed: int = 100
    intro_text: str = ""
    settings: AssemblySettings = field(default_factory=AssemblySettings)
    allow_fallback: bool = False
    voice_revision: str = ""  # the engine's cache_token: e.g. the Piper voice files' sha256

    def key(self, spoken_text: str) -> str:
        """Cache key: the same text and options always give the same audio."""
        payload = {
            "spoken_sha256": sha256_text(spoken_text),
            "engine": self.engine,
            "voice": self.voice,
            "speed": self.speed,
            "intro": self.intro_text,
            "settings": self.settings.as_dict(),
        }
        if self.voice_revision:  # only then, so the keys of existing renders stay as they are
            payload["voice_revision"] = self.voice_revision
        return sha256_text(json.dumps(payload, sort_keys=True, ensure_ascii=False))


@dataclass(frozen=True)
class Produced:
    """What the pipeline made and with which engine and voice."""

    engine: str
    voice: str
    measurement: Measurement
    sha256: str


def sha256_text(text: str) -> str:
    """sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_speed(speed: int) -> None:
    """Speed is a percentage of the engine's normal rate; the message is for the writer."""
    try:
        engine_check_speed(speed)
    except ValueError:
        raise ValueError(f"Tốc độ đọc phải từ {MIN_SPEED}% đến {MAX_SPEED}%.") from None


def _synthesise_parts(
    engine: SpeechEngine,
    voice: str,
    spoken_text: str,
    options: RenderOptions,
    on_progress: Callable[[float], None],
):
    """Synthesise the body, the intro line and the repeat line with one engine."""
    body = engine.synthesize(
        spoken_text, voice=voice, speed=options.speed, on_progress=lambda f: on_progress(0.8 * f)
    )
    intro = None
    if options.intro_text.strip():
        intro = engine.synthesize(options.intro_text, voice=voice, speed=options.speed)
    repeat_intro = None
    if options.settings.repeats > 1:
        repeat_intro = engine.synthesize(REPEAT_LINE, voice=voice, speed=options.speed)
    return body, intro, repeat_intro


def produce_audio(
    spoken_text: str,
    options: RenderOptions,
    out_path: Path,
    *,
    config: Mapping[str, Any] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Produced:
    """Render spoken text to a finished file at out_path; the old file stays if anything fails."""
    report = on_progress or (lambda fraction: None)
    configure_pydub(config)
    engine = get_engine(options.engine, config)
    voice = options.voice
    try:
        engine.check()
        parts = _synthesise_parts(engine, voice, spoken_text, options, report)
    except EngineError:
        if not options.allow_fallback or options.engine == OFFLINE_ENGINE:
            raise
        # The script's settings allow the offline engine when the chosen one fails.
        engine = get_engine(OFFLINE_ENGINE, config)
        voice = engine.default_voice
        engine.check()
        parts = _synthesise_parts(engine, voice, spoken_text, options, report)
    body, intro, repeat_intro = parts
    del parts
    programme = assemble(body, intro=intro, repeat_intro=repeat_intro, settings=options.settings)
    # The programme holds its own copy of the PCM; a long body need not stay in memory too.
    del body
    report(0.85)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    measurement = master(programme, out_path, options.settings, config=config)
    report(1.0)
    return Produced(engine.name, voice, measurement, sha256_file(out_path))
