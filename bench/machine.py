"""What machine a benchmark ran on: CPU, cores, memory, OS and Python, for the printed figures."""

from __future__ import annotations

import os
import platform
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
