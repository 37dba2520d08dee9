"""Recorded spots benchmark: a 5-minute phone recording from upload to a mastered, ready render.

Usage:
    .venv/bin/python bench/recording.py [--minutes 5] [--runs 3] [--keep DIR] [--json PATH]

ffmpeg makes two phone recordings of --minutes minutes: AMR-NB (8 kHz mono, 12.2 kb/s, as
Android's voice recorder writes) and M4A/AAC (16 kHz mono, 32 kb/s, as Zalo and iPhone voice
memos do). Their "voice" is a gliding tone shaped into syllables (4 per second) in phrases of 6 s
with 2 s pauses, under phone hiss at about -55 dBFS, with 2 s of hiss before the first phrase
and 3 s after the last.

Each upload runs in a child process (a Flask app on a temporary SQLite file and AUDIO_DIR, one
district, a writer, a draft and an API token): the time from POST /api/v1/scripts/<id>/recording
(multipart, through Flask's test client, so no network) to its 201 answer, when the render is
DONE and playable: receive, probe, decode, meter, trim, high-pass, limiter, two-pass loudnorm,
MP3 encode, measure, sha256, keep the original, commit. Memory: the child's own peak RSS (VmHWM)
and the RSS of the child and its ffmpeg runs together, sampled from /proc every 50 ms; the
larger is compared with the target.

Targets: upload-to-ready under 20 s for 5 minutes (a writer waits for the page; 4 % of real
time on this 2-core machine), peak memory under 300 MB (bench/render.py's target for a
30-minute programme). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import machine_info, markdown_table  # noqa: E402
from bench.render import ffmpeg_info, run_measured_child, speech_config, status_kib  # noqa: E402

TARGET_S = 20.0
TARGET_PEAK_MB = 300.0
MB = 1_000_000

# A voice-like signal: a tone gliding around 200 Hz with two harmonics, 4 syllables a second,
# in 6 s phrases with 2 s pauses, silent for the first 2 s and the last 3 s.
VOICE = (
    "aevalsrc='if(between(t,2,{end})*lt(mod(t-2,8),6),"
    "0.5*pow(sin(PI*4*t),2)*(sin(2*PI*(200+30*sin(2*PI*0.3*t))*t)"
    "+0.4*sin(4*PI*(200+30*sin(2*PI*0.3*t))*t)+0.2*sin(6*PI*200*t)),0)':s={rate}:d={total}"
)
PHONES = {
    "amr": (8000, ["-c:a", "libopencore_amrnb", "-b:a", "12.2k"]),
    "m4a": (16000, ["-c:a", "aac", "-b:a", "32k"]),
}


def make_recording(path: Path, minutes: float) -> Path:
    """Write a phone recording of the given length in the format path's suffix names."""
    from app.speech.audio import run_ffmpeg

    rate, codec = PHONES[path.suffix[1:]]
    total = minutes * 60
    voice = VOICE.format(end=total - 3, rate=rate, total=total)
    hiss = f"anoisesrc=a=0.002:c=pink:seed=11:r={rate}:d={total}"
    run_ffmpeg(
        [
            *("-y", "-filter_complex", f"{voice}[v];{hiss}[n];[v][n]amix=inputs=2:normalize=0"),
            *("-ac", "1", "-ar", str(rate), *codec, str(path)),
        ]
    )
    return path


def run_child(source: Path, workdir: Path) -> int:
    """In the child: one app, one script, one upload through the API; print its figures."""
    from datetime import UTC, datetime

    from app import create_app
    from app.auth.models import Role
    from app.auth.service import UserInput, create_token, create_user
    from app.core.clock import FixedClock
    from app.extensions import db
    from app.org.service import UnitInput, create_unit
    from app.scripts.models import Priority
    from app.scripts.service import ScriptInput, create_script
    from app.speech.models import Render

    config = {
        "TESTING": True,
        "SECRET_KEY": "bench",
        "INSTANCE_PATH": workdir / "instance",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'loa.sqlite3'}",
        "SCRIPTS_DIR": workdir / "scripts_vi",
        "SCHEDULES_DIR": workdir / "schedules",
        "AUDIO_DIR": workdir / "audio",
        "RATELIMIT_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "CLOCK": FixedClock(datetime(2026, 11, 27, 1, 0, tzinfo=UTC)),
        **{k: v for k, v in speech_config().items() if v},
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        unit = create_unit(
            None, UnitInput(code="D", name="Thành phố Phan Thiết", level="TP", parent=None)
        )
        writer = create_user(
            None,
            UserInput(username="writer", full_name="Người đọc", role=Role.WRITER, unit=unit),
            "bench-password-2026",
        )
        script = create_script(
            writer,
            ScriptInput(
                title="Thông báo",
                body="Thưa bà con, đây là bản tin đọc và ghi âm bằng điện thoại.",
                unit=unit,
                priority=Priority.NORMAL,
                campaign="",
            ),
        )
        _, token = create_token(writer, "bench")
        data = source.read_bytes()
        baseline_kib = status_kib("self", "VmHWM")
        client = app.test_client()
        started = time.perf_counter()
        response = client.post(
            f"/api/v1/scripts/{script.id}/recording",
            headers={"Authorization": f"Bearer {token}"},
            data={"file": (io.BytesIO(data), source.name)},
        )
        seconds = time.perf_counter() - started
        body = response.get_json()
        if response.status_code != 201:
            print(json.dumps({"error": body}), file=sys.stderr)
            return 1
        render = db.session.get(Render, body["id"])
        mastered = Path(config["AUDIO_DIR"]) / render.audio_path
        shutil.copyfile(mastered, workdir / f"mastered-{source.stem}.mp3")
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "bytes": len(data),
                    "original_s": body["recording"]["original_duration_s"],
                    "duration_s": body["duration_s"],
                    "lufs": body["integrated_lufs"],
                    "true_peak": body["true_peak_dbtp"],
                    "trimmed_lead_s": body["recording"]["trimmed_lead_s"],
                    "trimmed_tail_s": body["recording"]["trimmed_tail_s"],
                    "warnings": [w["message"] for w in body["warnings"]],
                    "baseline_kib": baseline_kib,
                    "process_peak_kib": status_kib("self", "VmHWM"),
                }
            )
        )
    return 0


def one_upload(source: Path, workdir: Path) -> dict[str, Any]:
    """Run one upload in a child process, sampling the memory of its process tree."""
    workdir.mkdir(parents=True)
    return run_measured_child(__file__, ["--child", str(source), str(workdir)], workdir)


def main(argv: list[str] | None = None) -> int:
    """Make the recordings, upload each --runs times, print the figures and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="copy the mastered files into this folder")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(*args.child)

    info = machine_info() | {"ffmpeg": ffmpeg_info(speech_config())}
    print("# Recorded spots: upload to ready\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    results: dict[str, Any] = {"machine": info, "formats": {}}
    rows = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="loa-bench-recording-") as tmp:
        folder = Path(tmp)
        for suffix in PHONES:
            made_at = time.perf_counter()
            source = make_recording(folder / f"phone-{args.minutes:g}min.{suffix}", args.minutes)
            made_s = time.perf_counter() - made_at
            runs = [one_upload(source, folder / f"{suffix}-{i}") for i in range(args.runs)]
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mb"] for r in runs)
            last = runs[-1]
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(
                    folder / f"{suffix}-{args.runs - 1}" / f"mastered-{source.stem}.mp3",
                    args.keep / f"mastered-{source.stem}.mp3",
                )
            ok_time, ok_memory = seconds < TARGET_S, peak < TARGET_PEAK_MB
            failed |= not (ok_time and ok_memory)
            results["formats"][suffix] = {"made_s": made_s, "runs": runs}
            rows.append(
                [
                    f"{suffix.upper()} {PHONES[suffix][0] // 1000} kHz, "
                    f"{last['bytes'] / MB:.2f} MB, {last['original_s']:.0f} s",
                    " / ".join(f"{r['seconds']:.2f}" for r in runs),
                    f"{seconds:.2f} s (< {TARGET_S:.0f} s) {'PASS' if ok_time else 'FAIL'}",
                    f"{peak:.0f} MB (< {TARGET_PEAK_MB:.0f} MB) {'PASS' if ok_memory else 'FAIL'}",
                    f"{max(r['ffmpeg_peak_mb'] for r in runs):.0f} MB",
                    f"{last['duration_s']:.1f} s, {last['lufs']:.1f} LUFS, "
                    f"{last['true_peak']:.1f} dBTP",
                    f"{last['trimmed_lead_s']:.2f} / {last['trimmed_tail_s']:.2f} s",
                    str(len(last["warnings"])),
                ]
            )
    print()
    markdown_table(
        [
            "recording",
            "runs (s)",
            "upload to ready, median",
            "peak memory (app + ffmpeg)",
            "ffmpeg alone",
            "mastered",
            "trimmed lead / tail",
            "warnings",
        ],
        rows,
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
