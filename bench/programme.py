"""Programmes benchmark: a 30-minute programme of 12 items with a music bed, mixed and mastered.

Usage:
    .venv/bin/python bench/programme.py [--minutes 30] [--items 12] [--runs 3] [--keep DIR]
                                        [--json PATH]

ffmpeg makes the material: --items items of equal length filling --minutes minutes, every
other one a "voice" (a gliding tone shaped into syllables, 6 s phrases with 2 s pauses) and the
others "music" (a three-note chord under pink noise), and a 20 s bed (a low chord). A child
process takes them into the audio library of a temporary SQLite Loa (as `flask library add`
does: each mastered to -16 LUFS), and saves a programme of them for a 60-minute session: 1 s
gaps, a 2 s cross-fade after every third item, the bed ducked 15 dB under the items.

Each run is its own child process on that database, so its memory is the mix's alone: the time
from request_mix() to a DONE render through the render worker's path (process_next_render):
decode each item, lay them out, loop and duck the bed, high-pass, limiter, two-pass loudnorm,
MP3 encode, measure, sha256, commit. Memory: the child's own peak RSS (VmHWM) and the RSS of
the child and its ffmpeg runs together, sampled from /proc every 50 ms; the larger is compared
with the target. The previous run's mix is deleted first, so no run reuses it.

Targets: under 60 s for 30 minutes (3 % of real time: a writer waits on the page, which shows
the progress; mastering a 30-minute spoken render takes about 10 s here, bench/render.py), and
peak memory under 500 MB (the mix holds 30 minutes of 44.1 kHz 16-bit mono, 159 MB, while
ffmpeg masters it; a commune PC with 2 GB keeps room for the web app and the runner). Exit
status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
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

TARGET_S = 60.0
TARGET_PEAK_MB = 500.0
MB = 1_000_000
RATE = 44100

VOICE = (
    "aevalsrc='if(lt(mod(t,8),6),0.5*pow(sin(PI*4*t),2)*(sin(2*PI*(190+30*sin(2*PI*0.3*t))*t)"
    "+0.4*sin(4*PI*(190+30*sin(2*PI*0.3*t))*t)),0)':s={rate}:d={seconds}"
)
MUSIC = (
    "aevalsrc='0.2*sin(2*PI*{f}*t)+0.15*sin(2*PI*{f}*1.25*t)+0.12*sin(2*PI*{f}*1.5*t)'"
    ":s={rate}:d={seconds}[c];anoisesrc=a=0.03:c=pink:seed={seed}:r={rate}:d={seconds}[n];"
    "[c][n]amix=inputs=2:normalize=0"
)
BED = "aevalsrc='0.3*sin(2*PI*110*t)+0.2*sin(2*PI*165*t)':s={rate}:d=20"


def make_material(folder: Path, minutes: float, count: int) -> tuple[list[Path], Path]:
    """The items (voice and music by turns) and the bed, as 44.1 kHz mono WAV files."""
    from app.speech.audio import run_ffmpeg

    # Gaps and cross-fades: 1 s after each item, 2 s of overlap (instead) after every third.
    seconds = (minutes * 60 - (count - 1) + 3 * ((count - 1) // 3)) / count
    items = []
    for i in range(count):
        path = folder / f"item-{i + 1:02d}.wav"
        if i % 2 == 0:
            graph = VOICE.format(rate=RATE, seconds=seconds)
        else:
            graph = MUSIC.format(rate=RATE, seconds=seconds, f=220 + 20 * i, seed=i)
        run_ffmpeg(["-y", "-filter_complex", graph, "-ac", "1", "-ar", str(RATE), str(path)])
        items.append(path)
    bed = folder / "bed.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", BED.format(rate=RATE), "-ac", "1", str(bed)])
    return items, bed


def _config(workdir: Path) -> dict[str, Any]:
    """A Loa app on the work folder's SQLite file and audio folder."""
    from datetime import UTC, datetime

    from app.core.clock import FixedClock

    return {
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


def setup_child(material: Path, workdir: Path) -> int:
    """In a child: the library items, the bed and the programme; print the programme's id."""
    from datetime import time as clock_time

    from app import create_app
    from app.auth.models import Role
    from app.auth.service import UserInput, create_user
    from app.extensions import db
    from app.library.models import LibraryKind
    from app.library.service import ItemInput, add_item
    from app.org.models import StationKind
    from app.org.service import StationInput, UnitInput, add_session, create_station, create_unit
    from app.programmes import service

    app = create_app(_config(workdir))
    with app.app_context():
        db.create_all()
        unit = create_unit(
            None, UnitInput(code="D", name="Thành phố Phan Thiết", level="TP", parent=None)
        )
        station = create_station(
            None,
            StationInput(
                code="PT", name="Đài Phan Thiết", kind=StationKind.COMMUNE_LOUDSPEAKER, unit=unit
            ),
        )
        add_session(None, station, "Buổi sáng", clock_time(5, 0), clock_time(6, 0), 60, "1234567")
        writer = create_user(
            None,
            UserInput(username="writer", full_name="Người soạn", role=Role.WRITER, unit=unit),
            "bench-password-2026",
        )
        started = time.perf_counter()
        entries = []
        paths = sorted(material.glob("item-*.wav"))
        for i, path in enumerate(paths):
            kind = LibraryKind.PROGRAMME if i % 2 == 0 else LibraryKind.MUSIC
            with path.open("rb") as stream:
                item = add_item(
                    writer, ItemInput(title=f"Mục {i + 1}", kind=kind), stream, path.name
                )
            third = (i + 1) % 3 == 0 and i < len(paths) - 1
            entries.append(
                service.RundownEntry(
                    "library", item.item.id, 0 if third else 1000, 2000 if third else 0
                )
            )
        with (material / "bed.wav").open("rb") as stream:
            bed = add_item(
                writer, ItemInput(title="Nhạc nền", kind=LibraryKind.BED), stream, "b.wav"
            )
        ingest_s = time.perf_counter() - started
        script = service.create_programme(
            writer,
            service.ProgrammeInput(
                title="Chương trình 30 phút",
                unit=unit,
                items=entries,
                bed_item_id=bed.item.id,
                duck_db=15,
                station_id=station.id,
                session_name="Buổi sáng",
            ),
        )
        settings = service.version_settings(script.current_version_id)
        print(json.dumps({"script": script.id, "total_s": settings.total_s, "ingest_s": ingest_s}))
    return 0


def mix_child(workdir: Path, script_id: int) -> int:
    """In a child: mix the programme through the worker's path and print the figures."""
    from app import create_app
    from app.auth.models import User
    from app.extensions import db
    from app.programmes.mix import mix_offsets, request_mix
    from app.programmes.service import get_programme, version_settings
    from app.speech import service as speech
    from app.speech.models import Render

    app = create_app(_config(workdir))
    with app.app_context():
        writer = db.session.scalar(db.select(User).where(User.username == "writer"))
        script = get_programme(writer, script_id)
        baseline_kib = status_kib("self", "VmHWM")
        started = time.perf_counter()
        render = request_mix(writer, script)
        assert not render.cached, "the previous mix was not removed"
        while speech.process_next_render() is not None:
            pass
        seconds = time.perf_counter() - started
        db.session.expire_all()
        render = db.session.get(Render, render.id)
        if render.status.value != "done":
            print(json.dumps({"error": render.error}), file=sys.stderr)
            return 1
        settings = version_settings(script.current_version_id)
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "duration_s": render.duration_s,
                    "total_s": settings.total_s,
                    "items": len(mix_offsets(render)),
                    "lufs": render.integrated_lufs,
                    "true_peak": render.true_peak_dbtp,
                    "bytes": (speech.audio_dir() / render.audio_path).stat().st_size,
                    "path": str(speech.audio_dir() / render.audio_path),
                    "baseline_kib": baseline_kib,
                    "process_peak_kib": status_kib("self", "VmHWM"),
                }
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Make the material, set up the programme, mix it --runs times, print the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="copy the last mix into this folder")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--setup", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mix", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup:
        return setup_child(*args.setup)
    if args.mix:
        return mix_child(Path(args.mix[0]), int(args.mix[1]))

    info = machine_info() | {"ffmpeg": ffmpeg_info(speech_config())}
    print(f"# Programmes: {args.items} items, {args.minutes:g} minutes, mixed and mastered\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    with tempfile.TemporaryDirectory(prefix="loa-bench-programme-") as tmp:
        folder = Path(tmp)
        material = folder / "material"
        material.mkdir()
        made_at = time.perf_counter()
        make_material(material, args.minutes, args.items)
        made_s = time.perf_counter() - made_at
        workdir = folder / "loa"
        workdir.mkdir()
        setup = run_measured_child(__file__, ["--setup", str(material), str(workdir)], workdir)
        print(
            f"- material: made in {made_s:.1f} s, taken into the library in "
            f"{setup['ingest_s']:.1f} s; rundown total {setup['total_s']:.1f} s"
        )
        runs = []
        for _ in range(args.runs):
            run = run_measured_child(
                __file__, ["--mix", str(workdir), str(setup["script"])], workdir
            )
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run["path"], args.keep / "programme-mix.mp3")
            Path(run["path"]).unlink()  # the next run must mix again, not reuse it
            runs.append(run)
    seconds = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_mb"] for r in runs)
    last = runs[-1]
    ok_time, ok_memory = seconds < TARGET_S, peak < TARGET_PEAK_MB
    each = " / ".join(f"{r['seconds']:.1f}" for r in runs)
    print()
    markdown_table(
        ["figure", "target", "measured", "result"],
        [
            [
                f"mix of {args.items} items, {last['duration_s'] / 60:.1f} min (median)",
                f"< {TARGET_S:.0f} s",
                f"{seconds:.1f} s (runs {each})",
                "PASS" if ok_time else "FAIL",
            ],
            [
                "peak memory (app + ffmpeg)",
                f"< {TARGET_PEAK_MB:.0f} MB",
                f"{peak:.0f} MB (ffmpeg alone {max(r['ffmpeg_peak_mb'] for r in runs):.0f} MB;"
                f" before mixing {last['baseline_mb']:.0f} MB)",
                "PASS" if ok_memory else "FAIL",
            ],
            [
                "mix length vs rundown total",
                "≤ 0.02 s",
                f"{abs(last['duration_s'] - last['total_s']):.3f} s "
                f"({last['duration_s']:.2f} / {last['total_s']:.2f} s)",
                "PASS" if abs(last["duration_s"] - last["total_s"]) <= 0.02 else "FAIL",
            ],
            [
                "loudness, true peak",
                "−16 ± 1 LUFS, ≤ −1 dBTP",
                f"{last['lufs']:.1f} LUFS, {last['true_peak']:.1f} dBTP, "
                f"{last['bytes'] / MB:.1f} MB MP3",
                "PASS" if abs(last["lufs"] + 16) <= 1 and last["true_peak"] <= -1 else "FAIL",
            ],
        ],
    )
    if args.json:
        results = {"machine": info, "setup": setup, "runs": runs, "made_s": made_s}
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0 if ok_time and ok_memory else 1


if __name__ == "__main__":
    sys.exit(main())
