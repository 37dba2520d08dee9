"""flask speech …: normalise text, render audio, run the render worker, clean the audio folder."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.core.text import nfc
from app.extensions import db
from app.org.models import Unit
from app.speech import service
from app.speech.audio import AssemblySettings, AudioError, AudioToolMissing
from app.speech.engines import ENGINES, EngineError, get_engine
from app.speech.pipeline import RenderOptions, check_speed, produce_audio

speech_cli = AppGroup("speech", help="Vietnamese speech: normalise, render, worker.")


def _unit(code: str | None) -> Unit | None:
    """Look a unit up by code for its lexicon and reading choices."""
    if not code:
        return None
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise click.ClickException(f"Không có đơn vị mã “{code}”.")
    return unit


def _echo_warnings(warnings) -> None:
    """Print the normaliser's warnings to standard error."""
    for warning in warnings:
        click.echo(f"cảnh báo: {warning.message}", err=True)


@speech_cli.command("normalize")
@click.option("--unit", "unit_code", help="read with this unit's lexicon and regional choices")
def normalize_command(unit_code: str | None) -> None:
    """Read UTF-8 text on standard input and print its spoken form."""
    text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    result = service.normalize_for(_unit(unit_code), text)
    _echo_warnings(result.warnings)
    click.echo(result.spoken)


@speech_cli.command("render")
@click.option("--text-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path))
@click.option("--engine", default=None, help="espeak (default), gtts or piper")
@click.option("--voice", default=None, help="e.g. vi, vi-vn-x-central, vi-vn-x-south")
@click.option("--speed", default=100, show_default=True, help="percent of the normal rate")
@click.option("--intro", default="", help="intro line read before the text")
@click.option("--repeats", default=1, show_default=True)
@click.option("--no-chime", is_flag=True, help="leave out the opening and closing chime")
@click.option("--spoken", is_flag=True, help="the file is already spoken text: do not normalise")
@click.option("--unit", "unit_code", help="read with this unit's lexicon and regional choices")
def render_command(
    text_file: Path | None,
    out_path: Path,
    engine: str | None,
    voice: str | None,
    speed: int,
    intro: str,
    repeats: int,
    no_chime: bool,
    spoken: bool,
    unit_code: str | None,
) -> None:
    """Render any text to MP3 or WAV (by the --out suffix) and print its measurements."""
    raw = text_file.read_bytes() if text_file else sys.stdin.buffer.read()
    text = nfc(raw.decode("utf-8", errors="replace"))
    if not spoken:
        result = service.normalize_for(_unit(unit_code), text)
        _echo_warnings(result.warnings)
        text = result.spoken
    if not text.strip():
        raise click.ClickException("Văn bản không còn gì để đọc sau khi chuẩn hóa.")
    engine_name = engine or current_app.config["SPEECH_ENGINE"]
    if engine_name not in ENGINES:
        raise click.ClickException(f"Không có bộ đọc “{engine_name}”: {', '.join(ENGINES)}.")
    chosen = get_engine(engine_name, current_app.config)
    fmt = "wav" if out_path.suffix.lower() == ".wav" else "mp3"
    try:
        chosen.check_voice(voice or chosen.default_voice)
        check_speed(speed)
        settings = AssemblySettings.from_dict(
            {"format": fmt, "repeats": repeats, "chime": not no_chime}
        )
    except EngineError as exc:
        raise click.ClickException(exc.message) from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    options = RenderOptions(engine_name, voice or chosen.default_voice, speed, intro, settings)
    started = time.perf_counter()
    try:
        produced = produce_audio(text, options, out_path, config=current_app.config)
    except (EngineError, AudioToolMissing, AudioError) as exc:
        raise click.ClickException(exc.message) from exc
    elapsed = time.perf_counter() - started
    m = produced.measurement
    click.echo(f"tệp: {out_path}")
    click.echo(f"bộ đọc: {produced.engine} / {produced.voice}")
    click.echo(f"thời lượng: {m.duration_s:.2f} s")
    click.echo(f"độ to tích hợp: {m.integrated_lufs:.1f} LUFS")
    click.echo(f"đỉnh thực: {m.true_peak_dbtp:.1f} dBTP")
    rate = f", {m.bitrate_kbps} kb/s" if m.bitrate_kbps else ""
    click.echo(f"định dạng: {m.codec}, {m.sample_rate} Hz, {m.channels} kênh{rate}")
    click.echo(f"thời gian tạo: {elapsed:.2f} s")


@speech_cli.command("worker")
@click.option("--once", is_flag=True, help="run the queued renders, then stop")
@click.option("--poll", default=1.0, show_default=True, help="seconds between queue checks")
def worker_command(once: bool, poll: float) -> None:
    """Run queued renders one at a time (the web app never renders in a request)."""
    requeued = service.requeue_abandoned()
    if requeued:
        click.echo(f"Đưa lại {requeued} bản âm thanh bị bỏ dở vào hàng đợi.")
    click.echo(f"Bộ tạo âm thanh đang chạy ({service.worker_name()}).")
    while True:
        render = service.process_next_render()
        if render is not None:
            click.echo(f"bản âm thanh #{render.id}: {render.status.label} {render.error}".rstrip())
            continue
        if once:
            return
        db.session.remove()
        time.sleep(poll)


@speech_cli.command("clean-audio")
def clean_audio_command() -> None:
    """Delete audio files in AUDIO_DIR that no render points to."""
    removed = service.remove_orphan_audio()
    for path in removed:
        click.echo(f"đã xóa {path}")
    click.echo(f"Đã xóa {len(removed)} tệp không còn dùng.")


@speech_cli.command("engines")
def engines_command() -> None:
    """List the speech engines, their voices and whether each can run here."""
    for name in ENGINES:
        engine = get_engine(name, current_app.config)
        try:
            engine.check()
            state = "sẵn sàng"
        except EngineError as exc:
            state = f"không dùng được: {exc.message}"
        voices = ", ".join(v.id for v in engine.voices())
        click.echo(f"{name}: {engine.label}; giọng: {voices}; {state}")
        for notice in engine.notices():
            click.echo(f"  - {notice}")
