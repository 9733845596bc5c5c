"""Timing and peak memory, each benchmark in a process of its own.

Peak memory is the peak resident set size (RSS) of the process doing the work, read from
``VmHWM`` in ``/proc/self/status`` after resetting it (``echo 5 > /proc/self/clear_refs``,
Linux >= 4.0) just before the measured call: so it is the peak *during* that call, input
frames already in memory included, the data generation before it excluded. PDF worker
processes (``jobs`` > 1) are measured apart (``ru_maxrss`` of the largest child).
Where the reset is not available, the figure is the process's lifetime peak (flagged).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Figure:
    """One row of the table: a measured thing, its runs, and what it is compared with."""

    benchmark: str  # compute | render | sync | end to end | scaling
    name: str
    seconds: list[float]
    peak_mb: float | None = None
    reference: str | None = None  # name of the row this one is compared with (same benchmark)
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(seconds, peak RSS in MB during the call, result) of one call of ``fn``."""
    gc.collect()
    _reset_peak()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    return seconds, _peak_mb(), result


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_child(benchmark: str, params: dict, timeout: float = 1800) -> list[Figure]:
    """Run ``bench.worker`` for one benchmark in a fresh interpreter; its figures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker", benchmark, json.dumps(params)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark {benchmark} {params} failed:\n{proc.stderr[-4000:]}")
    last = proc.stdout.strip().splitlines()[-1]
    return [Figure(**f) for f in json.loads(last)]


def dump(figures: list[Figure]) -> str:
    return json.dumps([asdict(f) for f in figures])
