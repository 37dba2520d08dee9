"""Speech render benchmark: the seed dispatch from written text to a mastered MP3, offline.

Usage:
    .venv/bin/python bench/render.py [--runs 3] [--cache-requests 50] [--quick] [--json PATH]

Four figures, each against the target set for the offline pipeline:

1. normaliser throughput: the dispatch repeated to at least 1 MB of UTF-8 (MB = 10^6 bytes),
   normalised with the seed lexicon plus the dispatch's codes; median MB/s (≥ 3 runs).
2. end-to-end render of the dispatch (normalise, synthesise with eSpeak NG, assemble with chime,
   intro and one reading, high-pass, limiter, two-pass loudnorm, MP3, measure): real-time factor
   = render time / audio duration, median of --runs runs, with the time per stage.
3. cached re-render: the same request made again through the service layer (Flask app on a
   temporary SQLite file) returns the finished audio without synthesising; median and p95 ms.
4. peak memory of a 30-minute programme, rendered in a child process so that nothing else this
   benchmark allocated counts: the child's own peak RSS (VmHWM) and the RSS of the child and
   its ffmpeg together (it holds the assembled audio while ffmpeg masters it), sampled from
   /proc; the larger of the two is compared with the target. --quick skips this.

Everything is written to a temporary folder that is removed at the end; the exit status is 1
when a target is missed, as in bench/web.py.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.auth.service import UserInput, create_user  # noqa: E402
from app.extensions import db  # noqa: E402
from app.org.service import UnitInput, create_unit  # noqa: E402
from app.scripts.models import Priority  # noqa: E402
from app.scripts.service import ScriptInput, create_script  # noqa: E402
from app.speech import espeak  # noqa: E402
from app.speech import service as speech_service  # noqa: E402
from app.speech.audio import AudioError, AudioToolMissing, ffmpeg_binary  # noqa: E402
from app.speech.lexicon_seed import SEED_LEXICON  # noqa: E402
from app.speech.models import RenderStatus  # noqa: E402
from app.speech.normalizer import normalize  # noqa: E402
from app.speech.pipeline import RenderOptions, produce_audio  # noqa: E402
from bench.machine import machine_info as base_machine_info  # noqa: E402
from bench.machine import markdown_table  # noqa: E402

DISPATCH = ROOT / "tests" / "speech" / "dispatch-855-BCD-TBTTTT-2021.txt"
INTRO = "Đài Truyền thanh thành phố Phan Thiết xin thông báo"
# Codes of the dispatch that the seed lexicon lacks, as the unit would add them.
DISPATCH_CODES = {
    "TBTTTT": "Tiểu ban Thông tin tuyên truyền",
    "TTBCXB": "Thông tin báo chí xuất bản",
    "TT VÀ TT": "Thông tin và Truyền thông",
}
MB = 1_000_000
PROGRAMME_S = 30 * 60
PROGRAMME_MARGIN = 1.06  # the dispatch's pace includes chime and intro; aim a little long
PASSWORD = "bench-password-2026"
SAMPLE_S = 0.05  # how often the programme's memory is sampled

TARGET_MB_PER_S = 1.0
TARGET_RTF = 0.05
TARGET_CACHED_MS = 20.0
TARGET_PEAK_MB = 300.0


def speech_config() -> dict[str, Any]:
    """The speech settings a Loa process reads from the environment (as app/config.py)."""
    return {
        "ESPEAK_MODE": os.environ.get("ESPEAK_MODE", "auto"),
        "ESPEAK_COMMAND": os.environ.get("ESPEAK_COMMAND", "espeak-ng"),
        "FFMPEG_BINARY": os.environ.get("FFMPEG_BINARY", ""),
    }


def load_average() -> str:
    """The 1, 5 and 15-minute load averages."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def espeak_info(config: Mapping[str, Any]) -> str:
    """Which eSpeak NG the engine will use (library or command) and its version."""
    mode = config.get("ESPEAK_MODE", "auto")
    if mode in {"auto", "library"}:
        try:
            library_path, _ = espeak.loader_paths()
            espeak.library_check()
            lib = ctypes.CDLL(library_path)
            lib.espeak_Info.argtypes = [ctypes.c_void_p]
            lib.espeak_Info.restype = ctypes.c_char_p
            version = (lib.espeak_Info(None) or b"?").decode()
            loader = metadata.version("espeakng-loader")
            return f"library, libespeak-ng {version} (espeakng-loader {loader}), mode={mode}"
        except (espeak.EspeakUnavailable, OSError, AttributeError, metadata.PackageNotFoundError):
            if mode == "library":
                return "library unavailable, mode=library"
    command = shutil.which(config.get("ESPEAK_COMMAND", "espeak-ng"))
    if command is None:
        return f"unavailable, mode={mode}"
    out = subprocess.run([command, "--version"], capture_output=True, text=True, check=False)
    return f"command {command}: {out.stdout.strip()}, mode={mode}"


def ffmpeg_info(config: Mapping[str, Any]) -> str:
    """The ffmpeg the pipeline runs and its version line."""
    try:
        binary = ffmpeg_binary(config)
    except AudioToolMissing:
        return "not found"
    out = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False)
    first = out.stdout.splitlines()[0] if out.stdout else "?"
    return f"{first.split(' Copyright')[0]} ({binary})"


def machine_info(config: Mapping[str, Any]) -> dict[str, str]:
    """The machine, the speech engine and ffmpeg the benchmark runs with, and the load."""
    return base_machine_info() | {
        "eSpeak": espeak_info(config),
        "ffmpeg": ffmpeg_info(config),
        "load": f"{load_average()} (1, 5, 15 min) at start",
    }


def percentile(values: list[float], pct: int) -> float:
    """The pct-th percentile (inclusive method), as bench/web.py computes p95."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# --- 1. normaliser ----------------------------------------------------------------------------


def check_codes(text: str) -> dict[str, Any]:
    """Normalise the dispatch with the seed lexicon alone and with its codes; list the warnings."""
    seed_only = normalize(text, SEED_LEXICON)
    lexicon = {**SEED_LEXICON, **DISPATCH_CODES}
    full = normalize(text, lexicon)
    seed_tokens = [w.token for w in seed_only.warnings]
    print(f"seed lexicon only: {len(seed_only.warnings)} warnings {seed_tokens}")
    for term, reading in DISPATCH_CODES.items():
        without = {k: v for k, v in lexicon.items() if k != term}
        extra = len(normalize(text, without).warnings)
        print(f"  {term!r} → {reading!r}: {extra} warnings when left out")
    print(f"seed lexicon + dispatch codes: {len(full.warnings)} warnings")
    return {
        "seed_only_warnings": seed_tokens,
        "warnings": len(full.warnings),
        "spoken_chars": len(full.spoken),
        "lexicon": lexicon,
        "spoken": full.spoken,
    }


def bench_normaliser(text: str, lexicon: Mapping[str, str], runs: int) -> dict[str, Any]:
    """Normalise the dispatch repeated to at least 1 MB; median throughput in MB/s."""
    copies = math.ceil(MB / len(text.encode("utf-8")))
    big = "\n\n".join([text] * copies)
    size = len(big.encode("utf-8"))
    normalize(text, lexicon)  # compile the lexicon scanner outside the timing, as a server has
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = normalize(big, lexicon)
        times.append(time.perf_counter() - started)
    rates = [size / MB / t for t in times]
    median = statistics.median(rates)
    print(
        f"{copies} copies, {size / MB:.2f} MB, {len(big):,} characters, "
        f"{len(result.warnings)} warnings; runs {', '.join(f'{t:.3f} s' for t in times)}; "
        f"median {median:.2f} MB/s"
    )
    return {
        "bytes": size,
        "copies": copies,
        "times_s": [round(t, 4) for t in times],
        "median_mb_per_s": round(median, 3),
    }


# --- 2. end-to-end render ---------------------------------------------------------------------


@dataclass
class Stopwatch:
    """Times the pipeline's stages from the progress fractions produce_audio reports."""

    started: float
    body_done: float | None = None
    assembled: float | None = None
    mastered: float | None = None

    def __call__(self, fraction: float) -> None:
        """Note when synthesis of the body (0.8), assembly (0.85) and mastering (1.0) end."""
        now = time.perf_counter()
        if self.body_done is None and fraction >= 0.8 - 1e-9:
            self.body_done = now
        if self.assembled is None and fraction >= 0.85 - 1e-9:
            self.assembled = now
        if self.mastered is None and fraction >= 1.0 - 1e-9:
            self.mastered = now

    def stages(self, finished: float) -> dict[str, float]:
        """Seconds spent in each stage."""
        body = self.body_done or self.started
        assembled = self.assembled or body
        mastered = self.mastered or assembled
        return {
            "synthesis_body_s": body - self.started,
            "intro_and_assembly_s": assembled - body,
            "mastering_s": mastered - assembled,
            "hash_s": finished - mastered,
        }


def render_once(
    spoken: str, out_path: Path, config: Mapping[str, Any], on_progress: Callable | None = None
) -> tuple[float, Any]:
    """Render spoken text to MP3 with default settings; return seconds and what was produced."""
    options = RenderOptions(engine="espeak", voice="vi", intro_text=INTRO)
    started = time.perf_counter()
    produced = produce_audio(spoken, options, out_path, config=config, on_progress=on_progress)
    return time.perf_counter() - started, produced


def bench_render(
    text: str, lexicon: Mapping[str, str], runs: int, workdir: Path, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Normalise and render the dispatch runs times; median time, RTF and stage times."""
    rows = []
    for i in range(runs):
        out_path = workdir / f"dispatch-{i}.mp3"
        started = time.perf_counter()
        normalized = normalize(text, lexicon)
        normalised = time.perf_counter()
        watch = Stopwatch(normalised)
        _, produced = render_once(normalized.spoken, out_path, config, watch)
        finished = time.perf_counter()
        m = produced.measurement
        row = {
            "total_s": finished - started,
            "normalise_s": normalised - started,
            **watch.stages(finished),
            "duration_s": m.duration_s,
            "lufs": m.integrated_lufs,
            "true_peak_dbtp": m.true_peak_dbtp,
            "bytes": out_path.stat().st_size,
            "warnings": len(normalized.warnings),
        }
        row["rtf"] = row["total_s"] / m.duration_s
        rows.append(row)
        print(
            f"run {i + 1}: {row['total_s']:.2f} s for {m.duration_s:.1f} s of audio "
            f"(RTF {row['rtf']:.4f}); {m.integrated_lufs:.1f} LUFS, "
            f"{m.true_peak_dbtp:.1f} dBTP, {row['bytes'] / 1024:.0f} KiB {m.codec} "
            f"{m.bitrate_kbps} kb/s {m.sample_rate} Hz",
            flush=True,
        )
    summary = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    print(
        f"median: {summary['total_s']:.2f} s, audio {summary['duration_s']:.1f} s "
        f"({summary['duration_s'] / 60:.1f} min), RTF {summary['rtf']:.4f}, "
        f"{summary['lufs']:.1f} LUFS, {summary['true_peak_dbtp']:.1f} dBTP, "
        f"{summary['bytes'] / 1024:.0f} KiB, {summary['warnings']:g} warnings"
    )
    print(
        "median stages: "
        + ", ".join(
            f"{name} {summary[key]:.2f} s"
            for name, key in [
                ("normalise", "normalise_s"),
                ("synthesis (body)", "synthesis_body_s"),
                ("intro + assembly", "intro_and_assembly_s"),
                ("mastering (meter, 2-pass loudnorm, MP3, measure)", "mastering_s"),
                ("sha256", "hash_s"),
            ]
        )
    )
    return {
        "runs": [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in rows
        ],
        "median": {k: round(v, 4) for k, v in summary.items()},
    }


# --- 3. cached re-render through the service layer --------------------------------------------


def bench_cache(text: str, n: int, workdir: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """Render the dispatch once through the service, then time n identical requests."""
    app = create_app(
        {
            **config,
            "SECRET_KEY": "bench-secret",
            "INSTANCE_PATH": workdir / "instance",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "SCRIPTS_DIR": workdir / "scripts_vi",
            "SCHEDULES_DIR": workdir / "schedules",
            "AUDIO_DIR": workdir / "audio",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        db.create_all()
        unit = create_unit(
            None, UnitInput(code="PTH", name="Thành phố Phan Thiết", level="Thành phố", parent=None)
        )
        writer, supervisor = (
            create_user(
                None,
                UserInput(
                    username=role.value, full_name=f"Bench {role.value}", role=role, unit=unit
                ),
                PASSWORD,
                must_change_password=False,
            )
            for role in (Role.WRITER, Role.SUPERVISOR)
        )
        for term, reading in DISPATCH_CODES.items():
            speech_service.create_lexicon_entry(
                supervisor, speech_service.LexiconInput(term, reading, "bench", unit)
            )
        script = create_script(
            writer,
            ScriptInput(
                title="Đẩy mạnh truyền thông tiêm vắc xin phòng COVID-19",
                body=text,
                unit=unit,
                priority=Priority.HIGH,
            ),
        )
        request = speech_service.RenderRequest(intro_text=INTRO)
        warnings = len(speech_service.spoken_for(script).warnings)
        started = time.perf_counter()
        queued = speech_service.request_render(writer, script, request)
        assert queued.status == RenderStatus.QUEUED, queued.status
        first = speech_service.process_next_render()
        first_s = time.perf_counter() - started
        assert first is not None and first.status == RenderStatus.DONE, first and first.error
        duration = first.duration_s
        times, cpu = [], []
        for _ in range(n):
            started, started_cpu = time.perf_counter(), time.process_time()
            render = speech_service.request_render(writer, script, request)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert render.cached and render.status == RenderStatus.DONE, render.status
            assert render.audio_path == first.audio_path
        assert speech_service.process_next_render() is None, "a cached request was queued"
        # The part of a request that is pure computation: normalising the body again.
        spoken_ms = []
        for _ in range(n):
            started = time.perf_counter()
            speech_service.spoken_for(script)
            spoken_ms.append((time.perf_counter() - started) * 1000)
        db.session.remove()
        db.engine.dispose()
    median, p95 = statistics.median(times), percentile(times, 95)
    print(
        f"first render through the service (request + worker): {first_s:.2f} s "
        f"for {duration:.1f} s of audio; spoken-text warnings {warnings}"
    )
    print(
        f"{n} identical requests, all cached: median {median:.1f} ms, p95 {p95:.1f} ms, "
        f"min {min(times):.1f} ms, max {max(times):.1f} ms"
    )
    print(
        f"  CPU time per request: median {statistics.median(cpu):.1f} ms, "
        f"p95 {percentile(cpu, 95):.1f} ms (the rest is waiting: SQLite commit, other load); "
        f"of which spoken_for (normalise the body): median {statistics.median(spoken_ms):.1f} ms"
    )
    return {
        "first_render_s": round(first_s, 3),
        "warnings": warnings,
        "n": n,
        "median_ms": round(median, 2),
        "p95_ms": round(p95, 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "cpu_median_ms": round(statistics.median(cpu), 2),
        "cpu_p95_ms": round(percentile(cpu, 95), 2),
        "spoken_for_median_ms": round(statistics.median(spoken_ms), 2),
        "times_ms": [round(t, 2) for t in times],
    }


# --- 4. peak memory of a 30-minute programme --------------------------------------------------


def status_kib(pid: int | str, field: str) -> int:
    """A memory field (VmRSS, VmHWM) of a process from /proc, in KiB; 0 when it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def descendants(root: int) -> list[int]:
    """Process ids below root that run another program (its ffmpeg runs), from /proc."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the parent id follows it.
        pid = int(entry.name)
        names[pid] = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(pid)
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            queue.append(child)
            # Between fork and exec a child still shows the parent's pages: not counted twice.
            if names.get(child) != names.get(root):
                found.append(child)
    return found


@dataclass
class TreeMemory:
    """Peak memory of a process tree, sampled from /proc while it runs."""

    peak_total_kib: int = 0
    peak_child_kib: int = 0
    samples: int = 0

    def sample(self, root: int) -> None:
        """Add one sample: the RSS of root and its descendants right now."""
        others = descendants(root)
        total = status_kib(root, "VmRSS") + sum(status_kib(p, "VmRSS") for p in others)
        # VmHWM of a running ffmpeg is its own peak so far, exact even between samples.
        child_peak = max((status_kib(p, "VmHWM") for p in others), default=0)
        self.peak_total_kib = max(self.peak_total_kib, total)
        self.peak_child_kib = max(self.peak_child_kib, child_peak)
        self.samples += 1


def run_measured_child(script: str, args: list[str], workdir: Path) -> dict:
    """Run `python script args...` with its output in workdir, sampling the memory of its
    process tree; the JSON object on its last line of output, with peak_mb (the sampled tree's
    peak or the child's own VmHWM, whichever is higher: sampling can miss a short spike),
    ffmpeg_peak_mb and baseline_mb added when the child reports process_peak_kib and
    baseline_kib."""
    memory = TreeMemory()
    out_path, err_path = workdir / "child.out", workdir / "child.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        child = subprocess.Popen([sys.executable, script, *args], stdout=out, stderr=err)
        while child.poll() is None:
            memory.sample(child.pid)
            time.sleep(SAMPLE_S)
    if child.returncode != 0:
        raise RuntimeError(f"child failed:\n{err_path.read_text()[-3000:]}")
    data = json.loads(out_path.read_text().strip().splitlines()[-1])
    to_mb = 1024 / MB
    if "process_peak_kib" in data:
        data["peak_mb"] = max(memory.peak_total_kib, data["process_peak_kib"]) * to_mb
        data["ffmpeg_peak_mb"] = memory.peak_child_kib * to_mb
        data["baseline_mb"] = data["baseline_kib"] * to_mb
    return data


def run_programme_child(text_path: Path, out_path: Path) -> int:
    """In the child: render the programme and print its figures as JSON on stdout."""
    spoken = text_path.read_text(encoding="utf-8")
    baseline_kib = status_kib("self", "VmHWM")
    seconds, produced = render_once(spoken, out_path, speech_config())
    # Not RUSAGE_CHILDREN: on Linux it also counts each child's RSS between fork and exec,
    # i.e. a copy of this process's footprint, so it reports this process again, not ffmpeg.
    peak = status_kib("self", "VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "render_s": seconds,
                "duration_s": produced.measurement.duration_s,
                "lufs": produced.measurement.integrated_lufs,
                "bytes": out_path.stat().st_size,
                "baseline_kib": baseline_kib,
                "process_peak_kib": peak,
            }
        )
    )
    return 0


def programme_text(spoken: str, chars: int) -> str:
    """Whole copies of the spoken dispatch, then its start up to a sentence end: >= chars."""
    full, rest = divmod(chars, len(spoken) + 2)
    text = "\n\n".join([spoken] * full)
    if rest:
        end = spoken.find(". ", rest)
        text += "\n\n" + (spoken if end == -1 else spoken[: end + 1])
    return text.strip()


def bench_programme(spoken: str, seconds_per_char: float, workdir: Path) -> dict[str, Any]:
    """Render a programme of at least 30 minutes in a child process and report its peak RSS."""
    text = programme_text(spoken, round(PROGRAMME_S * PROGRAMME_MARGIN / seconds_per_char))
    copies = round(len(text) / len(spoken), 2)
    workdir.mkdir(parents=True, exist_ok=True)
    text_path = workdir / "programme.txt"
    text_path.write_text(text, encoding="utf-8")
    out_path = workdir / "programme.mp3"
    memory = TreeMemory()
    started = time.perf_counter()
    with (workdir / "stdout").open("w") as out, (workdir / "stderr").open("w") as err:
        child = subprocess.Popen(
            [sys.executable, __file__, "--child-programme", str(text_path), str(out_path)],
            stdout=out,
            stderr=err,
        )
        while child.poll() is None:
            memory.sample(child.pid)
            time.sleep(SAMPLE_S)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"programme child failed:\n{(workdir / 'stderr').read_text()}")
    data = json.loads((workdir / "stdout").read_text().strip().splitlines()[-1])
    to_mb = 1024 / MB
    process_mb = data["process_peak_kib"] * to_mb
    # The sampled total can miss a short spike of the Python process; its own VmHWM cannot.
    peak_mb = max(memory.peak_total_kib * to_mb, process_mb)
    result = {
        "spoken_chars": len(text),
        "copies_of_dispatch": copies,
        "duration_s": data["duration_s"],
        "render_s": round(data["render_s"], 3),
        "child_wall_s": round(wall, 3),
        "rtf": round(data["render_s"] / data["duration_s"], 4),
        "lufs": data["lufs"],
        "bytes": data["bytes"],
        "baseline_mb": round(data["baseline_kib"] * to_mb, 1),
        "process_peak_mb": round(process_mb, 1),
        "ffmpeg_peak_mb": round(memory.peak_child_kib * to_mb, 1),
        "sampled_tree_peak_mb": round(memory.peak_total_kib * to_mb, 1),
        "samples": memory.samples,
        "peak_mb": round(peak_mb, 1),
    }
    print(
        f"{copies:g} × the spoken dispatch, {len(text):,} characters → "
        f"{data['duration_s']:.1f} s ({data['duration_s'] / 60:.1f} min) of audio, "
        f"{data['bytes'] / MB:.1f} MB MP3, {data['lufs']:.1f} LUFS"
    )
    print(f"render {data['render_s']:.1f} s (RTF {result['rtf']:.4f}; child wall {wall:.1f} s)")
    print(
        f"peak RSS: Python process {process_mb:.0f} MB (VmHWM; {result['baseline_mb']:.0f} MB "
        f"after imports), largest ffmpeg {result['ffmpeg_peak_mb']:.0f} MB (VmHWM), "
        f"process + ffmpeg at the same moment {result['sampled_tree_peak_mb']:.0f} MB "
        f"(sampled every {SAMPLE_S * 1000:.0f} ms, {memory.samples} samples)"
    )
    return result


# --- report -----------------------------------------------------------------------------------


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(figure, target, measured, passed) for each target; passed None when skipped."""
    norm = report["normaliser"]
    render = report["render"]["median"]
    cache = report["cache"]
    rows: list[tuple[str, str, str, bool | None]] = [
        (
            "normaliser throughput",
            f"≥ {TARGET_MB_PER_S:g} MB/s",
            f"{norm['median_mb_per_s']:.2f} MB/s",
            norm["median_mb_per_s"] >= TARGET_MB_PER_S,
        ),
        (
            "real-time factor, dispatch end to end",
            f"≤ {TARGET_RTF:g}",
            f"{render['rtf']:.4f} ({render['total_s']:.2f} s / {render['duration_s']:.0f} s)",
            render["rtf"] <= TARGET_RTF,
        ),
        (
            "cached re-render (p95)",
            f"< {TARGET_CACHED_MS:g} ms",
            f"{cache['p95_ms']:.1f} ms (median {cache['median_ms']:.1f} ms)",
            cache["p95_ms"] < TARGET_CACHED_MS,
        ),
    ]
    programme = report.get("programme")
    if programme is None:
        rows.append(("peak memory, 30-min programme", f"< {TARGET_PEAK_MB:g} MB", "skipped", None))
    else:
        long_enough = programme["duration_s"] >= PROGRAMME_S
        rows.append(
            (
                "peak memory, 30-min programme",
                f"< {TARGET_PEAK_MB:g} MB",
                f"{programme['peak_mb']:.0f} MB (Python alone "
                f"{programme['process_peak_mb']:.0f}; {programme['duration_s'] / 60:.1f} min"
                + ("" if long_enough else ", TOO SHORT")
                + ")",
                programme["peak_mb"] < TARGET_PEAK_MB and long_enough,
            )
        )
    return rows


def print_table(rows: list[tuple[str, str, str, bool | None]]) -> None:
    """Print the targets and the measured figures as a Markdown table."""
    header = ("figure", "target", "measured", "result")
    cells = [
        (name, target, measured, "SKIP" if ok is None else "PASS" if ok else "FAIL")
        for name, target, measured, ok in rows
    ]
    markdown_table(header, cells)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of the normaliser and render")
    parser.add_argument("--cache-requests", type=int, default=50, help="timed cached requests")
    parser.add_argument("--quick", action="store_true", help="skip the 30-minute programme")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child-programme", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.cache_requests < 2:
        parser.error("need at least 1 run and 2 cached requests")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every part of the benchmark and print the figures against their targets."""
    args = parse_args(argv)
    if args.child_programme:
        return run_programme_child(*args.child_programme)
    config = speech_config()
    info = machine_info(config)
    print("Loa speech render benchmark")
    for key, value in info.items():
        print(f"{key:>8}: {value}")
    text = DISPATCH.read_text(encoding="utf-8")
    print(
        f"dispatch: {DISPATCH.relative_to(ROOT)}, {len(text.split()):,} words, "
        f"{len(text):,} characters, {len(text.encode('utf-8')):,} bytes"
    )
    workdir = Path(tempfile.mkdtemp(prefix="loa-bench-render-"))
    report: dict[str, Any] = {}
    try:
        print("\n== 0. lexicon: which codes of the dispatch warn", flush=True)
        codes = check_codes(text)
        lexicon = codes.pop("lexicon")
        spoken = codes.pop("spoken")
        report["codes"] = codes
        print("\n== 1. normaliser throughput", flush=True)
        report["normaliser"] = bench_normaliser(text, lexicon, max(args.runs, 3))
        print("\n== 2. end-to-end render of the dispatch (MP3, default settings)", flush=True)
        report["render"] = bench_render(text, lexicon, args.runs, workdir / "render", config)
        print("\n== 3. cached re-render through the service layer", flush=True)
        report["cache"] = bench_cache(text, args.cache_requests, workdir / "cache", config)
        if not args.quick:
            print("\n== 4. peak memory of a 30-minute programme (child process)", flush=True)
            median = report["render"]["median"]
            seconds_per_char = median["duration_s"] / len(spoken)
            report["programme"] = bench_programme(spoken, seconds_per_char, workdir / "programme")
    except (AudioError, AudioToolMissing) as exc:
        print(f"audio failed: {exc.message}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    info["load at end"] = load_average()
    print(f"\nload average at end: {info['load at end']} (1, 5, 15 min)\n")
    rows = summary_rows(report)
    print_table(rows)
    failed = [name for name, _, _, ok in rows if ok is False]
    print("\nALL TARGETS MET" if not failed else f"\nFAILED: {', '.join(failed)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "machine": info,
            "date": date.today().isoformat(),
            **report,
            "summary": [
                {"figure": n, "target": t, "measured": m, "pass": ok} for n, t, m, ok in rows
            ],
        }
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
