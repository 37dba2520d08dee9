"""What the bench scripts share: the machine they ran on (CPU, cores, memory, OS, Python), the
Markdown tables they print, and their --database-url option."""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from pathlib import Path


def machine_info() -> dict[str, str]:
    """CPU, memory and software versions of the machine running the benchmark."""
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "CPU": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable",
        "memory": memory,
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table, its columns padded to their widest cell."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def add_database_url(parser: argparse.ArgumentParser) -> None:
    """The repeatable --database-url option every bench script takes."""
    parser.add_argument(
        "--database-url",
        action="append",
        help="database to benchmark (repeatable); default: a temporary SQLite file, "
        "plus TEST_DATABASE_URL when set",
    )


def database_urls(args: argparse.Namespace) -> list[str]:
    """The databases a run covers: --database-url as given, else "" (a temporary SQLite file)
    and TEST_DATABASE_URL when set."""
    if args.database_url:
        return list(args.database_url)
    return [""] + ([os.environ["TEST_DATABASE_URL"]] if os.environ.get("TEST_DATABASE_URL") else [])
