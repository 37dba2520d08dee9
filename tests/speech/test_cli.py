"""flask speech …: normalise from stdin, render files, run the worker, clean audio, list engines."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.speech import service
from app.speech.audio import measure
from app.speech.models import Render, RenderStatus
from tests.factories import make_render, make_script

TEXT = "Thưa bà con, UBND phường họp lúc 7h30 ngày 5/9/2021."


@pytest.fixture
def split_runner(app):
    """A CLI runner that keeps standard error apart from standard output (click < 8.2)."""
    return app.test_cli_runner(mix_stderr=False)


def _figures(output: str) -> dict[str, float]:
    """The duration, loudness and peak the render command printed."""
    patterns = {
        "duration": r"thời lượng: (-?\d+\.\d+) s",
        "lufs": r"độ to tích hợp: (-?\d+\.\d+) LUFS",
        "peak": r"đỉnh thực: (-?\d+\.\d+) dBTP",
    }
    found = {}
    for name, pattern in patterns.items():
        match = re.search(pattern, output)
        assert match, f"{name} not printed in:\n{output}"
        found[name] = float(match.group(1))
    return found


def _text_file(tmp_path, text: str = TEXT):
    """A UTF-8 text file to render."""
    path = tmp_path / "ban-tin.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_normalize_reads_stdin_and_prints_the_spoken_form(split_runner):
    result = split_runner.invoke(
        args=["speech", "normalize"], input="Họp ban XYZQ lúc 7h30 tại UBND phường.\n".encode()
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Họp ban ích i dài dét qui lúc bảy giờ ba mươi phút tại Ủy ban nhân dân phường.\n"
    )
    assert result.stderr.startswith("cảnh báo: Không biết đọc “XYZQ”")


def test_normalize_reads_with_a_units_regional_choices(split_runner, users, org):
    service.set_reading_options(users["supervisor2"], org.district, {"thousand": "ngàn"})
    result = split_runner.invoke(
        args=["speech", "normalize", "--unit", "C"], input="Có 1.500 người.".encode()
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Có một ngàn năm trăm người.\n"
    assert result.stderr == ""


def test_normalize_for_an_unknown_unit_fails(runner, org):
    result = runner.invoke(
        args=["speech", "normalize", "--unit", "KHONG-CO"], input="Một.".encode()
    )
    assert result.exit_code != 0
    assert "Không có đơn vị mã “KHONG-CO”." in result.output


def test_render_writes_an_mp3_at_broadcast_loudness_and_prints_it(runner, tmp_path):
    out = tmp_path / "ban-tin.mp3"
    result = runner.invoke(
        args=["speech", "render", "--text-file", str(_text_file(tmp_path)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    printed = _figures(result.output)
    assert abs(printed["lufs"] - -16.0) <= 1.0
    assert printed["peak"] <= -1.0
    assert printed["duration"] > 3.0
    assert "bộ đọc: espeak / vi" in result.output
    measured = measure(out)
    assert measured.codec == "mp3"
    assert measured.duration_s == pytest.approx(printed["duration"], abs=0.05)
    assert measured.integrated_lufs == pytest.approx(printed["lufs"], abs=0.1)


def test_render_to_a_wav_path_writes_wav(runner, tmp_path):
    out = tmp_path / "ban-tin.wav"
    result = runner.invoke(
        args=[
            "speech",
            "render",
            "--text-file",
            str(_text_file(tmp_path, "Thưa bà con.")),
            "--out",
            str(out),
            "--no-chime",
        ]
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert measure(out).codec.startswith("pcm_")
    assert "định dạng: pcm_" in result.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--engine", "festival"], "Không có bộ đọc “festival”"),
        (["--speed", "10"], "Tốc độ đọc phải từ 50% đến 200%."),
        (["--speed", "500"], "Tốc độ đọc phải từ 50% đến 200%."),
        (["--voice", "en-us"], "không có giọng “en-us”"),
        (["--repeats", "9"], "Số lần đọc phải từ 1 đến 5."),
    ],
)
def test_render_refuses_bad_options_and_writes_nothing(runner, tmp_path, options, message):
    out = tmp_path / "ban-tin.mp3"
    result = runner.invoke(
        args=[
            "speech",
            "render",
            "--text-file",
            str(_text_file(tmp_path)),
            "--out",
            str(out),
            *options,
        ]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()


def test_render_refuses_a_speed_that_is_not_a_number(runner, tmp_path):
    out = tmp_path / "ban-tin.mp3"
    result = runner.invoke(
        args=["speech", "render", "--out", str(out), "--speed", "nhanh"], input=TEXT.encode()
    )
    assert result.exit_code == 2
    assert "--speed" in result.output
    assert not out.exists()


def test_render_refuses_text_that_reads_as_nothing(runner, tmp_path):
    out = tmp_path / "ban-tin.mp3"
    result = runner.invoke(args=["speech", "render", "--out", str(out)], input="😀😀 🎉\n".encode())
    assert result.exit_code != 0
    assert "Văn bản không còn gì để đọc sau khi chuẩn hóa." in result.output
    assert not out.exists()


def test_worker_once_runs_the_queued_renders_then_stops(runner, users, org):
    first = make_script(users["writer"], org.district, title="Một", body="Thưa bà con.")
    second = make_script(users["writer"], org.district, title="Hai", body="Xin chào bà con.")
    queued = [
        service.request_render(users["writer"], s, service.RenderRequest(settings={"chime": False}))
        for s in (first, second)
    ]
    result = runner.invoke(args=["speech", "worker", "--once"])
    assert result.exit_code == 0, result.output
    for render in queued:
        db.session.refresh(render)
        assert render.status == RenderStatus.DONE, render.error
        assert service.verify_audio(render)
        assert f"bản âm thanh #{render.id}: Hoàn tất" in result.output
    assert service.claim_next_render() is None


def test_worker_once_with_an_empty_queue_does_nothing(runner, org):
    result = runner.invoke(args=["speech", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "bản âm thanh #" not in result.output
    assert db.session.scalar(select(func.count()).select_from(Render)) == 0


def test_clean_audio_removes_an_orphan_and_keeps_used_audio(app, runner, users, org):
    script = make_script(users["writer"], org.district, body=TEXT)
    kept = make_render(script)
    orphan = app.config["AUDIO_DIR"] / "ab" / "orphan.mp3"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x")
    result = runner.invoke(args=["speech", "clean-audio"])
    assert result.exit_code == 0, result.output
    assert f"đã xóa {orphan}" in result.output
    assert "Đã xóa 1 tệp không còn dùng." in result.output
    assert not orphan.exists()
    assert service.verify_audio(kept)


def test_clean_audio_leaves_a_running_renders_work_alone(app, runner, users, org):
    script = make_script(users["writer"], org.district, body=TEXT)
    render = service.request_render(users["writer"], script, service.RenderRequest())
    assert service.claim_next_render().id == render.id
    key = render.cache_key
    work = app.config["AUDIO_DIR"] / key[:2] / ".loa-master-abc" / "assembled.wav"
    work.parent.mkdir(parents=True)
    work.write_bytes(b"RIFF")
    result = runner.invoke(args=["speech", "clean-audio"])
    assert result.exit_code == 0, result.output
    assert work.exists()


def test_engines_lists_espeak_as_ready_with_its_voices(runner):
    result = runner.invoke(args=["speech", "engines"])
    assert result.exit_code == 0, result.output
    espeak = next(line for line in result.output.splitlines() if line.startswith("espeak:"))
    assert "giọng: vi, vi-vn-x-central, vi-vn-x-south" in espeak
    assert espeak.endswith("sẵn sàng")
