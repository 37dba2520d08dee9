"""Dispatch reading benchmark: seconds to read the seed dispatch 855/BCĐ-TBTTTT from each form
it arrives in, file bytes to fields.

Usage:
    .venv/bin/python bench/dispatches.py [--runs 5] [--ocr-runs 3] [--json PATH]

The seed is rendered once, as the tests render it (tests/dispatches/render.py, DejaVu Sans):
a PDF with a text layer (3 A4 pages, fpdf2), a DOCX (python-docx), one PNG page holding the
whole seed at 300 dpi (A4 wide, 730 mm long: 2480 × 8622 pixels), and a scanned PDF of 3 A4
page images at 300 dpi turned 0.5° (no text layer). Each is read with reader.read_file, as the
desk does (type check, extraction or OCR, layout repair, fields), --runs times (--ocr-runs for
the two scans) after one untimed run; the median, fastest and slowest run are printed, and every
run must read number 855, code BCĐ-TBTTTT and date 2021-08-30.

Targets: a PDF with a text layer and a DOCX under 1 s each; OCR under 30 s per A4 page (the
scanned PDF) and under 30 s for the PNG page (about three A4 pages of text), as an officer
waits for an upload. Tesseract runs with one thread (OMP_THREAD_LIMIT=1), pages one after
another. The exit status is 1 when a target is missed, as in bench/web.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.dispatches import ocr  # noqa: E402
from app.dispatches.reader import read_file  # noqa: E402
from bench.machine import machine_info, markdown_table  # noqa: E402
from tests.dispatches.render import (  # noqa: E402
    render_pdf,
    render_png,
    render_scanned_pdf,
    seed_docx,
    seed_text,
)

TARGET_FILE_S = 1.0
TARGET_OCR_PAGE_S = 30.0
EXPECTED = (855, "BCĐ-TBTTTT", "2021-08-30")


@dataclass
class Form:
    """One form of the seed: its bytes, file name, pages and target."""

    name: str
    data: bytes
    filename: str
    pages: int
    target_s: float
    ocr: bool
    per_page: bool = False  # the target holds for each page, not the whole read


def tesseract_info() -> str:
    """The Tesseract the reader runs and its version, or why there is none."""
    try:
        binary = ocr.check_tesseract()
    except ocr.OcrError as exc:
        return f"unavailable ({exc.reason})"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()[:1]
    return f"{first[0] if first else '?'} ({binary}), languages: vie"


def load_average() -> str:
    """The 1, 5 and 15-minute load averages."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def forms() -> list[Form]:
    """The seed rendered in each form it may arrive in."""
    text = seed_text()
    return [
        Form("PDF, text layer (3 pages)", render_pdf(text), "855.pdf", 3, TARGET_FILE_S, False),
        Form("DOCX", seed_docx(), "855.docx", 1, TARGET_FILE_S, False),
        Form("PNG page, OCR (whole seed)", render_png(text), "855.png", 1, TARGET_OCR_PAGE_S, True),
        Form(
            "scanned PDF, OCR (3 A4 pages)",
            render_scanned_pdf(text, skew=0.5),
            "855-scan.pdf",
            3,
            TARGET_OCR_PAGE_S,
            True,
            per_page=True,
        ),
    ]


def time_form(form: Form, runs: int) -> dict[str, Any]:
    """Read a form once untimed, then `runs` times; the seconds of each run."""
    read_file(form.data, form.filename)
    seconds = []
    wrong = []
    for _ in range(runs):
        started = time.perf_counter()
        dispatch = read_file(form.data, form.filename)
        seconds.append(time.perf_counter() - started)
        got = (dispatch.number, dispatch.code, dispatch.date)
        if got != EXPECTED or dispatch.ocr != form.ocr:
            wrong.append(f"{got} ocr={dispatch.ocr}")
    median = statistics.median(seconds)
    return {
        "form": form.name,
        "bytes": len(form.data),
        "pages": form.pages,
        "runs": runs,
        "median_s": round(median, 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "per_page_s": round(median / form.pages, 3),
        "target_s": form.target_s,
        "target_per_page": form.per_page,
        "wrong": wrong,
        "pass": (median / form.pages if form.per_page else median) < form.target_s and not wrong,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="timed reads of the PDF and DOCX")
    parser.add_argument("--ocr-runs", type=int, default=3, help="timed reads of each scan")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Read the seed in every form and print the figures against their targets."""
    args = parse_args(argv)
    info = machine_info() | {
        "Tesseract": tesseract_info(),
        "load": f"{load_average()} (1, 5, 15 min) at start",
    }
    print("Loa dispatch reading benchmark")
    for key, value in info.items():
        print(f"{key:>9}: {value}")
    if info["Tesseract"].startswith("unavailable"):
        print("Tesseract with Vietnamese data is needed: apt-get install tesseract-ocr "
              "tesseract-ocr-vie", file=sys.stderr)  # fmt: skip
        return 2
    results = []
    for form in forms():
        runs = args.ocr_runs if form.ocr else args.runs
        print(f"\n== {form.name}: {len(form.data):,} bytes, {runs} runs", flush=True)
        result = time_form(form, runs)
        print(
            f"median {result['median_s']:.3f} s (min {result['min_s']:.3f}, max "
            f"{result['max_s']:.3f}), {result['per_page_s']:.3f} s per page"
        )
        for problem in result["wrong"]:
            print(f"  read wrong: {problem}")
        results.append(result)
    info["load at end"] = load_average()
    print(f"\nload average at end: {info['load at end']} (1, 5, 15 min)\n")
    rows = [
        [
            r["form"],
            f"{r['bytes']:,}",
            str(r["runs"]),
            f"{r['median_s']:.3f}",
            f"{r['min_s']:.3f}–{r['max_s']:.3f}",
            f"{r['per_page_s']:.3f}",
            f"< {r['target_s']:g} s" + (" / page" if r["target_per_page"] else ""),
            "PASS" if r["pass"] else "FAIL",
        ]
        for r in results
    ]
    markdown_table(
        ["form", "bytes", "runs", "median s", "range s", "s / page", "target", "result"], rows
    )
    failed = [r["form"] for r in results if not r["pass"]]
    print("\nALL TARGETS MET" if not failed else f"\nFAILED: {', '.join(failed)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "date": date.today().isoformat(), "results": results}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
