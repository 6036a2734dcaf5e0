"""CLI start-up: median wall time of `paybridge --help` and of a light command (a real process).

Goal: under 0.5 s on an idle 2-core machine. What a command imports is asserted by
tests/core/test_cli_startup.py (independent of machine speed); this reports the time, with
the bare interpreter in the same run as the floor.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = int(os.environ.get("PAYBRIDGE_BENCH_STARTUP_REPEATS", "7"))
GOAL_SECONDS = 0.5
PAYBRIDGE = str(Path(sys.executable).parent / "paybridge")
ENV = {"PATH": "/usr/bin:/bin", "COLUMNS": "120"}


def _median_seconds(argv: list[str], cwd: str) -> tuple[float, list[float]]:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def _cli_from(tree: Path) -> list[str]:
    """The CLI of another checkout (the baseline), run the same way as the entry point."""
    code = (
        f"import sys; sys.path.insert(0, {str(tree)!r}); from paybridge.cli.main import app; app()"
    )
    return [sys.executable, "-c", code]


def run() -> dict[str, object]:
    from benchmarks.procs import baseline_ref, baseline_tree

    baseline: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pb-startup-") as cwd:
        subprocess.run([PAYBRIDGE, "init"], cwd=cwd, env=ENV, check=True, capture_output=True)
        floor, _ = _median_seconds([sys.executable, "-c", "pass"], cwd)
        help_median, help_runs = _median_seconds([PAYBRIDGE, "--help"], cwd)
        list_median, _ = _median_seconds([PAYBRIDGE, "requests", "list", "--json"], cwd)
        tree = baseline_tree()
        if tree is not None:  # same run, same load: the ratio is the figure to read
            old_help, _ = _median_seconds([*_cli_from(tree), "--help"], cwd)
            baseline = {
                "ref": baseline_ref(),
                "help_median_s": round(old_help, 3),
                "help_speedup": round(old_help / help_median, 2),
            }
    return {
        "repeats": REPEATS,
        "python_bare_median_s": round(floor, 3),
        "help_median_s": round(help_median, 3),
        "help_runs_s": [round(t, 3) for t in help_runs],
        "requests_list_median_s": round(list_median, 3),
        "goal_s": GOAL_SECONDS,
        "meets_goal": help_median <= GOAL_SECONDS,
        **({"baseline": baseline} if baseline else {}),
    }


if __name__ == "__main__":
    print(run())
